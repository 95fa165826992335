"""Time: aware instants everywhere; a naive datetime is refused, never guessed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest

from appcase.audit.records import format_instant
from appcase.cli.exits import exit_code
from appcase.clock import FixedClock, SystemClock, ensure_aware, parse_instant
from appcase.errors import InvalidInput, NaiveDatetimeError
from appcase.persistence.models import UTCDateTime
from appcase.policies import deadlines
from appcase.policies.campaign import builtin_campaign
from appcase.states import Event
from tests.builders import SHANGHAI, local

NAIVE = datetime(2018, 3, 1, 10, 0)


class _NoOffset(tzinfo):
    """A tzinfo that does not know its offset: as good as naive."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None


def test_ensure_aware_returns_aware_values_unchanged() -> None:
    for value in (local(3, 1), datetime(2018, 3, 1, 2, tzinfo=UTC)):
        assert ensure_aware(value) is value


@pytest.mark.parametrize("value", [NAIVE, datetime(2018, 3, 1, 10, tzinfo=_NoOffset())])
def test_ensure_aware_refuses_naive_values_naming_them(value: datetime) -> None:
    with pytest.raises(NaiveDatetimeError) as caught:
        ensure_aware(value, "event time")
    message = str(caught.value)
    assert message.startswith("event time 2018-03-01T10:00:00")
    assert "has no time zone" in message
    assert "2018-03-01T09:00:00+08:00" in message
    assert isinstance(caught.value, InvalidInput)
    assert exit_code(caught.value) == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2018-03-01T09:00:00+08:00", datetime(2018, 3, 1, 1, tzinfo=UTC)),
        ("2018-03-01T09:00+08:00", datetime(2018, 3, 1, 1, tzinfo=UTC)),
        ("2018-03-01T01:00Z", datetime(2018, 3, 1, 1, tzinfo=UTC)),
        (" 2018-03-01T01:00:00.5+00:00 ", datetime(2018, 3, 1, 1, 0, 0, 500000, tzinfo=UTC)),
    ],
)
def test_parse_instant_reads_an_offset_or_z(text: str, expected: datetime) -> None:
    value = parse_instant(text)
    assert value == expected
    assert value.utcoffset() is not None


@pytest.mark.parametrize("text", ["2018-03-01T09:00", "2018-03-01", "2018-03-01 09:00:00"])
def test_parse_instant_refuses_a_time_without_offset(text: str) -> None:
    with pytest.raises(NaiveDatetimeError, match=r"--at .* has no time zone"):
        parse_instant(text, "--at")


@pytest.mark.parametrize("text", ["yesterday", "2018-02-30T09:00+08:00", ""])
def test_parse_instant_refuses_what_is_not_iso_8601(text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_instant(text, "--at")
    assert not isinstance(caught.value, NaiveDatetimeError)
    assert "is not an ISO 8601 date and time, e.g. 2018-03-01T09:00:00+08:00" in str(caught.value)


def test_clocks_are_aware_and_a_fixed_clock_refuses_naive_times() -> None:
    now = SystemClock().now()
    assert now.utcoffset() == timedelta(0)
    clock = FixedClock(local(3, 1))
    assert clock.now() == local(3, 1)
    clock.set(local(2, 1))
    assert clock.now() == local(2, 1)
    with pytest.raises(NaiveDatetimeError, match="clock time"):
        FixedClock(NAIVE)
    with pytest.raises(NaiveDatetimeError, match="clock time"):
        clock.set(NAIVE)
    assert clock.now() == local(2, 1)


def test_deadline_policies_refuse_naive_instants() -> None:
    campaign = builtin_campaign()
    with pytest.raises(NaiveDatetimeError):
        deadlines.window_open(campaign, Event.FLAG, NAIVE)
    with pytest.raises(NaiveDatetimeError):
        deadlines.deadline_passed(campaign, date(2018, 3, 28), NAIVE)
    # the same instant written in any zone gives the same answer
    for zone in (SHANGHAI, UTC, ZoneInfo("America/New_York")):
        at = local(3, 10, 23, 59).astimezone(zone)
        assert deadlines.window_open(campaign, Event.FLAG, at)
        assert not deadlines.window_open(campaign, Event.FLAG, at + timedelta(minutes=1))


def test_hashed_records_and_stored_columns_refuse_naive_instants() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        format_instant(NAIVE)
    assert format_instant(local(3, 1, 9)) == "2018-03-01T01:00:00.000000Z"
    column = UTCDateTime()
    with pytest.raises(NaiveDatetimeError):
        column.process_bind_param(NAIVE, _dialect("sqlite"))
    stored = column.process_bind_param(local(3, 1, 9), _dialect("sqlite"))
    assert stored == datetime(2018, 3, 1, 1, 0)
    back = column.process_result_value(stored, _dialect("sqlite"))
    assert back == local(3, 1, 9)
    assert back is not None
    assert back.tzinfo is UTC


def _dialect(name: str) -> object:
    from sqlalchemy.dialects import postgresql, sqlite

    return {"sqlite": sqlite.dialect(), "postgresql": postgresql.dialect()}[name]
