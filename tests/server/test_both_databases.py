"""The HTTP API on SQLite and on PostgreSQL (the ``engine`` fixture runs both): commands
with versions and idempotency keys, the ledger import, a checkpoint, and an export whose
bundle verifies offline (read from one snapshot: REPEATABLE READ on PostgreSQL)."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from appcase.audit.bundle import verify_bundle
from appcase.server import create_app
from appcase.workflow.engine import CaseEngine
from tests.builders import USCC, app, evidence, judgment, local
from tests.server.conftest import issue_tokens


@pytest.fixture
def client(engine: CaseEngine) -> Iterator[TestClient]:
    token = issue_tokens(engine, ["cs-cac"])["cs-cac"]
    with TestClient(
        create_app(engine),
        headers={"Authorization": f"Bearer {token}"},
        raise_server_exceptions=False,
    ) as c:
        yield c


def test_commands_imports_checkpoints_and_an_export(
    client: TestClient, engine: CaseEngine, tmp_path: Path
) -> None:
    key = {"Idempotency-Key": "both/1"}
    body = {"app": app(0), "at": local(2, 20).isoformat()}
    first = client.post("/cases", json=body, headers=key)
    assert first.status_code == 201, first.text
    assert client.post("/cases", json=body, headers=key).json() == first.json()
    case = first.json()["id"]
    flag = {"payload": evidence(), "at": local(2, 21).isoformat()}
    r = client.post(f"/cases/{case}/events/flag", json=flag, headers={"If-Match": '"1"'})
    assert (r.status_code, r.headers["etag"]) == (201, '"2"'), r.text
    more = {"payload": evidence("inciting_violence"), "at": local(2, 22).isoformat()}
    stale = client.post(
        f"/cases/{case}/events/add_evidence", json=more, headers={"If-Match": '"1"'}
    )
    assert stale.status_code == 409, stale.text
    judge = {"payload": judgment(), "at": local(3, 12).isoformat()}
    refused = client.post(f"/cases/{case}/events/judge", json=judge)  # cs-cac may not judge
    assert refused.status_code == 422
    assert {x["code"] for x in refused.json()["rejections"]} == {"role"}

    ledger = (
        f"app_name,operator,uscc,prefecture\n星学作文,长沙星学教育科技有限公司,{USCC[2]},430100\n"
    )
    r = client.post(
        "/imports/ledger",
        params={"at": local(2, 23).isoformat()},
        content=ledger.encode(),
        headers={"Content-Type": "text/csv"},
    )
    assert (r.status_code, r.json()["imported"]) == (200, 1), r.text

    assert client.post("/checkpoints").json()["cases"] == 2
    r = client.get("/export")
    assert r.status_code == 200, r.text
    with tarfile.open(fileobj=io.BytesIO(r.content)) as tar:
        tar.extractall(tmp_path / "out", filter="data")
    (bundle,) = (tmp_path / "out").iterdir()
    report = verify_bundle(bundle)
    assert report.ok, report.problems
    assert (report.cases, report.events, report.checkpoints) == (2, 3, 1)
    assert client.get("/verify").json()["ok"] is True
    assert client.get("/replay").json() == {"ok": True, "cases": 2}


def test_a_nul_in_an_identifier_is_bad_input_on_either_database(
    client: TestClient, engine: CaseEngine
) -> None:
    h = client.headers
    for method, url in (
        ("GET", "/cases/a%00b"),
        ("GET", "/cases?text=a%00b"),
        ("DELETE", "/overrides/a%00b"),
    ):
        answer = client.request(method, url, headers=h)
        assert answer.status_code < 500, (url, answer.text)  # never 503 (retry)
    as_admin = {"Authorization": f"Bearer {issue_tokens(engine, ['admin'])['admin']}"}
    answer = client.post("/tokens", json={"actor": "a\x00b"}, headers=as_admin)
    assert answer.status_code == 400, answer.text
