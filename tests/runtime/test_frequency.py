"""`@static frequency` (spec/language.md 4.23): a document asks to be woken at
least every N ms, with nobody connected; a sleeping durable document is woken
through the store's timer index, also by a router started afresh; a
frequency below the lower bound does not compile."""
from __future__ import annotations

import asyncio

from advm.compiler.check_decl import MIN_FREQUENCY_MS
from advm.compiler import compile_source
from advm.net.router import Router
from advm.runtime.host import MemoryBackend, RuntimeHost
from advm.store import open_store
from advm.views.viewers import Viewers
from server_kit import Recorder, module, run

T0 = 1_800_000_000_000
EVERY = 60_000

TICKER = """
@static {
  create {
    return true;
  }
  frequency = %d;
}

public int n;
"""


def _kinds(store, key):
    return [e.kind for e in store.log(key)]


async def _until(pred, what):
    for _ in range(500):
        if pred():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def test_frequency_wakes_a_sleeping_durable_document(tmp_path):
    async def scenario(kit):
        mod = module(TICKER % EVERY)
        now = [T0]
        store = open_store(tmp_path / "store")
        try:
            router = Router(mod, store=store, idle_unload_s=0.05, clock=lambda: now[0])
            await router.start()
            try:
                await router.create("s", "alice@", None)
                assert store.timer("s") == T0 + EVERY  # in the store's timer index
                await _until(lambda: not router.loaded() and router.stats["unloads"] == 1, "the unload")
                assert router.stats["wakes"] == 0
                now[0] = T0 + EVERY
                router.poke()
                await _until(lambda: router.stats["wakes"] == 1 and router.stats["unloads"] == 2,
                             "the first wake, and sleep again")
                assert _kinds(store, "s") == ["create", "advance"]
                assert store.timer("s") == T0 + 2 * EVERY
            finally:
                await router.close()
            # A router started later finds the wake time in the store and wakes it.
            now[0] = T0 + 2 * EVERY + 5
            again = Router(mod, store=store, idle_unload_s=0.05, clock=lambda: now[0])
            await again.start()
            try:
                await _until(lambda: again.stats["wakes"] == 1 and _kinds(store, "s")[-1:] == ["advance"]
                             and len(_kinds(store, "s")) == 3, "the wake after the restart")
                assert store.timer("s") == T0 + 3 * EVERY + 5
            finally:
                await again.close()
        finally:
            store.close()

    run(scenario)


def test_time_passing_wakes_at_each_interval():
    mod = module(TICKER % EVERY)
    host = RuntimeHost(mod, MemoryBackend(mod, viewers=Viewers), clock=T0)
    doc, _ = host.create("s", "alice@", None)
    assert doc.next_due() == T0 + EVERY
    host.advance("s", T0 + 3 * EVERY + 1)
    assert doc.living.clock == T0 + 3 * EVERY + 1
    assert doc.next_due() == T0 + 4 * EVERY + 1


def test_frequency_below_the_bound_does_not_compile():
    ok = compile_source(TICKER % MIN_FREQUENCY_MS, "t.adb")
    assert ok.ok
    low = compile_source(TICKER % (MIN_FREQUENCY_MS - 1), "t.adb")
    assert [d.code for d in low.diagnostics if d.severity == "error"] == ["E0504"]


CLOCK = """
@static {
  create {
    return true;
  }
  frequency = %d;
}

@connected {
  return true;
}

public formula now = Time.now();
""" % EVERY


def test_a_viewer_sees_formulas_reading_the_time_change_at_each_wake():
    async def scenario(kit):
        now = [T0]
        router = Router(module(CLOCK), clock=lambda: now[0])
        await router.start()
        try:
            await router.create("c", "alice@", None)
            viewer = Recorder()
            await router.connect("c", "alice@", viewer)
            assert viewer.calls[0][1][0][0]["now"] == str(T0)
            now[0] = T0 + EVERY
            router.poke()
            await _until(lambda: len(viewer.calls) == 2, "the wake's delta")
            assert viewer.calls[1][1] == [({"now": str(T0 + EVERY)}, 2)]
            assert router.next_wake() == (T0 + 2 * EVERY, "c")
        finally:
            await router.close()

    run(scenario)
