"""Runaway handlers (issue 10.9, group "runaway"): how long another document
on the same worker waits while a burst of runaway messages arrives.

    .venv/bin/python bench/bench_runaway.py [RUNS]
    .venv/bin/python -m pytest bench/bench_runaway.py --benchmark-enable -s

One router, one worker process, in memory (net/router.py); two documents placed
on that worker, both with the documents' default instruction budget. The
calm document gets one message every PACE_S for WINDOW_S (open loop: sent on
schedule whether or not the previous one was answered, so a stall counts
every message it held up), each timed from the router's send to its reply; the
baseline is that alone. In the burst run the
wild document is sent BURST messages whose handler loops for ever, all at
once, BURST_AT_S into the window: each runs until its budget is exhausted,
or is refused `throttled` once the document has run away RUNAWAY_LIMIT times
(net/shard.py). Reported per run: the calm document's p50, p99 and worst
latency, and how long the burst took to be answered. The goal: the calm
document's p99 under 100 ms during the burst.
"""
from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time

import pytest

from advm.compiler.build import build_source
from advm.net.router import Router, RouterError

PACE_S = 0.01
WINDOW_S = 4.0
BURST = 20
BURST_AT_S = 0.5
RUNS = 5

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

channel spin(Go g) {
  while (true) {
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


async def _window(burst: bool) -> dict:
    router = Router(build_source(SOURCE, "runaway.adb"), workers=1)
    await router.start()
    try:
        for key in ("calm", "wild"):
            await router.create(key, "alice@", None)
        latencies: list[float] = []
        codes: list[str] = []
        burst_s = None

        async def one():
            t = time.perf_counter()
            await router.send("calm", "alice@", "bump", {"k": 1})
            latencies.append(time.perf_counter() - t)

        async def calm():
            # Open loop: a message every PACE_S whether or not the last was
            # answered, so a stall counts every message it held up.
            start = time.perf_counter()
            sent = []
            while time.perf_counter() - start < WINDOW_S:
                sent.append(asyncio.ensure_future(one()))
                await asyncio.sleep(max(0.0, start + len(sent) * PACE_S - time.perf_counter()))
            await asyncio.gather(*sent)

        async def wild():
            nonlocal burst_s
            await asyncio.sleep(BURST_AT_S)
            t = time.perf_counter()
            outcomes = await asyncio.gather(
                *(router.send("wild", "alice@", "spin", {"k": 0}) for _ in range(BURST)),
                return_exceptions=True)
            burst_s = time.perf_counter() - t
            codes.extend(o.code if isinstance(o, RouterError) else "ok" for o in outcomes)

        await asyncio.gather(calm(), *([wild()] if burst else []))
    finally:
        await router.close()
    out = {"samples": len(latencies),
           "p50_ms": round(percentile(latencies, 0.5) * 1000, 2),
           "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
           "max_ms": round(max(latencies) * 1000, 2)}
    if burst:
        out["burst_s"] = round(burst_s, 3)
        out["burst_codes"] = {c: codes.count(c) for c in sorted(set(codes))}
    return out


def window(burst: bool) -> dict:
    return asyncio.run(_window(burst))


def runs(n: int = RUNS) -> dict:
    """Baseline and burst windows taken in turn, `n` of each."""
    base, hit = [], []
    for _ in range(n):
        base.append(window(False))
        hit.append(window(True))

    def summary(rows, field):
        values = [r[field] for r in rows]
        return {"min": min(values), "median": statistics.median(values)}

    return {"baseline": {f: summary(base, f) for f in ("p50_ms", "p99_ms", "max_ms")},
            "burst": {f: summary(hit, f) for f in ("p50_ms", "p99_ms", "max_ms", "burst_s")},
            "burst_codes": hit[-1]["burst_codes"], "runs": n}


@pytest.mark.benchmark(group="runaway")
def test_calm_document_during_a_runaway_burst(benchmark):
    result = {}
    benchmark.pedantic(lambda: result.update(runs()), rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    print(json.dumps(result))


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else RUNS
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f}")
    for _ in range(n):
        print("baseline", json.dumps(window(False)))
        print("burst   ", json.dumps(window(True)))
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
