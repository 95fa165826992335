"""Keys and signatures: the keys that check signatures (an Ed25519 public key, read with
the standard library alone, or a shared HMAC-SHA256 key), their ids, and the keys that sign
(:class:`Signer`, :func:`load_signer`, :func:`generate_key`).

This module signs and checks *messages* (bytes); what a checkpoint's message is lives in
:mod:`appcase.audit.checkpoints`. Ed25519 needs the ``cryptography`` package, which is
imported only inside the functions that need it: reading keys, HMAC and key ids need the
standard library alone, so an auditor can run this module from copied files.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "ED25519",
    "HMAC_SHA256",
    "MIN_HMAC_KEY_BYTES",
    "AuditInputError",
    "Signer",
    "VerifyKey",
    "ed25519_key_id",
    "generate_key",
    "hmac_key_id",
    "load_hmac_key",
    "load_public_key",
    "load_signer",
    "verify_signature",
]

ED25519 = "ed25519"
"""Signature algorithm: Ed25519 (RFC 8032) with the operator's private key."""
HMAC_SHA256 = "hmac-sha256"
"""Signature algorithm: HMAC-SHA256 with a shared key (verifying needs the key itself)."""
_SPKI_ED25519_PREFIX = bytes.fromhex("302a300506032b6570032100")
"""DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the 32 key bytes follow."""
MIN_HMAC_KEY_BYTES = 32
"""Shortest HMAC key accepted, in bytes (configurable default: SHA-256's output size)."""


class AuditInputError(ValueError):
    """Bad usage: a key or a bundle cannot be read or written, or a check cannot be made
    (e.g. Ed25519 signatures asked for and the ``cryptography`` package missing). The
    message says what to do; front ends show it as bad input."""


@dataclass(frozen=True)
class VerifyKey:
    """A key to check signatures with.

    Attributes:
        alg: ``"ed25519"`` (``material`` is the 32-byte public key) or ``"hmac-sha256"``
            (``material`` is the shared secret).
        material: the key bytes.
        key_id: the id signatures made with this key carry (:func:`ed25519_key_id`,
            :func:`hmac_key_id`).
    """

    alg: str
    material: bytes = field(repr=False)
    key_id: str


def ed25519_key_id(public_key: bytes) -> str:
    """Key id of an Ed25519 public key.

    Args:
        public_key: the key's 32 raw bytes.

    Returns:
        The first 16 hex digits of SHA-256 of those bytes.
    """
    return hashlib.sha256(public_key).hexdigest()[:16]


def hmac_key_id(key: bytes) -> str:
    """Key id of an HMAC key, which identifies the key without revealing it.

    Args:
        key: the shared secret.

    Returns:
        The first 16 hex digits of HMAC-SHA256(key, ``"appcase-key-id"``).
    """
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
        text = read_key_file(path).decode("ascii").strip()
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


MAX_KEY_FILE_BYTES = 64 << 10
"""The largest key file read (64 KiB): a key is a few hundred bytes at most."""


def read_key_file(path: str | Path) -> bytes:
    """A key file's bytes: a regular file of at most :data:`MAX_KEY_FILE_BYTES` (a device,
    a pipe or an endless file is refused without being read to its end).

    Raises:
        OSError: it cannot be read, is not a regular file, or is too large (the limit is
            in the message).
    """
    import errno
    import stat

    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a pipe: never wait
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        data = f.read(MAX_KEY_FILE_BYTES + 1)
    if len(data) > MAX_KEY_FILE_BYTES:
        raise OSError(errno.EFBIG, f"larger than the limit of {MAX_KEY_FILE_BYTES:,} bytes")
    return data


def _read_hmac_key(path: str | Path, *, brief: bool = False) -> bytes:
    """An HMAC key file's bytes, surrounding whitespace removed; at least 32 of them
    (``brief``: name only the operating system's reason when the file cannot be read)."""
    try:
        key = read_key_file(path).strip()
    except OSError as exc:
        reason = exc.strerror if brief else exc
        raise AuditInputError(f"cannot read HMAC key {path}: {reason}") from None
    if len(key) < MIN_HMAC_KEY_BYTES:
        raise AuditInputError(
            f"HMAC key {path} has {len(key)} bytes; use at least {MIN_HMAC_KEY_BYTES} "
            "(e.g. 'openssl rand -hex 32 > FILE')"
        )
    return key


def load_hmac_key(path: str | Path) -> VerifyKey:
    """Read an HMAC-SHA256 key to check signatures with: the file's bytes, surrounding
    ASCII whitespace removed.

    Args:
        path: the key file (at least :data:`MIN_HMAC_KEY_BYTES` bytes).

    Returns:
        The key, with its id.

    Raises:
        AuditInputError: unreadable file, or fewer than 32 bytes.
    """
    key = _read_hmac_key(path)
    return VerifyKey(HMAC_SHA256, key, hmac_key_id(key))


def verify_signature(key: VerifyKey, message: bytes, signature: str) -> bool:
    """Whether ``signature`` (hex) signs ``message`` with ``key``.

    Args:
        key: the public key (Ed25519) or shared key (HMAC).
        message: the bytes signed (for a checkpoint,
            :func:`appcase.audit.checkpoints.signed_message` of its digest).
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


# --- the signing side ----------------------------------------------------------------------


@dataclass(frozen=True)
class Signer:
    """A key that signs (checkpoints).

    Attributes:
        alg: ``"ed25519"`` or ``"hmac-sha256"``.
        key_id: the key's id, stored with each signature (:func:`ed25519_key_id`,
            :func:`hmac_key_id`).
        public_key_hex: for Ed25519, the public key (64 hex digits); else ``None``.
    """

    alg: str
    key_id: str
    public_key_hex: str | None
    _key: Any = field(repr=False)

    def sign(self, message: bytes) -> str:
        """Sign a message.

        Args:
            message: the bytes to sign (for a checkpoint,
                :func:`appcase.audit.checkpoints.signed_message` of its digest).

        Returns:
            The signature, hex.
        """
        if self.alg == HMAC_SHA256:
            return hmac.new(self._key, message, hashlib.sha256).hexdigest()
        signature: bytes = self._key.sign(message)
        return signature.hex()


def _cryptography_needed(what: str) -> AuditInputError:
    return AuditInputError(f"{what} needs the 'cryptography' package (pip install cryptography)")


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
        AuditInputError: both given, a file unreadable, not an unencrypted Ed25519 key, an
            HMAC key shorter than 32 bytes, or Ed25519 asked for without ``cryptography``.
    """
    if key_file and hmac_key_file:
        raise AuditInputError("give either an Ed25519 key or an HMAC key, not both")
    if hmac_key_file:
        key = _read_hmac_key(hmac_key_file, brief=True)
        return Signer(HMAC_SHA256, hmac_key_id(key), None, key)
    if not key_file:
        return None
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    except ImportError:
        raise _cryptography_needed("signing with Ed25519") from None
    try:
        data = read_key_file(key_file)
    except OSError as exc:
        raise AuditInputError(f"cannot read key {key_file}: {exc.strerror or exc}") from None
    try:
        private = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise AuditInputError(
            f"{key_file} is not an unencrypted PEM private key; make one with "
            "'appcase audit keygen --out FILE'"
        ) from None
    if not isinstance(private, Ed25519PrivateKey):
        raise AuditInputError(f"{key_file} is not an Ed25519 private key")
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
        AuditInputError: a file exists already or cannot be written, or ``cryptography``
            is missing.
    """
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    except ImportError:
        raise _cryptography_needed("making an Ed25519 key") from None
    path = Path(out)
    public_path = Path(f"{path}.pub")
    for p in (path, public_path):
        if p.exists():
            raise AuditInputError(f"{p} exists; choose another file (keys are never overwritten)")
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
        raise AuditInputError(f"cannot write the key to {path}: {exc.strerror}") from None
    return public_pem, raw.hex(), ed25519_key_id(raw)
