"""Runaway handlers (issue 10.9): a document's default budget stops a runaway
loop after about half a second, and a document that keeps exhausting its
budget is throttled (spec/protocol.md 8.6) while other documents go on."""
from __future__ import annotations

import pytest

from advm.net.router import Router, RouterError
from advm.net.shard import RUNAWAY_LIMIT, RUNAWAY_WINDOW_MS, THROTTLE_MS
from advm.runtime.engine import DOCUMENT_BUDGET, Engine
from server_kit import Recorder, module, run

RUNAWAY = """
@static {
  create {
    return true;
  }
  instruction_budget = 200000;
}

message Go {
  int k;
}

public int n;

@connected {
  return true;
}

channel spin(Go g) {
  while (true) {
    n++;
  }
}

channel bump(Go g) {
  n += g.k;
}
"""

DEFAULT = RUNAWAY.replace("  instruction_budget = 200000;\n", "")


class Clock:
    def __init__(self):
        self.ms = 1_000_000

    def __call__(self) -> int:
        return self.ms


def test_a_document_without_a_budget_gets_the_documents_default():
    doc = Engine(module(DEFAULT), key="d")
    assert doc.machine.budget_limit == DOCUMENT_BUDGET == 64_000_000


def test_the_default_budget_stops_a_runaway_handler():
    async def scenario(kit):
        router = Router(module(DEFAULT), workers=0)
        await router.start()
        try:
            await router.create("d", "alice@", None)
            with pytest.raises(RouterError) as e:
                await router.send("d", "alice@", "spin", {"k": 0})
            assert e.value.code == "budget"
        finally:
            await router.close()

    run(scenario)


@pytest.mark.parametrize("workers", [0, 1])
def test_a_document_that_keeps_running_away_is_throttled(workers):
    async def scenario(kit):
        clock = Clock()
        router = Router(module(RUNAWAY), workers=workers, clock=clock)
        await router.start()
        try:
            for key in ("wild", "calm"):
                await router.create(key, "alice@", None)
            viewer = Recorder()
            await router.connect("wild", "alice@", viewer)
            for _ in range(RUNAWAY_LIMIT):
                with pytest.raises(RouterError) as e:
                    await router.send("wild", "alice@", "spin", {"k": 0})
                assert e.value.code == "budget"
                clock.ms += 1000
            # Throttled: no input of it runs, a runaway or not, nor a new stream.
            for channel in ("spin", "bump"):
                with pytest.raises(RouterError) as e:
                    await router.send("wild", "alice@", channel, {"k": 1})
                assert e.value.code == "throttled"
                assert "instruction budget" in e.value.message
            with pytest.raises(RouterError) as e:
                await router.connect("wild", "bob@", Recorder())
            assert e.value.code == "throttled"
            # Another document is not.
            assert await router.send("calm", "alice@", "bump", {"k": 1}) == {}
            # Once the throttle has passed, it runs again.
            clock.ms += THROTTLE_MS
            assert await router.send("wild", "alice@", "bump", {"k": 5}) == {"seq": 2}
        finally:
            await router.close()

    run(scenario, deadline=60)


def test_runaways_far_apart_do_not_throttle():
    async def scenario(kit):
        clock = Clock()
        router = Router(module(RUNAWAY), workers=0, clock=clock)
        await router.start()
        try:
            await router.create("d", "alice@", None)
            for _ in range(RUNAWAY_LIMIT + 1):
                with pytest.raises(RouterError) as e:
                    await router.send("d", "alice@", "spin", {"k": 0})
                assert e.value.code == "budget"
                clock.ms += RUNAWAY_WINDOW_MS
            assert await router.send("d", "alice@", "bump", {"k": 1}) == {}
        finally:
            await router.close()

    run(scenario)


def test_a_throttled_documents_queued_inputs_are_refused_without_running():
    """A burst queued behind the runaways is refused when its turn comes,
    instead of each running out its budget."""
    async def scenario(kit):
        import asyncio

        clock = Clock()
        router = Router(module(RUNAWAY), workers=1, clock=clock)
        await router.start()
        try:
            await router.create("d", "alice@", None)
            burst = [router.send("d", "alice@", "spin", {"k": 0}) for _ in range(20)]
            outcomes = await asyncio.gather(*burst, return_exceptions=True)
            codes = [o.code for o in outcomes]
            assert codes == ["budget"] * RUNAWAY_LIMIT + ["throttled"] * (20 - RUNAWAY_LIMIT)
        finally:
            await router.close()

    run(scenario)


def test_a_durable_document_that_keeps_running_away_is_throttled(tmp_path):
    async def scenario(kit):
        from advm.store import open_store

        clock = Clock()
        store = open_store(tmp_path / "store", durability="relaxed")
        router = Router(module(RUNAWAY), store=store, workers=1, clock=clock)
        await router.start()
        try:
            await router.create("d", "alice@", None)
            await router.send("d", "alice@", "bump", {"k": 1})
            codes = []
            for _ in range(RUNAWAY_LIMIT + 1):
                try:
                    await router.send("d", "alice@", "spin", {"k": 0})
                except RouterError as e:
                    codes.append(e.code)
            assert codes == ["budget"] * RUNAWAY_LIMIT + ["throttled"]
            clock.ms += THROTTLE_MS
            assert await router.send("d", "alice@", "bump", {"k": 1}) == {}
        finally:
            await router.close()
            store.close()

    run(scenario)
