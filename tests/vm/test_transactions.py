"""Transactions: every kind of logged write rolls back exactly, savepoints, and
rolling back to an await (spec/bytecode.md section 9)."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from txnkit import NODE, TABLE, WRITERS, containers, machine, new_row, new_table, state, txn_module

from advm.vm import opcodes as O
from advm.vm._machine import Machine, Record, Suspended
from advm.vm.assembler import ModuleAsm
from advm.vm.errors import VMAbort, VMError


def seeded(m):
    """Give the document nested, shared state to write into."""
    shared = [1, 2]
    node = Record(NODE, [1, 0.5, shared, {"k": shared}])
    m.doc.f[3] = [10, shared, node]
    m.doc.f[4] = {"a": 1, "b": node, "c": [3], "d": 4}
    m.doc.f[5] = node
    m.doc.f[6] = rows = new_table()
    for v in (10, 20):  # outside a transaction: already there before every test
        m.table_insert(rows, new_row(v))
    return m


# -------------------------------------------------------------- one kind at a time

def first(m, t):
    return next(c for c in containers(m.doc) if type(c) is t and c is not m.doc)


# writer -> (how to pick its arguments from a seeded document)
ARGS = {
    "set_n": lambda m: (7,),
    "set_x": lambda m: (2.5,),
    "set_s": lambda m: ("new",),
    "set_items": lambda m: ([],),
    "set_tags": lambda m: ({"z": 1},),
    "set_node": lambda m: (None,),
    "rset_i": lambda m: (m.doc.f[5], 99),
    "rset_d": lambda m: (m.doc.f[5], -1.0),
    "rset_o2": lambda m: (m.doc.f[5], "replaced"),
    "rset_o3": lambda m: (m.doc.f[5], m.doc.f[5]),  # a cycle
    "lpush": lambda m: (m.doc.f[3], "pushed"),
    "lset": lambda m: (m.doc.f[3], 1, "set"),
    "mput": lambda m: (m.doc.f[4], "b", "over"),  # an existing key keeps its place
    "mdel": lambda m: (m.doc.f[4], "b"),  # a middle key must come back in the middle
    "hput": lambda m: (m.doc.f[4], "new", 1),
    "hdel": lambda m: (m.doc.f[4], "a"),
    "hfield": lambda m: (m.doc.f[5], [1]),
    "hpush": lambda m: (m.doc.f[3], 5),
    "hcallback": lambda m: (m.doc.f[3], 6),
    "tinsert": lambda m: (m.doc.f[6], new_row(30)),
}


@pytest.mark.parametrize("writer", list(WRITERS))
def test_each_write_rolls_back_and_commits(writer):
    m = seeded(machine())
    before = state(m)
    m.begin()
    m.call(writer, *ARGS[writer](m))
    assert m.undo_length >= 1
    changed = state(m)
    assert changed[0] != before[0], "the write changed nothing"
    m.rollback()
    assert state(m) == before
    # The same write committed stays, and a later rollback does not undo it.
    m.begin()
    m.call(writer, *ARGS[writer](m))
    m.commit()
    assert state(m)[0] == changed[0]
    m.begin()
    m.rollback()
    assert state(m)[0] == changed[0]


def test_every_document_opcode_has_a_writer_here():
    logged = {o.name for o in O.OPS if o.touches_doc and not o.name.startswith("FGET")}
    used = {step[0] for _, steps in WRITERS.values() for step in steps}
    assert logged <= used, logged - used


@pytest.mark.parametrize("writer", [w for w in WRITERS if w not in ("hcallback",)])
def test_writes_outside_a_transaction_are_not_logged(writer):
    m = seeded(machine())
    m.call(writer, *ARGS[writer](m))
    after = state(m)
    m.begin()
    assert m.undo_length == 0
    m.rollback()
    assert state(m) == after


def test_map_delete_and_readd_orders():
    m = machine()
    d = {"a": 1, "b": 2, "c": 3}
    m.doc.f[4] = d
    m.begin()
    m.call("mdel", d, "a")
    m.call("mput", d, "a", 9)  # re-added: now last (maps iterate in insertion order)
    assert list(d) == ["b", "c", "a"]
    m.call("mdel", d, "c")
    m.call("mdel", d, "zz")  # absent: nothing happens, nothing logged
    assert list(d.items()) == [("b", 2), ("a", 9)]
    m.rollback()
    assert list(d.items()) == [("a", 1), ("b", 2), ("c", 3)]


def test_log_undo_shapes_are_checked():
    m = machine()
    assert m.log_undo((print,)) is False  # no transaction: nothing kept
    m.begin()
    for bad in ([print], (), ("text",), (Record(0, [1]), 5, 0), ([], "x", 1), ({}, 1, 2, "p")):
        with pytest.raises(TypeError):
            m.log_undo(bad)
    rec = Record(0, [1, 2])
    assert m.log_undo((rec, 1, "old"))
    m.rollback()
    assert rec.f == [1, "old"]


def test_a_failing_undo_callback_does_not_stop_the_others():
    m = machine()
    d = {"a": 1}
    m.doc.f[4] = d
    m.begin()
    m.call("mput", d, "a", 2)

    def broken():
        raise ValueError("nope")

    m.log_undo((broken,))
    m.call("mput", d, "b", 3)
    with pytest.raises(RuntimeError, match="undo entry failed: ValueError: nope"):
        m.rollback()
    assert d == {"a": 1} and not m.in_transaction


# -------------------------------------------------------------- random sequences

KEYS = st.sampled_from(["a", "b", "c", "d", 1, 2])
SCALARS = st.one_of(st.integers(-2**31, 2**31 - 1), st.floats(allow_nan=False, width=64),
                    st.text(max_size=3), st.none())
VALUES = st.one_of(
    SCALARS.map(lambda v: ("scalar", v)),
    st.sampled_from(["list", "map", "node"]).map(lambda k: ("new", k)),
    st.integers(0, 50).map(lambda i: ("ref", i)),  # share (or nest cyclically) an existing container
)
WRITE = st.tuples(st.sampled_from(sorted(WRITERS)), st.integers(0, 50), st.integers(0, 50), KEYS, VALUES)
OPS = st.one_of(
    WRITE, WRITE, WRITE, WRITE, WRITE, WRITE,  # mostly writes
    st.tuples(st.just("draw")),
    st.tuples(st.just("savepoint")),
    st.tuples(st.just("rollback_to"), st.integers(0, 10)),
)


def _value(m, spec):
    kind, v = spec
    if kind == "scalar":
        return v
    if kind == "new":
        return {"list": [], "map": {}, "node": Record(NODE, [0, 0.0, None, None])}[v]
    cs = containers(m.doc)
    return cs[v % len(cs)]


def _pick(m, t, i):
    # Records to write fields of: the document and nodes (a table's own slots
    # and its rows' owner slots are the table code's, tested on their own).
    everything = containers(m.doc)
    inside = {id(x) for c in everything if type(c) is Record and c.layout == TABLE for x in c.f}
    cs = [c for c in everything if type(c) is t and id(c) not in inside
          and (t is not Record or c.layout in (0, NODE))]
    return cs[i % len(cs)] if cs else None


def _apply(m, op):
    """Run one generated write (or skip it when the document has no target)."""
    name, i, j, key, spec = op
    params = WRITERS[name][0]
    target = {"l": list, "m": dict, "h": None, "r": Record, "s": None, "t": None}[name[0]]
    if name.startswith(("hput", "hdel", "mput", "mdel")):
        target = dict
    elif name.startswith(("hpush", "hcallback", "lpush", "lset")):
        target = list
    elif name.startswith(("rset", "hfield")):
        target = Record
    if name == "tinsert":
        target, obj = None, m.doc.f[6]
        value = new_row(j)
    else:
        obj = _pick(m, target, i) if target is not None else None
    if target is not None and obj is None:
        return
    if name != "tinsert":
        value = _value(m, spec)
    if params == "i":
        args = (j,)
    elif params == "d":
        args = (float(j) / 3,)
    elif params == "o":
        args = (value,)
    elif name == "rset_i":
        args = (obj, j)
    elif name == "rset_d":
        args = (obj, float(j) / 7)
    elif name == "lset":
        args = (obj, j % (len(obj) + 1), value)  # sometimes one past the end: an error
    elif name in ("mput", "hput"):
        args = (obj, key, value)
    elif name in ("mdel", "hdel"):
        args = (obj, key)
    else:
        args = (obj, value)
    try:
        m.call(name, *args)
    except VMError as e:
        # a failed write (index out of range) changed nothing; the transaction goes on
        assert "out of range" in e.message


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(OPS, max_size=40), st.booleans())
def test_random_write_sequences_roll_back_exactly(ops, commit):
    m = seeded(machine(seed=3))
    at_begin = state(m)
    m.begin()
    marks = []
    for op in ops:
        if op[0] == "draw":
            m.call("draw")
        elif op[0] == "savepoint":
            marks.append((m.savepoint(), state(m)))
        elif op[0] == "rollback_to":
            if marks:
                k = op[1] % len(marks)
                mark, expected = marks[k]
                m.rollback_to(mark)
                assert state(m) == expected
                del marks[k + 1:]
        else:
            _apply(m, op)
    if commit:
        final = state(m)
        m.commit()
        assert state(m) == final
        m.begin()
        m.call("set_n", 1)
        m.rollback()
        assert state(m) == final
    else:
        m.rollback()
        assert state(m) == at_begin


MAP_OPS = st.lists(st.one_of(
    st.tuples(st.sampled_from(["mput", "hput"]), KEYS, st.integers(0, 9)),
    st.tuples(st.sampled_from(["mdel", "hdel"]), KEYS),
    st.tuples(st.just("savepoint")),
    st.tuples(st.just("rollback_to"), st.integers(0, 5)),
), max_size=30)


@settings(max_examples=300, deadline=None)
@given(MAP_OPS)
def test_map_order_survives_any_rollback(ops):
    """Key order is the part of a map a rollback most easily gets wrong."""
    m = machine()
    d = {"a": 0, "b": 1, "c": 2, 1: 3}
    m.doc.f[4] = d
    at_begin = list(d.items())
    m.begin()
    marks = []
    for op in ops:
        if op[0] == "savepoint":
            marks.append((m.savepoint(), list(d.items())))
        elif op[0] == "rollback_to":
            if marks:
                k = op[1] % len(marks)
                m.rollback_to(marks[k][0])
                assert list(d.items()) == marks[k][1]
                del marks[k + 1:]
        else:
            m.call(op[0], d, *op[1:])
    m.rollback()
    assert list(d.items()) == at_begin


# -------------------------------------------------------------- rng, misuse

def test_rollback_restores_the_prng():
    m = machine(seed=11)
    m.call("draw")
    before = m.rng_state
    m.begin()
    drawn = [m.call("draw") for _ in range(3)]
    m.rollback()
    assert m.rng_state == before
    assert [m.call("draw") for _ in range(3)] == drawn


def test_transaction_misuse_is_refused():
    m = machine()
    with pytest.raises(RuntimeError, match="needs an open transaction"):
        m.savepoint()
    m.commit()
    m.rollback()  # nothing open: both do nothing
    m.begin()
    with pytest.raises(RuntimeError, match="already open"):
        m.begin()
    with pytest.raises(RuntimeError, match="inside a transaction"):
        m.snapshot()
    old = m.savepoint()
    m.commit()
    m.begin()
    with pytest.raises(ValueError, match="not a savepoint of the open transaction"):
        m.rollback_to(old)
    a = m.savepoint()
    b = m.savepoint()
    m.rollback_to(a)
    with pytest.raises(ValueError, match="discarded"):
        m.rollback_to(b)
    m.rollback_to(a)  # a mark stays usable after rolling back to it
    with pytest.raises(ValueError):
        m.rollback_to("mark")


# -------------------------------------------------------------- awaits

def await_module():
    """play(): n += 1; a local Node p with p.a = 100; two awaits, each answer
    added to n and to p.a (logged writes to a local), abort when an answer is
    negative; returns p.a."""
    m = ModuleAsm("await.adb")
    m.record("Doc", ["n", "log"], "io", [0, []])
    m.record("Node", ["a"], "i", [0])
    m.document = 0
    f = m.function("play", "", "i")
    f.pos = (2, 3)
    f.emit("FGETI", 0, 0)
    f.emit("IADDI", 0, 0, 1)
    f.emit("FSETI", 0, 0)
    f.emit("RNEW", 2, "Node")
    f.emit("ILOADI", 3, 100)
    f.emit("RSETI", 2, 0, 3)  # being built: not logged
    f.emit("OLOADK", 0, "first")
    for step, question in enumerate(("first", "second")):
        f.pos = (3 + step, 5)
        f.emit("OLOADK", 0, question)
        f.emit("SUSPEND", 1, 0)
        f.emit("IUNBOX", 1, 1)
        f.emit("FGETI", 0, 0)
        f.emit("IADD", 0, 0, 1)
        f.emit("FSETI", 0, 0)
        f.emit("RGETI", 3, 2, 0)
        f.emit("IADD", 3, 3, 1)
        f.emit("RSETIL", 2, 0, 3)
        f.emit("FGETO", 4, 1)
        f.emit("LPUSHL", 4, 0)
        ok = f.label()
        f.emit("IGEJK", 1, 0, 1, ok)
        f.pos = (9, 7)
        f.emit("ABORT")
        f.mark(ok)
    f.emit("RGETI", 0, 2, 0)
    f.emit("IRET", 0)
    return m.assemble()


def test_abort_after_an_await_that_did_not_wait_rolls_back_to_it():
    m = Machine(await_module())
    m.begin()
    first = m.call("play")
    assert isinstance(first, Suspended) and first.payload == "first"
    mark = m.savepoint()  # the answer is already there: same transaction
    with pytest.raises(VMAbort) as info:
        m.resume(-5)
    assert info.value.line == 9
    m.rollback_to(mark)
    # back at the await, waiting: the write before it stays, the ones after are gone
    assert m.suspended and m.payload == "first" and m.doc.f == [1, []]
    second = m.resume(3)
    assert isinstance(second, Suspended) and second.payload == "second"
    assert m.doc.f == [4, ["first"]]
    assert m.resume(10) == 113  # p.a saw 100 + 3 + 10: the aborted +(-5) left no trace
    m.commit()
    assert m.doc.f == [14, ["first", "second"]]


def test_abort_after_the_second_await_keeps_what_the_first_wrote():
    m = Machine(await_module())
    m.begin()
    m.call("play")
    m.savepoint()
    m.resume(1)
    mark = m.savepoint()
    with pytest.raises(VMAbort):
        m.resume(-1)
    m.rollback_to(mark)
    assert m.payload == "second" and m.doc.f == [2, ["first"]]
    assert m.resume(0) == 101
    m.commit()
    assert m.doc.f == [2, ["first", "second"]]


def test_an_await_that_waited_resumes_in_a_new_transaction_and_rolls_back_to_it():
    module = await_module()
    m = Machine(module)
    m.begin()
    m.call("play")
    m.commit()  # the checkpoint: n = 1 is durable, the code waits
    data = m.snapshot()
    for machine_ in (m, Machine.from_snapshot(module, data)):
        machine_.begin()  # begin() while suspended remembers where the code waits
        with pytest.raises(VMAbort):
            machine_.resume(-7)
        machine_.rollback()
        assert machine_.suspended and machine_.payload == "first"
        assert machine_.doc.f == [1, []]
        machine_.begin()
        assert machine_.resume(2).payload == "second"
        assert machine_.resume(2) == 104
        machine_.commit()
        assert machine_.doc.f == [5, ["first", "second"]]


def test_a_runtime_error_after_an_await_rolls_back_like_abort():
    m = Machine(await_module())
    m.begin()
    m.call("play")
    mark = m.savepoint()
    with pytest.raises(VMError, match="expected an integer"):
        m.resume("not a number")
    assert not m.suspended and m.depth == 0  # the error dropped the frames...
    m.rollback_to(mark)
    assert m.suspended and m.payload == "first"  # ...and the savepoint brings them back
    assert m.resume(1).payload == "second"


def test_savepoint_taken_while_idle_restores_idle():
    m = machine()
    m.begin()
    m.call("set_n", 5)
    mark = m.savepoint()
    m.call("set_n", 6)
    m.rollback_to(mark)
    assert m.doc.f[0] == 5 and not m.suspended and m.depth == 0
    m.commit()
    assert m.doc.f[0] == 5


def test_detached_computation_comes_back_with_its_savepoint():
    m = Machine(await_module())
    m.begin()
    m.call("play")
    mark = m.savepoint()
    m.detach()  # the runtime parks it and serves something else
    assert not m.suspended
    m.rollback_to(mark)
    assert m.suspended and m.payload == "first"
    assert m.resume(1).payload == "second"


# -------------------------------------------------------------- the host-side API

def test_host_write_helpers_check_their_arguments_and_roll_back():
    m = machine()
    m.begin()
    r = Record(NODE, [1, 0.0, None, None])
    xs, d = [1], {"a": 1, "b": 2}
    with pytest.raises(IndexError, match="no field slot 4"):
        m.write_field(r, 4, 0)
    with pytest.raises(IndexError, match="out of range"):
        m.list_set(xs, 1, 0)
    with pytest.raises(TypeError):
        m.map_put(xs, "a", 1)
    assert m.undo_length == 0
    m.write_field(r, 0, 5)
    m.list_set(xs, 0, 9)
    m.list_append(xs, 10)
    m.map_put(d, "c", 3)
    assert m.map_delete(d, "a") == 1 and m.map_delete(d, "zz") is None
    undone = []
    m.log_undo((lambda: undone.append(list(xs)),))
    assert m.undo_length == 7  # one per write, and the map's key order before its first delete
    assert (r.f[0], xs, list(d)) == (5, [9, 10], ["b", "c"])
    m.rollback()
    assert (r.f[0], xs, list(d.items())) == (1, [1], [("a", 1), ("b", 2)])
    assert undone == [[9, 10]]  # newest first: the callback ran before the list was undone


def test_new_record_is_fresh_each_time():
    m = machine()
    a, b = m.new_record(0), m.new_record(0)
    assert a.f == b.f and a.f[3] is not b.f[3]  # mutable defaults are copied
    with pytest.raises(IndexError):
        m.new_record(9)


def test_deleting_many_keys_logs_the_map_order_once_per_savepoint():
    m = machine()
    d = {k: k * 2 for k in range(50_000)}
    m.doc.f[4] = d
    before = list(d.items())
    m.begin()
    for k in range(0, 50_000, 2):  # 25,000 deletes, none of the last key
        m.call("mdel", d, k)
    assert m.undo_length == 25_000 + 1  # one entry per delete and one key order
    mark = m.savepoint()
    m.call("mdel", d, 1)
    m.call("mdel", d, 3)
    assert m.undo_length == 25_001 + 3  # a new segment saves the order again
    m.call("mput", d, 1, "back")
    m.rollback_to(mark)
    assert list(d) == list(range(1, 50_000, 2))
    m.rollback()
    assert list(d.items()) == before


def test_log_once_is_per_savepoint_segment_and_leaves_no_state():
    m = machine()
    rows = {1: "a"}
    assert m.log_once(rows) is False  # no transaction: nothing to log
    m.begin()
    assert m.log_once(rows) is True
    assert m.log_once(rows) is False
    assert m.log_once({1: "a"}) is True  # identity, not equality
    mark = m.savepoint()
    assert m.log_once(rows) is True  # a rollback to the mark needs its own copy
    m.rollback_to(mark)
    assert m.log_once(rows) is True
    m.rollback()
    m.begin()
    assert m.log_once(rows) is True
    m.commit()
    assert m.log_once(rows) is False


# -------------------------------------------------------------- tables (TINSERT)

def _ids(t):
    return list(t.f[1])


def test_rollback_to_a_savepoint_between_inserts_drops_exactly_the_later_rows():
    """Inserts log once per table and savepoint segment; a savepoint taken
    between inserts must still find every row inserted after it."""
    m = seeded(machine())
    t = m.doc.f[6]
    m.begin()
    m.call("tinsert", t, new_row(1))
    mark = m.savepoint()
    after_mark = state(m)
    m.call("tinsert", t, new_row(2))
    m.call("tinsert", t, new_row(3))
    inner = m.savepoint()
    late = new_row(4)
    m.call("tinsert", t, late)
    assert _ids(t) == [1, 2, 3, 4, 5, 6]
    m.rollback_to(inner)
    assert _ids(t) == [1, 2, 3, 4, 5] and late.f[2] == 0  # detached again
    m.rollback_to(mark)
    assert _ids(t) == [1, 2, 3] and state(m) == after_mark
    m.call("tinsert", t, new_row(5))  # the same segment goes on logging correctly
    assert _ids(t) == [1, 2, 3, 4] and t.f[0] == 5
    m.rollback()
    assert _ids(t) == [1, 2] and t.f[0] == 3


def test_inserts_keep_index_hints_through_rollback():
    m = machine()
    t = m.doc.f[6] = new_table(indexed=[1])
    for v in (7, 8):
        m.table_insert(t, new_row(v))
    m.begin()
    m.call("tinsert", t, new_row(7))
    mark = m.savepoint()
    m.call("tinsert", t, new_row(9))
    assert t.f[2] == {1: {7: {1: True, 3: True}, 8: {2: True}, 9: {4: True}}}
    m.rollback_to(mark)
    assert t.f[2] == {1: {7: {1: True, 3: True}, 8: {2: True}}}
    m.rollback()
    assert t.f[2] == {1: {7: {1: True}, 8: {2: True}}}


def test_a_row_in_a_table_cannot_be_inserted_again():
    m = seeded(machine())
    row = new_row(1)
    m.call("tinsert", m.doc.f[6], row)
    with pytest.raises(VMError, match="already in a table"):
        m.call("tinsert", m.doc.f[6], row)
    with pytest.raises(VMError, match="expected a table"):
        m.call("tinsert", Record(TABLE, [1, "not rows", {}, 0, 2]), new_row(1))
    with pytest.raises(ValueError, match="expected a table"):
        m.table_insert({}, new_row(1))


@pytest.mark.parametrize("steps", [
    "d1 i d3", "i d1 d3", "d3 d1 i", "d0 d1 d2 d3 i i", "i S d1 i S d2 d0", "d2 S i d0 S d3 i",
    "d0 d2 i", "w1 d0 S w2 i",
])
def test_deletes_and_inserts_roll_back_to_the_exact_row_order(steps):
    """Every savepoint, and the start, gets back exactly its rows in id order
    (a rolled back delete re-adds its row last; the re-sort puts it back)."""
    from advm.vm import table

    m = machine()
    t = m.doc.f[6] = new_table(indexed=[1])
    rows = [new_row(v % 2) for v in range(4)]
    for r in rows:
        m.table_insert(t, r)
    m.begin()

    def exact():  # rows and index, keys in their order
        return list(t.f[1].items()), [(k, list(b)) for k, b in t.f[2][1].items()]

    marks = [(None, exact())]
    for step in steps.split():
        if step == "S":
            marks.append((m.savepoint(), exact()))
        elif step == "i":
            m.call("tinsert", t, new_row(1))
        elif step[0] == "w":  # an indexed write: the row moves to the other bucket
            row = rows[int(step[1])]
            table.set_indexed(m, row, 1, 1 - row.f[1])
        else:
            table.delete_row(m, rows[int(step[1])])
    for mark, expected in reversed(marks):
        if mark is None:
            m.rollback()
        else:
            m.rollback_to(mark)
        assert exact() == expected
    assert table.rows(t) == rows


# -------------------------------------------------------------- the collector

def _young(obj):
    import gc

    return any(o is obj for o in gc.get_objects(generation=0))


def test_a_run_under_a_paused_collector_leaves_what_it_made_old():
    """Inside a transaction whose caller paused the collector (runtime/engine.py),
    the machine moves survivors to the oldest generation when a call returns,
    so resuming the collector does not scan them all as young."""
    import gc

    m = machine()
    was = gc.isenabled()
    gc.disable()
    try:
        kept = [[] for _ in range(10)]
        assert _young(kept)
        m.call("set_items", kept)  # outside a transaction: left alone
        assert _young(kept)
        m.begin()
        m.call("set_items", kept)
        assert not _young(kept) and any(o is kept for o in gc.get_objects(generation=2))
        assert gc.get_freeze_count() == 0 and not gc.isenabled()
        m.rollback()

        gc.freeze()  # someone else's: the machine must not unfreeze it
        young = [[] for _ in range(10)]
        m.begin()
        m.call("set_items", young)
        m.rollback()
        assert gc.get_freeze_count() > 0 and _young(young)
        gc.unfreeze()
    finally:
        if was:
            gc.enable()


# -------------------------------------------------------------- what a commit wrote (R4)

def test_written_names_each_kept_entry_of_the_last_commit():
    m = seeded(machine())
    assert m.written() is None and m.commits == 0
    doc = m.doc
    node, items, tags, rows = doc.f[5], doc.f[3], doc.f[4], doc.f[6]
    m.begin()
    m.call("set_n", 7)
    m.call("set_n", 8)  # the slot's oldest value is logged once
    m.call("rset_i", node, 99)
    m.call("lpush", items, "pushed")
    m.call("lset", items, 0, "set")
    m.call("mput", tags, "b", "over")
    m.call("hput", tags, "new", 1)
    m.call("tinsert", rows, new_row(30))
    m.commit()
    assert m.commits == 1
    pairs = m.written()
    assert [(type(t).__name__, k) for t, k in pairs] == [
        ("Record", 0), ("Record", 0), ("list", None), ("list", 0), ("dict", "b"), ("dict", "new"), ("Record", 3)]
    assert pairs[0][0] is doc and pairs[1][0] is node and pairs[6][0] is rows
    detail = m.written(detail=True)
    assert [d[0] for d in detail] == ["field", "field", "append", "set", "put", "add", "insert"]
    assert detail[0][3] == 0 and detail[1][3] == 1 and detail[3][3] == 10  # the values before
    # a transaction rolled back changes nothing about the last commit's record
    m.begin()
    m.call("set_n", 1)
    m.rollback()
    assert m.written() == pairs and m.commits == 1


def test_written_leaves_out_what_a_rollback_to_a_savepoint_undid():
    m = seeded(machine())
    m.begin()
    m.call("set_n", 7)
    mark = m.savepoint()
    m.call("lpush", m.doc.f[3], "gone")
    m.call("hcallback", m.doc.f[3], 6)
    m.rollback_to(mark)
    m.commit()
    assert m.written() == [(m.doc, 0)]


def test_written_since_spans_the_kept_commits():
    m = seeded(machine())
    m.keep_written = 2
    for v in (1, 2, 3):
        m.begin()
        m.call("set_n", v)
        m.commit()
    assert [d[3] for d in m.written_since(1, detail=True)] == [1, 2]  # the old values, oldest first
    assert m.written_since(3) == []
    assert m.written_since(0) is None  # the first commit's log is no longer kept
    with pytest.raises(ValueError):
        m.written_since(4)
    m.keep_written = 0
    m.begin()
    m.commit()
    assert m.commits == 4 and m.written_since(3) is None


def test_make_record_gives_a_record_the_log_treats_as_any_other():
    from advm.vm._machine import make_record

    m = seeded(machine())
    fields = [5, 0.5, [], {}]
    r = make_record(NODE, fields)
    assert type(r) is Record and r.layout == NODE and r.f is fields
    m.begin()
    m.write_field(r, 0, 6)
    m.write_field(r, 0, 7)
    m.rollback()
    assert r.f[0] == 5
