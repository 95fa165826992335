"""End to end: the demo plays the whole Hunan 2018 campaign through the engine and the guards.

The demo runs once for the module (library call) and once through ``appcase demo --out``;
its counts are checked against our own SQL over the ``cases`` and ``events`` tables, the
audit passes, and the history of a case both escalated and referred shows its whole chain.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from appcase.cli.admin import render_demo
from appcase.demo import DemoResult, load_ledger, run_demo
from appcase.states import JudicialState, State
from tests.builders import run_cli

ADMIN = [s.value for s in State if s is not State.NEW]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[DemoResult, Path]:
    path = tmp_path_factory.mktemp("demo") / "demo.sqlite"
    return run_demo(path), path


@pytest.fixture(scope="module")
def result(demo: tuple[DemoResult, Path]) -> DemoResult:
    return demo[0]


@pytest.fixture(scope="module")
def db(demo: tuple[DemoResult, Path]) -> Path:
    return demo[1]


def query(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql, params).fetchall()


def per_prefecture(db: Path, sql: str) -> Counter[str]:
    return Counter(dict(query(db, sql)))


def test_the_demo_finishes_with_a_clean_audit(result: DemoResult, db: Path) -> None:
    assert result.database == str(db)
    assert result.audit_ok
    assert result.audit_problems == 0
    assert result.province.cases == len(load_ledger()) == 300
    assert [p.code for p in result.prefectures][:2] == ["430100", "430200"]
    assert len(result.prefectures) == 14
    assert result.events == query(db, "SELECT count(*) FROM events")[0][0]
    assert result.events > 3 * result.province.cases


def test_every_state_of_both_tracks_was_reached(result: DemoResult, db: Path) -> None:
    states = [*ADMIN, *(s.value for s in JudicialState)]
    assert list(result.reached) == states
    assert all(result.reached[s] > 0 for s in states), result.reached
    recount = dict(
        query(db, "SELECT to_state, count(DISTINCT case_id) FROM events GROUP BY to_state")
    )
    for state in states:
        if state != JudicialState.NOT_REFERRED:
            assert result.reached[state] == recount[state], state
    # every case starts on the judicial track's first state
    assert result.reached[JudicialState.NOT_REFERRED] == result.province.cases


def test_counts_per_prefecture_match_the_database(result: DemoResult, db: Path) -> None:
    by_state = Counter(
        {
            (p, s): n
            for p, s, n in query(
                db, "SELECT prefecture, state, count(*) FROM cases GROUP BY prefecture, state"
            )
        }
    )
    referred = per_prefecture(
        db,
        "SELECT prefecture, count(*) FROM cases WHERE judicial_state = 'referred_to_judiciary' "
        "GROUP BY prefecture",
    )
    overdue = per_prefecture(
        db,
        "SELECT c.prefecture, count(*) FROM events e JOIN cases c ON c.id = e.case_id "
        "WHERE e.actor_id = 'system' AND e.event = 'escalate' GROUP BY c.prefecture",
    )
    overrides = per_prefecture(
        db,
        "SELECT c.prefecture, count(*) FROM events e JOIN cases c ON c.id = e.case_id "
        "WHERE e.override IS NOT NULL GROUP BY c.prefecture",
    )
    cases = per_prefecture(db, "SELECT prefecture, count(*) FROM cases GROUP BY prefecture")
    for p in result.prefectures:
        assert p.states == {s: by_state[(p.code, s)] for s in ADMIN}, p.code
        assert (p.cases, p.referred, p.overdue, p.overrides) == (
            cases[p.code],
            referred[p.code],
            overdue[p.code],
            overrides[p.code],
        ), p.code
    total = result.province
    assert total.code == "430000"
    assert total.cases == sum(cases.values())
    assert total.states == {s: sum(n for (_, st), n in by_state.items() if st == s) for s in ADMIN}
    assert (total.referred, total.overdue, total.overrides) == (
        sum(referred.values()),
        sum(overdue.values()),
        sum(overrides.values()),
    )
    # the demo exercises each of them
    assert total.referred > 0
    assert total.overdue > 0
    assert total.overrides > 0


def test_the_demo_stores_no_json_null_for_a_missing_override(db: Path) -> None:
    assert query(db, "SELECT count(*) FROM events WHERE override = 'null'") == [(0,)]


def test_overdue_escalations_are_the_sweeps(db: Path) -> None:
    rows = query(
        db,
        "SELECT role, reason, payload FROM events WHERE actor_id = 'system'",
    )
    assert rows
    for role, reason, payload in rows:
        assert (role, reason) == ("system", "rectification overdue")
        assert json.loads(payload) == {"ground": "rectification_overdue"}


def test_refused_commands_are_reported(result: DemoResult) -> None:
    assert result.refused
    assert any("by another prefecture's bureau" in r for r in result.refused)
    assert any("take_down is not allowed from" in r for r in result.refused)


def test_the_summary_prints_the_counts(result: DemoResult) -> None:
    text = render_demo(result)
    total = result.province
    row = next(line for line in text.splitlines() if line.startswith("430000"))
    numbers = [int(n) for n in row.split()[2:]]
    assert numbers == [
        total.cases,
        *(total.states[s] for s in ADMIN),
        total.referred,
        total.overdue,
        total.overrides,
    ]
    assert f"audit verify: ok ({result.events} events, {total.cases} cases)" in text
    assert f"commands refused by guards (nothing written): {len(result.refused)}" in text
    assert f"history {result.example_case}" in text


def test_audit_verify_passes_on_the_demo(result: DemoResult, db: Path) -> None:
    verified = run_cli(db, "audit", "verify", as_json=True)
    assert verified.exit_code == 0, verified.output
    report = json.loads(verified.stdout)
    assert (report["cases"], report["events"], report["problems"]) == (
        result.province.cases,
        result.events,
        [],
    )


def test_history_of_a_case_escalated_and_referred_shows_its_whole_chain(
    result: DemoResult, db: Path
) -> None:
    case = result.example_case
    assert case is not None
    (count, judicial), *_ = query(
        db, "SELECT event_count, judicial_state FROM cases WHERE id = ?", case
    )
    assert judicial == "referred_to_judiciary"
    shown = run_cli(db, "history", case)
    assert shown.exit_code == 0, shown.output
    heads = [line.split()[0] for line in shown.stdout.splitlines() if line.startswith("#")]
    assert heads == [f"#{n}" for n in range(1, count + 1)]
    events = json.loads(run_cli(db, "history", case, as_json=True).stdout)
    assert [e["seq"] for e in events] == list(range(1, count + 1))
    kinds = [e["event"] for e in events]
    assert "escalate" in kinds
    assert "refer" in kinds
    refer = events[kinds.index("refer")]
    assert (refer["track"], refer["to_state"]) == ("judicial", "referred_to_judiciary")
    assert "escalate" in shown.stdout
    assert "not_referred → referred_to_judiciary" in shown.stdout


@pytest.mark.slow
def test_the_demo_through_the_command_line(result: DemoResult, tmp_path: Path) -> None:
    """Same seed, same campaign: ``appcase demo --out`` gives the library's counts."""
    out = tmp_path / "cli-demo.sqlite"
    played = run_cli(tmp_path / "unused.sqlite", "demo", "--out", str(out), as_json=True)
    assert played.exit_code == 0, played.output
    body = json.loads(played.stdout)
    assert body["database"] == str(out)
    same = result.model_dump(mode="json", exclude={"database"})
    assert {k: v for k, v in body.items() if k != "database"} == same
    assert out.exists()
    assert not (tmp_path / "unused.sqlite").exists()
    verified = run_cli(out, "audit", "verify")
    assert verified.exit_code == 0, verified.output
