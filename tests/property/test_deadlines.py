"""Properties of the deadline policy: the phase-window guard and the deadline checks agree
with a plain reference computation (the instant's wall-clock date in Asia/Shanghai, compared
with the campaign's dates) at random instants, written in random time zones, around every
boundary of the campaign."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import chinese_calendar  # type: ignore[import-untyped]
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from appcase.clock import parse_instant
from appcase.errors import NaiveDatetimeError
from appcase.policies import deadlines
from appcase.policies.campaign import Campaign, DeadlineParams
from appcase.states import Event, JudicialState, State
from appcase.workflow.commands import (
    CommitmentCheck,
    DismissPayload,
    EscalatePayload,
    RectifyPayload,
)
from appcase.workflow.context import ActorInfo, CaseFacts, Command, GuardContext
from appcase.workflow.guards import escalation_ground, phase_window, rectification_verified
from tests.strategies import (
    HUNAN,
    ZONE_NAMES,
    campaign_boundaries,
    campaign_days,
    campaign_with,
    deadline_params,
    events,
    instants_in,
    instants_near,
    naive_datetimes,
    zones,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
BOUNDARIES = campaign_boundaries(HUNAN)
OFFICER = ActorInfo("cs-cac", "cac_prefecture", "430100")

# Hunan 2018's dates, written out from the source document (三、工作安排), not read from code.
PHASES = {
    "survey": (date(2018, 2, 13), date(2018, 3, 10)),
    "judgment": (date(2018, 2, 13), date(2018, 3, 31)),
    "summary": (date(2018, 4, 1), date(2018, 4, 5)),
}

LAST_INSTANT = parse_instant("2018-03-31T23:59:59.999999+08:00")
FIRST_AFTER = parse_instant("2018-04-01T00:00:00+08:00")


def reference_open(campaign: Campaign, event: Event, at: datetime) -> bool:
    """Plain reading: the act's local date (Asia/Shanghai) lies within one of the event's
    phases, both ends inclusive."""
    day = at.astimezone(SHANGHAI).date()
    return any(PHASES[p][0] <= day <= PHASES[p][1] for p in campaign.windows[event])


def reference_passed(deadline: date, at: datetime) -> bool:
    """Plain reading: the act's local date is after the deadline date."""
    return at.astimezone(SHANGHAI).date() > deadline


def test_reference_dates_are_the_campaign_files() -> None:
    assert {p.id: (p.start, p.deadline) for p in HUNAN.phases} == PHASES
    assert HUNAN.timezone == "Asia/Shanghai"


@given(events, instants_near(BOUNDARIES))
@example(Event.JUDGE, LAST_INSTANT)
@example(Event.JUDGE, FIRST_AFTER)
@example(Event.JUDGE, LAST_INSTANT.astimezone(UTC))
@example(Event.JUDGE, FIRST_AFTER.astimezone(ZoneInfo("America/Los_Angeles")))
@example(Event.FLAG, parse_instant("2018-03-10T23:59:59.999999+08:00"))
@example(Event.FLAG, parse_instant("2018-03-10T16:00:00Z"))
def test_window_open_agrees_with_the_reference(event: Event, at: datetime) -> None:
    assert deadlines.window_open(HUNAN, event, at) is reference_open(HUNAN, event, at)


@given(events, instants_in(BOUNDARIES[0] - timedelta(days=3), BOUNDARIES[-1] + timedelta(days=3)))
def test_window_open_agrees_with_the_reference_anywhere(event: Event, at: datetime) -> None:
    assert deadlines.window_open(HUNAN, event, at) is reference_open(HUNAN, event, at)


@pytest.mark.parametrize(
    "written",
    [
        "2018-03-31T23:59:59.999999+08:00",
        "2018-03-31T15:59:59.999999+00:00",
        "2018-03-31T10:59:59.999999-05:00",
        "2018-04-01T05:59:59.999999+14:00",
    ],
)
def test_the_last_microsecond_of_the_deadline_day_is_inside(written: str) -> None:
    at = parse_instant(written)
    assert deadlines.window_open(HUNAN, Event.JUDGE, at)
    assert not deadlines.deadline_passed(HUNAN, date(2018, 3, 31), at)


@pytest.mark.parametrize(
    "written",
    [
        "2018-04-01T00:00:00+08:00",
        "2018-03-31T16:00:00Z",
        "2018-03-31T11:00:00-05:00",
        "2018-04-01T06:00:00+14:00",
    ],
)
def test_the_next_day_is_outside(written: str) -> None:
    at = parse_instant(written)
    assert not deadlines.window_open(HUNAN, Event.JUDGE, at)
    assert deadlines.window_open(HUNAN, Event.ESCALATE, at)  # the summary phase
    assert deadlines.deadline_passed(HUNAN, date(2018, 3, 31), at)


@given(campaign_days, instants_near(BOUNDARIES))
def test_deadline_passed_agrees_with_the_reference(deadline: date, at: datetime) -> None:
    assert deadlines.deadline_passed(HUNAN, deadline, at) is reference_passed(deadline, at)


@given(st.sampled_from(ZONE_NAMES), events, instants_near(BOUNDARIES), zones)
def test_the_zone_an_instant_is_written_in_never_matters(
    campaign_zone: str, event: Event, at: datetime, other: tzinfo
) -> None:
    """In any campaign zone (daylight saving ones too), the same instant written in another
    zone -- or in the campaign's own zone object -- gets the same answer."""
    campaign = HUNAN.model_copy(update={"timezone": campaign_zone})
    own = at.astimezone(campaign.zone)
    answers = {deadlines.window_open(campaign, event, x) for x in (at, at.astimezone(other), own)}
    assert len(answers) == 1
    passed = {
        deadlines.deadline_passed(campaign, date(2018, 3, 31), x)
        for x in (at, at.astimezone(other), own)
    }
    assert len(passed) == 1


# --- the guards that read deadlines ---------------------------------------------------------


def _ctx(event: Event, at: datetime, facts: CaseFacts, payload: object = None) -> GuardContext:
    body = payload if payload is not None else DismissPayload()  # the window guard ignores it
    cmd = Command(event, OFFICER, body, at)  # type: ignore[arg-type]
    return GuardContext(facts, cmd, HUNAN, datetime(2018, 4, 30, 12, tzinfo=SHANGHAI))


def _facts(state: State = State.PLEDGED, deadline: date | None = None) -> CaseFacts:
    return CaseFacts(
        case_id="HN2018-430100-0001",
        prefecture="430100",
        state=state,
        judicial_state=JudicialState.NOT_REFERRED,
        pledge_commitments=("清理违规信息",),
        pledge_deadline=deadline,
    )


@given(events, instants_near(BOUNDARIES))
def test_phase_window_guard_agrees_with_the_reference(event: Event, at: datetime) -> None:
    rejections = phase_window(_ctx(event, at, _facts()))
    assert (not rejections) is reference_open(HUNAN, event, at)
    assert all(r.code == "phase_window" for r in rejections)


def _near_deadline(deadline: date) -> st.SearchStrategy[datetime]:
    after = datetime.combine(deadline + timedelta(days=1), datetime.min.time(), tzinfo=SHANGHAI)
    return instants_near([after])


@given(st.data(), campaign_days)
def test_rectification_guard_refuses_exactly_after_the_pledge_deadline(
    data: st.DataObject, deadline: date
) -> None:
    at = data.draw(_near_deadline(deadline), label="at")
    body = RectifyPayload(checks=(CommitmentCheck(commitment="1", verified=True),))
    rejections = rectification_verified(_ctx(Event.RECTIFY, at, _facts(deadline=deadline), body))
    late = any("after the pledge deadline" in r.message for r in rejections)
    assert late is reference_passed(deadline, at)
    assert len(rejections) == int(late)


@given(st.data(), campaign_days)
def test_overdue_escalation_fits_exactly_after_the_pledge_deadline(
    data: st.DataObject, deadline: date
) -> None:
    at = data.draw(_near_deadline(deadline), label="at")
    body = EscalatePayload(ground="rectification_overdue")  # type: ignore[arg-type]
    rejections = escalation_ground(_ctx(Event.ESCALATE, at, _facts(deadline=deadline), body))
    assert (not rejections) is reference_passed(deadline, at)


# --- naive datetimes --------------------------------------------------------------------------


@given(naive_datetimes, events, campaign_days)
def test_naive_datetimes_are_an_error(at: datetime, event: Event, deadline: date) -> None:
    with pytest.raises(NaiveDatetimeError):
        deadlines.window_open(HUNAN, event, at)
    with pytest.raises(NaiveDatetimeError):
        deadlines.deadline_passed(HUNAN, deadline, at)
    with pytest.raises(NaiveDatetimeError):
        deadlines.local_day(HUNAN, at)
    with pytest.raises(NaiveDatetimeError):
        parse_instant(at.isoformat())


def test_a_tzinfo_without_an_offset_is_naive() -> None:
    class NoOffset(tzinfo):
        def utcoffset(self, dt: datetime | None) -> timedelta | None:
            return None

    with pytest.raises(NaiveDatetimeError):
        deadlines.window_open(HUNAN, Event.JUDGE, datetime(2018, 3, 1, tzinfo=NoOffset()))


# --- rectification deadlines: default and cap -------------------------------------------------


@given(deadline_params, campaign_days)
def test_default_rectification_deadline_counts_and_caps(
    params: DeadlineParams, interview_day: date
) -> None:
    campaign = campaign_with(deadlines=params)
    cap = HUNAN.phase(params.pledge_cap_phase).deadline
    got = deadlines.default_rectification_deadline(campaign, interview_day)
    assert got <= cap
    if not params.working_days:
        assert got == min(interview_day + timedelta(days=params.pledge_default_days), cap)
        return
    if interview_day >= cap:
        assert got == cap
        return
    assert got > interview_day
    counted = len(chinese_calendar.get_workdays(interview_day + timedelta(days=1), got))
    if got < cap:
        assert counted == params.pledge_default_days
        assert chinese_calendar.is_workday(got)
    else:
        assert counted <= params.pledge_default_days


@pytest.mark.parametrize(
    ("interview_day", "working", "expected"),
    [
        # The campaign began two days before the Spring Festival holiday (2018-02-15..21;
        # Saturday 2018-02-24 was a working day).
        (date(2018, 2, 13), True, date(2018, 3, 5)),
        (date(2018, 2, 14), True, date(2018, 3, 6)),
        (date(2018, 2, 14), False, date(2018, 2, 24)),
        (date(2018, 3, 14), True, date(2018, 3, 28)),
        (date(2018, 3, 25), False, date(2018, 3, 31)),
        (date(2018, 3, 25), True, date(2018, 3, 31)),
    ],
)
def test_default_rectification_deadline_examples(
    interview_day: date, working: bool, expected: date
) -> None:
    campaign = campaign_with(deadlines=DeadlineParams(working_days=working))
    assert deadlines.default_rectification_deadline(campaign, interview_day) == expected


def test_fixed_offsets_and_iana_zones_agree() -> None:
    at = datetime(2018, 3, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=8)))
    assert deadlines.window_open(HUNAN, Event.JUDGE, at)
    assert deadlines.window_open(HUNAN, Event.JUDGE, at.astimezone(SHANGHAI))
    assert not deadlines.window_open(HUNAN, Event.JUDGE, at + timedelta(microseconds=1))
