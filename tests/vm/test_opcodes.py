"""One table-driven test per opcode: the cases below are keyed by opcode name and
the test is parametrized over vm/opcodes.py, so an opcode added to the table
without cases here fails."""
from __future__ import annotations

import math

import pytest

from advm.vm import opcodes as O
from advm.vm._machine import Record, Suspended
from advm.vm.errors import VMAbort, VMError

from vmkit import build, run_module

I32_MIN, I32_MAX = -(2**31), 2**31 - 1
I64_MIN, I64_MAX = -(2**63), 2**63 - 1
ZERO = "division-by-zero branch"  # what the J-flagged divisions return on a zero divisor


class Raises:
    def __init__(self, exc, fragment):
        self.exc, self.fragment = exc, fragment


def _bank(kind):
    return {"i": "i", "l": "i", "b": "i", "d": "d", "o": "o"}[kind]


def _out(params, result):
    """First free register of the result's bank after the parameters."""
    return sum(1 for k in params if _bank(k) == _bank(result))


def _ret(f, result, reg):
    f.emit({"i": "IRET", "d": "DRET", "o": "ORET"}[_bank(result)], reg)


def binary(op, params, result, x, y, want):
    def body(f):
        out = _out(params, result)
        second = 1 if _bank(params[1]) == _bank(params[0]) else 0
        f.emit(op, out, 0, second)
        _ret(f, result, out)
    return (params, result, body, (x, y), want)


def with_const(op, param, result, x, k, want):
    def body(f):
        out = _out(param, result)
        f.emit(op, out, 0, k)
        _ret(f, result, out)
    return (param, result, body, (x,), want)


def unary(op, param, result, x, want):
    def body(f):
        out = _out(param, result)
        f.emit(op, out, 0)
        _ret(f, result, out)
    return (param, result, body, (x,), want)


def dividing(op, params, x, y, want):
    """A J-flagged division: the result, or ZERO when the branch was taken."""
    def body(f):
        zero = f.label("zero")
        f.emit(op, 2, 0, 1, zero)
        f.emit("DBOX" if params[0] == "d" else "IBOX", 0, 2)
        f.emit("ORET", 0)
        f.mark(zero)
        f.emit("OLOADK", 0, ZERO)
        f.emit("ORET", 0)
    result = "o"
    return (params, result, body, (x, y), want)


def branch(op, params, args, operand, k, taken):
    """Returns True when the compare-and-branch jumped."""
    def body(f):
        yes = f.label("yes")
        if operand is None:
            f.emit(op, 0, k, yes)
        else:
            f.emit(op, 0, operand, k, yes)
        f.emit("ILOADI", 0, 0)
        f.emit("IRET", 0)
        f.mark(yes)
        f.emit("ILOADI", 0, 1)
        f.emit("IRET", 0)
    return (params, "b", body, args, taken)


def program(params, result, body, args, want, **kw):
    return (params, result, body, args, want, kw)


def _boxed_body(op, kind):
    def body(f):
        f.emit(op, 0, 0)
        f.emit("ORET", 0)
    return body


def _seq(*steps, result_op=None, reg=0):
    def body(f):
        for step in steps:
            f.emit(*step)
        if result_op:
            f.emit(result_op, reg)
    return body


DOC = [("Doc", ["n", "x", "s"], "ido", [5, 1.5, "hi"])]
POINT = [("Point", ["x", "y", "tags"], "ido", [0, 0.0, []])]


TABLES = [("Row", ["id", "v", "$owner"], "iio", [0, 0, 0]),
          ("$table", ["next_id", "rows", "index", "id_slot", "owner_slot"], "iooii", [1, {}, {}, 0, 0])]


def _table(*values):
    """A table of Row (layout 0) holding rows with these values, ids from 1."""
    t = Record(1, [len(values) + 1, {}, {}, 0, 2])
    for i, v in enumerate(values, 1):
        t.f[1][i] = Record(0, [i, v, t])
    return t


def _sum_rows_body(f):
    # I[1] := sum of v over the rows TNEXT walks, in order, as v0*1 + v1*10 + ...
    top, done = f.label(), f.label()
    f.emit("ILOADI", 0, 0)  # position
    f.emit("ILOADI", 1, 0)  # digits so far
    f.mark(top)
    f.emit("TNEXT", 1, 0, 0, done)
    f.emit("RGETI", 2, 1, 1)
    f.emit("IMULK", 1, 1, 10)
    f.emit("IADD", 1, 1, 2)
    f.emit("JMP", top)
    f.mark(done)
    f.emit("IRET", 1)


def _call_body(f):
    f.emit("IMOV", 1, 0)
    f.emit("CALL", 1, "twice")
    f.emit("IRET", 1)


def _twice(m):
    g = m.function("twice", "i", "i")
    g.emit("IADD", 0, 0, 0)
    g.emit("IRET", 0)


def _void_callee(m):
    g = m.function("nothing", "", "")
    g.emit("RET")


def _dcallee(m):
    g = m.function("half", "d", "d")
    g.emit("DMULK", 0, 0, 0.5)
    g.emit("DRET", 0)


def _ocallee(m):
    g = m.function("greet", "o", "o")
    g.emit("OLOADK", 1, "hello ")
    g.emit("SCAT", 0, 1, 0)
    g.emit("ORET", 0)


def _for_body(op):
    def body(f):
        top, done = f.label(), f.label()
        f.emit("ILOADI", 1, 0)  # count
        f.emit("ILOADI", 2, 0)  # i
        f.emit("ILEJ", 0, 2, 1, done)
        f.mark(top)
        f.emit("IADDI", 1, 1, 1)
        f.emit(op, 2, 0, 3, top)  # i += 3 while i < n
        f.mark(done)
        f.emit("IRET", 1)
    return body


CASES = {
    "JMP": [program("", "i", _seq(("ILOADI", 0, 1), ("JMP", "SKIP"), ("ILOADI", 0, 2), result_op="IRET"), (), 1)],
    "CALL": [program("i", "i", _call_body, (21,), 42, extra=_twice)],
    "CALLHOST": [program("d", "d", _seq(("CALLHOST", 0, "Math.sqrt"), result_op="DRET"), (2.25,),
                         1.5, hosts=[("Math.sqrt", "d", "d")])],
    "RET": [program("", "i", _seq(("CALL", 0, "nothing"), ("ILOADI", 0, 7), ("IRET", 0)), (), 7,
                    extra=_void_callee)],
    "IRET": [program("i", "i", _seq(("IRET", 0)), (-5,), -5)],
    "DRET": [program("d", "d", _seq(("CALL", 0, "half"), ("DRET", 0)), (3.0,), 1.5,
                     extra=_dcallee)],
    "ORET": [program("o", "o", _seq(("CALL", 0, "greet"), ("ORET", 0)), ("bob",), "hello bob",
                     extra=_ocallee)],
    "SUSPEND": [program("o", "o", _seq(("SUSPEND", 1, 0), ("SCAT", 0, 0, 1), ("ORET", 0)),
                        ("a",), "SUSPENDED")],
    "ABORT": [program("", "", _seq(("ABORT",)), (), Raises(VMAbort, "abort"))],
    "FAIL": [program("", "", _seq(("FAIL", "nope")), (), Raises(VMError, "nope"))],
    "IMOV": [program("i", "i", _seq(("IMOV", 1, 0), ("IRET", 1)), (9,), 9)],
    "DMOV": [program("d", "d", _seq(("DMOV", 1, 0), ("DRET", 1)), (-0.0,), -0.0)],
    "OMOV": [program("o", "o", _seq(("OMOV", 1, 0), ("ORET", 1)), ("x",), "x")],
    "ILOADI": [program("", "i", _seq(("ILOADI", 0, -32767), ("IRET", 0)), (), -32767),
               program("", "i", _seq(("ILOADI", 0, 32768), ("IRET", 0)), (), 32768)],
    "ILOADK": [program("", "l", _seq(("ILOADK", 0, I64_MIN), ("IRET", 0)), (), I64_MIN)],
    "DLOADK": [program("", "d", _seq(("DLOADK", 0, 2.5e300), ("DRET", 0)), (), 2.5e300)],
    "OLOADK": [program("", "o", _seq(("OLOADK", 0, "kon"), ("ORET", 0)), (), "kon")],
    "ONULL": [program("o", "o", _seq(("ONULL", 0), ("ORET", 0)), ("x",), None)],
    "IADD": [binary("IADD", "ii", "i", I32_MAX, 1, I32_MIN), binary("IADD", "ii", "i", -3, 5, 2)],
    "ISUB": [binary("ISUB", "ii", "i", I32_MIN, 1, I32_MAX), binary("ISUB", "ii", "i", 3, 5, -2)],
    "IMUL": [binary("IMUL", "ii", "i", 65536, 65536, 0),
             binary("IMUL", "ii", "i", 46341, 46341, 46341 * 46341 - 2**32),
             binary("IMUL", "ii", "i", -7, 6, -42)],
    "IADDI": [with_const("IADDI", "i", "i", I32_MAX, 128, I32_MIN + 127),
              with_const("IADDI", "i", "i", 0, -127, -127)],
    "IADDK": [with_const("IADDK", "i", "i", I32_MAX, 1, I32_MIN)],
    "ISUBK": [with_const("ISUBK", "i", "i", I32_MIN, 1, I32_MAX)],
    "IMULK": [with_const("IMULK", "i", "i", 2**30, 4, 0), with_const("IMULK", "i", "i", 3, -5, -15)],
    "INEG": [unary("INEG", "i", "i", I32_MIN, I32_MIN), unary("INEG", "i", "i", 5, -5)],
    "IDIV": [dividing("IDIV", "ii", 7, -2, -3), dividing("IDIV", "ii", -7, 2, -3),
             dividing("IDIV", "ii", I32_MIN, -1, I32_MIN), dividing("IDIV", "ii", 5, 0, ZERO)],
    "IMOD": [dividing("IMOD", "ii", -7, 3, -1), dividing("IMOD", "ii", 7, -3, 1),
             dividing("IMOD", "ii", I32_MIN, -1, 0), dividing("IMOD", "ii", 5, 0, ZERO)],
    "IDIVK": [with_const("IDIVK", "i", "i", -9, 4, -2), with_const("IDIVK", "i", "i", I32_MIN, -1, I32_MIN)],
    "IMODK": [with_const("IMODK", "i", "i", -9, 4, -1), with_const("IMODK", "i", "i", I32_MIN, -1, 0)],
    "LADD": [binary("LADD", "ll", "l", I64_MAX, 1, I64_MIN), binary("LADD", "ll", "l", 2**40, 2**40, 2**41)],
    "LSUB": [binary("LSUB", "ll", "l", I64_MIN, 1, I64_MAX)],
    "LMUL": [binary("LMUL", "ll", "l", 2**32, 2**32, 0), binary("LMUL", "ll", "l", 10**9, 10**9, 10**18)],
    "LADDI": [with_const("LADDI", "l", "l", I64_MAX, 1, I64_MIN), with_const("LADDI", "l", "l", 2**40, -3, 2**40 - 3)],
    "LADDK": [with_const("LADDK", "l", "l", 1, 2**50, 2**50 + 1)],
    "LSUBK": [with_const("LSUBK", "l", "l", I64_MIN, 1, I64_MAX)],
    "LMULK": [with_const("LMULK", "l", "l", 2**62, 2, I64_MIN)],
    "LNEG": [unary("LNEG", "l", "l", I64_MIN, I64_MIN), unary("LNEG", "l", "l", 2**40, -(2**40))],
    "LDIV": [dividing("LDIV", "ll", I64_MIN, -1, I64_MIN), dividing("LDIV", "ll", -(10**12), 7, -142857142857),
             dividing("LDIV", "ll", 1, 0, ZERO)],
    "LMOD": [dividing("LMOD", "ll", I64_MIN, -1, 0), dividing("LMOD", "ll", -(10**12) - 1, 7, -(10**12 + 1) % 7 - 7),
             dividing("LMOD", "ll", 1, 0, ZERO)],
    "LDIVK": [with_const("LDIVK", "l", "l", I64_MIN, -1, I64_MIN), with_const("LDIVK", "l", "l", -7, 2, -3)],
    "LMODK": [with_const("LMODK", "l", "l", I64_MIN, -1, 0), with_const("LMODK", "l", "l", -7, 2, -1)],
    "DADD": [binary("DADD", "dd", "d", 0.1, 0.2, 0.1 + 0.2)],
    "DSUB": [binary("DSUB", "dd", "d", 1.0, 3.5, -2.5)],
    "DMUL": [binary("DMUL", "dd", "d", 1e200, 1e200, math.inf)],
    "DADDK": [with_const("DADDK", "d", "d", 1.0, 0.25, 1.25)],
    "DSUBK": [with_const("DSUBK", "d", "d", 1.0, 0.25, 0.75)],
    "DMULK": [with_const("DMULK", "d", "d", 3.0, -2.0, -6.0)],
    "DNEG": [unary("DNEG", "d", "d", 0.0, -0.0), unary("DNEG", "d", "d", -2.5, 2.5)],
    "DDIV": [dividing("DDIV", "dd", 1.0, 4.0, 0.25), dividing("DDIV", "dd", 1.0, 0.0, ZERO),
             dividing("DDIV", "dd", 1.0, -0.0, ZERO)],
    "DMOD": [dividing("DMOD", "dd", -7.5, 2.0, -1.5), dividing("DMOD", "dd", 1.0, 0.0, ZERO)],
    "DDIVK": [with_const("DDIVK", "d", "d", 1.0, 8.0, 0.125)],
    "I2D": [unary("I2D", "l", "d", 2**53 + 1, float(2**53))],
    "L2I": [unary("L2I", "l", "i", 2**32 + 5, 5), unary("L2I", "l", "i", 2**31, I32_MIN)],
    "D2I": [unary("D2I", "d", "i", -2.7, -2), unary("D2I", "d", "i", math.nan, 0),
            unary("D2I", "d", "i", 1e20, I32_MAX), unary("D2I", "d", "i", -1e20, I32_MIN)],
    "D2L": [unary("D2L", "d", "l", 1e30, I64_MAX), unary("D2L", "d", "l", -math.inf, I64_MIN),
            unary("D2L", "d", "l", math.nan, 0), unary("D2L", "d", "l", 123.9, 123)],
    "NOT": [unary("NOT", "b", "b", True, False), unary("NOT", "b", "b", False, True)],
    "ILT": [binary("ILT", "ii", "b", -1, 0, True), binary("ILT", "ii", "b", 0, 0, False)],
    "ILE": [binary("ILE", "ii", "b", 0, 0, True), binary("ILE", "ii", "b", 1, 0, False)],
    "IEQ": [binary("IEQ", "ll", "b", I64_MIN, I64_MIN, True), binary("IEQ", "ii", "b", 1, 2, False)],
    "INE": [binary("INE", "ii", "b", 1, 2, True), binary("INE", "ii", "b", 2, 2, False)],
    "DLT": [binary("DLT", "dd", "b", 1.0, 1.0 + 1e-12, True), binary("DLT", "dd", "b", math.nan, 1.0, False)],
    "DLE": [binary("DLE", "dd", "b", 1.0, 1.0, True), binary("DLE", "dd", "b", math.nan, math.nan, False)],
    "DEQ": [binary("DEQ", "dd", "b", 0.1 + 0.2, 0.3, True), binary("DEQ", "dd", "b", 1.0, 1.000001, False),
            binary("DEQ", "dd", "b", math.nan, math.nan, False), binary("DEQ", "dd", "b", 1e300, 1e300 * (1 + 1e-12), True),
            binary("DEQ", "dd", "b", math.inf, math.inf, True), binary("DEQ", "dd", "b", math.inf, 1e308, False),
            binary("DEQ", "dd", "b", 0.0, 5e-10, True), binary("DEQ", "dd", "b", 0.0, 2e-9, False)],
    "DNE": [binary("DNE", "dd", "b", 0.1 + 0.2, 0.3, False), binary("DNE", "dd", "b", 1.0, 2.0, True)],
    "ILTJ": [branch("ILTJ", "ii", (1, 2), 1, 1, True), branch("ILTJ", "ii", (1, 2), 1, 0, False),
             branch("ILTJ", "ii", (2, 2), 1, 0, True)],
    "ILEJ": [branch("ILEJ", "ii", (2, 2), 1, 1, True), branch("ILEJ", "ii", (3, 2), 1, 1, False)],
    "IEQJ": [branch("IEQJ", "ll", (I64_MAX, I64_MAX), 1, 1, True), branch("IEQJ", "ii", (1, 2), 1, 1, False)],
    "ILTJK": [branch("ILTJK", "i", (1,), 10_000_000, 1, True), branch("ILTJK", "i", (10_000_000,), 10_000_000, 1, False)],
    "ILEJK": [branch("ILEJK", "i", (5,), 5, 1, True), branch("ILEJK", "i", (6,), 5, 1, False)],
    "IGTJK": [branch("IGTJK", "i", (6,), 5, 1, True), branch("IGTJK", "i", (5,), 5, 0, True)],
    "IGEJK": [branch("IGEJK", "i", (5,), 5, 1, True), branch("IGEJK", "i", (4,), 5, 1, False)],
    "IEQJK": [branch("IEQJK", "l", (2**40,), 2**40, 1, True), branch("IEQJK", "i", (3,), 4, 0, True)],
    "DLTJ": [branch("DLTJ", "dd", (1.0, 2.0), 1, 1, True), branch("DLTJ", "dd", (math.nan, 2.0), 1, 1, False)],
    "DLEJ": [branch("DLEJ", "dd", (2.0, 2.0), 1, 1, True), branch("DLEJ", "dd", (3.0, 2.0), 1, 1, False)],
    "DEQJ": [branch("DEQJ", "dd", (0.1 + 0.2, 0.3), 1, 1, True), branch("DEQJ", "dd", (1.0, 2.0), 1, 0, True)],
    "IFORLT": [program("i", "i", _for_body("IFORLT"), (10,), 4), program("i", "i", _for_body("IFORLT"), (0,), 0)],
    "LFORLT": [program("l", "i", _for_body("LFORLT"), (9,), 3)],
    "TESTJ": [branch("TESTJ", "b", (True,), None, 1, True), branch("TESTJ", "b", (False,), None, 1, False),
              branch("TESTJ", "b", (False,), None, 0, True)],
    "NULLJ": [branch("NULLJ", "o", (None,), None, 1, True), branch("NULLJ", "o", (0,), None, 1, False)],
    "IBOX": [program("i", "o", _boxed_body("IBOX", "i"), (-4,), -4)],
    "BBOX": [program("b", "o", _boxed_body("BBOX", "b"), (True,), True)],
    "DBOX": [program("d", "o", _boxed_body("DBOX", "d"), (2.5,), 2.5)],
    "IUNBOX": [program("o", "i", _seq(("IUNBOX", 0, 0), ("IRET", 0)), (12,), 12),
               program("o", "b", _seq(("IUNBOX", 0, 0), ("IRET", 0)), (True,), True),
               program("o", "i", _seq(("IUNBOX", 0, 0), ("IRET", 0)), (None,), Raises(VMError, "empty maybe")),
               program("o", "i", _seq(("IUNBOX", 0, 0), ("IRET", 0)), ("7",), Raises(VMError, "expected an integer"))],
    "DUNBOX": [program("o", "d", _seq(("DUNBOX", 0, 0), ("DRET", 0)), (0.5,), 0.5),
               program("o", "d", _seq(("DUNBOX", 0, 0), ("DRET", 0)), (None,), Raises(VMError, "empty maybe"))],
    "OEQ": [binary("OEQ", "oo", "b", "ab", "a" + "b", True), binary("OEQ", "oo", "b", "a", None, False)],
    "SCAT": [binary("SCAT", "oo", "o", "ab", "cé", "abcé"), binary("SCAT", "oo", "o", "a", 1, Raises(VMError, "expected a string"))],
    "SLEN": [unary("SLEN", "o", "i", "héllo", 5)],
    "SLT": [binary("SLT", "oo", "b", "B", "a", True), binary("SLT", "oo", "b", "b", "b", False)],
    "SLE": [binary("SLE", "oo", "b", "b", "b", True), binary("SLE", "oo", "b", "c", "b", False)],
    "ITOS": [program("i", "o", _seq(("ITOS", 0, 0), ("ORET", 0)), (-42,), "-42")],
    "DTOS": [program("d", "o", _seq(("DTOS", 0, 0), ("ORET", 0)), (0.1,), "0.1"),
             program("d", "o", _seq(("DTOS", 0, 0), ("ORET", 0)), (math.inf,), "Infinity"),
             program("d", "o", _seq(("DTOS", 0, 0), ("ORET", 0)), (math.nan,), "NaN")],
    "BTOS": [program("b", "o", _seq(("BTOS", 0, 0), ("ORET", 0)), (False,), "false")],
    "LNEW": [program("", "o", _seq(("LNEW", 0), ("ORET", 0)), (), [])],
    "LPUSH": [program("o", "o", _seq(("LNEW", 1), ("LPUSH", 1, 0), ("LPUSH", 1, 0), ("ORET", 1)), ("x",), ["x", "x"])],
    "LLEN": [unary("LLEN", "o", "i", [1, 2, 3], 3), unary("LLEN", "o", "i", {}, Raises(VMError, "expected a list"))],
    "LGET": [binary("LGET", "oi", "o", ["a", "b"], 1, "b"), binary("LGET", "oi", "o", ["a"], 1, None),
             binary("LGET", "oi", "o", ["a"], -1, None)],
    "LSET": [program("oio", "o", _seq(("LSET", 0, 0, 1), ("ORET", 0)), (["a", "b"], 0, "z"), ["z", "b"]),
             program("oio", "o", _seq(("LSET", 0, 0, 1), ("ORET", 0)), (["a"], 3, "z"),
                     Raises(VMError, "list index 3 out of range"))],
    "MNEW": [program("", "o", _seq(("MNEW", 0), ("ORET", 0)), (), {})],
    "MPUT": [program("oo", "o", _seq(("MNEW", 2), ("MPUT", 2, 0, 1), ("ORET", 2)), ("k", 5), {"k": 5})],
    "MGET": [binary("MGET", "oo", "o", {"k": 1}, "k", 1), binary("MGET", "oo", "o", {"k": 1}, "z", None)],
    "MHAS": [binary("MHAS", "oo", "b", {3: 1}, 3, True), binary("MHAS", "oo", "b", {3: 1}, 4, False)],
    "MDEL": [program("oo", "o", _seq(("MDEL", 0, 1), ("MDEL", 0, 1), ("ORET", 0)), ({"a": 1, "b": 2}, "a"), {"b": 2})],
    "MLEN": [unary("MLEN", "o", "i", {"a": 1, "b": 2}, 2)],
    "MKEYS": [unary("MKEYS", "o", "o", {"b": 1, "a": 2}, ["b", "a"])],
    "RNEW": [program("", "o", _seq(("RNEW", 0, "Point"), ("ORET", 0)), (), "RECORD", records=POINT)],
    "RGETI": [program("o", "i", _seq(("RGETI", 0, 0, 0), ("IRET", 0)), (Record(0, [7, 1.5, []]),), 7, records=POINT),
              program("o", "i", _seq(("RGETI", 0, 0, 9), ("IRET", 0)), (Record(0, [7, 1.5, []]),),
                      Raises(VMError, "no field slot 9"), records=POINT)],
    "RGETD": [program("o", "d", _seq(("RGETD", 0, 0, 1), ("DRET", 0)), (Record(0, [7, 1.5, []]),), 1.5, records=POINT)],
    "RGETO": [program("o", "o", _seq(("RGETO", 1, 0, 2), ("ORET", 1)), (Record(0, [7, 1.5, ["t"]]),), ["t"], records=POINT),
              program("o", "o", _seq(("RGETO", 1, 0, 2), ("ORET", 1)), ("str",), Raises(VMError, "expected a record"))],
    "RSETI": [program("i", "o", _seq(("RNEW", 0, "Point"), ("RSETI", 0, 0, 0), ("ORET", 0)), (3,), "RECORD x=3", records=POINT)],
    "RSETD": [program("d", "o", _seq(("RNEW", 0, "Point"), ("RSETD", 0, 1, 0), ("ORET", 0)), (2.5,), "RECORD y=2.5", records=POINT)],
    "RSETO": [program("o", "o", _seq(("RNEW", 1, "Point"), ("RSETO", 1, 2, 0), ("ORET", 1)), (["q"],), "RECORD tags=['q']", records=POINT)],
    "FGETI": [program("", "i", _seq(("FGETI", 0, 0), ("IRET", 0)), (), 5, records=DOC, document="Doc")],
    "FGETD": [program("", "d", _seq(("FGETD", 0, 1), ("DRET", 0)), (), 1.5, records=DOC, document="Doc")],
    "FGETO": [program("", "o", _seq(("FGETO", 0, 2), ("ORET", 0)), (), "hi", records=DOC, document="Doc")],
    "FSETI": [program("i", "i", _seq(("FSETI", 0, 0), ("FGETI", 1, 0), ("IRET", 1)), (8,), 8, records=DOC, document="Doc")],
    "FSETD": [program("d", "d", _seq(("FSETD", 0, 1), ("FGETD", 1, 1), ("DRET", 1)), (0.5,), 0.5, records=DOC, document="Doc")],
    "FSETO": [program("o", "o", _seq(("FSETO", 0, 2), ("FGETO", 1, 2), ("ORET", 1)), ("yo",), "yo", records=DOC, document="Doc")],
    # The logged forms write exactly like the plain ones; what they log is
    # tested per opcode in test_transactions.py.
    "RSETIL": [program("oi", "o", _seq(("RSETIL", 0, 0, 0), ("ORET", 0)), (Record(0, [7, 1.5, []]), 3), "RECORD x=3", records=POINT),
               program("oi", "o", _seq(("RSETIL", 0, 9, 0), ("ORET", 0)), (Record(0, [7, 1.5, []]), 3),
                       Raises(VMError, "no field slot 9"), records=POINT),
               program("oi", "o", _seq(("RSETIL", 0, 0, 0), ("ORET", 0)), ([], 3), Raises(VMError, "expected a record"))],
    "RSETDL": [program("od", "o", _seq(("RSETDL", 0, 1, 0), ("ORET", 0)), (Record(0, [7, 1.5, []]), -0.25), "RECORD y=-0.25", records=POINT)],
    "RSETOL": [program("oo", "o", _seq(("RSETOL", 0, 2, 1), ("ORET", 0)), (Record(0, [7, 1.5, []]), ["q"]), "RECORD tags=['q']", records=POINT)],
    "LPUSHL": [program("oo", "o", _seq(("LPUSHL", 0, 1), ("LPUSHL", 0, 1), ("ORET", 0)), (["a"], "b"), ["a", "b", "b"]),
               program("oo", "o", _seq(("LPUSHL", 0, 1), ("ORET", 0)), ({}, "b"), Raises(VMError, "expected a list"))],
    "LSETL": [program("oio", "o", _seq(("LSETL", 0, 0, 1), ("ORET", 0)), (["a", "b"], 1, "z"), ["a", "z"]),
              program("oio", "o", _seq(("LSETL", 0, 0, 1), ("ORET", 0)), (["a"], -1, "z"),
                      Raises(VMError, "list index -1 out of range"))],
    "MPUTL": [program("ooo", "o", _seq(("MPUTL", 0, 1, 2), ("ORET", 0)), ({"a": 1}, "b", 2), {"a": 1, "b": 2}),
              program("ooo", "o", _seq(("MPUTL", 0, 1, 2), ("ORET", 0)), ({"a": 1}, "a", None), {"a": None}),
              program("ooo", "o", _seq(("MPUTL", 0, 1, 2), ("ORET", 0)), ([], "a", 1), Raises(VMError, "expected a map"))],
    "MDELL": [program("oo", "o", _seq(("MDELL", 0, 1), ("MDELL", 0, 1), ("ORET", 0)), ({"a": 1, "b": 2}, "a"), {"b": 2})],
    "TINSERT": [program("oo", "i", _seq(("TINSERT", 0, 0, 1), ("TINSERT", 1, 0, 1), ("IRET", 1)),
                        (_table(), Record(0, [0, 5, 0])), Raises(VMError, "already in a table"), records=TABLES),
                program("oo", "i", _seq(("TINSERT", 0, 0, 1), ("IRET", 0)),
                        (_table(4, 5), Record(0, [0, 6, 0])), 3, records=TABLES),
                program("oo", "i", _seq(("TINSERT", 0, 0, 1), ("IRET", 0)),
                        ({}, Record(0, [0, 6, 0])), Raises(VMError, "expected a table"), records=TABLES)],
    "TNEXT": [program("o", "i", _sum_rows_body, (_table(1, 2, 3),), 123, records=TABLES),
              program("o", "i", _sum_rows_body, (_table(),), 0, records=TABLES),
              program("o", "i", _sum_rows_body, ([],), Raises(VMError, "expected a table"), records=TABLES)],
}


def _run_case(case):
    params, result, body, args, want = case[:5]
    kw = case[5] if len(case) > 5 else {}
    module = build(params, result, _labelled(body), **kw)
    if isinstance(want, Raises):
        with pytest.raises(want.exc, match=want.fragment):
            run_module(module, *args)
        return
    got = run_module(module, *args)
    if want == "SUSPENDED":
        assert isinstance(got, Suspended) and got.payload == args[0]
        return
    if isinstance(want, str) and want.startswith("RECORD"):
        assert isinstance(got, Record) and got.layout == 0
        for assignment in want.split()[1:]:
            name, value = assignment.split("=")
            assert repr(got.f[["x", "y", "tags"].index(name)]) == value
        return
    assert type(got) is type(want), (got, want)
    if isinstance(want, float) and math.isnan(want):
        assert math.isnan(got)
    else:
        assert got == want
        if isinstance(want, float):
            assert math.copysign(1, got) == math.copysign(1, want)


def _labelled(body):
    """Let `_seq` bodies say "SKIP" for a label placed after the next instruction."""
    def wrapped(f):
        original = f.emit
        pending = []

        def emit(name, *args, **kw):
            if args and args[-1] == "SKIP":
                label = f.label("skip")
                original(name, *args[:-1], label, **kw)
                pending.append(label)
                return
            original(name, *args, **kw)
            if pending and name != "JMP":
                f.mark(pending.pop())

        f.emit = emit
        body(f)
    return wrapped


@pytest.mark.parametrize("name", [o.name for o in O.OPS])
def test_opcode(name):
    cases = CASES.get(name)
    assert cases, f"opcode {name} has no test case in tests/vm/test_opcodes.py"
    for case in cases:
        _run_case(case)


def test_no_cases_for_unknown_opcodes():
    assert set(CASES) <= set(O.BY_NAME), set(CASES) - set(O.BY_NAME)


def test_suspend_resumes_with_value():
    module = build("o", "o", _seq(("SUSPEND", 1, 0), ("SCAT", 0, 0, 1), ("ORET", 0)))
    from advm.vm._machine import Machine

    m = Machine(module)
    got = m.call("t", "a")
    assert isinstance(got, Suspended) and got.payload == "a" and m.suspended
    assert m.resume("b") == "ab"
    assert not m.suspended
