"""The baselines: raw SQLAlchemy Core doing the same writes as the engine.

They use the engine's own tables (so values are bound by the same column types) and the
same SQLAlchemy ``Engine`` (same connection settings), and hash the same bytes
(:func:`appcase.audit.records.record_bytes`, stored beside the hash as the engine stores
them). What they leave out is everything that is not a write: payload models, guards,
the state machine, the ORM unit of work. Their output verifies with :func:`appcase.verify`
(checked by the runner on a sample).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, bindparam, insert, select, update

from appcase.audit.records import format_instant, record_bytes
from appcase.persistence.models import ActorRow
from benchmarks.seed import CASES, EVENTS

ACTORS = ActorRow.__table__

_CASE_COLS = (
    CASES.c.id,
    CASES.c.campaign_id,
    CASES.c.state,
    CASES.c.version,
    CASES.c.event_count,
    CASES.c.head_hash,
)


def _record(
    case_id: str,
    seq: int,
    event: str,
    from_state: str,
    to_state: str,
    actor: tuple[str, str, str],
    at: datetime,
    now: datetime,
    payload: dict[str, Any],
    reason: str | None,
    prev: str,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The hashed record and the ``events`` row of one administrative event."""
    record = {
        "case_id": case_id,
        "seq": seq,
        "track": "administrative",
        "event": event,
        "from": from_state,
        "to": to_state,
        "actor": actor[0],
        "role": actor[1],
        "jurisdiction": actor[2],
        "occurred_at": format_instant(at),
        "recorded_at": format_instant(now),
        "payload": payload,
        "reason": reason,
        "override": None,
        "prev_hash": prev,
    }
    data = record_bytes(record)
    digest = hashlib.sha256(data).hexdigest()
    row = {
        "case_id": case_id,
        "seq": seq,
        "track": "administrative",
        "event": event,
        "from_state": from_state,
        "to_state": to_state,
        "actor_id": actor[0],
        "role": actor[1],
        "jurisdiction": actor[2],
        "occurred_at": at,
        "recorded_at": now,
        "payload": payload,
        "reason": reason,
        "override": None,
        "idempotency_key": None,
        "prev_hash": prev,
        "hash": digest,
        "canonical": data,
    }
    return record, row


_CASE_BY_ID = select(*_CASE_COLS).where(CASES.c.id == bindparam("id"))
_CASE_BY_ID_LOCKED = _CASE_BY_ID.with_for_update()
_ACTOR_BY_ID = select(ACTORS.c.id, ACTORS.c.role, ACTORS.c.jurisdiction).where(
    ACTORS.c.id == bindparam("id")
)
_EVENT_INSERT = insert(EVENTS)
_ESCALATED = (
    update(CASES)
    .where(CASES.c.id == bindparam("b_id"), CASES.c.version == bindparam("b_version"))
    .values(
        state="escalated_for_takedown",
        version=bindparam("b_new_version"),
        event_count=bindparam("b_seq"),
        head_hash=bindparam("b_hash"),
        last_occurred_at=bindparam("b_at", type_=CASES.c.last_occurred_at.type),
        updated_at=bindparam("b_now", type_=CASES.c.updated_at.type),
    )
)
"""The statements of :func:`escalate`, built once (SQLAlchemy then skips building and
hashing them per call: the fastest way to use Core)."""


class ConflictError(RuntimeError):
    """The version-checked update matched no row."""


def escalate(
    db: Engine,
    case_id: str,
    *,
    actor_id: str,
    payload: dict[str, Any],
    reason: str,
    at: datetime,
    now: datetime,
) -> str:
    """One ``escalate`` (judged → escalated_for_takedown) in one transaction: read the case
    (``FOR UPDATE`` on PostgreSQL) and the actor, append the chained event, update the case
    with a version check. Returns the new head hash."""
    stmt = _CASE_BY_ID_LOCKED if db.dialect.name == "postgresql" else _CASE_BY_ID
    with db.begin() as conn:
        case = conn.execute(stmt, {"id": case_id}).one()
        actor = conn.execute(_ACTOR_BY_ID, {"id": actor_id}).one()
        if case.state != "judged":
            raise ConflictError(f"{case_id} is {case.state}")
        seq = case.event_count + 1
        _, row = _record(
            case_id,
            seq,
            "escalate",
            "judged",
            "escalated_for_takedown",
            (actor.id, actor.role, actor.jurisdiction),
            at,
            now,
            payload,
            reason,
            case.head_hash,
        )
        conn.execute(_EVENT_INSERT, row)
        done = conn.execute(
            _ESCALATED,
            {
                "b_id": case_id,
                "b_version": case.version,
                "b_new_version": case.version + 1,
                "b_seq": seq,
                "b_hash": row["hash"],
                "b_at": at,
                "b_now": now,
            },
        )
        if done.rowcount != 1:
            raise ConflictError(case_id)
    return str(row["hash"])


def sweep(
    db: Engine,
    campaign_id: str,
    *,
    at: datetime,
    now: datetime,
    province: str,
    batch_size: int = 500,
) -> int:
    """Escalate every overdue pledged case, in batches of ``batch_size`` per transaction
    (keyset pagination; ``FOR UPDATE SKIP LOCKED`` on PostgreSQL): one executemany of
    events and one executemany of version-checked case updates per batch.

    Returns:
        The number of cases escalated.
    """
    pg = db.dialect.name == "postgresql"
    upd = (
        update(CASES)
        .where(CASES.c.id == bindparam("b_id"), CASES.c.version == bindparam("b_version"))
        .values(
            state="escalated_for_takedown",
            version=bindparam("b_new_version"),
            event_count=bindparam("b_seq"),
            head_hash=bindparam("b_hash"),
            last_occurred_at=at,
            updated_at=now,
            pledge_due_at=None,
        )
    )
    payload = {"ground": "rectification_overdue"}
    system = ("system", "system", province)
    after: str | None = None
    total = 0
    while True:
        stmt = (
            select(*_CASE_COLS)
            .where(
                CASES.c.campaign_id == campaign_id,
                CASES.c.state == "pledged",
                CASES.c.pledge_due_at <= at,
            )
            .order_by(CASES.c.id)
            .limit(batch_size)
        )
        if after is not None:
            stmt = stmt.where(CASES.c.id > after)
        if pg:
            stmt = stmt.with_for_update(skip_locked=True)
        with db.begin() as conn:
            rows = conn.execute(stmt).all()
            if not rows:
                break
            events, updates = [], []
            for c in rows:
                seq = c.event_count + 1
                _, ev = _record(
                    c.id,
                    seq,
                    "escalate",
                    "pledged",
                    "escalated_for_takedown",
                    system,
                    at,
                    now,
                    payload,
                    "rectification overdue",
                    c.head_hash,
                )
                events.append(ev)
                updates.append(
                    {
                        "b_id": c.id,
                        "b_version": c.version,
                        "b_new_version": c.version + 1,
                        "b_seq": seq,
                        "b_hash": ev["hash"],
                    }
                )
            conn.execute(insert(EVENTS), events)
            done = conn.execute(upd, updates)
            if done.rowcount != len(updates):
                raise ConflictError(f"{len(updates) - done.rowcount} cases changed meanwhile")
        total += len(rows)
        if len(rows) < batch_size:
            break
        after = rows[-1].id
    return total
