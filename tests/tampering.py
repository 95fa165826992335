"""Tampering with a stored campaign by hand, as someone with write access to the database
would: drop the append-only triggers, then change rows with raw SQL (SQLAlchemy Core on the
tables, so that values are stored as appcase stores them, on SQLite and PostgreSQL alike).
A forger who writes a whole event (an insertion, a rewritten chain) writes its canonical
bytes too, as appcase would; an edit changes one column, the bytes being one of them.

:func:`apply_tamper` carries out a :class:`tests.strategies.Tamper` and returns what
``verify`` must report: ``(case_id, seq or None, kind)``.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.orm import Session

from appcase.audit.records import GENESIS, event_hash, hashed_record, record_bytes
from appcase.bootstrap import open_engine
from appcase.persistence.db import create_db_engine
from appcase.persistence.models import (
    AppRow,
    CaseRow,
    EventRow,
    EvidenceRow,
    FindingRow,
    InterviewRow,
    PledgeRow,
    ReporterRow,
    VerificationRow,
)
from appcase.workflow.verify import replay
from tests.builders import SHANGHAI
from tests.dbcheck import db
from tests.strategies import Tamper

RECORDS = (EvidenceRow, FindingRow, InterviewRow, PledgeRow, VerificationRow)
EVENTS = EventRow.__table__
CASES = CaseRow.__table__


def drop_triggers(conn: Connection) -> None:
    """Drop the append-only triggers of the events and checkpoints tables."""
    if conn.dialect.name == "sqlite":
        for name in ("events_no_update", "events_no_delete"):
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
    else:
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS events_append_only ON events")
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS events_no_truncate ON events")


def _flip(digest: str) -> str:
    return ("1" if digest[0] == "0" else "0") + digest[1:]


def changed(column: str, value: Any) -> Any:
    """Another value for a column of an event (never the same)."""
    if column in ("prev_hash", "hash"):
        return _flip(value)
    if column in ("occurred_at", "recorded_at"):
        return value + timedelta(seconds=1)
    if column == "payload":
        return {**value, "tampered": 1}
    if column == "override":
        return {**(value or {}), "tampered": 1}
    if column == "canonical":  # the same JSON value, but not the bytes that were hashed
        return value + b" "
    return (value or "") + "x"


def _delete_event(conn: Connection, event_id: int) -> None:
    for model in RECORDS:
        conn.execute(delete(model.__table__).where(model.__table__.c.event_id == event_id))
    conn.execute(delete(EVENTS).where(EVENTS.c.id == event_id))


def _set_seq(conn: Connection, event_id: int, seq: int) -> None:
    conn.execute(update(EVENTS).where(EVENTS.c.id == event_id).values(seq=seq))


def _row(ev: EventRow, **changes: Any) -> dict[str, Any]:
    values = {c.name: getattr(ev, c.key) for c in EventRow.__mapper__.columns if c.name != "id"}
    values["idempotency_key"] = None
    return values | changes


def apply_tamper(url: str, tamper: Tamper) -> tuple[str, int | None, str]:
    """Tamper with the database at ``url``; return what verification must report."""
    cid = tamper.case_id
    engine = open_engine(url)
    try:
        with Session(db(engine), expire_on_commit=False) as session:
            evs = list(
                session.scalars(
                    select(EventRow).where(EventRow.case_id == cid).order_by(EventRow.seq)
                )
            )
            case = session.get(CaseRow, cid)
            assert case is not None
    finally:
        engine.close()
    n = len(evs)
    bind = create_db_engine(url)
    try:
        with bind.begin() as conn:
            drop_triggers(conn)
            expected = _apply(conn, tamper, evs, case.app_id)
    finally:
        bind.dispose()
    assert n == case.event_count
    return expected


def _apply(
    conn: Connection, tamper: Tamper, evs: list[EventRow], app_id: int
) -> tuple[str, int | None, str]:
    cid, kind, k = tamper.case_id, tamper.kind, tamper.seq
    n = len(evs)
    if kind == "edit":
        ev = evs[k - 1]
        attr = EventRow.__mapper__.columns[tamper.column].key
        new = changed(tamper.column, getattr(ev, attr))
        conn.execute(update(EVENTS).where(EVENTS.c.id == ev.id).values({tamper.column: new}))
        return (cid, k, "edited")
    if kind == "delete":
        _delete_event(conn, evs[k - 1].id)
        return (cid, k, "deleted")
    if kind == "reorder":
        a, b = evs[k - 1], evs[tamper.other - 1]
        _set_seq(conn, a.id, -1)
        _set_seq(conn, b.id, a.seq)
        _set_seq(conn, a.id, b.seq)
        return (cid, k, "reordered")
    if kind == "insert":
        for ev in reversed(evs[k - 1 :]):
            _set_seq(conn, ev.id, ev.seq + 1)
        source = evs[min(k, n) - 1]
        prev = evs[k - 2].hash if k > 1 else GENESIS
        record = hashed_record(source) | {"seq": k, "reason": "forged", "prev_hash": prev}
        forged = _row(
            source,
            seq=k,
            reason="forged",
            prev_hash=prev,
            hash=event_hash(record),
            canonical=record_bytes(record),
        )
        conn.execute(insert(EVENTS).values(forged))
        return (cid, k, "inserted")
    if kind == "delete_case":
        for model in (*RECORDS, ReporterRow, EventRow):
            table = model.__table__
            conn.execute(delete(table).where(table.c.case_id == cid))
        conn.execute(delete(CASES).where(CASES.c.id == cid))
        conn.execute(delete(AppRow.__table__).where(AppRow.__table__.c.id == app_id))
        return (cid, None, "checkpoint_mismatch")
    if kind == "truncate":
        _delete_event(conn, evs[-1].id)
        r, problem = replay(evs[:-1])
        assert problem is None
        due = (
            datetime.combine(r.pledge_deadline + timedelta(days=1), time.min, SHANGHAI)
            if r.state == "pledged" and r.pledge_deadline is not None
            else None
        )
        conn.execute(
            update(CASES)
            .where(CASES.c.id == cid)
            .values(
                event_count=r.event_count,
                head_hash=r.head_hash,
                state=r.state,
                judicial_state=r.judicial_state,
                disposition=r.disposition,
                suspected_illegal=r.suspected_illegal,
                pledge_deadline=r.pledge_deadline,
                pledge_due_at=due,
                flagged_at=r.flagged_at,
                last_occurred_at=r.last_occurred_at,
            )
        )
        return (cid, n, "checkpoint_mismatch")
    if kind == "rewrite":
        prev = evs[k - 2].hash if k > 1 else GENESIS
        for ev in evs[k - 1 :]:
            changes: dict[str, Any] = {"prev_hash": prev}
            if ev.seq == k:
                changes["reason"] = (ev.reason or "") + "x"
            record = hashed_record(ev) | {"prev_hash": prev, **changes}
            digest = event_hash(record)
            values = {**changes, "hash": digest, "canonical": record_bytes(record)}
            conn.execute(update(EVENTS).where(EVENTS.c.id == ev.id).values(values))
            prev = digest
        conn.execute(update(CASES).where(CASES.c.id == cid).values(head_hash=prev))
        return (cid, n, "checkpoint_mismatch")
    raise AssertionError(f"unknown tampering {kind!r}")
