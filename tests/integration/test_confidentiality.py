"""A hotline reporter's name and contact (举报人信息) never leave the ``reporters`` table.

Marker values are planted as a reporter -- through the engine (a ``flag`` payload), the
``flag`` command's payload file and ``report hotline`` -- and then every output is scanned
for them: the standard output and error of history, show, list, the reports, every
``audit`` command (text and ``--json``), every file of an exported bundle, the structlog
events captured meanwhile (at debug level), and the messages of the errors raised by
commands that carried a reporter and were refused or malformed.
"""

from __future__ import annotations

import json
import sqlite3
import zipfile
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from structlog.testing import capture_logs

from appcase.bootstrap import open_engine
from appcase.cli import cli
from appcase.clock import FixedClock
from appcase.errors import AppcaseError
from appcase.workflow.export import export_bundle
from appcase.workflow.verify import checkpoint, replay_all, verify
from tests.builders import cli_database, local

MARKER = "举报人甲MARKER-5b1e"
MARKER2 = "MARKER2-13912345678"


def hotline_item(name: str = MARKER, contact: str = MARKER2) -> dict[str, Any]:
    return {
        "harm_category": "vulgar_pornographic",
        "description": "群众举报学习社区出现低俗图片",
        "source": "hotline",
        "reporter": {"name": name, "contact": contact},
    }


def clean(text: str) -> None:
    assert MARKER not in text
    assert MARKER2 not in text
    assert "MARKER" not in text


@pytest.fixture
def planted(tmp_path: Path) -> tuple[Path, dict[str, str], list[dict[str, Any]]]:
    """A campaign with the markers planted three ways; yields the file, the case ids and
    the log events captured while planting (and refusing) them."""
    path, ids = cli_database(tmp_path)
    engine = open_engine(f"sqlite:///{path}", clock=FixedClock(local(4, 30, 12)))
    errors: list[AppcaseError] = []
    with capture_logs() as logs:
        try:
            view = engine.fire(
                ids["surveyed"],
                "flag",
                actor="cs-cac",
                payload={"evidence": [hotline_item()]},
                at=local(3, 1),
            )
            clean(repr(view) + view.model_dump_json())
            attempts: list[tuple[str, str, dict[str, Any]]] = [
                (ids["judged"], "cs-cac", {"evidence": [hotline_item()]}),  # wrong state
                (ids["rectified"], "zz-cac", {"evidence": [hotline_item()]}),  # wrong prefecture
                (ids["rectified"], "cs-cac", {"evidence": [hotline_item(MARKER * 20)]}),  # long
                (
                    ids["rectified"],
                    "cs-cac",
                    {"evidence": [hotline_item() | {"reporter": {"name": MARKER, "x": MARKER2}}]},
                ),
            ]
            for case_id, actor, payload in attempts:
                with pytest.raises(AppcaseError) as caught:
                    engine.fire(case_id, "flag", actor=actor, payload=payload, at=local(3, 1))
                errors.append(caught.value)
        finally:
            engine.close()
    for exc in errors:
        clean(f"{exc} {exc!r} {exc.args!r} {exc.message}")
    payload = tmp_path / "payload.json"
    payload.write_text(json.dumps({"evidence": [hotline_item()]}, ensure_ascii=False), "utf-8")
    flagged = run(path, "flag", ids["flagged"], "--payload", str(payload), actor="cs-cac")
    assert flagged.exit_code == 1  # already flagged: refused, with the reporter in the payload
    flag = run(path, "flag", ids["rectified"], "--payload", str(payload), actor="cs-cac")
    assert flag.exit_code == 1  # after the patrol window: refused
    late = ["--override-reason", "举报晚到", "--at", "2018-03-28T10:00+08:00"]
    flag = run(path, "flag", ids["rectified"], "--payload", str(payload), *late, actor="cs-cac")
    assert flag.exit_code == 0, flag.output
    hotline = run(
        path,
        "report",
        "hotline",
        "--case",
        ids["flagged"],
        "--category",
        "inciting_violence",
        "--description",
        "视频含教唆暴力内容",
        "--reporter-name",
        MARKER,
        "--reporter-contact",
        MARKER2,
        "--at",
        "2018-03-02T10:00+08:00",
        actor="cs-cac",
    )
    assert hotline.exit_code == 0, hotline.output
    for result in (flagged, flag, hotline):
        clean(result.stdout + result.stderr)
    with closing(sqlite3.connect(path)) as conn:
        stored = list(conn.execute("SELECT name, contact FROM reporters"))
        events = "".join(str(r) for r in conn.execute("SELECT * FROM events"))
    assert stored.count((MARKER, MARKER2)) == 3  # the markers really were stored, apart
    clean(events)
    return path, ids, logs


class Out:
    def __init__(self, exit_code: int, stdout: str, stderr: str) -> None:
        self.exit_code, self.stdout, self.stderr = exit_code, stdout, stderr
        self.output = stdout + stderr


def run(path: Path, *args: str, actor: str | None = None, as_json: bool = False) -> Out:
    head = ["--db", str(path), "-vv"] + (["--actor", actor] if actor else [])
    head += ["--json"] if as_json else []
    unset = ("APPCASE_ACTOR", "APPCASE_DATABASE_URL", "APPCASE_CAMPAIGN", "APPCASE_LOG_LEVEL")
    result = CliRunner().invoke(cli, [*head, *args], env=dict.fromkeys(unset))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"appcase {args} crashed") from result.exception
    return Out(result.exit_code, result.stdout, result.stderr)


def test_the_reporter_never_appears_in_any_output(
    planted: tuple[Path, dict[str, str], list[dict[str, Any]]], tmp_path: Path
) -> None:
    path, ids, planting_logs = planted
    flagged = [ids["surveyed"], ids["flagged"], ids["rectified"]]
    bundle = tmp_path / "bundle"
    key = tmp_path / "operator.key"
    commands: list[list[str]] = [
        *(["history", c] for c in flagged),
        *(["show", c] for c in flagged),
        ["show", ids["surveyed"], "--as-of", "2018-03-02T00:00+08:00"],
        ["list"],
        ["list", "--as-of", "2018-03-02T00:00+08:00"],
        ["report", "summary", "--province", "--at", "2018-04-05T12:00+08:00"],
        ["report", "summary", "--province", "--format", "json", "--at", "2018-04-05T12:00+08:00"],
        ["audit", "keygen", "--out", str(key)],
        ["audit", "checkpoint", "--key", str(key)],
        ["audit", "verify", "--public-key", f"{key}.pub"],
        ["audit", "verify", "--case", ids["surveyed"]],
        ["audit", "replay"],
        ["audit", "export", "--out", str(bundle)],
        ["audit", "verify", "--bundle", str(bundle)],
    ]
    with capture_logs() as logs:
        for args in commands:
            for as_json in (False, True):
                if args[1:2] == ["keygen"] and as_json:
                    continue
                if args[1:2] == ["export"]:
                    target = bundle if not as_json else tmp_path / "bundle-json"
                    args = [*args[:-1], str(target)]
                result = run(path, *args, as_json=as_json)
                assert result.exit_code == 0, (args, result.output)
                clean(result.output)
        docx = tmp_path / "summary.docx"
        summary = ["report", "summary", "--province", "--format", "docx", "--out", str(docx)]
        assert run(path, *summary, "--at", "2018-04-05T12:00+08:00").exit_code == 0
        with zipfile.ZipFile(docx) as z:
            for name in z.namelist():
                clean(z.read(name).decode("utf-8", "replace"))
        engine = open_engine(f"sqlite:///{path}", clock=FixedClock(local(5, 1)))
        try:
            checkpoint(engine)
            assert verify(engine).ok
            assert replay_all(engine)[1] == []
            export_bundle(engine, tmp_path / "bundle-lib")
            clean(repr(engine.history(ids["surveyed"])))
            clean(repr(engine.get(ids["surveyed"])))
        finally:
            engine.close()
    for directory in (bundle, tmp_path / "bundle-json", tmp_path / "bundle-lib"):
        files = sorted(directory.iterdir())
        assert len(files) == 5
        for file in files:
            clean(file.read_bytes().decode("utf-8"))
        assert "reporter_ref" in (directory / "events.jsonl").read_text("utf-8")
    assert any(e.get("event") == "audit.export" for e in logs)  # logs were captured at all
    for entry in [*planting_logs, *logs]:
        clean(repr(entry))
