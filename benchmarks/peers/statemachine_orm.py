"""Peer (b): python-statemachine bound to the ORM row (``model=row, state_field="state"``),
a machine per command, with an ORM session per command."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from appcase.audit.records import GENESIS
from benchmarks.peers.common import PeerCase, append_event, commands

NAME = "python-statemachine + SQLAlchemy ORM"
REQUIRES = "statemachine"


def _machine_class() -> Any:
    from statemachine import State, StateMachine

    class Lifecycle(StateMachine):  # type: ignore[misc]
        new = State(initial=True)
        surveyed = State()
        flagged = State()
        judged = State()
        interviewed = State()
        pledged = State()
        rectified = State(final=True)

        survey = new.to(surveyed, cond="has_payload")
        flag = surveyed.to(flagged, cond="has_payload")
        judge = flagged.to(judged, cond="has_payload")
        interview = judged.to(interviewed, cond="has_payload")
        pledge = interviewed.to(pledged, cond="has_payload")
        rectify = pledged.to(rectified, cond="has_payload")

        def has_payload(self, payload: dict[str, Any]) -> bool:
            return bool(payload)

    return Lifecycle


def mover() -> Any:
    """The like-for-like move (:mod:`benchmarks.peers.faithful`): a machine bound to the
    loaded appcase case row for every command."""
    machine = _machine_class()

    def move(session: Session, case: Any, event: str, payload: dict[str, Any]) -> None:
        before = case.state
        machine(model=case, state_field="state").send(event, payload=payload)
        if case.state == before:
            raise RuntimeError(f"{event} refused on {case.id}")

    return move


def run(db: Engine, first: int, count: int) -> None:
    """Run the lifecycle of ``count`` cases numbered from ``first`` on ``db`` (from
    :func:`benchmarks.peers.common.make_db`)."""
    machine = _machine_class()
    for n in range(first, first + count):
        case_id = f"P-{n:07d}"
        for event, actor, payload, at in commands(n):
            with Session(db) as session, session.begin():
                case = session.get(PeerCase, case_id)
                if case is None:
                    case = PeerCase(id=case_id, state="new", event_count=0, head_hash=GENESIS)
                    session.add(case)
                sm = machine(model=case, state_field="state")
                before = case.state
                sm.send(event, payload=payload)
                if case.state == before:
                    raise RuntimeError(f"{event} refused on {case_id}")
                append_event(session, case, event, before, actor, payload, at)
