"""The disassembler's listing, pinned."""
from __future__ import annotations

from test_machine import fib_module

from advm.vm.disasm import disasm

FIB_SOURCE = """function fib(int n) -> int {
  if (n < 2) { return n; }
  return fib(n - 1) + fib(n - 2);
}
"""

EXPECTED = """\
module fib.adb  (1 functions)

function fib(i) -> i    regs i3 d0 o0    9 words
    ;    2 |   if (n < 2) { return n; }
      0     2:3   IGEJK     i0 2 k=1 -> 3            ; if (I[A] >= KI[B]) == k goto J
      2     2:3   IRET      i0                       ; return I[A]
    ;    3 |   return fib(n - 1) + fib(n - 2);
      3     3:10  IADDI     i1 i0 -1                 ; I[A] := i32(I[B] + sC)
      4     3:10  CALL      @1 fib                   ; R[A] := F[Bx](R[A]...) (new window at A in every bank)
      5     3:10  IADDI     i2 i0 -2                 ; I[A] := i32(I[B] + sC)
      6     3:10  CALL      @2 fib                   ; R[A] := F[Bx](R[A]...) (new window at A in every bank)
      7     3:10  IADD      i1 i1 i2                 ; I[A] := i32(I[B] + I[C])
      8     3:10  IRET      i1                       ; return I[A]
"""


def test_fib_listing_with_source():
    assert disasm(fib_module(), FIB_SOURCE) == EXPECTED


def test_listing_without_source_has_no_source_lines():
    text = disasm(fib_module())
    assert ";    2 |" not in text
    assert "IGEJK     i0 2 k=1 -> 3" in text
