"""``appcase report hotline``, ``appcase report summary`` and ``appcase diagram``."""

from __future__ import annotations

import io
import json
from pathlib import Path

import docx
import pytest

from appcase.workflow.engine import CaseEngine
from tests.builders import app, local, run_cli

REPORTER = {"name": "赵举报", "contact": "13700001234"}


@pytest.fixture
def db(sqlite_engine: CaseEngine, sqlite_url: str) -> str:
    sqlite_engine.survey(app(0), actor="cs-cac", at=local(2, 20))
    return sqlite_url


def test_hotline_by_app_name_flags_then_adds_evidence(db: str, tmp_path: Path) -> None:
    reporter = tmp_path / "reporter.json"
    reporter.write_text(json.dumps(REPORTER, ensure_ascii=False), encoding="utf-8")
    args = ["report", "hotline", "--app", app(0)["name"], "--category", "vulgar_pornographic",
            "--description", "学习社区出现低俗图片", "--reporter-file", str(reporter)]  # fmt: skip
    first = run_cli(db, *args, "--at", "2018-03-01T10:00+08:00", actor="cs-cac")
    assert first.exit_code == 0, first.output
    assert "flagged (surveyed → flagged)" in first.stdout
    second = run_cli(db, *args, "--at", "2018-03-02T10:00+08:00", actor="cs-cac", as_json=True)
    assert second.exit_code == 0, second.output
    assert json.loads(second.stdout)["event"] == "add_evidence"
    history = run_cli(db, "history", "HN2018-430100-0001", as_json=True).stdout
    for text in (first.output, second.output, history):
        assert REPORTER["name"] not in text
        assert REPORTER["contact"] not in text


def test_hotline_bad_input_exits_2(db: str) -> None:
    unknown = run_cli(db, "report", "hotline", "--app", "没有这个应用", "--category", "other",
                      "--description", "x", actor="cs-cac")  # fmt: skip
    assert unknown.exit_code == 2
    assert "no app" in unknown.stderr
    both = run_cli(db, "report", "hotline", "--case", "HN2018-430100-0001", "--app", "x",
                   "--category", "other", "--description", "x", actor="cs-cac")  # fmt: skip
    assert both.exit_code == 2


def test_summary_formats_and_usage(db: str, tmp_path: Path) -> None:
    md = run_cli(
        db, "report", "summary", "--prefecture", "430100", "--at", "2018-04-05T18:00+08:00"
    )
    assert md.exit_code == 0, md.output
    assert md.stdout.startswith("# 长沙市教育类移动应用程序专项整治工作总结")
    en = run_cli(db, "report", "summary", "--province", "--lang", "en", "--format", "json")
    assert json.loads(en.stdout)["apps"] == 1
    notes = tmp_path / "notes.txt"
    notes.write_text("建议一。\n\n建议二，\n续写。\n", encoding="utf-8")
    out = tmp_path / "总结.docx"
    written = run_cli(db, "report", "summary", "--province", "--format", "docx", "--out", str(out),
                      "--notes", str(notes))  # fmt: skip
    assert written.exit_code == 0, written.output
    paragraphs = [p.text for p in docx.Document(io.BytesIO(out.read_bytes())).paragraphs]
    assert "建议一。" in paragraphs
    assert "建议二， 续写。" in paragraphs
    assert run_cli(db, "report", "summary", "--format", "md").exit_code == 2
    assert run_cli(db, "report", "summary", "--province", "--format", "docx").exit_code == 2
    assert run_cli(db, "report", "summary", "--prefecture", "439900").exit_code == 2


def test_diagram_needs_no_database(tmp_path: Path) -> None:
    result = run_cli(tmp_path / "none.sqlite", "diagram", "--format", "dot")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("digraph appcase {")
    assert not (tmp_path / "none.sqlite").exists()
