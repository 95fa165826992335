"""A real ``appcase serve`` process on 127.0.0.1, driven with plain HTTP (httpx and a raw
socket, no appcase import in the client's code): a case played from survey to takedown by
following the feed, two clients firing the same transition at once, a retry after a
dropped connection, the access log, and a graceful stop."""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.conftest import Live, running_server, served_database, server_process

pytestmark = [pytest.mark.slow]  # a real server process; left out of the fast run

APP = {
    "name": "远程口算",
    "operator": "长沙远程教育科技有限公司",
    "uscc": "91440300708461136T",
    "prefecture": "430100",
}


def _post(live: Live, actor: str, path: str, body: dict[str, Any], **headers: str) -> Any:
    return httpx.post(live.url + path, json=body, headers=live.auth(actor) | headers, timeout=30)


def test_a_client_plays_one_case_to_takedown_following_the_feed(live_server: Live) -> None:
    live = live_server
    feed = httpx.get(f"{live.url}/events", headers=live.auth("prov"), timeout=30).json()
    cursor = feed["next_after"]
    r = _post(live, "cs-cac", "/cases", {"app": APP, "at": "2018-02-20T10:00:00+08:00"})
    assert r.status_code == 201, r.text
    case = r.json()["id"]
    assert r.headers["location"] == f"/cases/{case}"
    steps = {  # what each office does when the feed says the case reached a state
        "surveyed": (
            "cs-cac",
            "flag",
            {"evidence": [{"harm_category": "vulgar_pornographic", "description": "低俗图片"}]},
            "2018-02-21T10:00:00+08:00",
            None,
        ),
        "flagged": (
            "cs-edu",
            "judge",
            {
                "findings": [
                    {
                        "harm_category": "vulgar_pornographic",
                        "severity": "severe",
                        "evidence_refs": [1],
                    }
                ],
                "disposition": "takedown",
            },
            "2018-03-12T10:00:00+08:00",
            None,
        ),
        "judged": (
            "cs-cac",
            "escalate",
            {"ground": "takedown_disposition"},
            "2018-03-13T10:00:00+08:00",
            "研判建议关停",
        ),
        "escalated_for_takedown": (
            "prov",
            "take_down",
            {"decision_no": "湘网信〔2018〕9号"},
            "2018-03-15T10:00:00+08:00",
            None,
        ),
    }
    seen: list[str] = []
    while "taken_down" not in seen:
        page = httpx.get(
            f"{live.url}/events",
            params={"after": cursor, "wait": 5},
            headers=live.auth("prov"),
            timeout=30,
        ).json()
        assert page["events"], "the feed stopped before the takedown"
        for entry in page["events"]:
            if entry["subject"] != case:
                continue
            state = entry["data"]["to"]
            seen.append(state)
            if state in steps:
                actor, event, payload, at, reason = steps[state]
                version = httpx.get(
                    f"{live.url}/cases/{case}", headers=live.auth(actor), timeout=30
                ).headers["etag"]
                body = {"payload": payload, "at": at, "reason": reason}
                r = _post(
                    live, actor, f"/cases/{case}/events/{event}", body, **{"If-Match": version}
                )
                assert r.status_code == 201, r.text
        cursor = page["next_after"]
    assert seen == ["surveyed", "flagged", "judged", "escalated_for_takedown", "taken_down"]
    shown = httpx.get(f"{live.url}/cases/{case}", headers=live.auth("cs-cac"), timeout=30)
    assert shown.json()["state"] == "taken_down"
    assert shown.headers["etag"] == '"5"'


def test_two_clients_firing_the_same_transition_get_one_success(live_server: Live) -> None:
    live = live_server
    app = APP | {"name": "并发测试应用", "uscc": "91110108551385082Q"}
    case = _post(live, "cs-cac", "/cases", {"app": app, "at": "2018-02-20T10:00:00+08:00"}).json()
    body = {
        "payload": {
            "evidence": [{"harm_category": "vulgar_pornographic", "description": "低俗图片"}]
        },
        "at": "2018-02-21T10:00:00+08:00",
    }
    start = threading.Barrier(2)
    answers: list[int] = []

    def client() -> None:
        start.wait()
        r = _post(live, "cs-cac", f"/cases/{case['id']}/events/flag", body)
        answers.append(r.status_code)

    threads = [threading.Thread(target=client) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(answers)[0] == 201
    assert sorted(answers)[1] in (409, 422), answers


def test_a_retry_after_a_lost_answer_gets_the_first_answer(live_server: Live) -> None:
    live = live_server
    app = APP | {"name": "重试测试应用", "uscc": "914403001922038216"}
    key = {"Idempotency-Key": "doc-system/4711"}
    first = _post(live, "cs-cac", "/cases", {"app": app, "at": "2018-02-20T10:00:00+08:00"}, **key)
    again = _post(live, "cs-cac", "/cases", {"app": app, "at": "2018-02-20T10:00:00+08:00"}, **key)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()


def test_a_retry_after_a_dropped_connection_gets_the_first_answer(live_server: Live) -> None:
    live = live_server
    app = APP | {"name": "断线重试应用", "uscc": "91110108551385082Q"}
    body = json.dumps({"app": app, "at": "2018-02-20T10:00:00+08:00"}).encode()
    host, port = live.url.removeprefix("http://").split(":")
    request = (
        f"POST /cases HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {live.tokens['cs-cac']}\r\nIdempotency-Key: doc-system/4712\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(request)  # and hang up without reading the answer
    listed: list[Any] = []
    deadline = time.monotonic() + 10
    while not listed and time.monotonic() < deadline:  # the first request was carried out
        listed = httpx.get(
            f"{live.url}/cases", params={"text": app["name"]}, headers=live.auth("cs-cac")
        ).json()
        time.sleep(0.05)
    assert len(listed) == 1, "the request whose connection dropped was not carried out"
    key = {"Idempotency-Key": "doc-system/4712"}
    retry = _post(live, "cs-cac", "/cases", {"app": app, "at": "2018-02-20T10:00:00+08:00"}, **key)
    assert retry.status_code == 201, retry.text
    assert retry.json() == listed[0]  # the case as the first request made it, nothing more
    again = httpx.get(f"{live.url}/cases", params={"text": app["name"]}, headers=live.auth("prov"))
    assert again.json() == listed


def test_the_access_log_names_no_token_and_no_reporter(live_server: Live) -> None:
    live = live_server
    httpx.get(f"{live.url}/me", headers=live.auth("cs-cac"), timeout=30)
    name, contact = "MARKER-NAME-91d2", "MARKER-CONTACT-13700000000"
    report = {
        "app_name": APP["name"],
        "harm_category": "vulgar_pornographic",
        "description": "低俗图片",
        "reporter": {"name": name, "contact": contact},
    }
    _post(live, "cs-cac", "/hotline-reports", report)  # refused or not, never logged
    _post(live, "cs-cac", "/hotline-reports", report | {"description": ""})  # bad input
    time.sleep(0.2)
    lines = live.log.read_text(encoding="utf-8").splitlines()
    assert any("http_request" in line and "/hotline-reports" in line for line in lines)
    for line in lines:
        assert not any(token in line for token in live.tokens.values())
        assert name not in line
        assert contact not in line


def test_a_stopped_server_finishes_the_requests_in_flight(tmp_path: Path) -> None:
    with running_server(tmp_path, "--graceful-timeout", "20") as (live, proc):
        answers: list[httpx.Response] = []
        asked = threading.Event()

        def long_poll() -> None:
            asked.set()
            answers.append(
                httpx.get(
                    f"{live.url}/events",
                    params={"after": 0, "wait": 2},  # an empty feed: it waits the 2 s
                    headers=live.auth("prov"),
                    timeout=30,
                )
            )

        waiting = threading.Thread(target=long_poll)
        waiting.start()
        asked.wait()
        time.sleep(0.5)  # the request is in flight
        stopped = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        waiting.join(timeout=30)
        # uvicorn ends by the signal it got, once the requests in flight are answered
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
        assert time.monotonic() - stopped > 1  # it waited for the request
        assert len(answers) == 1
        assert answers[0].status_code == 200
        assert answers[0].json() == {"events": [], "next_after": 0}
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{live.url}/health", timeout=2)


@pytest.mark.postgres
def test_two_server_processes_on_postgresql_settle_a_race(
    postgres_url: str, tmp_path: Path
) -> None:
    tokens = served_database(postgres_url)
    with (
        server_process(postgres_url, tmp_path / "one.log") as (one, _p1),
        server_process(postgres_url, tmp_path / "two.log") as (two, _p2),
    ):
        auth = {"Authorization": f"Bearer {tokens['cs-cac']}"}
        r = httpx.post(
            f"{one}/cases",
            json={"app": APP, "at": "2018-02-20T10:00:00+08:00"},
            headers=auth,
            timeout=30,
        )
        assert r.status_code == 201, r.text
        case = r.json()["id"]
        body = {
            "payload": {
                "evidence": [{"harm_category": "vulgar_pornographic", "description": "低俗图片"}]
            },
            "at": "2018-02-21T10:00:00+08:00",
        }
        start = threading.Barrier(2)
        answers: list[int] = []

        def client(base: str) -> None:
            start.wait()
            answer = httpx.post(
                f"{base}/cases/{case}/events/flag", json=body, headers=auth, timeout=30
            )
            answers.append(answer.status_code)

        threads = [threading.Thread(target=client, args=(b,)) for b in (one, two)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(answers)[0] == 201, answers
        assert sorted(answers)[1] in (409, 422), answers
        shown = httpx.get(f"{two}/cases/{case}", headers=auth, timeout=30)
        assert shown.headers["etag"] == '"2"'
        feed = httpx.get(f"{one}/events", headers=auth, timeout=30).json()
        assert [e["type"].rsplit(".", 1)[1] for e in feed["events"]] == ["survey", "flag"]
