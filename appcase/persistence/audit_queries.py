"""The audit's own reads and writes, as SQLAlchemy Core statements on a transaction's
connection: every case's head, the latest checkpoint, the events up to an instant, and the
checkpoint write with its lock. :class:`~appcase.persistence.repository.Repository` offers
them as the methods :class:`~appcase.ports.Queries` and :class:`~appcase.ports.CaseStore`
name."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, String, Table, Text, and_, case, func, insert, select, text
from sqlalchemy import cast as sql_cast
from sqlalchemy.sql.elements import ColumnElement

from appcase.errors import RowsUnreadable, Unreadable
from appcase.persistence.models import CaseRow, CheckpointRow, EventRow
from appcase.persistence.salvage import UNDECODABLE, why
from appcase.ports import SealedEvent, StoredCheckpoint, StoredEvent, record_fields

__all__ = [
    "STREAM_BATCH",
    "add_checkpoint",
    "events_until",
    "heads",
    "latest_checkpoint",
    "lock_checkpoints",
    "sealed_events",
]

_CASES = cast(Table, CaseRow.__table__)
_EVENTS = cast(Table, EventRow.__table__)
_CHECKPOINTS = cast(Table, CheckpointRow.__table__)
_EVENT_COLUMNS = (
    _EVENTS.c.id,
    *(
        _EVENTS.c[name]
        for name in StoredEvent.__dataclass_fields__
        if name not in ("position", "canonical")
    ),
)
_CHECKPOINT_COLUMNS = tuple(_CHECKPOINTS.c[name] for name in StoredCheckpoint.__dataclass_fields__)


def heads(conn: Connection, campaign_id: str) -> list[tuple[str, int, str]]:
    """``(case_id, event_count, head_hash)`` of every case of the campaign, by case id
    (code points, whatever the database's collation)."""
    rows = conn.execute(
        select(_CASES.c.id, _CASES.c.event_count, _CASES.c.head_hash).where(
            _CASES.c.campaign_id == campaign_id
        )
    )
    return sorted(((c, int(n), h) for c, n, h in rows), key=lambda r: r[0])


def latest_checkpoint(conn: Connection, campaign_id: str) -> StoredCheckpoint | None:
    """The campaign's checkpoint of the highest ``seq``, or ``None``."""
    row = conn.execute(
        select(*_CHECKPOINT_COLUMNS)
        .where(_CHECKPOINTS.c.campaign_id == campaign_id)
        .order_by(_CHECKPOINTS.c.seq.desc())
        .limit(1)
    ).first()
    return StoredCheckpoint(*row) if row is not None else None


def events_until(
    conn: Connection, case_ids: Sequence[str], at: datetime, *, recorded: bool
) -> dict[str, list[StoredEvent]]:
    """The events of many cases that occurred (or, with ``recorded``, were recorded) at or
    before ``at`` (aware), in chain order, keyed by case id (one query).

    Raises:
        RowsUnreadable: an event's row cannot be decoded (a value stored outside appcase);
            it carries the other cases' events and names each damaged case.
    """
    out: dict[str, list[StoredEvent]] = {c: [] for c in case_ids}
    if not case_ids:
        return out
    column = _EVENTS.c.recorded_at if recorded else _EVENTS.c.occurred_at
    stmt = (
        select(*_EVENT_COLUMNS)
        .where(_EVENTS.c.case_id.in_(list(case_ids)), column <= at)
        .order_by(_EVENTS.c.case_id, _EVENTS.c.seq)
    )
    try:
        for row in conn.execute(stmt):
            ev = StoredEvent(*row)
            out[ev.case_id].append(ev)
    except UNDECODABLE:
        _salvage_until(conn, stmt, case_ids)
    return out


def _salvage_until(conn: Connection, stmt: Any, case_ids: Sequence[str]) -> None:
    """Read ``stmt``'s events one case at a time; raise :class:`RowsUnreadable` with the
    readable cases' events, naming the others."""
    readable: dict[str, list[StoredEvent]] = {}
    unreadable: list[Unreadable] = []
    for case_id in case_ids:
        try:
            rows = conn.execute(stmt.where(_EVENTS.c.case_id == case_id))
            readable[case_id] = [StoredEvent(*r) for r in rows]
        except UNDECODABLE as exc:
            unreadable.append((case_id, None, f"an event's row cannot be read: {why(exc)}"))
    if not unreadable:  # pragma: no cover - the read failed, so a case does
        unreadable.append((case_ids[0], None, "an event cannot be read"))
    raise RowsUnreadable(readable, unreadable)


def lock_checkpoints(conn: Connection) -> None:
    """Hold other checkpoints off until the transaction ends: on PostgreSQL a lock of the
    checkpoints table that readers pass; SQLite's write transaction excludes them already."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("LOCK TABLE checkpoints IN SHARE ROW EXCLUSIVE MODE"))


def add_checkpoint(conn: Connection, checkpoint: StoredCheckpoint) -> None:
    """Write a checkpoint row."""
    conn.execute(insert(_CHECKPOINTS), record_fields(checkpoint))


STREAM_BATCH = 5000
"""Rows :func:`sealed_events` fetches at a time (a server-side cursor on PostgreSQL)."""


def _instant_text(conn: Connection, column: ColumnElement[object]) -> ColumnElement[str]:
    """A stored instant as the hashed record writes it (``YYYY-MM-DDTHH:MM:SS.ffffffZ``),
    computed by the database; ``NULL`` on SQLite for a value that is not in the storage
    format (``YYYY-MM-DD HH:MM:SS.ffffff``, UTC) appcase writes."""
    if conn.dialect.name == "postgresql":
        return func.to_char(
            func.timezone("UTC", column), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"', type_=String
        )
    raw = sql_cast(column, Text)
    return case(
        (
            and_(func.length(raw) == 26, func.substr(raw, 11, 1) == " "),
            func.substr(raw, 1, 10) + "T" + func.substr(raw, 12, 15) + "Z",
        ),
        else_=None,
    )


def sealed_events(
    conn: Connection, campaign_id: str, case_id: str | None = None
) -> Iterator[SealedEvent]:
    """Every event of the campaign's cases (or of one), by case id then ``seq``, as
    :class:`~appcase.ports.SealedEvent` (nothing decoded), streamed by one query
    (``STREAM_BATCH`` rows at a time)."""
    e = _EVENTS
    stmt = (
        select(
            e.c.id,
            e.c.case_id,
            e.c.seq,
            e.c.track,
            e.c.event,
            e.c.from_state,
            e.c.to_state,
            e.c.actor_id,
            e.c.role,
            e.c.jurisdiction,
            _instant_text(conn, e.c.occurred_at),
            _instant_text(conn, e.c.recorded_at),
            sql_cast(e.c.payload, Text),
            e.c.reason,
            sql_cast(e.c.override, Text),
            e.c.prev_hash,
            e.c.hash,
            e.c.canonical,
        )
        .join(_CASES, _CASES.c.id == e.c.case_id)
        .where(_CASES.c.campaign_id == campaign_id)
        .order_by(_CASES.c.id, e.c.seq)
    )
    if case_id is not None:
        stmt = stmt.where(_CASES.c.id == case_id)
    result = conn.execute(stmt.execution_options(stream_results=True, yield_per=STREAM_BATCH))
    for partition in result.partitions():
        yield from map(_sealed, partition)


def _sealed(row: Any) -> SealedEvent:
    return SealedEvent(*row)
