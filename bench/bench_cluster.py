"""A cluster gateway's hop (group "cluster"; issue 18: p50 under 2 ms on loopback).

    python -m pytest bench/bench_cluster.py --benchmark-enable

One `advm run --memory --workers 0` server (a subprocess) serves a counter
document; the same client sends `bump` inputs one at a time (each waits for
its reply) alternately over a direct connection and through a gateway
(net/cluster.py `Gateway`, on a thread of its own with its own event loop,
as in its own process), in the same rounds. The gateway's directory is
fixed to that one host (`OneHost`: the Ray and PostgreSQL look-ups only run
when a stream opens, not per input, so they are not in this figure). The
added latency is the gateway's p50 minus the direct p50. Failover times are
measured by tests/net/test_cluster.py's kill rounds (README, bench/README.md).
"""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

from server_kit import COUNTER  # noqa: E402

from advm.net.client import Client  # noqa: E402
from advm.net.cluster import Directory, Gateway  # noqa: E402
from advm.net.tokens import Tokens  # noqa: E402

ROUNDS = 5
SENDS = 400


class OneHost(Directory):
    """Every document on one host (no Ray, no store)."""

    def __init__(self, ws_url: str):
        self.hosts = {"one": {"ws_url": ws_url, "documents": 0}}
        self.dead = {}
        self.placed = []

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def owner_of(self, space, key):
        return "one"


def percentile(samples, q):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    where = tmp_path_factory.mktemp("hop")
    doc = where / "counter.adb"
    doc.write_text(COUNTER)
    proc = subprocess.Popen([sys.executable, "-m", "advm", "run", str(doc), "--memory",
                             "--workers", "0", "--port", "0"], cwd=where, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)
    line = proc.stdout.readline()
    ws_url = line.split("WebSocket ")[1].strip().rstrip(")")
    loop = asyncio.new_event_loop()
    gateway = Gateway(OneHost(ws_url), port=0)
    started = threading.Event()

    def run():
        asyncio.set_event_loop(loop)
        loop.run_until_complete(gateway.start())
        started.set()
        loop.run_forever()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    started.wait(30)
    yield ws_url, gateway.ws_url, Tokens.from_store_dir(where / ".advm").mint("alice")
    asyncio.run_coroutine_threadsafe(gateway.close(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    t.join(30)
    loop.close()
    proc.terminate()
    proc.communicate(timeout=30)
    proc.stdout.close()


@pytest.mark.benchmark(group="cluster")
def test_gateway_hop_against_a_direct_connection(benchmark, served):
    direct_url, gateway_url, token = served
    direct, hop = [], []

    async def sends(url, key, out):
        async with await Client.connect(url, token) as c:
            await c.create(key)
            view = await c.open(key)
            for _ in range(20):  # warm
                await view.send("bump", {"by": 1})
            for _ in range(SENDS):
                t = time.perf_counter()
                await view.send("bump", {"by": 1})
                out.append(time.perf_counter() - t)

    rounds = iter(range(10_000))

    def run():
        r = next(rounds)
        asyncio.run(sends(direct_url, f"d{r}", direct))
        asyncio.run(sends(gateway_url, f"g{r}", hop))

    benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
    d50, h50 = percentile(direct, 0.5), percentile(hop, 0.5)
    benchmark.extra_info.update({
        "direct_p50_ms": round(d50 * 1e3, 3), "direct_p99_ms": round(percentile(direct, 0.99) * 1e3, 3),
        "gateway_p50_ms": round(h50 * 1e3, 3), "gateway_p99_ms": round(percentile(hop, 0.99) * 1e3, 3),
        "added_p50_ms": round((h50 - d50) * 1e3, 3), "goal_added_p50_ms": 2.0,
        "sends_each": len(direct), "load_average": os.getloadavg()[0],
    })
    print(benchmark.extra_info)
