"""The stored bytes of an event: :func:`appcase.audit.records.seal` sets them with the hash,
and :func:`appcase.audit.canonical.encodes_to` -- what ``verify`` proves a record by --
accepts exactly the canonical encoding, nothing JSON would call equal."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from appcase.audit.canonical import canonical_bytes, encodes_to
from appcase.audit.records import (
    GENESIS,
    event_hash,
    format_instant,
    hashed_record,
    record_bytes,
    record_from_text,
    seal,
)

AT = datetime(2018, 3, 12, 2, 0, tzinfo=UTC)


def columns(**changes: Any) -> dict[str, Any]:
    base = {
        "case_id": "HN2018-430100-0001",
        "seq": 1,
        "track": "administrative",
        "event": "judge",
        "from_state": "flagged",
        "to_state": "judged",
        "actor_id": "cs-edu",
        "role": "edu_prefecture",
        "jurisdiction": "430100",
        "occurred_at": AT,
        "recorded_at": AT,
        "payload": {"disposition": "interview_rectify", "policy": {"refer": True}, "n": 1},
        "reason": "研判",
        "override": None,
        "prev_hash": GENESIS,
    }
    return base | changes


def test_a_record_read_as_text_is_the_hashed_record() -> None:
    cols = columns(override={"by": "prov"})
    text = SimpleNamespace(**cols)
    text.occurred_at = text.recorded_at = format_instant(AT)
    assert record_from_text(text, cols["payload"], cols["override"]) == hashed_record(cols)


def test_seal_stores_exactly_the_bytes_it_hashes() -> None:
    cols = columns()
    record = seal(cols)
    assert cols["canonical"] == record_bytes(record) == canonical_bytes(hashed_record(cols))
    assert cols["hash"] == hashlib.sha256(cols["canonical"]).hexdigest() == event_hash(record)


@pytest.mark.parametrize(
    "changed",
    [
        {"n": True},  # equal to 1 in Python, not in JSON
        {"n": 1.0},  # equal to 1 in Python, a float in JSON
        {"policy": {"refer": 1}},
        {"extra": None},
    ],
)
def test_a_payload_that_python_calls_equal_is_not_the_same_encoding(
    changed: dict[str, Any],
) -> None:
    cols = columns()
    record = seal(cols)
    assert encodes_to(record, cols["canonical"])
    other = record | {"payload": record["payload"] | changed}
    assert not encodes_to(other, cols["canonical"])


@pytest.mark.parametrize(
    ("value", "lax"),
    [
        ({"a": float("nan")}, b'{"a":NaN}'),  # what json.dumps would write
        ({"s": "\ud800"}, '{"s":"\ud800"}'.encode("utf-8", "surrogatepass")),
        ([object()], b"[{}]"),
    ],
)
def test_what_cannot_be_canonical_never_encodes_to_any_bytes(value: Any, lax: bytes) -> None:
    assert not encodes_to(value, lax)
