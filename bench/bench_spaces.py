"""Spaces (issue 25, group "spaces"): a quiet space beside a runaway one, and
many small spaces against one big one.

    /work/venv/bin/python bench/bench_spaces.py isolation [RUNS]
    /work/venv/bin/python bench/bench_spaces.py density [RUNS]
    /work/venv/bin/python -m pytest bench/bench_spaces.py --benchmark-enable -s

**isolation.** Two spaces of one Spaces (net/spaces.py), in memory, each with
its own router and one worker process. The quiet space's document gets one
message every PACE_S for WINDOW_S (open loop: sent on schedule, so a stall
counts every message it held up), each timed from the router's send to its
reply. Three windows per run: the quiet space alone (the baseline); beside a
runaway space that keeps RUNAWAY_INFLIGHT heavy messages (a loop of BURN
iterations, tens of milliseconds each) in flight on its documents for the
whole window; and the same with the runaway space limited to `cpu =
RUNAWAY_CPU` seconds a second, past which its inputs are refused
`space_throttled`. Reported: the quiet space's p50, p99 and worst latency,
and how many of the runaway's messages ran or were refused.

**density.** SPACES spaces of PER_SPACE documents each (one thread runner
per space, workers=0, in memory) against one space of SPACES x PER_SPACE
documents, same program, built the same way, each alone in a fresh child
process: the process's resident memory once every document exists and is
loaded (over the same process before any router), and MESSAGES messages sent
to documents picked at random with CONCURRENCY in flight, each timed. The
goal: many spaces within 10% of one space on both.
"""
from __future__ import annotations

import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import time

import pytest

from advm.compiler.build import build_source
from advm.net.router import Router, RouterError
from advm.net.spaces import SpaceLimits, Spaces

PACE_S = 0.01
WINDOW_S = 4.0
RUNAWAY_INFLIGHT = 4
RUNAWAY_DOCS = 16
RUNAWAY_CPU = 0.25
BURN = 150_000
RUNS = 3

SPACES = 100
PER_SPACE = 10
MESSAGES = 3000
CONCURRENCY = 8
SHARED = os.environ.get("ADVM_BENCH_THREADS") != "own"  # one thread for all spaces (advm run --workers 0)

SOURCE = """
@static {
  create {
    return true;
  }
}

message Go {
  int k;
}

public int n;

channel burn(Go g) {
  for (int i = 0; i < g.k; i++) {
    n++;
  }
}

channel bump(Go g) {
  n += g.k;
}
"""


def percentile(samples, q):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _spaces(per_space: dict, workers: int, shared: bool = False):
    module = build_source(SOURCE, "spaces.adb")

    def make_router(name, mod, limits):
        router = Router(mod, workers=workers)
        if workers == 0 and shared:
            spaces.share_thread(router)
        return router

    spaces = Spaces(make_router, per_space=per_space)
    return spaces, module


async def _window(runaway: bool, limited: bool) -> dict:
    per = {"runaway": SpaceLimits(cpu=RUNAWAY_CPU)} if limited else {}
    spaces, module = _spaces(per, workers=1)
    spaces.add("quiet", module)
    if runaway:
        spaces.add("runaway", module)
    await spaces.start()
    quiet = spaces.router("quiet")
    try:
        await quiet.create("calm", "alice@", None)
        if runaway:
            wild = spaces.router("runaway")
            for i in range(RUNAWAY_DOCS):
                await wild.create(f"w{i}", "alice@", None)
        latencies: list[float] = []
        codes: dict[str, int] = {}
        stop = asyncio.Event()

        async def one():
            t = time.perf_counter()
            await quiet.send("calm", "alice@", "bump", {"k": 1})
            latencies.append(time.perf_counter() - t)

        async def calm():
            start = time.perf_counter()
            sent = []
            while time.perf_counter() - start < WINDOW_S:
                sent.append(asyncio.ensure_future(one()))
                await asyncio.sleep(max(0.0, start + len(sent) * PACE_S - time.perf_counter()))
            await asyncio.gather(*sent)
            stop.set()

        async def storm(lane: int):
            i = lane
            while not stop.is_set():
                try:
                    await wild.send(f"w{i % RUNAWAY_DOCS}", "alice@", "burn", {"k": BURN})
                    codes["ok"] = codes.get("ok", 0) + 1
                except RouterError as e:
                    codes[e.code] = codes.get(e.code, 0) + 1
                    if e.code == "space_throttled":
                        await asyncio.sleep(0.01)  # a client backing off
                i += RUNAWAY_INFLIGHT

        await asyncio.gather(calm(), *(storm(k) for k in range(RUNAWAY_INFLIGHT if runaway else 0)))
    finally:
        await spaces.close()
    out = {"samples": len(latencies),
           "p50_ms": round(percentile(latencies, 0.5) * 1000, 2),
           "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
           "max_ms": round(max(latencies) * 1000, 2)}
    if runaway:
        out["runaway"] = codes
    return out


def isolation(n: int = RUNS) -> dict:
    rows = {"alone": [], "runaway": [], "runaway_limited": []}
    for _ in range(n):
        rows["alone"].append(asyncio.run(_window(False, False)))
        rows["runaway"].append(asyncio.run(_window(True, False)))
        rows["runaway_limited"].append(asyncio.run(_window(True, True)))

    def summary(rs):
        out = {f: {"min": min(r[f] for r in rs), "median": statistics.median(r[f] for r in rs)}
               for f in ("p50_ms", "p99_ms", "max_ms")}
        if "runaway" in rs[-1]:
            out["runaway_codes"] = rs[-1]["runaway"]
        return out

    return {k: summary(v) for k, v in rows.items()} | {"runs": n}


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def _density(many: bool) -> dict:
    import tracemalloc

    sys.setswitchinterval(0.001)  # as `advm run` sets it (advm/commands/serve.py)
    spaces, module = _spaces({}, workers=0, shared=SHARED)
    before = _rss()
    tracemalloc.start()
    names = [f"s{i:03d}" for i in range(SPACES)] if many else ["one"]
    per = PER_SPACE if many else SPACES * PER_SPACE
    for name in names:
        spaces.add(name, module)
    await spaces.start()
    try:
        docs = []
        for name in names:
            r = spaces.router(name)
            for i in range(per):
                await r.create(f"d{i}", "alice@", None)
                docs.append((r, f"d{i}"))
        await asyncio.gather(*(r.send(k, "alice@", "bump", {"k": 1}) for r, k in docs))
        held = _rss() - before
        heap = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        rng = random.Random(7)
        picks = [docs[rng.randrange(len(docs))] for _ in range(MESSAGES)]
        latencies: list[float] = []

        async def lane(k: int):
            for r, key in picks[k::CONCURRENCY]:
                t = time.perf_counter()
                await r.send(key, "alice@", "bump", {"k": 1})
                latencies.append(time.perf_counter() - t)

        t0, c0 = time.perf_counter(), time.process_time()
        await asyncio.gather(*(lane(k) for k in range(CONCURRENCY)))
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    finally:
        await spaces.close()
    return {"spaces": len(names), "documents": len(docs), "rss_mb": round(held / 1e6, 1),
            "python_heap_mb": round(heap / 1e6, 2),
            "p50_ms": round(percentile(latencies, 0.5) * 1000, 3),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 3),
            "cpu_us_per_message": round(cpu / MESSAGES * 1e6, 1),
            "messages_per_s": round(MESSAGES / wall)}


def density_once(many: bool) -> dict:
    """One measurement in a fresh process, so that neither layout inherits the other's heap."""
    done = subprocess.run([sys.executable, __file__, "_density", "many" if many else "one"],
                          capture_output=True, text=True, check=True, timeout=600)
    return json.loads(done.stdout.strip().splitlines()[-1])


def density(n: int = RUNS) -> dict:
    rows = {"one": [], "many": []}
    for _ in range(n):
        rows["one"].append(density_once(False))
        rows["many"].append(density_once(True))
    med = {k: {f: statistics.median(r[f] for r in v) for f in
               ("rss_mb", "python_heap_mb", "p50_ms", "p99_ms", "cpu_us_per_message")} for k, v in rows.items()}
    ratio = {f: round(med["many"][f] / med["one"][f], 3) for f in med["one"]}
    return {"median": med, "many_over_one": ratio, "runs": rows, "n": n}


@pytest.mark.benchmark(group="spaces")
def test_quiet_space_beside_a_runaway_space(benchmark):
    result = {}
    benchmark.pedantic(lambda: result.update(isolation()), rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    print(json.dumps(result))


@pytest.mark.benchmark(group="spaces")
def test_hundred_spaces_against_one(benchmark):
    result = {}
    benchmark.pedantic(lambda: result.update(density()), rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    print(json.dumps(result))


def main() -> None:
    what = sys.argv[1] if len(sys.argv) > 1 else "isolation"
    if what == "_density":
        print(json.dumps(asyncio.run(_density(sys.argv[2] == "many"))))
        return
    n = int(sys.argv[2]) if len(sys.argv) > 2 else RUNS
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f}")
    print(json.dumps(isolation(n) if what == "isolation" else density(n)))
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
