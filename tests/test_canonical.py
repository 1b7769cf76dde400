"""The fast canonical encoder writes exactly what the RFC 8785 reference (rfc8785) writes."""

import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.chain import canonical_bytes

keys = st.text(max_size=8)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
    st.text(),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
    max_leaves=20,
)


@settings(max_examples=500)
@given(st.dictionaries(keys, documents, max_size=6))
def test_fast_path_equals_the_reference(document: dict) -> None:
    try:
        expected = rfc8785.dumps(document)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError):
        return  # e.g. lone surrogates: the ledger refuses such text before hashing
    assert canonical_bytes(document) == expected


def test_keys_outside_the_bmp_use_utf16_order() -> None:
    # U+1F600 sorts before U+FB01 in UTF-16 code units, after it in code points.
    document = {"\U0001f600": 1, "\ufb01": 2}
    assert canonical_bytes(document) == rfc8785.dumps(document)
