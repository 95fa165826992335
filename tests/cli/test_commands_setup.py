"""Setting up and running a campaign from the command line: ``init``, ``db upgrade``,
``db current``, ``actor add`` / ``list``, ``campaign show``, ``sweep``, ``audit verify`` and
``demo`` (its refusals; the whole demo runs in ``tests/integration/test_demo.py``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from appcase.persistence.db import head_revision
from tests.builders import ADMIN, cli_database, run_cli

INIT_HINT = "run 'appcase init'"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    return cli_database(tmp_path_factory.mktemp("setup"))


@pytest.fixture
def db(template: tuple[Path, dict[str, str]], tmp_path: Path) -> Path:
    path = tmp_path / "cases.sqlite"
    shutil.copyfile(template[0], path)
    return path


@pytest.fixture(scope="module")
def ids(template: tuple[Path, dict[str, str]]) -> dict[str, str]:
    return template[1]


# --- init and the schema --------------------------------------------------------------------------


def test_init_creates_the_database_and_is_idempotent(tmp_path: Path) -> None:
    db = tmp_path / "sub" / "new.sqlite"
    first = run_cli(db, "init")
    assert first.exit_code == 0, first.output
    assert first.stdout == (
        f"database {db} is ready; campaign hunan-2018: "
        "湖南省联合开展教育类移动应用程序专项整治 (湘网信办综〔2018〕1号)\n"
    )
    again = run_cli(db, "init", as_json=True)
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout) == {"database": str(db), "campaign": "hunan-2018"}
    current = run_cli(db, "db", "current", as_json=True)
    assert json.loads(current.stdout) == {"revision": head_revision(), "head": head_revision()}


def test_init_with_a_campaign_file(tmp_path: Path) -> None:
    from importlib import resources

    text = resources.files("appcase.data").joinpath("hunan-2018.toml").read_text("utf-8")
    other = text.replace('id = "hunan-2018"', 'id = "hunan-2019"', 1)
    path = tmp_path / "hunan-2019.toml"
    path.write_text(other, encoding="utf-8")
    db = tmp_path / "c.sqlite"
    result = run_cli(db, "init", "--campaign-file", str(path), as_json=True)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["campaign"] == "hunan-2019"
    # the same id with other content is refused, and the stored campaign stays
    changed = other.replace("min_officers = 2", "min_officers = 3")
    path.write_text(changed, encoding="utf-8")
    refused = run_cli(db, "init", "--campaign-file", str(path))
    assert refused.exit_code == 2
    assert "the database already holds a different campaign 'hunan-2019'" in refused.stderr
    assert "hunan-2019" in run_cli(db, "campaign", "show").stdout


def test_init_refuses_a_bad_campaign_file_naming_the_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('id = "x"\ntimezone = "Mars/Base"\n', encoding="utf-8")
    db = tmp_path / "c.sqlite"
    result = run_cli(db, "init", "--campaign-file", str(path))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: campaign file {path} is not valid:\n")
    assert "  - timezone: unknown IANA time zone 'Mars/Base'" in result.stderr
    assert "  - case_prefix: Field required" in result.stderr
    as_json = json.loads(run_cli(db, "init", "--campaign-file", str(path), as_json=True).stdout)
    assert as_json["error"]["type"] == "CampaignFileError"
    missing = run_cli(db, "init", "--campaign-file", str(tmp_path / "none.toml"))
    assert missing.exit_code == 2
    assert "cannot read it: No such file or directory" in missing.stderr


def test_db_upgrade_and_current_on_an_empty_database(tmp_path: Path) -> None:
    db = tmp_path / "empty.sqlite"
    before = run_cli(db, "db", "current")
    assert before.exit_code == 0, before.output
    assert before.stdout == f"at (empty); newest {head_revision()}\n"
    up = run_cli(db, "db", "upgrade")
    assert up.exit_code == 0, up.output
    assert up.stdout == f"database at revision {head_revision()}\n"
    assert json.loads(run_cli(db, "db", "upgrade", as_json=True).stdout) == {
        "revision": head_revision()
    }
    # a schema without a campaign is not ready for cases
    show = run_cli(db, "campaign", "show")
    assert show.exit_code == 2
    assert INIT_HINT in show.stderr


@pytest.mark.parametrize("command", [["db", "upgrade"], ["db", "current"], ["init"]])
def test_db_commands_refuse_an_unsupported_database(tmp_path: Path, command: list[str]) -> None:
    result = run_cli("mysql://root@localhost/appcase", *command)
    assert result.exit_code == 2
    assert "database 'mysql' is not supported; use sqlite:///FILE or postgresql://" in (
        result.stderr
    )


@pytest.mark.parametrize(
    "command",
    [
        ["actor", "list"],
        ["actor", "add", "cs-cac", "--role", "cac_prefecture", "--jurisdiction", "430100"],
        ["campaign", "show"],
        ["show", "HN2018-430100-0001"],
        ["list"],
        ["history", "HN2018-430100-0001"],
        ["sweep", "--at", "2018-04-01T00:00+08:00"],
        ["audit", "verify"],
        ["flag", "HN2018-430100-0001", "--category", "other", "--description", "x"],
        ["survey", "--name", "x"],
    ],
)
def test_a_database_not_initialised_says_run_init(tmp_path: Path, command: list[str]) -> None:
    empty = tmp_path / "empty.sqlite"
    assert run_cli(empty, "db", "current").exit_code == 0  # creates an empty file
    result = run_cli(empty, *command, actor="cs-cac")
    assert result.exit_code == 2, result.output
    assert result.stderr == "error: the database has no appcase schema; run 'appcase init' first\n"


@pytest.mark.parametrize("command", [["list"], ["show", "HN2018-430100-0001"], ["audit", "verify"]])
def test_a_mistyped_database_path_leaves_no_file_behind(tmp_path: Path, command: list[str]) -> None:
    """Regression: a reading command on a missing SQLite file created it (and its folder)."""
    missing = tmp_path / "typo" / "cases.sqlite"
    result = run_cli(missing, *command)
    assert result.exit_code == 2, result.output
    assert result.stderr == f"error: there is no database at {missing}; run 'appcase init' first\n"
    assert not missing.parent.exists()


# --- actors and the campaign ---------------------------------------------------------------------


def test_actor_add_and_list(db: Path) -> None:
    added = run_cli(
        db,
        "actor",
        "add",
        "xt-cac",
        "--role",
        "cac_prefecture",
        "--jurisdiction",
        "430300",
        "--name",
        "湘潭市网信办",
        actor=ADMIN,
    )
    assert added.exit_code == 0, added.output
    assert added.stdout == "actor xt-cac: cac_prefecture in 430300\n"
    again = run_cli(
        db,
        "actor",
        "add",
        "xt-cac",
        "--role",
        "cac_prefecture",
        "--jurisdiction",
        "430300",
        as_json=True,
        actor=ADMIN,
    )
    assert json.loads(again.stdout) == {
        "id": "xt-cac",
        "role": "cac_prefecture",
        "jurisdiction": "430300",
        "name": "湘潭市网信办",
    }
    listed = run_cli(db, "actor", "list")
    assert listed.exit_code == 0
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["id", "role", "jurisdiction", "name"]
    assert any(
        line.split() == ["xt-cac", "cac_prefecture", "430300", "湘潭市网信办"] for line in lines
    )
    as_json = json.loads(run_cli(db, "actor", "list", as_json=True).stdout)
    ids = ["admin", "cs-cac", "cs-edu", "prov", "xt-cac", "zz-cac", "zz-edu"]
    assert [a["id"] for a in as_json] == ids
    assert all(set(a) == {"id", "role", "jurisdiction", "name"} for a in as_json)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["x1", "--role", "mayor", "--jurisdiction", "430100"], "role 'mayor' is not declared"),
        (
            ["x1", "--role", "cac_province", "--jurisdiction", "430100"],
            "its jurisdiction must be 430000, not 430100",
        ),
        (
            ["x1", "--role", "cac_prefecture", "--jurisdiction", "440100"],
            "440100 is not a prefecture of this campaign",
        ),
        (
            ["cs-cac", "--role", "edu_prefecture", "--jurisdiction", "430100"],
            "actor cs-cac is already registered as cac_prefecture in 430100; choose another id",
        ),
        (["system", "--role", "cac_province", "--jurisdiction", "430000"], "system actor"),
        (["two words", "--role", "cac_prefecture", "--jurisdiction", "430100"], "no spaces"),
        (["x1", "--jurisdiction", "430100"], "Missing option '--role'"),
        (["x1", "--role", "cac_prefecture"], "give the jurisdiction (a GB/T 2260 code) of x1"),
        (["x1", "--role", "administrator", "--jurisdiction", "430100"], "holds the province's"),
    ],
)
def test_actor_add_refused(db: Path, args: list[str], message: str) -> None:
    result = run_cli(db, "actor", "add", *args, actor=ADMIN)
    assert result.exit_code == 2, result.output
    assert message in result.output
    listed = json.loads(run_cli(db, "actor", "list", as_json=True).stdout)
    assert len(listed) == 6


def test_campaign_show(db: Path) -> None:
    text = run_cli(db, "campaign", "show")
    assert text.exit_code == 0, text.output
    out = text.stdout
    assert out.startswith("hunan-2018: 湖南省联合开展教育类移动应用程序专项整治\n")
    assert "湘网信办综〔2018〕1号, issued 2018-02-13" in out
    assert "time zone Asia/Shanghai" in out
    assert "survey    摸排巡查  2018-02-13  2018-03-10" in out
    assert "433100 湘西土家族苗族自治州" in out
    as_json = json.loads(run_cli(db, "campaign", "show", as_json=True).stdout)
    assert as_json["id"] == "hunan-2018"
    assert len(as_json["prefectures"]) == 14
    assert as_json["windows"]["flag"] == ["survey"]
    assert {"phases", "roles", "harm_categories", "policy", "timezone"} <= set(as_json)


def test_campaign_show_refuses_an_unknown_campaign(db: Path) -> None:
    result = run_cli(db, "--campaign", "nowhere-2030", "campaign", "show")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: campaign 'nowhere-2030' is not in the database (it holds: hunan-2018); "
        "run 'appcase init'\n"
    )
    by_id = run_cli(db, "--campaign", "hunan-2018", "campaign", "show")
    assert by_id.exit_code == 0, by_id.output


# --- sweep ---------------------------------------------------------------------------------------


def test_sweep_escalates_overdue_pledges_once(db: Path, ids: dict[str, str]) -> None:
    before = run_cli(db, "sweep", "--at", "2018-03-28T23:59+08:00")
    assert before.exit_code == 0, before.output
    assert "0 escalated" in before.stdout
    swept = run_cli(db, "sweep", "--at", "2018-03-29T00:00+08:00")
    assert swept.exit_code == 0, swept.output
    assert f"{ids['pledged']}  escalated" in swept.stdout
    assert "sweep at 2018-03-29T00:00:00+08:00: 1 escalated, 0 refused, 0 conflicts" in swept.stdout
    again = run_cli(db, "sweep", "--at", "2018-03-29T00:00+08:00", as_json=True)
    assert again.exit_code == 0, again.output
    body = json.loads(again.stdout)
    assert set(body) == {"report", "outcomes"}
    assert body["report"]["escalated"] == 0
    assert body["outcomes"] == []
    history = json.loads(run_cli(db, "history", ids["pledged"], as_json=True).stdout)
    last = history[-1]
    assert (last["event"], last["actor"], last["role"]) == ("escalate", "system", "system")
    assert (last["reason"], last["payload"]) == (
        "rectification overdue",
        {"ground": "rectification_overdue"},
    )


def test_sweep_after_the_judgment_deadline_reports_unjudged_cases(
    db: Path, ids: dict[str, str]
) -> None:
    result = run_cli(db, "sweep", "--at", "2018-04-01T00:00+08:00", as_json=True)
    assert result.exit_code == 0, result.output
    outcomes = {o["case_id"]: o for o in json.loads(result.stdout)["outcomes"]}
    assert outcomes[ids["flagged"]]["status"] == "unjudged"
    assert outcomes[ids["flagged"]]["detail"] == "flagged, not judged by 2018-03-31"
    assert outcomes[ids["pledged"]]["status"] == "escalated"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "Missing option '--at'"),
        (["--at", "2018-04-01T00:00"], "has no time zone"),
        (["--at", "April Fools"], "is not an ISO 8601 date and time"),
        (["--at", "2018-04-01T00:00+08:00", "--batch-size", "0"], "--batch-size"),
    ],
)
def test_sweep_refuses_bad_input(db: Path, args: list[str], message: str) -> None:
    result = run_cli(db, "sweep", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output


# --- audit verify --------------------------------------------------------------------------------


def test_audit_verify(db: Path, ids: dict[str, str]) -> None:
    result = run_cli(db, "audit", "verify")
    assert result.exit_code == 0, result.output
    events = sum(
        json.loads(run_cli(db, "show", cid, as_json=True).stdout)["event_count"]
        for cid in ids.values()
    )
    assert result.stdout.startswith(f"ok: {len(ids)} cases, {events} events")
    one = run_cli(db, "audit", "verify", "--case", ids["pledged"], as_json=True)
    assert one.exit_code == 0, one.output
    report = json.loads(one.stdout)
    assert (report["cases"], report["events"], report["problems"]) == (1, 5, [])


def test_audit_verify_of_an_unknown_case_is_bad_input(db: Path) -> None:
    result = run_cli(db, "audit", "verify", "--case", "HN2018-430100-9999")
    assert result.exit_code == 2
    assert "no case 'HN2018-430100-9999'" in result.stderr


# --- demo (refusals; it runs in tests/integration/test_demo.py) ----------------------------------


def test_demo_refuses_bad_options(tmp_path: Path) -> None:
    result = run_cli(tmp_path / "unused.sqlite", "demo", "--out", str(tmp_path))
    assert result.exit_code == 2
    assert "is a directory" in result.output
    result = run_cli(tmp_path / "unused.sqlite", "demo", "--seed", "many")
    assert result.exit_code == 2
    assert "'many' is not a valid integer" in result.output
    assert not (tmp_path / "unused.sqlite").exists()
