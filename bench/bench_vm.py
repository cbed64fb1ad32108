"""VM benchmarks: advm code next to the same algorithm in CPython (and Lua 5.4
when `lua5.4` is on PATH), measured in the same run.

    .venv/bin/python -m pytest bench/bench_vm.py --benchmark-enable

Groups: "fib" (recursive fib(30)) and "loop" (10 million iterations of
`sum += i * i % 7`), each both hand-assembled and compiled from Adama source;
"host" (a million CALLHOSTs of a one-line Python function, against CPython
calling it in a loop); "undo" (one transaction writing 4 int fields of each of
200,000 existing rows: plain RSETI with no log, the logged RSETIL, a host
function keeping a Python-side log, and CPython doing the same). Targets from
issue 3: advm <= 0.5x CPython on fib and <= 0.25x on the loop, ahead of Lua 5.4
on both. Results: bench/README.md.
"""
from __future__ import annotations

import shutil
import subprocess

import pytest

from advm.compiler.build import build_source
from advm.vm._machine import Machine, Record
from advm.vm.assembler import ModuleAsm
from advm.vm.host import HostFunction, core_library
from advm.vm.stdlib import host_table

FIB_N = 30
FIB_RESULT = 832040
LOOP_N = 10_000_000
LOOP_RESULT = 19_999_999  # sum(i * i % 7 for i in range(10_000_000))
ROWS = 200_000
HOST_N = 1_000_000

# The same two programs as issue 3 writes them, compiled by advm.
ADAMA = """
function fib(int n) -> int {
  if (n < 2) { return n; }
  return fib(n - 1) + fib(n - 2);
}
function loop(long n) -> long {
  long s = 0;
  for (long i = 0; i < n; i++) { s += (i * i % 7).getOrDefaultTo(0L); }
  return s;
}
"""


def advm_module():
    m = ModuleAsm("bench.adb")
    # function fib(int n) -> int { if (n < 2) return n; return fib(n-1) + fib(n-2); }
    f = m.function("fib", "i", "i")
    rec = f.label("rec")
    f.emit("IGEJK", 0, 2, 1, rec)
    f.emit("IRET", 0)
    f.mark(rec)
    f.emit("IADDI", 1, 0, -1)
    f.emit("CALL", 1, "fib")
    f.emit("IADDI", 2, 0, -2)
    f.emit("CALL", 2, "fib")
    f.emit("IADD", 1, 1, 2)
    f.emit("IRET", 1)
    # function loop(long n) -> long { long s = 0; for (long i = 0; i < n; i++) s += i * i % 7; }
    g = m.function("loop", "l", "l")
    top, done = g.label("top"), g.label("done")
    g.emit("ILOADI", 1, 0)  # s
    g.emit("ILOADI", 2, 0)  # i
    g.emit("ILEJ", 0, 2, 1, done)
    g.mark(top)
    g.emit("LMUL", 3, 2, 2)
    g.emit("LMODK", 3, 3, 7)
    g.emit("LADD", 1, 1, 3)
    g.emit("LFORLT", 2, 0, 1, top)
    g.mark(done)
    g.emit("IRET", 1)
    # update(rows, v): every row's 4 fields := v, by RSETI, RSETIL or the host's rec.set
    # hosts(n) -> long { long s = 0; for (int i = 0; i < n; i++) s += same(i); }
    h = m.function("hosts", "i", "l")
    m.host("same", "i", "i")
    top, done = h.label("top"), h.label("done")
    h.emit("ILOADI", 1, 0)  # s
    h.emit("ILOADI", 2, 0)  # i
    h.emit("ILEJ", 0, 2, 1, done)
    h.mark(top)
    h.emit("IMOV", 3, 2)
    h.emit("CALLHOST", 3, "same")
    h.emit("LADD", 1, 1, 3)
    h.emit("IFORLT", 2, 0, 1, top)
    h.mark(done)
    h.emit("IRET", 1)
    m.record("Row", ["a", "b", "c", "d"], "iiii", [0, 0, 0, 0])
    m.host("rec.set", "oii", "")
    for name, op in (("update_plain", "RSETI"), ("update_logged", "RSETIL"), ("update_host", None)):
        u = m.function(name, "oi", "")
        top = u.label("top")
        u.emit("LLEN", 1, 0)
        u.emit("ILOADI", 2, 0)
        u.mark(top)
        u.emit("LGET", 1, 0, 2)
        for slot in range(4):
            if op:
                u.emit(op, 1, slot, 0)
            else:
                u.emit("OMOV", 3, 1)
                u.emit("ILOADI", 3, slot)
                u.emit("IMOV", 4, 0)
                u.emit("CALLHOST", 3, "rec.set")
        u.emit("IFORLT", 2, 1, 1, top)
        u.emit("RET")
    return m.assemble()


HOST_LOG = []


def host_record_set(record, slot, value):
    # How a host function logs a field write without the machine's log.
    HOST_LOG.append(["set", record, slot, record.f[slot]])
    record.f[slot] = value


def same(x):
    return x


@pytest.fixture(scope="module")
def machine():
    lib = core_library()
    lib["rec.set"] = HostFunction(host_record_set, "oii", "")
    lib["same"] = HostFunction(same, "i", "i")
    return Machine(advm_module(), host=lib)


@pytest.fixture(scope="module")
def compiled():
    return Machine(build_source(ADAMA, "bench.adb"), host=host_table())


@pytest.fixture(scope="module")
def rows():
    return [Record(0, [0, 0, 0, 0]) for _ in range(ROWS)]


def py_fib(n):
    if n < 2:
        return n
    return py_fib(n - 1) + py_fib(n - 2)


def py_loop(n):
    s = 0
    for i in range(n):
        s += i * i % 7
    return s


LUA_FIB = f"""
local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end
print(fib({FIB_N}))
"""
LUA_LOOP = f"""
local s = 0
for i = 0, {LOOP_N} - 1 do s = s + i * i % 7 end
print(s)
"""


def lua(script):
    exe = shutil.which("lua5.4")
    if exe is None:
        pytest.skip("lua5.4 is not on PATH")

    def run():
        return int(subprocess.run([exe, "-e", script], capture_output=True, text=True,
                                  check=True, stdin=subprocess.DEVNULL).stdout)
    return run


@pytest.mark.benchmark(group="fib")
def test_fib_advm(benchmark, machine):
    assert benchmark(machine.call, "fib", FIB_N) == FIB_RESULT


@pytest.mark.benchmark(group="fib")
def test_fib_advm_compiled(benchmark, compiled):
    assert benchmark(compiled.call, "fn.fib", FIB_N) == FIB_RESULT


@pytest.mark.benchmark(group="fib")
def test_fib_cpython(benchmark):
    assert benchmark(py_fib, FIB_N) == FIB_RESULT


@pytest.mark.benchmark(group="fib")
def test_fib_lua(benchmark):
    assert benchmark(lua(LUA_FIB)) == FIB_RESULT


@pytest.mark.benchmark(group="loop")
def test_loop_advm(benchmark, machine):
    assert benchmark(machine.call, "loop", LOOP_N) == LOOP_RESULT


@pytest.mark.benchmark(group="loop")
def test_loop_advm_compiled(benchmark, compiled):
    assert benchmark(compiled.call, "fn.loop", LOOP_N) == LOOP_RESULT


@pytest.mark.benchmark(group="loop")
def test_loop_cpython(benchmark):
    assert benchmark(py_loop, LOOP_N) == LOOP_RESULT


@pytest.mark.benchmark(group="loop")
def test_loop_lua(benchmark):
    assert benchmark(lua(LUA_LOOP)) == LOOP_RESULT


def py_hosts(n):
    s = 0
    for i in range(n):
        s += same(i)
    return s


@pytest.mark.benchmark(group="host")
def test_host_calls_advm(benchmark, machine):
    assert benchmark(machine.call, "hosts", HOST_N) == HOST_N * (HOST_N - 1) // 2


@pytest.mark.benchmark(group="host")
def test_host_calls_cpython(benchmark):
    assert benchmark(py_hosts, HOST_N) == HOST_N * (HOST_N - 1) // 2


def transaction(machine, fn, rows):
    def run():
        machine.begin()
        machine.call(fn, rows, 7)
        machine.commit()
        HOST_LOG.clear()
    return run


@pytest.mark.benchmark(group="undo")
def test_undo_plain_unlogged(benchmark, machine, rows):
    benchmark(transaction(machine, "update_plain", rows))
    assert rows[-1].f == [7, 7, 7, 7]


@pytest.mark.benchmark(group="undo")
def test_undo_logged_opcode(benchmark, machine, rows):
    benchmark(transaction(machine, "update_logged", rows))
    machine.begin()
    machine.call("update_logged", rows, 8)
    assert machine.undo_length == 4 * ROWS
    machine.rollback()
    assert rows[-1].f == [7, 7, 7, 7]


@pytest.mark.benchmark(group="undo")
def test_undo_host_function(benchmark, machine, rows):
    benchmark(transaction(machine, "update_host", rows))
    assert rows[-1].f == [7, 7, 7, 7]


def py_update(rows, value):
    log = []
    for r in rows:
        f = r.f
        for slot in range(4):
            log.append((r, slot, f[slot]))
            f[slot] = value
    return log


@pytest.mark.benchmark(group="undo")
def test_undo_cpython(benchmark, rows):
    assert len(benchmark(py_update, rows, 7)) == 4 * ROWS
