"""Cases as they were at a past instant, rebuilt from their events (``show --as-of``,
``list --as-of``).

Two clocks can be asked about:

* **occurred** (the default) -- the events that *happened* at or before T, as far as the
  history known now tells. An act entered late (``--at`` in the past: a hotline report
  typed in a day later) counts from when it happened. This answers "what was the state of
  the case at T?", the question of a deadline, a report or a dispute.
* **recorded** (``--as-recorded``) -- the events appcase had *recorded* at or before T:
  exactly what an officer querying at T was shown. This answers "what did the system say
  at T?", the question of an auditor checking a decision made at T.

The two differ only for events recorded later than they occurred. Within a case, both
times are non-decreasing along the chain (the chronology guard refuses an act before the
case's previous one; recording follows the clock), so the state at T is the replay of the
longest prefix of the chain whose events all fall at or before T -- always a state the case
really passed through. An instant equal to an event's time includes that event.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal

from appcase.clock import ensure_aware
from appcase.errors import CaseNotFound, InvalidInput
from appcase.ports import CaseFilter, Queries, StoredApp, StoredCase, StoredEvent
from appcase.states import JudicialState, State
from appcase.workflow.engine import CaseEngine
from appcase.workflow.verify import replay
from appcase.workflow.views import CaseView, identity_of

__all__ = ["CaseAsOf", "get_as_of", "list_as_of"]

Basis = Literal["occurred", "recorded"]


class CaseAsOf(CaseView):
    """A case as it was at ``as_of``, rebuilt from its events.

    Attributes:
        as_of: the instant asked about (UTC).
        basis: ``occurred`` (events that happened by then) or ``recorded`` (events recorded
            by then).
        version / event_count / head_hash: of the chain up to that instant (the version of
            a case is its number of events).
        last_occurred_at: when the last event up to that instant happened (UTC).
    """

    as_of: datetime
    basis: Basis


def _prefix(events: Iterable[StoredEvent], at: datetime, basis: Basis) -> list[StoredEvent]:
    kept: list[StoredEvent] = []
    for ev in events:
        when = ev.recorded_at if basis == "recorded" else ev.occurred_at
        if when > at or ev.seq != len(kept) + 1:
            break
        kept.append(ev)
    return kept


def _view(
    case: StoredCase, app: StoredApp, events: list[StoredEvent], at: datetime, basis: Basis
) -> CaseAsOf:
    r, _ = replay(events)
    assert r.last_occurred_at is not None
    return CaseAsOf(
        id=case.id,
        campaign_id=case.campaign_id,
        prefecture=case.prefecture,
        app=identity_of(app),
        state=r.state,
        judicial_state=r.judicial_state,
        version=r.event_count,
        disposition=r.disposition,
        suspected_illegal=r.suspected_illegal,
        pledge_deadline=r.pledge_deadline,
        event_count=r.event_count,
        head_hash=r.head_hash,
        created_at=events[0].recorded_at,
        last_occurred_at=r.last_occurred_at,
        as_of=at,
        basis=basis,
    )


def _events_until(
    q: Queries, case_ids: list[str], at: datetime, basis: Basis
) -> dict[str, list[StoredEvent]]:
    found = q.events_until(case_ids, at, recorded=basis == "recorded")
    return {c: _prefix(found.get(c, []), at, basis) for c in case_ids}


def get_as_of(
    engine: CaseEngine, case_id: str, at: datetime, *, as_recorded: bool = False
) -> CaseAsOf:
    """A case as it was at ``at``.

    Args:
        engine: the engine.
        case_id: the case.
        at: the instant (aware, any zone).
        as_recorded: count the events recorded by ``at`` instead of those that happened by
            then (see the module docstring).

    Returns:
        The case at that instant.

    Raises:
        NaiveDatetimeError: ``at`` is naive.
        CaseNotFound: no such case.
        InvalidInput: the case was not yet in the ledger at ``at``.
    """
    at = ensure_aware(at, "as-of time")
    basis: Basis = "recorded" if as_recorded else "occurred"
    with engine.storage.reading() as q:
        case = q.case(case_id)
        if case is None or case.campaign_id != engine.campaign.id:
            raise CaseNotFound(case_id)
        events = _events_until(q, [case_id], at, basis)[case_id]
        if not events:
            raise InvalidInput(
                f"case {case_id} was not yet in the ledger at {at.isoformat()} "
                f"(by {basis} time); it was surveyed later"
            )
        return _view(case, q.app(case.app_id), events, at, basis)


def list_as_of(
    engine: CaseEngine,
    at: datetime,
    *,
    as_recorded: bool = False,
    states: tuple[str, ...] = (),
    judicial_states: tuple[str, ...] = (),
    prefectures: tuple[str, ...] = (),
    text: str | None = None,
    limit: int | None = None,
    batch_size: int = 500,
) -> list[CaseAsOf]:
    """The cases of the campaign as they were at ``at``, ordered by id; cases surveyed
    after ``at`` are left out.

    Args:
        engine: the engine.
        at: the instant (aware, any zone).
        as_recorded: count the events recorded by ``at`` (see the module docstring).
        states / judicial_states: keep the cases in these states at ``at`` (default all).
        prefectures: GB/T 2260 codes to include (default all).
        text: a substring of the app's name, operator or the case id.
        limit: at most this many cases.
        batch_size: cases whose events are read per query.

    Raises:
        NaiveDatetimeError: ``at`` is naive.
        InvalidInput: an unknown state.
    """
    at = ensure_aware(at, "as-of time")
    for s in states:
        if s not in {x.value for x in State}:
            raise InvalidInput(f"unknown state {s!r}")
    for s in judicial_states:
        if s not in {x.value for x in JudicialState}:
            raise InvalidInput(f"unknown judicial state {s!r}")
    basis: Basis = "recorded" if as_recorded else "occurred"
    out: list[CaseAsOf] = []
    # Cases in id order, a keyset batch at a time: a --limit reads as few as it needs (the
    # first batches are small, then they double up to batch_size).
    size = batch_size if limit is None else max(1, min(batch_size, limit))
    after: str | None = None
    with engine.storage.reading() as q:
        while True:
            flt = CaseFilter(prefectures=prefectures, text=text, after_id=after, limit=size)
            chunk = q.cases(engine.campaign.id, flt)
            if not chunk:
                return out
            after = chunk[-1][0].id
            size = min(batch_size, size * 2)
            found = _events_until(q, [c.id for c, _ in chunk], at, basis)
            for case, app in chunk:
                events = found[case.id]
                if not events:
                    continue
                view = _view(case, app, events, at, basis)
                if states and view.state not in states:
                    continue
                if judicial_states and view.judicial_state not in judicial_states:
                    continue
                out.append(view)
                if limit is not None and len(out) >= limit:
                    return out
