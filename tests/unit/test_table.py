"""The transition table is validated when loaded: every problem of a broken table is listed.

Each test builds a broken copy of :data:`appcase.workflow.table.TABLE` (rows replaced or
dropped by event, so that the tests follow the real table as it grows) and checks that
:func:`validate_table` names exactly the problems put in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection

import pytest

from appcase.errors import TransitionTableError
from appcase.states import Event, JudicialState, State, Track
from appcase.workflow.guards import GUARDS
from appcase.workflow.machine import machines
from appcase.workflow.table import (
    COMMON_GUARDS,
    FINAL_STATES,
    INITIAL_STATES,
    TABLE,
    TransitionSpec,
    spec_for,
    validate_table,
)

Table = tuple[TransitionSpec, ...]


def _row(event: Event) -> TransitionSpec:
    return next(s for s in TABLE if s.event is event)


def _with(event: Event, **changes: object) -> Table:
    """The real table with the row of ``event`` changed."""
    return tuple(dataclasses.replace(s, **changes) if s.event is event else s for s in TABLE)


def _without(*events: Event) -> Table:
    return tuple(s for s in TABLE if s.event not in events)


def _problems(table: Table, guards: Collection[str] = GUARDS) -> list[str]:
    with pytest.raises(TransitionTableError) as caught:
        validate_table(table, guards)
    assert str(caught.value).startswith("transition table is invalid: ")
    for problem in caught.value.problems:
        assert problem in str(caught.value)
    return caught.value.problems


def test_the_real_table_is_valid_and_builds_both_machines() -> None:
    validate_table(TABLE, GUARDS)
    ms = machines()
    assert ms.can_fire(Event.FLAG, State.SURVEYED.value)
    assert not ms.can_fire(Event.FLAG, State.JUDGED.value)
    assert ms.can_fire(Event.REFER, JudicialState.NOT_REFERRED.value)
    assert not ms.can_fire(Event.REFER, JudicialState.REFERRED_TO_JUDICIARY.value)


def test_every_event_has_exactly_one_row_and_every_guard_name_is_registered() -> None:
    events = [s.event for s in TABLE]
    assert sorted(events) == sorted(Event)
    for spec in TABLE:
        assert spec_for(spec.event) is spec
        for name in (*COMMON_GUARDS, *spec.guards):
            assert name in GUARDS, (spec.event, name)


def test_a_duplicate_event_is_named() -> None:
    assert _problems((*TABLE, _row(Event.JUDGE))) == ["judge: declared twice"]


def test_an_unknown_source_state_is_named() -> None:
    sources = (*_row(Event.JUDGE).sources, "pondering")
    assert _problems(_with(Event.JUDGE, sources=sources)) == [
        "judge: unknown source state 'pondering'"
    ]


def test_a_state_of_the_other_track_is_unknown() -> None:
    table = _with(Event.REFER, sources=(State.JUDGED.value,))
    assert "refer: unknown source state 'judged'" in _problems(table)


def test_an_unknown_or_empty_destination_is_named() -> None:
    assert "pledge: unknown destination 'limbo'" in _problems(_with(Event.PLEDGE, dest="limbo"))
    assert "pledge: unknown destination ''" in _problems(_with(Event.PLEDGE, dest=""))


def test_an_empty_source_list_is_named() -> None:
    assert "dismiss: no source state" in _problems(_with(Event.DISMISS, sources=()))


def test_an_unregistered_guard_is_named_for_table_and_common_guards() -> None:
    guards = (*_row(Event.RECTIFY).guards, "moon_phase")
    assert _problems(_with(Event.RECTIFY, guards=guards)) == [
        "rectify: guard 'moon_phase' is not registered"
    ]
    registry = {k: v for k, v in GUARDS.items() if k != "chronology"}
    problems = _problems(TABLE, registry)
    assert len(problems) == len(TABLE)
    assert all(p.endswith("guard 'chronology' is not registered") for p in problems)


def test_an_event_without_a_row_is_named() -> None:
    problems = _problems(_without(Event.RETURN_FOR_RECTIFICATION))
    assert problems == ["return_for_rectification: no row"]


def test_an_unreachable_state_is_named() -> None:
    # rectify now leads back to flagged: nothing reaches 'rectified' any more
    table = _with(Event.RECTIFY, dest=State.FLAGGED.value)
    assert _problems(table) == ["administrative: state 'rectified' is unreachable"]


def test_an_unreachable_judicial_state_is_named() -> None:
    table = _with(Event.REFER, dest=JudicialState.NOT_REFERRED.value)
    assert _problems(table) == ["judicial: state 'referred_to_judiciary' is unreachable"]


def test_a_trap_state_is_named() -> None:
    # flag no longer leaves 'rectified': reachable, not final, no way out
    table = _with(Event.FLAG, sources=(State.SURVEYED.value,))
    assert _problems(table) == [
        "administrative: state 'rectified' is a trap (no way out, not final)"
    ]


def test_final_states_are_not_traps_and_initial_states_are_where_tracks_start() -> None:
    assert FINAL_STATES[Track.ADMINISTRATIVE] == {State.TAKEN_DOWN}
    assert INITIAL_STATES == {
        Track.ADMINISTRATIVE: State.NEW,
        Track.JUDICIAL: JudicialState.NOT_REFERRED,
    }
    exits = {src for spec in TABLE for src in spec.sources}
    assert State.TAKEN_DOWN.value not in exits
    assert JudicialState.REFERRED_TO_JUDICIARY.value not in exits


def test_every_problem_of_a_badly_broken_table_is_listed_at_once() -> None:
    table = (
        *_without(Event.TAKE_DOWN, Event.DISMISS),
        dataclasses.replace(_row(Event.DISMISS), sources=("nowhere",), guards=("nope",)),
        _row(Event.DISMISS),
    )
    problems = _problems(table)
    expected = {
        "dismiss: unknown source state 'nowhere'",
        "dismiss: guard 'nope' is not registered",
        "dismiss: declared twice",
        "take_down: no row",
        "administrative: state 'taken_down' is unreachable",
    }
    assert set(problems) == expected
    assert len(problems) == len(expected)
