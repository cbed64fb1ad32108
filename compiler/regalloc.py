"""Register allocation for one function: three banks, lowest free register first.

Locals live in a register for their whole scope; temporaries are taken for the
value of one expression and given back as soon as it has been consumed. The
machine's calling convention (spec/bytecode.md) puts a callee's window at the
caller's register A *in every bank*, so a call must be placed above every live
register of every bank: `window()` claims that base and the argument slots.
"""
from __future__ import annotations

from typing import NamedTuple

from ..vm.opcodes import MAX_REGS

BANKS = ("i", "d", "o")


class Reg(NamedTuple):
    bank: str  # 'i' (int, long, bool, enum), 'd' (double, timespan) or 'o' (everything else)
    n: int
    temp: bool  # a temporary the consumer frees; locals and parameters are not

    def __str__(self) -> str:
        return f"{self.bank}{self.n}"


class RegisterError(Exception):
    """A function needs more registers than a bank holds."""


class Registers:
    def __init__(self) -> None:
        self.used: dict[str, set[int]] = {b: set() for b in BANKS}

    def _take(self, bank: str, n: int) -> None:
        if n >= MAX_REGS:
            raise RegisterError(f"the function needs more than {MAX_REGS} {bank}-registers; "
                                f"split it into smaller functions")
        self.used[bank].add(n)

    def _lowest(self, bank: str) -> int:
        used = self.used[bank]
        n = 0
        while n in used:
            n += 1
        return n

    def temp(self, bank: str) -> Reg:
        n = self._lowest(bank)
        self._take(bank, n)
        return Reg(bank, n, True)

    def local(self, bank: str) -> Reg:
        n = self._lowest(bank)
        self._take(bank, n)
        return Reg(bank, n, False)

    def param(self, bank: str, n: int) -> Reg:
        self._take(bank, n)
        return Reg(bank, n, False)

    def free(self, reg: Reg | None) -> None:
        """Give back a temporary (locals and parameters are kept)."""
        if reg is not None and reg.temp:
            self.used[reg.bank].discard(reg.n)

    def drop_local(self, reg: Reg) -> None:
        self.used[reg.bank].discard(reg.n)

    def top(self) -> int:
        """One past the highest live register over all banks."""
        return max((max(u) + 1 if u else 0) for u in self.used.values())

    def window(self, counts: tuple[int, int, int], result_bank: str | None) -> tuple[int, list[Reg]]:
        """Claim a call window above everything live: returns its base and the
        argument registers per bank (in bank order, then position). The result
        register (base in the result's bank) is claimed too, so the caller can
        keep it as the call's value."""
        base = self.top()
        regs = []
        for bank, count in zip(BANKS, counts):
            for k in range(count):
                self._take(bank, base + k)
                regs.append(Reg(bank, base + k, True))
        if result_bank is not None and base not in self.used[result_bank]:
            self._take(result_bank, base)
        return base, regs
