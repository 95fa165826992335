"""``appcase policy explain``: the minimum disposition, the referral and every rule fired with
its source section, for findings given on the command line or for a case; mistakes exit 2
with a message and no traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from appcase.policies.disposition import RULES
from tests.builders import cli_database, run_cli


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    return cli_database(tmp_path_factory.mktemp("policy"))


@pytest.fixture(scope="module")
def db(template: tuple[Path, dict[str, str]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the template (``policy explain`` only reads; one copy serves the module)."""
    path = tmp_path_factory.mktemp("policy-db") / "cases.sqlite"
    shutil.copyfile(template[0], path)
    return path


@pytest.fixture(scope="module")
def ids(template: tuple[Path, dict[str, str]]) -> dict[str, str]:
    return template[1]


def explain(db: Path, *args: str) -> dict[str, Any]:
    result = run_cli(db, "policy", "explain", *args, as_json=True)
    assert result.exit_code == 0, result.output
    body: dict[str, Any] = json.loads(result.stdout)
    return body


def refused(db: Path | str, *args: str) -> str:
    result = run_cli(db, "policy", "explain", *args)
    assert result.exit_code == 2, result.output
    return result.output


def test_explains_given_findings(db: Path) -> None:
    result = run_cli(db, "policy", "explain", "--finding", "vulgar_pornographic:severe:1:illegal")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "policy hunan-2018/1 (campaign hunan-2018)" in out
    assert "minimum disposition: takedown (关停下架)" in out
    assert "refer to the judiciary: yes" in out
    for rule in ("D2", "D5", "R1"):
        text, source = RULES[rule]
        line = next(x for x in out.splitlines() if x.startswith(rule))
        assert text in line
        assert source in line
    assert "suspected illegal: vulgar_pornographic" in out
    assert not any(x.startswith(("D1", "D3", "D6", "D7")) for x in out.splitlines())


def test_json_names_every_rule_with_its_source(db: Path) -> None:
    body = explain(db, "--finding", "other:serious", "--finding", "inciting_violence:minor:2")
    assert body["minimum"] == "interview_rectify"
    assert body["refer"] is False
    assert body["policy_version"] == "hunan-2018/1"
    assert body["case"] is None
    assert body["findings_from"] == "given"
    assert body["rules"] == [
        {"id": "D2", "text": RULES["D2"][0], "source": RULES["D2"][1], "detail": "2 finding(s)"}
    ]
    assert [f["evidence_refs"] for f in body["findings"]] == [[], [2]]
    assert body["factors"] == {
        "prior_cases": 0,
        "seriously_lacking_responsibility": False,
        "used_by_schools": False,
    }


@pytest.mark.parametrize(
    ("args", "minimum", "rules"),
    [
        ((), "no_violation", ["D1"]),
        (("--finding", "other:serious", "--prior-cases", "1"), "takedown", ["D2", "D3", "D5"]),
        (("--finding", "other:minor", "--lacking-responsibility"), "takedown", ["D2", "D7"]),
        (("--finding", "other:minor", "--schools"), "interview_rectify", ["D2"]),
        (
            (
                "--finding",
                "other:serious",
            )
            * 3,
            "takedown",
            ["D2", "D6"],
        ),
    ],
)
def test_circumstances(db: Path, args: tuple[str, ...], minimum: str, rules: list[str]) -> None:
    body = explain(db, *args)
    assert (body["minimum"], [r["id"] for r in body["rules"]]) == (minimum, rules)


def test_a_campaign_file_needs_no_database(tmp_path: Path) -> None:
    missing = tmp_path / "none.sqlite"
    body = explain(missing, "--campaign-file", "hunan-2018", "--finding", "other:severe")
    assert body["minimum"] == "takedown"
    assert not missing.exists()
    assert "appcase init" in refused(missing, "--finding", "other:severe")


def test_explains_a_case_from_its_latest_judgment(db: Path, ids: dict[str, str]) -> None:
    body = explain(db, "--case", ids["judged_illegal"])
    assert body["case"] == ids["judged_illegal"]
    assert body["findings_from"] == "judgment #3"
    assert (body["minimum"], body["refer"]) == ("interview_rectify", True)
    assert [r["id"] for r in body["rules"]] == ["D2", "R1"]
    recorded = body["recorded"]
    assert (recorded["seq"], recorded["minimum"], recorded["refer"]) == (
        3,
        "interview_rectify",
        True,
    )
    assert [r["id"] for r in recorded["rules"]] == ["D2", "R1"]
    text = run_cli(db, "policy", "explain", "--case", ids["judged_illegal"]).stdout
    assert f"case {ids['judged_illegal']}, findings from the judgment #3" in text
    assert "recorded with judgment #3 (policy hunan-2018/1): minimum interview_rectify" in text


def test_explains_a_case_for_other_findings(db: Path, ids: dict[str, str]) -> None:
    body = explain(db, "--case", ids["flagged"], "--finding", "distorting_history:severe:1")
    assert (body["findings_from"], body["minimum"]) == ("given", "takedown")
    assert "recorded" not in body


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--finding", "gambling:minor"), "unknown harm category gambling"),
        (("--finding", "other"), "CATEGORY:SEVERITY"),
        (("--finding", "other:awful"), "severity must be minor, serious or severe"),
        (("--finding", "other:minor:x"), "evidence numbers must be integers"),
        (("--prior-cases", "-1"), "-1 is not in the range"),
        (("--at", "2018-03-12T10:00+08:00"), "--at needs --case"),
        (("--at", "2018-03-12T10:00"), "no time zone"),
        (("--case", "HN2018-430100-9999"), "no case 'HN2018-430100-9999'"),
    ],
)
def test_mistakes_exit_2(db: Path, args: tuple[str, ...], message: str) -> None:
    assert message in refused(db, *args)


def test_case_circumstances_come_from_the_database(db: Path, ids: dict[str, str]) -> None:
    case = ids["judged"]
    assert "read from the database" in refused(db, "--case", case, "--prior-cases", "2")
    assert "read from the database" in refused(db, "--case", case, "--schools")
    assert "cannot be used with --case" in refused(db, "--case", case, "--campaign-file", "x")
    assert "has no judgment yet" in refused(db, "--case", ids["flagged"])


def test_help_shows_examples(db: Path) -> None:
    result = run_cli(db, "policy", "explain", "--help")
    assert result.exit_code == 0
    assert "appcase policy explain --finding vulgar_pornographic:severe:1:illegal" in result.stdout
