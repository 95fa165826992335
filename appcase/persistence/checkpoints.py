"""The checkpoints table and the audit's reads of the database.

What a checkpoint is -- its digests, chain and signatures -- is :mod:`appcase.audit.checkpoints`;
the keys that sign it are :mod:`appcase.audit.keys`. This module reads and writes the rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from appcase.audit.checkpoints import new_checkpoint
from appcase.audit.keys import Signer
from appcase.audit.records import format_instant
from appcase.persistence.models import CaseRow, CheckpointRow, EventRow

__all__ = [
    "checkpoint_dict",
    "events_of",
    "load_checkpoints",
    "take_checkpoint",
]


def load_checkpoints(session: Session, campaign_id: str) -> list[CheckpointRow]:
    """The campaign's checkpoints in order of ``seq``."""
    return list(
        session.scalars(
            select(CheckpointRow)
            .where(CheckpointRow.campaign_id == campaign_id)
            .order_by(CheckpointRow.seq)
        )
    )


def checkpoint_dict(row: CheckpointRow) -> dict[str, Any]:
    """A checkpoint as the verifiers and bundles read it: ``{"seq", "created_at",
    "campaign_digest", "cases", "events", "heads_digest", "prev_digest", "digest",
    "heads", "signature"}``, ``signature`` ``None`` or ``{"alg", "key_id", "value"}``."""
    signature = None
    if row.signature_alg is not None:
        signature = {"alg": row.signature_alg, "key_id": row.key_id, "value": row.signature}
    return {
        "seq": row.seq,
        "created_at": format_instant(row.created_at),
        "campaign_digest": row.campaign_digest,
        "cases": row.case_count,
        "events": row.event_count,
        "heads_digest": row.heads_digest,
        "prev_digest": row.prev_digest,
        "digest": row.digest,
        "heads": row.heads,
        "signature": signature,
    }


def take_checkpoint(
    session: Session,
    campaign_id: str,
    campaign_digest: str,
    now: datetime,
    signer: Signer | None = None,
) -> CheckpointRow:
    """Record a checkpoint of every case's head, chained to the previous checkpoint.

    Runs in the caller's transaction; on PostgreSQL it first locks the checkpoints table
    against other checkpoints (readers are not blocked), so that two at once queue.

    Args:
        session: the transaction's session.
        campaign_id: the campaign.
        campaign_digest: SHA-256 of the stored campaign file.
        now: when (aware).
        signer: the key to sign with, or ``None``.

    Returns:
        The new (flushed) checkpoint row.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("LOCK TABLE checkpoints IN SHARE ROW EXCLUSIVE MODE"))
    last = session.scalars(
        select(CheckpointRow)
        .where(CheckpointRow.campaign_id == campaign_id)
        .order_by(CheckpointRow.seq.desc())
        .limit(1)
    ).first()
    rows = session.execute(
        select(CaseRow.id, CaseRow.event_count, CaseRow.head_hash).where(
            CaseRow.campaign_id == campaign_id
        )
    ).all()
    previous = None if last is None else {"seq": last.seq, "digest": last.digest}
    cp = new_checkpoint(campaign_id, campaign_digest, rows, now, previous, signer)
    signature = cp["signature"] or {}
    row = CheckpointRow(
        campaign_id=campaign_id,
        seq=cp["seq"],
        created_at=now,
        campaign_digest=campaign_digest,
        case_count=cp["cases"],
        event_count=cp["events"],
        heads=cp["heads"],
        heads_digest=cp["heads_digest"],
        prev_digest=cp["prev_digest"],
        digest=cp["digest"],
        signature_alg=signature.get("alg"),
        key_id=signature.get("key_id"),
        signature=signature.get("value"),
    )
    session.add(row)
    session.flush()
    return row


def events_of(session: Session, case_ids: Sequence[str]) -> dict[str, list[EventRow]]:
    """The events of several cases, each case's in chain (``seq``) order, in one query."""
    found: dict[str, list[EventRow]] = {c: [] for c in case_ids}
    if not case_ids:
        return found
    stmt = (
        select(EventRow)
        .where(EventRow.case_id.in_(list(case_ids)))
        .order_by(EventRow.case_id, EventRow.seq)
    )
    for ev in session.scalars(stmt):
        found.setdefault(ev.case_id, []).append(ev)
    return found
