"""The one exception hierarchy of appcase.

Every error a caller can see is an :class:`AppcaseError`. Each says what went wrong
(``problem``) and, where there is something to do about it, what to do (``advice``), in words
any front end can show: a terminal, a web page, a log. The kinds of error are:

* refused: the command was understood but a rule said no (:class:`GuardRejected`,
  :class:`AuditFailure`), or the caller may not do the act at all (:class:`NotAuthorised`);
* bad input: a malformed payload or file, a naive datetime, an unknown case or officer, a
  database not ready (:class:`InvalidInput`, :class:`PersistenceError`);
* conflict: the case changed under the command, or the database stayed busy; nothing was
  written and retrying is safe (:class:`ConcurrentModification`, :class:`DatabaseBusy`).

The errors know nothing of a front end: the command line maps each type to its exit code and
adds its own hints (which command to run) in :mod:`appcase.cli.exits`.

A refused or failed command has written nothing: every command runs in one database
transaction that is rolled back on any error.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

__all__ = [
    "AppcaseError",
    "AuditFailure",
    "BatchRejected",
    "CampaignFileError",
    "CaseDamaged",
    "CaseNotFound",
    "ConcurrentModification",
    "DatabaseBusy",
    "DatabaseNotReady",
    "DatabaseUnavailable",
    "GuardRejected",
    "ImportRejected",
    "InvalidInput",
    "LedgerHeaderNotFound",
    "LibraryError",
    "NaiveDatetimeError",
    "NotAuthorised",
    "PersistenceError",
    "Rejection",
    "RowsUnreadable",
    "TransitionTableError",
    "UnknownActor",
    "library_call",
]


class AppcaseError(Exception):
    """Base class of every error appcase raises on purpose.

    Args:
        problem: what went wrong (for the simplest errors, what to do as well).
        advice: what to do about it, if the problem does not already say.

    Attributes:
        problem: what went wrong.
        advice: what to do about it, or ``None``.
        message: the two together, in one or two sentences: what a person is shown.
    """

    advice_separator: ClassVar[str] = "; "
    """How :attr:`message` joins the problem and the advice."""

    def __init__(self, problem: str, advice: str | None = None) -> None:
        self.problem = problem
        self.advice = advice
        self.message = self.with_advice(advice)
        super().__init__(self.message)

    def with_advice(self, advice: str | None) -> str:
        """The message with other advice: how a front end words what to do in its own terms.

        Args:
            advice: the advice to give instead of :attr:`advice` (``None``: none).

        Returns:
            The problem, followed by the advice if there is one.
        """
        return f"{self.problem}{self.advice_separator}{advice}" if advice else self.problem

    def __str__(self) -> str:
        return self.message


class InvalidInput(AppcaseError):
    """Input that cannot be used as given: a malformed payload, file or value."""


class NotAuthorised(AppcaseError):
    """The caller may not do this act: registering actors and issuing or revoking tokens
    is an administrator's (role ``administrator``), recording or revoking an override
    grant is an officer's whose role may override the case. Nothing was written.

    Args:
        problem: what was refused and why.
        advice: who may do it instead.
    """


class NaiveDatetimeError(InvalidInput):
    """A datetime without a time zone was given where an instant is needed.

    appcase never guesses a time zone: write the offset (``2018-03-01T09:00+08:00``) or ``Z``.
    """


class CampaignFileError(InvalidInput):
    """A campaign file is missing, unreadable or fails validation.

    Args:
        source: the file (or where the definition came from).
        errors: one ``"field.path: problem"`` string per problem found.

    Attributes:
        source: as given.
        errors: one ``"field.path: problem"`` string per problem found.
    """

    def __init__(self, source: str, errors: Sequence[str]) -> None:
        self.source = source
        self.errors = list(errors)
        lines = "\n".join(f"  - {e}" for e in self.errors)
        super().__init__(f"campaign file {source} is not valid:\n{lines}")


class TransitionTableError(AppcaseError):
    """The transition table is inconsistent (a programming or configuration error).

    Attributes:
        problems: every problem found when the table was validated.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("transition table is invalid: " + "; ".join(self.problems))


class CaseNotFound(InvalidInput):
    """No case has this id in the campaign.

    Args:
        case_id: the id asked for.

    Attributes:
        case_id: the id asked for.
    """

    def __init__(self, case_id: str) -> None:
        self.case_id = case_id
        super().__init__(
            f"no case {case_id!r}", "check the case id against the list of the campaign's cases"
        )


class UnknownActor(InvalidInput):
    """The acting officer is not registered.

    Args:
        actor_id: the officer's id as given.

    Attributes:
        actor_id: the officer's id as given.
    """

    def __init__(self, actor_id: str) -> None:
        self.actor_id = actor_id
        super().__init__(
            f"unknown actor {actor_id!r}",
            "register the officer first, with a role and a jurisdiction",
        )


class LedgerHeaderNotFound(InvalidInput):
    """A ledger file has no header row naming the app column near its top.

    Args:
        source: the file.
        searched_rows: how many rows from the top were searched.

    Attributes:
        source, searched_rows: as given.
    """

    def __init__(self, source: str, searched_rows: int) -> None:
        self.source = source
        self.searched_rows = searched_rows
        super().__init__(
            f"{source}: no header row found in the first {searched_rows} rows; the header "
            "must name the app column (app_name or 应用名称)",
            "start from the ledger template, which has every column",
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
    """A command was refused because one or more guards failed.

    Nothing was written. ``rejections`` lists *every* failed guard, not only the first.

    Attributes:
        case_id: the case the command was for (``None`` for a survey that created no case).
        state: the case's administrative state when the command was refused.
        event: the event that was refused, e.g. ``"judge"``.
        rejections: every failed guard, in table order.
    """

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
    """A batch command was refused because guards failed for some of its items.

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

    Rows are *invalid* when malformed, duplicated or naming unknown codes, and *refused* when
    well formed but guards said no (the survey window, the importing officer's jurisdiction):
    a front end tells bad input (some invalid rows) from a refusal (refused rows only).

    Attributes:
        source: the file.
        problems: ``(row, column, problem)`` for every problem found; ``row`` is the
            spreadsheet's row number (the header is row 1 unless a title row precedes it).
        invalid_rows / refused_rows: how many rows were invalid, and refused by guards.
    """

    advice_separator: ClassVar[str] = "\n"

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
        lines = "\n".join(f"  - row {r}, {c or '(row)'}: {m}" for r, c, m in self.problems)
        what = []
        if invalid_rows:
            what.append(f"{invalid_rows} invalid rows")
        if refused_rows:
            what.append(f"{refused_rows} rows refused by guards")
        super().__init__(
            f"{source}: nothing was imported ({' and '.join(what)}):\n{lines}",
            "fix these rows, or import the others and skip the invalid ones",
        )


class PersistenceError(AppcaseError):
    """The database could not carry out the command; nothing was written."""


Remedy = Literal["create", "load_campaign", "upgrade", "restore"]
"""What makes a database ready: create its schema and load the campaign, load a campaign
into it, upgrade its schema, or restore it from a backup (it is damaged)."""

_REMEDIES: dict[str, str] = {
    "create": "create the database and load the campaign first",
    "load_campaign": "load the campaign into the database",
    "upgrade": "upgrade the database schema",
    "restore": "restore the database from a backup",
}


class DatabaseNotReady(PersistenceError):
    """The database has no appcase schema, an old one, or not the campaign asked for.

    Args:
        problem: what is wrong with the database.
        remedy: what makes it ready (see :data:`Remedy`); the advice says it in words.

    Attributes:
        remedy: as given, for a front end to name its own command for it.
    """

    def __init__(self, problem: str, remedy: Remedy = "create") -> None:
        self.remedy = remedy
        super().__init__(problem, _REMEDIES[remedy])


class DatabaseBusy(PersistenceError):
    """The database stayed locked by other writers too long; nothing was written and
    retrying is safe."""


class DatabaseUnavailable(DatabaseBusy):
    """The database went away or stayed locked in the middle of a command: the server
    ended the connection, or a lock it needed (the migrations' version table, say) was not
    granted within its timeout. Nothing was written and retrying is safe."""


class ConcurrentModification(PersistenceError):
    """The case changed between reading and writing it; retrying is safe.

    Attributes:
        case_id: the case whose version moved on.
        expected_version: the version the caller said it had read, if it said one.
        version: the case's version when the command ran, if known.
    """

    def __init__(
        self, case_id: str, *, expected_version: int | None = None, version: int | None = None
    ) -> None:
        self.case_id = case_id
        self.expected_version = expected_version
        self.version = version
        if expected_version is not None:
            super().__init__(
                f"case {case_id} changed since version {expected_version} was read (it is now "
                f"at version {version})",
                "nothing was written: look at it again and retry the command if it still applies",
            )
            return
        super().__init__(
            f"case {case_id} was changed by another command at the same time; "
            "nothing was written, the command can be retried"
        )


class CaseDamaged(AppcaseError):
    """A case's stored records do not hold together (its head is not its last stored event,
    or a row of it cannot be read): it was changed outside appcase. Nothing is written to a
    damaged case; an audit verification names the damage.

    Args:
        case_id: the case.
        detail: what was found, in words.

    Attributes:
        case_id / detail: as given.
    """

    def __init__(self, case_id: str, detail: str) -> None:
        self.case_id = case_id
        self.detail = detail
        super().__init__(
            f"case {case_id} is damaged ({detail}); nothing was written",
            "an audit verification names the damage",
        )


Unreadable = tuple[str, int | None, str]
"""A row that could not be read: ``(case_id, seq or None, why)`` -- the event's ``seq`` when
an event's row is the one that cannot be read."""


class RowsUnreadable(CaseDamaged):
    """A read of many cases found rows it cannot decode (values stored outside appcase:
    invalid JSON, an invalid instant); it carries what it could read, so that a caller that
    can go on without the damaged cases does.

    Args:
        readable: what the read returns, without the damaged cases' rows.
        unreadable: one ``(case_id, seq or None, why)`` per damaged case, in the read's order.
        last: see below.

    Attributes:
        last: the last case id a read of cases came to, in its order (its next page
            starts after it), if the read is one.
        readable / unreadable: as given; ``case_id`` and ``detail`` name the first.
    """

    def __init__(
        self, readable: Any, unreadable: Sequence[Unreadable], last: str | None = None
    ) -> None:
        self.readable = readable
        self.unreadable = list(unreadable)
        self.last = last
        first, _seq, why = self.unreadable[0]
        more = len(self.unreadable) - 1
        if more:
            others = ", ".join(c for c, _, _ in self.unreadable[1:6])
            why += f"; {more} other case(s) cannot be read either ({others}{', ...' if more > 5 else ''})"
        super().__init__(first, why)


class AuditFailure(AppcaseError):
    """An audit verification found damage.

    Attributes:
        findings: one entry per damaged case: ``(case_id, seq or None, kind, detail)``;
            an empty ``case_id`` is damage of the campaign as a whole (its checkpoints) or
            of a bundle's own files.
    """

    def __init__(self, findings: Sequence[tuple[str, int | None, str, str]]) -> None:
        self.findings = list(findings)
        lines = "\n".join(
            (f"  - case {c}" if c else "  - campaign")
            + (f" event #{s}" if s is not None else "")
            + f": {k}: {d}"
            for c, s, k, d in self.findings
        )
        super().__init__(f"audit verification failed:\n{lines}")


class LibraryError(AppcaseError):
    """A library appcase called (the SQL driver, openpyxl, python-docx, the operating
    system) failed in a way appcase has no name of its own for; nothing was written.

    The library's exception is kept: it is :attr:`cause` and the ``__cause__`` of this one.

    Args:
        operation: what appcase was doing, e.g. ``"writing the report summary.docx"``.
        cause: the library's exception.

    Attributes:
        operation, cause: as given.
    """

    def __init__(self, operation: str, cause: BaseException) -> None:
        self.operation = operation
        self.cause = cause
        detail = str(cause).split("\n", 1)[0][:300]
        super().__init__(f"{operation} failed: {type(cause).__name__}: {detail}")
        self.__cause__ = cause


@contextmanager
def library_call(operation: str) -> Iterator[None]:
    """Run a library call, turning any exception that is not appcase's own into a
    :class:`LibraryError` that keeps it as its cause.

    Args:
        operation: what the call does, for the message.

    Raises:
        LibraryError: the call raised an :class:`Exception` that is not an
            :class:`AppcaseError` (those pass unchanged).
    """
    try:
        yield
    except AppcaseError:
        raise
    except Exception as exc:
        raise LibraryError(operation, exc) from exc


class ListenerVetoed(AppcaseError):
    """An in-transaction listener raised: the command it heard was rolled back, nothing of it
    was written.

    Attributes:
        case_id / event: the command's case and event.
        cause: the listener's exception (also ``__cause__``).
    """

    def __init__(self, case_id: str, event: str, cause: BaseException) -> None:
        self.case_id = case_id
        self.event = event
        self.cause = cause
        super().__init__(
            f"a listener refused {event} on case {case_id}: {type(cause).__name__}: {cause}",
            "nothing was written; the listener's reason says whether to retry",
        )
