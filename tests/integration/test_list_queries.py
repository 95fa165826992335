"""Case lists: filters by phase, overdue, referral and text; sorts."""

from __future__ import annotations

import pytest

from appcase.errors import InvalidInput
from appcase.states import State
from appcase.workflow.engine import CaseEngine
from tests.builders import app, drive, local


def test_filters_and_sorts(engine: CaseEngine) -> None:
    surveyed = engine.survey(app(10), actor="cs-cac", at=local(2, 20))
    pledged = drive(engine, State.PLEDGED, n=1)  # last event 2018-03-14
    taken = drive(engine, State.TAKEN_DOWN, n=2, illegal=True)  # last event 2018-03-15
    engine.fire(taken.id, "refer", actor="cs-cac", at=local(3, 16), reason="涉嫌违法")
    zz = engine.survey(app(11, prefecture="430200"), actor="zz-cac", at=local(2, 21))

    def ids(**kw: object) -> list[str]:
        return [c.id for c in engine.list_cases(**kw)]  # type: ignore[arg-type]

    # phase: the last event inside the phase's window (local days, inclusive)
    assert ids(phase="survey") == [surveyed.id, zz.id]  # 2018-02-13..03-10
    assert set(ids(phase="judgment")) == {surveyed.id, pledged.id, taken.id, zz.id}
    assert ids(phase="summary") == []
    assert ids(overdue_at=local(3, 29, 0)) == [pledged.id]
    assert ids(overdue_at=local(3, 28, 23)) == []
    assert ids(judicial_states=("referred_to_judiciary",)) == [taken.id]
    assert ids(text="测试学习应用11") == [zz.id]
    assert ids(sort="state") == [surveyed.id, zz.id, pledged.id, taken.id]
    assert ids(sort="prefecture")[-1] == zz.id
    assert ids(sort="last-event") == [surveyed.id, zz.id, pledged.id, taken.id]
    with pytest.raises(InvalidInput, match="unknown phase"):
        engine.list_cases(phase="nope")
    with pytest.raises(InvalidInput, match="unknown sort"):
        engine.list_cases(sort="name")
