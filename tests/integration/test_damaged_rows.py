"""Rows changed by hand into values appcase cannot decode (SQLite stores anything): a read of
many cases never stops at them. ``list`` shows the other cases and names the damaged ones,
the sweep reports each as failed and goes on, ``audit verify`` reports each as damage of its
case (naming the event whose row cannot be read) and goes on."""

from __future__ import annotations

import json
import sqlite3

import pytest

from appcase.bootstrap import open_engine
from appcase.workflow.engine import CaseEngine
from appcase.workflow.sweep import sweep
from appcase.workflow.verify import replay_all, verify
from tests.builders import drive, local, run_cli


def _sql(url: str, statement: str) -> None:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        for name in ("events_no_update", "events_no_delete"):
            conn.execute(f"DROP TRIGGER IF EXISTS {name}")
        conn.execute(statement)


ROWS = {
    "an invalid instant": "UPDATE cases SET last_occurred_at = 'not-a-date' WHERE id = '{id}'",
    "an invalid date": "UPDATE cases SET pledge_deadline = '2018-02-30' WHERE id = '{id}'",
    "invalid JSON in the app": (
        "UPDATE apps SET platforms = '[[' WHERE id = (SELECT app_id FROM cases WHERE id = '{id}')"
    ),
    "an unknown state": "UPDATE cases SET state = 'bogus' WHERE id = '{id}'",
}
"""Damage to the case's own row (or its ledger entry): the listing cannot show it."""

EVENTS = {
    "invalid JSON in a payload": (
        "UPDATE events SET payload = '{{\"findings\": [' WHERE case_id = '{id}' AND seq = 3"
    ),
    "an invalid instant in an event": (
        "UPDATE events SET occurred_at = '2018-13-45' WHERE case_id = '{id}' AND seq = 3"
    ),
    "a payload nested past Python's recursion limit": (
        "UPDATE events SET payload = '" + "[" * 100_000 + "' WHERE case_id = '{id}' AND seq = 3"
    ),
}
"""Damage to one of the case's events: verification names the event."""

SWEPT = {
    "an invalid instant": ROWS["an invalid instant"],
    "an invalid date": ROWS["an invalid date"],
    "a rewound event count": "UPDATE cases SET event_count = 4 WHERE id = '{id}'",
}
"""Damage the sweep's read of pledged cases meets."""


@pytest.fixture
def damaged(sqlite_engine: CaseEngine) -> tuple[str, list[str]]:
    """Four pledged cases; the second is the one to damage."""
    ids = [drive(sqlite_engine, "pledged", n=n).id for n in range(4)]
    sqlite_engine.close()
    return ids[1], [i for i in ids if i != ids[1]]


def _engine(url: str, engine: CaseEngine) -> CaseEngine:
    return open_engine(url, clock=engine.clock)


@pytest.mark.parametrize("damage", sorted(ROWS))
def test_list_shows_the_other_cases_and_names_the_damaged_one(
    sqlite_engine: CaseEngine, sqlite_url: str, damaged: tuple[str, list[str]], damage: str
) -> None:
    bad, good = damaged
    _sql(sqlite_url, ROWS[damage].format(id=bad))
    result = run_cli(sqlite_url, "list")
    assert result.exit_code == 1
    assert all(i in result.stdout for i in good)
    assert bad not in result.stdout
    assert bad in result.stderr
    assert "could not be read" in result.stderr
    result = run_cli(sqlite_url, "list", as_json=True)
    assert result.exit_code == 1
    assert [v["id"] for v in json.loads(result.stdout)] == good
    assert json.loads(result.stderr)["error"]["unreadable"] == [bad]


@pytest.mark.parametrize("damage", sorted(SWEPT))
@pytest.mark.parametrize("batch_size", [1, 2, 500])
def test_the_sweep_reports_a_damaged_case_failed_and_escalates_the_others(
    sqlite_engine: CaseEngine,
    sqlite_url: str,
    damaged: tuple[str, list[str]],
    damage: str,
    batch_size: int,
) -> None:
    bad, good = damaged
    _sql(sqlite_url, SWEPT[damage].format(id=bad))
    engine = _engine(sqlite_url, sqlite_engine)
    try:
        outcomes = {o.case_id: o for o in sweep(engine, local(4, 1), batch_size=batch_size)}
        assert outcomes[bad].status == "failed"
        assert "damaged" in (outcomes[bad].detail or "")
        assert "Traceback" not in (outcomes[bad].detail or "")
        assert {outcomes[i].status for i in good} == {"escalated"}
    finally:
        engine.close()
    result = run_cli(sqlite_url, "sweep", "--at", "2018-04-02T10:00+08:00")
    assert "Traceback" not in result.output


@pytest.mark.parametrize("damage", sorted(ROWS | EVENTS))
@pytest.mark.parametrize("batch_size", [1, 3, 500])
def test_verify_reports_the_damage_and_checks_the_other_cases(
    sqlite_engine: CaseEngine,
    sqlite_url: str,
    damaged: tuple[str, list[str]],
    damage: str,
    batch_size: int,
) -> None:
    bad, _ = damaged
    _sql(sqlite_url, (ROWS | EVENTS)[damage].format(id=bad))
    engine = _engine(sqlite_url, sqlite_engine)
    try:
        report = verify(engine, batch_size=batch_size)
        assert report.cases == 4
        assert [p[0] for p in report.problems] == [bad]
        one = verify(engine, bad)
        assert one.problems == report.problems
        expected_kind = "state_mismatch" if damage == "an unknown state" else "unreadable"
        ((_, seq, kind, detail),) = report.problems
        assert kind == expected_kind
        if damage in EVENTS:
            assert seq == 3
            assert "event #3" in detail
        replayed, problems = replay_all(engine, batch_size=batch_size)
        assert replayed == 4
        assert [p[0] for p in problems] == [bad]
    finally:
        engine.close()


@pytest.mark.parametrize("damage", sorted(EVENTS))
def test_audit_verify_names_the_event_whose_row_cannot_be_read(
    sqlite_engine: CaseEngine, sqlite_url: str, damaged: tuple[str, list[str]], damage: str
) -> None:
    bad, _ = damaged
    _sql(sqlite_url, EVENTS[damage].format(id=bad))
    for args in (["audit", "verify"], ["audit", "verify", "--case", bad]):
        result = run_cli(sqlite_url, *args, as_json=True)
        assert result.exit_code == 1, result.output
        (finding,) = json.loads(result.stdout)["error"]["findings"]
        assert finding == {
            "case_id": bad,
            "seq": 3,
            "kind": "unreadable",
            "detail": finding["detail"],
        }
        assert finding["detail"].startswith("event #3 cannot be read")


@pytest.mark.parametrize("damage", sorted(d for d in EVENTS if "payload" in d))
def test_as_of_names_a_case_whose_event_cannot_be_read(
    sqlite_engine: CaseEngine, sqlite_url: str, damaged: tuple[str, list[str]], damage: str
) -> None:
    bad, good = damaged
    _sql(sqlite_url, EVENTS[damage].format(id=bad))
    late = local(4, 5).isoformat()
    for args in (["show", bad, "--as-of", late], ["list", "--as-of", late]):
        result = run_cli(sqlite_url, *args)
        assert result.exit_code == 1, result.output
        assert f"case {bad} is damaged" in result.stderr
    assert run_cli(sqlite_url, "show", good[0], "--as-of", late).exit_code == 0


def test_a_summary_over_an_event_nested_past_the_recursion_limit_is_no_crash(
    sqlite_engine: CaseEngine, sqlite_url: str, damaged: tuple[str, list[str]]
) -> None:
    bad, _ = damaged
    _sql(sqlite_url, EVENTS["a payload nested past Python's recursion limit"].format(id=bad))
    args = ["report", "summary", "--prefecture", "430100", "--format", "json"]
    result = run_cli(sqlite_url, *args, "--at", local(4, 5).isoformat(), actor="cs-cac")
    assert result.exit_code == 1, result.output  # the damaged case is named, as by `show`
    assert f"case {bad} is damaged" in result.stderr
    assert "RecursionError" in result.stderr


@pytest.mark.parametrize("damage", sorted(ROWS))
def test_show_names_a_case_whose_row_cannot_be_read(
    sqlite_engine: CaseEngine, sqlite_url: str, damaged: tuple[str, list[str]], damage: str
) -> None:
    bad, good = damaged
    _sql(sqlite_url, ROWS[damage].format(id=bad))
    result = run_cli(sqlite_url, "show", bad)
    assert result.exit_code == 1, result.output
    assert f"case {bad} is damaged" in result.stderr
    assert run_cli(sqlite_url, "show", good[0]).exit_code == 0
