"""The living-document runtime's cost per input (runtime/living.py -> runtime/engine.py
-> the machine), in memory, with nobody connected.

    .venv/bin/python -m pytest bench/bench_runtime.py --benchmark-enable

Group `runtime`, two workloads on 100 documents, inputs sent round-robin:

- `counter`: bench_durable's COUNTER (`n++; total += a.k;`), the input of
  issue 5's durable throughput target, which stacks on this rate.
- `chat-say`: examples/chat.adb's `say` (trim the text, insert a line, look up
  the author's name, bump two counters) with no viewers connected.

Each is measured next to, in the same run:

- `cpython`: plain Python doing the same document updates on dicts (what the
  handler does, with no runtime around it: no message checking, no
  transaction, no undo log);
- `machine`: the machine alone (begin, call the channel's handler with a
  prebuilt message, commit): the floor under the runtime's own Python.

extra_info: inputs per CPU second (process time: the CPU cost of an input,
which is what the targets are about, and steadier than the wall clock on a
shared machine) and per wall-clock second, best and median round, and CPU
microseconds per input. Targets (H2 brief, session 2): counter >= 80,000 inputs/s (<= 12 us),
and a comparable cut for chat-say. Results: bench/README.md, "The runtime per
input".
"""
from __future__ import annotations

import statistics
import time
from pathlib import Path

import pytest

from advm.compiler.build import build_source
from advm.runtime.living import LivingDocument
from advm.views.viewers import Viewers
from advm.vm._machine import Record

ROOT = Path(__file__).resolve().parent.parent
T0 = 1_767_225_600_000
ROUNDS = 3
DOCS = 100
INPUTS = 6000  # per round, across the documents

COUNTER = """
@static { create { return true; } }
public int n;
public long total;
message Add { int k; }
channel add(principal who, Add a) {
  n++;
  total += a.k;
}
"""

WORKLOADS = {
    "counter": (lambda: COUNTER, "add", lambda i: {"k": i}),
    "chat-say": (lambda: (ROOT / "examples" / "chat.adb").read_text(), "say",
                 lambda i: {"text": f"  hello {i % 7}  "}),
}


class Rates:
    """Inputs per CPU second and per wall-clock second of each round."""

    def __init__(self):
        self.cpu: list[float] = []
        self.wall: list[float] = []
        self._t = (0.0, 0.0)

    def start(self) -> None:
        self._t = (time.process_time(), time.perf_counter())

    def stop(self, inputs: int) -> None:
        cpu, wall = self._t
        self.cpu.append(inputs / (time.process_time() - cpu))
        self.wall.append(inputs / (time.perf_counter() - wall))


def record_rates(benchmark, rates: Rates, **more) -> None:
    best = max(rates.cpu)
    benchmark.extra_info.update({"inputs_per_cpu_second_best": round(best),
                                 "inputs_per_cpu_second_median": round(statistics.median(rates.cpu)),
                                 "cpu_us_per_input_best": round(1e6 / best, 2),
                                 "inputs_per_second_best": round(max(rates.wall)),
                                 "inputs_per_second_median": round(statistics.median(rates.wall)), **more})


def living_docs(name: str):
    text, channel, message = WORKLOADS[name]
    module = build_source(text(), f"{name}.adb")
    docs = []
    for i in range(DOCS):
        d = LivingDocument(module, key=f"{name}-{i}", viewers=Viewers)
        assert not [f for f in d.create("owner@", None, T0) if "error" in f]
        docs.append(d)
    return module, docs, channel, message


@pytest.mark.benchmark(group="runtime")
@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_living_document_inputs(benchmark, workload):
    """LivingDocument.send, the whole runtime path of one input."""
    _, docs, channel, message = living_docs(workload)
    messages = [message(i) for i in range(INPUTS)]
    rates = Rates()
    clock = [T0]

    def run():
        rates.start()
        for i in range(INPUTS):
            clock[0] += 1
            frames = docs[i % DOCS].send("ann@", channel, messages[i], clock[0])
        rates.stop(INPUTS)
        assert frames == []  # committed, and nobody to tell

    benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
    record_rates(benchmark, rates, documents=DOCS)


@pytest.mark.benchmark(group="runtime")
@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_machine_floor(benchmark, workload):
    """The machine alone: begin, the handler on a prebuilt message, commit.
    Everything else an input costs is the runtime's Python."""
    module, docs, channel, message = living_docs(workload)
    meta = module.meta
    handler = meta["channels"][channel]["fn"]
    fid = module.function_index(handler)
    layout = meta["messages"][meta["channels"][channel]["message"]]["layout"]
    slot = meta["messages"][meta["channels"][channel]["message"]]["fields"][0]["slot"]
    machines = [d.engine.machine for d in docs]
    values = [next(iter(message(i).values())) for i in range(INPUTS)]
    defaults = list(module.records[layout].defaults)
    rates = Rates()

    def run():
        rates.start()
        for i in range(INPUTS):
            m = machines[i % DOCS]
            msg = Record(layout, defaults[:])
            msg.f[slot] = values[i]
            m.begin()
            m.call(fid, msg)
            m.commit()
        rates.stop(INPUTS)

    benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
    record_rates(benchmark, rates, documents=DOCS)


def _counter_python():
    docs = [{"n": 0, "total": 0} for _ in range(DOCS)]

    def handle(doc, who, msg, now):
        doc["n"] += 1
        doc["total"] += msg["k"]
    return docs, handle


def _chat_python():
    docs = [{"members": {}, "lines": {}, "next_line": 1, "total_lines": 0} for _ in range(DOCS)]

    def handle(doc, who, msg, now):
        text = msg["text"].strip()
        if not text or len(text) > 500:
            return
        member = doc["members"].get(who)
        name = member["name"] if member else who.partition("@")[0]
        line_id = doc["next_line"]
        doc["next_line"] += 1
        doc["lines"][line_id] = {"id": line_id, "author": who, "author_name": name, "text": text,
                                 "when": now, "likes": 0}
        if member:
            member["lines_posted"] += 1
        doc["total_lines"] += 1
    return docs, handle


@pytest.mark.benchmark(group="runtime")
@pytest.mark.parametrize("workload", sorted(WORKLOADS))
def test_cpython_same_updates(benchmark, workload):
    """The same document updates as plain CPython on dicts: the cost of the
    work itself, with no runtime around it."""
    docs, handle = {"counter": _counter_python, "chat-say": _chat_python}[workload]()
    message = WORKLOADS[workload][2]
    messages = [message(i) for i in range(INPUTS)]
    rates = Rates()
    clock = [T0]

    def run():
        rates.start()
        for i in range(INPUTS):
            clock[0] += 1
            handle(docs[i % DOCS], "ann@", messages[i], clock[0])
        rates.stop(INPUTS)

    benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
    record_rates(benchmark, rates, documents=DOCS)
