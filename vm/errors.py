"""Errors raised by the bytecode tool chain and the machine.

Every runtime error names the source position of the instruction that failed
(`doc.adb:3:7`), taken from the function's per-instruction position table, so a
person reading it can go straight to the line in the document.
"""
from __future__ import annotations

import re


class AssemblyError(ValueError):
    """A symbolic program cannot be encoded (operand out of range, unknown label...)."""


class VerifyError(ValueError):
    """Encoded code breaks a rule the machine relies on (checked before it runs)."""


class ModuleFormatError(ValueError):
    """A module file is not an advm module, is truncated, corrupt or of another version."""


class VMError(RuntimeError):
    """A runtime error inside the machine, with the source position that caused it."""

    def __init__(self, message: str, filename: str = "<unknown>", line: int = 0,
                 col: int = 0, function: str = "", pc: int = -1):
        self.message = message
        self.filename = filename
        self.line = line
        self.col = col
        self.function = function
        self.pc = pc
        super().__init__(str(self))

    @property
    def position(self) -> str:
        return f"{self.filename}:{self.line}:{self.col}"

    def __str__(self) -> str:
        where = f" (in {self.function}, pc {self.pc})" if self.function else ""
        return f"{self.position}: {self.message}{where}"

    def __reduce__(self):
        return (type(self), (self.message, self.filename, self.line, self.col,
                             self.function, self.pc))


# ---------------------------------------------------------------- what a client may read
#
# A run-time error's message is written for the document's developer and can
# quote what the document holds: a library function's exception text repeats
# its argument (a private date, a string), an index error names an index and
# a length. A client gets a fixed text per kind of fault instead, and a
# position without the server's directories (spec/protocol.md 8.7); the whole
# message is the server's, for its log. Messages that are fixed already pass
# as they are; a message with values in it is known by its fixed part; any
# other message is "a run-time error", so a new fault text is safe until it
# is listed here.

_FIXED = frozenset({
    "read of an empty maybe", "the record is not a row of this table",
    "the row is already in a table", "assertion failed", "out of memory",
    "instruction budget exhausted", "the transaction aborted",
})

# (pattern matched against the whole message, the text a client gets)
_KNOWN = [
    (re.compile(r"host function ([A-Za-z_][\w.<>]*)[/(]\S* (?:failed|returned)\b.*", re.S),
     "host function {0} failed"),
    (re.compile(r"list index -?\d+ out of range \(length \d+\)"), "list index out of range"),
    (re.compile(r"stack overflow: .*", re.S), "stack overflow: too many nested calls"),
    # texts the compiler wrote into the code (FAIL): names from the document's source
    (re.compile(r"(state #\w+ is already being invoked)"), "{0}"),
    (re.compile(r"([\w.#@$<>]+ ended without returning a value)"), "{0}"),
    (re.compile(r"internal error: .*", re.S), "internal error"),
    (re.compile(r"(string|list|map|table) too long: \d+ \w+, past this document's bound of \d+ "
                r"\(@static (\w+)\)"), "{0} too long: past this document's size bound ({1})"),
]
GENERIC = "a run-time error"
_DIRS = re.compile(r"[\\/]")


def public_message(message: str) -> str:
    """The text of a run-time error that a client may read."""
    if message in _FIXED:
        return message
    for pattern, text in _KNOWN:
        m = pattern.fullmatch(message)
        if m is not None:
            return text.format(*m.groups())
    return GENERIC


def public_position(position: str) -> str:
    """`file:line:col` with the file's directories left out: where in the
    document, not where the server keeps it."""
    path, sep, rest = position.rpartition(":")
    path, sep2, line = path.rpartition(":")
    if not sep or not sep2:
        return position
    name = _DIRS.split(path)[-1]
    return f"{name}:{line}:{rest}"


class SizeBoundError(ValueError):
    """A library function's result would pass the document's size bound
    (spec/bytecode.md 4); the machine reports it as a run-time error."""


class VMAbort(VMError):
    """The program executed `abort`: the transaction layer rolls back, nothing is wrong."""


class VMBudgetExhausted(VMError):
    """The transaction ran out of instruction budget: the runtime aborts it (rolls back)."""


class SnapshotError(ValueError):
    """Snapshot bytes that cannot be restored (corrupt, other version, other module)."""
