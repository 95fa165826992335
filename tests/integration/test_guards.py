"""Guards through the engine: a refusal lists every failed guard at once and writes nothing."""

from __future__ import annotations

import pytest

from appcase.cli.exits import exit_code
from appcase.errors import GuardRejected, Rejection
from appcase.states import Event
from appcase.workflow.engine import CaseEngine
from tests.builders import evidence, local, unique_app


def test_a_refusal_lists_every_failed_guard_and_writes_nothing(engine: CaseEngine) -> None:
    case = engine.survey(unique_app(1), actor="cs-cac", at=local(2, 20))
    engine.fire(case.id, Event.FLAG, actor="cs-cac", payload=evidence(), at=local(2, 21))
    before = engine.get(case.id)
    history = engine.history(case.id)
    # wrong state (flagged), wrong role and prefecture, after the window, empty record
    with pytest.raises(GuardRejected) as refused:
        engine.fire(
            case.id,
            "interview",
            actor="zz-edu",
            payload={"officers": ["张伟"]},
            at=local(4, 10),
        )
    exc = refused.value
    assert (exc.case_id, exc.state, exc.event) == (case.id, "flagged", "interview")
    assert [r.code for r in exc.rejections] == [
        "state",
        "role",
        "jurisdiction",
        "phase_window",
        *["interview_record"] * 6,
    ]
    assert exit_code(exc) == 1
    for r in exc.rejections:
        assert f"[{r.code}] {r.message}" in str(exc)
    assert "interview is not allowed from flagged (only from judged)" in str(exc)
    assert engine.get(case.id) == before
    assert engine.history(case.id) == history


def test_a_guard_refusal_in_the_right_state_lists_only_guard_failures(
    engine: CaseEngine,
) -> None:
    case = engine.survey(unique_app(1), actor="cs-cac", at=local(2, 20))
    with pytest.raises(GuardRejected) as refused:
        engine.fire(case.id, "flag", actor="cs-edu", payload={"evidence": []}, at=local(3, 11))
    assert [r.code for r in refused.value.rejections] == ["phase_window", "evidence"]
    assert engine.get(case.id).event_count == 1
    assert isinstance(refused.value.rejections[0], Rejection)
