"""The hash chain of a case's events. Standard library only, so that any system can check it.

Canonical encoding (a subset of RFC 8785, JSON Canonicalization Scheme):

* the value is JSON made of objects, arrays, strings, integers, ``true``, ``false`` and
  ``null`` -- never floats;
* object keys are ASCII and sorted (for ASCII keys, code-point order is RFC 8785's UTF-16
  order);
* no whitespace; strings are written as UTF-8, escaping only ``"``, ``\\`` and control
  characters (``json.dumps(..., ensure_ascii=False)``), as RFC 8785 requires.

The hashed record of an event is the object::

    {"case_id": str, "seq": int (1, 2, ...), "track": "administrative"|"judicial",
     "event": str, "from": str, "to": str, "actor": str, "role": str,
     "jurisdiction": str (GB/T 2260), "occurred_at": str, "recorded_at": str,
     "payload": object, "reason": str|null, "override": object|null,
     "prev_hash": str (64 hex)}

with instants written in UTC as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``. The event's hash is
``sha256(canonical(record)).hexdigest()``; ``prev_hash`` of the first event is 64 zeros;
the case's head is the hash of its last event.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

__all__ = ["GENESIS", "HASHED_FIELDS", "canonical_bytes", "event_hash", "format_instant"]

GENESIS = "0" * 64
"""``prev_hash`` of a case's first event."""

HASHED_FIELDS = (
    "case_id",
    "seq",
    "track",
    "event",
    "from",
    "to",
    "actor",
    "role",
    "jurisdiction",
    "occurred_at",
    "recorded_at",
    "payload",
    "reason",
    "override",
    "prev_hash",
)
"""The keys of the hashed record, exactly."""


def _check(value: Any, path: str) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return
    if isinstance(value, float):
        raise ValueError(f"{path}: floats are not allowed in hashed records")
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check(item, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or not key.isascii():
                raise ValueError(f"{path}: object keys must be ASCII strings, got {key!r}")
            _check(item, f"{path}.{key}")
        return
    raise ValueError(f"{path}: {type(value).__name__} is not a JSON value")


def canonical_bytes(value: Any) -> bytes:
    """Encode a JSON value canonically (see the module docstring).

    Raises:
        ValueError: if the value holds a float, a non-ASCII key or a non-JSON type.
    """
    _check(value, "$")
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def format_instant(value: datetime) -> str:
    """Write an aware instant in UTC as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``.

    Raises:
        ValueError: if ``value`` is naive.
    """
    if value.tzinfo is None:
        raise ValueError("naive datetime in a hashed record")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(record: dict[str, Any]) -> str:
    """SHA-256 (hex) of an event's hashed record.

    Args:
        record: a mapping with exactly the keys of :data:`HASHED_FIELDS`.

    Raises:
        ValueError: if keys are missing or extra, or a value cannot be encoded.
    """
    keys = set(record)
    if keys != set(HASHED_FIELDS):
        missing = sorted(set(HASHED_FIELDS) - keys)
        extra = sorted(keys - set(HASHED_FIELDS))
        raise ValueError(f"hashed record keys wrong: missing {missing}, extra {extra}")
    return hashlib.sha256(canonical_bytes(record)).hexdigest()
