"""THE hashed record of an event, and its hash: built here once, for the engine that writes
an event, for ``verify`` that checks it, and for the export and the offline verifier.

The hashed record of an event is the object::

    {"case_id": str, "seq": int (1, 2, ...), "track": "administrative"|"judicial",
     "event": str, "from": str, "to": str, "actor": str, "role": str,
     "jurisdiction": str (GB/T 2260), "occurred_at": str, "recorded_at": str,
     "payload": object, "reason": str|null, "override": object|null,
     "prev_hash": str (64 hex)}

with instants written in UTC as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``. The event's hash is
``sha256(canonical(record)).hexdigest()`` (:mod:`appcase.audit.canonical`); ``prev_hash``
of the first event is :data:`GENESIS`; the case's head is the hash of its last event.

Standard library only: an auditor runs it from copied files.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

try:
    from appcase.audit.canonical import canonical_bytes, canonical_text
except ImportError:  # pragma: no cover - copied beside canonical.py, outside appcase
    from canonical import (  # type: ignore[import-not-found,no-redef]
        canonical_bytes,
        canonical_text,
    )

__all__ = [
    "GENESIS",
    "HASHED_FIELDS",
    "RecordTemplate",
    "event_hash",
    "format_instant",
    "hashed_record",
    "record_bytes",
    "record_from_text",
    "seal",
    "seal_bytes",
]

GENESIS = "0" * 64
"""``prev_hash`` of a case's first event, and ``prev_digest`` of the first checkpoint."""

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
"""The keys of an event's hashed record, exactly."""

_HASHED_KEYS = frozenset(HASHED_FIELDS)

_COLUMNS = (
    ("case_id", "case_id"),
    ("seq", "seq"),
    ("track", "track"),
    ("event", "event"),
    ("from", "from_state"),
    ("to", "to_state"),
    ("actor", "actor_id"),
    ("role", "role"),
    ("jurisdiction", "jurisdiction"),
    ("payload", "payload"),
    ("reason", "reason"),
    ("override", "override"),
    ("prev_hash", "prev_hash"),
)
"""Hashed-record key and the stored event's column it comes from (instants apart)."""


@lru_cache(maxsize=1024)
def format_instant(value: datetime) -> str:
    """Write an aware instant in UTC as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``.

    Args:
        value: an aware datetime (any zone).

    Returns:
        The instant in UTC, with microseconds and ``Z``.

    Raises:
        ValueError: if ``value`` is naive.
    """
    if value.tzinfo is None:
        raise ValueError("naive datetime in a hashed record")
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return f"{value.replace(tzinfo=None).isoformat(timespec='microseconds')}Z"


def hashed_record(event: Mapping[str, Any] | object, seq: int | None = None) -> dict[str, Any]:
    """The hashed record of an event, from its stored columns.

    Args:
        event: the event's columns -- a mapping, or an object with attributes, named as
            stored: ``case_id, seq, track, event, from_state, to_state, actor_id, role,
            jurisdiction, occurred_at, recorded_at`` (aware datetimes), ``payload, reason,
            override, prev_hash``.
        seq: use this sequence number instead of the stored one (to ask whether a record
            belongs at another position of its chain).

    Returns:
        The record, with exactly the keys of :data:`HASHED_FIELDS`.

    Raises:
        ValueError: an instant is naive.
        KeyError / AttributeError: a column is missing.
    """
    if isinstance(event, Mapping):
        record = {key: event[column] for key, column in _COLUMNS}
        occurred, recorded = event["occurred_at"], event["recorded_at"]
    else:
        record = {key: getattr(event, column) for key, column in _COLUMNS}
        occurred, recorded = event.occurred_at, event.recorded_at  # type: ignore[attr-defined]
    record["occurred_at"] = format_instant(occurred)
    record["recorded_at"] = format_instant(recorded)
    if seq is not None:
        record["seq"] = seq
    return record


def record_from_text(event: Any, payload: Any, override: Any) -> dict[str, Any]:
    """The hashed record of an event read with its instants already written as the record
    writes them (:func:`format_instant`), e.g. by the database for ``audit verify``.

    Args:
        event: an object with the stored columns as attributes (``case_id, seq, track,
            event, from_state, to_state, actor_id, role, jurisdiction, reason,
            prev_hash``) and ``occurred_at`` / ``recorded_at`` as text.
        payload / override: the event's payload and override, decoded.

    Returns:
        The record, with exactly the keys of :data:`HASHED_FIELDS` (nothing checked).
    """
    return {
        "case_id": event.case_id,
        "seq": event.seq,
        "track": event.track,
        "event": event.event,
        "from": event.from_state,
        "to": event.to_state,
        "actor": event.actor_id,
        "role": event.role,
        "jurisdiction": event.jurisdiction,
        "occurred_at": event.occurred_at,
        "recorded_at": event.recorded_at,
        "payload": payload,
        "reason": event.reason,
        "override": override,
        "prev_hash": event.prev_hash,
    }


def record_bytes(record: Mapping[str, Any]) -> bytes:
    """The bytes an event's hash is taken over: the canonical encoding of its hashed
    record (what ``events.canonical`` stores beside the columns).

    Args:
        record: a mapping with exactly the keys of :data:`HASHED_FIELDS`.

    Returns:
        The UTF-8 bytes of the canonical JSON of ``record``.

    Raises:
        ValueError: if keys are missing or extra, or a value cannot be encoded.
    """
    if record.keys() != _HASHED_KEYS:
        keys = set(record)
        missing = sorted(_HASHED_KEYS - keys)
        extra = sorted(str(k)[:40] for k in keys - _HASHED_KEYS)
        raise ValueError(f"hashed record keys wrong: missing {missing}, extra {extra}")
    return canonical_bytes(record if type(record) is dict else dict(record))


def event_hash(record: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of an event's hashed record: ``sha256(record_bytes(record))``.

    Args:
        record: a mapping with exactly the keys of :data:`HASHED_FIELDS`.

    Returns:
        64 lowercase hex digits.

    Raises:
        ValueError: if keys are missing or extra, or a value cannot be encoded.
    """
    return hashlib.sha256(record_bytes(record)).hexdigest()


def seal(columns: dict[str, Any]) -> dict[str, Any]:
    """Hash a new event: set ``columns["canonical"]`` to the bytes hashed
    (:func:`record_bytes`) and ``columns["hash"]`` to their SHA-256 (:func:`seal_bytes`);
    return the hashed record.

    Args:
        columns: the event's columns as :func:`hashed_record` reads them; changed in place.

    Returns:
        The hashed record (what the hash was taken over).

    Raises:
        ValueError: an instant is naive, or a value cannot be encoded canonically.
    """
    record = hashed_record(columns)
    seal_bytes(columns, record_bytes(record))
    return record


class RecordTemplate:
    """The hashed records of events that share every field but a few (one command fired on
    many cases): the shared fields are checked and encoded once, each record costs the
    encoding of its own fields. :meth:`seal` gives exactly the bytes :func:`record_bytes`
    gives for the same record (hash and store them with :func:`seal_bytes`).

    Args:
        record: a hashed record (keys of :data:`HASHED_FIELDS`) holding the shared fields;
            the values of the ``varying`` keys are ignored.
        varying: the keys that differ from record to record, in the order :meth:`seal`
            takes their values.

    Raises:
        ValueError: keys missing or extra, or a shared value that is not canonical JSON.
    """

    def __init__(self, record: Mapping[str, Any], varying: tuple[str, ...]) -> None:
        if record.keys() != _HASHED_KEYS or not set(varying) <= _HASHED_KEYS:
            raise ValueError("a record template needs exactly the hashed record's keys")
        self.varying = varying
        self.shared = {k: v for k, v in record.items() if k not in varying}
        markers = [f"\ue000{secrets.token_hex(16)}{i}" for i in range(len(varying))]
        probe = dict(record)
        probe.update(zip(varying, markers, strict=True))
        text = canonical_bytes(probe).decode("utf-8")
        # the varying values' places, in encoded (sorted key) order
        order = sorted(range(len(varying)), key=lambda i: text.find(f'"{markers[i]}"'))
        parts: list[str] = []
        for i in order:
            head, _, text = text.partition(f'"{markers[i]}"')
            parts.append(head)
        parts.append(text)
        if any(m in part for m in markers for part in parts) or len(parts) != len(varying) + 1:
            raise ValueError("a record template's shared values hold its marker")
        self._parts = parts
        self._order = order

    def seal(self, values: tuple[Any, ...]) -> tuple[dict[str, Any], bytes]:
        """The hashed record with ``values`` for the varying keys, and its bytes.

        Args:
            values: one value per varying key, in the template's order.

        Returns:
            ``(record, data)``: the record (a new dict) and its canonical encoding.

        Raises:
            ValueError: a value cannot be encoded canonically.
        """
        parts = self._parts
        pieces = [parts[0]]
        for n, i in enumerate(self._order, 1):
            pieces.append(canonical_text(values[i]))
            pieces.append(parts[n])
        try:
            data = "".join(pieces).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError(f"string cannot be encoded as UTF-8: {exc.reason}") from None
        record = dict(self.shared)
        record.update(zip(self.varying, values, strict=True))
        return record, data


def seal_bytes(columns: dict[str, Any], data: bytes) -> None:
    """Set an event's ``hash`` and its stored bytes (``canonical``) from the bytes of its
    hashed record: THE one place both are set, for every path that writes an event (a
    command, a survey, the sweep's batches, a hotline report), so that the stored bytes
    are always exactly the bytes the hash was taken over.

    Args:
        columns: the event's columns; changed in place.
        data: the canonical bytes of its hashed record (:func:`record_bytes`, or the same
            bytes built another way).
    """
    columns["canonical"] = data
    columns["hash"] = hashlib.sha256(data).hexdigest()
