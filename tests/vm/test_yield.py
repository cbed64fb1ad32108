"""A machine that hands over the GIL while it runs (`yield_every`,
spec/bytecode.md 4) computes exactly what one that never does computes:
the same results, state, budget left and budget errors, and a document on
it the same log and snapshots."""
from __future__ import annotations

import sys
import threading

import cbor2
import pytest

from advm.vm import _machine
from advm.vm._machine import Machine, Suspended
from advm.vm.errors import VMBudgetExhausted
from advm.views.viewers import Viewers
from test_budget import benchmark_module, module

EVERY = [0, 1, 2, 7, 1000, 16_384]


def outcomes(every: int) -> list:
    """What a machine yielding every `every` units shows after each step."""
    m = Machine(module(), budget=5_000)
    m.yield_every = every
    seen = []
    m.begin()
    m.call("count", 100)
    seen.append((m.remaining, list(m.doc.f)))
    m.call("count", 50)
    seen.append((m.remaining, list(m.doc.f)))
    m.commit()
    m.begin(budget=10_000)
    with pytest.raises(VMBudgetExhausted) as e:
        m.call("spin")
    seen.append((str(e.value), e.value.line, e.value.col, e.value.pc, e.value.trace,
                 m.remaining, m.depth))
    m.rollback()
    m.begin(budget=2_000)
    assert isinstance(m.call("ask"), Suspended)
    m.resume(120)
    seen.append((m.remaining, list(m.doc.f)))
    m.commit()
    m.begin(budget=300)
    m.call("ask")
    with pytest.raises(VMBudgetExhausted) as e:
        m.resume(500)
    seen.append((str(e.value), e.value.pc, e.value.trace, m.remaining))
    m.rollback()
    seen.append(list(m.doc.f))
    b = Machine(benchmark_module(), budget=10_000_000)
    b.yield_every = every
    seen.append((b.call("fib", 15), b.remaining))
    return seen


@pytest.mark.parametrize("every", EVERY[1:])
def test_a_yielding_machine_computes_what_a_plain_one_does(every):
    assert outcomes(every) == outcomes(0)


def test_new_machines_take_the_process_default():
    previous = _machine.yield_by_default(4096)
    try:
        assert Machine(module()).yield_every == 4096
    finally:
        _machine.yield_by_default(previous)
    assert Machine(module()).yield_every == previous == 0


def test_another_thread_runs_while_a_yielding_machine_is_inside_a_loop():
    """Inside the dispatch loop `depth` is 1 and `remaining` still what call()
    left (>= 0): both change only when the loop leaves. The main thread sees
    that, runs a whole call on another machine, and sees it still."""
    spinner = Machine(module(), budget=400_000_000)
    spinner.yield_every = 16_384
    other = Machine(module())
    inside = lambda: spinner.depth > 0 and spinner.remaining >= 0  # noqa: E731
    errors = []

    def spin():
        try:
            spinner.call("spin")
        except VMBudgetExhausted as e:
            errors.append(e)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.001)
    try:
        t = threading.Thread(target=spin)
        t.start()
        while not inside() and t.is_alive():
            pass
        assert inside(), "the main thread never ran while the loop ran"
        other.begin()
        other.call("count", 1000)
        other.commit()
        assert inside(), "the loop ended before the other machine's call did"
        t.join()
    finally:
        sys.setswitchinterval(interval)
    assert other.doc.f == [1000]
    assert len(errors) == 1 and spinner.remaining < 0


SOURCE = """
@static {
  create {
    return true;
  }
  instruction_budget = 200000;
}

@connected {
  return true;
}

message Go {
  int k;
}

public int n;
public string trail;
public int draw;

channel spin(Go g) {
  while (true) {
    n++;
  }
}

channel bump(Go g) {
  n += g.k;
  trail = trail + g.k + ",";
  draw = Random.genBoundInt(1000);
}
"""

INPUTS = [
    {"op": "connect", "as": "alice@"},
    {"op": "send", "as": "alice@", "channel": "bump", "message": {"k": 3}},
    {"op": "send", "as": "alice@", "channel": "spin", "message": {"k": 0}},
    {"op": "send", "as": "alice@", "channel": "bump", "message": {"k": 4}},
    {"op": "send", "as": "alice@", "channel": "spin", "message": {"k": 0}},
    {"op": "send", "as": "alice@", "channel": "bump", "message": {"k": 5}},
]


def durable_session(path, every: int) -> tuple[list[bytes], list[bytes], list]:
    """The session on a durable document, its machine yielding every `every`
    units while another thread competes for the GIL: the log (each entry's
    envelope in CBOR), every snapshot and the frames."""
    from advm.compiler.build import build_source
    from advm.store import open_store
    from advm.durable.document import DurableDocument

    store = open_store(path, durability="relaxed")
    previous = _machine.yield_by_default(every)
    stop = threading.Event()
    rival = threading.Thread(target=lambda: [sum(range(100)) for _ in iter(stop.is_set, True)])
    interval = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    rival.start()
    frames = []
    try:
        mod = build_source(SOURCE, "yield.adb")
        doc, created = DurableDocument.create(store, "d", mod, "alice@", None, 1_000_000,
                                              seed="0123456789abcdef" * 4, viewers=Viewers)
        frames.append(created)
        for k, op in enumerate(INPUTS):
            frames.append(doc.submit(op, 1_000_000 + 1000 * (k + 1)).result())
        doc.close()
        log = [cbor2.dumps(e.envelope()) for e in store.log("d")]
        snaps = [store.snapshot("d", seq).data for seq in store.snapshot_seqs("d")]
    finally:
        stop.set()
        rival.join()
        sys.setswitchinterval(interval)
        _machine.yield_by_default(previous)
        store.close()
    return log, snaps, frames


def test_a_durable_session_logs_the_same_bytes_with_and_without_yielding(tmp_path):
    plain = durable_session(tmp_path / "plain", 0)
    yielding = durable_session(tmp_path / "yielding", 1)
    assert plain[0] and plain[1]  # entries and snapshots were written
    assert yielding == plain
    codes = [f["error"]["code"] for fs in plain[2] for f in fs if "error" in f]
    assert codes == ["budget", "budget"]  # the session did run away, twice


def test_a_yielding_machine_calls_the_pause_hook_on_its_own_thread():
    """pause_with(fn): each offer of the GIL calls fn on the thread running
    the transaction (a worker's lanes learn so that it is long); a machine
    that never yields never calls it; None puts the plain pause back."""
    calls = []
    assert _machine.pause_with(lambda: calls.append(threading.get_ident())) is None
    try:
        plain = Machine(module(), budget=200_000)
        plain.begin()
        plain.call("count", 10_000)
        plain.commit()
        assert calls == []
        m = Machine(module(), budget=200_000)
        m.yield_every = 1000
        m.begin()
        m.call("count", 10_000)  # 4 units a pass: about 40 offers
        m.commit()
        assert len(calls) >= 30 and set(calls) == {threading.get_ident()}
    finally:
        hook = _machine.pause_with(None)
    assert hook is not None and _machine.pause_with(None) is None
    seen = len(calls)
    m.begin()
    m.call("count", 10_000)
    m.commit()
    assert len(calls) == seen
