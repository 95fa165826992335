"""Reading cases (``show``, ``list``, ``history``) and the command line's conventions for
mistakes: exit 2 with a message and no traceback for an unknown case or actor, a missing
``--actor``, a malformed ``--payload`` file or a time without offset; exit 3 for a conflict.
"""

from __future__ import annotations

import itertools
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from appcase.errors import ConcurrentModification
from appcase.workflow.engine import CaseEngine
from appcase.workflow.views import CaseView
from tests.builders import cli_database, run_cli

CASE_KEYS = {
    "id",
    "campaign_id",
    "prefecture",
    "app",
    "state",
    "judicial_state",
    "version",
    "disposition",
    "suspected_illegal",
    "pledge_deadline",
    "event_count",
    "head_hash",
    "created_at",
    "last_occurred_at",
}
"""The JSON keys of a case, as the README promises programs (more may be added)."""

APP_KEYS = {
    "name",
    "operator",
    "uscc",
    "icp_filing",
    "platforms",
    "target_users",
    "used_by_schools",
    "prefecture",
}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    return cli_database(tmp_path_factory.mktemp("read"))


@pytest.fixture
def db(template: tuple[Path, dict[str, str]], tmp_path: Path) -> Path:
    path = tmp_path / "cases.sqlite"
    shutil.copyfile(template[0], path)
    return path


@pytest.fixture(scope="module")
def ids(template: tuple[Path, dict[str, str]]) -> dict[str, str]:
    return template[1]


def as_json(db: Path, *args: str) -> Any:
    result = run_cli(db, *args, as_json=True)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# --- show ----------------------------------------------------------------------------------------


def test_show(db: Path, ids: dict[str, str]) -> None:
    case = ids["pledged"]
    result = run_cli(db, "show", case)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"{case}  独立测试应用7"
    fields = {line[2:18].strip(): line[18:] for line in lines[1:]}
    assert fields["state"] == "pledged"
    assert fields["judicial"] == "not_referred"
    assert fields["disposition"] == "interview_rectify"
    assert fields["pledge deadline"] == "2018-03-28"
    assert fields["last event at"] == "2018-03-14 13:00"
    assert fields["events"].startswith("5 (head ")
    view = as_json(db, "show", case)
    assert set(view) >= CASE_KEYS
    assert set(view) == set(CaseView.model_fields)
    assert set(view["app"]) == APP_KEYS
    assert (view["event_count"], view["version"]) == (5, 5)
    assert view["last_occurred_at"] == "2018-03-14T05:00:00Z"


def test_show_refused_for_an_unknown_case(db: Path) -> None:
    result = run_cli(db, "show", "HN2018-430100-0999")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "error: no case 'HN2018-430100-0999'; list cases with 'appcase list'\n"
    )
    body = json.loads(run_cli(db, "show", "HN2018-430100-0999", as_json=True).stdout)
    assert body == {
        "error": {
            "type": "CaseNotFound",
            "message": "no case 'HN2018-430100-0999'; list cases with 'appcase list'",
        }
    }


# --- list ----------------------------------------------------------------------------------------


def test_list_every_case_by_id(db: Path, ids: dict[str, str]) -> None:
    result = run_cli(db, "list")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["case", "app", "state", "judicial", "disposition", "deadline"]
    assert lines[-1] == f"({len(ids)} cases)"
    assert [line.split()[0] for line in lines[2:-1]] == sorted(ids.values())
    views = as_json(db, "list")
    assert [v["id"] for v in views] == sorted(ids.values())
    assert all(set(v) >= CASE_KEYS for v in views)


def test_list_filters(db: Path, ids: dict[str, str]) -> None:
    def listed(*args: str) -> list[str]:
        return [v["id"] for v in as_json(db, "list", *args)]

    assert listed("--state", "judged") == sorted(
        ids[k] for k in ("judged", "judged_takedown", "judged_clean", "judged_illegal")
    )
    assert listed("--state", "pledged", "--state", "rectified") == sorted(
        [ids["pledged"], ids["rectified"]]
    )
    assert listed("--prefecture", "430200") == []
    assert listed("--prefecture", "430100", "--limit", "2") == sorted(ids.values())[:2]
    assert listed("--text", "独立测试应用3") == [ids["judged_takedown"]]
    assert listed("--overdue-at", "2018-03-29T00:00+08:00") == [ids["pledged"]]
    assert listed("--overdue-at", "2018-03-28T23:59+08:00") == []
    assert listed("--judicial", "referred_to_judiciary") == []
    run_cli(
        db,
        "refer",
        ids["judged_illegal"],
        "--reason",
        "涉嫌",
        "--at",
        "2018-03-13T10:00+08:00",
        actor="cs-cac",
    )
    assert listed("--judicial", "referred_to_judiciary") == [ids["judged_illegal"]]
    text = run_cli(db, "list", "--judicial", "referred_to_judiciary").stdout
    assert f"{ids['judged_illegal']}  独立测试应用5  judged  referred" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--state", "limbo"], "Invalid value for '--state'"),
        (["--state", "new"], "Invalid value for '--state'"),
        (["--overdue-at", "2018-03-29T00:00"], "has no time zone"),
        (["--limit", "0"], "Invalid value for '--limit'"),
    ],
)
def test_list_refuses_bad_filters(db: Path, args: list[str], message: str) -> None:
    result = run_cli(db, "list", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output


# --- history -------------------------------------------------------------------------------------


def test_history_shows_every_event_in_order(db: Path, ids: dict[str, str]) -> None:
    case = ids["pledged"]
    result = run_cli(db, "history", case)
    assert result.exit_code == 0, result.output
    heads = [line for line in result.stdout.splitlines() if line.startswith("#")]
    assert [h.split()[0] for h in heads] == ["#1", "#2", "#3", "#4", "#5"]
    assert heads[0].startswith("#1 2018-02-20 09:00  survey")
    assert heads[0].endswith("new → surveyed")
    assert "judge" in heads[2]
    assert "     by cs-edu (edu_prefecture, 430100)" in result.stdout
    assert "     policy hunan-2018/1: minimum interview_rectify; rules D2" in result.stdout
    assert "     evidence: vulgar_pornographic via patrol: 低俗图片" in result.stdout
    assert "     evidence cited: 1" in result.stdout
    events = as_json(db, "history", case)
    assert [e["seq"] for e in events] == [1, 2, 3, 4, 5]
    assert [e["event"] for e in events] == ["survey", "flag", "judge", "interview", "pledge"]
    assert events[0]["prev_hash"] == "0" * 64
    for earlier, later in itertools.pairwise(events):
        assert later["prev_hash"] == earlier["hash"]


def test_history_refused_for_an_unknown_case(db: Path) -> None:
    result = run_cli(db, "history", "HN2018-439900-0001")
    assert result.exit_code == 2
    assert "no case 'HN2018-439900-0001'" in result.stderr


# --- mistakes: exit 2, a message, no traceback, nothing written ----------------------------------

FLAG = ["--category", "other", "--description", "广告", "--at", "2018-03-01T10:00+08:00"]


def test_a_command_without_an_actor_says_how_to_give_one(db: Path, ids: dict[str, str]) -> None:
    result = run_cli(db, "flag", ids["surveyed"], *FLAG, actor=None)
    assert result.exit_code == 2
    assert result.stderr == (
        "error: say who acts: give --actor ID before the command "
        "(appcase --actor cs-cac flag ...) or set APPCASE_ACTOR\n"
    )


def test_an_unknown_actor_is_named(db: Path, ids: dict[str, str]) -> None:
    result = run_cli(db, "flag", ids["surveyed"], *FLAG, actor="ghost")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: unknown actor 'ghost'; an administrator registers it with "
        "'appcase --actor ADMIN actor add ghost --role ROLE --jurisdiction CODE'\n"
    )


def test_an_unknown_case_is_named(db: Path) -> None:
    result = run_cli(db, "flag", "HN2018-430100-0999", *FLAG, actor="cs-cac")
    assert result.exit_code == 2
    assert "no case 'HN2018-430100-0999'; list cases with 'appcase list'" in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not JSON: Expecting property name enclosed in double quotes"),
        ("[1, 2]", "must hold a JSON object"),
        ('{"evidence": "lots"}', "flag payload is not valid:\n  - evidence: Input should be"),
        ('{"evidence": [{"harm_category": "other"}]}', "evidence.0.description: Field required"),
        ('{"evidence": [], "colour": "red"}', "colour: Extra inputs are not permitted"),
    ],
)
def test_a_malformed_payload_file_is_bad_input(
    db: Path, ids: dict[str, str], tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "payload.json"
    path.write_text(content, encoding="utf-8")
    result = run_cli(
        db,
        "flag",
        ids["surveyed"],
        "--payload",
        str(path),
        "--at",
        "2018-03-01T10:00+08:00",
        actor="cs-cac",
    )
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ")
    assert message in result.stderr


def test_an_unreadable_payload_file_is_bad_input(db: Path, ids: dict[str, str]) -> None:
    result = run_cli(
        db, "flag", ids["surveyed"], "--payload", "/nonexistent/p.json", *FLAG, actor="cs-cac"
    )
    assert result.exit_code == 2
    assert "cannot read /nonexistent/p.json" in result.stderr


def test_a_payload_on_standard_input(db: Path, ids: dict[str, str]) -> None:
    body = json.dumps({"evidence": [{"harm_category": "other", "description": "广告"}]})
    result = run_cli(
        db,
        "flag",
        ids["surveyed"],
        "--payload",
        "-",
        "--at",
        "2018-03-01T10:00+08:00",
        actor="cs-cac",
        stdin=body,
    )
    assert result.exit_code == 0, result.output
    assert "flag surveyed → flagged" in result.stdout


@pytest.mark.parametrize("value", ["2018-03-01T10:00", "2018-03-01", "2018-03-01 10:00"])
def test_a_time_without_offset_is_refused(db: Path, ids: dict[str, str], value: str) -> None:
    result = run_cli(db, "flag", ids["surveyed"], *FLAG[:4], "--at", value, actor="cs-cac")
    assert result.exit_code == 2
    assert "Invalid value for '--at'" in result.stderr
    assert "has no time zone; write it with an offset, e.g. 2018-03-01T09:00:00+08:00" in (
        result.stderr
    )
    assert as_json(db, "show", ids["surveyed"])["event_count"] == 1


def test_an_unknown_command_or_option_is_usage(db: Path) -> None:
    result = run_cli(db, "flagg")
    assert result.exit_code == 2
    assert "No such command 'flagg'" in result.output
    result = run_cli(db, "flag", "--colour", "red")
    assert result.exit_code == 2
    assert "No such option '--colour'" in result.output


# --- a conflict: exit 3, retry ------------------------------------------------------------------


def test_a_conflict_exits_3_and_says_to_retry(
    db: Path, ids: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def lost_race(self: CaseEngine, case_id: str, *args: object, **kw: object) -> None:
        raise ConcurrentModification(case_id)

    monkeypatch.setattr(CaseEngine, "fire", lost_race)
    case = ids["surveyed"]
    result = run_cli(db, "flag", case, *FLAG, actor="cs-cac")
    assert result.exit_code == 3
    assert result.stderr == (
        f"error: case {case} was changed by another command at the same time; "
        "nothing was written, the command can be retried\n"
    )
    body = json.loads(run_cli(db, "flag", case, *FLAG, actor="cs-cac", as_json=True).stdout)
    assert body["error"]["type"] == "ConcurrentModification"
