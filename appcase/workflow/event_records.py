"""The records an event writes beside itself, derived from its stored payload -- the one
derivation the pipeline writes them with and an audit verification checks them against.

Evidence items (``flag``, ``add_evidence``), findings (``judge``), the interview record
(``interview``), the pledge (``pledge``) and the verification (``rectify``) are kept in
their own tables for the guards and the reports; each row names the event that wrote it.
They are not in the hash chain: a verification recomputes them from the events' payloads,
which are, and compares (:func:`check_records`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from datetime import date, datetime
from typing import Any, Protocol

from appcase.audit.chain import Problem
from appcase.ports import (
    EvidenceRecord,
    FindingRecord,
    InterviewRecord,
    PledgeRecord,
    Record,
    VerificationRecord,
)
from appcase.states import Event

__all__ = [
    "RECORD_EVENTS",
    "RECORD_MISMATCH",
    "EventFacts",
    "check_records",
    "record_name",
    "records_of",
]

RECORD_EVENTS = frozenset(
    e.value
    for e in (
        Event.FLAG,
        Event.ADD_EVIDENCE,
        Event.JUDGE,
        Event.INTERVIEW,
        Event.PLEDGE,
        Event.RECTIFY,
    )
)
"""The events that write records."""

_EVIDENCE_EVENTS = (Event.FLAG.value, Event.ADD_EVIDENCE.value)
_JUDGE, _INTERVIEW = Event.JUDGE.value, Event.INTERVIEW.value
_PLEDGE, _RECTIFY = Event.PLEDGE.value, Event.RECTIFY.value
# (the names once: an enum member's ``value`` is a property, read per event otherwise)

RECORD_MISMATCH = "record_mismatch"
"""The kind of damage of a case whose records are not the ones its events wrote."""

_NAMES = {
    EvidenceRecord: "evidence",
    FindingRecord: "finding",
    InterviewRecord: "interview",
    PledgeRecord: "pledge",
    VerificationRecord: "verification",
}


class EventFacts(Protocol):
    """What :func:`check_records` reads of an event: a
    :class:`~appcase.ports.StoredEvent` has it, and so has the lighter view ``verify``
    builds from the stored bytes."""

    @property
    def position(self) -> int:
        """The event's row id (records name it)."""

    @property
    def seq(self) -> int:
        """Its position in its chain."""

    @property
    def event(self) -> str:
        """Its name."""

    @property
    def payload(self) -> Mapping[str, Any]:
        """Its payload as stored (JSON)."""


def record_name(record: Record | type) -> str:
    """``evidence``, ``finding``, ``interview``, ``pledge`` or ``verification``."""
    return _NAMES[record if isinstance(record, type) else type(record)]


def _instant(value: Any) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def records_of(
    event: str, case_id: str, event_id: int, payload: Mapping[str, Any], first_number: int = 1
) -> list[Record]:
    """The records an event writes, from its payload as stored (JSON).

    Args:
        event: the event's name.
        case_id / event_id: the case and the event's position (its row id).
        payload: the event's stored payload.
        first_number: the number of the first evidence item (1 + the case's evidence items
            before this event).

    Returns:
        The records, in the order they are written (none for an event that writes none).

    Raises:
        KeyError / TypeError / ValueError: the payload is not one appcase wrote.
    """
    if event in _EVIDENCE_EVENTS:
        return [
            EvidenceRecord(
                case_id,
                event_id,
                first_number + i,
                e["harm_category"],
                e["description"],
                e["source"],
                e["locator"],
                _instant(e["captured_at"]),
                e["attachment_sha256"],
                e.get("reporter_ref"),
            )
            for i, e in enumerate(payload["evidence"])
        ]
    if event == _JUDGE:
        return [
            FindingRecord(
                case_id,
                event_id,
                f["harm_category"],
                f["severity"],
                f["suspected_illegal"],
                list(f["evidence_refs"]),
                f["note"],
            )
            for f in payload["findings"]
        ]
    if event == _INTERVIEW:
        return [
            InterviewRecord(
                case_id,
                event_id,
                datetime.fromisoformat(payload["notice_given_at"]),
                datetime.fromisoformat(payload["held_at"]),
                payload["place"],
                list(payload["officers"]),
                list(payload["operator_representatives"]),
                list(payload["problems"]),
                date.fromisoformat(payload["rectification_deadline"]),
            )
        ]
    if event == _PLEDGE:
        return [
            PledgeRecord(
                case_id,
                event_id,
                payload["signed_by"],
                datetime.fromisoformat(payload["signed_at"]),
                list(payload["commitments"]),
                date.fromisoformat(payload["deadline"]),
            )
        ]
    if event == _RECTIFY:
        checks = [dict(c) for c in payload["checks"]]
        return [VerificationRecord(case_id, event_id, checks, all(c["verified"] for c in checks))]
    return []


def _label(record: Record) -> str:
    name = record_name(record)
    return f"{name} #{record.number}" if isinstance(record, EvidenceRecord) else name


def _differs(expected: Sequence[Record], stored: Sequence[Record]) -> str | None:
    """How the records stored for an event differ from those it wrote, or ``None``."""
    if list(expected) == list(stored):
        return None
    if not stored:
        return f"its {', '.join(_label(r) for r in expected)} record(s) are missing"
    if len(stored) != len(expected) or any(
        type(e) is not type(s) for e, s in zip(expected, stored, strict=True)
    ):
        wrote = ", ".join(_label(r) for r in expected) or "no record"
        return f"it wrote {wrote}; stored for it: {', '.join(_label(r) for r in stored)}"
    for e, s in zip(expected, stored, strict=True):
        changed = [f.name for f in fields(e) if getattr(e, f.name) != getattr(s, f.name)]
        if changed:
            return f"its {_label(e)} record differs from the event: {', '.join(changed)}"
    return None  # pragma: no cover - the lists differ, so a pair does


def check_records(
    case_id: str, events: Sequence[EventFacts], stored: Sequence[Record]
) -> Problem | None:
    """Check a case's records against the events that wrote them.

    Every event that writes records must have them, stored as its payload says; no record
    may name an event of the case that wrote none, or no event of the case.

    Args:
        case_id: the case.
        events: its events in chain order (whose chain was verified).
        stored: its stored records, each kind in the order written.

    Returns:
        The first ``record_mismatch`` found, naming the event; or ``None``.
    """
    by_event: dict[int, list[Record]] = {}
    for record in stored:
        by_event.setdefault(record.event_id, []).append(record)
    evidence = 0
    for ev in events:
        if ev.event not in RECORD_EVENTS:
            continue
        try:
            expected = records_of(ev.event, case_id, ev.position, ev.payload, evidence + 1)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            detail = f"its payload does not say which records it writes ({type(exc).__name__})"
            return (case_id, ev.seq, RECORD_MISMATCH, detail)
        evidence += sum(isinstance(r, EvidenceRecord) for r in expected)
        found = _differs(expected, by_event.pop(ev.position, []))
        if found is not None:
            return (case_id, ev.seq, RECORD_MISMATCH, found)
    seqs = {ev.position: ev.seq for ev in events}
    for position, records in sorted(by_event.items()):
        what = ", ".join(_label(r) for r in records)
        if position in seqs:
            return (case_id, seqs[position], RECORD_MISMATCH, f"a {what} record it never wrote")
        return (
            case_id,
            None,
            RECORD_MISMATCH,
            f"a {what} record names an event that is not one of the case's (id {position})",
        )
    return None
