"""The limits appcase holds its input to, in one place, and the one bounded file read.

Every refusal for a limit quotes the limit's value and the name under which
``docs/limits.md`` lists it (a test renders that table from :data:`LIMITS` and compares).
Nothing here is configurable at run time: the values bound memory and time on hostile input
and are far above anything a real campaign needs.

This module sits just above :mod:`appcase.errors`, below every other package, so that the
campaign parser, the file adapters and the command line share the same numbers and the same
reading code.
"""

from __future__ import annotations

import json
import math
import os
import stat
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from appcase.errors import InvalidInput

__all__ = [
    "LIMITS",
    "MAX_ARGUMENT_CHARS",
    "MAX_CAMPAIGN_FILE_BYTES",
    "MAX_CELL_CHARS",
    "MAX_DAY_COUNT",
    "MAX_INTEGER_DIGITS",
    "MAX_KEY_FILE_BYTES",
    "MAX_LEDGER_FILE_BYTES",
    "MAX_LEDGER_ROWS",
    "MAX_NAME_CHARS",
    "MAX_NESTING_DEPTH",
    "MAX_NOTES_FILE_BYTES",
    "MAX_PATH_BYTES",
    "MAX_PAYLOAD_FILE_BYTES",
    "MAX_REQUEST_BODY_BYTES",
    "MAX_TEXT_CHARS",
    "MAX_XLSX_UNPACKED_BYTES",
    "Limit",
    "UnreadableFile",
    "check_integer",
    "check_path",
    "check_structure",
    "escape_controls",
    "load_json",
    "read_bounded",
    "shown_text",
]


@dataclass(frozen=True, slots=True)
class Limit:
    """One limit, as the docs list it.

    Attributes:
        name: the constant's name in this module.
        value: the limit.
        unit: what is counted (``"bytes"``, ``"characters"``…).
        what: what is limited, in a few words.
    """

    name: str
    value: int
    unit: str
    what: str

    def quote(self) -> str:
        """The limit as a refusal message quotes it, e.g. ``"1,048,576 bytes (MAX_…)"``."""
        return f"{self.value:,} {self.unit} ({self.name}, docs/limits.md)"


MAX_NAME_CHARS = 200
"""Longest name: an app, its operator, an officer, a signatory, a decision number."""
MAX_TEXT_CHARS = 4000
"""Longest free text: a description, a problem pointed out at an interview."""
MAX_ARGUMENT_CHARS = 10_000
"""Longest command-line argument (or ``APPCASE_*`` environment value)."""
MAX_PATH_BYTES = 4096
"""Longest file path or database URL (the Linux ``PATH_MAX``)."""
MAX_PAYLOAD_FILE_BYTES = 1 << 20
"""Largest JSON file given to a command (``--payload``, ``--reporter-file``, ``--app-file``)."""
MAX_REQUEST_BODY_BYTES = 1 << 20
"""Largest HTTP request body, a ledger upload aside (it has :data:`MAX_LEDGER_FILE_BYTES`):
the server refuses a longer one (413) before it parses it or checks the token."""
MAX_CAMPAIGN_FILE_BYTES = 1 << 20
"""Largest campaign TOML file."""
MAX_KEY_FILE_BYTES = 64 << 10
"""Largest key file (Ed25519 PEM or hex, HMAC key)."""
MAX_NOTES_FILE_BYTES = 1 << 20
"""Largest notes file of a summary report."""
MAX_LEDGER_FILE_BYTES = 64 << 20
"""Largest ledger file (CSV or XLSX, as stored on disk)."""
MAX_XLSX_UNPACKED_BYTES = 512 << 20
"""Largest total size of the files packed in an XLSX ledger, once unpacked."""
MAX_LEDGER_ROWS = 200_000
"""Most rows in a ledger file (header and blank rows included)."""
MAX_CELL_CHARS = 10_000
"""Longest cell of a ledger file."""
MAX_NESTING_DEPTH = 32
"""Deepest nesting of lists and objects in a JSON payload or a campaign file."""
MAX_INTEGER_DIGITS = 18
"""Most digits of an integer in a JSON payload or a campaign file."""
MAX_DAY_COUNT = 3660
"""Largest count of days (or the same span in hours) in a campaign file: ten years."""

LIMITS: tuple[Limit, ...] = (
    Limit("MAX_NAME_CHARS", MAX_NAME_CHARS, "characters", "a name (app, operator, officer)"),
    Limit("MAX_TEXT_CHARS", MAX_TEXT_CHARS, "characters", "a free text (description, problem)"),
    Limit("MAX_ARGUMENT_CHARS", MAX_ARGUMENT_CHARS, "characters", "a command-line argument"),
    Limit("MAX_PATH_BYTES", MAX_PATH_BYTES, "bytes", "a file path or database URL"),
    Limit("MAX_PAYLOAD_FILE_BYTES", MAX_PAYLOAD_FILE_BYTES, "bytes", "a JSON payload file"),
    Limit("MAX_REQUEST_BODY_BYTES", MAX_REQUEST_BODY_BYTES, "bytes", "an HTTP request body"),
    Limit("MAX_CAMPAIGN_FILE_BYTES", MAX_CAMPAIGN_FILE_BYTES, "bytes", "a campaign file"),
    Limit("MAX_KEY_FILE_BYTES", MAX_KEY_FILE_BYTES, "bytes", "a key file"),
    Limit("MAX_NOTES_FILE_BYTES", MAX_NOTES_FILE_BYTES, "bytes", "a summary's notes file"),
    Limit("MAX_LEDGER_FILE_BYTES", MAX_LEDGER_FILE_BYTES, "bytes", "a ledger file (CSV, XLSX)"),
    Limit(
        "MAX_XLSX_UNPACKED_BYTES",
        MAX_XLSX_UNPACKED_BYTES,
        "bytes",
        "an XLSX ledger once unpacked",
    ),
    Limit("MAX_LEDGER_ROWS", MAX_LEDGER_ROWS, "rows", "rows of a ledger file"),
    Limit("MAX_CELL_CHARS", MAX_CELL_CHARS, "characters", "a cell of a ledger file"),
    Limit(
        "MAX_NESTING_DEPTH",
        MAX_NESTING_DEPTH,
        "levels",
        "nesting of a JSON payload or campaign file",
    ),
    Limit(
        "MAX_INTEGER_DIGITS",
        MAX_INTEGER_DIGITS,
        "digits",
        "an integer in a JSON payload or campaign file",
    ),
    Limit("MAX_DAY_COUNT", MAX_DAY_COUNT, "days", "a count of days in a campaign file"),
)
"""Every limit, in the order ``docs/limits.md`` lists them."""

_BY_VALUE_NAME = {limit.name: limit for limit in LIMITS}


def _quote(name: str) -> str:
    return _BY_VALUE_NAME[name].quote()


def escape_controls(text: str) -> str:
    """``text`` with every control character, line break, bidirectional override and lone
    surrogate written as a visible escape (``\\n``, ``\\x1b``, ``\\u202e``, ``\\udcff``), so
    that printing it can neither forge a line nor move the cursor."""
    out: list[str] = []
    for c in text:
        cat = unicodedata.category(c)
        if cat in ("Cc", "Cs", "Zl", "Zp") or _is_bidi_control(c):
            out.append(c.encode("unicode_escape").decode("ascii"))
        else:
            out.append(c)
    return "".join(out)


def shown_text(text: str, length: int = 120) -> str:
    """``text`` as a message shows a value a person gave: control characters escaped
    (:func:`escape_controls`) and cut to ``length`` characters with an ellipsis."""
    cut = text if len(text) <= length else text[: length - 1] + "…"
    return escape_controls(cut)


def _is_bidi_control(c: str) -> bool:
    return "\u202a" <= c <= "\u202e" or "\u2066" <= c <= "\u2069" or c in "\u200e\u200f\u061c"


def check_path(path: str | os.PathLike[str], what: str = "file") -> Path:
    """Check a path before any use: no NUL byte, no lone surrogate (bytes that are not
    UTF-8), not longer than :data:`MAX_PATH_BYTES`.

    Raises:
        InvalidInput: naming the problem and the limit.
    """
    text = os.fspath(path)
    shown = shown_text(text)
    if "\x00" in text:
        raise InvalidInput(f"the {what} name '{shown}' holds a NUL byte")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidInput(f"the {what} name '{shown}' is not valid UTF-8") from None
    if size > MAX_PATH_BYTES:
        raise InvalidInput(
            f"the {what} name is {size:,} bytes long; the limit is {_quote('MAX_PATH_BYTES')}"
        )
    return Path(text)


def read_bounded(path: str | os.PathLike[str], limit: int, what: str) -> bytes:
    """Read a whole file, refusing it once it holds more than ``limit`` bytes.

    Never reads more than ``limit + 1`` bytes, so an endless file (``/dev/zero``, a pipe)
    costs no more than a large one. ``"-"`` reads standard input.

    Args:
        path: the file, or ``"-"``.
        limit: the most bytes accepted: one of this module's ``MAX_*_BYTES``.
        what: what the file is, for the message (``"payload file"``).

    Returns:
        The file's bytes.

    Raises:
        InvalidInput: the path is malformed, the file cannot be read (the operating
            system's reason), is a directory, or is larger than ``limit`` (quoted).
    """
    name = next((lim.name for lim in LIMITS if lim.value == limit and lim.unit == "bytes"), None)
    quoted = _quote(name) if name else f"{limit:,} bytes"
    if os.fspath(path) == "-":
        data = _read_at_most(sys.stdin.buffer, limit)
        shown = "standard input"
    else:
        p = check_path(path, what)
        shown = shown_text(str(p))
        try:
            kind = os.stat(p).st_mode
        except OSError as exc:
            raise UnreadableFile(shown, exc.strerror or type(exc).__name__) from None
        if stat.S_ISFIFO(kind) or stat.S_ISSOCK(kind):  # opening it could wait for ever
            raise InvalidInput(
                f"{what} {shown} is a pipe or socket, not a file; files up to {quoted} are read"
            )
        try:
            with p.open("rb") as fh:
                mode = os.fstat(fh.fileno()).st_mode
                if stat.S_ISDIR(mode):
                    raise InvalidInput(f"{what} {shown} is a directory")
                data = _read_at_most(fh, limit)
        except OSError as exc:
            raise UnreadableFile(shown, exc.strerror or type(exc).__name__) from None
    if len(data) > limit:
        raise InvalidInput(f"{what} {shown} is larger than the limit of {quoted}")
    return data


class UnreadableFile(InvalidInput):
    """A file the operating system would not read.

    Attributes:
        path: the file, as shown.
        reason: the operating system's words (``"No such file or directory"``).
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"cannot read {path}: {reason}")


def _read_at_most(fh: BinaryIO, limit: int) -> bytes:
    chunks: list[bytes] = []
    left = limit + 1
    while left > 0:
        chunk = fh.read(min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def check_structure(value: object, source: str) -> None:
    """Refuse parsed data nested deeper than :data:`MAX_NESTING_DEPTH`, holding an integer
    of more than :data:`MAX_INTEGER_DIGITS` digits, a float that is not finite, or a string
    (or key) with a lone surrogate (walked without recursion).

    Raises:
        InvalidInput: naming ``source`` and the limit.
    """
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list | tuple):
            if depth > MAX_NESTING_DEPTH:
                raise InvalidInput(
                    f"{source} is nested too deeply; the limit is {_quote('MAX_NESTING_DEPTH')}"
                )
            if isinstance(item, dict):
                stack.extend((key, depth) for key in item)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(item, bool):
            continue
        elif isinstance(item, int):
            check_integer(item, source)
        elif isinstance(item, float) and not math.isfinite(item):
            raise InvalidInput(f"{source} holds {item!r}, which is not a finite number")
        elif isinstance(item, str):
            _check_utf8(item, source)


def _check_utf8(text: str, source: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(
            f"{source} holds the text {escape_controls(text[:80])!r}, which is not valid "
            "UTF-8 (a lone surrogate)"
        ) from None


def _parse_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INTEGER_DIGITS:
        raise _TooManyDigits(digits)
    return int(text)


class _TooManyDigits(ValueError):
    def __init__(self, digits: int) -> None:
        super().__init__(digits)
        self.digits = digits


def _no_constant(text: str) -> object:
    raise ValueError(f"{text} is not a number JSON allows")


def load_json(data: bytes, source: str) -> object:
    """Parse JSON from at most a bounded file's bytes, within this module's limits.

    Refuses, naming ``source``: bytes that are not UTF-8, malformed JSON, ``NaN`` and
    ``Infinity``, an integer of more than :data:`MAX_INTEGER_DIGITS` digits (checked
    before Python converts it, so Python's own int-string limit is never reached),
    nesting deeper than :data:`MAX_NESTING_DEPTH`, and strings with lone surrogates.

    Raises:
        InvalidInput: the problem, with the limit quoted where one was passed.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{source} is not UTF-8 text (byte {exc.start})") from None
    try:
        value = json.loads(text, parse_int=_parse_int, parse_constant=_no_constant)
    except _TooManyDigits as exc:
        raise InvalidInput(
            f"{source} holds an integer of {exc.digits:,} digits; the limit is "
            f"{_quote('MAX_INTEGER_DIGITS')}"
        ) from None
    except RecursionError:
        raise InvalidInput(
            f"{source} is nested too deeply; the limit is {_quote('MAX_NESTING_DEPTH')}"
        ) from None
    except ValueError as exc:  # json.JSONDecodeError and the refusals above
        raise InvalidInput(f"{source} is not JSON: {escape_controls(str(exc))}") from None
    check_structure(value, source)
    return value


def check_integer(value: int, source: str) -> None:
    """Refuse an integer of more than :data:`MAX_INTEGER_DIGITS` digits.

    Raises:
        InvalidInput: naming ``source`` and the limit.
    """
    if abs(value) >= 10**MAX_INTEGER_DIGITS:
        raise InvalidInput(
            f"{source} holds an integer of more than {MAX_INTEGER_DIGITS} digits; the limit "
            f"is {_quote('MAX_INTEGER_DIGITS')}"
        )
