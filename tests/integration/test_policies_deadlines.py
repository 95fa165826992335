"""The deadline policy through the engine: default rectification deadlines (calendar and
working days) and their cap, acting after a window closed (an authorised override, recorded
and countable by a query), and a pledge deadline that no override moves."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import func, select

from appcase.bootstrap import init_database
from appcase.clock import FixedClock
from appcase.errors import GuardRejected, InvalidInput, NotAuthorised
from appcase.persistence.models import EventRow, InterviewRow, PledgeRow
from appcase.policies import deadlines
from appcase.policies.campaign import DeadlineParams
from appcase.workflow.engine import CaseEngine
from appcase.workflow.grants import grant_override, list_grants
from tests.builders import RECTIFIED, advance, interview, local, pledge, register_actors, unique_app
from tests.dbcheck import orm
from tests.strategies import campaign_with


def _judged(engine: CaseEngine, n: int = 1) -> str:
    case = engine.survey(unique_app(n), actor="cs-cac", at=local(2, 20, 9))
    advance(engine, case.id, "judged")
    return case.id


def _without(record: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != key}


def test_an_interview_without_a_deadline_gets_the_default(sqlite_engine: CaseEngine) -> None:
    engine = sqlite_engine
    case = _judged(engine)
    body = _without(interview(local(3, 14)), "rectification_deadline")
    view = engine.fire(case, "interview", actor="cs-cac", payload=body, at=local(3, 14, 11))
    assert view.payload["rectification_deadline"] == "2018-03-24"  # 10 calendar days
    signed = _without(pledge(local(3, 14, 12)), "deadline")
    view = engine.fire(case, "pledge", actor="cs-cac", payload=signed, at=local(3, 14, 13))
    assert view.payload["deadline"] == "2018-03-24"  # the interview's
    assert engine.get(case).pledge_deadline == date(2018, 3, 24)
    with orm(engine) as repo:
        assert repo.scalar(select(InterviewRow.rectification_deadline)) == date(2018, 3, 24)
        assert repo.scalar(select(PledgeRow.deadline)) == date(2018, 3, 24)


def test_a_late_interview_defaults_to_the_cap(sqlite_engine: CaseEngine) -> None:
    engine = sqlite_engine
    case = _judged(engine)
    body = _without(interview(local(3, 27)), "rectification_deadline")
    view = engine.fire(case, "interview", actor="cs-cac", payload=body, at=local(3, 27, 11))
    assert view.payload["rectification_deadline"] == "2018-03-31"


def test_working_days_skip_the_spring_festival(sqlite_url: str, clock: FixedClock) -> None:
    campaign = campaign_with(deadlines=DeadlineParams(working_days=True))
    engine = init_database(sqlite_url, campaign, clock)
    try:
        register_actors(engine)
        case = _judged(engine)  # judged 2018-03-12
        # Spring Festival 2018: holiday 02-15..21, Saturday 02-24 worked.
        assert deadlines.default_rectification_deadline(campaign, date(2018, 2, 14)) == date(
            2018, 3, 6
        )
        body = _without(interview(local(3, 13)), "rectification_deadline")
        view = engine.fire(case, "interview", actor="cs-cac", payload=body, at=local(3, 13, 11))
        assert view.payload["rectification_deadline"] == "2018-03-27"  # 10 working days
    finally:
        engine.close()


def test_a_deadline_after_the_cap_is_refused(sqlite_engine: CaseEngine) -> None:
    engine = sqlite_engine
    case = _judged(engine)
    with pytest.raises(GuardRejected) as refused:
        engine.fire(
            case,
            "interview",
            actor="cs-cac",
            payload=interview(local(3, 14), deadline="2018-04-01"),
            at=local(3, 14, 11),
        )
    assert any("after the cap 2018-03-31" in r.message for r in refused.value.rejections)


def test_acting_after_a_window_needs_an_authorised_override(sqlite_engine: CaseEngine) -> None:
    engine = sqlite_engine
    case = engine.survey(unique_app(1), actor="cs-cac", at=local(2, 20, 9))
    late = local(3, 11, 9)  # the survey phase (摸排巡查) ended 2018-03-10
    flag = {"evidence": [{"harm_category": "other", "description": "截图"}]}
    with pytest.raises(GuardRejected) as refused:
        engine.fire(case.id, "flag", actor="cs-edu", payload=flag, at=late)
    assert [r.code for r in refused.value.rejections] == ["phase_window"]
    with pytest.raises(GuardRejected, match="may not authorise an override"):
        engine.fire(
            case.id, "flag", actor="cs-edu", payload=flag, at=late, override={"reason": "迟报"}
        )
    with pytest.raises(InvalidInput, match="records a grant"):
        engine.fire(
            case.id,
            "flag",
            actor="cs-edu",
            payload=flag,
            at=late,
            override={"reason": "迟报", "authorised_by": "cs-cac"},
        )
    with pytest.raises(NotAuthorised, match="only in 430200"):
        grant_override(engine, by="zz-cac", event="flag", reason="迟报", case_id=case.id)
    with pytest.raises(InvalidInput):
        engine.fire(
            case.id, "flag", actor="cs-edu", payload=flag, at=late, override={"reason": " "}
        )
    grant = grant_override(
        engine, by="cs-cac", event="flag", reason="群众举报在巡查期后收到", case_id=case.id
    )
    assert grant.status == "active"
    view = engine.fire(
        case.id, "flag", actor="cs-edu", payload=flag, at=late, override_grant=grant.id
    )
    assert view.override == {
        "reason": "群众举报在巡查期后收到",
        "authorised_by": "cs-cac",
        "grant": grant.id,
        "waived": ["phase_window"],
    }
    [used] = list_grants(engine, case.id)
    assert (used.status, used.used_by) == ("used", "cs-edu")
    with engine.storage.reading() as q:
        [event] = [e for e in q.events(case.id) if e.seq == view.seq]
    assert used.used_position == event.position


def test_overrides_are_queryable_and_only_recorded_when_used(sqlite_engine: CaseEngine) -> None:
    engine = sqlite_engine
    on_time = engine.survey(unique_app(1), actor="cs-cac", at=local(2, 20, 9))
    ovr = {"reason": "经批准"}  # cs-cac's own role may override
    flag = {"evidence": [{"harm_category": "other", "description": "截图"}]}
    engine.fire(on_time.id, "flag", actor="cs-cac", payload=flag, at=local(3, 1), override=ovr)
    late = engine.survey(unique_app(2), actor="cs-cac", at=local(2, 20, 9))
    engine.fire(late.id, "flag", actor="cs-cac", payload=flag, at=local(3, 12), override=ovr)
    with orm(engine) as repo:
        rows = list(repo.scalars(select(EventRow).where(EventRow.override.is_not(None))))
        counts = repo.execute(
            select(EventRow.event, func.count())
            .where(EventRow.override.is_not(None))
            .group_by(EventRow.event)
        )
        per_event = dict(counts.all())
    assert [(r.case_id, r.override["waived"]) for r in rows] == [(late.id, ["phase_window"])]
    assert per_event == {"flag": 1}


def test_no_override_moves_a_pledge_deadline(sqlite_engine: CaseEngine) -> None:
    engine = sqlite_engine
    case = engine.survey(unique_app(1), actor="cs-cac", at=local(2, 20, 9))
    advance(engine, case.id, "pledged")  # due 2018-03-28
    with pytest.raises(GuardRejected, match="after the pledge deadline 2018-03-28"):
        engine.fire(
            case.id,
            "rectify",
            actor="cs-cac",
            payload=RECTIFIED,
            at=local(3, 29, 0, 0),
            override={"reason": "迟到的核查"},
        )
    last_minute = local(3, 28, 23, 59).replace(second=59, microsecond=999999)
    view = engine.fire(case.id, "rectify", actor="cs-cac", payload=RECTIFIED, at=last_minute)
    assert view.to_state == "rectified"
    assert view.override is None
