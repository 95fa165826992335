"""Deadline policy: phase windows and rectification deadlines.

Rules (source: 三、工作安排 of 湘网信办综〔2018〕1号; the campaign file holds the dates):

* every date is read in the campaign's time zone, and a deadline date includes its whole
  day: a deadline of 2018-03-31 admits ``2018-03-31T23:59:59.999999+08:00`` and refuses
  ``2018-04-01T00:00:00+08:00``, whatever zone the instant is written in;
* an event may happen only inside one of the windows the campaign file gives it;
* a rectification deadline may not fall after the cap phase's deadline (configurable
  default: the judgment phase, 2018-03-31); the suggested deadline is a number of days
  after the interview (configurable default: 10), optionally in official working days;
* naive datetimes are an error, never a guess.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta

from appcase.campaign import Campaign
from appcase.clock import ensure_aware
from appcase.states import Event

__all__ = [
    "Window",
    "day_start",
    "deadline_passed",
    "default_rectification_deadline",
    "is_working_day",
    "rectification_deadline_cap",
    "window_open",
    "windows_for",
]

Window = tuple[datetime, datetime]
"""A half-open window ``[start, end)`` of aware instants in the campaign's zone."""


def day_start(campaign: Campaign, day: date) -> datetime:
    """Return local midnight at the start of ``day`` in the campaign's zone (aware)."""
    return datetime.combine(day, time.min, tzinfo=campaign.zone)


def windows_for(campaign: Campaign, event: Event) -> list[Window]:
    """Return the windows in which ``event`` may happen, as half-open aware intervals.

    Each window runs from local midnight of the phase's start date to local midnight of
    the day after its deadline date (so the deadline day is inside).
    """
    out: list[Window] = []
    for phase_id in campaign.windows[event]:
        phase = campaign.phase(phase_id)
        out.append(
            (day_start(campaign, phase.start), day_start(campaign, phase.deadline + timedelta(1)))
        )
    return out


def window_open(campaign: Campaign, event: Event, at: datetime) -> bool:
    """Whether ``at`` lies inside a window of ``event``.

    Args:
        campaign: the campaign whose phases and windows apply.
        event: the event to be fired.
        at: the instant the act happens; aware, any zone.

    Raises:
        NaiveDatetimeError: if ``at`` is naive.
    """
    ensure_aware(at, "event time")
    return any(start <= at < end for start, end in windows_for(campaign, event))


def deadline_passed(campaign: Campaign, deadline: date, at: datetime) -> bool:
    """Whether the whole of local day ``deadline`` lies before ``at``.

    A deadline of 2018-03-31 has passed at ``2018-04-01T00:00:00+08:00`` and not a
    microsecond earlier.

    Raises:
        NaiveDatetimeError: if ``at`` is naive.
    """
    ensure_aware(at, "time")
    return at >= day_start(campaign, deadline + timedelta(1))


def rectification_deadline_cap(campaign: Campaign) -> date:
    """The latest allowed rectification (pledge) deadline: the cap phase's deadline."""
    return campaign.phase(campaign.policy.deadlines.pledge_cap_phase).deadline


def is_working_day(day: date) -> bool:
    """Whether ``day`` is an official working day in mainland China.

    Uses the ``chinese_calendar`` package (the State Council's published holiday and
    make-up working day arrangements), so that swaps such as the Spring Festival 2018 are
    right.

    Raises:
        InvalidInput: if the year is outside the published calendar.
    """
    import chinese_calendar  # type: ignore[import-untyped]  # imported only when needed

    from appcase.errors import InvalidInput

    try:
        is_workday: Callable[[date], bool] = chinese_calendar.is_workday
        return is_workday(day)
    except NotImplementedError:
        raise InvalidInput(f"no official holiday calendar is known for {day.year}") from None


def default_rectification_deadline(campaign: Campaign, interview_day: date) -> date:
    """Suggested rectification deadline for an interview held on ``interview_day``.

    ``pledge_default_days`` after the interview, counted in calendar days or (when the
    campaign sets ``working_days``) official working days, and never after the cap
    (:func:`rectification_deadline_cap`). Configurable default; the source sets no number.
    """
    params = campaign.policy.deadlines
    cap = rectification_deadline_cap(campaign)
    if not params.working_days:
        return min(interview_day + timedelta(days=params.pledge_default_days), cap)
    day, counted = interview_day, 0
    while counted < params.pledge_default_days and day < cap:
        day += timedelta(days=1)
        if is_working_day(day):
            counted += 1
    return min(day, cap)
