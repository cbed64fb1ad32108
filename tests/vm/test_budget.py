"""The instruction budget belongs to the transaction (spec/bytecode.md section 4)."""
from __future__ import annotations

import pytest

from advm.vm._machine import DEFAULT_BUDGET, Machine, Suspended
from advm.vm.assembler import ModuleAsm
from advm.vm.errors import VMBudgetExhausted, VMError


def module():
    m = ModuleAsm("budget.adb")
    m.record("Doc", ["n"], "i", [0])
    m.document = 0
    # count(n): doc.n += 1 per iteration, n iterations (4 words per back edge)
    f = m.function("count", "i", "")
    top, done = f.label(), f.label()
    f.emit("ILOADI", 1, 0)
    f.emit("ILEJ", 0, 1, 1, done)
    f.mark(top)
    f.emit("FGETI", 2, 0)
    f.emit("IADDI", 2, 2, 1)
    f.emit("FSETI", 2, 0)
    f.emit("IFORLT", 1, 0, 1, top)
    f.mark(done)
    f.emit("RET")
    # spin(): forever
    g = m.function("spin", "", "")
    again = g.label()
    g.mark(again)
    g.emit("IADDI", 0, 0, 1)
    g.pos = (7, 3)
    g.emit("JMP", again)
    # ask(): suspends, then counts the answer's worth
    h = m.function("ask", "", "")
    h.emit("SUSPEND", 0, 0)
    h.emit("IUNBOX", 0, 0)
    h.emit("CALL", 0, "count")
    h.emit("RET")
    return m.assemble()


COUNT_ENTRY = 9  # words of count(): what entering it charges


def test_calls_in_a_transaction_share_its_budget():
    m = Machine(module())
    m.begin(budget=1000)
    m.call("count", 100)
    used = 1000 - m.remaining
    assert used == COUNT_ENTRY + 4 * 99
    m.call("count", 100)
    assert 1000 - m.remaining == 2 * used
    with pytest.raises(VMBudgetExhausted, match="instruction budget exhausted"):
        m.call("count", 100)  # a third would need 1221 units in all
    m.rollback()
    assert m.doc.f == [0]  # the two calls that fitted are undone too


def test_outside_a_transaction_each_call_starts_afresh():
    m = Machine(module(), budget=500)
    m.call("count", 100)
    m.call("count", 100)
    assert 500 - m.remaining == COUNT_ENTRY + 4 * 99
    with pytest.raises(VMBudgetExhausted):
        m.call("count", 200)


def test_begin_gives_a_fresh_budget_and_resume_draws_on_it():
    m = Machine(module(), budget=2000)
    m.begin()
    assert isinstance(m.call("ask"), Suspended)
    m.commit()
    spent = 2000 - m.remaining
    m.begin()  # the resumed code runs in a new transaction with a full budget
    assert m.remaining == 2000
    m.resume(100)
    assert 2000 - m.remaining == COUNT_ENTRY + 4 * 99
    assert spent > 0
    m.commit()
    m.begin(budget=50)
    assert isinstance(m.call("ask"), Suspended)
    with pytest.raises(VMBudgetExhausted):
        m.resume(100)
    m.rollback()
    assert m.doc.f == [100]


def test_exhaustion_is_a_vm_error_at_the_back_edge_and_the_machine_stays_usable():
    m = Machine(module())
    m.begin(budget=10_000)
    with pytest.raises(VMError) as info:
        m.call("spin")
    assert type(info.value) is VMBudgetExhausted
    assert (info.value.line, info.value.col) == (7, 3)
    assert m.depth == 0
    m.rollback()
    m.begin()
    m.call("count", 3)
    m.commit()
    assert m.doc.f == [3]


def test_default_budget_stops_a_runaway_loop():
    m = Machine(module())
    assert m.budget_limit == DEFAULT_BUDGET
    m.begin()
    with pytest.raises(VMBudgetExhausted):
        m.call("spin")
    m.rollback()


def benchmark_module():
    """The two benchmarks as code generation emits them: the loop keeps the
    maybe<long> that `%` yields (IBOX, NULLJ, IUNBOX: 12 words per pass) and
    fib is the plain recursion."""
    m = ModuleAsm("bench.adb")
    f = m.function("fib", "i", "i")
    rec = f.label()
    f.emit("ILTJK", 0, 2, 0, rec)
    f.emit("IRET", 0)
    f.mark(rec)
    f.emit("IADDI", 1, 0, -1)
    f.emit("CALL", 1, "fib")
    f.emit("IADDI", 2, 0, -2)
    f.emit("CALL", 2, "fib")
    f.emit("IADD", 3, 1, 2)
    f.emit("IRET", 3)
    g = m.function("loop", "", "l")
    body, test, empty, add = g.label(), g.label(), g.label(), g.label()
    g.emit("ILOADI", 0, 0)
    g.emit("ILOADI", 1, 0)
    g.emit("JMP", test)
    g.mark(body)
    g.emit("LMUL", 2, 1, 1)
    g.emit("LMODK", 3, 2, 7)
    g.emit("IBOX", 0, 3)
    g.emit("NULLJ", 0, 1, empty)
    g.emit("IUNBOX", 2, 0)
    g.emit("JMP", add)
    g.mark(empty)
    g.emit("ILOADI", 2, 0)
    g.mark(add)
    g.emit("LADD", 0, 0, 2)
    g.emit("LADDI", 1, 1, 1)
    g.mark(test)
    g.emit("ILTJK", 1, 10_000_000, 1, body)
    g.emit("IRET", 0)
    return m.assemble()


def test_default_budget_runs_both_benchmarks_in_one_transaction():
    m = Machine(benchmark_module())
    m.begin()
    assert m.call("loop") == 19_999_999
    assert m.call("fib", 30) == 832040
    used = DEFAULT_BUDGET - m.remaining
    m.commit()
    assert used < DEFAULT_BUDGET / 1.5, used  # with room to spare
