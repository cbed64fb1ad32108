"""A worker past its memory budget (issue 23 point 2; spec/runtime.md 7.1,
spec/protocol.md 8.6 and 8.8): its idle documents unload, least recently used
first; with none idle a load is refused with `memory_full`, and accepted once
documents are idle again; nothing acknowledged is lost."""
from __future__ import annotations

import asyncio

import pytest

from advm.net.router import Router, RouterError
from advm.runtime.memory import BASE_BYTES, MEASURE_EVERY, PER_SNAPSHOT_BYTE, estimate
from advm.store import open_store
from server_kit import LINES, Recorder, module, run


ROWS = 200


async def filled(router: Router, key: str) -> None:
    await router.create(key, "alice@", None)
    await router.send(key, "alice@", "fill", {"n": ROWS})


async def until(cond, what: str) -> None:
    for _ in range(2000):
        if cond():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"never happened: {what}")


def first_view(viewer: Recorder) -> dict:
    """The whole view a sink was first given (a reset, or its first delta)."""
    call = viewer.calls[0]
    return call[1] if call[0] == "reset" else call[1][0][0]


def test_the_estimate_grows_with_the_snapshot():
    assert estimate(0) == BASE_BYTES
    assert estimate(1000) == BASE_BYTES + 1000 * PER_SNAPSHOT_BYTE
    assert MEASURE_EVERY > 1


@pytest.mark.parametrize("workers", [0, 1])
def test_a_worker_past_its_budget_unloads_lru_then_refuses_then_recovers(tmp_path, workers):
    async def scenario(kit):
        store = open_store(tmp_path / "store", durability="relaxed")
        # Nothing unloads for idleness in this test: only the budget unloads.
        router = Router(module(LINES), store=store, workers=workers, idle_unload_s=3600)
        await router.start()
        try:
            await filled(router, "a")
            one = router.slots["a"].bytes  # measured after the fill (the 1st request after create)
            assert one > estimate(0) + ROWS * 10
            runner = router.slots["a"].runner
            # Room for three such documents, not four.
            router.memory_budget = int(3.5 * one)
            for key in ("b", "c"):
                await filled(router, key)
            assert router.loaded() == ["a", "b", "c"] and router.stats["budget_unloads"] == 0
            # `b` is used again: `a` is now the least recently used.
            await router.send("b", "alice@", "fill", {"n": 0})
            await filled(router, "d")
            # d's fill measured it: past the budget, the least recently used idle document went.
            await until(lambda: "a" not in router.loaded(), "a unloaded")
            assert router.loaded() == ["b", "c", "d"]
            assert router.stats["budget_unloads"] == 1
            assert router.held(runner) <= router.memory_budget

            # Every loaded document watched: none is idle, so a load is refused.
            viewers = {}
            for key in ("b", "c", "d"):
                viewers[key] = Recorder()
                await router.connect(key, "alice@", viewers[key])
            router.memory_budget = int(2.5 * one)  # now past it, with nothing to unload
            with pytest.raises(RouterError) as refused:
                await router.send("a", "alice@", "fill", {"n": 1})
            assert refused.value.code == "memory_full"
            assert "retry" in refused.value.message
            with pytest.raises(RouterError) as again:
                await router.connect("a", "alice@", Recorder())
            assert again.value.code == "memory_full"
            assert router.stats["memory_refusals"] == 2
            assert "a" not in router.slots  # a refused load leaves nothing behind
            assert router.loaded() == ["b", "c", "d"]
            # Inputs to loaded documents go on.
            await router.send("c", "alice@", "fill", {"n": 1})

            # The viewers of b and c leave: b, the least recently used idle
            # document once measured again, unloads at once (c was just used).
            router.disconnect(viewers["b"])
            router.disconnect(viewers["c"])
            await until(lambda: "b" not in router.loaded(), "b unloaded")
            assert router.loaded() == ["c", "d"] and router.stats["budget_unloads"] == 2
            # Now `a` may load (it was refused before), and once measured
            # pushes the worker past its budget again: c, idle, goes; a stays.
            await router.send("a", "alice@", "fill", {"n": 1})
            await until(lambda: "c" not in router.loaded(), "c unloaded")
            assert router.loaded() == ["a", "d"] and router.stats["budget_unloads"] == 3
            assert router.held(runner) <= router.memory_budget
        finally:
            await router.close()
        # Nothing acknowledged was lost: every document, reloaded, holds its rows.
        router = Router(module(LINES), store=store, workers=0, idle_unload_s=3600, memory_budget=None)
        await router.start()
        try:
            totals = {}
            for key in ("a", "b", "c", "d"):
                viewer = Recorder()
                await router.connect(key, "alice@", viewer)
                totals[key] = first_view(viewer)["total"]
                router.disconnect(viewer)
            assert totals == {"a": ROWS + 1, "b": ROWS, "c": ROWS + 1, "d": ROWS}
        finally:
            await router.close()
            store.close()

    run(scenario, deadline=60)


def test_a_timer_refused_for_memory_wakes_later(tmp_path):
    """A sleeping document's timer that comes due while the worker is past its
    budget with nothing idle is not lost: its wake is tried again."""
    async def scenario(kit):
        router = Router(module(LINES), workers=0, idle_unload_s=3600)
        await router.start()
        try:
            await filled(router, "a")
            viewer = Recorder()
            await router.connect("a", "alice@", viewer)
            router.memory_budget = 1  # past it; `a` is watched, so not idle
            router.slots.pop("zzz", None)
            now = router.clock()
            router._set_due("zzz", now - 1)
            router.poke()
            await until(lambda: router.stats["memory_refusals"] >= 1, "the wake refused")
            due = router.next_wake()
            assert due is not None and due[1] == "zzz" and due[0] > now
        finally:
            await router.close()

    run(scenario, deadline=30)
