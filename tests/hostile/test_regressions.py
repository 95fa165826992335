"""One regression test per class of hostile input that once printed a traceback, hung or
wrote before checking (issue 13); each fails on the code before its fix."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

import appcase.workflow.views
from appcase.adapters.ledger_file import write_template
from appcase.cli.crash import INTERNAL_ERROR
from appcase.errors import InvalidInput, LibraryError, library_call
from appcase.limits import MAX_PAYLOAD_FILE_BYTES, read_bounded
from tests.builders import cli_database
from tests.hostile.harness import Target, invoke

AT = ["--at", "2018-03-01T10:00+08:00"]
S = "\udcff"  # how Python passes a byte that is not UTF-8 in an argument


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    return cli_database(tmp_path_factory.mktemp("regressions"))


@pytest.fixture
def target(template: tuple[Path, dict[str, str]], tmp_path: Path) -> Target:
    db = tmp_path / "cases.sqlite"
    shutil.copyfile(template[0], db)
    return Target(db)


@pytest.fixture
def case(template: tuple[Path, dict[str, str]]) -> str:
    return template[1]["surveyed"]


@pytest.mark.parametrize(
    "args",
    [
        ["show", f"X{S}"],
        ["audit", "verify", "--case", f"X{S}"],
        ["list", "--text", f"a{S}"],
        ["--actor", "cs-cac", "escalate", "X", "--reason", f"r{S}"],
        ["actor", "add", "zz", "--role", "cac_prefecture", "--jurisdiction", "430100", "--name", S],
        [f"--campaign={S}", "list"],
    ],
)
def test_arguments_that_are_not_utf8_are_bad_input(target: Target, args: list[str]) -> None:
    result = target.run("regression", args, codes={2})
    assert "not valid UTF-8" in result.output


def test_a_database_option_that_is_not_utf8(tmp_path: Path) -> None:
    result = invoke(["--db", f"{tmp_path}/x{S}.sqlite", "init"])
    assert result.exit_code == 2
    assert "not valid UTF-8" in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("db", "message"),
    [
        ("/etc/passwd", "is not a SQLite database"),
        ("/proc/self/x/cases.sqlite", ""),
        ("/proc/version", "is not a SQLite database"),
        ("/dev/null", "not a regular file"),
        ("a" * 300 + ".sqlite", "File name too long"),
        ("postgresql://u@[::1/db", "cannot be parsed"),
        ("postgresql://u@h:99999999/db", "not between 1 and 65535"),
        ("{tmp}", "is a folder"),
        ("", "--db is empty"),  # once fell back to the default database silently
    ],
)
@pytest.mark.parametrize("command", [["list"], ["init"], ["db", "current"]])
def test_database_paths_that_cannot_be_a_database(
    tmp_path: Path, db: str, message: str, command: list[str]
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        result = invoke(["--db", db.format(tmp=work), *command])
    assert result.exit_code == 2, result.output
    if command != ["db", "current"] or "postgresql" not in db:
        assert message in result.output, result.output
    assert list(work.iterdir()) == [], "a refused command created a file"


def test_a_failed_init_leaves_no_file_and_no_folder(tmp_path: Path) -> None:
    campaign = tmp_path / "bad.toml"
    campaign.write_text("id = 'x'\n", encoding="utf-8")
    result = invoke(
        ["--db", str(tmp_path / "new" / "c.sqlite"), "init", "--campaign-file", str(campaign)]
    )
    assert result.exit_code == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.toml"]


PAYLOADS = {
    "deep": "[" * 100_000 + "]" * 100_000,
    "deep-but-parsable": '{"evidence": ' + "[" * 200 + "]" * 200 + "}",
    "5000 digits": '{"evidence": [{"harm_category": "other", "description": "x", "n": '
    + "9" * 5000
    + "}]}",
    "NaN": '{"evidence": [{"harm_category": "other", "description": "x", "n": NaN}]}',
    "lone surrogate": '{"evidence": [{"harm_category": "other", "description": "\\udcff"}]}',
}


@pytest.mark.parametrize("name", sorted(PAYLOADS))
def test_payload_numbers_and_depth(target: Target, case: str, tmp_path: Path, name: str) -> None:
    path = tmp_path / "payload.json"
    path.write_text(PAYLOADS[name], encoding="utf-8")
    result = target.run(
        "regression", ["--actor", "cs-cac", "flag", case, "--payload", str(path), *AT], codes={2}
    )
    assert "limit" in result.output or "JSON" in result.output or "UTF-8" in result.output


CAMPAIGNS = {
    "deep": "a = " + "[" * 100_000 + "]" * 100_000,
    "5000 digits": "a = " + "9" * 5000,
    "inf": "a = inf",
    "days overflow": "[policy.deadlines]\npledge_default_days = 999999999999\n",
}


@pytest.mark.parametrize("name", sorted(CAMPAIGNS))
@pytest.mark.parametrize("command", ["init", "policy"])
def test_campaign_numbers_and_depth(
    target: Target, tmp_path: Path, name: str, command: str
) -> None:
    from importlib import resources

    from appcase.data import __name__ as data  # noqa: F401  (the package holds the built-in)

    text = CAMPAIGNS[name]
    if name == "days overflow":
        text = resources.files("appcase.data").joinpath("hunan-2018.toml").read_text("utf-8")
        text = text.replace("pledge_default_days = 10", "pledge_default_days = 999999999999")
        assert "999999999999" in text
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    args = (
        ["init", "--campaign-file", str(path)]
        if command == "init"
        else ["policy", "explain", "--campaign-file", str(path), "--finding", "other:minor"]
    )
    result = target.run("regression", args, codes={2})
    assert "campaign file" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["--actor", "cs-cac", "flag", "{case}", "--payload", "/dev/zero", *AT],
        ["--actor", "cs-cac", "import", "ledger", "/dev/zero.csv"],
        ["init", "--campaign-file", "/dev/zero"],
        ["policy", "explain", "--campaign-file", "/dev/zero", "--finding", "other:minor"],
        ["audit", "checkpoint", "--key", "/dev/zero"],
        ["audit", "checkpoint", "--hmac-key", "/dev/zero"],
        ["audit", "verify", "--public-key", "/dev/zero"],
        ["report", "summary", "--province", "--notes", "/dev/zero"],
        ["--actor", "cs-cac", "flag", "{case}", "--payload", "-", *AT],
    ],
)
def test_endless_files_are_refused_quoting_the_limit(
    target: Target, case: str, args: list[str]
) -> None:
    args = [a.replace("{case}", case) for a in args]
    stdin = b"0" * (MAX_PAYLOAD_FILE_BYTES + 10) if "-" in args else None
    result = target.run("regression", args, stdin=stdin, codes={2})
    assert "limit" in result.output or "regular file" in result.output or "No such" in result.output


def test_read_bounded_reads_no_more_than_the_limit_of_an_endless_file() -> None:
    with pytest.raises(InvalidInput, match="MAX_PAYLOAD_FILE_BYTES"):
        read_bounded("/dev/zero", MAX_PAYLOAD_FILE_BYTES, "payload file")


def _workbook(tmp_path: Path, name: str, edit: object) -> Path:
    good = tmp_path / "template.xlsx"
    write_template(good)
    out = tmp_path / f"{name}.xlsx"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.namelist():
            data = src.read(item)
            if item == "xl/worksheets/sheet1.xml":
                data = edit(data)  # type: ignore[operator]
            dst.writestr(item, data)
    return out


ROW = (
    '<row r="2"><c r="A2" t="inlineStr"><is><t>{name}</t></is></c>'
    '<c r="B2" t="inlineStr"><is><t>op</t></is></c><c r="C2"><v>{v}</v></c>'
    '<c r="H2"><v>{v}</v></c></row></sheetData>'
)
BOMB = (
    '<!DOCTYPE w [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
)


def _row(v: str, name: str = "X") -> object:
    return lambda d: d.replace(b"</sheetData>", ROW.format(v=v, name=name).encode())


SHEETS = {
    "broken XML": lambda d: d[: len(d) // 2],
    "entities": lambda d: d.replace(b"?>", b"?>" + BOMB.encode(), 1).replace(
        b"<t>app_name</t>", b"<t>app_name&d;</t>"
    ),
    "INF": _row("INF"),
    "NaN": _row("NaN"),
    "1e400": _row("1e400"),
    "cell too long": _row("1", "x" * 20_000),
}


@pytest.mark.parametrize("name", sorted(SHEETS))
def test_damaged_spreadsheets_are_bad_input(target: Target, tmp_path: Path, name: str) -> None:
    path = _workbook(tmp_path, name.replace(" ", "-"), SHEETS[name])
    result = target.run(
        "regression", ["--actor", "cs-cac", "import", "ledger", str(path), *AT], codes={1, 2}
    )
    assert result.exit_code == 2 or name == "1e400", result.output
    assert " 0 rows" not in result.output, "rows beyond a stale sheet dimension were dropped"


def test_a_truncated_workbook_is_bad_input(target: Target, tmp_path: Path) -> None:
    good = tmp_path / "t.xlsx"
    write_template(good)
    data = good.read_bytes()
    for cut in (10, len(data) // 3, len(data) * 2 // 3, len(data) - 30):
        (tmp_path / "cut.xlsx").write_bytes(data[:cut])
        target.run(
            "regression",
            ["--actor", "cs-cac", "import", "ledger", str(tmp_path / "cut.xlsx")],
            codes={2},
        )


def test_a_name_with_a_line_break_cannot_forge_a_row(target: Target) -> None:
    forged = "星学\nHN2018-430100-9999  forged"
    result = target.run(
        "regression",
        [
            "--actor",
            "cs-cac",
            "survey",
            "--name",
            forged,
            "--operator",
            "o",
            "--uscc",
            "914403001922038216",
            "--prefecture",
            "430100",
            "--at",
            "2018-02-20T10:00+08:00",
        ],
        codes={1, 2},
    )
    assert "one line" in result.output
    target.run(
        "regression",
        [
            "actor",
            "add",
            "zz",
            "--role",
            "cac_prefecture",
            "--jurisdiction",
            "430100",
            "--name",
            "a\nb",
        ],
        codes={2},
    )


def test_stored_control_characters_are_shown_escaped(target: Target) -> None:
    import sqlite3

    with sqlite3.connect(target.db) as conn:
        conn.execute(
            "UPDATE apps SET name = name || char(10) || 'HN2018-430100-9999 forged' || char(27) || '[2J'"
        )
    result = invoke(["--db", str(target.db), "list"])
    assert result.exit_code == 0
    assert "\nHN2018-430100-9999" not in result.output
    assert "\x1b" not in result.output
    assert "\\nHN2018-430100-9999 forged\\x1b[2J" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["nosuch"],
        ["list", "--bogus"],
        ["show"],
        ["list", "--state", "nope"],
        ["sweep", "--at", "yesterday"],
        ["show", f"X{S}"],
    ],
)
def test_with_json_every_error_is_json(target: Target, args: list[str]) -> None:
    result = target.run("regression", ["--json", *args], codes={2})
    body = json.loads(result.stdout)
    assert body["error"]["message"]


@pytest.mark.parametrize("out", ["/dev/null", "", "/proc/appcase-bundle", "{file}", "{full}"])
def test_export_checks_its_folder_before_the_checkpoint(
    target: Target, tmp_path: Path, out: str
) -> None:
    (tmp_path / "file").write_text("x", encoding="utf-8")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x", encoding="utf-8")
    out = out.format(file=tmp_path / "file", full=tmp_path / "full")
    target.run("regression", ["audit", "export", "--checkpoint", "--out", out], codes={2})


def test_a_library_error_is_wrapped_with_its_cause() -> None:
    with pytest.raises(LibraryError) as caught, library_call("rendering"):
        raise KeyError("x")
    assert isinstance(caught.value.cause, KeyError)
    assert caught.value.__cause__ is caught.value.cause
    with pytest.raises(InvalidInput), library_call("anything"):
        raise InvalidInput("appcase's own errors pass unchanged")


def test_a_failing_docx_renderer_is_a_library_error(
    target: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import appcase.adapters.render

    def broken(*_args: object, **_kw: object) -> bytes:
        raise ZeroDivisionError("planted")

    monkeypatch.setattr(appcase.adapters.render, "render", broken)
    result = target.run(
        "regression",
        [
            "report",
            "summary",
            "--province",
            "--format",
            "docx",
            "--out",
            str(tmp_path / "r.docx"),
            *AT,
        ],
        codes={2},
    )
    assert "rendering the docx report failed: ZeroDivisionError: planted" in result.output


def test_the_last_line_of_defence(
    target: Target, case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A planted fault in a public function: one line, a report file, exit 70."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))

    def planted(*_args: object, **_kw: object) -> object:
        raise RuntimeError("planted fault")

    monkeypatch.setattr(appcase.workflow.views, "case_view", planted, raising=False)
    monkeypatch.setattr("appcase.workflow.engine.CaseEngine.get", planted)
    result = invoke(["--db", str(target.db), "show", case, "--reporter-secret-never-logged"][:4])
    assert result.exit_code == INTERNAL_ERROR, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert "internal error: 'appcase show' failed (RuntimeError: planted fault)" in lines[0]
    assert "please report it" in lines[0]
    reports = list((tmp_path / "state" / "appcase" / "crash-reports").iterdir())
    assert len(reports) == 1
    assert str(reports[0]) in lines[0]
    text = reports[0].read_text(encoding="utf-8")
    assert "Traceback" in text
    assert "planted fault" in text
    assert case not in text
    json_result = invoke(["--db", str(target.db), "--json", "show", case])
    assert json_result.exit_code == INTERNAL_ERROR
    assert json.loads(json_result.stdout)["error"]["type"] == "InternalError"
