"""Table benchmark: insert 200,000 records into a table, then filter
`where score % 3 == 0` and sum, written in Adama, compiled and run on the VM as
one transaction, next to the same algorithm in CPython in the same run.

    .venv/bin/python -m pytest bench/bench_table.py --benchmark-enable

Group "table". Target from issue 3: advm at most 1.0x CPython's time.
Results: bench/README.md ("Tables").

Every round, advm's and CPython's alike, starts after a full collection
(`gc.collect()` in its untimed setup): a document whose rows refer to their
table is cyclic garbage once dropped, and without this the collection of an
earlier round's document lands in whichever round happens to trigger it.
"""
from __future__ import annotations

import gc

import pytest

from advm.compiler.build import build_source
from advm.runtime.engine import Engine

N = 200_000
# Rounds per variant, each after one untimed warmup round: the first round of
# whichever test runs first otherwise pays for the process's fresh memory.
ROUNDS = 7
RESULT = sum(i for i in range(N) if i % 3 == 0)

SOURCE = """
record Row {
  public int id;
  public int score;
}

table<Row> _rows;

procedure run(int n) -> long {
  for (int i = 0; i < n; i++) {
    _rows <- {score: i};
  }
  long total = 0;
  foreach (r in iterate _rows where score % 3 == 0) {
    total += r.score;
  }
  return total;
}

procedure run_aggregate(int n) -> long {
  for (int i = 0; i < n; i++) {
    _rows <- {score: i};
  }
  return (iterate _rows where score % 3 == 0).score.sum().getOrDefaultTo(0);
}
"""


@pytest.fixture(scope="module")
def module():
    return build_source(SOURCE, "bench_table.adb")


def fresh(module):
    # A new, empty document per round: the timed part is the transaction alone.
    gc.collect()
    doc = Engine(module, key="bench")
    doc.create("bench@local")
    return (doc,), {}


def collected(*args):
    gc.collect()
    return args, {}


def advm_run(doc):
    return doc.transaction("fn.run", N)


def py_dicts(n):
    rows = []
    for i in range(n):
        rows.append({"id": i + 1, "score": i})
    total = 0
    for r in rows:
        if r["score"] % 3 == 0:
            total += r["score"]
    return total


class PyRow:
    __slots__ = ("id", "score")

    def __init__(self, id, score):
        self.id = id
        self.score = score


def py_objects(n):
    rows = {}
    for i in range(n):
        rows[i + 1] = PyRow(i + 1, i)
    return sum(r.score for r in rows.values() if r.score % 3 == 0)


@pytest.mark.benchmark(group="table")
def test_table_advm(benchmark, module):
    got = benchmark.pedantic(advm_run, setup=lambda: fresh(module), rounds=ROUNDS, iterations=1, warmup_rounds=1)
    assert got == RESULT


@pytest.mark.benchmark(group="table")
def test_table_advm_aggregate(benchmark, module):
    run = lambda doc: doc.transaction("fn.run_aggregate", N)  # noqa: E731
    got = benchmark.pedantic(run, setup=lambda: fresh(module), rounds=ROUNDS, iterations=1, warmup_rounds=1)
    # `.sum()` of an int projection is a maybe<int>: it wraps like int arithmetic.
    wrapped = (RESULT + 2**31) % 2**32 - 2**31
    assert got == wrapped


@pytest.mark.benchmark(group="table")
def test_table_cpython_dicts(benchmark):
    assert benchmark.pedantic(py_dicts, setup=lambda: collected(N), rounds=ROUNDS, iterations=1, warmup_rounds=1) == RESULT


@pytest.mark.benchmark(group="table")
def test_table_cpython_objects(benchmark):
    assert benchmark.pedantic(py_objects, setup=lambda: collected(N), rounds=ROUNDS, iterations=1, warmup_rounds=1) == RESULT
