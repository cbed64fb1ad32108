"""The cost of `@debug` (spec/language.md 6.12): a handler that writes one
@debug line, with nobody listening and with a subscriber, against the same
handler without the statement, in the same run.

    .venv/bin/python -m pytest bench/bench_debug.py --benchmark-enable

Group `debug`, LivingDocument.send on 100 documents, inputs round-robin, as
bench_runtime.py's `counter`:

- `plain`: `n++; total += a.k;`
- `debug-off`: the same with `@debug("add {0}: n={1} total={2}", a.k, n, total);`,
  nobody listening (Engine.listening False, as a server's shard leaves it
  while no `document/debug` stream is open): the arguments are evaluated
  (three register reads here) and the line is not made (one test of the
  hidden DEBUG slot);
- `debug-on`: the same with a listener: the arguments' texts and the format
  go to the host in one call, which makes the line and keeps it; it is taken
  after each input, as the shard takes it.

extra_info: inputs per CPU second (best, median) and CPU microseconds per
input; the three compared in bench/README.md ("@debug").
"""
from __future__ import annotations

import pytest

from advm.compiler.build import build_source
from advm.runtime.living import LivingDocument
from advm.views.viewers import Viewers
from bench_runtime import Rates, record_rates

T0 = 1_767_225_600_000
ROUNDS = 5
DOCS = 100
INPUTS = 6000

PLAIN = """
@static { create { return true; } }
public int n;
public long total;
message Add { int k; }
channel add(principal who, Add a) {
  n++;
  total += a.k;
}
"""
DEBUG = PLAIN.replace("  total += a.k;\n", '  total += a.k;\n  @debug("add {0}: n={1} total={2}", a.k, n, total);\n')
VARIANTS = {"plain": (PLAIN, False), "debug-off": (DEBUG, False), "debug-on": (DEBUG, True)}


@pytest.mark.benchmark(group="debug")
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_debug_cost(benchmark, variant):
    text, listening = VARIANTS[variant]
    module = build_source(text, f"{variant}.adb")
    docs = []
    for i in range(DOCS):
        d = LivingDocument(module, key=f"d{i}", viewers=Viewers)
        d.create("owner@", None, T0)
        d.engine.listening = listening
        d.engine.debug_lines = []
        docs.append(d)
    messages = [{"k": i} for i in range(INPUTS)]
    rates = Rates()
    clock = [T0]
    taken = [0]

    def run():
        rates.start()
        for i in range(INPUTS):
            clock[0] += 1
            d = docs[i % DOCS]
            d.send("ann@", "add", messages[i], clock[0])
            engine = d.engine
            if engine.debug_lines:  # what the shard does with an input's lines
                taken[0] += len(engine.debug_lines)
                engine.debug_lines = []
        rates.stop(INPUTS)

    benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
    # Lines were made exactly when someone listened.
    assert taken[0] == (ROUNDS * INPUTS if listening else 0)
    record_rates(benchmark, rates, documents=DOCS)
