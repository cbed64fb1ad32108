"""Differential tests: hypothesis writes random straight-line programs, the VM
runs them, and a Python model of the documented semantics (32-bit and 64-bit
wrap, truncated division, Java's remainder, zero divisor -> branch taken and
the destination left unchanged, approximate double equality) must agree."""
from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from vmkit import build, run_module


def wrap(x, bits):
    half = 1 << (bits - 1)
    return ((x + half) % (1 << bits)) - half


def tdiv(x, y):
    q = abs(x) // abs(y)
    return q if (x < 0) == (y < 0) else -q


def tmod(x, y):
    return x - tdiv(x, y) * y


def near(x, y):
    if x == y:
        return True
    if not (math.isfinite(x) and math.isfinite(y)):
        return False
    return abs(x - y) <= 1e-9 * max(1.0, abs(x), abs(y))


def int_model(bits):
    w = lambda v: wrap(v, bits)  # noqa: E731
    return {
        "ADD": lambda x, y: w(x + y), "SUB": lambda x, y: w(x - y),
        "MUL": lambda x, y: w(x * y),
        "DIV": lambda x, y: None if y == 0 else w(tdiv(x, y)),
        "MOD": lambda x, y: None if y == 0 else w(tmod(x, y)),
    }


INT_OPS = ["ADD", "SUB", "MUL", "DIV", "MOD"]
REG = st.integers(0, 3)


def int_program(bits):
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    edge = st.sampled_from([0, 1, -1, 2, -2, 7, lo, hi, lo + 1, hi - 1])
    value = st.one_of(edge, st.integers(lo, hi))
    step = st.one_of(
        st.tuples(st.sampled_from(INT_OPS), REG, REG, REG),
        st.tuples(st.just("NEG"), REG, REG, st.just(0)),
        st.tuples(st.just("ADDI"), REG, REG, st.integers(-127, 128)),
        st.tuples(st.sampled_from(["ADDK", "SUBK", "MULK", "DIVK", "MODK"]), REG, REG,
                  value.filter(lambda v: v != 0)),
    )
    return st.tuples(st.lists(value, min_size=4, max_size=4), st.lists(step, max_size=25))


def run_int(bits, regs, steps):
    prefix = "I" if bits == 32 else "L"
    kind = "i" if bits == 32 else "l"

    def body(f):
        for op, a, b, c in steps:
            name = prefix + op
            if op in ("DIV", "MOD"):
                after = f.label()
                f.emit(name, a, b, c, after)
                f.mark(after)
            elif op == "NEG":
                f.emit(name, a, b)
            else:
                f.emit(name, a, b, c)
        f.emit("LNEW", 0)
        for r in range(4):
            f.emit("IBOX", 1, r)
            f.emit("LPUSH", 0, 1)
        f.emit("ORET", 0)

    return run_module(build(kind * 4, "o", body), *regs)


def model_int(bits, regs, steps):
    ops = int_model(bits)
    r = list(regs)
    for op, a, b, c in steps:
        if op == "NEG":
            r[a] = wrap(-r[b], bits)
            continue
        if op == "ADDI":
            r[a] = wrap(r[b] + c, bits)
            continue
        y = c if op.endswith("K") else r[c]
        got = ops[op.rstrip("K")](r[b], y)
        if got is not None:  # zero divisor: branch taken, A unchanged
            r[a] = got
    return r


@settings(max_examples=150, deadline=None)
@given(int_program(32))
def test_int32_programs(program):
    regs, steps = program
    assert run_int(32, regs, steps) == model_int(32, regs, steps)


@settings(max_examples=150, deadline=None)
@given(int_program(64))
def test_int64_programs(program):
    regs, steps = program
    assert run_int(64, regs, steps) == model_int(64, regs, steps)


DOUBLE = st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                   st.sampled_from([0.0, -0.0, 1.0, 0.1, 0.2, 0.3, 1e-10, 3.0]))


@settings(max_examples=150, deadline=None)
@given(st.lists(DOUBLE, min_size=4, max_size=4),
       st.lists(st.tuples(st.sampled_from(["DADD", "DSUB", "DMUL", "DDIV", "DEQ", "DLT"]),
                          REG, REG, REG), max_size=20))
def test_double_programs(regs, steps):
    def body(f):
        for op, a, b, c in steps:
            if op == "DDIV":
                after = f.label()
                f.emit(op, a, b, c, after)
                f.mark(after)
            elif op in ("DEQ", "DLT"):
                f.emit(op, 0, b, c)
                f.emit("I2D", a, 0)
            else:
                f.emit(op, a, b, c)
        f.emit("LNEW", 0)
        for r in range(4):
            f.emit("DBOX", 1, r)
            f.emit("LPUSH", 0, 1)
        f.emit("ORET", 0)

    got = run_module(build("dddd", "o", body), *regs)
    r = list(regs)
    for op, a, b, c in steps:
        x, y = r[b], r[c]
        if op == "DADD":
            r[a] = x + y
        elif op == "DSUB":
            r[a] = x - y
        elif op == "DMUL":
            r[a] = x * y
        elif op == "DDIV":
            if y != 0.0:
                r[a] = x / y
        elif op == "DEQ":
            r[a] = float(near(x, y))
        else:
            r[a] = float(x < y)
    assert [repr(v) for v in got] == [repr(v) for v in r]
