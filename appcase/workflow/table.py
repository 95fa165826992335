"""The transition table: declared once, as data, validated when loaded.

It drives the ``transitions`` machines (:mod:`appcase.workflow.machine`), the guards, the
command line's event commands and the diagram. Each row names its guards by their
registered names (:data:`appcase.workflow.guards.GUARDS`); :data:`COMMON_GUARDS` apply to
every row.

Administrative track (``case.state``) -- DESIGN §3:

====================== ====================================== ========================
event                  from                                   to
====================== ====================================== ========================
survey                 new                                    surveyed
flag                   surveyed, rectified                    flagged
add_evidence           flagged                                flagged
judge                  flagged                                judged
dismiss                judged                                 surveyed
interview              judged                                 interviewed
pledge                 interviewed                            pledged
rectify                pledged                                rectified
escalate               judged, interviewed, pledged           escalated_for_takedown
take_down              escalated_for_takedown                 taken_down
return_for_rectif.     escalated_for_takedown                 interviewed
====================== ====================================== ========================

Judicial track (``case.judicial_state``): refer, not_referred → referred_to_judiciary,
from any administrative state after judgment.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from functools import cache
from typing import Any

from appcase.audit.fold import Transitions
from appcase.errors import TransitionTableError
from appcase.states import Event, JudicialState, State, Track

__all__ = [
    "COMMON_GUARDS",
    "FINAL_STATES",
    "INITIAL_STATES",
    "POST_JUDGMENT_STATES",
    "TABLE",
    "TransitionSpec",
    "fold_transitions",
    "spec_for",
    "transitions_table",
    "validate_table",
]


@dataclass(frozen=True, slots=True)
class TransitionSpec:
    """One row of the table.

    Attributes:
        event: the trigger.
        track: which column the row moves.
        sources: states the event may fire from.
        dest: the state it leads to.
        guards: names of the guards specific to this row (run after the common ones).
        summary: one line for docs, help and diagrams.
    """

    event: Event
    track: Track
    sources: tuple[str, ...]
    dest: str
    guards: tuple[str, ...]
    summary: str


S = State
A = Track.ADMINISTRATIVE

COMMON_GUARDS: tuple[str, ...] = ("permission", "phase_window", "chronology")
"""Guards of every transition: role and jurisdiction, phase window (with override), and
time order (not in the future, not before the case's previous event)."""

POST_JUDGMENT_STATES: tuple[str, ...] = (
    S.JUDGED,
    S.INTERVIEWED,
    S.PLEDGED,
    S.RECTIFIED,
    S.ESCALATED_FOR_TAKEDOWN,
    S.TAKEN_DOWN,
)
"""Administrative states from which a referral to the judiciary is possible."""

TABLE: tuple[TransitionSpec, ...] = (
    TransitionSpec(
        Event.SURVEY,
        A,
        (S.NEW,),
        S.SURVEYED,
        ("app_identity", "not_in_ledger"),
        "list an app in the ledger (摸排建档)",
    ),
    TransitionSpec(
        Event.FLAG,
        A,
        (S.SURVEYED, S.RECTIFIED),
        S.FLAGGED,
        ("evidence",),
        "record evidence of harmful content (取证)",
    ),
    TransitionSpec(
        Event.ADD_EVIDENCE,
        A,
        (S.FLAGGED,),
        S.FLAGGED,
        ("evidence",),
        "join more evidence to the case's open flag (补充取证)",
    ),
    TransitionSpec(
        Event.JUDGE,
        A,
        (S.FLAGGED,),
        S.JUDGED,
        ("findings", "disposition_minimum"),
        "judge the evidence and choose a disposition (研判)",
    ),
    TransitionSpec(
        Event.DISMISS,
        A,
        (S.JUDGED,),
        S.SURVEYED,
        ("disposition_is_no_violation",),
        "close a judgment of no violation",
    ),
    TransitionSpec(
        Event.INTERVIEW,
        A,
        (S.JUDGED,),
        S.INTERVIEWED,
        ("disposition_is_interview", "interview_record"),
        "interview the operator and set a deadline (约谈、限期整改)",
    ),
    TransitionSpec(
        Event.PLEDGE,
        A,
        (S.INTERVIEWED,),
        S.PLEDGED,
        ("pledge_record",),
        "record the signed rectification pledge (整改承诺书)",
    ),
    TransitionSpec(
        Event.RECTIFY,
        A,
        (S.PLEDGED,),
        S.RECTIFIED,
        ("rectification_verified",),
        "verify every commitment by the deadline (整改到位)",
    ),
    TransitionSpec(
        Event.ESCALATE,
        A,
        (S.JUDGED, S.INTERVIEWED, S.PLEDGED),
        S.ESCALATED_FOR_TAKEDOWN,
        ("escalation_ground", "reason"),
        "propose takedown to the province (提出下架、关停建议)",
    ),
    TransitionSpec(
        Event.TAKE_DOWN,
        A,
        (S.ESCALATED_FOR_TAKEDOWN,),
        S.TAKEN_DOWN,
        ("decision_record",),
        "take the app down or shut its service (下架、关停服务)",
    ),
    TransitionSpec(
        Event.RETURN_FOR_RECTIFICATION,
        A,
        (S.ESCALATED_FOR_TAKEDOWN,),
        S.INTERVIEWED,
        ("reason",),
        "send the case back for rectification (退回整改)",
    ),
    TransitionSpec(
        Event.REFER,
        Track.JUDICIAL,
        (JudicialState.NOT_REFERRED,),
        JudicialState.REFERRED_TO_JUDICIARY,
        ("after_judgment", "suspected_illegal", "reason"),
        "refer a suspected crime to the judiciary (交由司法部门)",
    ),
)
"""The transition table."""

INITIAL_STATES: dict[Track, str] = {
    Track.ADMINISTRATIVE: S.NEW,
    Track.JUDICIAL: JudicialState.NOT_REFERRED,
}
"""Where each track starts."""

FINAL_STATES: dict[Track, frozenset[str]] = {
    Track.ADMINISTRATIVE: frozenset({S.TAKEN_DOWN}),
    Track.JUDICIAL: frozenset({JudicialState.REFERRED_TO_JUDICIARY}),
}
"""States with no way out, on purpose."""


def transitions_table() -> dict[str, Any]:
    """The state machine as data (a bundle's manifest, the fold's table): the initial
    states and one row per event (``event``, ``track``, ``sources``, ``dest``).

    Returns:
        ``{"initial": {"administrative": str, "judicial": str}, "rows": [{"event": str,
        "track": str, "sources": [str, ...], "dest": str}, ...]}``.
    """
    return {
        "initial": {
            "administrative": State.NEW.value,
            "judicial": JudicialState.NOT_REFERRED.value,
        },
        "rows": [
            {
                "event": spec.event.value,
                "track": spec.track.value,
                "sources": [str(s) for s in spec.sources],
                "dest": str(spec.dest),
            }
            for spec in TABLE
        ],
    }


@cache
def fold_transitions() -> Transitions:
    """The table in the form :func:`appcase.audit.fold.fold` reads (built once)."""
    return Transitions.from_table(transitions_table())


def spec_for(event: Event) -> TransitionSpec:
    """Return the table row of ``event`` (every event has exactly one row)."""
    for spec in TABLE:
        if spec.event == event:
            return spec
    raise KeyError(event)  # pragma: no cover - validate_table guarantees a row


def validate_table(table: tuple[TransitionSpec, ...], guard_names: Collection[str]) -> None:
    """Check a transition table; raise with *every* problem found.

    Checks: every event has exactly one row; every state named belongs to its track; no
    empty source list or destination; every guard name is registered; every state of each
    track is reachable from its initial state; every non-final state has a way out.

    Raises:
        TransitionTableError: listing each problem.
    """
    problems: list[str] = []
    states = {
        Track.ADMINISTRATIVE: {s.value for s in State},
        Track.JUDICIAL: {s.value for s in JudicialState},
    }
    seen: set[Event] = set()
    for spec in table:
        if spec.event in seen:
            problems.append(f"{spec.event.value}: declared twice")
        seen.add(spec.event)
        known = states[spec.track]
        if not spec.sources:
            problems.append(f"{spec.event.value}: no source state")
        for src in spec.sources:
            if src not in known:
                problems.append(f"{spec.event.value}: unknown source state {src!r}")
        if not spec.dest or spec.dest not in known:
            problems.append(f"{spec.event.value}: unknown destination {spec.dest!r}")
        for name in (*COMMON_GUARDS, *spec.guards):
            if name not in guard_names:
                problems.append(f"{spec.event.value}: guard {name!r} is not registered")
    for event in Event:
        if event not in seen:
            problems.append(f"{event.value}: no row")
    for track, known in states.items():
        rows = [s for s in table if s.track == track]
        reached = {INITIAL_STATES[track]}
        frontier = [INITIAL_STATES[track]]
        while frontier:
            here = frontier.pop()
            for row in rows:
                if here in row.sources and row.dest not in reached:
                    reached.add(row.dest)
                    frontier.append(row.dest)
        for state in sorted(known - reached):
            problems.append(f"{track.value}: state {state!r} is unreachable")
        exits = {src for row in rows for src in row.sources}
        for state in sorted(known - exits - FINAL_STATES[track]):
            problems.append(f"{track.value}: state {state!r} is a trap (no way out, not final)")
    if problems:
        raise TransitionTableError(problems)
