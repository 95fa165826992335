"""Tests for appcase.states.identifiers: USCC (GB 32100-2015) and ICP filing numbers."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from appcase.states.identifiers import (
    USCC_ALPHABET,
    USCC_WEIGHTS,
    make_uscc,
    uscc_check_char,
    validate_icp_filing,
    validate_uscc,
)

# Real, publicly registered codes, used to check the algorithm against the world rather than
# against itself. Each is printed on the company's business licence and published in the
# National Enterprise Credit Information Publicity System:
#   华为技术有限公司 (Huawei Technologies Co., Ltd.)           914403001922038216
#   腾讯科技（深圳）有限公司 (Tencent Technology (Shenzhen))   91440300708461136T
#   小米科技有限责任公司 (Xiaomi Inc.)                        91110108551385082Q
# The check characters 6, T and Q were computed by uscc_check_char and match the published ones.
KNOWN_GOOD = [
    "914403001922038216",
    "91440300708461136T",
    "91110108551385082Q",
]
HUAWEI = KNOWN_GOOD[0]


def test_weights_are_powers_of_three_mod_31() -> None:
    assert list(USCC_WEIGHTS) == [pow(3, i, 31) for i in range(17)]


def test_alphabet_has_31_characters_without_i_o_s_v_z() -> None:
    assert len(USCC_ALPHABET) == len(set(USCC_ALPHABET)) == 31
    assert not set("IOSVZ") & set(USCC_ALPHABET)


@pytest.mark.parametrize("code", KNOWN_GOOD)
def test_check_char_of_real_codes(code: str) -> None:
    assert uscc_check_char(code[:17]) == code[17]
    assert validate_uscc(code) == code


def test_check_char_31_maps_to_zero() -> None:
    # A weighted sum of 0 gives 31 - 0 = 31, which is written '0'.
    assert uscc_check_char("0" * 17) == "0"
    assert validate_uscc("0" * 18) == "0" * 18


def test_validate_strips_and_upper_cases() -> None:
    assert validate_uscc("  91440300708461136t\n") == "91440300708461136T"


def test_wrong_check_char() -> None:
    with pytest.raises(ValueError, match="check character should be 6, not 7"):
        validate_uscc(HUAWEI[:17] + "7")


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (HUAWEI[:17], "has 17 characters, needs 18"),
        (HUAWEI + "0", "has 19 characters, needs 18"),
        ("", "has 0 characters, needs 18"),
        ("   ", "has 0 characters, needs 18"),
    ],
)
def test_wrong_length(code: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_uscc(code)


@pytest.mark.parametrize("letter", list("IOSVZ"))
def test_forbidden_letters(letter: str) -> None:
    code = HUAWEI[:4] + letter + HUAWEI[5:]
    with pytest.raises(ValueError, match=f"character '{letter}' at position 5 is not allowed"):
        validate_uscc(code)


def test_forbidden_lower_case_letter_reported_upper_cased() -> None:
    with pytest.raises(ValueError, match="character 'O' at position 18 is not allowed"):
        validate_uscc(HUAWEI[:17] + "o")


@pytest.mark.parametrize("char", ["-", " ", "Ａ", "９", "中"])
def test_other_characters_rejected(char: str) -> None:
    with pytest.raises(ValueError, match="at position 10 is not allowed"):
        validate_uscc(HUAWEI[:9] + char + HUAWEI[10:])


def test_uscc_check_char_argument_errors() -> None:
    with pytest.raises(ValueError, match="needs 17 characters, got 18"):
        uscc_check_char(HUAWEI)
    with pytest.raises(ValueError, match="character 'I' at position 1 is not allowed"):
        uscc_check_char("I" + HUAWEI[1:17])


@pytest.mark.parametrize(
    "text",
    [
        "湘ICP备18001234号",
        "湘ICP备18001234号-1",
        "湘ICP备18001234号-12",
        "京ICP备05002571号",
        "蜀ICP备17000001号-3",
        "  湘ICP备18001234号-2 ",
    ],
)
def test_icp_good(text: str) -> None:
    assert validate_icp_filing(text) == text.strip()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "湘ICP备1800123号",  # 7 digits
        "湘ICP备180012345号",  # 9 digits
        "湘ICP备18001234",  # no 号
        "ICP备18001234号",  # no province
        "湖南ICP备18001234号",  # province name, not abbreviation
        "港ICP备18001234号",  # not a mainland province
        "湘icp备18001234号",  # lower case
        "湘ICP证18001234号",  # 证 is an ICP licence, not a filing
        "湘ICP备18001234号-",  # empty suffix
        "湘ICP备18001234号-0",
        "湘ICP备18001234号-01",
        "湘ICP备18001234号－1",  # full-width hyphen
        "湘ICP备１８００１２３４号",  # full-width digits
        "湘ICP备18001234号-1 湘ICP备18001235号",
    ],
)
def test_icp_bad(text: str) -> None:
    with pytest.raises(ValueError, match="is not an ICP filing number"):
        validate_icp_filing(text)


def test_make_uscc_layout() -> None:
    code = make_uscc(random.Random(1), "430100")
    assert code.startswith("91430100")
    assert validate_uscc(code) == code


def test_make_uscc_is_deterministic() -> None:
    assert make_uscc(random.Random(2018), "431300") == make_uscc(random.Random(2018), "431300")


@pytest.mark.parametrize("region", ["43010", "4301000", "43O100", "", "４３０１００"])
def test_make_uscc_rejects_bad_region(region: str) -> None:
    with pytest.raises(ValueError, match="is not 6 digits"):
        make_uscc(random.Random(0), region)


regions = st.text(alphabet="0123456789", min_size=6, max_size=6)
valid_codes = st.builds(make_uscc, st.randoms(use_true_random=False), regions)


@given(regions, st.integers(min_value=0, max_value=2**64))
def test_every_made_code_validates(region: str, seed: int) -> None:
    code = make_uscc(random.Random(seed), region)
    assert len(code) == 18
    assert code[:8] == "91" + region
    assert validate_uscc(code) == code


# Replacements for the substitution property: the alphabet plus characters that are not
# allowed. Lower case letters are left out on purpose: validate_uscc upper-cases, so 'a' for
# 'A' is the same code, not a different one.
replacements = st.sampled_from(USCC_ALPHABET + "IOSVZ-* ")


@given(valid_codes, st.integers(min_value=0, max_value=17), replacements)
def test_any_single_substitution_is_detected(code: str, position: int, new: str) -> None:
    # Why this holds: changing the value at position i < 17 by d (0 < |d| < 31) changes the
    # weighted sum by w_i * d; 31 is prime and no weight is a multiple of 31, so w_i * d is
    # not 0 mod 31 and the check character changes. Changing the check character itself
    # leaves the sum as it was.
    if new == code[position]:
        new = USCC_ALPHABET[(USCC_ALPHABET.index(new) + 1) % 31]
    changed = code[:position] + new + code[position + 1 :]
    with pytest.raises(ValueError, match="USCC"):
        validate_uscc(changed)


def test_every_single_substitution_of_a_real_code_is_detected() -> None:
    # The exhaustive version of the property above, for one real code: 18 * 30 changes.
    for position in range(18):
        for new in USCC_ALPHABET:
            if new != HUAWEI[position]:
                changed = HUAWEI[:position] + new + HUAWEI[position + 1 :]
                with pytest.raises(ValueError, match="check character should be"):
                    validate_uscc(changed)


def test_weights_are_nonzero_mod_31() -> None:
    # The algebraic fact the substitution property rests on.
    assert all(weight % 31 != 0 for weight in USCC_WEIGHTS)
