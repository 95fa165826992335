"""Time through the engine: commands, payloads, queries and the sweep refuse a naive datetime,
and nothing is written."""

from __future__ import annotations

from datetime import datetime

import pytest

from appcase.errors import InvalidInput, NaiveDatetimeError
from appcase.states import Event
from appcase.workflow.engine import CaseEngine
from appcase.workflow.sweep import sweep
from tests.builders import evidence, interview, local, unique_app

NAIVE = datetime(2018, 3, 1, 10, 0)


def test_the_engine_refuses_naive_event_times(sqlite_engine: CaseEngine) -> None:
    engine = sqlite_engine
    with pytest.raises(NaiveDatetimeError, match="event time"):
        engine.survey(unique_app(1), actor="cs-cac", at=NAIVE)
    assert engine.list_cases() == []
    case = engine.survey(unique_app(1), actor="cs-cac", at=local(2, 20))
    with pytest.raises(NaiveDatetimeError, match="event time 2018-03-01T10:00:00 has no time zone"):
        engine.fire(case.id, Event.FLAG, actor="cs-cac", payload=evidence(), at=NAIVE)
    assert engine.get(case.id).event_count == 1
    assert len(engine.history(case.id)) == 1


def test_naive_times_inside_payloads_are_refused_by_field(sqlite_engine: CaseEngine) -> None:
    engine = sqlite_engine
    case = engine.survey(unique_app(1), actor="cs-cac", at=local(2, 20))
    record = interview(local(3, 14)) | {"held_at": "2018-03-14T10:00:00"}
    with pytest.raises(InvalidInput) as caught:
        engine.fire(case.id, Event.INTERVIEW, actor="cs-cac", payload=record, at=local(3, 14, 11))
    assert "interview payload is not valid:\n  - held_at: Input should have timezone info" in str(
        caught.value
    )
    assert engine.get(case.id).event_count == 1


def test_queries_and_the_sweep_refuse_naive_times(sqlite_engine: CaseEngine) -> None:
    with pytest.raises(NaiveDatetimeError, match="overdue time"):
        sqlite_engine.list_cases(overdue_at=NAIVE)
    with pytest.raises(NaiveDatetimeError, match="sweep time"):
        list(sweep(sqlite_engine, NAIVE))
