"""Reading what can be read when a read of many cases meets a row it cannot decode.

SQLite stores whatever it is given: a row changed by hand may hold invalid JSON, an
instant that is not one, a number where text belongs. Decoding such a row raises in the
middle of a batch read. The functions here are the slow path taken then, and only then:
they read the batch again one case at a time (and a damaged case's events one at a time),
and raise :class:`~appcase.errors.RowsUnreadable` carrying every row that could be read and
naming every case that could not, so that a caller that can go on -- a listing, the sweep,
an audit verification -- does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any, NoReturn, TypeVar

from sqlalchemy import Connection, Select, Table, select

from appcase.errors import RowsUnreadable, Unreadable

__all__ = ["UNDECODABLE", "salvage_cases", "salvage_events", "why"]

UNDECODABLE = (ValueError, TypeError, OverflowError, LookupError, RecursionError)
"""What decoding a stored value that appcase did not write can raise (invalid JSON, an
invalid instant in SQLite's text, a date out of range, ...)."""

_T = TypeVar("_T")


def why(exc: BaseException) -> str:
    """A decoding error in a few words (never the value at length)."""
    return f"{type(exc).__name__}: {str(exc)[:80]}"


def salvage_cases(
    conn: Connection, stmt: Select[Any], id_column: Any, decode: Callable[[Any], _T]
) -> NoReturn:
    """Read the rows of ``stmt`` (a read of cases, one row per case) one case at a time.

    Args:
        conn: the connection, in its transaction.
        stmt: the batch read that failed to decode (its filter, order and limit are kept).
        id_column: the case id column of ``stmt``'s cases.
        decode: a row to its record.

    Raises:
        RowsUnreadable: always; ``readable`` is the list of decoded records, in order.
    """
    ids = list(conn.scalars(stmt.with_only_columns(id_column)))
    readable: list[_T] = []
    unreadable: list[Unreadable] = []
    for case_id in ids:
        try:
            row = conn.execute(stmt.where(id_column == case_id)).first()
            if row is not None:
                readable.append(decode(row))
        except UNDECODABLE as exc:
            unreadable.append((case_id, None, f"its row cannot be read: {why(exc)}"))
    if not unreadable:  # pragma: no cover - the batch failed, so a case does
        unreadable.append((ids[0] if ids else "?", None, "its row cannot be read"))
    raise RowsUnreadable(readable, unreadable, ids[-1] if ids else None)


def salvage_events(
    conn: Connection,
    events: Table,
    columns: Sequence[Any],
    case_ids: Sequence[str],
    decode: Callable[[Any], _T],
) -> NoReturn:
    """Read the events of ``case_ids`` one case at a time, and a case that cannot be read
    one event at a time, to name its first event that cannot be read.

    Raises:
        RowsUnreadable: always; ``readable`` maps each readable case's id to its events in
            chain order (the damaged cases are absent).
    """
    readable: dict[str, list[_T]] = {}
    unreadable: list[Unreadable] = []
    base = select(*columns).order_by(events.c.seq)
    for case_id in case_ids:
        try:
            rows = conn.execute(base.where(events.c.case_id == case_id))
            readable[case_id] = [decode(r) for r in rows]
        except UNDECODABLE:
            unreadable.append(_first_bad_event(conn, events, base, case_id, decode))
    if not unreadable:  # pragma: no cover - the batch failed, so a case does
        unreadable.append((case_ids[0] if case_ids else "?", None, "an event cannot be read"))
    raise RowsUnreadable(readable, unreadable)


def _first_bad_event(
    conn: Connection, events: Table, base: Select[Any], case_id: str, decode: Callable[[Any], Any]
) -> Unreadable:
    seqs = list(conn.scalars(select(events.c.seq).where(events.c.case_id == case_id)))
    with suppress(TypeError):  # a seq that is not a number: keep the stored order
        seqs.sort()
    for seq in seqs:
        try:
            row = conn.execute(base.where(events.c.case_id == case_id, events.c.seq == seq)).first()
            if row is not None:
                decode(row)
        except UNDECODABLE as exc:
            return (case_id, seq, f"event #{seq} cannot be read: {why(exc)}")
    return (case_id, None, "an event's row cannot be read")
