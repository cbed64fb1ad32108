"""VM benchmarks: hand-assembled advm code next to the same algorithm in CPython
(and Lua 5.4 when `lua5.4` is on PATH), measured in the same run.

    .venv/bin/python -m pytest bench/bench_vm.py --benchmark-enable

Groups: "fib" (recursive fib(30)) and "loop" (10 million iterations of
`sum += i * i % 7`). Targets from issue 3: advm <= 0.5x CPython on fib and
<= 0.25x on the loop, ahead of Lua 5.4 on both. Results: bench/README-vm.md.
"""
from __future__ import annotations

import shutil
import subprocess

import pytest

from advm.vm._machine import Machine
from advm.vm.assembler import ModuleAsm

FIB_N = 30
FIB_RESULT = 832040
LOOP_N = 10_000_000
LOOP_RESULT = 19_999_999  # sum(i * i % 7 for i in range(10_000_000))


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
    return m.assemble()


@pytest.fixture(scope="module")
def machine():
    return Machine(advm_module())


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
def test_fib_cpython(benchmark):
    assert benchmark(py_fib, FIB_N) == FIB_RESULT


@pytest.mark.benchmark(group="fib")
def test_fib_lua(benchmark):
    assert benchmark(lua(LUA_FIB)) == FIB_RESULT


@pytest.mark.benchmark(group="loop")
def test_loop_advm(benchmark, machine):
    assert benchmark(machine.call, "loop", LOOP_N) == LOOP_RESULT


@pytest.mark.benchmark(group="loop")
def test_loop_cpython(benchmark):
    assert benchmark(py_loop, LOOP_N) == LOOP_RESULT


@pytest.mark.benchmark(group="loop")
def test_loop_lua(benchmark):
    assert benchmark(lua(LUA_LOOP)) == LOOP_RESULT
