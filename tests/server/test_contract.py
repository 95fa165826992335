"""The HTTP contract: status codes, problem details, tokens, ETag / If-Match, idempotency
keys, reporters kept out of every answer and log line (in-process client)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import structlog
from structlog.testing import capture_logs

from appcase.errors import InvalidInput, UnknownActor
from appcase.workflow.tokens import authenticate, issue_token, list_tokens, revoke_token
from tests.builders import ADMIN, app, evidence, judgment, local
from tests.server.conftest import Api

PROBLEM = "application/problem+json"


def _survey(api: Api, n: int = 0, **headers: str) -> dict[str, Any]:
    r = api.client.post(
        "/cases",
        headers=api.auth("cs-cac", **headers),
        json={"app": app(n), "at": local(2, 20).isoformat()},
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


def _fire(api: Api, case_id: str, event: str, actor: str, body: dict[str, Any], **headers: str):
    return api.client.post(
        f"/cases/{case_id}/events/{event}", headers=api.auth(actor, **headers), json=body
    )


def _problem(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body = dict(r.json())
    assert body["status"] == status
    assert body["title"]
    assert body["type"]
    assert "Traceback" not in r.text
    return body


def test_every_request_needs_a_valid_token(api: Api) -> None:
    assert api.client.get("/health").status_code == 200
    for headers in ({}, {"Authorization": "Bearer act_nope"}, {"Authorization": "Basic eDp5"}):
        r = api.client.get("/cases", headers=headers)
        _problem(r, 401)
        assert r.headers["www-authenticate"].startswith("Bearer")
    assert api.client.get("/me", headers=api.auth("cs-edu")).json()["id"] == "cs-edu"


def test_revoked_and_expired_tokens_are_refused(api: Api) -> None:
    issued = issue_token(api.engine, "cs-cac", by=ADMIN, expires_in_days=1)
    headers = {"Authorization": f"Bearer {issued.token}"}
    assert api.client.get("/me", headers=headers).status_code == 200
    clock = api.engine.clock
    now = clock.now()
    clock.set(now + timedelta(days=1))  # type: ignore[attr-defined]
    _problem(api.client.get("/me", headers=headers), 401)
    clock.set(now)  # type: ignore[attr-defined]
    revoke_token(api.engine, issued.view.id, by=ADMIN)
    _problem(api.client.get("/me", headers=headers), 401)
    listed = {v.id: v for v in list_tokens(api.engine, "cs-cac")}
    assert listed[issued.view.id].active is False
    assert listed[issued.view.id].revoked_at
    with pytest.raises(InvalidInput):
        revoke_token(api.engine, issued.view.id, by=ADMIN)


def test_tokens_are_stored_as_hashes_and_never_for_the_system_actor(api: Api) -> None:
    with pytest.raises(InvalidInput, match="system"):
        issue_token(api.engine, "system", by=ADMIN)
    with pytest.raises(UnknownActor):
        issue_token(api.engine, "nobody", by=ADMIN)
    issued = issue_token(api.engine, "prov", by=ADMIN)
    assert authenticate(api.engine, issued.token) is not None
    assert issued.token not in json.dumps(
        [v.model_dump(mode="json") for v in list_tokens(api.engine)]
    )
    with api.engine.storage.reading() as q:
        stored = q.tokens("prov")
    assert issued.token not in repr(stored)


def test_the_actor_comes_from_the_token_never_from_the_body(api: Api) -> None:
    case = _survey(api)
    body = {"payload": evidence(), "at": local(2, 21).isoformat(), "actor": "prov"}
    _problem(_fire(api, case["id"], "flag", "cs-cac", body), 400)
    del body["actor"]
    r = _fire(api, case["id"], "flag", "cs-cac", body)
    assert r.status_code == 201
    assert r.json()["actor"] == "cs-cac"
    # the override's authoriser is the caller or a grant: naming another is not in the schema
    body = {
        "payload": {},
        "at": local(4, 29).isoformat(),
        "override": {"reason": "x", "authorised_by": "prov"},
    }
    _problem(_fire(api, case["id"], "dismiss", "cs-edu", body), 400)


def test_actors_and_tokens_are_an_administrators_acts_over_http(api: Api) -> None:
    new = {"id": "cs-cac-2", "role": "cac_prefecture", "jurisdiction": "430100"}
    for caller in ("prov", "cs-cac"):
        assert _problem(api.client.post("/actors", headers=api.auth(caller), json=new), 403)
        r = api.client.post("/tokens", headers=api.auth(caller), json={"actor": "cs-cac"})
        _problem(r, 403)
        _problem(api.client.get("/tokens", headers=api.auth(caller)), 403)
        _problem(api.client.get("/admin-log", headers=api.auth(caller)), 403)
    assert "cs-cac-2" not in {
        a["id"] for a in api.client.get("/actors", headers=api.auth("prov")).json()
    }
    r = api.client.post("/actors", headers=api.auth(ADMIN), json=new)
    assert r.status_code == 201, r.text
    r = api.client.post("/tokens", headers=api.auth(ADMIN), json={"actor": "cs-cac-2"})
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    assert api.client.get("/me", headers={"Authorization": f"Bearer {token}"}).json()["id"] == (
        "cs-cac-2"
    )
    token_id = r.json()["view"]["id"]
    assert api.client.delete(f"/tokens/{token_id}", headers=api.auth(ADMIN)).status_code == 200
    _problem(api.client.get("/me", headers={"Authorization": f"Bearer {token}"}), 401)
    log = api.client.get("/admin-log", headers=api.auth(ADMIN)).json()
    assert log["ok"] is True
    assert [(e["actor"], e["action"], e["subject"]) for e in log["entries"][-3:]] == [
        (ADMIN, "actor.add", "cs-cac-2"),
        (ADMIN, "token.issue", token_id),
        (ADMIN, "token.revoke", token_id),
    ]
    assert token not in json.dumps(log)


def test_a_guard_refusal_is_422_listing_every_failed_guard(api: Api) -> None:
    case = _survey(api)
    r = _fire(api, case["id"], "judge", "cs-cac", {"payload": {}, "at": local(3, 1).isoformat()})
    body = _problem(r, 422)
    codes = {x["code"] for x in body["rejections"]}
    assert {"state", "role"} <= codes
    assert all(x["message"] for x in body["rejections"])
    assert body["case_id"] == case["id"]
    assert body["event"] == "judge"
    assert body["state"] == "surveyed"


def test_bad_input_is_400_and_never_echoes_the_value(api: Api) -> None:
    case = _survey(api)
    naive = {"payload": evidence(), "at": "2018-03-01T10:00:00"}
    body = _problem(_fire(api, case["id"], "flag", "cs-cac", naive), 400)
    assert body["errors"][0]["loc"] == ["body", "at"]
    r = _fire(api, case["id"], "flag", "cs-cac", {"payload": {"evidence": "SECRET-VALUE-1"}})
    assert "SECRET-VALUE-1" not in _problem(r, 400)["detail"]
    _problem(_fire(api, case["id"], "survey", "cs-cac", {}), 400)
    _problem(api.client.post("/cases", headers=api.auth("cs-cac"), content=b"{"), 400)
    r = api.client.get("/cases", headers=api.auth("cs-cac"), params={"sort": "nope"})
    _problem(r, 400)


def test_unknown_case_is_404_and_unknown_route_is_a_problem(api: Api) -> None:
    for path in ("/cases/HN2018-430100-9999", "/cases/HN2018-430100-9999/history"):
        assert _problem(api.client.get(path, headers=api.auth("cs-cac")), 404)["case_id"]
    r = _fire(api, "HN2018-430100-9999", "flag", "cs-cac", {"payload": evidence()})
    _problem(r, 404)
    _problem(api.client.get("/nowhere"), 404)


def test_etag_is_the_version_and_a_stale_if_match_is_409(api: Api) -> None:
    case = _survey(api)
    r = api.client.get(f"/cases/{case['id']}", headers=api.auth("cs-cac"))
    assert r.headers["etag"] == '"1"'
    flag = {"payload": evidence(), "at": local(2, 21).isoformat()}
    r = _fire(api, case["id"], "flag", "cs-cac", flag, **{"If-Match": '"1"'})
    assert r.status_code == 201
    assert r.headers["etag"] == '"2"'
    more = {"payload": evidence("inciting_violence"), "at": local(2, 22).isoformat()}
    body = _problem(
        _fire(api, case["id"], "add_evidence", "cs-cac", more, **{"If-Match": '"1"'}), 409
    )
    assert body["version"] == 2
    _problem(_fire(api, case["id"], "add_evidence", "cs-cac", more, **{"If-Match": "abc"}), 400)
    assert (
        _fire(api, case["id"], "add_evidence", "cs-cac", more, **{"If-Match": 'W/"2"'}).status_code
        == 201
    )


def test_an_idempotency_key_replays_the_first_answer_and_refuses_another_command(api: Api) -> None:
    case = _survey(api)
    flag = {"payload": evidence(), "at": local(2, 21).isoformat()}
    first = _fire(api, case["id"], "flag", "cs-cac", flag, **{"Idempotency-Key": "ticket-1"})
    again = _fire(api, case["id"], "flag", "cs-cac", flag, **{"Idempotency-Key": "ticket-1"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert api.engine.get(case["id"]).version == 2
    other = {"payload": evidence("inciting_violence"), "at": local(2, 22).isoformat()}
    r = _fire(api, case["id"], "add_evidence", "cs-cac", other, **{"Idempotency-Key": "ticket-1"})
    _problem(r, 400)
    again = api.client.post(
        "/cases",
        headers=api.auth("cs-cac", **{"Idempotency-Key": "survey-9"}),
        json={"app": app(9), "at": local(2, 20).isoformat()},
    )
    replay = api.client.post(
        "/cases",
        headers=api.auth("cs-cac", **{"Idempotency-Key": "survey-9"}),
        json={"app": app(9), "at": local(2, 20).isoformat()},
    )
    assert again.status_code == replay.status_code == 201
    assert again.json() == replay.json()


def test_reads_behave_like_the_command_line(api: Api) -> None:
    case = _survey(api)
    _fire(
        api, case["id"], "flag", "cs-cac", {"payload": evidence(), "at": local(2, 21).isoformat()}
    )
    r = _fire(
        api, case["id"], "judge", "cs-edu", {"payload": judgment(), "at": local(3, 12).isoformat()}
    )
    assert r.status_code == 201, r.text
    h = api.auth("zz-cac")
    listed = api.client.get("/cases", headers=h, params={"state": "judged"}).json()
    assert [c["id"] for c in listed] == [case["id"]]
    assert api.client.get("/cases", headers=h, params={"state": "flagged"}).json() == []
    assert listed == [api.engine.get(case["id"]).model_dump(mode="json")]
    history = api.client.get(f"/cases/{case['id']}/history", headers=h).json()
    assert [e["event"] for e in history] == ["survey", "flag", "judge"]
    past = api.client.get(
        f"/cases/{case['id']}/as-of", headers=h, params={"at": local(3, 1).isoformat()}
    ).json()
    assert past["state"] == "flagged"
    assert past["version"] == 2
    many = api.client.get("/cases-as-of", headers=h, params={"at": local(3, 1).isoformat()})
    assert [c["state"] for c in many.json()] == ["flagged"]
    report = api.client.get("/verify", headers=h).json()
    assert report["ok"] is True
    assert report["problems"] == []
    assert report["events"] == 3
    swept = api.client.post("/sweep", headers=h, json={"at": local(4, 1).isoformat()}).json()
    assert swept["report"]["escalated"] == 0


def test_the_feed_pages_and_waits(api: Api) -> None:
    case = _survey(api)
    h = api.auth("cs-cac")
    page = api.client.get("/events", headers=h, params={"after": 0, "limit": 1}).json()
    assert [e["subject"] for e in page["events"]] == [case["id"]]
    assert page["events"][0]["type"] == "org.appcase.case.survey"
    after = page["next_after"]
    empty = api.client.get("/events", headers=h, params={"after": after, "wait": 0.3}).json()
    assert empty == {"events": [], "next_after": after}


def test_reporters_details_are_accepted_and_returned_by_no_endpoint(api: Api) -> None:
    case = _survey(api)
    name, contact = "MARKER-NAME-7f3a", "MARKER-CONTACT-13800000000"
    earlier = structlog.get_config()  # another test may have filtered out info lines
    structlog.reset_defaults()
    with capture_logs() as logs:
        r = api.client.post(
            "/hotline-reports",
            headers=api.auth("cs-cac", **{"Idempotency-Key": "hotline-1"}),
            json={
                "case_id": case["id"],
                "harm_category": "vulgar_pornographic",
                "description": "学习社区出现低俗图片",
                "reporter": {"name": name, "contact": contact},
                "at": local(2, 21).isoformat(),
            },
        )
        assert r.status_code == 201, r.text
        h = api.auth("cs-cac")
        answers = [
            r.text,
            api.client.get(f"/cases/{case['id']}", headers=h).text,
            api.client.get(f"/cases/{case['id']}/history", headers=h).text,
            api.client.get("/cases", headers=h).text,
            api.client.get("/events", headers=h).text,
            api.client.get(
                f"/cases/{case['id']}/as-of", headers=h, params={"at": local(3, 1).isoformat()}
            ).text,
        ]
        bad = api.client.post(
            "/hotline-reports",
            headers=h,
            json={
                "case_id": case["id"],
                "harm_category": "x",
                "description": "y",
                "reporter": {"name": name, "contact": contact * 20},
            },
        )
        answers.append(bad.text)
    structlog.configure(**earlier)
    assert bad.status_code == 400
    assert r.json()["payload"]["evidence"][0]["reporter_ref"]
    for text in [*answers, repr(logs)]:
        assert name not in text
        assert contact[:20] not in text
    assert any(e["event"] == "http_request" for e in logs)
    assert not any(api.tokens["cs-cac"] in repr(e) for e in logs)


def test_hotline_report_finds_the_case_by_app_or_credit_code(api: Api) -> None:
    case = _survey(api)
    body = {
        "harm_category": "vulgar_pornographic",
        "description": "低俗",
        "at": local(2, 21).isoformat(),
    }
    r = api.client.post(
        "/hotline-reports", headers=api.auth("cs-cac"), json=body | {"app_name": app(0)["name"]}
    )
    assert r.status_code == 201, r.text
    assert r.json()["case_id"] == case["id"]
    both = body | {"case_id": case["id"], "uscc": app(0)["uscc"]}
    _problem(api.client.post("/hotline-reports", headers=api.auth("cs-cac"), json=both), 400)


def test_an_unexpected_error_is_a_500_problem_without_a_trace(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(case_id: str) -> None:
        raise RuntimeError("secret internals /etc/passwd")

    monkeypatch.setattr(api.engine, "get", broken)
    r = api.client.get("/cases/HN2018-430100-0001", headers=api.auth("cs-cac"))
    body = _problem(r, 500)
    assert "secret internals" not in r.text
    assert "RuntimeError" not in r.text
    assert body["type"].endswith("internal")


def test_a_database_that_fails_is_503_on_health(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from appcase.errors import PersistenceError

    def down(**kw: object) -> None:
        raise PersistenceError("connection refused to db.internal:5432")

    monkeypatch.setattr(api.engine.storage, "reading", down)
    r = api.client.get("/health")
    assert "db.internal" not in _problem(r, 503)["detail"]
