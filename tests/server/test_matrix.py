"""The role × jurisdiction × event matrix: over HTTP, every answer is the command line's.

Every role of Hunan 2018 (both prefecture offices, the province) in every relation to a
Changsha case (its own prefecture, another prefecture, the province) fires every event
(``survey``, the eleven events of a case, and a hotline report) on a case in the state that event starts
from, with the same payload and instant, once through the command line (click's
``CliRunner``, in process, ``--json``) and once over HTTP (FastAPI's ``TestClient`` on the
application of :func:`appcase.server.create_app`, in process), each on its own copy of one
SQLite file. The two answers must be equal: the exit code and the status it maps to, every
failed guard's code and message in order, and for a success the event written; then every
case of both files must be equal.

The template holds one case per (actor, event), so that no cell changes another's case and
the database is built once.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from appcase.bootstrap import init_database, open_engine
from appcase.server import create_app
from appcase.workflow.engine import CaseEngine
from tests.builders import (
    ACTORS,
    RECTIFIED,
    advance,
    checkpoint,
    interview,
    judgment,
    local,
    pledge,
    register_actors,
    run_cli,
    unique_app,
)
from tests.server.conftest import issue_tokens

RELATION = {
    "cs-cac": "own prefecture",
    "cs-edu": "own prefecture",
    "zz-cac": "other prefecture",
    "zz-edu": "other prefecture",
    "prov": "province",
}
"""Each test actor's relation to the matrix's cases, all of Changsha (430100)."""

CELLS: dict[str, tuple[str, str, dict[str, Any], datetime, str | None]] = {
    # event: (the case's state, the disposition that leads there, payload, at, reason)
    "flag": ("surveyed", "interview_rectify", {"evidence": [{"harm_category": "other",
             "description": "又见低俗图片"}]}, local(2, 21), None),
    "add_evidence": ("flagged", "interview_rectify", {"evidence": [{"harm_category":
                     "inciting_violence", "description": "视频含教唆暴力内容"}]}, local(2, 22), None),
    "judge": ("flagged", "interview_rectify", judgment(), local(3, 12), None),
    "dismiss": ("judged", "no_violation", {}, local(3, 13), None),
    "interview": ("judged", "interview_rectify", interview(local(3, 14)), local(3, 14, 11), None),
    "pledge": ("interviewed", "interview_rectify", pledge(local(3, 14, 12)), local(3, 14, 13),
               None),
    "rectify": ("pledged", "interview_rectify", RECTIFIED, local(3, 27), None),
    "escalate": ("judged", "takedown", {"ground": "takedown_disposition"}, local(3, 13),
                 "研判建议关停"),
    "take_down": ("escalated_for_takedown", "takedown", {"decision_no": "湘网信〔2018〕7号"},
                  local(3, 15), None),
    "return_for_rectification": ("escalated_for_takedown", "takedown", {}, local(3, 15),
                                 "整改后复查"),
    "refer": ("judged", "illegal", {"authority": "长沙市公安局"}, local(3, 13), "涉嫌违法"),
}  # fmt: skip
"""The events of a case, each on a case in the state it starts from, with a payload and an
instant its guards accept from the right officer."""

COMMAND = {"add_evidence": "add-evidence", "take_down": "take-down",
           "return_for_rectification": "return"}  # fmt: skip
EXIT = {201: 0, 422: 1, 400: 2, 404: 2, 409: 3}
"""A status and the exit code that means the same (docs/http.md)."""

SURVEY_AT = local(2, 20, 10)


def survey_app(actor: str) -> dict[str, Any]:
    """A new app of Changsha, one per actor."""
    return unique_app(100 + list(ACTORS).index(actor))


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], dict]:
    """A SQLite file with the test actors, a token for each and one case per (actor, event)
    in that event's starting state; the case ids and the tokens."""
    path = tmp_path_factory.mktemp("matrix") / "template.sqlite"
    engine = init_database(f"sqlite:///{path}", "hunan-2018")  # the system clock, as the CLI
    cases: dict[str, str] = {}
    try:
        register_actors(engine)
        tokens = issue_tokens(engine)
        n = 0
        for actor in ACTORS:
            for event, (state, disposition, *_rest) in CELLS.items():
                view = engine.survey(unique_app(n), actor="cs-cac", at=local(2, 20, 9))
                illegal = disposition == "illegal"
                advance(
                    engine,
                    view.id,
                    state,
                    disposition="interview_rectify" if illegal else disposition,
                    illegal=illegal,
                )
                cases[f"{actor}/{event}"] = view.id
                n += 1
            view = engine.survey(unique_app(n), actor="cs-cac", at=local(2, 20, 9))
            cases[f"{actor}/hotline"] = view.id  # a surveyed case, for a hotline report
            n += 1
    finally:
        engine.close()
    checkpoint(path)
    return path, cases, tokens


@pytest.fixture(scope="module")
def faces(
    template: tuple[Path, dict[str, str], dict], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, TestClient, CaseEngine]]:
    """The command line's copy of the template, and an HTTP client on another copy (with
    the engine behind it: one engine per file in this process, never two)."""
    directory = tmp_path_factory.mktemp("faces")
    cli_db, http_db = directory / "cli.sqlite", directory / "http.sqlite"
    shutil.copyfile(template[0], cli_db)
    shutil.copyfile(template[0], http_db)
    engine = open_engine(f"sqlite:///{http_db}")
    try:
        with TestClient(create_app(engine), raise_server_exceptions=False) as client:
            yield cli_db, client, engine
    finally:
        engine.close()


def _event_answer(view: dict[str, Any]) -> dict[str, Any]:
    """What a written event must agree on (not the recording instant, nor the hash over it;
    a reporter's reference is random: only that there is one)."""
    keep = ("case_id", "seq", "event", "track", "from_state", "to_state", "actor", "payload")
    answer = {k: view.get(k) for k in keep}
    for item in answer["payload"].get("evidence", []):
        if "reporter_ref" in item:
            item["reporter_ref"] = item["reporter_ref"].startswith("R-")
    return answer


def _cli_answer(result: Any, survey: bool) -> tuple[int, list[tuple[str, str]], Any]:
    out = json.loads(result.stdout) if result.stdout.strip() else {}
    if result.exit_code != 0:
        error = out.get("error", {})
        return (
            result.exit_code,
            [(r["code"], r["message"]) for r in error.get("rejections", [])],
            None,
        )
    if survey:
        return 0, [], (out["id"], out["state"], out["version"])
    return 0, [], _event_answer(out)


def _http_answer(response: Any, survey: bool) -> tuple[int, list[tuple[str, str]], Any]:
    body = response.json()
    code = EXIT[response.status_code]
    if code != 0:
        return code, [(r["code"], r["message"]) for r in body.get("rejections") or []], None
    if survey:
        return 0, [], (body["id"], body["state"], body["version"])
    return 0, [], _event_answer(body)


def test_every_answer_over_http_is_the_command_lines(
    template: tuple[Path, dict[str, str], dict], faces: tuple[Path, TestClient, CaseEngine]
) -> None:
    _path, cases, tokens = template
    cli_db, client, http_engine = faces
    answers: dict[tuple[str, str], Any] = {}
    for actor in ACTORS:
        auth = {"Authorization": f"Bearer {tokens[actor]}"}
        new = survey_app(actor)
        by_cli = run_cli(
            cli_db, "survey", "--app", "-", "--at", SURVEY_AT.isoformat(),
            actor=actor, as_json=True, stdin=json.dumps(new),
        )  # fmt: skip
        by_http = client.post(
            "/cases", headers=auth, json={"app": new, "at": SURVEY_AT.isoformat()}
        )
        cell = (RELATION[actor], ACTORS[actor][0], "survey")
        assert _cli_answer(by_cli, True) == _http_answer(by_http, True), cell
        answers[(actor, "survey")] = _cli_answer(by_cli, True)
        for event, (_state, _disp, payload, at, reason) in CELLS.items():
            case_id = cases[f"{actor}/{event}"]
            extra = ["--reason", reason] if reason else []
            by_cli = run_cli(
                cli_db, COMMAND.get(event, event), case_id, "--payload", "-",
                "--at", at.isoformat(), *extra,
                actor=actor, as_json=True, stdin=json.dumps(payload, ensure_ascii=False),
            )  # fmt: skip
            by_http = client.post(
                f"/cases/{case_id}/events/{event}",
                headers=auth,
                json={"payload": payload, "at": at.isoformat(), "reason": reason},
            )
            cell = (RELATION[actor], ACTORS[actor][0], event)
            assert by_http.status_code in EXIT, (cell, by_http.text)
            assert _cli_answer(by_cli, False) == _http_answer(by_http, False), cell
            answers[(actor, event)] = _cli_answer(by_cli, False)
        # a hotline report: a flag of the case, with the reporter kept apart
        case_id, at = cases[f"{actor}/hotline"], local(2, 21).isoformat()
        by_cli = run_cli(
            cli_db, "report", "hotline", "--case", case_id, "--category", "vulgar_pornographic",
            "--description", "学习社区出现低俗图片", "--reporter-name", "张三", "--at", at,
            actor=actor, as_json=True,
        )  # fmt: skip
        by_http = client.post(
            "/hotline-reports",
            headers=auth,
            json={
                "case_id": case_id,
                "harm_category": "vulgar_pornographic",
                "description": "学习社区出现低俗图片",
                "reporter": {"name": "张三"},
                "at": at,
            },
        )
        cell = (RELATION[actor], ACTORS[actor][0], "hotline report")
        assert _cli_answer(by_cli, False) == _http_answer(by_http, False), cell
        answers[(actor, "hotline")] = _cli_answer(by_cli, False)

    # the matrix means something: the right officer succeeds, every other is refused by
    # the permission guards (and the answers name them)
    done = {cell for cell, (code, _r, _v) in answers.items() if code == 0}
    assert done == {
        *{("cs-cac", e) for e in ("survey", "flag", "add_evidence", "interview", "pledge",
                                  "rectify", "escalate", "refer", "hotline")},
        *{("cs-edu", e) for e in ("survey", "flag", "add_evidence", "judge", "dismiss", "refer",
                                  "hotline")},
        *{("prov", e) for e in ("take_down", "return_for_rectification", "refer")},
    }, done  # fmt: skip
    for cell, (code, rejections, _view) in answers.items():
        if cell not in done:
            assert code == 1, cell
            assert {c for c, _m in rejections} & {"role", "jurisdiction"}, (cell, rejections)
    assert any(c == "jurisdiction" for a in answers.values() for c, _m in a[1])

    # and both files hold the same cases
    def summary(engine: CaseEngine) -> list[tuple[Any, ...]]:
        return [
            (v.id, v.state, v.judicial_state, v.version, v.disposition) for v in engine.list_cases()
        ]

    with closing(open_engine(f"sqlite:///{cli_db}")) as cli_engine:
        states = [summary(cli_engine), summary(http_engine)]
    assert states[0] == states[1]
    assert len(states[0]) == len(cases) + 2  # the two surveys that were allowed
