"""Hostile requests: whatever they send, a clear problem and nothing held or written."""

from __future__ import annotations

from collections.abc import Iterator

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
