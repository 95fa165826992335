"""Audit: recompute every case's hash chain and replay its events through the machine.

:func:`verify_events` is the check for one case: it recomputes each event's hash from its
stored fields, follows ``prev_hash`` links, compares the head stored on the case and
replays the transitions, and names the first damage it finds:

* ``edited`` -- an event's content no longer matches its hash;
* ``reordered`` -- an event's hash matches it only at another position of the chain;
* ``deleted`` -- an event is missing (a gap in the sequence, or a broken link);
* ``inserted`` -- an event that the chain does not account for;
* ``head_mismatch`` -- the case's stored head is not the last event's hash;
* ``state_mismatch`` -- replaying the events does not give the case's stored states.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from appcase.persistence.chain import GENESIS, event_hash, format_instant
from appcase.persistence.models import CaseRow, EventRow
from appcase.states import Event, JudicialState, State, Track
from appcase.workflow.engine import CaseEngine
from appcase.workflow.table import spec_for
from appcase.workflow.views import VerifyReport

__all__ = ["Problem", "hashed_record", "replay", "verify", "verify_events"]

Problem = tuple[str, int | None, str, str]
"""``(case_id, seq or None, kind, detail)``."""


def hashed_record(ev: EventRow, seq: int | None = None) -> dict[str, Any]:
    """The hashed record of a stored event (see :mod:`appcase.persistence.chain`).

    Args:
        ev: the stored event.
        seq: use this sequence number instead of the stored one (to test reordering).
    """
    return {
        "case_id": ev.case_id,
        "seq": ev.seq if seq is None else seq,
        "track": ev.track,
        "event": ev.event,
        "from": ev.from_state,
        "to": ev.to_state,
        "actor": ev.actor_id,
        "role": ev.role,
        "jurisdiction": ev.jurisdiction,
        "occurred_at": format_instant(ev.occurred_at),
        "recorded_at": format_instant(ev.recorded_at),
        "payload": ev.payload,
        "reason": ev.reason,
        "override": ev.override,
        "prev_hash": ev.prev_hash,
    }


def _hash(ev: EventRow, seq: int | None = None) -> str | None:
    try:
        return event_hash(hashed_record(ev, seq))
    except ValueError:
        return None


def replay(events: Sequence[EventRow]) -> tuple[str, str, str | None]:
    """Replay events through the transition table from the initial states.

    Returns:
        ``(state, judicial_state, problem)``: the states reached, and a description of the
        first event that does not follow from the states before it (or ``None``).
    """
    state, judicial = State.NEW.value, JudicialState.NOT_REFERRED.value
    for ev in events:
        try:
            spec = spec_for(Event(ev.event))
        except ValueError:
            return state, judicial, f"event #{ev.seq}: unknown event {ev.event!r}"
        current = judicial if spec.track is Track.JUDICIAL else state
        if current not in spec.sources or ev.from_state != current or ev.to_state != spec.dest:
            return (
                state,
                judicial,
                (
                    f"event #{ev.seq}: {ev.event} {ev.from_state}→{ev.to_state} does not follow "
                    f"from {current}"
                ),
            )
        if spec.track is Track.JUDICIAL:
            judicial = spec.dest
        else:
            state = spec.dest
    return state, judicial, None


def verify_events(case: CaseRow, events: Sequence[EventRow]) -> Problem | None:
    """Check one case's chain and replay; return its first problem, or ``None``."""
    cid = case.id
    known = {ev.hash for ev in events}
    prev = GENESIS
    for pos, ev in enumerate(events, 1):
        if ev.seq > pos:
            return (cid, pos, "deleted", f"event #{pos} is missing (next stored is #{ev.seq})")
        if ev.seq < pos:
            return (cid, ev.seq, "inserted", f"a second event #{ev.seq}")
        if _hash(ev) != ev.hash:
            moved = [j for j in range(1, len(events) + 2) if j != pos and _hash(ev, j) == ev.hash]
            if moved:
                return (cid, pos, "reordered", f"event stored as #{pos} was written as #{moved[0]}")
            return (cid, pos, "edited", "the event's content does not match its hash")
        if ev.prev_hash != prev:
            if pos > 1 and ev.prev_hash in known:
                return (
                    cid,
                    pos,
                    "reordered",
                    "the event links to an event other than its predecessor",
                )
            if pos > case.event_count:
                return (cid, pos, "inserted", "an event the chain does not account for")
            return (cid, pos, "deleted", "the event's predecessor is missing")
        if pos > case.event_count:
            return (cid, pos, "inserted", f"the case records {case.event_count} events")
        prev = ev.hash
    if len(events) < case.event_count:
        return (cid, len(events) + 1, "deleted", f"the case records {case.event_count} events")
    if case.head_hash != prev:
        return (cid, None, "head_mismatch", "the case's stored head is not its last event's hash")
    state, judicial, problem = replay(events)
    if problem is not None:
        return (cid, None, "state_mismatch", problem)
    if (state, judicial) != (case.state, case.judicial_state):
        return (
            cid,
            None,
            "state_mismatch",
            f"replay gives {state}/{judicial}, the case stores {case.state}/{case.judicial_state}",
        )
    return None


def verify(engine: CaseEngine, case_id: str | None = None) -> VerifyReport:
    """Verify one case or every case of the campaign (read in batches).

    Raises:
        CaseNotFound: ``case_id`` is given and unknown.
    """
    ids = [case_id] if case_id is not None else engine.iter_case_ids()
    problems: list[Problem] = []
    cases = events = 0
    for cid in ids:
        with engine.store.transaction() as repo:
            row = engine._case_row(repo, cid)
            evs = repo.events(cid)
        cases += 1
        events += len(evs)
        found = verify_events(row, evs)
        if found is not None:
            problems.append(found)
    return VerifyReport(cases=cases, events=events, problems=problems)
