"""Whether a case holds together enough to be written to: the cheap check every command
makes on the case it locks (a full check is ``audit verify``'s).

A case's stored head must be the hash of its last stored event, and no event may be stored
beyond its count: otherwise its events or its row were changed outside appcase (an event
deleted, a count rewound), and a new event would be chained onto a history that is not
the one stored.
"""

from __future__ import annotations

from collections.abc import Sequence

from appcase.ports import Queries, StoredCase

__all__ = ["HEAD_DAMAGE", "damaged_heads", "intact"]

HEAD_DAMAGE = "its stored head is not its last stored event"
"""What :class:`~appcase.errors.CaseDamaged` says when :func:`intact` is false."""


def intact(case: StoredCase, last: str | None, beyond: str | None) -> bool:
    """Whether ``case`` is its stored chain's end.

    Args:
        case: the stored case.
        last: the hash of its stored event number ``event_count`` (``None``: none).
        beyond: the hash of its stored event number ``event_count + 1`` (``None``: none).
    """
    if beyond is not None:
        return False
    if case.event_count == 0:
        return last is None
    return last == case.head_hash


def damaged_heads(store: Queries, cases: Sequence[StoredCase]) -> set[str]:
    """The ids of the cases among ``cases`` that are not :func:`intact` (one read)."""
    pairs = [(c.id, n) for c in cases for n in (c.event_count, c.event_count + 1)]
    stored = store.stored_hashes(pairs)
    return {
        c.id
        for c in cases
        if not intact(c, stored.get((c.id, c.event_count)), stored.get((c.id, c.event_count + 1)))
    }
