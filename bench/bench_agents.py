"""One tool round inside a document against the raw HTTP round trip to the
model (issue 15, group "agents"; goal: under 1 ms added per round).

    .venv/bin/python bench/bench_agents.py [RUNS]
    .venv/bin/python -m pytest bench/bench_agents.py --benchmark-enable -s

A scripted Chat Completions server runs in a child process (asyncio HTTP/1.1
with keep-alive) and answers every request with a reply calling one tool; it
writes each request body it got to a file. Through a document: one in-memory
router (net/router.py, workers=0) with the server's `[models]`, one document
whose agent has max_tool_rounds = ROUNDS: one ask runs ROUNDS rounds (each: the
completion over HTTP, the reply applied as a logged input, the tool run as a
transaction, its result appended, the next request built). Raw: the same
request bodies, in order, POSTed by one httpx.AsyncClient as net/models.py
makes them. Both in the same run, best of RUNS; reported per round: wall time of
each, and the parent process's CPU time (the model runs in the child).
"""
from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import sys
import tempfile
import time

import httpx
import pytest

from advm.compiler.build import build_source
from advm.net.models import ModelConfig
from advm.net.router import Router
from advm.net.services import ServiceConfig

ROUNDS = 20
RUNS = 5

SOURCE = f"""
@static {{ create {{ return true; }} }}
message CountIn {{ string prefix; }}
message CountOut {{ int count; }}
message Say {{ string text; }}
record Item {{ public string name; }}
public table<Item> items;
agent Bench {{
  instructions = "Count.";
  model = "bench";
  max_tool_rounds = {ROUNDS};
  mutable int calls;
  @description("Count the items whose name starts with a prefix")
  mutating tool<CountIn, CountOut> count {{
    calls++;
    return {{count: (iterate items where name.startsWith(request.prefix)).size()}};
  }}
}}
public session<Bench> chat;
channel say(principal who, Say s) {{
  if (!chat.ask(who, s.text)) {{
    abort;
  }}
}}
"""

REPLY = json.dumps({"choices": [{"message": {"role": "assistant", "content": "", "tool_calls": [
    {"id": "c", "type": "function", "function": {"name": "count", "arguments": "{\"prefix\": \"a\"}"}}]}}],
    "usage": {"total_tokens": 10}}).encode()


def _serve(port_out, log_path) -> None:
    log = open(log_path, "ab")

    async def handle(reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                body = await reader.readexactly(length) if length else b"{}"
                log.write(body + b"\n")
                log.flush()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                             + str(len(REPLY)).encode() + b"\r\n\r\n" + REPLY)
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


def start_model(log_path: str):
    parent, child = multiprocessing.Pipe()
    proc = multiprocessing.Process(target=_serve, args=(child, log_path), daemon=True)
    proc.start()
    return proc, f"http://127.0.0.1:{parent.recv()}/v1"


async def document(module, url: str, key: str) -> tuple[float, float]:
    """(wall s, CPU s) of one ask of ROUNDS rounds."""
    config = ServiceConfig(models=ModelConfig(url, attempts=1))
    router = Router(module, services=config)
    await router.start()
    try:
        await router.create(key, "bench@x", None)
        before = router.services.stats["delivered"]
        t0, c0 = time.perf_counter(), time.process_time()
        await router.send(key, "bench@x", "say", {"text": "count"})
        while router.services.stats["delivered"] - before < ROUNDS:
            await asyncio.sleep(0.0005)
        return time.perf_counter() - t0, time.process_time() - c0
    finally:
        await router.close()


async def raw(url: str, bodies: list[bytes]) -> tuple[float, float]:
    async with httpx.AsyncClient(trust_env=False, follow_redirects=False) as client:
        t0, c0 = time.perf_counter(), time.process_time()
        for body in bodies:
            r = await client.post(f"{url}/chat/completions", content=body,
                                  headers={"Content-Type": "application/json"}, timeout=10)
            r.json()
        return time.perf_counter() - t0, time.process_time() - c0


def measure(runs: int = RUNS) -> dict:
    module = build_source(SOURCE, "bench.adb")
    fd, log_path = tempfile.mkstemp(suffix=".jsonl")
    os.close(fd)
    proc, url = start_model(log_path)
    try:
        best_doc = best_raw = (float("inf"), float("inf"))
        for run in range(runs):
            open(log_path, "wb").close()
            best_doc = min(best_doc, asyncio.run(document(module, url, f"d{run}")))
            time.sleep(0.05)
            with open(log_path, "rb") as f:
                bodies = f.read().splitlines()
            assert len(bodies) == ROUNDS, len(bodies)
            open(log_path, "wb").close()
            best_raw = min(best_raw, asyncio.run(raw(url, bodies)))
        per = 1000 / ROUNDS
        return {"rounds": ROUNDS, "raw_ms": round(best_raw[0] * per, 3), "document_ms": round(best_doc[0] * per, 3),
                "added_ms": round((best_doc[0] - best_raw[0]) * per, 3),
                "raw_cpu_ms": round(best_raw[1] * per, 3), "document_cpu_ms": round(best_doc[1] * per, 3),
                "added_cpu_ms": round((best_doc[1] - best_raw[1]) * per, 3), "load": os.getloadavg()[0]}
    finally:
        proc.terminate()
        proc.join()
        os.unlink(log_path)


@pytest.mark.benchmark(group="agents")
def test_tool_round_overhead(benchmark):
    out = benchmark.pedantic(measure, args=(3,), rounds=1, iterations=1)
    print(out)
    assert out["document_ms"] > 0 and out["raw_ms"] > 0


if __name__ == "__main__":
    print(measure(int(sys.argv[1]) if len(sys.argv) > 1 else RUNS))
