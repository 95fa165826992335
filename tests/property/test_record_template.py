"""A record template encodes exactly the bytes the hashed record's own encoding gives, for
any values of its varying fields (strings with escapes and non-ASCII text, integers at the
limits, JSON objects), and refuses what canonical JSON refuses."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from appcase.audit.canonical import MAX_SAFE_INTEGER, canonical_bytes, canonical_text
from appcase.audit.records import HASHED_FIELDS, RecordTemplate, record_bytes

VARYING = ("case_id", "seq", "from", "to", "override", "prev_hash")

_text = st.text(max_size=30)
_int = st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
_json: Any = st.recursive(
    st.none() | st.booleans() | _int | _text,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(st.characters(max_codepoint=127), max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
_record = st.fixed_dictionaries(dict.fromkeys(HASHED_FIELDS, _json))


@given(_record, st.tuples(_text, _int, _text, _text, _json, _text))
def test_a_template_encodes_as_the_record_does(
    shared: dict[str, Any], own: tuple[Any, ...]
) -> None:
    try:
        template = RecordTemplate(shared, VARYING)
    except ValueError:  # a shared value that is not canonical (a lone surrogate)
        with pytest.raises(ValueError, match=r"."):
            canonical_bytes(shared)
        return
    record = {**shared, **dict(zip(VARYING, own, strict=True))}
    try:
        expected = record_bytes(record)
    except ValueError:
        with pytest.raises(ValueError, match=r"."):
            template.seal(own)
        return
    assert template.seal(own) == (record, expected)


@given(_json)
def test_canonical_text_is_canonical_bytes_as_text(value: Any) -> None:
    try:
        data = canonical_bytes(value)
    except ValueError:
        return
    assert canonical_text(value).encode("utf-8") == data


def test_a_template_refuses_what_is_not_canonical() -> None:
    template = RecordTemplate(dict.fromkeys(HASHED_FIELDS, "x"), VARYING)
    for bad in (1.5, 2**53, "\ud800"):
        with pytest.raises(ValueError, match=r"."):
            template.seal(("c", bad, "a", "b", None, "h"))
    with pytest.raises(ValueError, match="keys"):
        RecordTemplate({"case_id": "x"}, VARYING)
