"""``POST /imports/ledger`` answers as ``appcase import ledger`` does: the same report, the
same exit code and status (invalid rows 2 / 400, refused rows 1 / 422), every problem by
row, on two copies of one SQLite file; the answer never names the server's files."""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient

from appcase.bootstrap import init_database, open_engine
from appcase.server import create_app
from appcase.server.imports import XLSX
from tests.builders import USCC, checkpoint, register_actors, run_cli
from tests.server.conftest import issue_tokens

AT = "2018-02-20T09:00:00+08:00"
HEADER = "长沙市教育类APP管理台账\n序号,应用名称,运营单位,统一社会信用代码,分发平台,学校使用,所属市州,摸排时间\n"
GOOD = [
    f"1,星学口算,长沙星学教育科技有限公司,{USCC[0]},应用宝、App Store,是,长沙市,2018-02-21",
    f"2,星学听写,长沙星学教育科技有限公司,{USCC[0]},App Store,否,430100,",
]
BAD = [
    f"3,,长沙星学教育科技有限公司,{USCC[1]},,否,430100,",
    f"5,星学英语,长沙星学教育科技有限公司,{USCC[1]},,也许,439900,2018-02-30",
]


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, TestClient, dict]]:
    directory = tmp_path_factory.mktemp("imports")
    template = directory / "template.sqlite"
    engine = init_database(f"sqlite:///{template}", "hunan-2018")
    register_actors(engine)
    engine.close()
    checkpoint(template)
    cli_db, http_db = directory / "cli.sqlite", directory / "http.sqlite"
    shutil.copyfile(template, cli_db)
    shutil.copyfile(template, http_db)
    engine = open_engine(f"sqlite:///{http_db}")
    try:
        tokens = issue_tokens(engine)
        with TestClient(create_app(engine), raise_server_exceptions=False) as client:
            yield cli_db, client, tokens
    finally:
        engine.close()


def _both(
    faces: tuple[Path, TestClient, dict],
    tmp_path: Path,
    actor: str,
    rows: list[str],
    *options: str,
) -> tuple[tuple[int, Any], tuple[int, Any]]:
    """Import ``rows`` by both faces: (exit code, report or problems), (status, the same)."""
    cli_db, client, tokens = faces
    data = (HEADER + "\n".join(rows) + "\n").encode("utf-8-sig")
    path, problems = tmp_path / "台账.csv", tmp_path / "problems.csv"
    path.write_bytes(data)
    problems.unlink(missing_ok=True)
    args = ["import", "ledger", str(path), "--at", AT, "--report", str(problems), *options]
    result = run_cli(cli_db, *args, actor=actor, as_json=True)
    if result.exit_code == 0:
        by_cli: Any = json.loads(result.stdout) | {"source": None}
    else:
        found = csv.DictReader(problems.read_text(encoding="utf-8-sig").splitlines())
        by_cli = [(int(r["row"]), r["column"], r["problem"]) for r in found]
    r = client.post(
        "/imports/ledger",
        params={"at": AT, "skip_invalid": "--skip-invalid" in options},
        content=data,
        headers={"Authorization": f"Bearer {tokens[actor]}", "Content-Type": "text/csv"},
    )
    body = r.json()
    assert str(tmp_path) not in r.text
    assert "appcase-ledger-" not in r.text  # never the server's temporary files
    if r.status_code == 200:
        assert body["source"] == "upload.csv"
        by_http: Any = body | {"source": None}
    else:
        by_http = [(p["row"], p["column"], p["problem"]) for p in body["rows"]]
    return (result.exit_code, by_cli), (r.status_code, by_http)


def test_imports_answer_as_the_command_line(
    faces: tuple[Path, TestClient, dict], tmp_path: Path
) -> None:
    steps: list[tuple[str, list[str], tuple[str, ...], int, int]] = [
        ("cs-cac", [*GOOD, *BAD], (), 2, 400),  # invalid rows: nothing written
        ("zz-cac", GOOD, (), 1, 422),  # another prefecture's apps: refused
        ("cs-cac", GOOD, (), 0, 200),
        ("cs-cac", GOOD, (), 0, 200),  # again: already listed
        ("cs-cac", [*GOOD, *BAD], ("--skip-invalid",), 0, 200),
    ]
    answers = []
    for actor, rows, options, code, status in steps:
        (cli_code, by_cli), (http_status, by_http) = _both(faces, tmp_path, actor, rows, *options)
        assert (cli_code, http_status) == (code, status), (actor, options, by_cli, by_http)
        assert by_cli == by_http, (actor, options)
        answers.append(by_http)
    assert len(answers[0]) == 4
    assert [r for r, _c, _m in answers[1]] == [3, 4], answers[1]  # both rows refused
    assert (answers[2]["imported"], answers[3]["already_listed"]) == (2, 2)
    assert answers[4]["invalid_rows"] == 2


def test_an_xlsx_body_and_bodies_that_are_no_ledger(faces: tuple[Path, TestClient, dict]) -> None:
    _cli_db, client, tokens = faces
    auth = {"Authorization": f"Bearer {tokens['cs-cac']}"}
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["应用名称", "运营单位", "统一社会信用代码", "所属市州"])
    sheet.append(["星学作文", "长沙星学教育科技有限公司", USCC[2], "430100"])
    buffer = BytesIO()
    book.save(buffer)
    r = client.post(
        "/imports/ledger",
        params={"at": AT},
        content=buffer.getvalue(),
        headers=auth | {"Content-Type": XLSX},
    )
    assert r.status_code == 200, r.text
    assert (r.json()["source"], r.json()["imported"]) == ("upload.xlsx", 1)
    for content, kind in (
        (b"\x00\x01 not a workbook", XLSX),
        (b"a,b\n1,2\n", "text/csv"),
        (b"app_name\n", "application/json"),
    ):
        r = client.post("/imports/ledger", content=content, headers=auth | {"Content-Type": kind})
        assert r.status_code == 400, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "appcase-ledger-" not in r.text
