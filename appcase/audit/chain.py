"""The hash chain of a case's events: check it as stored and name its first damage.

Each event's hash is ``sha256(canonical(record))`` of its hashed record
(:mod:`appcase.audit.records`), and each record names the hash of the event before it
(``prev_hash``; :data:`~appcase.audit.records.GENESIS` for the first), so a case's events
form a chain whose last hash is the case's head. :func:`check_chain` finds where a stored
chain breaks and classifies the damage (:data:`Problem`); ``appcase/data/CANONICALIZATION.md``
specifies the records and the checks.

Standard library only: an auditor runs it from copied files.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

try:
    from appcase.audit.canonical import shown
    from appcase.audit.records import GENESIS, event_hash
except ImportError:  # pragma: no cover - copied beside the audit modules, outside appcase
    from canonical import shown  # type: ignore[import-not-found,no-redef]
    from records import GENESIS, event_hash  # type: ignore[import-not-found,no-redef]

__all__ = ["DAMAGE_KINDS", "Problem", "check_chain"]

Problem = tuple[str, int | None, str, str]
"""A damage found: ``(case_id or "", seq or None, kind, detail)``; ``case_id`` is empty
for damage of the campaign as a whole (its checkpoints, a bundle's files)."""

DAMAGE_KINDS = ("edited", "deleted", "inserted", "reordered", "head_mismatch")
"""The kinds of damage :func:`check_chain` names."""

SEARCH_SLACK = 64
"""How far beyond the events stored the position an event was written at is looked for
(see :func:`check_chain`): never as far as the count the case claims, which is input too."""


def _hash_or_none(record: Mapping[str, Any], seq: Any = None) -> str | None:
    rec = dict(record) if seq is None else {**record, "seq": seq}
    try:
        return event_hash(rec)
    except (ValueError, TypeError):
        return None


def check_chain(
    case_id: str,
    entries: Sequence[tuple[Mapping[str, Any], str]],
    count: int,
    head: str,
    *,
    hashed: bool = False,
) -> Problem | None:
    """Check one case's chain as stored and name its first damage.

    Args:
        case_id: the case.
        entries: ``(hashed record, stored hash)`` per event, in stored order (the
            database's ``seq`` order, or the order of a bundle's lines).
        count: the number of events the case says it has.
        head: the head hash the case says it has.
        hashed: every stored hash is already known to be the hash of its record (its
            stored bytes were hashed and are the record's canonical encoding), so it is not
            computed again; only the search for where a misplaced event belongs hashes.

    Returns:
        ``None`` if intact, else ``(case_id, seq, kind, detail)``. Kinds: ``edited`` (an
        event's content does not match its hash, or was rewritten with a new hash that its
        successor was not chained to), ``deleted`` (an event is missing), ``inserted`` (an
        event the chain does not account for), ``reordered`` (an event intact but stored at
        another position than it was written at), ``head_mismatch`` (the case's head is
        not its last event's hash).
    """
    n = len(entries)
    # The positions an event whose hash does not match its stored place may have been
    # written at: bounded by what is stored, never by the count the case claims (a forged
    # row or bundle line may claim 2**53 events), so one event costs at most 2n + 64 hashes.
    limit = min(max(n, count), 2 * n + SEARCH_SLACK) + 1
    cache: dict[int, int | None] = {}

    def written_at(i: int) -> int | None:
        """The position event ``i`` (0-based) was written at, by its hash; None if none."""
        if i not in cache:
            rec, stored = entries[i]
            seq = rec.get("seq")
            found: int | None = None
            if (hashed or _hash_or_none(rec) == stored) and isinstance(seq, int):
                found = seq
            else:
                for j in range(1, limit + 1):
                    if j != seq and _hash_or_none(rec, j) == stored:
                        found = j
                        break
            cache[i] = found
        return cache[i]

    prev, prevprev = GENESIS, GENESIS
    for p, (rec, stored) in enumerate(entries, 1):
        w = written_at(p - 1)
        link = rec.get("prev_hash")
        if w is None:
            if p > count:
                return (case_id, p, "inserted", f"an event beyond the {count} the case records")
            if p < n and entries[p][0].get("prev_hash") == prev and written_at(p) is not None:
                return (
                    case_id,
                    p,
                    "inserted",
                    "an event the chain does not account for: the next event links over it",
                )
            return (case_id, p, "edited", "the event's content does not match its hash")
        if w != p:
            if w == p - 1 and p > 1 and link == prevprev:
                return (
                    case_id,
                    p - 1,
                    "inserted",
                    f"event #{p - 1} is not in the chain: the event after it (written as "
                    f"#{p - 1}) links to the event before it",
                )
            if w > p and not any(
                _hash_or_none(entries[q][0], p) == entries[q][1] for q in range(p, n)
            ):
                return (
                    case_id,
                    p,
                    "deleted",
                    f"event #{p} is missing (the event stored there was written as #{w})",
                )
            return (case_id, p, "reordered", f"the event stored as #{p} was written as #{w}")
        if rec.get("seq") != p:
            return (
                case_id,
                p,
                "edited",
                f"its sequence number was changed to {shown(rec.get('seq'))}",
            )
        if link != prev:
            if p == 1:
                return (case_id, 1, "edited", "the first event does not start the chain")
            if link == prevprev:
                return (
                    case_id,
                    p - 1,
                    "inserted",
                    f"event #{p - 1} is not in the chain: event #{p} links to the event before it",
                )
            if p < n and entries[p][0].get("prev_hash") != stored:
                return (
                    case_id,
                    p,
                    "edited",
                    "the event was rewritten with a new hash: neither its link nor its "
                    "successor's matches",
                )
            return (
                case_id,
                p - 1,
                "edited",
                f"event #{p - 1} was rewritten with a new hash: event #{p} was chained to another",
            )
        if p > count:
            return (case_id, p, "inserted", f"an event beyond the {count} the case records")
        prevprev, prev = prev, stored
    if n < count:
        return (
            case_id,
            n + 1,
            "deleted",
            f"the case records {count} events; only {n} are stored (the last are missing)",
        )
    if head != prev:
        return (case_id, None, "head_mismatch", "the case's stored head is not its last hash")
    return None
