"""The hash chain of a case's events and the campaign's checkpoints. Standard library only,
so that any system can check them (``appcase/data/CANONICALIZATION.md`` is the full
specification; this docstring is its summary).

Canonical encoding (a subset of RFC 8785, JSON Canonicalization Scheme):

* the value is JSON made of objects, arrays, strings, integers in
  ``[-(2**53 - 1), 2**53 - 1]``, ``true``, ``false`` and ``null`` -- never floats;
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

A checkpoint (``appcase audit checkpoint``) fixes every case's head at an instant: its
*heads digest* is ``sha256(canonical({"campaign_id": C, "heads": [[case_id, events, head],
...]}))`` with the heads sorted by case id (code points), and its *digest* is the SHA-256
of the canonical checkpoint record (:data:`CHECKPOINT_FIELDS`), which names the previous
checkpoint's digest, so that checkpoints form a chain of their own. A signature signs
:func:`signed_message` of the digest.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    from appcase.audit.canonical import MAX_SAFE_INTEGER, canonical_bytes
    from appcase.audit.records import GENESIS, HASHED_FIELDS, event_hash, format_instant
except ImportError:  # pragma: no cover - copied beside the audit modules, outside appcase
    from canonical import MAX_SAFE_INTEGER, canonical_bytes  # type: ignore[import-not-found,no-redef]
    from records import GENESIS, HASHED_FIELDS, event_hash, format_instant  # type: ignore[import-not-found,no-redef]

__all__ = [
    "CHECKPOINT_FIELDS",
    "ED25519",
    "GENESIS",
    "HASHED_FIELDS",
    "HMAC_SHA256",
    "MAX_SAFE_INTEGER",
    "MIN_HMAC_KEY_BYTES",
    "PROJECTED_FIELDS",
    "SIGNATURE_CONTEXT",
    "AuditInputError",
    "Problem",
    "VerifyKey",
    "canonical_bytes",
    "check_chain",
    "check_checkpoints",
    "check_heads",
    "checkpoint_digest",
    "ed25519_key_id",
    "event_hash",
    "format_instant",
    "heads_digest",
    "hmac_key_id",
    "load_hmac_key",
    "load_public_key",
    "project_case",
    "projection_differences",
    "signed_message",
    "verify_signature",
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
as :func:`format_instant`), how many cases and events it covers, the heads digest and the
previous checkpoint's digest (:data:`GENESIS` for the first)."""

SIGNATURE_CONTEXT = b"appcase-checkpoint-v1:"
"""Prefix of the signed message (domain separation: the key signs nothing else alike)."""

Problem = tuple[str, int | None, str, str]
"""A damage found: ``(case_id or "", seq or None, kind, detail)``; ``case_id`` is empty
for damage of the campaign as a whole (its checkpoints)."""


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
    """The bytes a checkpoint's signature signs: :data:`SIGNATURE_CONTEXT` + the digest's
    64 hex digits in ASCII.

    Args:
        digest: the checkpoint's digest (hex).
    """
    return SIGNATURE_CONTEXT + digest.encode("ascii")


def _hash_or_none(record: Mapping[str, Any], seq: Any = None) -> str | None:
    rec = dict(record) if seq is None else {**record, "seq": seq}
    try:
        return event_hash(rec)
    except (ValueError, TypeError):
        return None


def check_chain(
    case_id: str,
    entries: Sequence[tuple[Mapping[str, Any], str]],
    count: int,
    head: str,
) -> Problem | None:
    """Check one case's chain as stored and name its first damage.

    Args:
        case_id: the case.
        entries: ``(hashed record, stored hash)`` per event, in stored order (the
            database's ``seq`` order, or the order of a bundle's lines).
        count: the number of events the case says it has.
        head: the head hash the case says it has.

    Returns:
        ``None`` if intact, else ``(case_id, seq, kind, detail)``. Kinds: ``edited`` (an
        event's content does not match its hash, or was rewritten with a new hash that its
        successor was not chained to), ``deleted`` (an event is missing), ``inserted`` (an
        event the chain does not account for), ``reordered`` (an event intact but stored at
        another position than it was written at), ``head_mismatch`` (the case's head is
        not its last event's hash).
    """
    n = len(entries)
    limit = max(n, count) + 1
    cache: dict[int, int | None] = {}

    def written_at(i: int) -> int | None:
        """The position event ``i`` (0-based) was written at, by its hash; None if none."""
        if i not in cache:
            rec, stored = entries[i]
            seq = rec.get("seq")
            found: int | None = None
            if _hash_or_none(rec) == stored and isinstance(seq, int):
                found = seq
            else:
                for j in range(1, limit + 1):
                    if j != seq and _hash_or_none(rec, j) == stored:
                        found = j
                        break
            cache[i] = found
        return cache[i]

    prev, prevprev = GENESIS, GENESIS
    for p, (rec, stored) in enumerate(entries, 1):
        w = written_at(p - 1)
        link = rec.get("prev_hash")
        if w is None:
            if p > count:
                return (case_id, p, "inserted", f"an event beyond the {count} the case records")
            if p < n and entries[p][0].get("prev_hash") == prev and written_at(p) is not None:
                return (
                    case_id,
                    p,
                    "inserted",
                    "an event the chain does not account for: the next event links over it",
                )
            return (case_id, p, "edited", "the event's content does not match its hash")
        if w != p:
            if w == p - 1 and p > 1 and link == prevprev:
                return (
                    case_id,
                    p - 1,
                    "inserted",
                    f"event #{p - 1} is not in the chain: the event after it (written as "
                    f"#{p - 1}) links to the event before it",
                )
            if w > p and not any(written_at(q) == p for q in range(p, n)):
                return (
                    case_id,
                    p,
                    "deleted",
                    f"event #{p} is missing (the event stored there was written as #{w})",
                )
            return (case_id, p, "reordered", f"the event stored as #{p} was written as #{w}")
        if rec.get("seq") != p:
            return (case_id, p, "edited", f"its sequence number was changed to {rec.get('seq')}")
        if link != prev:
            if p == 1:
                return (case_id, 1, "edited", "the first event does not start the chain")
            if link == prevprev:
                return (
                    case_id,
                    p - 1,
                    "inserted",
                    f"event #{p - 1} is not in the chain: event #{p} links to the event before it",
                )
            if p < n and entries[p][0].get("prev_hash") != stored:
                return (
                    case_id,
                    p,
                    "edited",
                    "the event was rewritten with a new hash: neither its link nor its "
                    "successor's matches",
                )
            return (
                case_id,
                p - 1,
                "edited",
                f"event #{p - 1} was rewritten with a new hash: event #{p} was chained to another",
            )
        if p > count:
            return (case_id, p, "inserted", f"an event beyond the {count} the case records")
        prevprev, prev = prev, stored
    if n < count:
        return (
            case_id,
            n + 1,
            "deleted",
            f"the case records {count} events; only {n} are stored (the last are missing)",
        )
    if head != prev:
        return (case_id, None, "head_mismatch", "the case's stored head is not its last hash")
    return None


# --- signatures and checkpoints ----------------------------------------------------------

ED25519 = "ed25519"
"""Signature algorithm: Ed25519 (RFC 8032) with the operator's private key."""
HMAC_SHA256 = "hmac-sha256"
"""Signature algorithm: HMAC-SHA256 with a shared key (verifying needs the key itself)."""
_SPKI_ED25519_PREFIX = bytes.fromhex("302a300506032b6570032100")
"""DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the 32 key bytes follow."""
MIN_HMAC_KEY_BYTES = 32
"""Shortest HMAC key accepted, in bytes (configurable default: SHA-256's output size)."""


class AuditInputError(ValueError):
    """Bad usage: a key or a bundle cannot be read, or a check cannot be made (e.g. Ed25519
    signatures asked for and the ``cryptography`` package missing)."""


@dataclass(frozen=True)
class VerifyKey:
    """A key to check checkpoint signatures with.

    Attributes:
        alg: ``"ed25519"`` (``material`` is the 32-byte public key) or ``"hmac-sha256"``
            (``material`` is the shared secret).
        material: the key bytes.
        key_id: the id checkpoints signed with this key carry (:func:`ed25519_key_id`,
            :func:`hmac_key_id`).
    """

    alg: str
    material: bytes = field(repr=False)
    key_id: str


def ed25519_key_id(public_key: bytes) -> str:
    """Key id of an Ed25519 public key: the first 16 hex digits of SHA-256 of its 32 bytes."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def hmac_key_id(key: bytes) -> str:
    """Key id of an HMAC key: the first 16 hex digits of HMAC-SHA256(key, "appcase-key-id")
    (it identifies the key without revealing it)."""
    return hmac.new(key, b"appcase-key-id", hashlib.sha256).hexdigest()[:16]


def load_public_key(path: str | Path) -> VerifyKey:
    """Read an Ed25519 public key: PEM (``-----BEGIN PUBLIC KEY-----``, as ``appcase audit
    keygen`` writes) or the 64 hex digits of its 32 bytes (parsed with the standard library).

    Args:
        path: the key file.

    Returns:
        The key, with its id.

    Raises:
        AuditInputError: unreadable file or not an Ed25519 public key.
    """
    try:
        text = Path(path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise AuditInputError(f"cannot read public key {path}: {exc}") from None
    raw: bytes | None = None
    if text.startswith("-----BEGIN PUBLIC KEY-----"):
        body = "".join(line for line in text.splitlines() if not line.startswith("-----"))
        try:
            der = base64.b64decode(body, validate=True)
        except binascii.Error:
            der = b""
        if der.startswith(_SPKI_ED25519_PREFIX) and len(der) == len(_SPKI_ED25519_PREFIX) + 32:
            raw = der[len(_SPKI_ED25519_PREFIX) :]
    elif len(text) == 64:
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raw = None
    if raw is None:
        raise AuditInputError(
            f"{path} is not an Ed25519 public key (PEM 'BEGIN PUBLIC KEY' or 64 hex digits)"
        )
    return VerifyKey(ED25519, raw, ed25519_key_id(raw))


def load_hmac_key(path: str | Path) -> VerifyKey:
    """Read an HMAC-SHA256 key: the file's bytes, surrounding ASCII whitespace removed.

    Args:
        path: the key file (at least :data:`MIN_HMAC_KEY_BYTES` bytes).

    Returns:
        The key, with its id.

    Raises:
        AuditInputError: unreadable file, or fewer than 32 bytes.
    """
    try:
        key = Path(path).read_bytes().strip()
    except OSError as exc:
        raise AuditInputError(f"cannot read HMAC key {path}: {exc}") from None
    if len(key) < MIN_HMAC_KEY_BYTES:
        raise AuditInputError(
            f"HMAC key {path} has {len(key)} bytes; use at least {MIN_HMAC_KEY_BYTES} "
            "(e.g. 'openssl rand -hex 32 > FILE')"
        )
    return VerifyKey(HMAC_SHA256, key, hmac_key_id(key))


def verify_signature(key: VerifyKey, digest: str, signature: str) -> bool:
    """Whether ``signature`` (hex) signs :func:`signed_message` of ``digest`` with ``key``.

    Args:
        key: the public key (Ed25519) or shared key (HMAC).
        digest: the checkpoint's digest (64 hex digits).
        signature: the stored signature, hex.

    Returns:
        ``True`` if it verifies; ``False`` for a wrong or malformed signature.

    Raises:
        AuditInputError: Ed25519 asked for but the ``cryptography`` package is not importable.
    """
    try:
        sig = bytes.fromhex(signature)
    except (ValueError, TypeError):
        return False
    message = signed_message(digest)
    if key.alg == HMAC_SHA256:
        expected = hmac.new(key.material, message, hashlib.sha256).digest()
        return hmac.compare_digest(expected, sig)
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError:
        raise AuditInputError(
            "checking Ed25519 signatures needs the 'cryptography' package "
            "(pip install cryptography)"
        ) from None
    try:
        Ed25519PublicKey.from_public_bytes(key.material).verify(sig, message)
    except (InvalidSignature, ValueError):
        return False
    return True


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
            (``signature`` is ``None`` or ``{"alg", "key_id", "value"}``), as in a bundle's
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
        label = f"checkpoint #{seq}"
        if seq != n:
            problems.append(("", None, "checkpoint_mismatch", f"{label} is stored as number {n}"))
        try:
            hd = heads_digest(campaign_id, cp.get("heads") or [])
        except (ValueError, TypeError):
            hd = None
        if hd != cp.get("heads_digest") or len(cp.get("heads") or []) != cp.get("cases"):
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
        prev = str(cp.get("digest"))
        sig = cp.get("signature")
        if key is None or not isinstance(sig, Mapping):
            continue
        if sig.get("alg") != key.alg or sig.get("key_id") != key.key_id:
            notes.append(
                f"{label} is signed with another key ({sig.get('alg')} {sig.get('key_id')})"
            )
            continue
        checked += 1
        if not verify_signature(key, str(cp.get("digest")), str(sig.get("value"))):
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
                f"the latest checkpoint (#{last.get('seq')}) is not signed with the key given",
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
        for head in cp.get("heads") or []:
            if not isinstance(head, list | tuple) or len(head) != 3:
                continue
            case_id, n, digest = head
            if not isinstance(case_id, str) or not isinstance(n, int) or case_id in found:
                continue
            if only_case is not None and case_id != only_case:
                continue
            label = f"checkpoint #{cp.get('seq')}"
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


def project_case(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The case fields its chain determines, rebuilt from the hashed records.

    A ``survey`` gives the app's identity and prefecture, a ``flag`` the flagged-at
    instant, a ``judge`` the disposition and the referral flag (its ``policy.refer``), a
    ``pledge`` the rectification deadline; the last record gives the last instant.

    Args:
        records: a case's hashed records in chain order.

    Returns:
        ``{"prefecture", "app", "disposition", "suspected_illegal", "pledge_deadline",
        "flagged_at", "last_occurred_at"}`` as JSON values (instants as in the records,
        the deadline as ``YYYY-MM-DD``; ``None`` where no event set them).
    """
    out: dict[str, Any] = dict.fromkeys(PROJECTED_FIELDS)
    out["suspected_illegal"] = False
    for rec in records:
        payload = rec.get("payload")
        payload = payload if isinstance(payload, Mapping) else {}
        event = rec.get("event")
        if event == "survey" and isinstance(payload.get("app"), Mapping):
            out["app"] = dict(payload["app"])
            out["prefecture"] = payload["app"].get("prefecture")
        elif event == "flag":
            out["flagged_at"] = rec.get("occurred_at")
        elif event == "judge":
            out["disposition"] = payload.get("disposition")
            policy = payload.get("policy")
            out["suspected_illegal"] = bool(isinstance(policy, Mapping) and policy.get("refer"))
        elif event == "pledge":
            out["pledge_deadline"] = payload.get("deadline")
        out["last_occurred_at"] = rec.get("occurred_at")
    return out


PROJECTED_FIELDS = (
    "prefecture",
    "app",
    "disposition",
    "suspected_illegal",
    "pledge_deadline",
    "flagged_at",
    "last_occurred_at",
)
"""The fields :func:`project_case` rebuilds."""


def projection_differences(expected: Mapping[str, Any], stored: Mapping[str, Any]) -> list[str]:
    """Describe every field of ``stored`` that differs from the chain's ``expected``.

    Only fields present in ``stored`` are compared (a bundle's cases.jsonl omits some).
    """
    out = []
    for name in PROJECTED_FIELDS:
        if name not in stored or expected.get(name) == stored[name]:
            continue
        want, have = expected.get(name), stored[name]
        if isinstance(want, Mapping) and isinstance(have, Mapping):
            for key in sorted(set(want) | set(have)):
                if want.get(key) != have.get(key):
                    out.append(
                        f"{name}.{key}: the events give {want.get(key)!r}, "
                        f"the case stores {have.get(key)!r}"
                    )
        else:
            out.append(f"{name}: the events give {want!r}, the case stores {have!r}")
    return out
