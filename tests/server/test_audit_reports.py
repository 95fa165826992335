"""The audit's operations and the other reads over HTTP: the bundle export (a tar that
verifies offline, without reporters), checkpoints, replay, the summary report and the
campaign (in-process client)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

from appcase.audit.bundle import BUNDLE_FILES, verify_bundle
from appcase.server.audit import BUNDLE_MEDIA_TYPE, EXPORTS
from tests.builders import app, judgment, local
from tests.server.conftest import Api

PROBLEM = "application/problem+json"
NAME, CONTACT = "MARKER-NAME-0c41", "MARKER-CONTACT-13900000000"


def _case_with_a_report(api: Api) -> str:
    h = api.auth("cs-cac")
    r = api.client.post("/cases", headers=h, json={"app": app(0), "at": local(2, 20).isoformat()})
    case: str = r.json()["id"]
    report = {
        "case_id": case,
        "harm_category": "vulgar_pornographic",
        "description": "低俗图片",
        "reporter": {"name": NAME, "contact": CONTACT},
        "at": local(2, 21).isoformat(),
    }
    assert api.client.post("/hotline-reports", headers=h, json=report).status_code == 201
    body = {"payload": judgment(), "at": local(3, 12).isoformat()}
    r = api.client.post(f"/cases/{case}/events/judge", headers=api.auth("cs-edu"), json=body)
    assert r.status_code == 201, r.text
    return case


def test_the_export_is_a_bundle_that_verifies_offline_without_reporters(
    api: Api, tmp_path: Path
) -> None:
    _case_with_a_report(api)
    h = api.auth("prov")
    taken = api.client.post("/checkpoints", headers=h)
    assert taken.status_code == 201, taken.text
    assert taken.json()["seq"] == 1
    assert taken.json()["signature_alg"] is None
    r = api.client.get("/export", headers=h)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == BUNDLE_MEDIA_TYPE
    assert int(r.headers["content-length"]) == len(r.content)
    name = r.headers["content-disposition"].split('filename="')[1].removesuffix('.tar"')
    assert name.startswith("appcase-bundle-hunan-2018-")
    with tarfile.open(fileobj=io.BytesIO(r.content)) as tar:
        members = tar.getmembers()
        assert {m.name for m in members if m.isfile()} == {
            f"{name}/{f}" for f in (*BUNDLE_FILES, "manifest.json")
        }
        assert all(m.uid == 0 and not m.uname for m in members)
        tar.extractall(tmp_path, filter="data")
    report = verify_bundle(tmp_path / name)
    assert report.ok, report.problems
    assert (report.cases, report.events, report.checkpoints) == (1, 3, 1)
    for f in (tmp_path / name).iterdir():
        text = f.read_text(encoding="utf-8")
        assert NAME not in text
        assert CONTACT not in text


def test_one_export_at_a_time(api: Api) -> None:
    assert EXPORTS.acquire(blocking=False)
    try:
        r = api.client.get("/export", headers=api.auth("prov"))
    finally:
        EXPORTS.release()
    assert r.status_code == 503
    assert r.headers["content-type"].startswith(PROBLEM)
    assert r.headers["retry-after"] == "1"
    assert api.client.get("/export").status_code == 401


def test_checkpoints_and_replay_are_the_command_lines(api: Api) -> None:
    case = _case_with_a_report(api)
    h = api.auth("zz-cac")
    first = api.client.post("/checkpoints", headers=h).json()
    second = api.client.post("/checkpoints", headers=h).json()
    assert second["prev_digest"] == first["digest"]
    assert (second["cases"], second["events"]) == (1, 3)
    assert api.client.get("/verify", headers=h).json()["checkpoints"] == 2
    assert api.client.get("/replay", headers=h).json() == {"ok": True, "cases": 1}
    assert api.client.get("/replay", headers=h, params={"case_id": case}).json()["cases"] == 1
    r = api.client.get("/replay", headers=h, params={"case_id": "HN2018-430100-9999"})
    assert r.status_code == 404


def test_the_summary_report_in_every_format(api: Api) -> None:
    _case_with_a_report(api)
    h = api.auth("prov")
    at = local(4, 5, 18).isoformat()
    md = api.client.get(
        "/reports/summary",
        headers=h,
        params={"province": "true", "at": at, "lang": "en", "notes": ["More patrols.", " "]},
    )
    assert md.status_code == 200, md.text
    assert md.headers["content-type"].startswith("text/markdown")
    assert "More patrols." in md.text
    facts: dict[str, Any] = api.client.get(
        "/reports/summary", headers=h, params={"prefecture": "430100", "format": "json", "at": at}
    ).json()
    assert facts["scope"] == "430100"
    assert facts["province"] is False
    assert facts["apps"] == 1
    docx = api.client.get(
        "/reports/summary", headers=h, params={"province": "true", "format": "docx", "at": at}
    )
    assert docx.content[:2] == b"PK"
    assert "attachment" in docx.headers["content-disposition"]
    for text in (md.text, json.dumps(facts, ensure_ascii=False)):
        assert NAME not in text
        assert CONTACT not in text
    for params in ({}, {"province": "true", "prefecture": "430100"}, {"prefecture": "999999"}):
        r = api.client.get("/reports/summary", headers=h, params=params)
        assert r.status_code == 400, (params, r.text)
        assert r.headers["content-type"].startswith(PROBLEM)


def test_the_campaign(api: Api) -> None:
    body = api.client.get("/campaign", headers=api.auth("cs-edu")).json()
    assert body["id"] == "hunan-2018"
    assert {r["id"] for r in body["roles"]} == {"cac_prefecture", "edu_prefecture", "cac_province"}
    assert api.client.get("/campaign").status_code == 401


def test_the_openapi_document_and_docs_page_list_every_operation(api: Api) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    expected = {
        "/cases": {"get", "post"},
        "/cases/{case_id}/events/{event}": {"post"},
        "/hotline-reports": {"post"},
        "/cases/{case_id}": {"get"},
        "/cases/{case_id}/history": {"get"},
        "/cases/{case_id}/as-of": {"get"},
        "/cases-as-of": {"get"},
        "/sweep": {"post"},
        "/verify": {"get"},
        "/replay": {"get"},
        "/checkpoints": {"post"},
        "/export": {"get"},
        "/reports/summary": {"get"},
        "/campaign": {"get"},
        "/imports/ledger": {"post"},
        "/policy/explain": {"post"},
        "/cases/{case_id}/explain": {"post"},
        "/diagram": {"get"},
        "/events": {"get"},
        "/health": {"get"},
        "/me": {"get"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths.get(path, {})), path
    docs = api.client.get("/docs")
    assert docs.status_code == 200
    assert "openapi.json" in docs.text
