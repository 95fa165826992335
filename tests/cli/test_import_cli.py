"""``appcase import ledger``: templates, all-or-nothing imports, reports, exit codes."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import openpyxl
import pytest

from appcase.adapters.ledger_file import COLUMNS
from appcase.workflow.engine import CaseEngine
from tests.builders import USCC, run_cli

AT = "2018-02-20T09:00+08:00"
HEADER = "长沙市教育类APP管理台账\n序号,应用名称,运营单位,统一社会信用代码,分发平台,学校使用,所属市州,摸排时间\n"
GOOD = [
    f"1,星学口算,长沙星学教育科技有限公司,{USCC[0]},应用宝、App Store,是,长沙市,2018-02-21",
    f"2,星学听写,长沙星学教育科技有限公司,{USCC[0]},App Store,否,430100,",
]


@pytest.fixture
def db(sqlite_engine: CaseEngine, sqlite_url: str) -> str:
    return sqlite_url


def _file(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "台账.csv"
    path.write_text(HEADER + "\n".join(rows) + "\n", encoding="utf-8-sig")
    return path


def _cases(db: str) -> list[dict[str, object]]:
    result = run_cli(db, "list", as_json=True)
    assert result.exit_code == 0, result.output
    return list(json.loads(result.stdout))


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_template_has_the_documented_headers_and_imports_as_empty(
    db: str, tmp_path: Path, suffix: str
) -> None:
    path = tmp_path / f"template{suffix}"
    assert run_cli(db, "import", "ledger", "--template", str(path)).exit_code == 0
    if suffix == ".csv":
        header = next(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    else:
        sheet = openpyxl.load_workbook(path).worksheets[0]
        header = [c.value for c in sheet[1]]
    assert header == [c.name for c in COLUMNS]
    result = run_cli(db, "import", "ledger", str(path), actor="cs-cac")
    assert result.exit_code == 0, result.output
    assert "0 rows" in result.stdout


def test_chinese_headers_a_title_row_and_twice_the_same_file(db: str, tmp_path: Path) -> None:
    path = _file(tmp_path, *GOOD)
    first = run_cli(db, "import", "ledger", str(path), "--at", AT, actor="cs-cac", as_json=True)
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert (report["imported"], report["ignored_columns"]) == (2, ["序号"])
    cases = _cases(db)
    assert [c["app"]["name"] for c in cases] == ["星学口算", "星学听写"]  # type: ignore[index]
    assert cases[0]["app"]["platforms"] == ["应用宝", "App Store"]  # type: ignore[index]
    again = run_cli(db, "import", "ledger", str(path), "--at", AT, actor="cs-cac")
    assert again.exit_code == 0, again.output
    assert "0 apps surveyed, 2 already listed" in again.stdout
    assert len(_cases(db)) == 2


def test_bad_rows_write_nothing_and_are_all_reported(db: str, tmp_path: Path) -> None:
    bad_uscc = USCC[1][:-1] + ("0" if USCC[1][-1] != "0" else "1")
    path = _file(
        tmp_path,
        *GOOD,
        f"3,,长沙星学教育科技有限公司,{USCC[1]},,否,430100,",
        f"4,星学作文,长沙星学教育科技有限公司,{bad_uscc},,否,430100,",
        f"5,星学英语,长沙星学教育科技有限公司,{USCC[1]},,也许,439900,2018-02-30",
    )
    report = tmp_path / "problems.csv"
    result = run_cli(
        db, "import", "ledger", str(path), "--at", AT, "--report", str(report), actor="cs-cac"
    )
    assert result.exit_code == 2, result.output
    assert "row 5, app_name" in result.stderr
    assert _cases(db) == []
    rows = list(csv.DictReader(report.read_text(encoding="utf-8-sig").splitlines()))
    assert [(r["row"], r["column"]) for r in rows] == [
        ("5", "app_name"),
        ("6", "uscc"),
        ("7", "used_by_schools"),
        ("7", "prefecture"),
        ("7", "surveyed_at"),
    ]
    skipped = run_cli(
        db, "import", "ledger", str(path), "--at", AT, "--skip-invalid", actor="cs-cac"
    )
    assert skipped.exit_code == 0, skipped.output
    assert len(_cases(db)) == 2


def test_guard_refusals_exit_1_and_an_override_lets_late_rows_in(db: str, tmp_path: Path) -> None:
    path = _file(tmp_path, GOOD[1])
    other = run_cli(db, "import", "ledger", str(path), "--at", AT, actor="zz-cac")
    assert other.exit_code == 1, other.output
    assert "[jurisdiction]" in other.stderr
    late = run_cli(
        db, "import", "ledger", str(path), "--at", "2018-03-15T09:00+08:00", actor="cs-cac"
    )
    assert late.exit_code == 1
    assert "[phase_window]" in late.stderr
    ok = run_cli(
        db, "import", "ledger", str(path), "--at", "2018-03-15T09:00+08:00",
        "--override-reason", "补录遗漏的应用", actor="cs-cac",
    )  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert len(_cases(db)) == 1


def test_unreadable_files_are_bad_input(db: str, tmp_path: Path) -> None:
    wrong = tmp_path / "ledger.txt"
    wrong.write_text("x", encoding="utf-8")
    assert run_cli(db, "import", "ledger", str(wrong), actor="cs-cac").exit_code == 2
    headless = tmp_path / "ledger.csv"
    headless.write_text("a,b\n1,2\n", encoding="utf-8")
    result = run_cli(db, "import", "ledger", str(headless), actor="cs-cac")
    assert result.exit_code == 2
    assert "no header row" in result.stderr
