"""THE opcode table of the advm register machine, and the word layout.

Every per-opcode fact lives in one row here: name, word format, what each
operand field means (its *kind*), flags and a one-line semantics in Lua's
`R[A] := R[B] + R[C]` notation.  The assembler, the disassembler, the verifier,
the generated Cython include (`vm/opcodes.pxi`) and the opcode table in
`spec/bytecode.md` are all derived from it (`python -m advm.vm.genpxi`).

Word layout (32 bits, least significant bit on the right):

      31       24 23       16 15        8 7         0
     +-----------+-----------+-----------+-----------+
     |     C     |     B     |     A     |    op     |   ABC
     +-----------+-----------+-----------+-----------+
     |          Bx           |     A     |    op     |   ABx
     +-----------+-----------+-----------+-----------+
     |     sBx (excess 32767)|     A     |    op     |   AsBx
     +-----------+-----------+-----------+-----------+
     |       sJ (excess 8388607)         |    op     |   sJ
     +-----------+-----------+-----------+-----------+

Semantics notation: I[x], D[x], O[x] are registers of the int64, double and
object banks in the current frame's window; KI[x], KD[x], KO[x] are the
function's int, double and object constants; i32(v) wraps v to 32-bit two's
complement, 64-bit arithmetic wraps modulo 2^64; `goto J` jumps to the target
of the JMP word that follows a J-flagged instruction, otherwise that word is
skipped.
"""
from __future__ import annotations

from dataclasses import dataclass

# ---------------------------------------------------------------- word layout
SIZE_OP = 8
SIZE_A = 8
SIZE_B = 8
SIZE_C = 8
SIZE_BX = 16
SIZE_SJ = 24
POS_A = 8
POS_B = 16
POS_C = 24
POS_BX = 16
POS_SJ = 8
MAX_A = (1 << SIZE_A) - 1
MAX_B = (1 << SIZE_B) - 1
MAX_C = (1 << SIZE_C) - 1
MAX_BX = (1 << SIZE_BX) - 1
OFFSET_SC = 127  # signed C immediate: sC = C - 127, range -127..128
OFFSET_SBX = MAX_BX >> 1  # 32767: sBx = Bx - 32767, range -32767..32768
OFFSET_SJ = ((1 << SIZE_SJ) - 1) >> 1  # 8388607: range -8388607..8388608
MAX_REGS = MAX_A + 1  # registers per bank per function

FORMATS = ("ABC", "ABx", "AsBx", "sJ")

# Operand kinds: what a field means, so tools can check and print it.
KINDS = {
    "i": "int64 register",
    "d": "double register",
    "o": "object register",
    "ki": "int constant index",
    "kd": "double constant index",
    "ko": "object constant index",
    "sc": "signed 8-bit immediate (excess 127)",
    "sbx": "signed 16-bit immediate (excess 32767)",
    "sj": "signed 24-bit jump offset (excess 8388607)",
    "k": "boolean flag 0/1",
    "base": "call window offset (same in every bank)",
    "fn": "function index",
    "host": "host import index",
    "rec": "record layout index",
    "fld": "field slot index",
    "_": "unused, must be 0",
}

# Flags, one letter each.
FLAG_DOC = {
    "W": "writes register A",
    "R": "may raise a runtime error",
    "S": "may suspend the machine",
    "D": "touches document state (undo-logged writes)",
    "J": "followed by a JMP word taken as its branch target",
    "T": "never falls through to the next instruction",
}


@dataclass(frozen=True)
class OpInfo:
    code: int
    name: str
    fmt: str
    operands: tuple[str, ...]
    flags: str
    sem: str

    @property
    def writes_a(self) -> bool:
        return "W" in self.flags

    @property
    def may_raise(self) -> bool:
        return "R" in self.flags

    @property
    def may_suspend(self) -> bool:
        return "S" in self.flags

    @property
    def touches_doc(self) -> bool:
        return "D" in self.flags

    @property
    def has_jump_word(self) -> bool:
        return "J" in self.flags

    @property
    def terminates(self) -> bool:
        return "T" in self.flags

    @property
    def width(self) -> int:
        """Words the instruction occupies (2 when a JMP word follows)."""
        return 2 if self.has_jump_word else 1

    def fields(self) -> tuple[str, ...]:
        return {"ABC": ("A", "B", "C"), "ABx": ("A", "Bx"),
                "AsBx": ("A", "sBx"), "sJ": ("sJ",)}[self.fmt]


OPS: list[OpInfo] = []


def _op(name: str, fmt: str, operands: str, flags: str, sem: str) -> None:
    kinds = tuple(operands.split())
    OPS.append(OpInfo(len(OPS), name, fmt, kinds, flags, sem))


# ------------------------------------------------------------------ the table
# name        fmt     operands       flags  semantics
# control
_op("JMP",      "sJ",   "sj",         "T",   "pc += sJ")
_op("CALL",     "ABx",  "base fn",    "R",   "R[A] := F[Bx](R[A]...) (new window at A in every bank)")
_op("CALLHOST", "ABx",  "base host",  "R",   "R[A] := H[Bx](R[A]...) (host function, args by bank)")
_op("RET",      "ABC",  "_ _ _",      "T",   "return")
_op("IRET",     "ABC",  "i _ _",      "T",   "return I[A]")
_op("DRET",     "ABC",  "d _ _",      "T",   "return D[A]")
_op("ORET",     "ABC",  "o _ _",      "T",   "return O[A]")
_op("SUSPEND",  "ABC",  "o o _",      "WS",  "O[A] := suspend(O[B]) (the resume value)")
_op("ABORT",    "ABC",  "_ _ _",      "RT",  "abort the transaction")
_op("FAIL",     "ABx",  "_ ko",       "RT",  "raise runtime error KO[Bx]")
# moves and constants
_op("IMOV",     "ABC",  "i i _",      "W",   "I[A] := I[B]")
_op("DMOV",     "ABC",  "d d _",      "W",   "D[A] := D[B]")
_op("OMOV",     "ABC",  "o o _",      "W",   "O[A] := O[B]")
_op("ILOADI",   "AsBx", "i sbx",      "W",   "I[A] := sBx")
_op("ILOADK",   "ABx",  "i ki",       "W",   "I[A] := KI[Bx]")
_op("DLOADK",   "ABx",  "d kd",       "W",   "D[A] := KD[Bx]")
_op("OLOADK",   "ABx",  "o ko",       "W",   "O[A] := KO[Bx]")
_op("ONULL",    "ABC",  "o _ _",      "W",   "O[A] := empty")
# int: 32-bit two's complement, wrapping
_op("IADD",     "ABC",  "i i i",      "W",   "I[A] := i32(I[B] + I[C])")
_op("ISUB",     "ABC",  "i i i",      "W",   "I[A] := i32(I[B] - I[C])")
_op("IMUL",     "ABC",  "i i i",      "W",   "I[A] := i32(I[B] * I[C])")
_op("IADDI",    "ABC",  "i i sc",     "W",   "I[A] := i32(I[B] + sC)")
_op("IADDK",    "ABC",  "i i ki",     "W",   "I[A] := i32(I[B] + KI[C])")
_op("ISUBK",    "ABC",  "i i ki",     "W",   "I[A] := i32(I[B] - KI[C])")
_op("IMULK",    "ABC",  "i i ki",     "W",   "I[A] := i32(I[B] * KI[C])")
_op("INEG",     "ABC",  "i i _",      "W",   "I[A] := i32(-I[B])")
_op("IDIV",     "ABC",  "i i i",      "WJ",  "if I[C] == 0 goto J else I[A] := i32(I[B] / I[C]) (truncated)")
_op("IMOD",     "ABC",  "i i i",      "WJ",  "if I[C] == 0 goto J else I[A] := I[B] % I[C] (sign of I[B])")
_op("IDIVK",    "ABC",  "i i ki",     "W",   "I[A] := i32(I[B] / KI[C]) (KI[C] != 0)")
_op("IMODK",    "ABC",  "i i ki",     "W",   "I[A] := I[B] % KI[C] (KI[C] != 0)")
# long: 64-bit two's complement, wrapping
_op("LADD",     "ABC",  "i i i",      "W",   "I[A] := I[B] + I[C]")
_op("LSUB",     "ABC",  "i i i",      "W",   "I[A] := I[B] - I[C]")
_op("LMUL",     "ABC",  "i i i",      "W",   "I[A] := I[B] * I[C]")
_op("LADDI",    "ABC",  "i i sc",     "W",   "I[A] := I[B] + sC")
_op("LADDK",    "ABC",  "i i ki",     "W",   "I[A] := I[B] + KI[C]")
_op("LSUBK",    "ABC",  "i i ki",     "W",   "I[A] := I[B] - KI[C]")
_op("LMULK",    "ABC",  "i i ki",     "W",   "I[A] := I[B] * KI[C]")
_op("LNEG",     "ABC",  "i i _",      "W",   "I[A] := -I[B]")
_op("LDIV",     "ABC",  "i i i",      "WJ",  "if I[C] == 0 goto J else I[A] := I[B] / I[C] (truncated)")
_op("LMOD",     "ABC",  "i i i",      "WJ",  "if I[C] == 0 goto J else I[A] := I[B] % I[C] (sign of I[B])")
_op("LDIVK",    "ABC",  "i i ki",     "W",   "I[A] := I[B] / KI[C] (KI[C] != 0)")
_op("LMODK",    "ABC",  "i i ki",     "W",   "I[A] := I[B] % KI[C] (KI[C] != 0)")
# double: IEEE 754 binary64
_op("DADD",     "ABC",  "d d d",      "W",   "D[A] := D[B] + D[C]")
_op("DSUB",     "ABC",  "d d d",      "W",   "D[A] := D[B] - D[C]")
_op("DMUL",     "ABC",  "d d d",      "W",   "D[A] := D[B] * D[C]")
_op("DADDK",    "ABC",  "d d kd",     "W",   "D[A] := D[B] + KD[C]")
_op("DSUBK",    "ABC",  "d d kd",     "W",   "D[A] := D[B] - KD[C]")
_op("DMULK",    "ABC",  "d d kd",     "W",   "D[A] := D[B] * KD[C]")
_op("DNEG",     "ABC",  "d d _",      "W",   "D[A] := -D[B]")
_op("DDIV",     "ABC",  "d d d",      "WJ",  "if D[C] == 0 goto J else D[A] := D[B] / D[C]")
_op("DMOD",     "ABC",  "d d d",      "WJ",  "if D[C] == 0 goto J else D[A] := fmod(D[B], D[C])")
_op("DDIVK",    "ABC",  "d d kd",     "W",   "D[A] := D[B] / KD[C] (KD[C] != 0)")
# conversions
_op("I2D",      "ABC",  "d i _",      "W",   "D[A] := double(I[B])")
_op("L2I",      "ABC",  "i i _",      "W",   "I[A] := i32(I[B])")
_op("D2I",      "ABC",  "i d _",      "W",   "I[A] := sat32(trunc(D[B])) (NaN -> 0)")
_op("D2L",      "ABC",  "i d _",      "W",   "I[A] := sat64(trunc(D[B])) (NaN -> 0)")
# booleans and comparisons (results 0/1 in the int bank)
_op("NOT",      "ABC",  "i i _",      "W",   "I[A] := I[B] == 0")
_op("ILT",      "ABC",  "i i i",      "W",   "I[A] := I[B] < I[C]")
_op("ILE",      "ABC",  "i i i",      "W",   "I[A] := I[B] <= I[C]")
_op("IEQ",      "ABC",  "i i i",      "W",   "I[A] := I[B] == I[C]")
_op("INE",      "ABC",  "i i i",      "W",   "I[A] := I[B] != I[C]")
_op("DLT",      "ABC",  "i d d",      "W",   "I[A] := D[B] < D[C]")
_op("DLE",      "ABC",  "i d d",      "W",   "I[A] := D[B] <= D[C]")
_op("DEQ",      "ABC",  "i d d",      "W",   "I[A] := near(D[B], D[C])")
_op("DNE",      "ABC",  "i d d",      "W",   "I[A] := !near(D[B], D[C])")
# fused compare-and-branch (the next word is a JMP holding the target)
_op("ILTJ",     "ABC",  "i i k",      "J",   "if (I[A] < I[B]) == k goto J")
_op("ILEJ",     "ABC",  "i i k",      "J",   "if (I[A] <= I[B]) == k goto J")
_op("IEQJ",     "ABC",  "i i k",      "J",   "if (I[A] == I[B]) == k goto J")
_op("ILTJK",    "ABC",  "i ki k",     "J",   "if (I[A] < KI[B]) == k goto J")
_op("ILEJK",    "ABC",  "i ki k",     "J",   "if (I[A] <= KI[B]) == k goto J")
_op("IGTJK",    "ABC",  "i ki k",     "J",   "if (I[A] > KI[B]) == k goto J")
_op("IGEJK",    "ABC",  "i ki k",     "J",   "if (I[A] >= KI[B]) == k goto J")
_op("IEQJK",    "ABC",  "i ki k",     "J",   "if (I[A] == KI[B]) == k goto J")
_op("DLTJ",     "ABC",  "d d k",      "J",   "if (D[A] < D[B]) == k goto J")
_op("DLEJ",     "ABC",  "d d k",      "J",   "if (D[A] <= D[B]) == k goto J")
_op("DEQJ",     "ABC",  "d d k",      "J",   "if near(D[A], D[B]) == k goto J")
_op("IFORLT",   "ABC",  "i i sc",     "WJ",  "I[A] := i32(I[A] + sC); if I[A] < I[B] goto J")
_op("LFORLT",   "ABC",  "i i sc",     "WJ",  "I[A] := I[A] + sC; if I[A] < I[B] goto J")
_op("TESTJ",    "ABC",  "i _ k",      "J",   "if (I[A] != 0) == k goto J")
_op("NULLJ",    "ABC",  "o _ k",      "J",   "if (O[A] is empty) == k goto J")
# boxing between the typed banks and the object bank
_op("IBOX",     "ABC",  "o i _",      "W",   "O[A] := int(I[B])")
_op("BBOX",     "ABC",  "o i _",      "W",   "O[A] := bool(I[B])")
_op("DBOX",     "ABC",  "o d _",      "W",   "O[A] := float(D[B])")
_op("IUNBOX",   "ABC",  "i o _",      "WR",  "I[A] := O[B] (an int or bool; error if empty)")
_op("DUNBOX",   "ABC",  "d o _",      "WR",  "D[A] := O[B] (a double; error if empty)")
# strings and generic object values
_op("OEQ",      "ABC",  "i o o",      "W",   "I[A] := O[B] == O[C] (value equality)")
_op("SCAT",     "ABC",  "o o o",      "WR",  "O[A] := O[B] .. O[C]")
_op("SLEN",     "ABC",  "i o _",      "WR",  "I[A] := #O[B] (code points)")
_op("SLT",      "ABC",  "i o o",      "WR",  "I[A] := O[B] < O[C] (code point order)")
_op("SLE",      "ABC",  "i o o",      "WR",  "I[A] := O[B] <= O[C] (code point order)")
_op("ITOS",     "ABC",  "o i _",      "W",   "O[A] := decimal(I[B])")
_op("DTOS",     "ABC",  "o d _",      "W",   "O[A] := shortest_repr(D[B])")
_op("BTOS",     "ABC",  "o i _",      "W",   "O[A] := I[B] ? \"true\" : \"false\"")
# lists
_op("LNEW",     "ABC",  "o _ _",      "W",   "O[A] := []")
_op("LPUSH",    "ABC",  "o o _",      "R",   "append O[B] to O[A]")
_op("LLEN",     "ABC",  "i o _",      "WR",  "I[A] := #O[B]")
_op("LGET",     "ABC",  "o o i",      "WR",  "O[A] := O[B][I[C]] or empty when out of range")
_op("LSET",     "ABC",  "o i o",      "R",   "O[A][I[B]] := O[C] (error when out of range)")
# maps (insertion ordered)
_op("MNEW",     "ABC",  "o _ _",      "W",   "O[A] := {}")
_op("MPUT",     "ABC",  "o o o",      "R",   "O[A][O[B]] := O[C]")
_op("MGET",     "ABC",  "o o o",      "WR",  "O[A] := O[B][O[C]] or empty when absent")
_op("MHAS",     "ABC",  "i o o",      "WR",  "I[A] := O[C] in O[B]")
_op("MDEL",     "ABC",  "o o _",      "R",   "remove O[B] from O[A] (if present)")
_op("MLEN",     "ABC",  "i o _",      "WR",  "I[A] := #O[B]")
_op("MKEYS",    "ABC",  "o o _",      "WR",  "O[A] := list of O[B]'s keys in insertion order")
# records (fixed layouts, fields by slot index)
_op("RNEW",     "ABx",  "o rec",      "W",   "O[A] := new record of layout Bx (fields at defaults)")
_op("RGETI",    "ABC",  "i o fld",    "WR",  "I[A] := O[B].f[C]")
_op("RGETD",    "ABC",  "d o fld",    "WR",  "D[A] := O[B].f[C]")
_op("RGETO",    "ABC",  "o o fld",    "WR",  "O[A] := O[B].f[C]")
_op("RSETI",    "ABC",  "o fld i",    "R",   "O[A].f[B] := I[C]")
_op("RSETD",    "ABC",  "o fld d",    "R",   "O[A].f[B] := D[C]")
_op("RSETO",    "ABC",  "o fld o",    "R",   "O[A].f[B] := O[C]")
# document fields (the machine's root record), writes go to the undo log
_op("FGETI",    "ABx",  "i fld",      "WD",  "I[A] := doc.f[Bx]")
_op("FGETD",    "ABx",  "d fld",      "WD",  "D[A] := doc.f[Bx]")
_op("FGETO",    "ABx",  "o fld",      "WD",  "O[A] := doc.f[Bx]")
_op("FSETI",    "ABx",  "i fld",      "D",   "doc.f[Bx] := I[A] (logged)")
_op("FSETD",    "ABx",  "d fld",      "D",   "doc.f[Bx] := D[A] (logged)")
_op("FSETO",    "ABx",  "o fld",      "D",   "doc.f[Bx] := O[A] (logged)")
# logged writes into containers that may be document state: while a
# transaction is open each pushes its undo entry (spec/bytecode.md section 9)
# before writing; the plain forms above are for containers still being built
_op("RSETIL",   "ABC",  "o fld i",    "RD",  "O[A].f[B] := I[C] (logged)")
_op("RSETDL",   "ABC",  "o fld d",    "RD",  "O[A].f[B] := D[C] (logged)")
_op("RSETOL",   "ABC",  "o fld o",    "RD",  "O[A].f[B] := O[C] (logged)")
_op("LPUSHL",   "ABC",  "o o _",      "RD",  "append O[B] to O[A] (logged)")
_op("LSETL",    "ABC",  "o i o",      "RD",  "O[A][I[B]] := O[C] (error when out of range; logged)")
_op("MPUTL",    "ABC",  "o o o",      "RD",  "O[A][O[B]] := O[C] (logged)")
_op("MDELL",    "ABC",  "o o _",      "RD",  "remove O[B] from O[A] (if present; logged)")
# tables (vm/table.py has the "$table" record): the insert runs in the machine,
# logged once per table and savepoint (spec/bytecode.md section 9)
_op("TINSERT",  "ABC",  "i o o",      "WRD", "I[A] := insert(table O[B], detached row O[C]) (new id; logged)")
_op("TNEXT",    "ABC",  "o o i",      "WRJ", "O[A] := next row of table O[B] from position I[C] (I[C] advances); if none goto J")

BY_NAME: dict[str, OpInfo] = {o.name: o for o in OPS}
assert len(OPS) <= 1 << SIZE_OP, "opcode space exhausted"

# Opcodes whose constant operand is a divisor: the assembler rejects zero.
NONZERO_CONST = frozenset({"IDIVK", "IMODK", "LDIVK", "LMODK", "DDIVK"})


# --------------------------------------------------------- encoding helpers
def encode_abc(op: int, a: int, b: int, c: int) -> int:
    return op | (a << POS_A) | (b << POS_B) | (c << POS_C)


def encode_abx(op: int, a: int, bx: int) -> int:
    return op | (a << POS_A) | (bx << POS_BX)


def encode_asbx(op: int, a: int, sbx: int) -> int:
    return op | (a << POS_A) | ((sbx + OFFSET_SBX) << POS_BX)


def encode_sj(op: int, sj: int) -> int:
    return op | ((sj + OFFSET_SJ) << POS_SJ)


def decode(word: int) -> tuple[OpInfo | None, tuple[int, ...]]:
    """Split a word into its opcode row and its field values (signed where signed)."""
    code = word & 0xFF
    info = OPS[code] if code < len(OPS) else None
    if info is None:
        return None, ()
    a = (word >> POS_A) & MAX_A
    if info.fmt == "ABC":
        c = (word >> POS_C) & MAX_C
        if info.operands[2] == "sc":
            c -= OFFSET_SC
        return info, (a, (word >> POS_B) & MAX_B, c)
    if info.fmt == "ABx":
        return info, (a, (word >> POS_BX) & MAX_BX)
    if info.fmt == "AsBx":
        return info, (a, ((word >> POS_BX) & MAX_BX) - OFFSET_SBX)
    return info, (((word >> POS_SJ) & 0xFFFFFF) - OFFSET_SJ,)


def field_range(fmt: str, index: int, kind: str) -> tuple[int, int]:
    """Inclusive (low, high) of the value an operand of `kind` may take in that field."""
    if kind == "sj":
        return -OFFSET_SJ, (1 << SIZE_SJ) - 1 - OFFSET_SJ
    if kind == "sbx":
        return -OFFSET_SBX, MAX_BX - OFFSET_SBX
    if kind == "sc":
        return -OFFSET_SC, MAX_C - OFFSET_SC
    if kind == "k":
        return 0, 1
    if kind == "_":
        return 0, 0
    wide = fmt in ("ABx", "AsBx") and index == 1
    return 0, MAX_BX if wide else MAX_A


def bank_of(kind: str) -> str | None:
    """The register bank a register-kind operand names ('i', 'd', 'o'), else None."""
    return kind if kind in ("i", "d", "o") else None
