"""What the runtime host and a shard add to an input (group "shard"; issue 11
point 2): one input through `Shard.handle` (net/shard.py on runtime/host.py
RuntimeHost: load, apply, reply with its deltas encoded) next to the same input
straight into the runtime (`LivingDocument.send`), in the same run, in memory.

    .venv/bin/python -m pytest bench/bench_shard.py --benchmark-enable

100 counter documents (bench_runtime's COUNTER) with one viewer each, inputs
sent round-robin. extra_info: CPU µs per input, best and median round, and,
for the shard, its overhead over the runtime measured in the same process
(`over_runtime_us`). Results: bench/README.md, "Issue 11 point 2's check".
"""
from __future__ import annotations

import statistics
import time

import pytest

from advm.compiler.build import build_source
from advm.net.documents import MemoryBackend, Shelf
from advm.net.shard import Shard
from advm.runtime.living import LivingDocument
from advm.views.viewers import Viewers

T0 = 1_767_225_600_000
ROUNDS = 5
DOCS = 100
INPUTS = 20_000  # per round, across the documents

COUNTER = """
@static { create { return true; } }
@connected { return true; }
public int n;
public long total;
message Add { int k; }
channel add(principal who, Add a) {
  n++;
  total += a.k;
}
"""

_runtime_us: list[float] = []  # the runtime's best round, for the shard's comparison


def cpu_us(run) -> list[float]:
    """CPU µs per input of each round of `run()` (which sends INPUTS inputs)."""
    rounds = []
    for _ in range(ROUNDS):
        t = time.process_time()
        run()
        rounds.append((time.process_time() - t) / INPUTS * 1e6)
    return rounds


def record(benchmark, rounds: list[float], **more) -> None:
    benchmark.extra_info.update({"cpu_us_per_input_best": round(min(rounds), 2),
                                 "cpu_us_per_input_median": round(statistics.median(rounds), 2),
                                 "documents": DOCS, **more})


@pytest.mark.benchmark(group="shard")
def test_runtime_alone(benchmark):
    """The baseline: LivingDocument.send, each document with one viewer."""
    module = build_source(COUNTER, "counter.adb")
    docs = []
    for i in range(DOCS):
        d = LivingDocument(module, key=f"d{i}", viewers=Viewers)
        d.create("ann@", None, T0)
        d.connect("ann@", T0)
        docs.append(d)
    clock = [T0]

    def run():
        for i in range(INPUTS):
            clock[0] += 1
            frames = docs[i % DOCS].send("ann@", "add", {"k": i}, clock[0])
        assert frames and "delta" in frames[0]

    rounds = benchmark.pedantic(lambda: cpu_us(run), rounds=1, iterations=1)
    _runtime_us[:] = [min(rounds)]
    record(benchmark, rounds)


@pytest.mark.benchmark(group="shard")
def test_shard_on_the_host(benchmark):
    """The same inputs as requests of a shard on the memory backend."""
    module = build_source(COUNTER, "counter.adb")
    shard = Shard(module, MemoryBackend(module, Shelf()))
    for i in range(DOCS):
        assert "error" not in shard.handle("create", f"d{i}", {"who": "ann@"}, T0).result()
        assert "error" not in shard.handle("connect", f"d{i}", {"who": "ann@"}, T0).result()
    clock = [T0]

    def run():
        for i in range(INPUTS):
            clock[0] += 1
            got = shard.handle("send", f"d{i % DOCS}", {"who": "ann@", "channel": "add",
                                                         "message": {"k": i}}, clock[0]).result()
        assert got["deltas"]

    rounds = benchmark.pedantic(lambda: cpu_us(run), rounds=1, iterations=1)
    more = {"over_runtime_us": round(min(rounds) - _runtime_us[0], 2)} if _runtime_us else {}
    record(benchmark, rounds, **more)
