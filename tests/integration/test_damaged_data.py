"""Data changed behind appcase's back: a case whose head is not its last stored event is
never written to (a typed error naming the damage), and a damaged row is reported, not a
traceback."""

from __future__ import annotations

import sqlite3

import pytest

from appcase.bootstrap import open_engine
from appcase.cli.exits import REFUSED, cli_message, exit_code
from appcase.errors import CaseDamaged
from appcase.workflow.engine import CaseEngine
from appcase.workflow.sweep import summarise, sweep
from appcase.workflow.verify import verify
from tests.builders import RECTIFIED, drive, local


def _sql(url: str, *statements: str) -> None:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        for name in ("events_no_update", "events_no_delete"):
            conn.execute(f"DROP TRIGGER IF EXISTS {name}")
        for statement in statements:
            conn.execute(statement)


DAMAGE = {
    "last event deleted": "DELETE FROM events WHERE case_id = '{id}' AND seq = 5",
    "count rewound": "UPDATE cases SET event_count = 4 WHERE id = '{id}'",
    "count of 2**53": "UPDATE cases SET event_count = 9007199254740991 WHERE id = '{id}'",
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_command_refuses_a_case_whose_head_is_not_its_last_event(
    sqlite_engine: CaseEngine, sqlite_url: str, damage: str
) -> None:
    case = drive(sqlite_engine, "pledged")
    other = drive(sqlite_engine, "pledged", n=1)
    sqlite_engine.close()
    _sql(sqlite_url, DAMAGE[damage].format(id=case.id))
    engine = open_engine(sqlite_url, clock=sqlite_engine.clock)
    try:
        with pytest.raises(CaseDamaged) as caught:
            engine.fire(case.id, "rectify", actor="cs-cac", payload=RECTIFIED, at=local(3, 27))
        assert exit_code(caught.value) == REFUSED
        assert "audit verify" in cli_message(caught.value)
        outcomes = {o.case_id: o for o in sweep(engine, local(4, 1))}
        assert outcomes[case.id].status == "failed"
        assert "damaged" in (outcomes[case.id].detail or "")
        assert outcomes[other.id].status == "escalated"
        report = verify(engine, case.id)
        assert not report.ok
    finally:
        engine.close()


def test_the_sweep_writes_nothing_to_a_damaged_case(
    sqlite_engine: CaseEngine, sqlite_url: str
) -> None:
    case = drive(sqlite_engine, "pledged")
    sqlite_engine.close()
    _sql(sqlite_url, DAMAGE["last event deleted"].format(id=case.id))
    engine = open_engine(sqlite_url, clock=sqlite_engine.clock)
    try:
        report = summarise(local(4, 1), sweep(engine, local(4, 1)))
        assert (report.escalated, report.failed) == (0, 1)
        assert engine.get(case.id).state == "pledged"
    finally:
        engine.close()


def test_a_case_row_that_cannot_be_read_is_a_typed_error(
    sqlite_engine: CaseEngine, sqlite_url: str
) -> None:
    case = drive(sqlite_engine, "pledged")
    sqlite_engine.close()
    _sql(sqlite_url, f"UPDATE cases SET last_occurred_at = 'not-a-date' WHERE id = '{case.id}'")
    engine = open_engine(sqlite_url, clock=sqlite_engine.clock)
    try:
        with pytest.raises(CaseDamaged, match="its row cannot be read"):
            engine.get(case.id)
        with pytest.raises(CaseDamaged):
            engine.fire(case.id, "rectify", actor="cs-cac", payload=RECTIFIED, at=local(3, 27))
    finally:
        engine.close()
