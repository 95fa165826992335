"""Chinese registration identifiers found in app case files.

Two identifiers appear on every operator record in a campaign ledger:

* the unified social credit code (统一社会信用代码, "USCC") of the operating
  company, defined by GB 32100-2015: 18 characters, the last one a mod-31
  check character over the first 17;
* the ICP filing number (ICP备案号) of the operator's website, e.g.
  ``湘ICP备18001234号-1``.

This module is pure and uses only the standard library.
"""

from __future__ import annotations

import random
import re

__all__ = [
    "USCC_ALPHABET",
    "USCC_LENGTH",
    "USCC_WEIGHTS",
    "make_uscc",
    "uscc_check_char",
    "validate_icp_filing",
    "validate_uscc",
]

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""The 31 characters a USCC may contain (GB 32100-2015); I, O, S, V and Z are excluded."""

USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
"""Weight of each of the first 17 positions: 3**i mod 31."""

USCC_LENGTH = 18
"""Length of a USCC, check character included."""

_MODULUS = len(USCC_ALPHABET)  # 31, a prime
_VALUES = {char: value for value, char in enumerate(USCC_ALPHABET)}

# One-character province abbreviations seen at the start of ICP filing numbers: the GB/T 2260
# abbreviations, plus the alternates MIIT uses in filing numbers (蜀 Sichuan, 黔 Guizhou,
# 滇 Yunnan, 陇 Gansu).
_ICP_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼蜀黔滇陇"
_ICP_PATTERN = re.compile(rf"[{_ICP_PROVINCES}]ICP备(?:[0-9]{{10}}|[0-9]{{8}})号(?:-[1-9][0-9]*)?")


def uscc_check_char(first17: str) -> str:
    """Compute the check character of a unified social credit code.

    GB 32100-2015: with ``v_i`` the value of character ``i`` in :data:`USCC_ALPHABET` and
    ``w_i`` the weight in :data:`USCC_WEIGHTS`, the check value is
    ``31 - (sum(v_i * w_i) mod 31)``, where 31 is written as ``'0'``.

    Args:
        first17: The first 17 characters of the code, upper case, without the check character.

    Returns:
        The single check character, from :data:`USCC_ALPHABET`.

    Raises:
        ValueError: If ``first17`` is not 17 characters long or contains a character
            outside :data:`USCC_ALPHABET`.
    """
    if len(first17) != USCC_LENGTH - 1:
        raise ValueError(f"check character needs {USCC_LENGTH - 1} characters, got {len(first17)}")
    total = 0
    for position, (char, weight) in enumerate(zip(first17, USCC_WEIGHTS, strict=True), 1):
        value = _VALUES.get(char)
        if value is None:
            raise ValueError(f"character {char!r} at position {position} is not allowed")
        total += value * weight
    return USCC_ALPHABET[(_MODULUS - total % _MODULUS) % _MODULUS]


def validate_uscc(code: str) -> str:
    """Validate a unified social credit code and return it in canonical form.

    Surrounding whitespace is stripped and letters are upper-cased before checking.

    Args:
        code: The code as written, e.g. ``" 914403001922038216 "``.

    Returns:
        The canonical code: 18 upper-case characters.

    Raises:
        ValueError: If the code does not have 18 characters, contains a character outside
            :data:`USCC_ALPHABET` (positions in the message count from 1), or its check
            character is wrong. The message says which.
    """
    canonical = code.strip().upper()
    if len(canonical) != USCC_LENGTH:
        raise ValueError(f"USCC {canonical!r} has {len(canonical)} characters, needs {USCC_LENGTH}")
    for position, char in enumerate(canonical, 1):
        if char not in _VALUES:
            raise ValueError(
                f"USCC {canonical!r}: character {char!r} at position {position} is not allowed"
            )
    expected = uscc_check_char(canonical[:-1])
    if canonical[-1] != expected:
        raise ValueError(
            f"USCC {canonical!r}: check character should be {expected}, not {canonical[-1]}"
        )
    return canonical


def validate_icp_filing(text: str) -> str:
    """Validate an ICP filing number and return it without surrounding whitespace.

    Accepted form: a one-character province abbreviation, ``ICP备``, eight ASCII digits
    (two-digit year and six-digit serial, as issued up to 2018) or ten (four-digit year,
    as issued since), ``号``, and optionally
    ``-N`` with N a positive integer without leading zeros (the N-th website of the filer),
    e.g. ``湘ICP备18001234号`` or ``湘ICP备18001234号-1``.

    Args:
        text: The filing number as written.

    Returns:
        The filing number, stripped.

    Raises:
        ValueError: If ``text`` does not have the accepted form.
    """
    stripped = text.strip()
    if _ICP_PATTERN.fullmatch(stripped) is None:
        raise ValueError(
            f"{stripped!r} is not an ICP filing number like '湘ICP备18001234号' "
            "or '湘ICP备18001234号-1'"
        )
    return stripped


def make_uscc(rng: random.Random, region_code: str) -> str:
    """Make a fictional but valid unified social credit code.

    The code is: registration authority ``9`` (market regulation), institution type ``1``
    (enterprise), the 6-digit administrative region code, 9 random characters from
    :data:`USCC_ALPHABET` standing in for the organization code, and the check character.
    The organization code part is random, so it is not a valid GB 11714 code.

    Args:
        rng: The random source; the result depends only on its state and ``region_code``.
        region_code: A 6-digit GB/T 2260 region code, e.g. ``"430100"`` (长沙市).

    Returns:
        An 18-character code that passes :func:`validate_uscc`.

    Raises:
        ValueError: If ``region_code`` is not 6 ASCII digits.
    """
    if re.fullmatch(r"[0-9]{6}", region_code) is None:
        raise ValueError(f"region code {region_code!r} is not 6 digits")
    org = "".join(rng.choice(USCC_ALPHABET) for _ in range(9))
    first17 = f"91{region_code}{org}"
    return first17 + uscc_check_char(first17)
