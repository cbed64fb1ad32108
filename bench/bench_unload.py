"""Memory of documents that load and unload (issue 23, group "unload").

    .venv/bin/python bench/bench_unload.py [ROUNDS]
    .venv/bin/python -m pytest bench/bench_unload.py --benchmark-enable -s

One router with WORKERS worker processes on a relaxed LMDB store, DOCS
documents of ROWS rows each (a 6,000-row table and a view of its last 50
rows). A round opens a stream on every document, ends it, and waits until
every document has unloaded (`idle_unload_s` IDLE_S). Reported: the workers'
resident memory (VmRSS, summed) with every document created and unloaded,
and after each round; the goal (issue 23): after 10 rounds, within 10% of
one round's.
"""
from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time

import pytest

from advm.compiler.build import build_source
from advm.net.router import Router
from advm.store import open_store

WORKERS = 2
DOCS = 60
ROWS = 6000
ROUNDS = 10
IDLE_S = 0.2

SOURCE = """
@static {
  create {
    return true;
  }
}

record Line {
  public int id;
  public string text;
  public int likes;
}

message Fill {
  int n;
}

table<Line> _lines;
public formula recent = iterate _lines order by id desc limit 50;

@connected {
  return true;
}

channel fill(Fill f) {
  for (int i = 0; i < f.n; i++) {
    _lines <- {text: "line " + i, likes: i};
  }
}
"""


class Sink:
    def deltas(self, items, outstanding):
        pass

    def reset(self, data, seq, outstanding):
        pass

    def notify(self, error):
        pass

    def ended(self, code, message):
        pass


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def _rounds(rounds: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(os.path.join(tmp, "store"), durability="relaxed")
        router = Router(build_source(SOURCE, "lines.adb"), store=store, workers=WORKERS,
                    idle_unload_s=IDLE_S)
        await router.start()
        try:
            keys = [f"d{i}" for i in range(DOCS)]

            async def make(key):
                await router.create(key, "alice@", None)
                await router.send(key, "alice@", "fill", {"n": ROWS})

            await asyncio.gather(*(make(k) for k in keys))

            async def unloaded():
                while router.loaded():
                    await asyncio.sleep(0.05)

            def workers_kb() -> int:
                return sum(rss_kb(r.pid) for r in router.runners)

            await unloaded()
            created = workers_kb()
            after = []
            for _ in range(rounds):
                t = time.perf_counter()
                viewers = [Sink() for _ in keys]
                await asyncio.gather(*(router.connect(k, "alice@", v) for k, v in zip(keys, viewers)))
                for v in viewers:
                    router.disconnect(v)
                await unloaded()
                after.append((workers_kb(), round(time.perf_counter() - t, 2)))
        finally:
            await router.close()
            store.close()
    first = after[0][0]
    return {"docs": DOCS, "rows": ROWS, "workers": WORKERS,
            "created_mb": round(created / 1024, 1),
            "rounds_mb": [round(kb / 1024, 1) for kb, _ in after],
            "round_s": [s for _, s in after],
            "growth_after_first_pct": round((after[-1][0] - first) / first * 100, 1)}


def rounds(n: int = ROUNDS) -> dict:
    return asyncio.run(_rounds(n))


@pytest.mark.benchmark(group="unload")
def test_workers_memory_over_load_unload_rounds(benchmark):
    result = {}
    benchmark.pedantic(lambda: result.update(rounds()), rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    print(json.dumps(result))


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else ROUNDS
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f}")
    print(json.dumps(rounds(n)))
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
