"""Errors raised by the bytecode tool chain and the machine.

Every runtime error names the source position of the instruction that failed
(`doc.adb:3:7`), taken from the function's per-instruction position table, so a
person reading it can go straight to the line in the document.
"""
from __future__ import annotations


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


class VMAbort(VMError):
    """The program executed `abort`: the transaction layer rolls back, nothing is wrong."""


class VMBudgetExhausted(VMError):
    """The transaction ran out of instruction budget: the runtime aborts it (rolls back)."""


class SnapshotError(ValueError):
    """Snapshot bytes that cannot be restored (corrupt, other version, other module)."""
