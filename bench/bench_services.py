"""Service round trips per second through a document against the raw HTTP
client (issue 13 point 1, group "services").

    .venv/bin/python bench/bench_services.py [RUNS]
    .venv/bin/python -m pytest bench/bench_services.py --benchmark-enable -s

A local echo service runs in a child process (an asyncio HTTP/1.1 server
with keep-alive, so the client and the documents share no interpreter with
it). Raw: CONC loops on one httpx.AsyncClient, each POSTing TRIPS requests
one after the other, as net/services.py would (same headers, same JSON
body). Through documents: one in-memory router (net/router.py, workers=0), CONC
documents each running a #loop state that calls `echo.ping`, awaits the
result (logged as a result input), counts it and transitions to itself until
it made TRIPS calls. Both in the same run, best of RUNS; reported: round
trips per second of each and their ratio. The goal: the documents at >= 70%
of the raw client.
"""
from __future__ import annotations

import asyncio
import json
import multiprocessing
import sys
import time

import httpx
import pytest

from advm.compiler.build import build_source
from advm.net.router import Router
from advm.net.services import ServiceConfig

CONC = 8
TRIPS = 250
RUNS = 3

SOURCE = """
@static { create { return true; } }
service echo {
  message Ping { int n; }
  message Pong { int n; }
  method<Ping, Pong> ping idempotent;
}
message Go { int n; }
public int count = 0;
public int goal = 0;
channel go(Go g) {
  goal = g.n;
  transition #loop;
}
#loop {
  let r = echo.ping(@no_one, {n: count});
  if (r.await() as p) {
    count = p.n + 1;
  }
  if (count < goal) {
    transition #loop;
  }
}
"""


def _serve(port_out) -> None:
    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await reader.readexactly(length) if length else b"{}"
                out = body  # {"n": k} echoes as the Pong
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                             + str(len(out)).encode() + b"\r\n\r\n" + out)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def main():
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port_out.send(server.sockets[0].getsockname()[1])
        await server.serve_forever()

    asyncio.run(main())


def start_echo():
    parent, child = multiprocessing.Pipe()
    proc = multiprocessing.Process(target=_serve, args=(child,), daemon=True)
    proc.start()
    return proc, f"http://127.0.0.1:{parent.recv()}"


async def raw(url: str) -> float:
    # The client as net/services.py makes it (no proxies or .netrc from the environment).
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=CONC, max_keepalive_connections=CONC),
                                 trust_env=False, follow_redirects=False) as client:
        async def loop(i):
            for n in range(TRIPS):
                r = await client.post(f"{url}/ping", content=json.dumps({"n": n}).encode(),
                                      headers={"Content-Type": "application/json", "Idempotency-Key": f"{i}-{n}",
                                               "Advm-Attempt": "1", "Advm-Document": f"d{i}",
                                               "Advm-Principal": "?@?"}, timeout=10)
                r.json()
        t0 = time.perf_counter()
        await asyncio.gather(*(loop(i) for i in range(CONC)))
        return CONC * TRIPS / (time.perf_counter() - t0)


async def documents(module, url: str) -> float:
    config = ServiceConfig.from_dict({"services": {"echo": {"base_url": url}}, "limits": {"per_host": CONC}})
    router = Router(module, services=config)
    await router.start()
    try:
        for i in range(CONC):
            await router.create(f"d{i}", "bench@x", None)
        before = router.services.stats["delivered"]
        t0 = time.perf_counter()
        await asyncio.gather(*(router.send(f"d{i}", "bench@x", "go", {"n": TRIPS}) for i in range(CONC)))
        while router.services.stats["delivered"] - before < CONC * TRIPS:
            await asyncio.sleep(0.002)
        return CONC * TRIPS / (time.perf_counter() - t0)
    finally:
        await router.close()


def measure(runs: int = RUNS) -> dict:
    module = build_source(SOURCE, "echo.adb")
    proc, url = start_echo()
    try:
        best_raw = best_doc = 0.0
        for _ in range(runs):
            best_raw = max(best_raw, asyncio.run(raw(url)))
            best_doc = max(best_doc, asyncio.run(documents(module, url)))
        return {"raw_per_s": round(best_raw), "document_per_s": round(best_doc),
                "ratio": round(best_doc / best_raw, 3), "conc": CONC, "trips": TRIPS}
    finally:
        proc.terminate()
        proc.join()


@pytest.mark.benchmark(group="services")
def test_service_round_trips_through_documents(benchmark):
    result = {}

    def run():
        result.update(measure())

    benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    print(json.dumps(result))


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]) if len(sys.argv) > 1 else RUNS)))
