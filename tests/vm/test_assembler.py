"""Assembler: labels, encoding, range checks, constant pools, register counts;
verifier: what it refuses before the machine runs anything."""
from __future__ import annotations

import pytest

from advm.vm import opcodes as O
from advm.vm.assembler import ModuleAsm
from advm.vm.errors import AssemblyError, VerifyError
from advm.vm.module import Function, Module
from advm.vm.verify import verify_module


def one(params="", result="", **kw):
    m = ModuleAsm("a.adb")
    return m, m.function("f", params, result)


def test_word_layout_matches_the_documented_diagram():
    assert O.encode_abc(0x12, 0x34, 0x56, 0x78) == 0x78563412
    assert O.encode_abx(0x01, 0x02, 0xBEEF) == 0xBEEF0201
    assert O.encode_asbx(0x01, 0x02, -1) == ((32766 << 16) | 0x0201)
    assert O.encode_sj(0x01, 0) == (8388607 << 8) | 1
    info, fields = O.decode(O.encode_abx(O.BY_NAME["CALL"].code, 7, 300))
    assert info.name == "CALL" and fields == (7, 300)


def test_labels_resolve_forward_and_backward():
    m, f = one("i", "i")
    top, out = f.label("top"), f.label("out")
    f.mark(top)
    f.emit("IEQJK", 0, 0, 1, out)  # words 0-1
    f.emit("IADDI", 0, 0, -1)  # word 2
    f.emit("JMP", top)  # word 3: back to 0
    f.mark(out)
    f.emit("IRET", 0)  # word 4
    fn = m.assemble().functions[0]
    assert len(fn.code) == 5
    assert O.decode(fn.code[1]) == (O.BY_NAME["JMP"], (4 - 2,))
    assert O.decode(fn.code[3]) == (O.BY_NAME["JMP"], (0 - 4,))


def test_unplaced_and_twice_placed_labels():
    m, f = one()
    f.emit("JMP", f.label("nowhere"))
    with pytest.raises(AssemblyError, match="label nowhere never placed"):
        m.assemble()
    m, f = one()
    here = f.label("here")
    f.mark(here)
    with pytest.raises(AssemblyError, match="placed twice"):
        f.mark(here)


@pytest.mark.parametrize("args, message", [
    (("IADD", 256, 0, 0), "operand 1 .* out of range 0..255"),
    (("IADD", -1, 0, 0), "out of range"),
    (("IADDI", 0, 0, 129), r"operand 3 .* out of range -127..128"),
    (("IADDI", 0, 0, -128), "out of range"),
    (("ILOADI", 0, 32769), r"out of range -32767..32768"),
    (("ILTJ", 0, 0, 2, "LABEL"), r"out of range 0..1"),
    (("IADD", 0, 0), r"takes 3 operand\(s\)"),
    (("RET", 1), r"takes 0 operand"),
    (("NOPE",), "unknown opcode"),
    (("IDIVK", 0, 0, 0), "constant divisor is zero"),
    (("DDIVK", 0, 0, 0.0), "constant divisor is zero"),
    (("ILOADK", 0, 2**63), "does not fit in 64 bits"),
    (("ILOADK", 0, 1.5), "int constant expected"),
    (("CALL", 0, "missing"), "unknown function 'missing'"),
    (("CALLHOST", 0, "Math.nope"), "unknown host function"),
    (("RNEW", 0, "Nope"), "unknown record"),
    (("ILTJ", 0, 0, 1, "x"), "needs a Label"),
])
def test_range_and_operand_checks(args, message):
    m, f = one()
    label = f.mark(f.label("L"))
    args = tuple(label if a == "LABEL" else a for a in args)
    with pytest.raises(AssemblyError, match=message):
        f.emit(*args)
        f.emit("RET")
        m.assemble()


def test_constants_are_interned_per_pool():
    m, f = one("d", "d")
    for _ in range(3):
        f.emit("DADDK", 0, 0, 0.5)
    f.emit("DADDK", 0, 0, -0.0)
    f.emit("DADDK", 0, 0, 0.0)
    f.emit("DLOADK", 1, 0.5)
    f.emit("DRET", 0)
    fn = m.assemble().functions[0]
    assert fn.kdbl == [0.5, -0.0, 0.0]


def test_constant_pool_overflow_in_an_8_bit_field():
    m, f = one("i", "i")
    for k in range(256):
        f.emit("IADDK", 0, 0, 1000 + k)
    f.emit("IRET", 0)
    m.assemble()  # indices 0..255 fit in C
    m, f = one("i", "i")
    for k in range(257):
        f.emit("IADDK", 0, 0, 1000 + k)
    f.emit("IRET", 0)
    with pytest.raises(AssemblyError, match="instruction 256 .* = 256 out of range 0..255"):
        m.assemble()


def test_register_counts_include_params_operands_and_call_windows():
    m = ModuleAsm()
    g = m.function("g", "ido", "d")
    g.emit("DRET", 0)
    f = m.function("f", "", "")
    f.emit("DMOV", 4, 4)
    f.emit("CALL", 6, "g")
    f.emit("RET")
    mod = m.assemble()
    assert mod.functions[0].nregs == (1, 1, 1)
    assert mod.functions[1].nregs == (7, 7, 7)


def test_too_many_registers_needs_a_bigger_bank():
    m, f = one()
    f.reserve(i=257)
    f.emit("RET")
    with pytest.raises(AssemblyError, match="at most 256"):
        m.assemble()


def test_positions_are_recorded_per_word():
    m, f = one("i", "i")
    done = f.label()
    f.emit("IEQJK", 0, 0, 1, done, pos=(3, 4))
    f.pos = (5, 6)
    f.emit("IADDI", 0, 0, 1)
    f.mark(done)
    f.emit("IRET", 0, pos=(7, 8))
    fn = m.assemble().functions[0]
    assert list(zip(fn.lines, fn.cols)) == [(3, 4), (3, 4), (5, 6), (7, 8)]


# ------------------------------------------------------------------ verifier
def raw(code, params="", result="", nregs=(1, 1, 1), kint=(), hosts=()):
    fn = Function("f", params, result, nregs, list(code), list(kint), [], [],
                  [1] * len(code), [1] * len(code))
    return Module("v.adb", functions=[fn], hosts=list(hosts))


def w(name, *fields):
    info = O.BY_NAME[name]
    if info.fmt == "ABC":
        a, b, c = (list(fields) + [0, 0, 0])[:3]
        if "sc" in info.operands:
            c += O.OFFSET_SC
        return O.encode_abc(info.code, a, b, c)
    if info.fmt == "ABx":
        return O.encode_abx(info.code, *fields)
    if info.fmt == "AsBx":
        return O.encode_asbx(info.code, *fields)
    return O.encode_sj(info.code, *fields)


@pytest.mark.parametrize("code, kw, message", [
    ([0xFF], {}, "unknown opcode 255"),
    ([w("ILTJ", 0, 0, 1), w("RET")], {}, "must be followed by a JMP word"),
    ([w("ILTJ", 0, 0, 1)], {}, "missing its JMP word"),
    ([w("JMP", 1), w("ILTJ", 0, 0, 1), w("JMP", -1), w("RET")], {}, "not an instruction start"),
    ([w("JMP", 5), w("RET")], {}, "jump to 6 is not an instruction start"),
    ([w("IADD", 1, 0, 0), w("RET")], {}, "register i1 outside the 1-register window"),
    ([w("ILOADK", 0, 0), w("RET")], {}, "int constant 0 does not exist"),
    ([w("IADD", 0, 0, 0)], {}, "run off the end"),
    ([w("IRET", 0)], {}, "IRET in a function whose result calls for RET"),
    ([w("RET")], {"result": "d"}, "RET in a function whose result calls for DRET"),
    ([w("CALL", 0, 3), w("RET")], {}, "function 3 does not exist"),
    ([w("CALL", 1, 0), w("RET")], {"params": "i"}, "do not fit the caller's i registers"),
    ([w("IMODK", 0, 0, 0), w("RET")], {"kint": [0]}, "constant divisor is zero"),
    ([w("ILTJ", 0, 0, 2), w("JMP", 0), w("RET")], {}, "flag operand must be 0 or 1"),
    ([w("RET", 3), ], {}, "unused field holds 3"),
    ([w("FGETI", 0, 0), w("RET")], {}, "no document layout"),
])
def test_verifier_refuses(code, kw, message):
    with pytest.raises(VerifyError, match=message):
        verify_module(raw(code, **kw))


def test_verifier_accepts_assembled_code():
    m, f = one("i", "i")
    f.emit("IRET", 0)
    verify_module(m.assemble())
