"""A document-to-document send round trip against a client-to-document send
on the same server (issue 19, group "docsend"; spec/language.md 4.32).

    /work/venv/bin/python bench/bench_docsend.py [RUNS]
    /work/venv/bin/python -m pytest bench/bench_docsend.py --benchmark-enable -s

One server (net/server.py over net/spaces.py, as `advm run ping.adb caller.adb`
builds it, documents in memory, --workers 0) serves two spaces: `ping`, whose
document `target` counts the messages on its channel `ping`, and `caller`,
whose document runs a #loop state that sends `ping.ping("target", {n})`,
awaits its result (the receiver committed it and the reply is logged in the
caller), counts it and transitions to itself, TRIPS times. The baseline, in
the same run: a Python client (advm.net.client over a WebSocket to the same
server) sends TRIPS messages to `ping`'s channel one after the other, each
awaited until the server acknowledged it (committed). Reported: microseconds
per round trip of each (best of RUNS, wall clock), the ratio, and the
process's CPU time per round trip (the client's share included in the
baseline: it runs in the same process). The goal: doc-to-doc within 2x of
client-to-doc.
"""
from __future__ import annotations

import asyncio
import json
import sys
import time

import pytest

from advm.compiler import compile_source
from advm.compiler.build import build_module
from advm.net.client import Client
from advm.net.router import Router
from advm.net.server import Limits, Server
from advm.net.spaces import Spaces
from advm.net.tokens import Tokens

TRIPS = 400
RUNS = 3

PING = """
@static { create { return true; } }
@connected { return true; }
message Ping { int n; }
public int count;
channel ping(Ping p) {
  count++;
}
"""

CALLER = """
@static { create { return true; } }
space ping;
message Go { int n; }
public int sent;
public int goal;
channel go(Go g) {
  goal = g.n;
  transition #loop;
}
#loop {
  let r = ping.ping("target", {n: sent});
  if (r.await() as reply) {
    sent++;
  }
  if (sent < goal) {
    transition #loop;
  }
}
"""


def modules():
    def resolve(name):
        return (PING, "ping.adb") if name == "ping" else None

    out = {}
    for name, text in (("ping", PING), ("caller", CALLER)):
        comp = compile_source(text, f"{name}.adb", resolve)
        assert comp.ok, comp.render()
        out[name] = build_module(comp)
    return out


async def once(mods) -> dict:
    tokens = Tokens(b"advm-bench-key-0123456789abcdef!!")

    def make_router(name, mod, lim):
        router = Router(mod, workers=0)
        spaces.share_thread(router)
        return router

    spaces = Spaces(make_router)
    for name, mod in mods.items():
        spaces.add(name, mod)
    # No rate limit on the one client (200 requests/s a socket by default): it would pace the baseline.
    srv = Server(None, tokens, port=0, spaces=spaces, limits=Limits(rate=1e9, burst=1e9))
    await srv.start()
    try:
        ping, caller = spaces.router("ping"), spaces.router("caller")
        await ping.create("target", "bench@x", None)
        await ping.create("direct", "bench@x", None)
        await caller.create("c", "bench@x", None)
        # Client to document: one message after the other, each acknowledged.
        async with await Client.connect(srv.ws_url, tokens.mint("bench", ttl=600), space="ping") as c:
            view = await c.open("direct")
            for n in range(20):  # warm-up
                await view.send("ping", {"n": n})
            cpu, t0 = time.process_time(), time.perf_counter()
            for n in range(TRIPS):
                await view.send("ping", {"n": n})
            client_us = (time.perf_counter() - t0) / TRIPS * 1e6
            client_cpu = (time.process_time() - cpu) / TRIPS * 1e6
        # Document to document: the caller's loop, each send awaited as its result.
        stats = caller.services.stats
        before = stats["delivered"]
        cpu, t0 = time.process_time(), time.perf_counter()
        await caller.send("c", "bench@x", "go", {"n": TRIPS})
        while stats["delivered"] - before < TRIPS:
            await asyncio.sleep(0.001)
        doc_us = (time.perf_counter() - t0) / TRIPS * 1e6
        doc_cpu = (time.process_time() - cpu) / TRIPS * 1e6
        return {"client_us": client_us, "doc_us": doc_us, "client_cpu_us": client_cpu, "doc_cpu_us": doc_cpu}
    finally:
        await srv.close()


def measure(runs: int = RUNS) -> dict:
    mods = modules()
    got = [asyncio.run(once(mods)) for _ in range(runs)]
    best = {k: min(g[k] for g in got) for k in got[0]}
    return {"client_to_doc_us": round(best["client_us"], 1), "doc_to_doc_us": round(best["doc_us"], 1),
            "ratio": round(best["doc_us"] / best["client_us"], 2),
            "client_cpu_us": round(best["client_cpu_us"], 1), "doc_cpu_us": round(best["doc_cpu_us"], 1),
            "cpu_ratio": round(best["doc_cpu_us"] / best["client_cpu_us"], 2), "trips": TRIPS, "runs": runs}


@pytest.mark.benchmark(group="docsend")
def test_doc_to_doc_round_trip_against_client_to_doc(benchmark):
    result = {}

    def run():
        result.update(measure())

    benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    print(json.dumps(result))


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else RUNS)))
