"""Documents in worker processes: a document running a long handler stops
neither the server's event loop nor the documents on other workers."""
from __future__ import annotations

import asyncio
import os
import signal
import time

from advm.net.router import Router
from advm.store import open_store
from server_kit import Recorder, module, run

SPINNER = """
@static {
  create {
    return true;
  }
  instruction_budget = 2000000000;
}

message Bump {
  int by;
}

message Spin {
  int k;
}

public int n;
public long spun;

@connected {
  return true;
}

channel bump(Bump b) {
  n += b.by;
}

channel spin(Spin s) {
  long acc = 0;
  for (int i = 0; i < s.k; i++) {
    acc += i;
  }
  spun = acc;
}
"""

LONG_LOOP = 80_000_000  # about two seconds of VM time on this machine


def test_two_documents_progress_while_a_third_runs_a_long_loop():
    async def scenario(kit):
        router = Router(module(SPINNER), workers=3)
        await router.start()
        try:
            for key in ("a", "b", "busy"):
                await router.create(key, "alice@", None)
            workers = {router.placement(k).pid for k in ("a", "b", "busy")}
            assert len(workers) == 3, "each document on its own worker"
            watchers = {k: Recorder() for k in ("a", "b")}
            for k, v in watchers.items():
                await router.connect(k, "alice@", v)

            gaps = []

            async def ticker():
                last = time.perf_counter()
                while True:
                    await asyncio.sleep(0.005)
                    now = time.perf_counter()
                    gaps.append(now - last)
                    last = now

            tick = asyncio.create_task(ticker())
            started = time.perf_counter()
            spin = router.send("busy", "alice@", "spin", {"k": LONG_LOOP})
            await asyncio.sleep(0.1)  # the loop is running on its worker now
            latencies = []
            for i in range(25):
                for key in ("a", "b"):
                    t0 = time.perf_counter()
                    reply = await router.send(key, "alice@", "bump", {"by": 1})
                    latencies.append(time.perf_counter() - t0)
                    assert reply == {"seq": i + 2}
            progressed = time.perf_counter() - started
            assert not spin.done(), (
                f"the long loop finished after {progressed:.2f}s, before the other documents "
                f"were shown to progress; raise LONG_LOOP")
            for k, v in watchers.items():
                assert v.calls[-1][:2] == ("deltas", [({"n": 25}, 26)]), k
            assert await spin == {}
            spun_for = time.perf_counter() - started
            tick.cancel()
            # A stall behind the loop would last about as long as the loop; on a
            # busy machine ordinary delays stay far below that.
            assert max(latencies) < spun_for / 4, (max(latencies), spun_for)
            assert max(gaps) < spun_for / 4, f"the event loop stalled {max(gaps):.3f}s"
            assert spun_for > progressed
        finally:
            await router.close()

    run(scenario, deadline=60)


def test_a_killed_worker_is_replaced_and_its_documents_come_back(tmp_path):
    async def scenario(kit):
        store = open_store(tmp_path / "store")
        router = Router(module(SPINNER), store=store, workers=1)
        await router.start()
        try:
            await router.create("a", "alice@", None)
            viewer = Recorder()
            await router.connect("a", "alice@", viewer)
            await router.send("a", "alice@", "bump", {"by": 5})
            dead = router.runners[0]
            os.kill(dead.pid, signal.SIGKILL)
            for _ in range(200):
                if router.runners[0] is not dead and not router.runners[0].dead:
                    break
                await asyncio.sleep(0.05)
            assert router.runners[0] is not dead
            assert viewer.calls[-1][:2] == ("ended", "worker_failed")
            # What was durable comes back on the new worker.
            again = Recorder()
            await router.connect("a", "alice@", again)
            assert again.calls[0][1][0][0]["n"] == 5
            assert await router.send("a", "alice@", "bump", {"by": 1}) == {"seq": 2}
        finally:
            await router.close()
            store.close()

    run(scenario, deadline=60)
