"""``appcase policy check``: exit 0 when every property holds, 1 with the smallest
counterexample when one fails, 2 when the file is malformed; reproducible with --seed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.builders import run_cli

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
GOOD = str(EXAMPLES / "jiangnan-2024.toml")
BROKEN = str(EXAMPLES / "jiangnan-2024-broken.toml")
FAST = [
    "--property",
    "disposition_monotone",
    "--property",
    "referral_exact",
    "--property",
    "states_reachable",
    "--property",
    "windows_ordered",
    "--property",
    "working_day_deadlines",
]


@pytest.mark.parametrize("source", ["hunan-2018", GOOD])
def test_a_sound_file_passes(tmp_path: Path, source: str) -> None:
    result = run_cli(
        tmp_path / "unused.sqlite", "policy", "check", source, "--examples", "50", *FAST
    )
    assert result.exit_code == 0, result.output
    assert "disposition_monotone: holds over 50 examples" in result.output
    assert "every property holds" in result.output
    assert not (tmp_path / "unused.sqlite").exists()


@pytest.mark.slow
@pytest.mark.parametrize("source", ["hunan-2018", GOOD])
def test_every_property_holds_with_the_defaults(tmp_path: Path, source: str) -> None:
    result = run_cli(tmp_path / "unused.sqlite", "policy", "check", source, "--seed", "2018")
    assert result.exit_code == 0, result.output
    assert result.output.count("holds over") == 10


def test_the_broken_threshold_is_caught_with_its_smallest_counterexample(tmp_path: Path) -> None:
    args = ["policy", "check", BROKEN, "--seed", "7", "--json", *FAST[:2]]
    result = run_cli(tmp_path / "unused.sqlite", *args)
    assert result.exit_code == 1, result.output
    body = json.loads(result.stdout)
    assert body["holds"] is False
    failed = [p for p in body["properties"] if not p["holds"]]
    assert [p["name"] for p in failed] == ["disposition_monotone"]
    example = failed[0]["counterexample"]
    before, after = example["judgments"]
    # shrunk: one minor finding of a repeat offender (effective severity serious), raised to
    # serious (effective severe)
    assert before["findings"] == [
        {"harm_category": "gambling", "severity": "minor", "suspected_illegal": False}
    ]
    assert after["findings"] == [
        {"harm_category": "gambling", "severity": "serious", "suspected_illegal": False}
    ]
    assert (before["minimum"], after["minimum"]) == ("takedown", "interview_rectify")
    assert (
        before["factors"]
        == after["factors"]
        == {
            "prior_cases": 1,
            "seriously_lacking_responsibility": False,
            "used_by_schools": False,
        }
    )
    d5 = next(r for r in before["rules"] if r["id"] == "D5")
    assert d5["source"] == "二 关停下架一批...情况严重的"
    assert "minimum_by_severity.serious = takedown" in d5["detail"]
    assert example["thresholds"][0] == (
        "policy.disposition.minimum_by_severity: "
        "{minor = interview_rectify, serious = takedown, severe = interview_rectify}"
    )
    again = run_cli(tmp_path / "unused.sqlite", *args)
    assert json.loads(again.stdout)["properties"] == body["properties"]


def test_the_counterexample_reads_in_words(tmp_path: Path) -> None:
    result = run_cli(tmp_path / "x.sqlite", "policy", "check", BROKEN, "--seed", "7", *FAST[:4])
    assert result.exit_code == 1
    out = result.stdout
    assert "disposition_monotone: FAILS" in out
    assert "finding 1 raised from minor to serious gave interview_rectify" in out
    assert "before: gambling minor" in out
    assert "D5 a finding at the takedown severity: takedown [二 关停下架一批...情况严重的]" in out
    assert "1 of 2 properties fail: disposition_monotone" in out
    assert "disposition_monotone: 50/50" not in result.stderr  # progress goes to stderr only
    assert "checking disposition_monotone" in result.stderr


def test_a_malformed_file_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('id = "x"\n', encoding="utf-8")
    result = run_cli(tmp_path / "x.sqlite", "policy", "check", str(bad))
    assert result.exit_code == 2
    assert "is not valid" in result.output
    assert "case_prefix" in result.output


def test_an_unknown_property_exits_2(tmp_path: Path) -> None:
    result = run_cli(tmp_path / "x.sqlite", "policy", "check", GOOD, "--property", "nope")
    assert result.exit_code == 2
    assert "unknown properties nope" in result.output
