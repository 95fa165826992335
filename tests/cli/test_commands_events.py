"""The event commands: ``survey``, ``flag``, ``judge``, ``dismiss``, ``interview``, ``pledge``,
``rectify``, ``escalate``, ``take-down``, ``return``, ``refer`` -- each done (exit 0) and
refused (exit 1, every failed guard printed) or given bad input (exit 2), in text and JSON.

Each test runs on its own copy of a database holding one Changsha case per state
(:func:`tests.builders.standard_cases`); see that module for the cases' dates.
"""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest

from appcase.workflow.views import EventView
from tests.builders import cli_database, interview, local, run_cli, unique_app

EVENT_KEYS = {
    "case_id",
    "seq",
    "track",
    "event",
    "from_state",
    "to_state",
    "actor",
    "role",
    "jurisdiction",
    "occurred_at",
    "recorded_at",
    "payload",
    "reason",
    "override",
    "idempotency_key",
    "prev_hash",
    "hash",
}
"""The JSON keys of an event, as the README promises programs (more may be added)."""


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    return cli_database(tmp_path_factory.mktemp("events"))


@pytest.fixture
def db(template: tuple[Path, dict[str, str]], tmp_path: Path) -> Path:
    path = tmp_path / "cases.sqlite"
    shutil.copyfile(template[0], path)
    return path


@pytest.fixture(scope="module")
def ids(template: tuple[Path, dict[str, str]]) -> dict[str, str]:
    return template[1]


def done(db: Path, *args: str, actor: str = "cs-cac") -> dict[str, Any]:
    """Run an event command with ``--json``; it must succeed; return the event."""
    result = run_cli(db, *args, actor=actor, as_json=True)
    assert result.exit_code == 0, result.output
    event: dict[str, Any] = json.loads(result.stdout)
    assert set(event) >= EVENT_KEYS, set(event)
    assert set(event) == set(EventView.model_fields)
    assert len(event["hash"]) == 64
    return event


def refused(db: Path, *args: str, actor: str = "cs-cac") -> list[tuple[str, str]]:
    """Run an event command; it must be refused (exit 1) in text and in JSON, naming the same
    guards; return ``(code, message)`` of every rejection."""
    text = run_cli(db, *args, actor=actor)
    assert text.exit_code == 1, text.output
    assert text.stdout == ""
    assert text.stderr.startswith("refused: ")
    as_json = run_cli(db, *args, actor=actor, as_json=True)
    assert as_json.exit_code == 1, as_json.output
    error = json.loads(as_json.stdout)["error"]
    assert set(error) == {"type", "message", "case_id", "state", "event", "rejections"}
    assert error["type"] == "GuardRejected"
    rejections = [(r["code"], r["message"]) for r in error["rejections"]]
    assert rejections
    for code, message in rejections:
        assert f"[{code}] {message}" in text.stderr
    return rejections


def bad_input(db: Path, *args: str, actor: str | None = "cs-cac") -> str:
    """Run a command that must fail as bad input (exit 2); return what it printed."""
    result = run_cli(db, *args, actor=actor)
    assert result.exit_code == 2, result.output
    return result.output


def codes(rejections: list[tuple[str, str]]) -> list[str]:
    return [c for c, _ in rejections]


def state_of(db: Path, case_id: str) -> dict[str, Any]:
    result = run_cli(db, "show", case_id, as_json=True)
    assert result.exit_code == 0, result.output
    case: dict[str, Any] = json.loads(result.stdout)
    return case


def at(month: int, day: int, hour: int = 10, minute: int = 0) -> list[str]:
    return ["--at", local(month, day, hour, minute).isoformat()]


# --- survey -----------------------------------------------------------------------------------

SURVEY = [
    "--name",
    "星学口算",
    "--operator",
    "长沙星学教育科技有限公司",
    "--uscc",
    "914403001922038216",
    "--prefecture",
    "430100",
]


def test_survey_lists_an_app_with_its_platforms(db: Path) -> None:
    args = [*SURVEY, "--icp", "湘ICP备18001234号-1", "--platform", "华为应用市场"]
    args += ["--platform", "App Store", "--target-users", "小学生", "--schools", *at(2, 20)]
    result = run_cli(db, "survey", *args, actor="cs-edu")
    assert result.exit_code == 0, result.output
    assert result.stdout == "HN2018-430100-0011: 星学口算 (长沙星学教育科技有限公司) → surveyed\n"
    case = state_of(db, "HN2018-430100-0011")
    assert case["app"]["platforms"] == ["华为应用市场", "App Store"]
    assert case["app"]["icp_filing"] == "湘ICP备18001234号-1"
    assert case["app"]["used_by_schools"] is True
    assert case["app"]["target_users"] == "小学生"
    assert (case["state"], case["event_count"]) == ("surveyed", 1)
    shown = run_cli(db, "show", "HN2018-430100-0011").stdout
    assert "platforms       华为应用市场, App Store" in shown


def test_survey_reads_an_app_file_and_options_win(db: Path, tmp_path: Path) -> None:
    app_file = tmp_path / "app.json"
    identity = unique_app(40, platforms=["应用宝"], used_by_schools=True)
    app_file.write_text(json.dumps(identity, ensure_ascii=False), encoding="utf-8")
    args = ["--app", str(app_file), "--platform", "小米应用商店", "--no-schools", *at(2, 20)]
    result = run_cli(db, "survey", *args, actor="cs-cac", as_json=True)
    assert result.exit_code == 0, result.output
    case = json.loads(result.stdout)
    assert case["app"]["name"] == identity["name"]
    assert case["app"]["platforms"] == ["小米应用商店"]
    assert case["app"]["used_by_schools"] is False
    from_stdin = run_cli(
        db,
        "survey",
        "--app",
        "-",
        *at(2, 21),
        actor="cs-cac",
        stdin=json.dumps(unique_app(41, platforms=["应用宝"])),
    )
    assert from_stdin.exit_code == 0, from_stdin.output
    assert state_of(db, "HN2018-430100-0012")["app"]["platforms"] == ["应用宝"]


def test_survey_app_file_keys_are_not_renamed(db: Path, tmp_path: Path) -> None:
    """Regression: a file's ``"platform": "华为"`` was taken for ``--platform`` and split into
    one platform per character; only the option is renamed."""
    app_file = tmp_path / "app.json"
    app_file.write_text(json.dumps(unique_app(42, platform="华为")), encoding="utf-8")
    out = bad_input(db, "survey", "--app", str(app_file), *at(2, 20))
    assert "app.platform: Extra inputs are not permitted" in out
    app_file.write_text(json.dumps(unique_app(42, platforms="华为")), encoding="utf-8")
    out = bad_input(db, "survey", "--app", str(app_file), *at(2, 20))
    assert "app.platforms: Input should be a valid tuple" in out


def test_the_survey_help_example_runs_as_written(db: Path) -> None:
    """Regression: the example's credit code had a wrong check character."""
    help_text = run_cli(db, "survey", "--help").stdout
    example = help_text.split("Example:\n")[1].split("\n\n")[0].replace("\\\n", " ")
    words = shlex.split(example)
    assert words[:4] == ["appcase", "--actor", "cs-cac", "survey"]
    result = run_cli(db, *words[3:], actor=words[2])
    assert result.exit_code == 0, result.output
    assert "星学口算 (长沙星学教育科技有限公司) → surveyed" in result.stdout


def test_survey_refused_lists_every_failed_guard(db: Path) -> None:
    assert run_cli(db, "survey", *SURVEY, *at(2, 20), actor="cs-cac").exit_code == 0
    again = refused(db, "survey", *SURVEY, *at(3, 11), actor="zz-cac")
    assert codes(again) == ["jurisdiction", "phase_window", "not_in_ledger"]
    assert "survey at 2018-03-11T10:00:00+08:00 is outside its window" in again[1][1]
    # nothing was written: the next survey gets the next number
    other = [*SURVEY[:6], "--uscc", "91440300708461136T", "--prefecture", "430100"]
    result = run_cli(db, "survey", *other, "--name", "另一个应用", *at(2, 22), actor="cs-cac")
    assert result.stdout.startswith("HN2018-430100-0012: 另一个应用"), result.output


def test_a_late_survey_uses_a_survey_grant(db: Path) -> None:
    late = [*SURVEY, *at(3, 20)]
    grant_args = ["override", "grant", "--prefecture", "430100", "--event", "survey"]
    granted = run_cli(db, *grant_args, "--reason", "补充摸排", actor="cs-cac", as_json=True)
    assert granted.exit_code == 0, granted.output
    grant = json.loads(granted.stdout)["id"]
    elsewhere = [*SURVEY[:6], "--prefecture", "430200", *at(3, 20)]
    assert (
        "not this case"
        in refused(db, "survey", *elsewhere, "--override", grant, actor="zz-cac")[0][1]
    )
    result = run_cli(db, "survey", *late, "--override", grant, actor="cs-cac", as_json=True)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["state"] == "surveyed"
    again = [*SURVEY[:4], "--uscc", "91440300708461136T", *SURVEY[6:], *at(3, 20)]
    assert "already used" in refused(db, "survey", *again, "--override", grant)[0][1]
    mine = run_cli(db, "survey", *again, "--override-reason", "补充摸排", actor="cs-cac")
    assert mine.exit_code == 0, mine.output


def test_survey_bad_input_names_the_field(db: Path) -> None:
    bad_uscc = ["--uscc", "914403001922038217"]
    out = bad_input(db, "survey", *SURVEY[:4], *bad_uscc, "--prefecture", "430100", *at(2, 20))
    assert "app.uscc: Value error, USCC '914403001922038217': check character" in out
    out = bad_input(db, "survey", "--name", "只有名字", *at(2, 20))
    assert "app.operator: Field required" in out
    assert "app.uscc: Field required" in out
    out = bad_input(db, "survey", *SURVEY, "--platform", "", *at(2, 20))
    assert "app.platforms.0" in out


# --- flag -------------------------------------------------------------------------------------


def test_flag_records_evidence(db: Path, ids: dict[str, str]) -> None:
    case = ids["surveyed"]
    args = ["--category", "vulgar_pornographic", "--description", "学习社区出现低俗图片"]
    args += ["--source", "hotline", "--locator", "app://community/42"]
    args += ["--captured-at", "2018-03-01T09:00+08:00", *at(3, 1)]
    text = run_cli(db, "flag", case, *args, actor="cs-cac")
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert lines[0] == f"{case} #2: flag surveyed → flagged"
    assert lines[1].startswith("  hash ")
    history = json.loads(run_cli(db, "history", case, as_json=True).stdout)
    item = history[-1]["payload"]["evidence"][0]
    assert item["harm_category"] == "vulgar_pornographic"
    assert item["source"] == "hotline"
    assert item["captured_at"] == "2018-03-01T09:00:00+08:00"


def test_flag_refused(db: Path, ids: dict[str, str]) -> None:
    rejections = refused(db, "flag", ids["surveyed"], "--description", "无类别", *at(3, 1))
    assert rejections == [("evidence", "flag needs at least one evidence item")]
    unknown = ["--category", "gambling", "--description", "赌博"]
    rejections = refused(db, "flag", ids["surveyed"], *unknown, *at(3, 1))
    assert rejections == [("evidence", "evidence 1: unknown harm category 'gambling'")]


def test_flag_after_the_window_with_an_override(db: Path, ids: dict[str, str]) -> None:
    case = ids["rectified"]
    late = ["--category", "other", "--description", "群众举报", *at(3, 28)]
    assert codes(refused(db, "flag", case, *late)) == ["phase_window"]
    by_edu = refused(db, "flag", case, *late, "--override-reason", "举报晚到", actor="cs-edu")
    assert by_edu[0][1].endswith("cs-edu (edu_prefecture) may not authorise an override")
    out = bad_input(
        db, "flag", case, *late, "--override-reason", "举报晚到", "--override-by", "cs-cac"
    )
    assert "the command uses it with --override GRANT" in out
    grant_args = ["override", "grant", case, "--event", "flag", "--reason", "举报晚到"]
    by_edu_grant = run_cli(db, *grant_args, actor="cs-edu")
    assert by_edu_grant.exit_code == 1
    assert "cs-edu (edu_prefecture) may not authorise an override" in by_edu_grant.stderr
    granted = run_cli(db, *grant_args, actor="cs-cac", as_json=True)
    assert granted.exit_code == 0, granted.output
    grant = json.loads(granted.stdout)["id"]
    event = done(db, "flag", case, *late, "--override", grant, actor="cs-edu")
    assert event["override"] == {
        "reason": "举报晚到",
        "authorised_by": "cs-cac",
        "grant": grant,
        "waived": ["phase_window"],
    }
    history = run_cli(db, "history", case).stdout
    assert f"OVERRIDE by cs-cac: 举报晚到 (waived phase_window; grant {grant})" in history
    listed = run_cli(db, "override", "list", case).stdout
    assert grant in listed
    assert "used by cs-edu" in listed
    out = bad_input(db, "flag", case, *late, "--override", grant, "--override-reason", "x")
    assert "not both" in out


# --- judge, dismiss ------------------------------------------------------------------------------


def test_judge_records_findings_and_the_policy(db: Path, ids: dict[str, str]) -> None:
    case = ids["flagged"]
    args = ["--finding", "vulgar_pornographic:serious:1", "--disposition", "interview_rectify"]
    text = run_cli(db, "judge", case, *args, *at(3, 12), actor="cs-edu")
    assert text.exit_code == 0, text.output
    assert text.stdout.splitlines()[0] == f"{case} #3: judge flagged → judged"
    assert "  policy hunan-2018/1: minimum interview_rectify, refer no, rules D2" in text.stdout
    case_view = state_of(db, case)
    assert (case_view["disposition"], case_view["suspected_illegal"]) == (
        "interview_rectify",
        False,
    )


def test_judge_refused(db: Path, ids: dict[str, str]) -> None:
    case = ids["flagged"]
    milder = ["--finding", "vulgar_pornographic:severe:1", "--disposition", "interview_rectify"]
    rejections = refused(db, "judge", case, *milder, *at(3, 12), actor="cs-edu")
    assert codes(rejections) == ["disposition_minimum"]
    assert "milder than the policy's minimum takedown" in rejections[0][1]
    rejections = refused(
        db, "judge", case, "--finding", "other:minor:7", *at(3, 12), actor="cs-cac"
    )
    assert codes(rejections) == ["role", "findings", "findings"]
    assert "finding 1: no evidence numbered [7] in this case" in rejections[2][1]


@pytest.mark.parametrize(
    ("finding", "message"),
    [
        ("vulgar_pornographic", "write CATEGORY:SEVERITY[:EVIDENCE,…][:illegal]"),
        ("vulgar_pornographic:awful", "severity must be minor, serious or severe"),
        ("vulgar_pornographic:minor:one", "evidence numbers must be integers"),
    ],
)
def test_judge_with_a_malformed_finding_is_bad_input(
    db: Path, ids: dict[str, str], finding: str, message: str
) -> None:
    out = bad_input(db, "judge", ids["flagged"], "--finding", finding, *at(3, 12), actor="cs-edu")
    assert f"--finding {finding!r}: " in out
    assert message in out


def test_dismiss(db: Path, ids: dict[str, str]) -> None:
    event = done(db, "dismiss", ids["judged_clean"], *at(3, 13), actor="cs-edu")
    assert (event["from_state"], event["to_state"]) == ("judged", "surveyed")
    rejections = refused(db, "dismiss", ids["judged"], *at(3, 13), actor="cs-edu")
    assert rejections == [
        (
            "disposition",
            "only a 'no_violation' judgment can be dismissed; this one is interview_rectify",
        )
    ]


# --- interview, pledge, rectify ------------------------------------------------------------------

INTERVIEW = ["--notice-at", "2018-03-12T12:00+08:00", "--held-at", "2018-03-14T10:00+08:00"]
INTERVIEW += ["--place", "市网信办会议室", "--officer", "张伟", "--officer", "李娜"]
INTERVIEW += ["--representative", "王经理", "--problem", "传播低俗信息", "--deadline", "2018-03-28"]


def test_interview(db: Path, ids: dict[str, str]) -> None:
    event = done(db, "interview", ids["judged"], *INTERVIEW, *at(3, 14, 11))
    assert (event["from_state"], event["to_state"]) == ("judged", "interviewed")
    assert event["payload"]["officers"] == ["张伟", "李娜"]
    assert event["payload"]["operator_representatives"] == ["王经理"]
    assert event["payload"]["rectification_deadline"] == "2018-03-28"
    assert event["payload"]["held_at"] == "2018-03-14T10:00:00+08:00"


def test_interview_from_a_payload_file(db: Path, ids: dict[str, str], tmp_path: Path) -> None:
    record = tmp_path / "interview.json"
    record.write_text(json.dumps(interview(local(3, 14)), ensure_ascii=False), encoding="utf-8")
    args = ["--payload", str(record), "--deadline", "2018-03-25", *at(3, 14, 11)]
    event = done(db, "interview", ids["judged"], *args)
    assert event["payload"]["rectification_deadline"] == "2018-03-25"  # the option wins
    assert event["payload"]["officers"] == ["张伟", "李娜"]


def test_interview_refused(db: Path, ids: dict[str, str]) -> None:
    i = INTERVIEW.index("李娜")
    one_officer = [*INTERVIEW[: i - 1], *INTERVIEW[i + 1 :]]
    rejections = refused(db, "interview", ids["judged"], *one_officer, *at(3, 14, 11))
    assert rejections == [("interview_record", "at least 2 distinct officers must attend")]
    rejections = refused(db, "interview", ids["judged_takedown"], *INTERVIEW, *at(3, 14, 11))
    assert rejections == [
        (
            "disposition",
            "an interview needs a judgment of 'interview_rectify'; this one is takedown",
        )
    ]
    early = [*INTERVIEW[:2], "--held-at", "2018-03-11T10:00+08:00", *INTERVIEW[4:]]
    rejections = refused(db, "interview", ids["judged"], *early, *at(3, 14, 11))
    assert codes(rejections) == ["interview_record", "interview_record"]
    assert (
        "recorded as held before the case's previous event (2018-03-12T10:00+08:00)"
        in (rejections[1][1])
    )


def test_interview_bad_dates_are_bad_input(db: Path, ids: dict[str, str]) -> None:
    bad = [*INTERVIEW[:-1], "2018-03-32"]
    out = bad_input(db, "interview", ids["judged"], *bad, *at(3, 14, 11))
    assert "--deadline '2018-03-32' is not a date like 2018-03-28" in out
    naive = ["--notice-at", "2018-03-12T12:00", *INTERVIEW[2:]]
    out = bad_input(db, "interview", ids["judged"], *naive, *at(3, 14, 11))
    assert "notice_at 2018-03-12T12:00:00 has no time zone" in out


PLEDGE = ["--signed-by", "王经理", "--signed-at", "2018-03-14T12:00+08:00"]
PLEDGE += [
    "--commitment",
    "清理违规信息",
    "--commitment",
    "完善审核制度",
    "--deadline",
    "2018-03-28",
]


def test_pledge(db: Path, ids: dict[str, str]) -> None:
    event = done(db, "pledge", ids["interviewed"], *PLEDGE, *at(3, 14, 13))
    assert (event["from_state"], event["to_state"]) == ("interviewed", "pledged")
    assert event["payload"]["commitments"] == ["清理违规信息", "完善审核制度"]
    assert state_of(db, ids["interviewed"])["pledge_deadline"] == "2018-03-28"


def test_pledge_refused(db: Path, ids: dict[str, str]) -> None:
    args = [*PLEDGE[:4], "--deadline", "2018-04-02", *at(3, 14, 11)]
    rejections = refused(db, "pledge", ids["interviewed"], *args)
    assert rejections == [
        ("pledge_record", "the pledge is recorded as signed after the event time"),
        ("pledge_record", "the pledge needs at least one commitment"),
        ("pledge_record", "deadline 2018-04-02 is after the cap 2018-03-31"),
    ]


def test_rectify(db: Path, ids: dict[str, str]) -> None:
    args = ["--verified", "1", "--verified", "完善审核制度", *at(3, 27)]
    event = done(db, "rectify", ids["pledged"], *args)
    assert (event["from_state"], event["to_state"]) == ("pledged", "rectified")
    assert [c["verified"] for c in event["payload"]["checks"]] == [True, True]


def test_rectify_refused(db: Path, ids: dict[str, str]) -> None:
    args = ["--verified", "1", "--not-verified", "2", *at(3, 29)]
    rejections = refused(db, "rectify", ids["pledged"], *args)
    assert rejections == [
        ("rectification", "commitment 2 not verified: 完善审核制度"),
        ("rectification", "verified after the pledge deadline 2018-03-28"),
    ]


# --- escalate, take down, return, refer ----------------------------------------------------------


def test_escalate(db: Path, ids: dict[str, str]) -> None:
    args = ["--ground", "takedown_disposition", "--reason", "研判建议关停", *at(3, 13)]
    event = done(db, "escalate", ids["judged_takedown"], *args)
    assert (event["to_state"], event["reason"]) == ("escalated_for_takedown", "研判建议关停")


def test_escalate_refused(db: Path, ids: dict[str, str]) -> None:
    rejections = refused(db, "escalate", ids["judged"], "--ground", "pledge_refused", *at(3, 13))
    assert codes(rejections) == ["escalation_ground", "reason"]
    assert rejections[1] == ("reason", "escalate needs a reason")
    out = bad_input(db, "escalate", ids["judged"], "--ground", "bored", *at(3, 13))
    assert "Invalid value for '--ground'" in out


def test_take_down(db: Path, ids: dict[str, str]) -> None:
    args = ["--decision-no", "湘网信〔2018〕12号", "--measure", "takedown_and_shutdown", *at(3, 15)]
    event = done(db, "take-down", ids["escalated"], *args, actor="prov")
    assert (event["event"], event["to_state"]) == ("take_down", "taken_down")
    assert event["payload"] == {
        "decision_no": "湘网信〔2018〕12号",
        "measure": "takedown_and_shutdown",
    }


def test_take_down_refused(db: Path, ids: dict[str, str]) -> None:
    rejections = refused(db, "take-down", ids["escalated"], *at(3, 15))
    assert codes(rejections) == ["role", "decision_record"]
    assert "role cac_prefecture may not take_down; roles that may: cac_province" in rejections[0][1]


def test_return_for_rectification(db: Path, ids: dict[str, str]) -> None:
    event = done(db, "return", ids["escalated"], "--reason", "已主动整改", *at(3, 15), actor="prov")
    assert (event["event"], event["from_state"], event["to_state"]) == (
        "return_for_rectification",
        "escalated_for_takedown",
        "interviewed",
    )
    rejections = refused(db, "return", ids["escalated"], *at(3, 15), actor="prov")
    assert rejections == [("state", rejections[0][1]), ("reason", rejections[1][1])]


def test_return_refused_without_a_reason(db: Path, ids: dict[str, str]) -> None:
    rejections = refused(db, "return", ids["escalated"], *at(3, 15), actor="prov")
    assert rejections == [("reason", "return_for_rectification needs a reason")]


def test_refer(db: Path, ids: dict[str, str]) -> None:
    args = ["--authority", "长沙市公安局", "--reason", "涉嫌传播淫秽物品", *at(3, 13)]
    event = done(db, "refer", ids["judged_illegal"], *args)
    assert (event["track"], event["from_state"], event["to_state"]) == (
        "judicial",
        "not_referred",
        "referred_to_judiciary",
    )
    case = state_of(db, ids["judged_illegal"])
    assert (case["state"], case["judicial_state"]) == ("judged", "referred_to_judiciary")


def test_refer_refused(db: Path, ids: dict[str, str]) -> None:
    rejections = refused(db, "refer", ids["judged"], "--reason", "怀疑", *at(3, 13))
    assert rejections == [
        ("suspected_illegal", "no suspected-illegal finding is recorded for this case")
    ]
    rejections = refused(db, "refer", ids["surveyed"], *at(3, 13), actor="zz-edu")
    assert codes(rejections) == ["jurisdiction", "after_judgment", "suspected_illegal", "reason"]


# --- several failures at once --------------------------------------------------------------------


def test_a_refusal_prints_every_failed_guard(db: Path, ids: dict[str, str]) -> None:
    """Wrong state, wrong role and prefecture, after the window, and missing record parts."""
    args = ["--officer", "张伟", *at(4, 10)]
    rejections = refused(db, "interview", ids["flagged"], *args, actor="zz-edu")
    assert codes(rejections) == [
        "state",
        "role",
        "jurisdiction",
        "phase_window",
        *["interview_record"] * 6,
    ]
    messages = [m for _, m in rejections]
    assert messages[0] == "interview is not allowed from flagged (only from judged)"
    assert "at least 2 distinct officers must attend" in messages
    assert "set a rectification deadline" in messages
    assert state_of(db, ids["flagged"])["event_count"] == 2
