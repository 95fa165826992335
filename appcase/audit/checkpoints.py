"""Checkpoints of a campaign: their digests, their chain and signatures, and the checks of
every case's head against them.

A checkpoint fixes every case's head at an instant, so that a case deleted whole, or a
history rewritten together with its case row, is caught later (the hash chain alone cannot
see either). The digest's exact input (see also ``appcase/data/CANONICALIZATION.md``):

1. ``heads`` = ``[[case_id, events, head], ...]`` for every case of the campaign, sorted by
   case id (Unicode code points), ``events`` being the case's number of events and
   ``head`` the hash of its last event;
2. ``heads_digest`` = ``sha256(canonical({"campaign_id": C, "heads": heads}))``;
3. the record ``{"campaign_id", "campaign_digest", "seq", "created_at", "cases", "events",
   "heads_digest", "prev_digest"}`` (:data:`CHECKPOINT_FIELDS`) -- ``campaign_digest`` the
   SHA-256 of the stored campaign file (its canonical JSON), ``seq`` 1, 2, ...,
   ``created_at`` in UTC as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``, ``cases`` and ``events`` the
   totals, ``prev_digest`` the previous checkpoint's digest (64 zeros for the first);
4. ``digest`` = ``sha256(canonical(record))``.

A signature signs :func:`signed_message` of the digest: ``b"appcase-checkpoint-v1:" +
digest`` (the 64 hex digits in ASCII), with Ed25519 (RFC 8032) or HMAC-SHA256
(:mod:`appcase.audit.keys`).

Standard library only: an auditor runs it from copied files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

try:
    from appcase.audit.canonical import canonical_bytes, shown
    from appcase.audit.chain import Problem
    from appcase.audit.keys import Signer, VerifyKey, verify_signature
    from appcase.audit.records import GENESIS, format_instant
except ImportError:  # pragma: no cover - copied beside the audit modules, outside appcase
    from canonical import canonical_bytes, shown  # type: ignore[import-not-found,no-redef]
    from chain import Problem  # type: ignore[import-not-found,no-redef]
    from keys import Signer, VerifyKey, verify_signature  # type: ignore[import-not-found,no-redef]
    from records import GENESIS, format_instant  # type: ignore[import-not-found,no-redef]

__all__ = [
    "CHECKPOINT_FIELDS",
    "SIGNATURE_CONTEXT",
    "check_checkpoints",
    "check_heads",
    "checkpoint_digest",
    "heads_digest",
    "new_checkpoint",
    "signed_message",
]

CHECKPOINT_FIELDS = (
    "campaign_id",
    "campaign_digest",
    "seq",
    "created_at",
    "cases",
    "events",
    "heads_digest",
    "prev_digest",
)
"""The keys of a checkpoint's hashed record, exactly: the campaign's id and the SHA-256 of
its canonical campaign file, the checkpoint's number (1, 2, ...), when it was taken (UTC,
as :func:`~appcase.audit.records.format_instant`), how many cases and events it covers, the
heads digest and the previous checkpoint's digest (:data:`GENESIS` for the first)."""

SIGNATURE_CONTEXT = b"appcase-checkpoint-v1:"
"""Prefix of the signed message (domain separation: the key signs nothing else alike)."""


def heads_digest(campaign_id: str, heads: Sequence[Sequence[Any]]) -> str:
    """The campaign-level digest over every case's head.

    Args:
        campaign_id: the campaign's id.
        heads: ``[case_id, events, head]`` per case (``events`` the length of the case's
            chain, ``head`` its last hash); any order -- they are sorted by case id
            (code points) here.

    Returns:
        ``sha256(canonical({"campaign_id": campaign_id, "heads": sorted heads}))`` in hex.

    Raises:
        ValueError: a head is not ``[str, int, str]`` or a case id appears twice.
    """
    rows: list[tuple[str, int, str]] = []
    for h in heads:
        if len(h) != 3 or not isinstance(h[0], str) or not isinstance(h[2], str):
            raise ValueError(f"a head must be [case_id, events, head], got {h!r}")
        if isinstance(h[1], bool) or not isinstance(h[1], int):
            raise ValueError(f"a head must be [case_id, events, head], got {h!r}")
        rows.append((h[0], h[1], h[2]))
    rows.sort(key=lambda r: r[0])
    ids = [r[0] for r in rows]
    if len(set(ids)) != len(ids):
        raise ValueError("a case appears twice in the heads")
    body = {"campaign_id": campaign_id, "heads": [list(r) for r in rows]}
    return hashlib.sha256(canonical_bytes(body)).hexdigest()


def checkpoint_digest(record: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of a checkpoint's hashed record.

    Args:
        record: a mapping with exactly the keys of :data:`CHECKPOINT_FIELDS`.

    Returns:
        64 lowercase hex digits.

    Raises:
        ValueError: if keys are missing or extra, or a value cannot be encoded.
    """
    keys = set(record)
    if keys != set(CHECKPOINT_FIELDS):
        missing = sorted(set(CHECKPOINT_FIELDS) - keys)
        extra = sorted(keys - set(CHECKPOINT_FIELDS))
        raise ValueError(f"checkpoint record keys wrong: missing {missing}, extra {extra}")
    return hashlib.sha256(canonical_bytes(dict(record))).hexdigest()


def signed_message(digest: str) -> bytes:
    """The bytes a checkpoint's signature signs.

    Args:
        digest: the checkpoint's digest (64 hex digits).

    Returns:
        :data:`SIGNATURE_CONTEXT` followed by the digest in ASCII.
    """
    return SIGNATURE_CONTEXT + digest.encode("ascii")


def new_checkpoint(
    campaign_id: str,
    campaign_digest: str,
    heads: Sequence[Sequence[Any]],
    created_at: datetime,
    previous: Mapping[str, Any] | None = None,
    signer: Signer | None = None,
) -> dict[str, Any]:
    """A new checkpoint of every case's head, chained to the previous checkpoint.

    Args:
        campaign_id: the campaign.
        campaign_digest: SHA-256 of the stored campaign file.
        heads: ``[case_id, events, head]`` of every case of the campaign (any order).
        created_at: when (aware, any zone; recorded in UTC).
        previous: the latest checkpoint so far (its ``seq`` and ``digest``), or ``None``.
        signer: a key to sign the digest with, or ``None``.

    Returns:
        The checkpoint as :func:`check_checkpoints` reads it: ``{"seq", "created_at",
        "campaign_digest", "cases", "events", "heads", "heads_digest", "prev_digest",
        "digest", "signature"}`` -- ``created_at`` as
        :func:`~appcase.audit.records.format_instant` writes it, ``heads`` sorted by case
        id, ``signature`` ``None`` or ``{"alg", "key_id", "value"}``.

    Raises:
        ValueError: ``created_at`` is naive, or a head is malformed or repeated.
    """
    rows: list[list[Any]] = sorted(
        ([str(c), int(n), str(h)] for c, n, h in heads), key=lambda r: str(r[0])
    )
    seq = 1 if previous is None else int(previous["seq"]) + 1
    record: dict[str, Any] = {
        "campaign_id": campaign_id,
        "campaign_digest": campaign_digest,
        "seq": seq,
        "created_at": format_instant(created_at),
        "cases": len(rows),
        "events": sum(r[1] for r in rows),
        "heads_digest": heads_digest(campaign_id, rows),
        "prev_digest": GENESIS if previous is None else str(previous["digest"]),
    }
    digest = checkpoint_digest(record)
    signature = None
    if signer is not None:
        value = signer.sign(signed_message(digest))
        signature = {"alg": signer.alg, "key_id": signer.key_id, "value": value}
    return {
        "seq": seq,
        "created_at": record["created_at"],
        "campaign_digest": campaign_digest,
        "cases": record["cases"],
        "events": record["events"],
        "heads": rows,
        "heads_digest": record["heads_digest"],
        "prev_digest": record["prev_digest"],
        "digest": digest,
        "signature": signature,
    }


def _record_of(cp: Mapping[str, Any], campaign_id: str) -> dict[str, Any]:
    return {"campaign_id": campaign_id, **{k: cp.get(k) for k in CHECKPOINT_FIELDS[1:]}}


def check_checkpoints(
    checkpoints: Sequence[Mapping[str, Any]],
    campaign_id: str,
    campaign_digest: str,
    key: VerifyKey | None,
) -> tuple[list[Problem], list[str], int]:
    """Check the checkpoints among themselves: digests, chain, campaign, signatures.

    Args:
        checkpoints: in order, each ``{"seq", "created_at", "campaign_digest", "cases",
            "events", "heads_digest", "prev_digest", "digest", "heads", "signature"}``
            (``created_at`` as :func:`~appcase.audit.records.format_instant` writes it;
            ``signature`` is ``None`` or ``{"alg", "key_id", "value"}``), as in a bundle's
            manifest.
        campaign_id: the campaign's id.
        campaign_digest: SHA-256 of the campaign file the cases ran under.
        key: a key to check signatures with, or ``None`` (signatures are then not checked;
            with a key, the latest checkpoint must be signed with it).

    Returns:
        ``(problems, notes, signatures_checked)``; problems have an empty case id.

    Raises:
        AuditInputError: Ed25519 asked for but ``cryptography`` is missing.
    """
    problems: list[Problem] = []
    notes: list[str] = []
    checked = 0
    prev = GENESIS
    for n, cp in enumerate(checkpoints, 1):
        seq = cp.get("seq")
        label = f"checkpoint #{seq if isinstance(seq, int) else shown(seq)}"
        if seq != n:
            problems.append(("", None, "checkpoint_mismatch", f"{label} is stored as number {n}"))
        heads = cp.get("heads")
        try:
            hd = heads_digest(campaign_id, heads) if isinstance(heads, list) else None
        except (ValueError, TypeError):
            hd = None
        if (
            hd != cp.get("heads_digest")
            or not isinstance(heads, list)
            or len(heads) != cp.get("cases")
        ):
            problems.append(
                ("", None, "checkpoint_mismatch", f"{label}: its heads do not match its digest")
            )
        try:
            digest = checkpoint_digest(_record_of(cp, campaign_id))
        except (ValueError, TypeError):
            digest = None
        if digest != cp.get("digest"):
            problems.append(
                ("", None, "checkpoint_mismatch", f"{label}: its content does not match its digest")
            )
        if cp.get("prev_digest") != prev:
            problems.append(
                (
                    "",
                    None,
                    "checkpoint_mismatch",
                    f"{label} does not follow the previous checkpoint (one was removed, "
                    "inserted or rewritten)",
                )
            )
        if cp.get("campaign_digest") != campaign_digest:
            problems.append(
                (
                    "",
                    None,
                    "checkpoint_mismatch",
                    f"{label} was taken under another campaign file than the one stored",
                )
            )
        digest_given = cp.get("digest")
        prev = digest_given if isinstance(digest_given, str) else ""
        sig = cp.get("signature")
        if key is None or not isinstance(sig, Mapping):
            continue
        if sig.get("alg") != key.alg or sig.get("key_id") != key.key_id:
            notes.append(
                f"{label} is signed with another key "
                f"({shown(sig.get('alg'))} {shown(sig.get('key_id'))})"
            )
            continue
        checked += 1
        value = sig.get("value")
        if not prev.isascii() or not isinstance(value, str):
            problems.append(("", None, "bad_signature", f"{label}: the signature does not verify"))
            continue
        message = signed_message(prev)
        if not verify_signature(key, message, value):
            problems.append(("", None, "bad_signature", f"{label}: the signature does not verify"))
    signed = sum(1 for cp in checkpoints if isinstance(cp.get("signature"), Mapping))
    if key is None:
        if signed:
            notes.append(
                f"{signed} signed checkpoint(s) not checked: give the public key (or HMAC key)"
            )
        return problems, notes, checked
    if not checkpoints:
        problems.append(("", None, "bad_signature", "no checkpoint to check the key against"))
        return problems, notes, checked
    last = checkpoints[-1]
    sig = last.get("signature")
    if not (
        isinstance(sig, Mapping) and sig.get("alg") == key.alg and sig.get("key_id") == key.key_id
    ):
        problems.append(
            (
                "",
                None,
                "bad_signature",
                f"the latest checkpoint (#{shown(last.get('seq'))}) is not signed with the key "
                "given",
            )
        )
    return problems, notes, checked


def check_heads(
    checkpoints: Sequence[Mapping[str, Any]],
    hash_at: Callable[[str, int], str | None],
    exists: Callable[[str], bool],
    only_case: str | None = None,
) -> dict[str, Problem]:
    """Check every checkpoint's heads against the chains as they are now.

    Args:
        checkpoints: as for :func:`check_checkpoints`.
        hash_at: the stored hash of event ``n`` of a case, or ``None`` if it has no such
            event.
        exists: whether a case exists now.
        only_case: check only this case.

    Returns:
        The first checkpoint mismatch per case: a case deleted since a checkpoint, or an
        event a checkpoint fixed that is missing or changed.
    """
    found: dict[str, Problem] = {}
    for cp in checkpoints:
        heads = cp.get("heads")
        for head in heads if isinstance(heads, list | tuple) else ():
            if not isinstance(head, list | tuple) or len(head) != 3:
                continue
            case_id, n, digest = head
            if not isinstance(case_id, str) or type(n) is not int or case_id in found:
                continue
            if only_case is not None and case_id != only_case:
                continue
            label = f"checkpoint #{shown(cp.get('seq'))}"
            if not exists(case_id):
                found[case_id] = (
                    case_id,
                    None,
                    "checkpoint_mismatch",
                    f"the case was deleted after {label}, which recorded {n} events for it",
                )
                continue
            stored = hash_at(case_id, n)
            if stored is None:
                found[case_id] = (
                    case_id,
                    n,
                    "checkpoint_mismatch",
                    f"event #{n}, the case's head at {label}, is missing",
                )
            elif stored != digest:
                found[case_id] = (
                    case_id,
                    n,
                    "checkpoint_mismatch",
                    f"event #{n} is not the one {label} recorded as the case's head: "
                    "the history up to it was changed",
                )
    return found
