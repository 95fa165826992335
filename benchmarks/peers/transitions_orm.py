"""Peer (a): the common pattern -- one ``transitions`` Machine per case, built for every
command on the loaded ORM row, with an ORM session per command."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session
from transitions import EventData, Machine, MachineError

from appcase.audit.records import GENESIS
from benchmarks.peers.common import STATES, TRANSITIONS, PeerCase, append_event, commands

NAME = "transitions: Machine per case + ORM session per command"
REQUIRES = "transitions"


def _has_payload(event: EventData) -> bool:
    return bool(event.kwargs.get("payload"))


def mover() -> Any:
    """The like-for-like move (:mod:`benchmarks.peers.faithful`): a Machine built on the
    loaded appcase case row for every command, fired with the payload."""
    transitions: list[dict[str, Any]] = [{**t, "conditions": [_has_payload]} for t in TRANSITIONS]

    def move(session: Session, case: Any, event: str, payload: dict[str, Any]) -> None:
        Machine(
            model=case,
            states=STATES,
            transitions=transitions,
            initial=case.state,
            auto_transitions=False,
            send_event=True,
        )
        if not case.trigger(event, payload=payload):
            raise MachineError(f"{event} refused on {case.id}")

    return move


def run(db: Engine, first: int, count: int) -> None:
    """Run the lifecycle of ``count`` cases numbered from ``first`` on ``db`` (from
    :func:`benchmarks.peers.common.make_db`)."""
    transitions: list[dict[str, Any]] = [{**t, "conditions": [_has_payload]} for t in TRANSITIONS]
    for n in range(first, first + count):
        case_id = f"P-{n:07d}"
        for event, actor, payload, at in commands(n):
            with Session(db) as session, session.begin():
                case = session.get(PeerCase, case_id)
                if case is None:
                    case = PeerCase(id=case_id, state="new", event_count=0, head_hash=GENESIS)
                    session.add(case)
                Machine(
                    model=case,
                    states=STATES,
                    transitions=transitions,
                    initial=case.state,
                    auto_transitions=False,
                    send_event=True,
                )
                before = case.state
                if not case.trigger(event, payload=payload):
                    raise MachineError(f"{event} refused on {case_id}")
                append_event(session, case, event, before, actor, payload, at)
