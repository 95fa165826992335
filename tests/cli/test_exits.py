"""The one table from error types to exit codes, and the CLI's own hints: the errors carry
neither, so a web service can show their messages as they are."""

from __future__ import annotations

import pytest

from appcase import errors
from appcase.cli.exits import EXIT_CODES, cli_message, exit_code
from appcase.errors import (
    AppcaseError,
    AuditFailure,
    BatchRejected,
    CampaignFileError,
    CaseNotFound,
    ConcurrentModification,
    DatabaseBusy,
    DatabaseNotReady,
    GuardRejected,
    ImportRejected,
    InvalidInput,
    LedgerHeaderNotFound,
    NaiveDatetimeError,
    PersistenceError,
    Rejection,
    TransitionTableError,
    UnknownActor,
)

REFUSAL = [Rejection("role", "only the bureau may judge")]

EXAMPLES: list[tuple[AppcaseError, int]] = [
    (AppcaseError("something"), 2),
    (InvalidInput("bad value"), 2),
    (NaiveDatetimeError("no zone"), 2),
    (CampaignFileError("x.toml", ["id: missing"]), 2),
    (TransitionTableError(["no state"]), 2),
    (CaseNotFound("HN2018-430100-0999"), 2),
    (UnknownActor("ghost"), 2),
    (LedgerHeaderNotFound("ledger.csv", 10), 2),
    (GuardRejected("HN2018-430100-0001", "flagged", "judge", REFUSAL), 1),
    (BatchRejected("survey", [(0, REFUSAL)]), 1),
    (ImportRejected("l.csv", [(2, "uscc", "bad")], invalid_rows=1, refused_rows=0), 2),
    (ImportRejected("l.csv", [(2, "", "window")], invalid_rows=0, refused_rows=1), 1),
    (ImportRejected("l.csv", [(2, "", "x"), (3, "", "y")], invalid_rows=1, refused_rows=1), 2),
    (PersistenceError("refused the write"), 2),
    (DatabaseNotReady("the database has no appcase schema"), 2),
    (DatabaseNotReady("schema at revision 0003", "upgrade"), 2),
    (DatabaseBusy("locked"), 3),
    (ConcurrentModification("HN2018-430100-0001"), 3),
    (ConcurrentModification("HN2018-430100-0001", expected_version=1, version=2), 3),
    (AuditFailure([("HN2018-430100-0001", 2, "hash", "mismatch")]), 1),
]


@pytest.mark.parametrize(("error", "code"), EXAMPLES, ids=lambda v: type(v).__name__)
def test_each_error_type_has_its_exit_code(error: AppcaseError, code: int) -> None:
    assert exit_code(error) == code


@pytest.mark.parametrize(("error", "code"), EXAMPLES, ids=lambda v: type(v).__name__)
def test_errors_name_no_command_and_no_exit_code(error: AppcaseError, code: int) -> None:
    assert not hasattr(error, "exit_code")
    assert "'appcase " not in error.message
    assert "--" not in error.message
    assert error.message.startswith(error.problem)


def test_every_public_error_type_is_in_the_table() -> None:
    for name in errors.__all__:
        value = getattr(errors, name)
        if isinstance(value, type) and issubclass(value, AppcaseError):
            assert any(base in EXIT_CODES for base in value.__mro__), name


def test_the_cli_adds_its_own_hints() -> None:
    assert cli_message(CaseNotFound("X")) == "no case 'X'; list cases with 'appcase list'"
    assert cli_message(UnknownActor("ghost")) == (
        "unknown actor 'ghost'; an administrator registers it with "
        "'appcase --actor ADMIN actor add ghost --role ROLE --jurisdiction CODE'"
    )
    assert cli_message(DatabaseNotReady("the database has no appcase schema")) == (
        "the database has no appcase schema; run 'appcase init' first"
    )
    assert cli_message(DatabaseNotReady("the database holds no campaign", "load_campaign")) == (
        "the database holds no campaign; run 'appcase init'"
    )
    assert cli_message(DatabaseNotReady("schema at revision 0003", "upgrade")).endswith(
        "; run 'appcase db upgrade'"
    )
    moved = ConcurrentModification("C1", expected_version=1, version=2)
    assert cli_message(moved) == (
        "case C1 changed since version 1 was read (it is now at version 2); nothing was "
        "written: look at it again ('appcase show C1') and retry the command if it still applies"
    )
    rejected = ImportRejected("l.csv", [(2, "uscc", "bad")], invalid_rows=1, refused_rows=0)
    assert cli_message(rejected).endswith(
        "\nfix these rows, or import the others with --skip-invalid"
    )
    plain = InvalidInput("bad value")
    assert cli_message(plain) == plain.message == "bad value"
