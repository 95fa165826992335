"""The two ``transitions`` machines, built once from the table.

Following the library's grain (DESIGN "Using transitions well"): one
``Machine(model=None, initial=None, auto_transitions=False, send_event=True)`` per track,
built once per table; cases are never attached to a machine. An event is fired with the
machine's event object on the loaded case row, inside the database transaction. Each
transition has a single condition, a :class:`GuardCondition`, that runs *every* guard and
collects every rejection (the library alone would stop at the first failed condition and
return a bare ``False``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from transitions import EventData, Machine

from appcase.states import Event, JudicialState, State, Track
from appcase.workflow.context import GuardContext
from appcase.workflow.guards import GUARDS, run_guards
from appcase.workflow.table import COMMON_GUARDS, TABLE, TransitionSpec, validate_table

__all__ = ["GuardCondition", "Machines", "machines"]


class GuardCondition:
    """The one condition of a transition: runs all its guards, records every rejection.

    Called by ``transitions`` with the :class:`~transitions.EventData` of the firing; the
    :class:`GuardContext` travels in its ``kwargs["ctx"]``.
    """

    def __init__(self, spec: TransitionSpec) -> None:
        self.spec = spec
        self.names = (*COMMON_GUARDS, *spec.guards)

    def __call__(self, event_data: EventData) -> bool:
        ctx: GuardContext = event_data.kwargs["ctx"]
        ctx.rejections.extend(run_guards(self.names, ctx))
        return not ctx.rejections

    def __repr__(self) -> str:
        return f"GuardCondition({self.spec.event.value}: {', '.join(self.names)})"


@dataclass(frozen=True, eq=False)  # one per process: compared and hashed by identity
class Machines:
    """The runtime machines of both tracks, keyed by track, with the attribute each moves."""

    administrative: Any
    judicial: Any

    def for_event(self, event: Event) -> Any:
        """The machine whose table rows include ``event``."""
        return self.judicial if event is Event.REFER else self.administrative

    def can_fire(self, event: Event, state: str) -> bool:
        """Whether ``event`` has a transition out of ``state`` on its track (the machines
        never change once built, so the answer is memoised)."""
        return _can_fire(self, event, str(state))


@cache
def _can_fire(machines: Machines, event: Event, state: str) -> bool:
    machine = machines.for_event(event)
    return bool(machine.get_transitions(trigger=event.value, source=state))


def _build(track: Track, states: list[str], attribute: str) -> Any:
    machine = Machine(
        model=None,
        states=states,
        initial=None,
        auto_transitions=False,
        send_event=True,
        model_attribute=attribute,
        name=f"appcase-{track.value}",
    )
    for spec in TABLE:
        if spec.track is not track:
            continue
        machine.add_transition(
            trigger=spec.event.value,
            source=[str(s) for s in spec.sources],  # plain strings, not Enum members
            dest=str(spec.dest),
            conditions=[GuardCondition(spec)],
        )
    return machine


@cache
def machines() -> Machines:
    """Validate the table and build both machines, once per process.

    Raises:
        TransitionTableError: if the table is inconsistent.
    """
    validate_table(TABLE, GUARDS)
    return Machines(
        administrative=_build(Track.ADMINISTRATIVE, [s.value for s in State], "state"),
        judicial=_build(Track.JUDICIAL, [s.value for s in JudicialState], "judicial_state"),
    )
