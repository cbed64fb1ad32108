"""A document's values are bounded in size (issue 10, point 10; spec/bytecode.md
4.1): a handler doubling a string reached 2^30 characters (+1.5 GB) inside its
budget. Past the bound the transaction fails with a clear error and nothing of
it is kept; `@static` moves the bound."""
from __future__ import annotations

import pytest
from runkit import BOB, document

from advm.runtime.engine import TransactionError
from advm.vm._machine import DEFAULT_MAX_ITEMS, DEFAULT_MAX_STRING
from advm.vm.errors import public_message

DOUBLING = """
@static { create { return true; } }
message Go { int times; }
public string text = "x";
public int n;
channel grow(Go g) {
  for (int i = 0; i < g.times; i++) {
    text = text + text;
  }
  n = n + 1;
}
channel many(Go g) {
  text = "ab".multiply(g.times);
}
"""


def test_doubling_a_string_stops_at_the_bound_and_keeps_nothing():
    doc = document(DOUBLING)
    doc.send(BOB, "grow", {"times": 10})
    assert len(doc.field("text")) == 1024 and doc.field("n") == 1
    with pytest.raises(TransactionError) as info:
        doc.send(BOB, "grow", {"times": 40})   # 2^50 characters unbounded
    e = info.value
    assert e.kind == "error"
    assert "string too long" in e.message and f"bound of {DEFAULT_MAX_STRING}" in e.message
    assert "maximum_string_length" in e.message and e.position == "doc.adb:8:19"
    assert len(doc.field("text")) == 1024 and doc.field("n") == 1   # rolled back
    # the document goes on
    doc.send(BOB, "grow", {"times": 1})
    assert len(doc.field("text")) == 2048 and doc.field("n") == 2


def test_a_client_reads_which_bound_without_numbers():
    doc = document(DOUBLING)
    with pytest.raises(TransactionError) as info:
        doc.send(BOB, "grow", {"times": 40})
    assert public_message(info.value.message) == (
        "string too long: past this document's size bound (maximum_string_length)")


def test_string_multiply_is_bounded_before_it_allocates():
    doc = document(DOUBLING)
    with pytest.raises(TransactionError) as info:
        doc.send(BOB, "many", {"times": 1 << 30})   # 2 GiB of characters unbounded
    assert "string too long: 2147483648 characters" in info.value.message
    doc.send(BOB, "many", {"times": 3})
    assert doc.field("text") == "ababab"


BOUNDED = """
@static {
  create { return true; }
  maximum_string_length = 100;
  maximum_collection_size = 5;
}
record Row { public int v; }
message Go { int times; }
public string text = "";
public map<int, int> m;
table<Row> rows;
public formula count = rows.size();
channel write(Go g) {
  for (int i = 0; i < g.times; i++) {
    text = text + "0123456789";
  }
}
channel put(Go g) {
  for (int i = 0; i < g.times; i++) {
    m[i] = i;
  }
}
channel insert(Go g) {
  for (int i = 0; i < g.times; i++) {
    rows <- {v: i};
  }
}
channel listing(Go g) {
  list<int> xs = [1, 2, 3, 4, 5, 6];
  text = "made";
}
"""


def test_static_properties_move_the_bounds():
    doc = document(BOUNDED)
    assert doc.machine.max_string == 100 and doc.machine.max_items == 5
    doc.send(BOB, "write", {"times": 10})
    assert len(doc.field("text")) == 100
    with pytest.raises(TransactionError) as info:
        doc.send(BOB, "write", {"times": 1})
    assert "string too long: 110 characters, past this document's bound of 100" in info.value.message


def test_maps_and_tables_are_bounded_in_items():
    doc = document(BOUNDED)
    doc.send(BOB, "put", {"times": 5})
    doc.send(BOB, "put", {"times": 5})   # the same keys again: nothing is added
    with pytest.raises(TransactionError) as info:
        doc.send(BOB, "put", {"times": 6})
    assert "map too long: 6 items, past this document's bound of 5" in info.value.message
    assert len(doc.field("m")) == 5
    doc.send(BOB, "insert", {"times": 5})
    with pytest.raises(TransactionError) as info:
        doc.send(BOB, "insert", {"times": 1})
    assert "table too long: 6 items" in info.value.message
    assert doc.field("count") == 5
    with pytest.raises(TransactionError) as info:
        doc.send(BOB, "listing", {"times": 0})
    assert "list too long: 6 items" in info.value.message
    assert doc.field("text") == ""


def test_the_defaults():
    assert DEFAULT_MAX_STRING == 4 * 1024 * 1024 and DEFAULT_MAX_ITEMS == 1_000_000


def test_the_checker_knows_the_properties():
    from advm.compiler.build import build_source
    from advm.compiler.codegen import CodegenError

    with pytest.raises(CodegenError) as info:
        build_source("@static { maximum_string_length = 0; }", "bad.adb")
    assert "E0504" in str(info.value)
