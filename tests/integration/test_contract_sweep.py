"""The sweep, on SQLite and on PostgreSQL: overdue pledges are escalated once, by ``system``,
batch after batch; nothing else moves; a second sweep at the same instant changes nothing."""

from __future__ import annotations

import pytest

from appcase.workflow.engine import CaseEngine
from appcase.workflow.sweep import OVERDUE_REASON, sweep
from appcase.workflow.verify import verify
from tests.builders import drive, local

SWEEP_AT = local(4, 1, 0, 0)


@pytest.mark.parametrize("batch_size", [500, 2])
def test_sweep_escalates_each_overdue_case_once(engine: CaseEngine, batch_size: int) -> None:
    pledged = [drive(engine, "pledged", n=i).id for i in range(5)]
    rectified = drive(engine, "rectified", n=5).id
    judged = drive(engine, "judged", n=6).id
    outcomes = list(sweep(engine, SWEEP_AT, batch_size=batch_size))
    assert [(o.case_id, o.status) for o in outcomes] == [(c, "escalated") for c in pledged]
    for case_id in pledged:
        last = engine.history(case_id)[-1]
        assert (last.event, last.actor, last.reason, last.to_state) == (
            "escalate",
            "system",
            OVERDUE_REASON,
            "escalated_for_takedown",
        )
        assert last.occurred_at == SWEEP_AT
    assert engine.get(rectified).state == "rectified"
    assert engine.get(judged).state == "judged"
    assert verify(engine).ok


def test_a_second_sweep_changes_nothing(engine: CaseEngine) -> None:
    ids = [drive(engine, "pledged", n=i).id for i in range(3)]
    assert [o.status for o in sweep(engine, SWEEP_AT)] == ["escalated"] * 3
    versions = [engine.get(c).version for c in ids]
    assert list(sweep(engine, SWEEP_AT)) == []
    assert [engine.get(c).version for c in ids] == versions


def test_a_sweep_before_the_deadline_escalates_nothing(engine: CaseEngine) -> None:
    case = drive(engine, "pledged")  # pledge deadline 2018-03-28, the whole day included
    assert list(sweep(engine, local(3, 28, 23, 59))) == []
    assert engine.get(case.id).version == case.version
