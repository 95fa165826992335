"""Hostile requests: whatever they send, a clear problem and nothing held or written."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from appcase.limits import MAX_REQUEST_BODY_BYTES
from tests.server.conftest import Api


def test_an_oversized_body_is_refused_before_the_token_is_checked(api: Api) -> None:
    big = b"{" + b" " * MAX_REQUEST_BODY_BYTES + b"}"
    declared = api.client.post(
        "/policy/explain", content=big, headers={"content-type": "application/json"}
    )
    assert declared.status_code == 413, declared.text
    assert "MAX_REQUEST_BODY_BYTES" in declared.json()["detail"]

    def chunked() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b"{"
        for _ in range(MAX_REQUEST_BODY_BYTES // 65536 + 1):
            yield b" " * 65536
        yield b"}"

    streamed = api.client.post(
        "/actors",
        content=chunked(),
        headers=api.auth("admin", **{"content-type": "application/json"}),
    )
    assert streamed.status_code == 413, streamed.text


def test_a_body_within_the_limit_is_served_as_before(api: Api) -> None:
    body = b'{"findings": []}' + b" " * (MAX_REQUEST_BODY_BYTES - 16)
    answer = api.client.post(
        "/policy/explain",
        content=body,
        headers=api.auth("cs-cac", **{"content-type": "application/json"}),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["minimum"] == "no_violation"


def test_a_summary_note_with_a_control_character_is_bad_input(api: Api) -> None:
    for fmt in ("docx", "md"):
        answer = api.client.get(
            "/reports/summary",
            params={"prefecture": "430100", "format": fmt, "notes": ["好", "a\x00b"]},
            headers=api.auth("cs-cac"),
        )
        assert answer.status_code == 400, answer.text
        assert answer.json()["detail"] == (
            "notes paragraph 2 holds a control character (U+0000); remove it"
        )


def test_a_grant_reason_with_a_control_character_is_bad_input(api: Api) -> None:
    for reason in ("a\x00b", "补充\x1b[2J摸排"):
        answer = api.client.post(
            "/overrides",
            json={"prefecture": "430100", "reason": reason},
            headers=api.auth("cs-cac"),
        )
        assert answer.status_code == 400, answer.text
        assert "no control characters" in answer.json()["detail"]
    ok = api.client.post(
        "/overrides",
        json={"prefecture": "430100", "reason": "补充摸排"},
        headers=api.auth("cs-cac"),
    )
    assert ok.status_code == 201, ok.text


def test_a_late_ledger_import_uses_a_survey_grant(api: Api) -> None:
    late = "2018-03-20T10:00:00+08:00"
    header = "app_name,operator,uscc,prefecture\n"
    rows = [
        "L1,长沙某公司甲,914403001922038216,430100",
        "L2,长沙某公司乙,91440300708461136T,430100",
    ]
    h = api.auth("cs-cac", **{"content-type": "text/csv"})

    def post(row: str, **params: str) -> Any:
        data = (header + row + "\n").encode()
        return api.client.post(
            "/imports/ledger", params={"at": late, **params}, content=data, headers=h
        )

    assert post(rows[0]).status_code == 422  # the survey window closed
    granted = api.client.post(
        "/overrides",
        json={"prefecture": "430100", "reason": "补充摸排"},
        headers=api.auth("cs-cac"),
    )
    grant = granted.json()["id"]
    both = post(rows[0], override_grant=grant, override_reason="x")
    assert both.status_code == 400, both.text
    done = post(rows[0], override_grant=grant)
    assert done.status_code == 200, done.text
    assert done.json()["imported"] == 1
    again = post(rows[1], override_grant=grant)
    assert again.status_code == 422, again.text
    assert "already used" in again.text
    assert post(rows[1], override_reason="补充摸排").status_code == 200


def test_a_ledger_upload_keeps_its_own_larger_limit(api: Api) -> None:
    data = b"app_name,operator,uscc,prefecture\n" + b"x" * (MAX_REQUEST_BODY_BYTES + 1) + b"\n"
    h = api.auth("cs-cac", **{"content-type": "text/csv"})
    for root in ("", "/api"):  # also behind a proxy that mounts the API under a prefix
        client = api.client
        client.app.root_path = root  # type: ignore[attr-defined]
        answer = client.post(f"{root}/imports/ledger", content=data, headers=h)
        assert answer.status_code == 400, answer.text  # read, and refused as a ledger
        assert answer.json()["status"] == 400
