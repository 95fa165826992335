"""The peers' shared schema and event chain (see :mod:`benchmarks.peers`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Engine, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from appcase.audit.records import GENESIS, event_hash, format_instant
from appcase.persistence.db import create_db_engine
from benchmarks import lifecycle

STATES = ["new", "surveyed", "flagged", "judged", "interviewed", "pledged", "rectified"]
STEPS = ["survey", "flag", "judge", "interview", "pledge", "rectify"]
TRANSITIONS = [
    {"trigger": ev, "source": STATES[i], "dest": STATES[i + 1]} for i, ev in enumerate(STEPS)
]


class Base(DeclarativeBase):
    """The peers' own metadata (not appcase's)."""


class PeerCase(Base):
    """A case: its state, a version column, its chain head and (for BPMN) its workflow."""

    __tablename__ = "peer_cases"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    state: Mapped[str] = mapped_column(String(32))
    version: Mapped[int] = mapped_column(Integer)
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    head_hash: Mapped[str] = mapped_column(String(64), default=GENESIS)
    workflow: Mapped[str | None] = mapped_column(Text, default=None)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class PeerEvent(Base):
    """An appended, hash-chained event."""

    __tablename__ = "peer_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[str] = mapped_column(ForeignKey("peer_cases.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


def make_db(url: str) -> Engine:
    """A fresh peer database at ``url`` with appcase's connection settings."""
    db = create_db_engine(url)
    Base.metadata.create_all(db)
    return db


def append_event(
    session: Session,
    case: PeerCase,
    event: str,
    from_state: str,
    actor: str,
    payload: dict[str, Any],
    at: datetime,
) -> None:
    """Append the chained event of a transition just made on ``case`` (state already moved)."""
    seq = case.event_count + 1
    occurred = format_instant(at)
    digest = event_hash(
        {
            "case_id": case.id,
            "seq": seq,
            "track": "administrative",
            "event": event,
            "from": from_state,
            "to": case.state,
            "actor": actor,
            "role": lifecycle.ACTORS[actor][0],
            "jurisdiction": lifecycle.ACTORS[actor][1],
            "occurred_at": occurred,
            "recorded_at": format_instant(lifecycle.CLOCK_AT),
            "payload": payload,
            "reason": None,
            "override": None,
            "prev_hash": case.head_hash,
        }
    )
    session.add(
        PeerEvent(
            case_id=case.id,
            seq=seq,
            event=event,
            from_state=from_state,
            to_state=case.state,
            actor=actor,
            occurred_at=occurred,
            payload=payload,
            prev_hash=case.head_hash,
            hash=digest,
        )
    )
    case.event_count = seq
    case.head_hash = digest


def commands(n: int) -> list[tuple[str, str, dict[str, Any], datetime]]:
    """The six commands of case ``n``: ``(event, actor, payload, at)``."""
    first = ("survey", lifecycle.SURVEY_ACTOR, {"app": lifecycle.app(n)}, lifecycle.SURVEY_AT)
    return [first, *((s.event, s.actor, s.payload, s.at) for s in lifecycle.FULL_LIFECYCLE)]
