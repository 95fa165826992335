"""The one table from error types to exit codes, and the hints the command line adds.

The errors of :mod:`appcase.errors` say what went wrong and what to do in words any front end
can show; they know no exit code and no command. Here the command line gives each type its
exit status, and words the advice of some in its own terms (which command to run):

== =====================================================================================
0  done
1  refused: a guard said no (:class:`GuardRejected`, :class:`BatchRejected`), an audit
   verification failed (:class:`AuditFailure`), the case is damaged (:class:`CaseDamaged`),
   or every bad row of an import was refused by guards (:class:`ImportRejected` without
   invalid rows), or the acting officer may not do the act (:class:`NotAuthorised`: an
   administrator's act, an override grant)
2  bad usage or input: anything else (:class:`InvalidInput`, :class:`PersistenceError`,
   :class:`TransitionTableError`, an import with invalid rows), and a library call that
   failed (:class:`LibraryError`, naming the library's own error)
3  the case changed meanwhile, or the database stayed busy or went away: nothing was
   written, retry (:class:`ConcurrentModification`, :class:`DatabaseBusy`,
   :class:`DatabaseUnavailable`)
70 an internal error: an exception that is none of the above, a bug in appcase (the
   command line's last line of defence, :mod:`appcase.cli.crash`)
== =====================================================================================
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from appcase.errors import (
    AppcaseError,
    AuditFailure,
    CaseDamaged,
    CaseNotFound,
    ConcurrentModification,
    DatabaseBusy,
    DatabaseNotReady,
    DatabaseUnavailable,
    GuardRejected,
    ImportRejected,
    InvalidInput,
    LedgerHeaderNotFound,
    LibraryError,
    NotAuthorised,
    PersistenceError,
    TransitionTableError,
    UnknownActor,
)

__all__ = ["DONE", "EXIT_CODES", "REFUSED", "RETRY", "USAGE", "cli_message", "exit_code"]

DONE = 0
"""The command did what it was asked."""
REFUSED = 1
"""The command was understood but refused: a guard or a verification said no."""
USAGE = 2
"""Bad usage or bad input; also a database that is not ready."""
RETRY = 3
"""The case changed meanwhile (or the database stayed busy); nothing was written, retry."""


def _import_rejected(exc: Any) -> int:
    return USAGE if exc.invalid_rows else REFUSED


EXIT_CODES: dict[type[AppcaseError], int | Callable[[Any], int]] = {
    AppcaseError: USAGE,
    InvalidInput: USAGE,
    TransitionTableError: USAGE,
    PersistenceError: USAGE,
    LibraryError: USAGE,
    GuardRejected: REFUSED,
    NotAuthorised: REFUSED,
    AuditFailure: REFUSED,
    CaseDamaged: REFUSED,
    ImportRejected: _import_rejected,
    ConcurrentModification: RETRY,
    DatabaseBusy: RETRY,
    DatabaseUnavailable: RETRY,
}
"""Error type → exit code (or a function of the error, for a type whose code depends on
it). A type not listed takes the entry of its nearest listed base class."""

_INIT = {
    "create": "run 'appcase init' first",
    "load_campaign": "run 'appcase init'",
    "upgrade": "run 'appcase db upgrade'",
    "restore": "restore the database from a backup (docs/deployment.md)",
}


def _concurrent(exc: ConcurrentModification) -> str | None:
    if exc.expected_version is None:
        return None
    return (
        f"nothing was written: look at it again ('appcase show {exc.case_id}') and retry the "
        "command if it still applies"
    )


_HINTS: dict[type[AppcaseError], Callable[[Any], str | None]] = {
    CaseNotFound: lambda exc: "list cases with 'appcase list'",
    CaseDamaged: lambda exc: f"'appcase audit verify --case {exc.case_id}' names the damage",
    UnknownActor: lambda exc: (
        "an administrator registers it with "
        f"'appcase --actor ADMIN actor add {exc.actor_id} --role ROLE --jurisdiction CODE'"
    ),
    DatabaseNotReady: lambda exc: _INIT[exc.remedy],
    ConcurrentModification: _concurrent,
    ImportRejected: lambda exc: "fix these rows, or import the others with --skip-invalid",
    LedgerHeaderNotFound: lambda exc: (
        "write a template with 'appcase import ledger --template ledger.xlsx'"
    ),
}
"""Error type → the advice the command line gives instead of the error's own (``None``:
keep the error's own)."""


def _lookup(table: dict[type[AppcaseError], Any], exc: AppcaseError) -> Any:
    for cls in type(exc).__mro__:
        if cls in table:
            return table[cls]
    return None


def exit_code(exc: AppcaseError) -> int:
    """The command line's exit status for an error.

    Args:
        exc: the error a command raised.

    Returns:
        1, 2 or 3, from :data:`EXIT_CODES` (the entry of the error's type or of its nearest
        listed base class).
    """
    code = _lookup(EXIT_CODES, exc)
    return int(code(exc) if callable(code) else code)


def cli_message(exc: AppcaseError) -> str:
    """The error's message as the command line shows it: with the CLI's own hint, if any.

    Args:
        exc: the error a command raised.

    Returns:
        The problem followed by what to do, naming the command to run where there is one.
    """
    hint = _lookup(_HINTS, exc)
    advice = hint(exc) if hint is not None else None
    return exc.with_advice(advice) if advice else exc.message
