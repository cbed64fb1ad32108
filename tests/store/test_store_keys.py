"""The key layout: byte order equals the order the store relies on."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from advm.store import InvalidDocKey, keys

# Document keys: any text without NUL or lone surrogates, within the byte limit.
doc_keys = st.text(
    alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
    min_size=1, max_size=40)
seqs = st.integers(min_value=0, max_value=keys.SEQ_MAX)
times = st.integers(min_value=0, max_value=keys.TIME_MAX)


@given(doc_keys, seqs, doc_keys, seqs)
def test_log_keys_sort_by_document_then_seq(a, s, b, t):
    ka, kb = keys.log_key(a, s), keys.log_key(b, t)
    # UTF-8 byte order is code point order, which is Python's str order.
    assert (ka < kb) == ((a, s) < (b, t))
    assert (ka == kb) == ((a, s) == (b, t))


@given(doc_keys, seqs, doc_keys)
def test_a_documents_range_holds_only_its_keys(a, s, b):
    prefix = keys.doc_prefix(a)
    key = keys.log_key(b, s)
    inside = prefix <= key < keys.range_end(prefix)
    assert inside == (a == b)


@given(doc_keys, seqs)
def test_log_keys_round_trip(doc, seq):
    assert keys.split_seq_key(keys.log_key(doc, seq)) == (doc, seq)
    assert keys.key_seq(keys.log_key(doc, seq)) == seq


@given(times, doc_keys, times, doc_keys)
def test_timer_keys_sort_by_due_time_then_document(d1, a, d2, b):
    ka, kb = keys.timer_due_key(d1, a), keys.timer_due_key(d2, b)
    assert (ka < kb) == ((d1, a) < (d2, b))
    assert keys.split_timer_due_key(ka) == (d1, a)


@given(times, doc_keys, doc_keys)
def test_wake_index_keys_sort_before_reverse_keys(due, a, b):
    # One cursor scan from "D" meets every wake entry before any "W" entry.
    assert keys.timer_due_key(due, a) < keys.timer_of_key(b)


@pytest.mark.parametrize("bad, why", [
    ("", "empty"),
    ("a\x00b", "NUL"),
    ("x" * 256, "limit"),
    ("\udc80", "Unicode"),
    (b"bytes", "string"),
])
def test_invalid_document_keys_are_refused(bad, why):
    with pytest.raises(InvalidDocKey, match=why):
        keys.doc_prefix(bad)


def test_longest_document_key_fits_lmdb_key_limit():
    doc = "\u20ac" * (keys.MAX_DOC_BYTES // 3)  # 3 bytes each in UTF-8
    assert len(keys.log_key(doc, keys.SEQ_MAX)) <= 511
    assert len(keys.timer_due_key(keys.TIME_MAX, doc)) <= 511


def test_out_of_range_numbers_are_refused():
    with pytest.raises(ValueError):
        keys.log_key("d", -1)
    with pytest.raises(ValueError):
        keys.log_key("d", keys.SEQ_MAX + 1)
    with pytest.raises(ValueError):
        keys.timer_due_key(-5, "d")
