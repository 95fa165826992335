"""Regressions from trying to break appcase: hidden edits of projections, control
characters, instants at the ends of the calendar, invisible reasons, deep JSON."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from appcase.audit.bundle import verify_bundle
from appcase.bootstrap import open_engine
from appcase.cli import cli
from appcase.errors import InvalidInput
from appcase.workflow.engine import CaseEngine
from appcase.workflow.export import export_bundle
from appcase.workflow.verify import verify
from tests.builders import app, drive, evidence, local


def _tamper(url: str, *statements: str) -> None:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        conn.execute("DROP TRIGGER IF EXISTS events_no_update")
        for statement in statements:
            conn.execute(statement)


@pytest.mark.parametrize(
    ("statement", "field"),
    [
        ("UPDATE cases SET prefecture = '430200'", "prefecture"),
        ("UPDATE cases SET pledge_due_at = '2099-01-01 00:00:00.000000'", "pledge_due_at"),
        ("UPDATE apps SET name = 'X'", "app.name"),
        ("UPDATE apps SET uscc = '91440300708461136T'", "app.uscc"),
        ("UPDATE cases SET flagged_at = '2018-01-01 00:00:00.000000'", "flagged_at"),
    ],
)
def test_verify_names_an_edited_projection(
    sqlite_engine: CaseEngine, sqlite_url: str, statement: str, field: str
) -> None:
    case = drive(sqlite_engine, "pledged")
    assert verify(sqlite_engine).ok
    sqlite_engine.close()
    _tamper(sqlite_url, statement)
    engine = open_engine(sqlite_url, clock=sqlite_engine.clock)
    report = verify(engine)
    assert [(p[0], p[2]) for p in report.problems] == [(case.id, "state_mismatch")]
    assert field in report.problems[0][3]


def test_a_forged_cases_file_in_a_bundle_is_caught(
    sqlite_engine: CaseEngine, tmp_path: Path
) -> None:
    drive(sqlite_engine, "pledged")
    export_bundle(sqlite_engine, tmp_path / "b")
    forged = tmp_path / "forged"
    shutil.copytree(tmp_path / "b", forged)
    lines = (forged / "cases.jsonl").read_text(encoding="utf-8").splitlines()
    case = json.loads(lines[0])
    case["prefecture"] = "430200"
    (forged / "cases.jsonl").write_text(json.dumps(case, ensure_ascii=False) + "\n", "utf-8")
    report = verify_bundle(forged)
    assert not report.ok
    assert any("prefecture" in p[3] for p in report.problems)


@pytest.mark.parametrize("bad", ["a\x00b", "a\x01b", "a\x1bb"])
def test_control_characters_are_refused_before_any_write(
    sqlite_engine: CaseEngine, bad: str
) -> None:
    with pytest.raises(InvalidInput, match="control character"):
        sqlite_engine.survey(app(0, name=bad), actor="cs-cac", at=local(2, 20))
    case = sqlite_engine.survey(app(1), actor="cs-cac", at=local(2, 20))
    with pytest.raises(InvalidInput, match="control character"):
        sqlite_engine.fire(
            case.id,
            "flag",
            actor="cs-cac",
            at=local(2, 21),
            payload={
                "evidence": [
                    {**evidence()["evidence"][0], "reporter": {"name": bad, "contact": "x"}}
                ]
            },
        )
    assert sqlite_engine.get(case.id).event_count == 1


@pytest.mark.parametrize("at", ["0001-01-01T00:00+14:00", "9999-12-31T23:59-12:00"])
def test_instants_at_the_ends_of_the_calendar_are_bad_input(
    sqlite_engine: CaseEngine, sqlite_url: str, at: str
) -> None:
    result = CliRunner().invoke(
        cli,
        ["--db", sqlite_url, "--actor", "cs-cac", "sweep", "--at", at],
    )
    assert result.exit_code == 2
    assert "outside the years" in result.output
    with pytest.raises(InvalidInput, match="outside the years"):
        sqlite_engine.survey(app(2), actor="cs-cac", at=datetime.fromisoformat(at))


def test_an_invisible_override_reason_is_refused(sqlite_engine: CaseEngine) -> None:
    case = drive(sqlite_engine, "surveyed")
    with pytest.raises(InvalidInput, match="reason"):
        sqlite_engine.fire(
            case.id,
            "flag",
            actor="cs-cac",
            payload=evidence(),
            at=local(3, 20),
            override={"reason": "\u200b"},
        )


def test_deeply_nested_json_is_bad_input(
    sqlite_engine: CaseEngine, sqlite_url: str, tmp_path: Path
) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["--db", sqlite_url, "--actor", "cs-cac", "survey", "--app", str(deep)]
    )
    assert result.exit_code == 2
    assert "nested too deeply" in result.output
    assert "Traceback" not in result.output


def test_an_idempotency_key_reused_for_another_command_is_refused(
    sqlite_engine: CaseEngine,
) -> None:
    case = drive(sqlite_engine, "surveyed")
    first = sqlite_engine.fire(
        case.id, "flag", actor="cs-cac", payload=evidence(), at=local(2, 21), idempotency_key="K1"
    )
    again = sqlite_engine.fire(
        case.id, "flag", actor="cs-cac", payload=evidence(), at=local(2, 21), idempotency_key="K1"
    )
    assert again.hash == first.hash
    with pytest.raises(InvalidInput, match="a retry repeats that command exactly"):
        sqlite_engine.fire(
            case.id,
            "flag",
            actor="cs-cac",
            payload=evidence("other"),
            at=local(2, 21),
            idempotency_key="K1",
        )
    with pytest.raises(InvalidInput, match="a retry repeats that command exactly"):
        sqlite_engine.survey(app(7), actor="cs-cac", at=local(2, 22), idempotency_key="K1")
    with pytest.raises(InvalidInput, match="1-200"):
        sqlite_engine.survey(app(8), actor="cs-cac", at=local(2, 22), idempotency_key="k" * 201)
    assert sqlite_engine.get(case.id).event_count == 2
