"""The deadline sweep (逾期处理): escalates overdue pledges exactly after the deadline day,
once, in batches, with a result per case; one failing case never stops the others; flagged
cases not judged by the judgment deadline are reported, never moved."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from appcase.clock import FixedClock
from appcase.errors import InvalidInput, NaiveDatetimeError
from appcase.persistence.models import CaseRow
from appcase.persistence.repository import Repository
from appcase.workflow.engine import CaseEngine
from appcase.workflow.pipeline import Batch
from appcase.workflow.sweep import OVERDUE_REASON, judgment_deadline, summarise, sweep
from tests.builders import SHANGHAI, advance, local, unique_app

LAST_MICROSECOND = datetime(2018, 3, 28, 23, 59, 59, 999999, tzinfo=SHANGHAI)
NEXT_DAY = datetime(2018, 3, 29, tzinfo=SHANGHAI)


def _cases(engine: CaseEngine, state: str, count: int, start: int = 0, **kw: Any) -> list[str]:
    ids = []
    for n in range(start, start + count):
        case = engine.survey(unique_app(n), actor="cs-cac", at=local(2, 20, 9))
        advance(engine, case.id, state, **kw)  # pledges are due 2018-03-28
        ids.append(case.id)
    return ids


def _statuses(engine: CaseEngine, at: datetime, **kw: Any) -> dict[str, str]:
    return {o.case_id: o.status for o in sweep(engine, at, **kw)}


def test_escalates_exactly_after_the_deadline_day(engine: CaseEngine) -> None:
    pledged = _cases(engine, "pledged", 3)
    assert _statuses(engine, LAST_MICROSECOND) == {}
    assert _statuses(engine, NEXT_DAY.astimezone(UTC), batch_size=2) == dict.fromkeys(
        pledged, "escalated"
    )
    for case_id in pledged:
        view = engine.get(case_id)
        assert view.state == "escalated_for_takedown"
        last = engine.history(case_id)[-1]
        assert (last.event, last.actor, last.role) == ("escalate", "system", "system")
        assert last.reason == OVERDUE_REASON
        assert last.payload == {"ground": "rectification_overdue"}
        assert last.occurred_at == NEXT_DAY
        assert last.override is None


def test_a_second_sweep_changes_nothing(engine: CaseEngine) -> None:
    _cases(engine, "pledged", 2)
    first = list(sweep(engine, NEXT_DAY))
    before = {c.id: (c.version, c.head_hash) for c in engine.list_cases()}
    again = list(sweep(engine, NEXT_DAY))
    later = list(sweep(engine, NEXT_DAY + timedelta(days=1)))
    assert [o.status for o in first] == ["escalated", "escalated"]
    assert again == later == []
    assert {c.id: (c.version, c.head_hash) for c in engine.list_cases()} == before


def test_batches_cover_every_case_in_order(sqlite_engine: CaseEngine) -> None:
    pledged = _cases(sqlite_engine, "pledged", 5)
    outcomes = list(sweep(sqlite_engine, NEXT_DAY, batch_size=1))
    assert [o.case_id for o in outcomes] == sorted(pledged)


def test_a_refused_case_does_not_stop_the_others(sqlite_engine: CaseEngine) -> None:
    engine = sqlite_engine
    ok = _cases(engine, "pledged", 2)
    [referred] = _cases(engine, "pledged", 1, start=5, illegal=True)
    engine.fire(
        referred, "refer", actor="cs-cac", payload={}, at=local(3, 30), reason="涉嫌违法"
    )  # an event after the sweep's instant: escalating at 03-29 would go back in time
    outcomes = {o.case_id: o for o in sweep(engine, NEXT_DAY)}
    assert {k: o.status for k, o in outcomes.items()} == {
        ok[0]: "escalated",
        ok[1]: "escalated",
        referred: "refused",
    }
    assert "[chronology]" in outcomes[referred].detail
    assert engine.get(referred).state == "pledged"


def _failing(
    engine: CaseEngine, monkeypatch: pytest.MonkeyPatch, case_id: str, error: Exception
) -> None:
    """The store fails on ``case_id``: its batch's write fails (the batch is redone case by
    case), then its own write raises ``error`` after it ran (the savepoint undoes it)."""
    real_batch: Callable[..., Any] = Repository.insert_events
    real_save: Callable[..., Any] = Repository.save_case

    def insert_events(self: Repository, shared: Any, names: Any, rows: Any) -> Any:
        if any(r[names.index("case_id")] == case_id for r in rows):
            raise error
        return real_batch(self, shared, names, rows)

    def save_case(self: Repository, case: Any, read: Any) -> Any:
        result = real_save(self, case, read)  # written, then the error
        if case.id == case_id:
            raise error
        return result

    monkeypatch.setattr(Repository, "insert_events", insert_events)
    monkeypatch.setattr(Repository, "save_case", save_case)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (RuntimeError("disk on fire"), "failed"),
        (
            IntegrityError("INSERT INTO events VALUES (?)", ["secret reporter"], Exception("no")),
            "failed",
        ),
        (StaleDataError("version moved"), "conflict"),
    ],
)
def test_one_failing_case_never_stops_the_others(
    sqlite_engine: CaseEngine, monkeypatch: pytest.MonkeyPatch, error: Exception, status: str
) -> None:
    engine = sqlite_engine
    first, middle, last = _cases(engine, "pledged", 3)
    before = engine.get(middle)
    _failing(engine, monkeypatch, middle, error)
    outcomes = {o.case_id: o for o in sweep(engine, NEXT_DAY, batch_size=3)}
    assert {k: o.status for k, o in outcomes.items()} == {
        first: "escalated",
        middle: status,
        last: "escalated",
    }
    assert engine.get(middle) == before
    assert len(engine.history(middle)) == before.event_count
    if isinstance(error, RuntimeError):
        assert outcomes[middle].detail == "RuntimeError: disk on fire"
    elif status == "failed":  # a database error: never the statement or its parameters
        assert outcomes[middle].detail == "database error: no"
    report = summarise(NEXT_DAY, outcomes.values())
    assert (report.escalated, report.failed, report.conflict) == (
        2,
        int(status == "failed"),
        int(status == "conflict"),
    )


def test_a_batch_that_loses_a_version_check_is_redone_case_by_case(
    engine: CaseEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer moves one case between the read and the batch's write: the batch is
    rolled back and redone case by case, so only that case reports a conflict."""
    first, middle, last = _cases(engine, "pledged", 3)
    before = {c: engine.get(c) for c in (first, middle, last)}
    real: Callable[..., Any] = Batch.prepare

    def prepare(self: Batch, store: Any, case: Any) -> Any:
        if case.id == middle:  # the other writer's update, in the sweep's transaction
            store.conn.execute(
                update(CaseRow.__table__)
                .where(CaseRow.__table__.c.id == middle)
                .values(version=CaseRow.__table__.c.version + 1)
            )
        return real(self, store, case)

    monkeypatch.setattr(Batch, "prepare", prepare)
    outcomes = {o.case_id: o.status for o in sweep(engine, NEXT_DAY, batch_size=3)}
    assert outcomes == {first: "escalated", middle: "conflict", last: "escalated"}
    for case_id in (first, last):
        view = engine.get(case_id)
        assert view.state == "escalated_for_takedown"
        assert view.version == before[case_id].version + 1
        assert [e.event for e in engine.history(case_id)][-1] == "escalate"
    moved = engine.get(middle)
    assert (moved.state, moved.event_count) == ("pledged", before[middle].event_count)
    assert len(engine.history(middle)) == before[middle].event_count


def test_unjudged_cases_are_reported_after_the_judgment_deadline(engine: CaseEngine) -> None:
    [flagged] = _cases(engine, "flagged", 1)
    [judged] = _cases(engine, "judged", 1, start=1)
    assert judgment_deadline(engine.campaign).isoformat() == "2018-03-31"
    assert _statuses(engine, datetime(2018, 3, 31, 23, 59, 59, 999999, tzinfo=SHANGHAI)) == {}
    outcomes = list(sweep(engine, datetime(2018, 3, 31, 16, tzinfo=UTC)))
    assert [(o.case_id, o.status, o.detail) for o in outcomes] == [
        (flagged, "unjudged", "flagged, not judged by 2018-03-31")
    ]
    assert engine.get(flagged).state == "flagged"
    assert engine.get(judged).state == "judged"
    assert [o.status for o in sweep(engine, datetime(2018, 4, 1, tzinfo=SHANGHAI))] == ["unjudged"]


def test_after_the_escalation_window_the_sweep_is_refused(sqlite_engine: CaseEngine) -> None:
    """The system may not override: after 2018-04-05 an officer escalates with an override."""
    [pledged] = _cases(sqlite_engine, "pledged", 1)
    outcomes = list(sweep(sqlite_engine, datetime(2018, 4, 6, tzinfo=SHANGHAI)))
    assert [o.status for o in outcomes] == ["refused"]
    assert "[phase_window]" in outcomes[0].detail
    assert sqlite_engine.get(pledged).state == "pledged"


def test_bad_instants_and_batch_sizes_are_refused(sqlite_engine: CaseEngine) -> None:
    assert isinstance(sqlite_engine.clock, FixedClock)
    now = sqlite_engine.clock.now()
    with pytest.raises(NaiveDatetimeError):
        sweep(sqlite_engine, datetime(2018, 3, 29))
    with pytest.raises(InvalidInput, match="in the future"):
        sweep(sqlite_engine, now + timedelta(hours=1))
    with pytest.raises(InvalidInput, match="batch size"):
        sweep(sqlite_engine, now, batch_size=0)
    assert list(sweep(sqlite_engine, now + timedelta(minutes=4))) == []
