"""``appcase policy what-if``: exactly the judgments whose minimum an amended threshold
changes (re-evaluated here by hand), and not a byte written -- on the standard test cases
(fast), and on the demo database (slow: the demo takes seconds)."""

from __future__ import annotations

import json
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from appcase.bootstrap import open_engine
from appcase.demo import run_demo
from appcase.policies.campaign import load_campaign
from appcase.policies.disposition import Factors, FindingInput, evaluate
from appcase.states import Severity
from tests.builders import checkpoint, cli_database, dump_tables, file_digests, run_cli

HUNAN_TEXT = resources.files("appcase.data").joinpath("hunan-2018.toml").read_text("utf-8")


@pytest.fixture(scope="module")
def small_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path, _ids = cli_database(tmp_path_factory.mktemp("whatif-small"))
    return path


def test_what_if_on_the_standard_cases(small_db: Path, tmp_path: Path) -> None:
    file = amended(tmp_path, 'takedown_severity = "severe"', 'takedown_severity = "serious"')
    files, rows = file_digests(small_db), dump_tables(small_db)
    result = run_cli(small_db, "policy", "what-if", "--campaign", str(file), "--json")
    assert result.exit_code == 0, result.output
    assert file_digests(small_db) == files
    assert dump_tables(small_db) == rows
    body = json.loads(result.stdout)
    expected = by_hand(small_db, file)
    assert expected["changed"]
    assert [(j["case_id"], j["seq"]) for j in body["judgments"] if j["changed"]] == expected[
        "changed"
    ]
    assert {(r["case_id"], r["seq"]) for r in body["refused"]} == set(expected["changed"])


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("whatif") / "demo.sqlite"
    run_demo(path)
    checkpoint(path)
    return path


def amended(tmp_path: Path, old: str, new: str, name: str = "amended.toml") -> Path:
    assert old in HUNAN_TEXT
    path = tmp_path / name
    path.write_text(HUNAN_TEXT.replace(old, new), encoding="utf-8")
    return path


def by_hand(db: Path, amended_file: Path, prefecture: str | None = None) -> dict[str, Any]:
    """Every judge event of the demo, re-evaluated under the amended file, without what-if."""
    params = load_campaign(amended_file).policy.disposition
    engine = open_engine(f"sqlite:///{db}")
    changed: list[tuple[str, int]] = []
    per: Counter[tuple[str, str]] = Counter()
    judged = 0
    try:
        for case in engine.list_cases():
            if prefecture and case.prefecture != prefecture:
                continue
            for ev in engine.history(case.id):
                if ev.event != "judge":
                    continue
                judged += 1
                findings = [
                    FindingInput(
                        f["harm_category"], Severity(f["severity"]), f["suspected_illegal"]
                    )
                    for f in ev.payload["findings"]
                ]
                new = evaluate(findings, Factors(**ev.payload["policy"]["factors"]), params)
                if new.minimum.value != ev.payload["policy"]["minimum"]:
                    changed.append((case.id, ev.seq))
                per[(case.prefecture, new.minimum.value)] += 1
    finally:
        engine.close()
    return {"changed": changed, "per": per, "judged": judged}


@pytest.mark.slow
def test_what_if_reports_exactly_the_changed_minimums_and_writes_nothing(
    demo_db: Path, tmp_path: Path
) -> None:
    file = amended(tmp_path, "takedown_serious_count = 3", "takedown_serious_count = 2")
    files, rows = file_digests(demo_db), dump_tables(demo_db)
    result = run_cli(demo_db, "policy", "what-if", "--campaign", str(file), "--json")
    assert result.exit_code == 0, result.output
    assert file_digests(demo_db) == files
    checkpoint(demo_db)
    assert file_digests(demo_db) == files
    assert dump_tables(demo_db) == rows

    body = json.loads(result.stdout)
    expected = by_hand(demo_db, file)
    assert expected["changed"], "the amended threshold changes some judgment of the demo"
    assert len(body["judgments"]) == expected["judged"]
    changed = [(j["case_id"], j["seq"]) for j in body["judgments"] if j["changed"]]
    assert changed == expected["changed"]
    assert sorted(set(body["changed"])) == sorted({c for c, _ in expected["changed"]})
    for j in body["judgments"]:
        if j["changed"]:
            assert (j["old_minimum"], j["new_minimum"]) == ("interview_rectify", "takedown")
            assert "D6" in j["new_rules"]
            assert "D6" not in j["old_rules"]
    refused = {(r["case_id"], r["seq"]) for r in body["refused"]}
    milder = {
        (j["case_id"], j["seq"])
        for j in body["judgments"]
        if j["changed"] and j["recorded"] == "interview_rectify" and not j["waived"]
    }
    assert milder <= refused
    counts = Counter(
        {
            (code, d): c["new_minimum"]
            for code, per in body["counts"].items()
            for d, c in per.items()
        }
    )
    assert +counts == +expected["per"]


@pytest.mark.slow
def test_one_prefecture(demo_db: Path, tmp_path: Path) -> None:
    file = amended(tmp_path, "takedown_serious_count = 3", "takedown_serious_count = 2")
    result = run_cli(
        demo_db, "policy", "what-if", "--campaign", str(file), "--prefecture", "430100", "--json"
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert {j["prefecture"] for j in body["judgments"]} == {"430100"}
    assert list(body["counts"]) == ["430100"]
    assert [(j["case_id"], j["seq"]) for j in body["judgments"] if j["changed"]] == by_hand(
        demo_db, file, "430100"
    )["changed"]


@pytest.mark.slow
def test_the_text_report(demo_db: Path, tmp_path: Path) -> None:
    file = amended(tmp_path, "takedown_serious_count = 3", "takedown_serious_count = 2")
    result = run_cli(demo_db, "policy", "what-if", "--campaign", str(file))
    assert result.exit_code == 0, result.output
    assert "policy hunan-2018/1 → hunan-2018/1" in result.output
    assert "per prefecture and disposition" in result.output
    assert "(* the minimum changed)" in result.output


@pytest.mark.slow
def test_another_campaign_is_refused_with_what_differs(demo_db: Path, tmp_path: Path) -> None:
    file = amended(tmp_path, "deadline = 2018-03-10", "deadline = 2018-03-12")
    files = file_digests(demo_db)
    result = run_cli(demo_db, "policy", "what-if", "--campaign", str(file))
    assert result.exit_code == 2
    assert "only its policy may differ" in result.output
    assert "phases: stored" in result.output
    assert file_digests(demo_db) == files
