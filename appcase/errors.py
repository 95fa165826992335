"""The one exception hierarchy of appcase.

Every error a caller can see is an :class:`AppcaseError`. Each carries a message that says
what was wrong and what to do, and an ``exit_code`` the command line uses:

* ``1`` -- the command was understood but refused (a guard failed, a verification failed);
* ``2`` -- bad usage or bad input (a malformed file, a naive datetime, an unknown case);
* ``3`` -- a transient conflict: the case changed under the command; retrying is safe.

A refused or failed command has written nothing: every command runs in one database
transaction that is rolled back on any error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "AppcaseError",
    "AuditFailure",
    "BatchRejected",
    "CampaignFileError",
    "CaseNotFound",
    "ConcurrentModification",
    "DatabaseBusy",
    "DatabaseNotReady",
    "GuardRejected",
    "ImportRejected",
    "InvalidInput",
    "NaiveDatetimeError",
    "PersistenceError",
    "Rejection",
    "TransitionTableError",
    "UnknownActor",
]


class AppcaseError(Exception):
    """Base class of every error appcase raises on purpose.

    Attributes:
        message: what was wrong and what to do, in one or two sentences.
        exit_code: the command line's exit status for this error (1, 2 or 3).
    """

    exit_code: int = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidInput(AppcaseError):
    """Input that cannot be used as given: a malformed payload, file or value (exit 2)."""

    exit_code = 2


class NaiveDatetimeError(InvalidInput):
    """A datetime without a time zone was given where an instant is needed (exit 2).

    appcase never guesses a time zone: write the offset (``2018-03-01T09:00+08:00``) or ``Z``.
    """


class CampaignFileError(InvalidInput):
    """A campaign file is missing, unreadable or fails validation (exit 2).

    Attributes:
        errors: one ``"field.path: problem"`` string per problem found.
    """

    def __init__(self, source: str, errors: Sequence[str]) -> None:
        self.source = source
        self.errors = list(errors)
        lines = "\n".join(f"  - {e}" for e in self.errors)
        super().__init__(f"campaign file {source} is not valid:\n{lines}")


class TransitionTableError(AppcaseError):
    """The transition table is inconsistent (a programming or configuration error, exit 2).

    Attributes:
        problems: every problem found when the table was validated.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("transition table is invalid: " + "; ".join(self.problems))


class CaseNotFound(InvalidInput):
    """No case has this id in the campaign (exit 2). Check the id with ``appcase list``."""

    def __init__(self, case_id: str) -> None:
        self.case_id = case_id
        super().__init__(f"no case {case_id!r}; list cases with 'appcase list'")


class UnknownActor(InvalidInput):
    """The acting officer is not registered (exit 2). Register with ``appcase actor add``."""

    def __init__(self, actor_id: str) -> None:
        self.actor_id = actor_id
        super().__init__(
            f"unknown actor {actor_id!r}; register it with "
            f"'appcase actor add {actor_id} --role ROLE --jurisdiction CODE'"
        )


@dataclass(frozen=True, slots=True)
class Rejection:
    """One failed guard.

    Attributes:
        code: a stable machine-readable code, e.g. ``"phase_window"`` or ``"role"``.
        message: a sentence for a person saying what failed and what would satisfy it.
    """

    code: str
    message: str


class GuardRejected(AppcaseError):
    """A command was refused because one or more guards failed (exit 1).

    Nothing was written. ``rejections`` lists *every* failed guard, not only the first.

    Attributes:
        case_id: the case the command was for (``None`` for a survey that created no case).
        state: the case's administrative state when the command was refused.
        event: the event that was refused, e.g. ``"judge"``.
        rejections: every failed guard, in table order.
    """

    exit_code = 1

    def __init__(
        self,
        case_id: str | None,
        state: str | None,
        event: str,
        rejections: Sequence[Rejection],
    ) -> None:
        self.case_id = case_id
        self.state = state
        self.event = event
        self.rejections = list(rejections)
        where = f"case {case_id} ({state})" if case_id else "new case"
        reasons = "\n".join(f"  - [{r.code}] {r.message}" for r in self.rejections)
        super().__init__(f"{event} refused for {where}:\n{reasons}")


class BatchRejected(GuardRejected):
    """A batch command was refused because guards failed for some of its items (exit 1).

    Nothing was written: the batch is one transaction.

    Attributes:
        refused: ``(index, rejections)`` for every refused item (0-based, in input order).
    """

    def __init__(self, event: str, refused: Sequence[tuple[int, Sequence[Rejection]]]) -> None:
        self.refused = [(i, list(rs)) for i, rs in refused]
        flat = [Rejection(r.code, f"item {i + 1}: {r.message}") for i, rs in refused for r in rs]
        super().__init__(None, None, event, flat)


class ImportRejected(AppcaseError):
    """A file import wrote nothing because some of its rows were bad.

    Exit 2 when rows are invalid (malformed, duplicated, unknown codes); exit 1 when every
    row is well formed but guards refused some (the survey window, the importing officer's
    jurisdiction).

    Attributes:
        source: the file.
        problems: ``(row, column, problem)`` for every problem found; ``row`` is the
            spreadsheet's row number (the header is row 1 unless a title row precedes it).
        invalid_rows / refused_rows: how many rows were invalid, and refused by guards.
    """

    def __init__(
        self,
        source: str,
        problems: Sequence[tuple[int, str, str]],
        *,
        invalid_rows: int,
        refused_rows: int,
    ) -> None:
        self.source = source
        self.problems = list(problems)
        self.invalid_rows = invalid_rows
        self.refused_rows = refused_rows
        self.exit_code = 2 if invalid_rows else 1
        lines = "\n".join(f"  - row {r}, {c or '(row)'}: {m}" for r, c, m in self.problems)
        what = []
        if invalid_rows:
            what.append(f"{invalid_rows} invalid rows")
        if refused_rows:
            what.append(f"{refused_rows} rows refused by guards")
        super().__init__(
            f"{source}: nothing was imported ({' and '.join(what)}):\n{lines}\n"
            "fix these rows, or import the others with --skip-invalid"
        )


class PersistenceError(AppcaseError):
    """The database could not carry out the command (exit 2); nothing was written."""


class DatabaseNotReady(PersistenceError):
    """The database has no appcase schema, an old one, or no campaign (exit 2).

    Run ``appcase init`` (or ``appcase db upgrade``) first.
    """


class DatabaseBusy(PersistenceError):
    """The database stayed locked by other writers too long (exit 3); nothing was written and
    retrying is safe."""

    exit_code = 3


class ConcurrentModification(PersistenceError):
    """The case changed between reading and writing it (exit 3); retrying is safe.

    Attributes:
        case_id: the case whose version moved on.
        expected_version: the version the caller said it had read, if it said one.
        version: the case's version when the command ran, if known.
    """

    exit_code = 3

    def __init__(
        self, case_id: str, *, expected_version: int | None = None, version: int | None = None
    ) -> None:
        self.case_id = case_id
        self.expected_version = expected_version
        self.version = version
        if expected_version is not None:
            super().__init__(
                f"case {case_id} changed since version {expected_version} was read (it is now "
                f"at version {version}); nothing was written: look at it again "
                f"('appcase show {case_id}') and retry the command if it still applies"
            )
            return
        super().__init__(
            f"case {case_id} was changed by another command at the same time; "
            "nothing was written, the command can be retried"
        )


class AuditFailure(AppcaseError):
    """An audit verification found damage (exit 1).

    Attributes:
        findings: one entry per damaged case: ``(case_id, seq or None, kind, detail)``;
            an empty ``case_id`` is damage of the campaign as a whole (its checkpoints) or
            of a bundle's own files.
    """

    exit_code = 1

    def __init__(self, findings: Sequence[tuple[str, int | None, str, str]]) -> None:
        self.findings = list(findings)
        lines = "\n".join(
            (f"  - case {c}" if c else "  - campaign")
            + (f" event #{s}" if s is not None else "")
            + f": {k}: {d}"
            for c, s, k, d in self.findings
        )
        super().__init__(f"audit verification failed:\n{lines}")
