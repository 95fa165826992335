"""The event feed: every committed event of a campaign, in order, from a position.

Each committed event has a position (its row id). Reading "the events after position P"
returns them by position, and positions follow commit order: an event that commits later
never has a lower position than one already read, so a reader that remembers the last
position it saw never skips an event (the store makes writers of events take their
positions in commit order; see :meth:`appcase.ports.Queries.feed`). Rolled-back commands
leave gaps in the positions; they are never filled.

A feed entry is a :class:`~appcase.workflow.listeners.Transition` -- what happened, without
the payload -- so a hotline reporter's personal details are never in it.
:func:`cloudevent` gives an entry in the CloudEvents 1.0 JSON format, the shape
``appcase feed`` prints and the webhook relay sends.
"""

from __future__ import annotations

from typing import Any

from appcase.audit.records import format_instant
from appcase.errors import InvalidInput
from appcase.workflow.engine import CaseEngine
from appcase.workflow.listeners import Transition, transition_of

__all__ = ["CLOUDEVENT_TYPE_PREFIX", "FEED_MAX_LIMIT", "MAX_POSITION", "cloudevent", "feed"]

MAX_POSITION = 2**63 - 1
"""The highest position a database can hold (a signed 64-bit row id)."""

FEED_MAX_LIMIT = 10_000
"""The most entries one read of the feed returns (configurable default)."""

CLOUDEVENT_TYPE_PREFIX = "org.appcase.case."
"""The CloudEvents ``type`` of an entry is this prefix and the event, e.g.
``org.appcase.case.judge``."""


def feed(engine: CaseEngine, after: int = 0, limit: int = 100) -> list[Transition]:
    """The campaign's committed events with a position above ``after``, by position.

    Args:
        engine: the campaign's engine.
        after: the last position the reader has seen (0: from the start).
        limit: at most this many entries (1 to :data:`FEED_MAX_LIMIT`).

    Returns:
        Up to ``limit`` transitions, positions increasing; fewer (or none) at the end.

    Raises:
        InvalidInput: a negative ``after`` or a ``limit`` out of range.
        PersistenceError: the database cannot be read.
    """
    if isinstance(after, bool) or not isinstance(after, int) or not 0 <= after <= MAX_POSITION:
        raise InvalidInput(
            f"a feed position is a whole number from 0 to {MAX_POSITION}, not {str(after)[:40]}"
        )
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= FEED_MAX_LIMIT:
        raise InvalidInput(f"a feed limit is from 1 to {FEED_MAX_LIMIT}, not {limit!r}")
    with engine.storage.reading() as store:
        return [transition_of(e) for e in store.feed(engine.campaign.id, after, limit)]


def cloudevent(entry: Transition, campaign_id: str) -> dict[str, Any]:
    """One feed entry in the CloudEvents 1.0 JSON format.

    Args:
        entry: the transition.
        campaign_id: the campaign it belongs to (the event's ``source``).

    Returns:
        ``{"specversion": "1.0", "id": position as text, "source":
        "urn:appcase:campaign:<id>", "type": "org.appcase.case.<event>", "subject": case
        id, "time": occurred_at (RFC 3339, UTC), "datacontenttype": "application/json",
        "data": {"position", "case_id", "seq", "event", "track", "from", "to", "actor",
        "role", "jurisdiction", "occurred_at", "recorded_at", "hash"}}``.
    """
    return {
        "specversion": "1.0",
        "id": str(entry.position),
        "source": f"urn:appcase:campaign:{campaign_id}",
        "type": f"{CLOUDEVENT_TYPE_PREFIX}{entry.event.value}",
        "subject": entry.case_id,
        "time": format_instant(entry.occurred_at),
        "datacontenttype": "application/json",
        "data": {
            "position": entry.position,
            "case_id": entry.case_id,
            "seq": entry.seq,
            "event": entry.event.value,
            "track": entry.track.value,
            "from": str(entry.from_state),
            "to": str(entry.to_state),
            "actor": entry.actor,
            "role": entry.role,
            "jurisdiction": entry.jurisdiction,
            "occurred_at": format_instant(entry.occurred_at),
            "recorded_at": format_instant(entry.recorded_at),
            "hash": entry.hash,
        },
    }
