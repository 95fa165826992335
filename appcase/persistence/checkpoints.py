"""Checkpoints of a campaign, their signing keys, and the audit's reads of the database.

A checkpoint fixes every case's head at an instant, so that a case deleted whole, or a
history rewritten together with its case row, is caught later (the hash chain alone cannot
see either). The digest's exact input (see also ``appcase/data/CANONICALIZATION.md``):

1. ``heads`` = ``[[case_id, events, head], ...]`` for every case of the campaign, sorted by
   case id (Unicode code points), ``events`` being the case's number of events and
   ``head`` the hash of its last event;
2. ``heads_digest`` = ``sha256(canonical({"campaign_id": C, "heads": heads}))``;
3. the record ``{"campaign_id", "campaign_digest", "seq", "created_at", "cases", "events",
   "heads_digest", "prev_digest"}`` -- ``campaign_digest`` the SHA-256 of the stored
   campaign file (its canonical JSON), ``seq`` 1, 2, ..., ``created_at`` in UTC as
   ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, ``cases`` and ``events`` the totals, ``prev_digest``
   the previous checkpoint's digest (64 zeros for the first);
4. ``digest`` = ``sha256(canonical(record))``.

A signature signs ``b"appcase-checkpoint-v1:" + digest`` (the 64 hex digits in ASCII):
Ed25519 (RFC 8032) with a private key the operator holds, or HMAC-SHA256 with a shared key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from appcase.errors import InvalidInput
from appcase.persistence.chain import (
    ED25519,
    GENESIS,
    HMAC_SHA256,
    MIN_HMAC_KEY_BYTES,
    checkpoint_digest,
    ed25519_key_id,
    format_instant,
    heads_digest,
    hmac_key_id,
    signed_message,
)
from appcase.persistence.models import CaseRow, CheckpointRow, EventRow

__all__ = [
    "Signer",
    "checkpoint_dict",
    "events_of",
    "generate_key",
    "load_checkpoints",
    "load_signer",
    "take_checkpoint",
]


@dataclass(frozen=True)
class Signer:
    """A key that signs checkpoints.

    Attributes:
        alg: ``"ed25519"`` or ``"hmac-sha256"``.
        key_id: the key's id, stored with each signature (see
            :func:`~appcase.persistence.bundle_verify.ed25519_key_id`).
        public_key_hex: for Ed25519, the public key (64 hex digits); else ``None``.
    """

    alg: str
    key_id: str
    public_key_hex: str | None
    _key: Any = field(repr=False)

    def sign(self, digest: str) -> str:
        """Sign a checkpoint digest; returns the signature in hex."""
        message = signed_message(digest)
        if self.alg == HMAC_SHA256:
            return hmac.new(self._key, message, hashlib.sha256).hexdigest()
        signature: bytes = self._key.sign(message)
        return signature.hex()


def load_signer(
    *, key_file: str | Path | None = None, hmac_key_file: str | Path | None = None
) -> Signer | None:
    """Read a signing key: an Ed25519 private key (PEM, PKCS #8, unencrypted -- as
    ``appcase audit keygen`` writes it) or an HMAC key file (its bytes, surrounding
    whitespace removed, at least 32).

    Args:
        key_file: the Ed25519 private key file.
        hmac_key_file: the HMAC key file.

    Returns:
        The signer, or ``None`` if neither file is given.

    Raises:
        InvalidInput: both given, a file unreadable, not an unencrypted Ed25519 key, or an
            HMAC key shorter than 32 bytes.
    """
    if key_file and hmac_key_file:
        raise InvalidInput("give either an Ed25519 key or an HMAC key, not both")
    if hmac_key_file:
        try:
            key = Path(hmac_key_file).read_bytes().strip()
        except OSError as exc:
            raise InvalidInput(f"cannot read HMAC key {hmac_key_file}: {exc.strerror}") from None
        if len(key) < MIN_HMAC_KEY_BYTES:
            raise InvalidInput(
                f"HMAC key {hmac_key_file} has {len(key)} bytes; use at least "
                f"{MIN_HMAC_KEY_BYTES} (e.g. 'openssl rand -hex 32 > FILE')"
            )
        return Signer(HMAC_SHA256, hmac_key_id(key), None, key)
    if not key_file:
        return None
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        data = Path(key_file).read_bytes()
    except OSError as exc:
        raise InvalidInput(f"cannot read key {key_file}: {exc.strerror}") from None
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise InvalidInput(
            f"{key_file} is not an unencrypted PEM private key; make one with "
            "'appcase audit keygen --out FILE'"
        ) from None
    if not isinstance(private, Ed25519PrivateKey):
        raise InvalidInput(f"{key_file} is not an Ed25519 private key")
    raw = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    return Signer(ED25519, ed25519_key_id(raw), raw.hex(), private)


def generate_key(out: str | Path) -> tuple[str, str, str]:
    """Make an Ed25519 key pair: the private key to ``out`` (PEM, PKCS #8, unencrypted,
    mode 0600) and the public key to ``out.pub`` (PEM).

    Args:
        out: where to write the private key; neither it nor ``out.pub`` may exist.

    Returns:
        ``(public key PEM, public key hex, key id)``.

    Raises:
        InvalidInput: a file exists already or cannot be written.
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = Path(out)
    public_path = Path(f"{path}.pub")
    for p in (path, public_path):
        if p.exists():
            raise InvalidInput(f"{p} exists; choose another file (keys are never overwritten)")
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = private.public_key()
    public_pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        public_path.write_text(public_pem, encoding="ascii")
    except OSError as exc:
        raise InvalidInput(f"cannot write the key to {path}: {exc.strerror}") from None
    return public_pem, raw.hex(), ed25519_key_id(raw)


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
    pairs: list[tuple[str, int, str]] = sorted(((c, n, h) for c, n, h in rows), key=lambda r: r[0])
    heads: list[list[Any]] = [[c, n, h] for c, n, h in pairs]
    seq = 1 if last is None else last.seq + 1
    record: dict[str, Any] = {
        "campaign_id": campaign_id,
        "campaign_digest": campaign_digest,
        "seq": seq,
        "created_at": format_instant(now),
        "cases": len(heads),
        "events": sum(n for _, n, _ in pairs),
        "heads_digest": heads_digest(campaign_id, heads),
        "prev_digest": GENESIS if last is None else last.digest,
    }
    digest = checkpoint_digest(record)
    row = CheckpointRow(
        campaign_id=campaign_id,
        seq=seq,
        created_at=now,
        campaign_digest=campaign_digest,
        case_count=record["cases"],
        event_count=record["events"],
        heads=heads,
        heads_digest=record["heads_digest"],
        prev_digest=record["prev_digest"],
        digest=digest,
        signature_alg=signer.alg if signer else None,
        key_id=signer.key_id if signer else None,
        signature=signer.sign(digest) if signer else None,
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
