"""The ledger import on a 10,000-row XLSX with 25 planted bad rows (issue 6's done-when)."""

from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from appcase.adapters.ledger_file import COLUMNS, read_ledger
from appcase.cli.exits import exit_code
from appcase.errors import ImportRejected
from appcase.persistence.models import CaseRow
from appcase.states.identifiers import make_uscc
from appcase.workflow.engine import CaseEngine
from appcase.workflow.ledger import import_ledger
from appcase.workflow.verify import verify
from tests.builders import SHANGHAI, local
from tests.dbcheck import orm

ROWS = 10_000
HEADER = [c.name_zh for c in COLUMNS]  # the Chinese headers, as officers write them


def _planted(rng: random.Random) -> dict[int, tuple[str, str]]:
    """Spreadsheet row -> (column, kind of defect): 25 rows, one defect each."""
    kinds = (
        [("uscc", "check")] * 5
        + [("prefecture", "unknown")] * 4
        + [("app_name", "missing")] * 4
        + [("surveyed_at", "date")] * 4
        + [("app_name", "duplicate")] * 4
        + [("used_by_schools", "bool")] * 2
        + [("icp_filing", "icp")] * 2
    )
    rows = rng.sample(range(3, ROWS + 2), len(kinds))  # data rows are 2..10001
    return dict(zip(rows, kinds, strict=True))


def _write_xlsx(path: Path, planted: dict[int, tuple[str, str]], rng: random.Random) -> None:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("台账")
    sheet.append(HEADER)
    previous: list[object] = []
    for row in range(2, ROWS + 2):
        i = row - 2
        uscc = make_uscc(rng, "430100")
        when: object = (
            "2018-02-21"
            if i % 3 == 0
            else datetime(2018, 2, 22)  # a spreadsheet date cell
            if i % 3 == 1
            else "2018-02-23T15:30+08:00"
        )
        values: list[object] = [
            f"学习应用{i:05d}",
            "长沙测试教育科技有限公司",
            uscc,
            f"湘ICP备18{i:06d}号-1",
            "华为应用市场;App Store",
            "小学生",
            "是" if i % 7 == 0 else "否",
            "430100" if i % 2 else "长沙市",
            when,
        ]
        _column, kind = planted.get(row, ("", ""))
        if kind == "check":
            bad = "0" if uscc[-1] != "0" else "1"
            values[2] = uscc[:-1] + bad
        elif kind == "unknown":
            values[7] = "439900"
        elif kind == "missing":
            values[0] = ""
        elif kind == "date":
            values[8] = "2018-02-30"
        elif kind == "duplicate":
            values = list(previous)
        elif kind == "bool":
            values[6] = "也许"
        elif kind == "icp":
            values[3] = "湘ICP备123号"
        sheet.append(values)
        previous = values
    book.save(path)


@pytest.fixture(scope="module")
def ledger_file(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict[int, tuple[str, str]]]:
    rng = random.Random(6)
    planted = _planted(rng)
    path = tmp_path_factory.mktemp("ledger") / "长沙市台账.xlsx"
    _write_xlsx(path, planted, rng)
    return path, planted


def _case_count(engine: CaseEngine) -> int:
    with orm(engine) as repo:
        return int(repo.scalar(select(func.count()).select_from(CaseRow)) or 0)


@pytest.mark.slow
def test_ten_thousand_rows_with_25_bad_ones(
    sqlite_engine: CaseEngine, ledger_file: tuple[Path, dict[int, tuple[str, str]]]
) -> None:
    path, planted = ledger_file

    # all or nothing: exactly the planted rows are reported, with their columns; nothing written
    with pytest.raises(ImportRejected) as refused:
        import_ledger(sqlite_engine, read_ledger(path), actor="cs-cac", at=local(2, 20))
    assert exit_code(refused.value) == 2
    reported = {(row, column) for row, column, _ in refused.value.problems}
    assert reported == {(row, column) for row, (column, _) in planted.items()}
    assert refused.value.invalid_rows == 25
    assert _case_count(sqlite_engine) == 0

    # --skip-invalid: the other 9,975 are surveyed, the 25 reported
    report = import_ledger(
        sqlite_engine, read_ledger(path), actor="cs-cac", at=local(2, 20), skip_invalid=True
    )
    assert (report.rows, report.imported, report.invalid_rows) == (ROWS, ROWS - 25, 25)
    assert {p.row for p in report.problems} == set(planted)
    assert _case_count(sqlite_engine) == ROWS - 25
    assert len(set(report.case_ids)) == ROWS - 25

    # the survey instants: a date reads as 09:00 local, a date cell too, an offset as written
    first = [sqlite_engine.history(cid)[0].occurred_at for cid in report.case_ids[:3]]
    expected = [
        datetime(2018, 2, 21, 9, tzinfo=SHANGHAI),
        datetime(2018, 2, 22, 9, tzinfo=SHANGHAI),
        datetime(2018, 2, 23, 15, 30, tzinfo=SHANGHAI),
    ]
    valid_rows = [r for r in range(2, 5) if r not in planted]
    assert first[: len(valid_rows)] == [expected[r - 2] for r in valid_rows]
    assert verify(sqlite_engine, report.case_ids[-1]).ok

    # importing the same file again changes nothing: every good row is already listed
    again = import_ledger(
        sqlite_engine, read_ledger(path), actor="cs-cac", at=local(2, 20), skip_invalid=True
    )
    assert (again.imported, again.already_listed, again.written) == (0, ROWS - 25, False)
    assert _case_count(sqlite_engine) == ROWS - 25
