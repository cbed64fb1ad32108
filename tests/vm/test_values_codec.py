"""The document-values codec of runtime snapshots (vm/_restore.pyx, spec/snapshot.md 3):
trees inline as positional arrays, only shared or cyclic containers marked with
tags 28/29, byte-stable, and strict about damaged input."""
from __future__ import annotations

import struct
import subprocess
import sys
import threading

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from advm.vm._machine import Record
from advm.vm.continuation import Continuation
from advm.vm.errors import SnapshotError
from advm.vm.snapshot import VALUES_VERSION, dumps_values, loads_values

SHAREABLE, SHARED = 28, 29


def body_of(data: bytes):
    """The root as cbor2 reads it (tags 28/29 resolved by cbor2 itself)."""
    fmt, version, root = cbor2.loads(data)
    assert (fmt, version) == ("advm-values", VALUES_VERSION)
    return root


def count_tag(data: bytes, tag: int) -> int:
    """How often a one-byte-argument tag head (0xd8 tag) occurs before a
    container or an index: good enough for the small graphs here, whose
    scalars never contain these byte pairs."""
    return data.count(bytes([0xD8, tag]))


def table_with_rows(n: int) -> Record:
    table = Record(0, [n + 1, {}, {}, 0, 3])
    for i in range(1, n + 1):
        table.f[1][i] = Record(1, [i, f"row {i}", i * 0.5, table])
    return table


def test_a_tree_is_written_inline_without_any_tag():
    tree = {"a": Record(3, [1, "x", [Record(4, [2.5, None, True])], {"k": b"\x00"}])}
    data = dumps_values(tree)
    assert count_tag(data, SHAREABLE) == 0 and count_tag(data, SHARED) == 0
    # A record is a bare array (its layout first, then its fields); a list is tagged.
    expected = (bytes([0xA1, 0x61]) + b"a" + bytes([0x85, 0x03, 0x01, 0x61]) + b"x"
                + bytes([0xD9, 0x9C, 0xA5, 0x81, 0x84, 0x04, 0xFB]) + struct.pack(">d", 2.5)
                + bytes([0xF6, 0xF5, 0xA1, 0x61]) + b"k" + bytes([0x41, 0x00]))
    assert data == bytes([0x83, 0x6B]) + b"advm-values" + bytes([VALUES_VERSION]) + expected
    back = loads_values(data)
    assert type(back["a"]) is Record and back["a"].layout == 3
    assert back["a"].f[2][0].f == [2.5, None, True] and back["a"].f[3] == {"k": b"\x00"}
    assert dumps_values(back) == data


def test_a_record_referenced_from_two_places_comes_back_as_one_object():
    shared = Record(7, ["same", 1])
    other = Record(7, ["same", 1])  # equal, but not the same record: stays a separate copy
    root = {"doc": Record(2, [shared, other]), "locals": [shared, other, shared]}
    data = dumps_values(root)
    assert count_tag(data, SHAREABLE) == 2 and count_tag(data, SHARED) == 3
    back = loads_values(data)
    assert back["doc"].f[0] is back["locals"][0] is back["locals"][2]
    assert back["doc"].f[1] is back["locals"][1]
    fresh = {"doc": Record(2, [Record(7, ["same", 1]), Record(7, ["same", 1])])}
    assert count_tag(dumps_values(fresh), SHAREABLE) == 0
    assert dumps_values(back) == data


def test_a_list_in_a_cycle_keeps_the_cycle():
    items: list = [1]
    holder = Record(5, [items])
    items.append(holder)
    items.append(items)
    back = loads_values(dumps_values({"root": items}))["root"]
    assert back[0] == 1 and back[1].f[0] is back and back[2] is back


def test_a_map_in_a_cycle_and_a_record_that_holds_itself():
    d: dict = {}
    d["me"] = d
    r = Record(1, [None])
    r.f[0] = r
    back = loads_values(dumps_values([d, r, d]))
    assert back[0]["me"] is back[0] is back[2] and back[1].f[0] is back[1]


def test_rows_point_back_at_their_table_and_only_the_table_is_marked():
    table = table_with_rows(50)
    data = dumps_values({"doc": Record(9, [table])})
    # The table is on a cycle with every row (their owner slot): it is marked
    # once and each row refers back to it; the rows themselves are inline.
    assert count_tag(data, SHAREABLE) == 1 and count_tag(data, SHARED) == 50
    back = loads_values(data)["doc"].f[0]
    rows = back.f[1]
    assert list(rows) == list(range(1, 51))
    assert all(row.f[3] is back for row in rows.values())
    assert rows[7].f[:3] == [7, "row 7", 3.5]
    # Plain CBOR tools read it too (tags 28/29 are the standard value-sharing pair).
    plain_table = body_of(data)["doc"][1]
    assert plain_table[0] == 0 and plain_table[2][7][:4] == [1, 7, "row 7", 3.5]
    assert plain_table[2][7][4] is plain_table


def test_a_table_row_held_by_a_suspended_frame_register_stays_that_row():
    table = table_with_rows(3)
    doc = Record(9, [table])
    held = table.f[1][2]
    cont = Continuation([[4, 17, 0, 0, 0], [5, 3, 2, 1, 4]], (7).to_bytes(8, "little") * 2,
                        b"\x00" * 8, [None, held, "text", held], {"id": 1, "channel": "c"}, "mod")
    data = dumps_values({"doc": doc, "cont": cont})
    back = loads_values(data)
    row = back["doc"].f[0].f[1][2]
    c = back["cont"]
    assert type(c) is Continuation and c.obank[1] is row and c.obank[3] is row
    assert c.frames == [[4, 17, 0, 0, 0], [5, 3, 2, 1, 4]] and c.ibank == cont.ibank
    assert c.dbank == cont.dbank and c.payload == {"id": 1, "channel": "c"} and c.module_id == "mod"
    row.f[1] = "changed through the register"
    assert back["doc"].f[0].f[1][2].f[1] == "changed through the register"
    assert dumps_values(back) != data and dumps_values(loads_values(data)) == data


def test_scalars_of_every_kind_round_trip_exactly():
    values = [None, True, False, 0, 23, 24, 255, 256, 65535, 65536, 2**32, 2**63, 2**64 - 1, 2**64,
              2**200, -1, -24, -25, -2**63, -2**64, -2**64 - 1, -2**200, 0.0, -0.0, 1.5, 1e300,
              float("inf"), "", "é ☃ 𝄞", b"", b"\xff" * 300, "x" * 70000]
    back = loads_values(dumps_values(values))
    assert back == values
    assert [type(v) for v in back] == [type(v) for v in values]
    assert str(back[values.index(1.5) - 1]) == "-0.0"
    nan = loads_values(dumps_values([float("nan")]))[0]
    assert nan != nan


def test_a_record_without_a_field_list_round_trips():
    back = loads_values(dumps_values([Record(4, None)]))
    assert back[0].layout == 4 and back[0].f is None


def test_values_it_cannot_write_are_refused():
    with pytest.raises(TypeError, match="set"):
        dumps_values({"x": {1, 2}})
    with pytest.raises(TypeError, match="map key"):
        dumps_values({(1, 2): 3})
    deep: list = []
    for _ in range(30000):
        deep = [deep]
    with pytest.raises(ValueError, match="nested"):
        dumps_values(deep)


def test_deep_nesting_is_refused_when_reading_even_in_a_thread():
    def nested(n):
        # n lists inside each other, written by hand (the writer refuses this much)
        return (bytes([0x83, 0x6B]) + b"advm-values" + bytes([VALUES_VERSION])
                + bytes([0xD9, 0x9C, 0xA5, 0x81]) * n + bytes([0xF6]))

    out = {}

    def run():
        try:
            out["ok"] = loads_values(nested(1500))
            loads_values(nested(100_000))
        except SnapshotError as e:
            out["error"] = str(e)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    depth, v = 0, out["ok"]
    while isinstance(v, list):
        depth, v = depth + 1, v[0]
    assert depth == 1500 and "nested too deep" in out["error"]


def test_equal_states_give_equal_bytes_in_another_process():
    code = (
        "from advm.vm._machine import Record\n"
        "from advm.vm.snapshot import dumps_values\n"
        "t = Record(0, [4, {}, {}, 0, 2])\n"
        "for i in range(1, 4): t.f[1][i] = Record(1, [i, 'r', t])\n"
        "s = Record(2, ['shared'])\n"
        "print(dumps_values({'doc': t, 'a': [s, s, 2**70, 0.1]}).hex())\n"
    )
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout for _ in range(2)}
    t = Record(0, [4, {}, {}, 0, 2])
    for i in range(1, 4):
        t.f[1][i] = Record(1, [i, "r", t])
    s = Record(2, ["shared"])
    assert runs == {dumps_values({"doc": t, "a": [s, s, 2**70, 0.1]}).hex() + "\n"}


def test_every_truncation_and_bit_flip_is_a_snapshot_error_or_a_value():
    data = dumps_values({"doc": Record(9, [table_with_rows(4)]), "s": ["x", 1.5, -7, b"b"]})
    for n in range(len(data)):
        with pytest.raises(SnapshotError):
            loads_values(data[:n])
    with pytest.raises(SnapshotError, match="bytes after"):
        loads_values(data + b"\x00")
    for i in range(len(data)):
        for bit in (0x01, 0x20, 0x80):
            flipped = bytearray(data)
            flipped[i] ^= bit
            try:
                loads_values(bytes(flipped))
            except SnapshotError:
                pass


def test_other_formats_and_versions_are_named():
    data = dumps_values([1])
    with pytest.raises(SnapshotError, match="not an advm value snapshot"):
        loads_values(cbor2.dumps(["other", VALUES_VERSION, [1]]))
    with pytest.raises(SnapshotError, match=f"snapshot version 99, this advm reads version {VALUES_VERSION}"):
        loads_values(data.replace(bytes([VALUES_VERSION]), bytes([0x18, 99]), 1))
    old = cbor2.dumps({"format": "advm-values", "version": 2, "root": None, "heap": []})
    with pytest.raises(SnapshotError, match="snapshot version 2, this advm reads version"):
        loads_values(old)
    with pytest.raises(SnapshotError):
        loads_values(b"")
    with pytest.raises(SnapshotError, match="bad reference"):
        loads_values(cbor2.dumps(["advm-values", VALUES_VERSION, cbor2.CBORTag(29, 0)]))


scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                    st.floats(allow_nan=False), st.text(max_size=8), st.binary(max_size=8))


@st.composite
def graphs(draw):
    """Trees of records, lists and maps, with some containers reused (sharing)."""
    pool: list = []

    def node(depth):
        if depth > 3 or draw(st.integers(0, 3)) == 0:
            if pool and draw(st.booleans()):
                return draw(st.sampled_from(pool))
            return draw(scalars)
        kind = draw(st.sampled_from(["record", "list", "map"]))
        n = draw(st.integers(0, 3))
        if kind == "record":
            v = Record(draw(st.integers(0, 40)), [node(depth + 1) for _ in range(n)])
        elif kind == "list":
            v = [node(depth + 1) for _ in range(n)]
        else:
            v = {draw(st.one_of(st.integers(-5, 5), st.text(max_size=3))): node(depth + 1) for _ in range(n)}
        pool.append(v)
        return v

    return node(0)


def shape(v, seen):
    """The graph's structure with sharing made explicit (first-seen numbering)."""
    if type(v) not in (Record, list, dict):
        return (type(v).__name__, v)
    if id(v) in seen:
        return ("ref", seen[id(v)])
    seen[id(v)] = len(seen)
    if type(v) is Record:
        return ("record", v.layout, [shape(x, seen) for x in v.f])
    if type(v) is list:
        return ("list", [shape(x, seen) for x in v])
    return ("map", [(k, shape(x, seen)) for k, x in v.items()])


@settings(max_examples=150, deadline=None)
@given(graphs())
def test_random_graphs_round_trip_with_their_sharing(g):
    data = dumps_values(g)
    back = loads_values(data)
    assert shape(back, {}) == shape(g, {})
    assert dumps_values(back) == data


def test_an_object_key_that_is_not_text_is_bad_input_not_a_crash():
    # JSON only makes text keys; a Python caller may hand {3: "x"} in, which
    # used to raise AttributeError inside valid_text.
    from advm.vm.values import has_bad_text, input_problem

    assert has_bad_text({3: "x"}) and has_bad_text({"a": [{None: 1}]})
    assert not has_bad_text({"a": [{"b": "c"}]})
    code, text = input_problem({3: "x"})
    assert code == "bad_text" and "key that is not text" in text


# The encoder's bytes against a plain Python writing of spec/snapshot.md 3 (the
# encoder counts containers in a table of addresses, not a dict of ids: the
# bytes must not move).

def _head(major: int, n: int) -> bytes:
    if n < 24:
        return bytes([major << 5 | n])
    for info, width in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * width):
            return bytes([major << 5 | info]) + n.to_bytes(width, "big")
    raise ValueError(n)


def reference_encode(root) -> bytes:
    reached: dict[int, int] = {}
    keep = []

    def count(v):
        if type(v) not in (Record, list, dict):
            return
        keep.append(v)
        if id(v) in reached:
            reached[id(v)] += 1
            return
        reached[id(v)] = 1
        items = (v.f or []) if type(v) is Record else v.values() if type(v) is dict else v
        for x in items:
            count(x)

    numbers: dict[int, int] = {}
    out = bytearray()

    def scalar(v):
        if type(v) is float:
            out.extend(struct.pack(">Bd", 0xFB, v))
        elif type(v) is int and not -2**64 <= v < 2**64:
            big = v if v >= 0 else -1 - v
            out.extend(_head(6, 2 if v >= 0 else 3))
            raw = big.to_bytes((big.bit_length() + 7) // 8, "big")
            out.extend(_head(2, len(raw)) + raw)
        else:
            out.extend(cbor2.dumps(v))

    def value(v):
        if type(v) not in (Record, list, dict):
            return scalar(v)
        if id(v) in numbers:
            out.extend(_head(6, SHARED) + _head(0, numbers[id(v)]))
            return
        if reached[id(v)] > 1:
            numbers[id(v)] = len(numbers)
            out.extend(_head(6, SHAREABLE))
        if type(v) is Record:
            if v.f is None:
                out.extend(_head(6, 40103) + _head(0, v.layout))
                return
            out.extend(_head(4, len(v.f) + 1) + _head(0, v.layout))
            for x in v.f:
                value(x)
        elif type(v) is list:
            out.extend(_head(6, 40101) + _head(4, len(v)))
            for x in v:
                value(x)
        else:
            out.extend(_head(5, len(v)))
            for k, x in v.items():
                scalar(k)
                value(x)

    count(root)
    out.extend(_head(4, 3))
    scalar("advm-values")
    scalar(VALUES_VERSION)
    value(root)
    return bytes(out)


@settings(max_examples=150, deadline=None)
@given(graphs())
def test_random_graphs_encode_to_the_bytes_the_format_defines(g):
    assert dumps_values(g) == reference_encode(g)


def test_a_big_table_encodes_to_the_bytes_the_format_defines():
    # Past the encoder's first table of addresses (it grows) and deep enough
    # to share: rows pointing back at their table, a list holding rows twice.
    table = table_with_rows(3000)
    rows = list(table.f[1].values())
    doc = Record(1, [table, [rows[5], rows[5], rows[2999]], {"k": [1.5, -0.0, float("inf")]}])
    data = dumps_values(doc)
    assert data == reference_encode(doc)
    assert dumps_values(loads_values(data)) == data


def test_texts_that_look_alike_to_the_decoder_come_back_as_written():
    # The decoder gives a recurring short text once (a small cache keyed by
    # its length and three of its bytes): texts that share that key, texts
    # past its length limit, empty and non-ASCII ones must all come back exact.
    texts = ["aXbYa", "aZbWa", "aXbYa", "aZbWa", "", "é☃é", "é☂é", "q" * 48, "q" * 49,
             "q" * 47 + "r", "ann@", "ann@", "bob@"] * 3
    back = loads_values(dumps_values(texts))
    assert back == texts
    assert back[10] is back[11]  # one object for a text met again


def test_item_end_finds_where_a_plain_cbor_item_ends():
    # vm/_restore.pyx item_end: replay slices a stored snapshot's top-level
    # entries with it, without decoding them.
    from advm.vm._restore import item_end

    values = [0, 23, 24, 255, 256, 2**32, 2**64 - 1, -1, -2**64, 1.5, float("nan"), "", "é" * 30,
              b"\x00" * 300, [], [1, [2, [3]]], {"a": {"b": [None, True, False]}}, cbor2.CBORTag(40101, [1]),
              {i: "x" * i for i in range(40)}, [b"y"] * 70000]
    for v in values:
        data = cbor2.dumps(v)
        assert item_end(data, 0) == len(data), v
        assert item_end(b"\x01" + data + b"\x02", 1) == len(data) + 1
        for cut in {0, 1, len(data) // 2, len(data) - 1}:
            if cut < len(data):
                assert item_end(data[:cut], 0) == -1, (v, cut)
    assert item_end(b"\x9f\x01\xff", 0) == -1  # indefinite length
    assert item_end(b"\x1c", 0) == -1  # reserved
    assert item_end(b"\x01", 5) == -1 and item_end(b"\x01", -1) == -1
    deep = b"\x81" * 3000 + b"\x00"
    assert item_end(deep, 0) == -1  # past MAX_DEPTH
