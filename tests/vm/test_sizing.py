"""What a machine allocates (issue 12 point 3): register banks and the object
list sized for the module's widest function, 4 frames at first, all grown on
demand up to max_depth; and the undo flags of a record (a word of the record
below 32 slots, a bytearray from 32 on) logging each slot once per segment."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_snapshot import nested_module

from advm.vm._machine import Machine, Record, Suspended
from advm.vm.assembler import ModuleAsm
from advm.vm.errors import VMError


def counting_module():
    """count(n): n nested calls, each with a window of 2 int registers."""
    m = ModuleAsm("count.adb")
    f = m.function("count", "i", "i")
    base = f.label()
    f.emit("IEQJK", 0, 0, 1, base)
    f.emit("IADDI", 1, 0, -1)
    f.emit("CALL", 1, "count")
    f.emit("IADDI", 1, 1, 1)
    f.emit("IRET", 1)
    f.mark(base)
    f.emit("IRET", 0)
    return m.assemble()


def wide_module():
    """Two functions; the banks start at the wider window of each bank."""
    m = ModuleAsm("wide.adb")
    f = m.function("ints", "i", "i")
    f.emit("IADDI", 9, 0, 1)  # touches int register 9: a window of 10
    f.emit("IRET", 9)
    g = m.function("objs", "d", "o")
    g.emit("DTOS", 6, 0)  # object register 6: a window of 7; doubles 1
    g.emit("ORET", 6)
    return m.assemble()


def test_banks_start_at_the_widest_window_of_the_module():
    module = wide_module()
    widths = [f.nregs for f in module.functions]
    assert widths == [(10, 0, 0), (0, 1, 7)]
    m = Machine(module)
    assert m.capacities == (10, 1, 7, 4)
    assert m.call("ints", 4) == 5
    assert m.call("objs", 2.5) == "2.5"
    assert m.capacities == (10, 1, 7, 4)  # nothing grew: no call went deeper


def test_a_module_without_registers_still_gets_one_of_each():
    m = ModuleAsm("empty.adb")
    m.function("nothing", "", "").emit("RET")
    machine = Machine(m.assemble())
    assert machine.capacities == (1, 1, 1, 4)
    assert machine.call("nothing") is None


def test_deep_calls_grow_frames_and_banks_up_to_max_depth():
    module = counting_module()
    m = Machine(module, max_depth=2_000)
    assert m.capacities == (2, 1, 1, 4)
    assert m.call("count", 1_500) == 1_500
    ints, _, _, frames = m.capacities
    assert 1_501 <= frames <= 2_000  # doubled, never past max_depth
    assert ints >= 2 + 1_500  # every call's window starts one register further
    with pytest.raises(VMError, match="more than 2000 nested calls"):
        m.call("count", 2_000)
    assert m.capacities[3] == 2_000
    assert m.call("count", 1_999) == 1_999  # exactly at the limit, after the overflow
    small = Machine(module, max_depth=3)
    assert small.capacities[3] == 3
    assert small.call("count", 2) == 2
    with pytest.raises(VMError, match="more than 3 nested calls"):
        small.call("count", 3)


DEEP = 40  # frames, ten times what a machine starts with


def test_a_snapshot_taken_deep_restores_into_a_machine_that_starts_small():
    module = nested_module()
    a = Machine(module)
    got = a.call("walk", DEEP, 1.5, "s")
    assert isinstance(got, Suspended) and a.depth == DEEP + 1
    data = a.snapshot()
    expected = a.resume("!")
    fresh = Machine(module)
    assert fresh.capacities[3] == 4
    b = Machine.from_snapshot(module, data)
    assert b.depth == DEEP + 1 and b.capacities[3] >= DEEP + 1
    assert b.resume("!") == expected
    assert b.depth == 0 and not b.suspended


def test_a_continuation_taken_deep_resumes_in_a_machine_that_starts_small():
    module = nested_module()
    a = Machine(module)
    a.call("walk", DEEP, 0.25, "t")
    cont = a.detach()
    expected = Machine(module)
    expected.call("walk", DEEP, 0.25, "t")
    b = Machine(module)
    assert b.capacities[3] == 4
    assert b.resume_detached(cont, "?") == expected.resume("?")


def test_a_savepoint_taken_deep_rolls_back_into_the_same_frames():
    module = nested_module()
    m = Machine(module)
    m.begin()
    m.call("walk", DEEP, 1.0, "u")
    mark = m.savepoint()
    assert m.resume("x").startswith("u")
    m.rollback_to(mark)
    assert m.suspended and m.depth == DEEP + 1
    again = Machine(module)
    again.call("walk", DEEP, 1.0, "u")
    assert m.resume("x") == again.resume("x")
    m.commit()


# --------------------------------------------------------- undo flags per record

def flags_machine():
    m = ModuleAsm("flags.adb")
    m.function("noop", "", "").emit("RET")
    return Machine(m.assemble())


# A write: (slot, value), a savepoint, a rollback to one of them, or the
# record's slots replaced by a wider copy (its flags are lost mid-segment)
WRITES = st.lists(st.one_of(
    st.tuples(st.just("write"), st.integers(0, 39), st.integers(0, 9)),
    st.tuples(st.just("savepoint")),
    st.tuples(st.just("rollback_to"), st.integers(0, 5)),
    st.tuples(st.just("widen")),
), max_size=40)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([1, 30, 31, 32, 40]), WRITES, st.booleans())
def test_records_of_any_width_roll_back_exactly(width, ops, commit):
    m = flags_machine()
    rec = Record(0, list(range(100, 100 + width)))
    original = list(rec.f)
    m.begin()
    marks = []
    for op in ops:
        if op[0] == "write":
            slot = op[1] % len(rec.f)
            m.write_field(rec, slot, op[2])
        elif op[0] == "savepoint":
            marks.append((m.savepoint(), list(rec.f)))
        elif op[0] == "rollback_to" and marks:
            k = op[1] % len(marks)
            mark, expected = marks[k]
            m.rollback_to(mark)
            assert rec.f[:len(expected)] == expected
            del marks[k + 1:]
        elif op[0] == "widen":
            rec.f = rec.f + [0] * 8
    if commit:
        kept = list(rec.f)
        m.commit()
        m.begin()
        for slot in range(len(rec.f)):
            m.write_field(rec, slot, -1)
            m.write_field(rec, slot, -2)
        m.rollback()
        assert rec.f == kept
    else:
        m.rollback()
        assert rec.f[:width] == original


@pytest.mark.parametrize("width", [31, 32])
def test_each_slot_is_logged_once_per_segment(width):
    m = flags_machine()
    rec = Record(0, [0] * width)
    m.begin()
    for _ in range(3):
        for slot in range(width):
            m.write_field(rec, slot, slot)
    assert m.undo_length == width
    m.savepoint()
    m.write_field(rec, 0, 7)
    m.write_field(rec, width - 1, 7)
    assert m.undo_length == width + 2  # a new segment logs them again
    m.rollback()
    assert rec.f == [0] * width
