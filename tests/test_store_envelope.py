"""The C reader of log records (store/_envelope.pyx) gives exactly what cbor2
and store/log.py give, or hands the record over (None)."""
from __future__ import annotations

import math
import zlib

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advm.store import Entry, log, records

_envelope = pytest.importorskip("advm.store._envelope")

plain = st.recursive(
    st.none() | st.booleans() | st.integers(-2**64, 2**64 - 1) | st.text(max_size=12)
    | st.binary(max_size=12) | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=6) | st.integers(-5, 5), inner, max_size=4),
    max_leaves=16)


def record(row) -> bytes:
    return records.pack(records.KIND_LOG, row)


@settings(max_examples=300, deadline=None)
@given(payload=plain, principal=st.none() | st.text(max_size=8), extra=st.none() | plain)
def test_same_rows_as_cbor2(payload, principal, extra):
    row = [7, 1_767_225_600_000, "send", principal, "say", payload, "ok", b"\x01" * 8]
    if isinstance(extra, dict):
        row.append(extra)
    raw = record(row)
    got = _envelope.quick_row(memoryview(raw), 7)
    want = cbor2.loads(raw[records.HEADER_SIZE:])
    if got is not None:
        assert got == want and repr(got) == repr(want)  # same types too (1 vs 1.0 vs True)


def test_entries_read_in_c_equal_those_read_with_cbor2():
    e = Entry(3, 5, "send", "ada@lab", "say", {"text": "hi", "n": [1, -2, 2.5, None, True]},
              {"outcome": "ok", "digest": b"12345678", "ask": 4})
    raw = log.encode(e)
    row = _envelope.quick_row(raw, 3)
    assert row is not None and log._entry(row) == e
    assert log._quick(raw, 3) == e and log.decode("d", b"d\x00" + (3).to_bytes(8, "big"), raw) == e


@pytest.mark.parametrize("body", [
    [3, 5, "send", None, None, cbor2.CBORTag(2, b"\x01"), None, None],   # a tag: cbor2's
    [3, 5, "send", None, None, {(1, 2): 3}, None, None],                  # a list as a key
    [3, 5, "send", None, None, math.inf, None, None],                      # fine: a double
])
def test_what_it_hands_over_is_what_cbor2_decodes(body):
    raw = record(body)
    got = _envelope.quick_row(raw, 3)
    entry = log._quick(raw, 3)
    assert entry is not None and list(entry[:6]) == cbor2.loads(raw[7:])[:6]
    if isinstance(body[5], float):
        assert got is not None and got[5] == math.inf


def test_bad_records_are_not_taken():
    good = record([3, 5, "send", None, None, None, None, None])
    assert _envelope.quick_row(good, 3) is not None
    assert _envelope.quick_row(good, 4) is None                      # another seq
    flipped = bytearray(good)
    flipped[-1] ^= 1
    assert _envelope.quick_row(bytes(flipped), 3) is None            # CRC
    assert _envelope.quick_row(good[:-1], 3) is None                 # truncated
    assert _envelope.quick_row(record([3, 5, "send"]), 3) is None    # too short
    assert _envelope.quick_row(record({"seq": 3}), 3) is None        # a map
    body = b"\x88\x03\x05\x62\xff\xfe\xf6\xf6\xf6\xf6\xf6"  # kind: invalid UTF-8
    raw = records.HEADER.pack(records.MAGIC, records.RECORD_VERSION, records.KIND_LOG,
                              zlib.crc32(body)) + body
    assert _envelope.quick_row(raw, 3) is None


@given(st.binary(max_size=200))
def test_crc_is_zlibs(data):
    assert _envelope.crc32(data) == zlib.crc32(data)


@pytest.mark.parametrize("half", [0x0000, 0x8000, 0x0001, 0x03FF, 0x0400, 0x3C00, 0xC000, 0x7BFF,
                                  0x7C00, 0xFC00, 0x7E00])
def test_half_floats_decode_as_cbor2_does(half):
    body = b"\x88\x03\x05\x64send\xf6\xf6\xf9" + half.to_bytes(2, "big") + b"\xf6\xf6"
    raw = records.HEADER.pack(records.MAGIC, records.RECORD_VERSION, records.KIND_LOG,
                              zlib.crc32(body)) + body
    want = cbor2.loads(body)[5]
    got = _envelope.quick_row(raw, 3)
    if half == 0x7E00:
        assert got is None  # NaN: cbor2's
    else:
        assert got is not None and repr(got[5]) == repr(want)


def _old_state_hash(data: bytes) -> bytes:
    # store/noviews.py state_hash as defined: everything decoded by cbor2
    import hashlib

    body = cbor2.loads(data)
    if isinstance(body, dict):
        body.pop("viewers", None)
        outbox = body.get("outbox")
        if isinstance(outbox, list):
            body["outbox"] = [f for f in outbox if not (isinstance(f, dict) and "delta" in f)]
    return hashlib.sha256(cbor2.dumps(body)).digest()


@settings(max_examples=100, deadline=None)
@given(viewers=plain, rest=st.dictionaries(st.sampled_from(["a", "clock", "queue", "z"]), plain,
                                           max_size=3),
       outbox=st.lists(st.sampled_from([{"delta": 1}, {"to": "x", "error": {}}, 3]), max_size=3))
def test_state_hash_skipping_viewers_is_the_state_hash(viewers, rest, outbox):
    from advm.store.noviews import _without_viewers, state_hash

    body = {"format": "advm-living", "document": b"\x83" * 300, **rest, "viewers": viewers,
            "outbox": outbox}
    data = cbor2.dumps(body)
    assert state_hash(data) == _old_state_hash(data)
    assert _without_viewers(data) is not None  # the fast path was taken
    # not a map, or a tag where the map belongs: the whole decode decides
    for odd in (cbor2.dumps([1, 2]), cbor2.dumps(cbor2.CBORTag(55799, body))):
        assert state_hash(odd) == _old_state_hash(odd)


def test_item_end_walks_heads():
    for value in (0, -1, 2**64 - 1, "x" * 30, b"\x00" * 300, [1, [2, {"a": None}]], {1: 2.5},
                  cbor2.CBORTag(6, [True, False]), math.inf):
        data = cbor2.dumps(value) + b"\xf6"
        assert _envelope.item_end(data, 0) == len(data) - 1
    with pytest.raises(ValueError):
        _envelope.item_end(b"\x9f\x01\xff", 0)  # indefinite length
    with pytest.raises(ValueError):
        _envelope.item_end(b"\x83\x01", 0)      # cut short
