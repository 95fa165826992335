"""Replay: every demo case rebuilt from its events through the machines equals the stored
case on both tracks. As-of: a case's state at a past instant, by when events happened or by
when they were recorded."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from appcase.bootstrap import open_engine
from appcase.clock import FixedClock
from appcase.errors import CaseNotFound, InvalidInput, NaiveDatetimeError
from appcase.states import State
from appcase.workflow.asof import get_as_of, list_as_of
from appcase.workflow.engine import CaseEngine
from appcase.workflow.verify import compare, replay, replay_all, verify
from tests.builders import app, drive, evidence, judgment, local
from tests.dbcheck import db


@pytest.fixture
def demo(demo_copy: Path) -> CaseEngine:
    engine = open_engine(f"sqlite:///{demo_copy}", clock=FixedClock(local(4, 6, 9)))
    yield engine
    engine.close()


def test_replay_equals_the_stored_state_of_every_demo_case(demo: CaseEngine) -> None:
    cases, problems = replay_all(demo)
    assert (cases, problems) == (300, [])
    states: set[tuple[str, str]] = set()
    for case_id in demo.iter_case_ids():
        with demo.storage.reading() as repo:
            row = repo.case(case_id)
            assert row is not None
            replayed, problem = replay(repo.events(case_id))
            assert problem is None
            assert compare(row, replayed) == []
            assert (replayed.state, replayed.judicial_state) == (row.state, row.judicial_state)
            assert replayed.head_hash == row.head_hash
            states.add((row.state, row.judicial_state))
    # cases end in many states, on both judicial ones
    assert len({s for s, _ in states}) >= 5
    assert {j for _, j in states} == {"not_referred", "referred_to_judiciary"}


def test_replay_names_a_case_whose_stored_state_was_changed(demo: CaseEngine) -> None:
    case_id = next(demo.iter_case_ids())
    with db(demo).begin() as conn:
        conn.exec_driver_sql("UPDATE cases SET state = 'taken_down' WHERE id = ?", (case_id,))
    cases, problems = replay_all(demo)
    assert cases == 300
    assert [p[:3] for p in problems] == [(case_id, None, "state_mismatch")]
    assert "state: replay gives" in problems[0][3]
    assert "the case stores taken_down" in problems[0][3]
    assert [p[:3] for p in verify(demo).problems] == [(case_id, None, "state_mismatch")]
    with pytest.raises(CaseNotFound):
        replay_all(demo, "HN2018-430100-9999")


def test_as_of_each_event_gives_the_state_after_it(demo: CaseEngine) -> None:
    case_id = "HN2018-430100-0016"  # escalated, returned, referred and rectified
    events = demo.history(case_id)
    assert len(events) >= 8
    for n, ev in enumerate(events, 1):
        view = get_as_of(demo, case_id, ev.occurred_at)
        assert view.event_count == n
        assert view.head_hash == ev.hash
        track_state = view.judicial_state if ev.track == "judicial" else view.state
        assert track_state == ev.to_state
        just_before = ev.occurred_at - timedelta(microseconds=1)
        if n > 1 and events[n - 2].occurred_at < just_before:
            assert get_as_of(demo, case_id, just_before).event_count == n - 1
    now = demo.get(case_id)
    last = get_as_of(demo, case_id, local(12, 31))
    for field in ("state", "judicial_state", "disposition", "pledge_deadline", "head_hash"):
        assert getattr(last, field) == getattr(now, field)


def test_list_as_of_agrees_with_show_as_of_and_with_now(demo: CaseEngine) -> None:
    at = local(2, 25, 0)
    listed = list_as_of(demo, at)
    assert 0 < len(listed) < 300  # some apps were surveyed only later
    for view in listed[::25]:
        assert get_as_of(demo, view.id, at) == view
    flagged = list_as_of(demo, at, states=("flagged",))
    assert flagged
    assert {v.id for v in flagged} == {v.id for v in listed if v.state == "flagged"}
    assert [v.id for v in list_as_of(demo, at, limit=3)] == [v.id for v in listed[:3]]
    current = {v.id: v for v in demo.list_cases()}
    final = list_as_of(demo, local(12, 31))
    assert len(final) == 300
    for view in final:
        now = current[view.id]
        assert (view.state, view.judicial_state, view.event_count, view.disposition) == (
            now.state,
            now.judicial_state,
            now.event_count,
            now.disposition,
        )


def test_as_of_by_occurrence_and_by_recording(sqlite_engine: CaseEngine, clock: FixedClock) -> None:
    """A flag that happened on 2018-02-21 was entered on 2018-02-25: in between, the case was
    flagged (it happened) but the system still showed it surveyed (not yet recorded)."""
    clock.set(local(2, 20, 12))
    case = sqlite_engine.survey(app(0), actor="cs-cac", at=local(2, 20, 9))
    clock.set(local(2, 25, 12))
    sqlite_engine.fire(case.id, "flag", actor="cs-cac", payload=evidence(), at=local(2, 21))
    clock.set(local(3, 12, 12))
    sqlite_engine.fire(case.id, "judge", actor="cs-edu", payload=judgment(), at=local(3, 12))
    between = local(2, 23)
    occurred = get_as_of(sqlite_engine, case.id, between)
    recorded = get_as_of(sqlite_engine, case.id, between, as_recorded=True)
    assert (occurred.state, occurred.basis) == ("flagged", "occurred")
    assert (recorded.state, recorded.basis) == ("surveyed", "recorded")
    assert [v.state for v in list_as_of(sqlite_engine, between, as_recorded=True)] == ["surveyed"]
    assert get_as_of(sqlite_engine, case.id, local(3, 12)).disposition == "interview_rectify"
    assert get_as_of(sqlite_engine, case.id, local(3, 11)).disposition is None
    with pytest.raises(InvalidInput, match="not yet in the ledger"):
        get_as_of(sqlite_engine, case.id, local(2, 20, 8))
    with pytest.raises(InvalidInput, match="not yet in the ledger"):
        get_as_of(sqlite_engine, case.id, local(2, 20, 11), as_recorded=True)
    assert list_as_of(sqlite_engine, local(2, 20, 8)) == []
    with pytest.raises(NaiveDatetimeError):
        get_as_of(sqlite_engine, case.id, local(3, 1).replace(tzinfo=None))
    with pytest.raises(NaiveDatetimeError):
        list_as_of(sqlite_engine, local(3, 1).replace(tzinfo=None))
    with pytest.raises(CaseNotFound):
        get_as_of(sqlite_engine, "HN2018-430100-0099", local(3, 1))
    with pytest.raises(InvalidInput, match="unknown state"):
        list_as_of(sqlite_engine, local(3, 1), states=("limbo",))


def test_as_of_on_both_engines(engine: CaseEngine) -> None:
    view = drive(engine, State.RECTIFIED)
    assert get_as_of(engine, view.id, local(3, 14, 11)).state == "interviewed"
    assert get_as_of(engine, view.id, local(3, 14, 13)).pledge_deadline is not None
    assert [v.state for v in list_as_of(engine, local(2, 22))] == ["flagged"]
