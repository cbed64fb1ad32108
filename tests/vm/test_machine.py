"""The machine as a whole: calls and frames, budget, stack depth, error positions,
host functions, document transactions."""
from __future__ import annotations

import sys

import pytest
from vmkit import build

from advm.vm._machine import DEFAULT_MAX_DEPTH, Machine
from advm.vm.assembler import ModuleAsm
from advm.vm.errors import VMError
from advm.vm.host import HostFunction, core_library


def fib_module(filename="fib.adb"):
    m = ModuleAsm(filename)
    f = m.function("fib", "i", "i")
    rec = f.label("rec")
    f.pos = (2, 3)
    f.emit("IGEJK", 0, 2, 1, rec)
    f.emit("IRET", 0)
    f.mark(rec)
    f.pos = (3, 10)
    f.emit("IADDI", 1, 0, -1)
    f.emit("CALL", 1, "fib")
    f.emit("IADDI", 2, 0, -2)
    f.emit("CALL", 2, "fib")
    f.emit("IADD", 1, 1, 2)
    f.emit("IRET", 1)
    return m.assemble()


def loop_module():
    """sum of i * i % 7 for i in [0, n), in longs."""
    m = ModuleAsm("loop.adb")
    g = m.function("loop", "l", "l")
    top, done = g.label("top"), g.label("done")
    g.emit("ILOADI", 1, 0)
    g.emit("ILOADI", 2, 0)
    g.emit("ILEJ", 0, 2, 1, done)
    g.mark(top)
    g.emit("LMUL", 3, 2, 2)
    g.emit("LMODK", 3, 3, 7)
    g.emit("LADD", 1, 1, 3)
    g.emit("LFORLT", 2, 0, 1, top)
    g.mark(done)
    g.emit("IRET", 1)
    return m.assemble()


def py_fib(n):
    return n if n < 2 else py_fib(n - 1) + py_fib(n - 2)


def test_fib_matches_python():
    m = Machine(fib_module())
    for n in (0, 1, 2, 10, 20):
        assert m.call("fib", n) == py_fib(n)


def test_loop_matches_python():
    m = Machine(loop_module())
    assert m.call("loop", 100_000) == sum(i * i % 7 for i in range(100_000))
    assert m.call("loop", 0) == 0


def test_machine_is_persistent_across_calls():
    m = Machine(fib_module())
    assert [m.call("fib", 15) for _ in range(3)] == [610] * 3
    assert m.depth == 0


def infinite_loop_module():
    m = ModuleAsm("spin.adb")
    f = m.function("spin", "", "")
    top = f.label("top")
    f.mark(top)
    f.pos = (4, 5)
    f.emit("IADDI", 0, 0, 1)
    f.pos = (5, 1)
    f.emit("JMP", top)
    return m.assemble()


def test_budget_exhaustion_is_a_clean_error_at_the_back_edge():
    m = Machine(infinite_loop_module(), budget=10_000)
    with pytest.raises(VMError, match="instruction budget exhausted") as info:
        m.call("spin")
    assert (info.value.filename, info.value.line, info.value.col) == ("spin.adb", 5, 1)
    assert str(info.value).startswith("spin.adb:5:1: instruction budget exhausted")
    assert m.depth == 0 and m.remaining < 0
    # The machine stays usable, and each call gets a fresh budget.
    with pytest.raises(VMError, match="budget"):
        m.call("spin", budget=50)


def test_budget_is_an_upper_bound_of_words_run():
    m = Machine(loop_module())
    n = 1000
    m.call("loop", n, budget=10_000)
    used = 10_000 - m.remaining
    # 10 words charged on entry, then 4 words per back edge (n - 1 of them).
    assert used == 10 + 4 * (n - 1)


def test_budget_charges_calls():
    m = Machine(fib_module())
    m.call("fib", 10, budget=10**6)
    calls = 177  # fib(10) makes 177 calls in all
    assert 10**6 - m.remaining == calls * 9
    with pytest.raises(VMError, match="budget") as info:
        m.call("fib", 25, budget=1000)
    assert info.value.line == 3  # at a CALL


def runaway_module():
    m = ModuleAsm("deep.adb")
    f = m.function("down", "i", "i")
    f.pos = (7, 12)
    f.emit("IADDI", 1, 0, 1)
    f.emit("CALL", 1, "down")
    f.emit("IRET", 1)
    return m.assemble()


def test_stack_overflow_is_a_clean_error_naming_the_call():
    m = Machine(runaway_module())
    with pytest.raises(VMError, match=f"stack overflow: more than {DEFAULT_MAX_DEPTH}") as info:
        m.call("down", 0)
    assert (info.value.line, info.value.col, info.value.function) == (7, 12, "down")
    assert len(info.value.trace) == DEFAULT_MAX_DEPTH
    assert m.depth == 0
    assert Machine(fib_module()).call("fib", 12) == 144


def test_recursion_up_to_the_limit_works():
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
    module = m.assemble()
    machine = Machine(module, max_depth=50_000)
    assert machine.call("count", 49_999) == 49_999
    with pytest.raises(VMError, match="stack overflow"):
        machine.call("count", 50_000)
    small = Machine(module, max_depth=3)
    assert small.call("count", 2) == 2
    with pytest.raises(VMError, match="more than 3 nested calls"):
        small.call("count", 3)


def test_runtime_error_names_position_and_trace():
    m = ModuleAsm("doc.adb")
    inner = m.function("inner", "o", "i")
    inner.pos = (12, 9)
    inner.emit("IUNBOX", 0, 0)
    inner.emit("IRET", 0)
    outer = m.function("outer", "", "i")
    outer.pos = (20, 4)
    outer.emit("ONULL", 0)
    outer.pos = (21, 16)
    outer.emit("CALL", 0, "inner")
    outer.emit("IRET", 0)
    machine = Machine(m.assemble())
    with pytest.raises(VMError) as info:
        machine.call("outer")
    err = info.value
    assert str(err) == "doc.adb:12:9: read of an empty maybe (in inner, pc 0)"
    assert err.trace == [("inner", 0, 12, 9), ("outer", 1, 21, 16)]


def test_host_function_failure_is_a_vm_error():
    def boom(x):
        raise ValueError("bad input")

    module = build("d", "d", lambda f: (f.emit("CALLHOST", 0, "boom"), f.emit("DRET", 0)),
                   hosts=[("boom", "d", "d")])
    m = Machine(module, host={"boom": HostFunction(boom, "d", "d")})
    with pytest.raises(VMError, match="host function boom failed: ValueError: bad input"):
        m.call("t", 1.0)


def test_host_function_bad_result_is_a_vm_error():
    module = build("", "i", lambda f: (f.emit("CALLHOST", 0, "big"), f.emit("IRET", 0)),
                   hosts=[("big", "", "i")])
    m = Machine(module, host={"big": HostFunction(lambda: 2**40, "", "i")})
    with pytest.raises(VMError, match="host function big returned a bad value"):
        m.call("t")


def _host_probe_module(result):
    # t(i, d, b, o, l) passes its parameters (one of each kind, interleaved
    # across the banks) to the host function h and returns what h returns.
    ret = {"i": "IRET", "l": "IRET", "b": "IRET", "d": "DRET", "o": "ORET"}[result]
    return build("idbol", result, lambda f: (f.emit("CALLHOST", 0, "h"), f.emit(ret, 0)),
                 hosts=[("h", "idbol", result)])


def test_host_call_passes_every_kind_and_returns_every_kind():
    seen = []
    payload = ["shared"]

    def h(m, i, d, b, o, lng):
        seen.append((m, i, d, b, o, lng))
        return {"i": i, "l": lng, "b": b, "d": d, "o": o}[kind]

    for kind, want in (("i", -7), ("l", 2**40), ("b", True), ("d", 0.25), ("o", payload)):
        m = Machine(_host_probe_module(kind), host={"h": HostFunction(h, "idbol", kind, True)})
        assert m.call("t", -7, 0.25, True, payload, 2**40) == want
        assert seen[-1] == (m, -7, 0.25, True, payload, 2**40)
        assert type(seen[-1][3]) is bool and type(seen[-1][2]) is float
    # The argument vector holds references only for the duration of the call.
    seen.clear()
    before = sys.getrefcount(payload)
    for _ in range(100):
        m.call("t", 1, 0.5, False, payload, 1)
        seen.clear()
    assert sys.getrefcount(payload) == before


@pytest.mark.parametrize("kind, value, message", [
    ("d", 1, "returned int, not a double"),
    ("b", 1, "returned a bad value: expected a bool"),
    ("i", 2**31, "does not fit in a 32-bit int"),
    ("l", 2**64, "returned a bad value"),
    ("i", "7", "expected an int"),
])
def test_host_results_are_checked_against_their_kind(kind, value, message):
    m = Machine(_host_probe_module(kind), host={"h": HostFunction(lambda *a: value, "idbol", kind)})
    with pytest.raises(VMError, match=message):
        m.call("t", 1, 0.5, False, None, 1)


def test_host_signature_mismatch_and_missing_host_are_refused():
    module = build("d", "d", lambda f: (f.emit("CALLHOST", 0, "Math.sqrt"), f.emit("DRET", 0)),
                   hosts=[("Math.sqrt", "d", "d")])
    with pytest.raises(VMError, match="not provided"):
        Machine(module, host={})
    with pytest.raises(VMError, match=r"module expects \(d\)d, machine provides \(i\)d"):
        Machine(module, host={"Math.sqrt": HostFunction(abs, "i", "d")})


def test_host_may_not_reenter():
    box = {}

    def reenter():
        return box["m"].call("t")

    module = build("", "i", lambda f: (f.emit("CALLHOST", 0, "again"), f.emit("IRET", 0)),
                   hosts=[("again", "", "i")])
    m = Machine(module, host={"again": HostFunction(reenter, "", "i")})
    box["m"] = m
    with pytest.raises(VMError, match="already running"):
        m.call("t")


def test_arguments_are_checked():
    m = Machine(fib_module())
    with pytest.raises(TypeError, match="takes 1 argument"):
        m.call("fib")
    with pytest.raises(OverflowError):
        m.call("fib", 2**31)
    with pytest.raises(TypeError):
        m.call("fib", 1.5)
    with pytest.raises(KeyError):
        m.call("nope")


def doc_module():
    m = ModuleAsm("doc.adb")
    m.record("Doc", ["score", "name"], "io", [0, ""])
    m.document = 0
    f = m.function("bump", "i", "")
    f.emit("FGETI", 1, 0)
    f.emit("IADD", 1, 1, 0)
    f.emit("FSETI", 1, 0)
    big = f.label()
    f.emit("IGTJK", 1, 100, 1, big)
    f.emit("RET")
    f.mark(big)
    f.emit("ABORT")
    return m.assemble()


def test_document_writes_roll_back():
    m = Machine(doc_module())
    m.begin()
    m.call("bump", 10)
    m.call("bump", 5)
    m.commit()
    assert m.doc.f == [15, ""]
    m.begin()
    m.call("bump", 50)
    with pytest.raises(VMError, match="abort") as info:
        m.call("bump", 50)
    assert type(info.value).__name__ == "VMAbort"
    m.rollback()
    assert m.doc.f == [15, ""]


def test_default_host_library_exists():
    lib = core_library()
    assert {"Random.genInt", "Random.genBoundInt", "Random.genDouble", "Math.sqrt"} <= set(lib)


def test_machines_of_one_module_share_its_code_and_outlive_each_other():
    import gc

    module = fib_module()
    first, second = Machine(module), Machine(module)
    assert first.call("fib", 15) == second.call("fib", 15) == 610
    del first
    gc.collect()
    assert second.call("fib", 16) == 987  # the shared code is still there
    other = Machine(fib_module("other.adb"))  # an equal module of its own
    del second, module
    gc.collect()
    assert other.call("fib", 10) == 55
