"""Each event keeps the bytes its hash was taken over: ``events.canonical``.

The canonical JSON of an event's hashed record (:func:`appcase.audit.records.record_bytes`)
is stored beside its columns when the event is written, so that ``appcase audit verify``
hashes the stored bytes and checks the columns against them instead of rebuilding every
record from its columns.

The backfill verifies every event it rewrites: it rebuilds the hashed record from the
stored columns, and writes the bytes only when their SHA-256 is the event's stored hash.
An event whose columns do not give its hash (edited, or unreadable) keeps ``NULL`` bytes:
it is logged (``appcase.migrations``, a warning naming the case and the event) and never
blessed; ``audit verify`` checks it from its columns and names it. Events are read and
written in batches of :data:`BATCH` by id (bounded memory), with the append-only triggers
lifted for the migration's transaction alone.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from appcase.audit.records import hashed_record, record_bytes

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BATCH = 2000
"""Events read and rewritten per statement."""

SHOWN = 50
"""Events named one by one in the log (then only their count)."""

log = logging.getLogger("appcase.migrations")

APPEND_ONLY_MESSAGE = "appcase: events are append-only"
"""The message of the append-only triggers (as migration 0001 made them)."""

_NO_UPDATE = {
    "sqlite": [
        f"""CREATE TRIGGER events_no_update BEFORE UPDATE ON events
            BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END"""
    ],
    "postgresql": [
        f"""CREATE OR REPLACE FUNCTION appcase_events_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}'; END $$""",
        """CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
            FOR EACH ROW EXECUTE FUNCTION appcase_events_append_only()""",
    ],
}
"""The trigger that refuses updates of events, put back after the backfill."""

_LIFT = {
    "sqlite": "DROP TRIGGER IF EXISTS events_no_update",
    "postgresql": "DROP TRIGGER IF EXISTS events_append_only ON events",
}


def _instant(value: Any) -> datetime:
    """A stored instant as an aware UTC datetime (SQLite: the text SQLAlchemy wrote)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise ValueError(f"not an instant: {type(value).__name__}")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _json(value: Any) -> Any:
    """A stored JSON value (text on SQLite, decoded already by psycopg)."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def canonical_of(row: Mapping[Any, Any]) -> bytes | None:
    """The canonical bytes of a stored event row if its columns give its stored hash;
    ``None`` if they do not (or cannot be read)."""
    try:
        columns = dict(row)
        columns["occurred_at"] = _instant(columns["occurred_at"])
        columns["recorded_at"] = _instant(columns["recorded_at"])
        columns["payload"] = _json(columns["payload"])
        columns["override"] = _json(columns["override"])
        data = record_bytes(hashed_record(columns))
    except (ValueError, TypeError, KeyError, OverflowError, RecursionError):
        return None  # a JSON value nested deeper than Python's recursion limit included
    return data if hashlib.sha256(data).hexdigest() == row["hash"] else None


def _events(sqlite: bool) -> sa.TableClause:
    """The events table as the backfill reads it: instants and JSON as stored (text on
    SQLite), so that no row's value can stop the read."""
    raw = sa.Text if sqlite else sa.DateTime(timezone=True)
    return sa.table(
        "events",
        sa.column("id", sa.BigInteger),
        sa.column("case_id", sa.String),
        sa.column("seq", sa.Integer),
        sa.column("track", sa.String),
        sa.column("event", sa.String),
        sa.column("from_state", sa.String),
        sa.column("to_state", sa.String),
        sa.column("actor_id", sa.String),
        sa.column("role", sa.String),
        sa.column("jurisdiction", sa.String),
        sa.column("occurred_at", raw),
        sa.column("recorded_at", raw),
        sa.column("payload", sa.Text if sqlite else sa.JSON),
        sa.column("reason", sa.Text),
        sa.column("override", sa.Text if sqlite else sa.JSON),
        sa.column("prev_hash", sa.String),
        sa.column("hash", sa.String),
        sa.column("canonical", sa.LargeBinary),
    )


def backfill(conn: sa.Connection) -> tuple[int, int, list[tuple[str, int, int]]]:
    """Write the canonical bytes of every event whose columns give its stored hash.

    Returns:
        ``(events written, events left without bytes, [(case_id, seq, id)] of the first
        :data:`SHOWN` of those)``.
    """
    sqlite = conn.dialect.name == "sqlite"
    t = _events(sqlite)
    read = (
        sa.select(*(c for c in t.c if c.name != "canonical"))
        .where(t.c.id > sa.bindparam("after"))
        .order_by(t.c.id)
        .limit(BATCH)
    )
    write = (
        sa.update(t)
        .where(t.c.id == sa.bindparam("b_id"))
        .values(canonical=sa.bindparam("b_canonical", type_=sa.LargeBinary))
    )
    written = refused = after = 0
    shown: list[tuple[str, int, int]] = []
    while True:
        rows = conn.execute(read, {"after": after}).mappings().all()
        if not rows:
            return written, refused, shown
        params = []
        for row in rows:
            data = canonical_of(row)
            if data is not None:
                params.append({"b_id": row["id"], "b_canonical": data})
                continue
            refused += 1
            if len(shown) < SHOWN:
                shown.append((str(row["case_id"]), row["seq"], row["id"]))
        if params:
            conn.execute(write, params)
            written += len(params)
        after = rows[-1]["id"]


def upgrade() -> None:
    conn = op.get_bind()
    dialect = "sqlite" if conn.dialect.name == "sqlite" else "postgresql"
    op.add_column("events", sa.Column("canonical", sa.LargeBinary(), nullable=True))
    op.execute(_LIFT[dialect])  # within the migration's transaction only
    written, refused, shown = backfill(conn)
    for statement in _NO_UPDATE[dialect]:
        op.execute(statement)
    for case_id, seq, event_id in shown:
        log.warning(
            "event %s of case %s (id %s): its columns do not give its stored hash; its "
            "canonical bytes are left empty -- run 'appcase audit verify'",
            seq,
            case_id,
            event_id,
        )
    if refused > len(shown):
        log.warning("%d more events left without canonical bytes", refused - len(shown))
    log.info("canonical bytes written for %d events, %d left empty", written, refused)


def downgrade() -> None:
    # Not through a batch (SQLite would copy the table and lose its triggers): SQLite
    # drops a column in place since 3.35.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE events DROP COLUMN canonical")
    else:
        op.drop_column("events", "canonical")
