"""Deadline policy: phase windows and rectification (pledge) deadlines.

Rules (source: 三、工作安排 of 湘网信办综〔2018〕1号 -- "（一）摸排巡查（3月10日前完成）",
"（二）研判整治（3月31日前完成）", "（三）总结提升（4月5日前完成）"; the campaign file holds
the dates and which phases each event may happen in):

* **W1** every date is read in the campaign's time zone, and a deadline date includes its
  whole day: a deadline of 2018-03-31 admits ``2018-03-31T23:59:59.999999+08:00`` and refuses
  ``2018-04-01T00:00:00+08:00``, whatever zone the instant is written in. A phase's window is
  the half-open interval of instants ``[first instant of its start day, first instant of the
  day after its deadline)``.
* **W2** an event may happen only inside one of the windows the campaign file gives it;
  acting after a window closed needs an override (an authorised role and a reason; see the
  ``phase_window`` guard).
* **P1** the rectification deadline an interview sets (责令限期整改) defaults to
  ``pledge_default_days`` after the interview (configurable default: 10), counted in calendar
  days or -- when the campaign sets ``working_days`` -- in official working days of the
  mainland Chinese holiday calendar (the 2018 campaign began two days before the Spring
  Festival holiday).
* **P2** no rectification deadline falls after the cap phase's deadline (configurable
  default: the judgment phase, 2018-03-31: 研判整治（3月31日前完成）).
* naive datetimes are an error, never a guess.

All functions are pure; instants are compared in UTC, so the zone an instant is written in
never matters.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from appcase.clock import ensure_aware
from appcase.policies.campaign import Campaign
from appcase.states import Event

__all__ = [
    "Window",
    "day_start",
    "deadline_passed",
    "default_rectification_deadline",
    "due_at",
    "is_working_day",
    "local_day",
    "rectification_deadline_cap",
    "window_open",
    "windows_for",
]

Window = tuple[datetime, datetime]
"""A half-open window ``[start, end)`` of aware instants (in the campaign's zone)."""


def day_start(campaign: Campaign, day: date) -> datetime:
    """Return the first instant of local day ``day`` in the campaign's zone.

    Args:
        campaign: the campaign whose ``timezone`` applies.
        day: a local calendar date.

    Returns:
        Local midnight of ``day`` as an aware datetime in the campaign's zone (where a
        zone skips midnight, the first instant of the day, as :mod:`zoneinfo` resolves it).
    """
    return datetime.combine(day, time.min, tzinfo=campaign.zone)


def due_at(campaign: Campaign, deadline: date) -> datetime:
    """Return the instant a deadline day ends: the first instant of the following local day.

    A deadline is met by any instant strictly before it (rule W1).

    Args:
        campaign: the campaign whose zone applies.
        deadline: the local deadline date (inclusive).

    Returns:
        An aware datetime in the campaign's zone.
    """
    return day_start(campaign, deadline + timedelta(days=1))


def local_day(campaign: Campaign, at: datetime) -> date:
    """Return the campaign-local calendar date of an instant.

    Args:
        campaign: the campaign whose zone applies.
        at: an aware instant, in any zone.

    Returns:
        The date of ``at`` on a wall clock in the campaign's zone.

    Raises:
        NaiveDatetimeError: if ``at`` is naive.
    """
    return ensure_aware(at, "time").astimezone(campaign.zone).date()


def windows_for(campaign: Campaign, event: Event) -> list[Window]:
    """Return the windows in which ``event`` may happen (rule W2), as half-open intervals.

    Each window runs from the first instant of the phase's start day to the first instant of
    the day after its deadline (so the deadline day is inside).

    Args:
        campaign: the campaign whose phases and ``windows`` apply.
        event: the event.

    Returns:
        One ``(start, end)`` pair of aware datetimes per phase named for the event, in the
        campaign file's order.
    """
    out: list[Window] = []
    for phase_id in campaign.windows[event]:
        phase = campaign.phase(phase_id)
        out.append((day_start(campaign, phase.start), due_at(campaign, phase.deadline)))
    return out


def _utc(value: datetime) -> datetime:
    # Aware datetimes sharing a tzinfo object are compared on their wall clocks, ignoring
    # folds and offsets; comparing in UTC makes the written zone irrelevant.
    return value.astimezone(UTC)


@lru_cache(maxsize=4096)
def _day_start_utc(zone: str, day: date) -> datetime:
    """:func:`day_start` in UTC, by zone name (memoised: guards ask for the same few days
    again and again)."""
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(zone)).astimezone(UTC)


_UTC_WINDOWS: dict[int, tuple[Campaign, dict[Event, tuple[Window, ...]]]] = {}
"""Memo of :func:`_utc_windows` per campaign object (campaigns are frozen); each entry holds
its campaign, so that the id cannot be reused while the entry lives."""


def _utc_windows(campaign: Campaign, event: Event) -> tuple[Window, ...]:
    """:func:`windows_for` in UTC, memoised per campaign object and event."""
    entry = _UTC_WINDOWS.get(id(campaign))
    if entry is None or entry[0] is not campaign:
        if len(_UTC_WINDOWS) >= 64:
            _UTC_WINDOWS.clear()
        entry = _UTC_WINDOWS[id(campaign)] = (campaign, {})
    spans = entry[1].get(event)
    if spans is None:
        spans = entry[1][event] = tuple(
            (_utc(start), _utc(end)) for start, end in windows_for(campaign, event)
        )
    return spans


def window_open(campaign: Campaign, event: Event, at: datetime) -> bool:
    """Whether ``at`` lies inside a window of ``event`` (rules W1, W2).

    Args:
        campaign: the campaign whose phases and windows apply.
        event: the event to be fired.
        at: the instant the act happens; aware, any zone.

    Returns:
        ``True`` if some window of the event contains ``at``.

    Raises:
        NaiveDatetimeError: if ``at`` is naive.
    """
    instant = _utc(ensure_aware(at, "event time"))
    return any(start <= instant < end for start, end in _utc_windows(campaign, event))


def deadline_passed(campaign: Campaign, deadline: date, at: datetime) -> bool:
    """Whether the whole of local day ``deadline`` lies before ``at`` (rule W1).

    A deadline of 2018-03-31 (Asia/Shanghai) has passed at ``2018-04-01T00:00:00+08:00`` and
    not a microsecond earlier.

    Args:
        campaign: the campaign whose zone applies.
        deadline: the local deadline date (inclusive).
        at: an aware instant, any zone.

    Returns:
        ``True`` once the deadline day is over.

    Raises:
        NaiveDatetimeError: if ``at`` is naive.
    """
    due = _day_start_utc(campaign.timezone, deadline + timedelta(days=1))
    return _utc(ensure_aware(at, "time")) >= due


def rectification_deadline_cap(campaign: Campaign) -> date:
    """The latest allowed rectification (pledge) deadline (rule P2).

    Args:
        campaign: the campaign; ``policy.deadlines.pledge_cap_phase`` names the phase.

    Returns:
        That phase's deadline, a local date (Hunan 2018: 2018-03-31).
    """
    return campaign.phase(campaign.policy.deadlines.pledge_cap_phase).deadline


def is_working_day(day: date) -> bool:
    """Whether ``day`` is an official working day in mainland China.

    Uses the ``chinese_calendar`` package (the State Council's published holiday and
    make-up working day arrangements), so that swaps such as the Spring Festival 2018
    (holiday 2018-02-15..21, Sunday 2018-02-11 and Saturday 2018-02-24 worked) are right.

    Args:
        day: a calendar date.

    Returns:
        ``True`` for a working day (including a make-up Saturday or Sunday).

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
    """The default rectification deadline for an interview held on ``interview_day`` (P1, P2).

    ``pledge_default_days`` after the interview, counted in calendar days or (when the
    campaign sets ``working_days``) official working days (:func:`is_working_day`), and never
    after the cap (:func:`rectification_deadline_cap`). An interview held after the cap gets
    the cap, which the interview guard then refuses as before the interview. Configurable
    default; the source sets no number of days.

    Args:
        campaign: the campaign whose ``policy.deadlines`` apply.
        interview_day: the local date the interview was held.

    Returns:
        A local date, at most the cap.

    Raises:
        InvalidInput: counting working days in a year without a published calendar.
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
