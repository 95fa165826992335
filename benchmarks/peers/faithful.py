"""Like-for-like peers: the same writes as appcase, step by step (item 8, rows 8d-8f).

The light peers (:mod:`benchmarks.peers.common`) write a case row and a chained event into
a schema of their own. Here each peer writes, per step, exactly the rows appcase writes: on
a database initialised by appcase itself (same tables, indexes and connection settings),
through the SQLAlchemy ORM on appcase's own mapped classes, it inserts the app and the case
at the survey, and at every step updates the case's projection (version-checked: the
mapper's ``version_id_col``), inserts the hash-chained event with all its columns and the
step's records (evidence, findings, interview, pledge, verifications).

What to write comes from :func:`script`: the lifecycle is played once through appcase and
the rows it wrote after each step are read back (as :mod:`benchmarks.seed` does for its
copies). A peer copies those values -- only the ids, the app's identity and the chain
differ per case -- so it does none of appcase's work of *deciding* them (payload models,
policy, guards): its checks are its library's transition plus "the payload is not empty".
The ratios still flatter the peers; they no longer flatter them by writing less.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Text, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from appcase.audit.records import GENESIS
from appcase.persistence.models import (
    AppRow,
    CaseRow,
    EventRow,
    EvidenceRow,
    FindingRow,
    InterviewRow,
    PledgeRow,
    VerificationRow,
)
from benchmarks import lifecycle, seed

RECORD_CLASSES: dict[str, Any] = {
    cls.__tablename__: cls
    for cls in (EvidenceRow, FindingRow, InterviewRow, PledgeRow, VerificationRow)
}
_NOT_COPIED = {"id", "case_id", "event_id", "app_id", "version", "prev_hash", "hash"}


@dataclass(frozen=True)
class StepWrites:
    """What appcase wrote at one step of the lifecycle."""

    event: dict[str, Any]
    case: dict[str, Any]
    records: tuple[tuple[Any, dict[str, Any]], ...]


@dataclass(frozen=True)
class Script:
    """The app row and the writes of every step (survey first) of one case."""

    app: dict[str, Any]
    steps: tuple[StepWrites, ...]


def script(work: Path) -> Script:
    """Play the lifecycle once through appcase on a scratch database and read back what
    it wrote after each step."""
    path = work / "peer-script.sqlite"
    engine = seed.new_engine(seed.sqlite_url(path))
    db = engine.storage.engine
    view = engine.survey(lifecycle.app(0), actor=lifecycle.SURVEY_ACTOR, at=lifecycle.SURVEY_AT)
    case_id = str(view.id)
    cases = [_row(db, seed.CASES, seed.CASES.c.id == case_id)]
    for s in lifecycle.FULL_LIFECYCLE:
        engine.fire(case_id, s.event, actor=s.actor, payload=s.payload, at=s.at, reason=s.reason)
        cases.append(_row(db, seed.CASES, seed.CASES.c.id == case_id))
    app = _row(db, seed.APPS, seed.APPS.c.id == cases[0]["app_id"])
    with db.connect() as conn:
        events = [
            dict(r)
            for r in conn.execute(
                select(seed.EVENTS).where(seed.EVENTS.c.case_id == case_id).order_by("seq")
            ).mappings()
        ]
        records = [
            (RECORD_CLASSES[t.name], dict(r))
            for t in seed.RECORDS
            for r in conn.execute(select(t).where(t.c.case_id == case_id)).mappings()
        ]
    engine.close()
    path.unlink()
    assert len(events) == len(cases) == 1 + len(lifecycle.FULL_LIFECYCLE)
    steps = tuple(
        StepWrites(
            event=_copied(ev),
            case=_copied(case),
            records=tuple((cls, _copied(r)) for cls, r in records if r["event_id"] == ev["id"]),
        )
        for ev, case in zip(events, cases, strict=True)
    )
    return Script(app={k: v for k, v in app.items() if k != "id"}, steps=steps)


def _row(db: Engine, table: Any, where: Any) -> dict[str, Any]:
    with db.connect() as conn:
        return dict(conn.execute(select(table).where(where)).mappings().one())


def _copied(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in _NOT_COPIED}


def make_db(url: str) -> Engine:
    """A database initialised by appcase (its schema, its settings) with the peers' one
    table of their own (SpiffWorkflow's serialized workflows)."""
    engine = seed.new_engine(url)
    db = engine.storage.engine
    PeerBase.metadata.create_all(db)
    return db


class PeerBase(DeclarativeBase):
    """Tables a peer needs beside appcase's."""


class PeerWorkflow(PeerBase):
    """A BPMN peer's serialized workflow, one row per case."""

    __tablename__ = "peer_workflows"

    case_id: Mapped[str] = mapped_column(primary_key=True)
    workflow: Mapped[str] = mapped_column(Text)


Move = Callable[[Session, CaseRow, str, dict[str, Any]], None]
"""A peer's transition: move ``case.state`` by the event (raising if refused)."""


def play(db: Engine, plan: Script, first: int, count: int, move: Move) -> None:
    """Run the lifecycle of ``count`` cases numbered from ``first``: each step in its own
    ORM session and transaction, the peer's ``move`` then appcase's writes."""
    for n in range(first, first + count):
        case_id = f"HN2018-430100-P{n:07d}"
        ident = {k: lifecycle.app(n)[k] for k in ("name", "operator", "uscc")}
        for k, step in enumerate(plan.steps):
            with Session(db) as session, session.begin():
                payload = step.event["payload"]
                if k == 0:
                    payload = {**payload, "app": {**payload["app"], **ident}}
                    app = AppRow(**{**plan.app, **ident})
                    session.add(app)
                    session.flush()
                    case = CaseRow(
                        **{**step.case, "state": "new", "head_hash": GENESIS},
                        id=case_id,
                        app_id=app.id,
                    )
                    session.add(case)
                else:
                    found = session.get(CaseRow, case_id)
                    assert found is not None, case_id
                    case = found
                move(session, case, step.event["event"], payload)
                if case.state != step.case["state"]:
                    raise RuntimeError(f"{step.event['event']} moved {case_id} to {case.state}")
                for column, value in step.case.items():
                    if column not in ("state", "head_hash"):
                        setattr(case, column, value)
                columns = {**step.event, "payload": payload}
                case.head_hash = seed.seal_event(case_id, columns, case.head_hash)
                event = EventRow(**columns)
                session.add(event)
                if step.records:
                    session.flush()
                    for cls, values in step.records:
                        session.add(cls(**values, case_id=case_id, event_id=event.id))
