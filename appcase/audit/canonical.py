"""Canonical JSON: the one encoding that every hash of appcase is taken over.

A subset of RFC 8785 (JSON Canonicalization Scheme), specified in full in
``appcase/data/CANONICALIZATION.md``:

* the value is JSON made of objects, arrays, strings, integers in
  ``[-(2**53 - 1), 2**53 - 1]``, ``true``, ``false`` and ``null`` -- never floats;
* object keys are ASCII and sorted (for ASCII keys, code-point order is RFC 8785's UTF-16
  order);
* no whitespace; strings are written as UTF-8, escaping only ``"``, ``\\`` and control
  characters (``json.dumps(..., ensure_ascii=False)``), as RFC 8785 requires.

Standard library only: an auditor runs it from copied files.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["MAX_SAFE_INTEGER", "canonical_bytes", "canonical_text", "encodes_to", "shown"]

MAX_SAFE_INTEGER = 2**53 - 1
"""Largest integer a hashed record may hold (RFC 8785 writes numbers as IEEE doubles)."""


def _check(value: Any, path: str) -> None:
    """Raise ``ValueError`` naming the first part of ``value`` that is not canonical JSON."""
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or item is None or kind is bool:
            continue
        if kind is int:
            if -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                continue
        elif kind is dict:
            for key, sub in item.items():
                if type(key) is not str or not key.isascii():
                    _raise_at(value, path)
                stack.append(sub)
            continue
        elif kind is list or kind is tuple:
            stack.extend(item)
            continue
        _raise_at(value, path)


def _raise_at(value: Any, path: str) -> None:
    """The slow walk, with paths, once something was found wrong (iterative: a deeply
    nested hostile value cannot exhaust the stack)."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, bool) or item is None or isinstance(item, str):
            continue
        if isinstance(item, int):
            if abs(item) > MAX_SAFE_INTEGER:
                raise ValueError(f"{where}: integer {_short_int(item)} is outside ±(2**53 - 1)")
            continue
        if isinstance(item, float):
            raise ValueError(f"{where}: floats are not allowed in hashed records")
        if isinstance(item, list | tuple):
            stack.extend((sub, f"{where}[{i}]") for i, sub in reversed(list(enumerate(item))))
            continue
        if isinstance(item, dict):
            for key in item:
                if not isinstance(key, str) or not key.isascii():
                    raise ValueError(
                        f"{where}: object keys must be ASCII strings, got {str(key)[:40]!r}"
                    )
            stack.extend((sub, f"{where}.{key}") for key, sub in reversed(list(item.items())))
            continue
        raise ValueError(f"{where}: {type(item).__name__} is not a JSON value")


def _short_int(value: int) -> str:
    """An integer for a message: never converted to decimal when huge (Python's
    int-to-string limit would raise, and the text would be unbounded)."""
    if value.bit_length() > 64:
        return f"of {value.bit_length()} bits"
    return str(value)


def shown(value: Any, width: int = 40) -> str:
    """Any value read from untrusted input, for a message: at most about ``width``
    characters, in constant time and stack (never ``str`` of a deep list, never a huge
    integer converted to decimal).

    Args:
        value: anything (typically parsed JSON).
        width: how many characters of a string to show.

    Returns:
        A string's ``repr`` cut to ``width``, an integer (or its size), ``true`` ...; for an
        array or object, only its kind and length.
    """
    if isinstance(value, str):
        text = repr(value[:width])
        return text if len(value) <= width else text + "..."
    if value is None or isinstance(value, bool | float):
        return repr(value)
    if isinstance(value, int):
        return _short_int(value)
    if isinstance(value, list | tuple):
        return f"an array of {len(value)}"
    if isinstance(value, dict):
        return f"an object of {len(value)} keys"
    return type(value).__name__


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
"""The canonical encoder, made once (``json.dumps`` with these arguments builds one per call)."""


def canonical_bytes(value: Any) -> bytes:
    """Encode a JSON value canonically (see the module docstring).

    Args:
        value: JSON made of dicts with ASCII keys, lists, str, int, bool and None.

    Returns:
        The UTF-8 bytes of the canonical encoding.

    Raises:
        ValueError: if the value holds a float, an integer beyond ±(2**53 - 1), a non-ASCII
            key, a lone surrogate or a non-JSON type.
    """
    _check(value, "$")
    try:
        text = _ENCODER.encode(value)
    except RecursionError:
        raise ValueError("$: the value is nested too deeply to encode") from None
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"string cannot be encoded as UTF-8: {exc.reason}") from None


def canonical_text(value: Any) -> str:
    """The canonical encoding of a JSON value as text (UTF-8 encoding it gives
    :func:`canonical_bytes`); a string, an integer or ``null`` without walking anything.

    Args:
        value: a JSON value as :func:`canonical_bytes` takes it.

    Returns:
        The canonical JSON text (a string may still hold a lone surrogate, which encoding
        it as UTF-8 refuses).

    Raises:
        ValueError: as :func:`canonical_bytes`, for what is not canonical JSON.
    """
    kind = type(value)
    if kind is str:
        return _ENCODER.encode(value)
    if kind is int and -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        return str(value)
    if value is None:
        return "null"
    _check(value, "$")
    try:
        return _ENCODER.encode(value)
    except RecursionError:
        raise ValueError("$: the value is nested too deeply to encode") from None


def encodes_to(value: Any, data: bytes) -> bool:
    """Whether ``data`` is exactly the canonical encoding of ``value``.

    Cheaper than ``canonical_bytes(value) == data``: the value is not walked first, as
    equality with ``data`` settles it for a value decoded from JSON (string keys): one
    that :func:`canonical_bytes` refuses -- a float, a huge integer, a non-ASCII key --
    encodes to bytes that no canonical encoding by appcase is, so only bytes made outside
    appcase could match, and a hash chain then has to vouch for them anyway. NaN and the
    infinities, and strings that UTF-8 cannot encode, never match.

    Args:
        value: any value (typically a record built from decoded columns).
        data: bytes, typically stored beside the value and hashed.

    Returns:
        ``True`` only if the encoding of ``value`` is byte for byte ``data``; ``False``
        also when ``value`` cannot be encoded.
    """
    try:
        if _ONE_SHOT is None:  # pragma: no cover - a Python without the C accelerator
            return _ENCODER.encode(value).encode("utf-8") == data
        return "".join(_ONE_SHOT(value, 0)).encode("utf-8") == data
    except (ValueError, TypeError, RecursionError, UnicodeEncodeError):
        return False


def _one_shot() -> Any:
    """The C encoder of :data:`_ENCODER`'s settings, made once (``JSONEncoder.encode``
    makes one per call), without the circular-reference check (a cycle ends in
    ``RecursionError``); ``None`` without the C accelerator."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover
        return None
    basestring = json.encoder.encode_basestring
    return make(None, _ENCODER.default, basestring, None, ":", ",", True, False, False)


_ONE_SHOT = _one_shot()
