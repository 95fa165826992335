"""Whether a case holds together enough to be written to: the cheap check every command
makes on the case it locks (a full check is ``audit verify``'s).

It also reads what can be read of many cases when some rows cannot be decoded
(:func:`unreadable_rows`, :func:`case_views`).

A case's stored head must be the hash of its last stored event, and no event may be stored
beyond its count: otherwise its events or its row were changed outside appcase (an event
deleted, a count rewound), and a new event would be chained onto a history that is not
the one stored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, NamedTuple, TypeVar

from pydantic import ValidationError

from appcase.errors import CaseDamaged, RowsUnreadable, Unreadable
from appcase.ports import StoredApp, StoredCase
from appcase.workflow.views import CaseView, case_view

__all__ = [
    "HEAD_DAMAGE",
    "UNREADABLE",
    "UNREADABLE_VALUES",
    "Salvaged",
    "case_views",
    "intact",
    "missing_record",
    "reason",
    "unreadable_rows",
]

_T = TypeVar("_T")

HEAD_DAMAGE = "its stored head is not its last stored event"
"""What :class:`~appcase.errors.CaseDamaged` says when :func:`intact` is false."""


def intact(case: StoredCase, last: str | None, beyond: str | None) -> bool:
    """Whether ``case`` is its stored chain's end.

    Args:
        case: the stored case.
        last: the hash of its stored event number ``event_count`` (``None``: none).
        beyond: the hash of its stored event number ``event_count + 1`` (``None``: none).
    """
    if beyond is not None:
        return False
    if case.event_count == 0:
        return last is None
    return last == case.head_hash


UNREADABLE = "unreadable"
"""The kind of damage of a case a row of which cannot be decoded (a verification problem)."""

UNREADABLE_VALUES = (ValueError, TypeError, OverflowError, LookupError, RecursionError)
"""What building a view of a stored value that appcase did not write can raise (a state
that is none of the machine's, a ledger entry's list that is not one, ...)."""


def unreadable_rows(read: Callable[[], _T]) -> Salvaged[_T]:
    """Run a read of many cases that may meet rows it cannot decode.

    Args:
        read: the read (a store's ``cases``, ``case_states``, ``events_of`` ...).

    Returns:
        What it read (without the damaged cases), ``(case_id, seq, why)`` per case it could
        not read, and the last case id the read came to if some could not be read.
    """
    try:
        return Salvaged(read(), [], None)
    except RowsUnreadable as exc:
        return Salvaged(exc.readable, exc.unreadable, exc.last)


class Salvaged(NamedTuple, Generic[_T]):
    """What :func:`unreadable_rows` gives."""

    rows: _T
    unreadable: list[Unreadable]
    last: str | None


def missing_record(case: StoredCase, record: str) -> CaseDamaged:
    """The error of a command that found missing a record its case's state implies (a
    pledged case without its pledge, a flagged one without evidence)."""
    return CaseDamaged(case.id, f"the {record} its {case.state} state rests on is missing")


def case_views(read: Callable[[], list[tuple[StoredCase, StoredApp]]]) -> list[CaseView]:
    """The views of the cases a read of cases and their apps gives.

    Raises:
        RowsUnreadable: some cases' rows cannot be read, or hold a value no view can show
            (a state that is none of the machine's); it carries the other cases' views.
    """
    pairs, unreadable, last = unreadable_rows(read)
    views: list[CaseView] = []
    for case, app in pairs:
        try:
            views.append(case_view(case, app))
        except CaseDamaged as exc:  # a value no view can show (an unknown state, ...)
            unreadable.append((case.id, None, exc.detail))
    if unreadable:
        raise RowsUnreadable(views, unreadable, last)
    return views


def reason(exc: BaseException) -> str:
    """An error in a few words (a validation error's first problem, never the value)."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"{where}: {first['msg']}"[:160]
    return f"{type(exc).__name__}: {str(exc)[:80]}"
