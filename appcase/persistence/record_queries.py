"""The reads of the records events write beside themselves (evidence, findings, interviews,
pledges, verifications) that an audit verification checks against the events:
:class:`~appcase.persistence.repository.Repository` offers them as the method
:meth:`~appcase.ports.Queries.records_of` names."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Connection, Table, select

from appcase.errors import RowsUnreadable, Unreadable
from appcase.persistence.models import (
    EvidenceRow,
    FindingRow,
    InterviewRow,
    PledgeRow,
    VerificationRow,
)
from appcase.persistence.salvage import UNDECODABLE, why
from appcase.ports import (
    EvidenceRecord,
    FindingRecord,
    InterviewRecord,
    PledgeRecord,
    Record,
    VerificationRecord,
)

__all__ = ["records_of"]

_KINDS: tuple[tuple[type[Any], Table], ...] = (
    (EvidenceRecord, cast(Table, EvidenceRow.__table__)),
    (FindingRecord, cast(Table, FindingRow.__table__)),
    (InterviewRecord, cast(Table, InterviewRow.__table__)),
    (PledgeRecord, cast(Table, PledgeRow.__table__)),
    (VerificationRecord, cast(Table, VerificationRow.__table__)),
)


def _read(conn: Connection, case_ids: Sequence[str], out: dict[str, list[Record]]) -> None:
    for kind, table in _KINDS:
        columns = [table.c[name] for name in kind.__dataclass_fields__]
        stmt = select(*columns).where(table.c.case_id.in_(list(case_ids))).order_by(table.c.id)
        for row in conn.execute(stmt):
            record = kind(*row)
            out[record.case_id].append(record)


def records_of(conn: Connection, case_ids: Sequence[str]) -> dict[str, list[Record]]:
    """The records of many cases, keyed by case id, each kind in the order written.

    Raises:
        RowsUnreadable: some cases' records cannot be read (invalid JSON, an invalid
            instant); it carries the other cases' records.
    """
    out: dict[str, list[Record]] = {c: [] for c in case_ids}
    if not case_ids:
        return out
    try:
        _read(conn, case_ids, out)
        return out
    except UNDECODABLE:
        pass
    readable: dict[str, list[Record]] = {}
    unreadable: list[Unreadable] = []
    for case_id in case_ids:
        one: dict[str, list[Record]] = {case_id: []}
        try:
            _read(conn, [case_id], one)
        except UNDECODABLE as exc:
            unreadable.append((case_id, None, f"a record of it cannot be read: {why(exc)}"))
            continue
        readable[case_id] = one[case_id]
    raise RowsUnreadable(readable, unreadable)
