"""Listeners: code of the embedding system that hears every transition.

A listener is a callable registered in code (never a dotted-path string) for chosen events
or states, in one of two kinds:

* **in the transaction** -- called inside the command's unit of work, after its event and
  case are written and before the commit. It may veto by raising: the whole command rolls
  back and the caller gets :class:`~appcase.errors.ListenerVetoed` (its ``cause`` is the
  listener's exception). Keep it short: it holds the case's lock.
* **after commit** -- called once the command's transaction has committed; never for a
  command that rolled back. A failing after-commit listener is logged and never undoes or
  hides the commit (the command still returns its result).

Each receives one :class:`Transition`: an immutable record of what happened (case, event,
from, to, actor, instants, position in the feed, hash) and nothing of the payload, so a
hotline reporter's personal details never reach a listener.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import structlog

from appcase.errors import CaseDamaged, ListenerVetoed
from appcase.ports import StoredEvent
from appcase.states import Event, JudicialState, State, Track

__all__ = ["Listener", "ListenerKind", "Listeners", "Transition", "transition_of"]


def _log_failure(**fields: object) -> None:
    """Log a failed listener: through structlog once the application configured it, else
    through the standard library's logging (a library never configures logging itself)."""
    if structlog.is_configured():
        structlog.get_logger("appcase.listeners").error("listener_failed", **fields)
    else:
        logging.getLogger("appcase.listeners").error("listener_failed %s", fields)


@dataclass(frozen=True, slots=True)
class Transition:
    """One committed (or, for an in-transaction listener, about to commit) transition.

    Attributes:
        position: the event's position in the feed (increasing in commit order).
        case_id: e.g. ``"HN2018-430100-0001"``.
        seq: 1, 2, … within the case's chain.
        event: the event fired.
        track: the track it moved.
        from_state / to_state: the transition on that track (a :class:`State` on the
            administrative track, a :class:`JudicialState` on the judicial one).
        actor / role / jurisdiction: who fired it (``system`` for the sweep).
        occurred_at / recorded_at: when it happened and when it was written (aware, UTC).
        hash: the event's hash in the case's chain (64 hex digits).
    """

    position: int
    case_id: str
    seq: int
    event: Event
    track: Track
    from_state: State | JudicialState
    to_state: State | JudicialState
    actor: str
    role: str
    jurisdiction: str
    occurred_at: datetime
    recorded_at: datetime
    hash: str


def transition_of(event: StoredEvent) -> Transition:
    """The :class:`Transition` of a stored event (its payload left out).

    Raises:
        CaseDamaged: the stored event names an unknown event, track or state.
    """
    try:
        return _transition_of(event)
    except ValueError as exc:
        raise CaseDamaged(event.case_id, f"event #{event.seq} does not read: {exc}") from None


def _transition_of(event: StoredEvent) -> Transition:
    track = Track(event.track)
    kind = JudicialState if track is Track.JUDICIAL else State
    return Transition(
        position=event.position,
        case_id=event.case_id,
        seq=event.seq,
        event=Event(event.event),
        track=track,
        from_state=kind(event.from_state),
        to_state=kind(event.to_state),
        actor=event.actor_id,
        role=event.role,
        jurisdiction=event.jurisdiction,
        occurred_at=event.occurred_at,
        recorded_at=event.recorded_at,
        hash=event.hash,
    )


Listener = Callable[[Transition], object]
"""A listener: called with one :class:`Transition`; its return value is ignored."""

ListenerKind = Literal["transaction", "commit"]
"""``"transaction"``: inside the command's transaction (may veto); ``"commit"``: after it
committed."""


@dataclass(frozen=True, slots=True)
class _Entry:
    listener: Listener
    kind: ListenerKind
    events: frozenset[Event]
    states: frozenset[str]

    def wants(self, t: Transition) -> bool:
        return (not self.events or t.event in self.events) and (
            not self.states or str(t.to_state) in self.states
        )


class Listeners:
    """The listeners registered on one engine (safe to share between threads: registering
    replaces an immutable tuple)."""

    def __init__(self) -> None:
        self._entries: tuple[_Entry, ...] = ()

    def add(
        self,
        listener: Listener,
        *,
        kind: ListenerKind = "commit",
        events: Collection[Event | str] = (),
        states: Collection[State | JudicialState | str] = (),
    ) -> Callable[[], None]:
        """Register ``listener``.

        Args:
            listener: a callable taking a :class:`Transition`.
            kind: ``"commit"`` (default, after commit) or ``"transaction"`` (inside it).
            events: only these events (default: every event).
            states: only transitions into these states, of either track (default: all).

        Returns:
            A function that unregisters it.

        Raises:
            ValueError: ``listener`` is not callable, or an event or state is unknown.
        """
        if not callable(listener):
            raise ValueError(f"a listener must be callable, not {type(listener).__name__}")
        if kind not in ("transaction", "commit"):
            raise ValueError(f"listener kind {kind!r} is not 'transaction' or 'commit'")
        known = {s.value for s in State} | {s.value for s in JudicialState}
        wanted = frozenset(str(s) for s in states)
        if wanted - known:
            raise ValueError(f"unknown states: {', '.join(sorted(wanted - known))}")
        entry = _Entry(listener, kind, frozenset(Event(str(e)) for e in events), wanted)
        self._entries = (*self._entries, entry)

        def remove() -> None:
            self._entries = tuple(e for e in self._entries if e is not entry)

        return remove

    def wanted(self, kind: ListenerKind) -> bool:
        """Whether any listener of ``kind`` is registered."""
        return any(e.kind == kind for e in self._entries)

    def in_transaction(self, transitions: Sequence[Transition]) -> None:
        """Call the in-transaction listeners with each transition, in order.

        Raises:
            ListenerVetoed: a listener raised (the caller rolls the command back).
        """
        for t in transitions:
            for entry in self._entries:
                if entry.kind == "transaction" and entry.wants(t):
                    try:
                        entry.listener(t)
                    except Exception as exc:
                        raise ListenerVetoed(t.case_id, t.event.value, exc) from exc

    def after_commit(self, transitions: Sequence[Transition]) -> None:
        """Call the after-commit listeners with each transition; a failure is logged (with
        the case, the event and the position) and the others still run."""
        for t in transitions:
            for entry in self._entries:
                if entry.kind == "commit" and entry.wants(t):
                    try:
                        entry.listener(t)
                    except Exception as exc:  # never undoes or hides the commit
                        _log_failure(
                            case_id=t.case_id,
                            case_event=t.event.value,
                            position=t.position,
                            error=f"{type(exc).__name__}: {exc}",
                        )
