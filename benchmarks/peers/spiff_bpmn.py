"""Peer (c): SpiffWorkflow running the lifecycle as a BPMN process (``lifecycle.bpmn``):
each command loads the case's serialized workflow from its row, completes the ready user
task of that name with the payload as task data, runs the engine steps, serializes the
workflow back into the row and appends the chained event."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from appcase.audit.records import GENESIS
from benchmarks.peers.common import PeerCase, append_event, commands

NAME = "SpiffWorkflow BPMN, workflow serialized per step"
REQUIRES = "SpiffWorkflow"
BPMN = Path(__file__).with_name("lifecycle.bpmn")


def mover() -> Any:
    """The like-for-like move (:mod:`benchmarks.peers.faithful`): the case's workflow is
    loaded from its row of ``peer_workflows`` (a new one at the survey), the ready task of
    the event's name completed, the engine steps run and the workflow stored back."""
    from SpiffWorkflow.bpmn import BpmnWorkflow
    from SpiffWorkflow.bpmn.parser import BpmnParser
    from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
    from SpiffWorkflow.util.task import TaskState

    from benchmarks.peers.faithful import PeerWorkflow

    parser = BpmnParser()
    parser.add_bpmn_file(str(BPMN))
    spec = parser.get_spec("case_lifecycle")
    serializer = BpmnWorkflowSerializer()

    def move(session: Session, case: Any, event: str, payload: dict[str, Any]) -> None:
        row = session.get(PeerWorkflow, case.id)
        if row is None:
            workflow: Any = BpmnWorkflow(spec)
            workflow.do_engine_steps()
            row = PeerWorkflow(case_id=case.id, workflow="")
            session.add(row)
        else:
            workflow = serializer.deserialize_json(row.workflow)
        task = workflow.get_next_task(state=TaskState.READY, manual=True)
        if task is None or task.task_spec.name != event or not payload:
            raise RuntimeError(f"{event} refused on {case.id}")
        task.data["payload"] = payload
        task.run()
        workflow.do_engine_steps()
        case.state = "rectified" if workflow.is_completed() else _state(event)
        row.workflow = serializer.serialize_json(workflow)

    return move


def run(db: Engine, first: int, count: int) -> None:
    """Run the lifecycle of ``count`` cases numbered from ``first`` on ``db`` (from
    :func:`benchmarks.peers.common.make_db`)."""
    from SpiffWorkflow.bpmn import BpmnWorkflow
    from SpiffWorkflow.bpmn.parser import BpmnParser
    from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
    from SpiffWorkflow.util.task import TaskState

    parser = BpmnParser()
    parser.add_bpmn_file(str(BPMN))
    spec = parser.get_spec("case_lifecycle")
    serializer = BpmnWorkflowSerializer()
    for n in range(first, first + count):
        case_id = f"P-{n:07d}"
        for event, actor, payload, at in commands(n):
            with Session(db) as session, session.begin():
                case = session.get(PeerCase, case_id)
                if case is None:
                    case = PeerCase(id=case_id, state="new", event_count=0, head_hash=GENESIS)
                    session.add(case)
                    workflow: Any = BpmnWorkflow(spec)
                    workflow.do_engine_steps()
                else:
                    workflow = serializer.deserialize_json(case.workflow)
                task = workflow.get_next_task(state=TaskState.READY, manual=True)
                if task is None or task.task_spec.name != event or not payload:
                    raise RuntimeError(f"{event} refused on {case_id}")
                task.data["payload"] = payload
                task.run()
                workflow.do_engine_steps()
                before = case.state
                case.state = "rectified" if workflow.is_completed() else _state(event)
                case.workflow = serializer.serialize_json(workflow)
                append_event(session, case, event, before, actor, payload, at)


def _state(event: str) -> str:
    from benchmarks.peers.common import STATES, STEPS

    return STATES[STEPS.index(event) + 1]
