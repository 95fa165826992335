"""Time for appcase: one injectable, timezone-aware source, and strict instant parsing.

The core never calls ``datetime.now()``; it asks a :class:`Clock`. Every instant in and out
of appcase is timezone-aware; a naive datetime is an error (:class:`NaiveDatetimeError`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from appcase.errors import NaiveDatetimeError

MIN_YEAR, MAX_YEAR = 1900, 2999
"""The years an instant may fall in."""

__all__ = [
    "MAX_YEAR",
    "MIN_YEAR",
    "Clock",
    "FixedClock",
    "SystemClock",
    "ensure_aware",
    "parse_instant",
]


class Clock(Protocol):
    """A source of the current instant.

    ``now()`` returns a timezone-aware :class:`~datetime.datetime` (any zone; appcase
    converts to UTC to store and to the campaign's zone to evaluate deadlines).
    """

    def now(self) -> datetime:
        """Return the current instant, timezone-aware."""
        ...


class SystemClock:
    """The real wall clock, in UTC."""

    def now(self) -> datetime:
        """Return ``datetime.now(UTC)``."""
        return datetime.now(UTC)


class FixedClock:
    """A clock that stays where it is set; for tests, simulations and the demo.

    Args:
        at: the initial instant, timezone-aware.

    Raises:
        NaiveDatetimeError: if ``at`` (or a later :meth:`set`) has no time zone.
    """

    def __init__(self, at: datetime) -> None:
        self._at = ensure_aware(at, "clock time")

    def now(self) -> datetime:
        """Return the instant last set."""
        return self._at

    def set(self, at: datetime) -> None:
        """Move the clock to ``at`` (timezone-aware; may go forwards or backwards)."""
        self._at = ensure_aware(at, "clock time")


def ensure_aware(value: datetime, what: str = "datetime") -> datetime:
    """Return ``value`` unchanged if it is timezone-aware.

    Args:
        value: the datetime to check.
        what: a name for the value, used in the error message.

    Raises:
        NaiveDatetimeError: if ``value`` has no UTC offset.
        InvalidInput: if its year is outside 1900–2999 (no campaign is there, and instants
            at the ends of Python's range cannot be converted between zones).
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise NaiveDatetimeError(
            f"{what} {value.isoformat()} has no time zone; write it with an offset, "
            "e.g. 2018-03-01T09:00:00+08:00, or with Z for UTC"
        )
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        from appcase.errors import InvalidInput

        raise InvalidInput(f"{what} {value.isoformat()} is outside the years {MIN_YEAR}–{MAX_YEAR}")
    return value


def parse_instant(text: str, what: str = "time") -> datetime:
    """Parse an ISO 8601 instant that carries a UTC offset or ``Z``.

    Args:
        text: e.g. ``"2018-03-01T09:00:00+08:00"`` or ``"2018-03-01T01:00Z"``.
        what: a name for the value, used in error messages.

    Returns:
        A timezone-aware datetime in the offset written.

    Raises:
        InvalidInput: if the text is not ISO 8601.
        NaiveDatetimeError: if it has no offset.
    """
    from appcase.errors import InvalidInput

    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(
            f"{what} {text!r} is not an ISO 8601 date and time, e.g. 2018-03-01T09:00:00+08:00"
        ) from None
    return ensure_aware(value, what)
