"""Issue 23 point 3: a message to a document whose table grows, seen through a
limited view (`iterate _lines order by id desc limit 50`), at 100 and at
100,000 rows, with three viewers connected: the runtime's whole input (the
transaction, the views' commit and the viewers' frames; LivingDocument.apply).

Group `growth-chat` (pytest-benchmark, both sizes in the same run):

    python -m pytest bench/bench_growth.py --benchmark-enable

CPU time, the two sizes alternated (the machine is shared; bench/README.md):

    python bench/bench_growth.py [--rounds 5] [--messages 300]

Goal (issue 23): the message costs the same at 100 and at 100,000 rows.
"""
from __future__ import annotations

import argparse
import sys
import time

import pytest

from advm.compiler.build import build_source
from advm.runtime.contracts import as_input
from advm.runtime.living import LivingDocument
from advm.views.viewers import Viewers

SOURCE = """
record Line {
  public int id;
  public principal author;
  public string text;
  public int likes;
}

message Say {
  string text;
}

message Fill {
  int n;
}

table<Line> _lines;
public formula recent = iterate _lines order by id desc limit 50;
public int total;

@connected {
  return true;
}

channel fill(Fill f) {
  for (int i = 0; i < f.n; i++) {
    _lines <- {author: @who, text: "line " + i, likes: i};
    total++;
  }
}

channel say(Say s) {
  _lines <- {author: @who, text: s.text};
  total++;
}
"""

T0 = 1767225600000
VIEWERS = ("ada@", "bob@", "cy@")
SIZES = [100, 100_000]
_module = None


def module():
    global _module
    if _module is None:
        _module = build_source(SOURCE, "growth.adb")
    return _module


def document(rows: int) -> LivingDocument:
    doc = LivingDocument(module(), key="growth", viewers=Viewers)
    doc.create("ada@", None, T0)
    left = rows
    while left > 0:
        n = min(left, 5_000)
        doc.apply(as_input({"op": "send", "who": "ada@", "channel": "fill", "message": {"n": n}}, T0))
        left -= n
    for who in VIEWERS:
        doc.apply(as_input({"op": "connect", "who": who}, T0))
    return doc


def say(doc: LivingDocument, i: int) -> list:
    frames = doc.apply(as_input({"op": "send", "who": VIEWERS[i % 3], "channel": "say",
                                 "message": {"text": f"message {i}"}}, T0))
    assert sum(1 for f in frames if "delta" in f) == len(VIEWERS)
    return frames


@pytest.mark.benchmark(group="growth-chat")
@pytest.mark.parametrize("rows", SIZES)
def test_say_with_a_limited_view(benchmark, rows):
    doc = document(rows)
    state = {"i": 0}

    def run():
        state["i"] += 1
        say(doc, state["i"])

    benchmark.pedantic(run, rounds=200, iterations=1, warmup_rounds=10)
    assert doc.engine.fields()["total"] == rows + 210


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="CPU time per message at 100 and 100,000 rows")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--messages", type=int, default=300)
    args = p.parse_args(argv)
    docs = {rows: document(rows) for rows in SIZES}
    for doc in docs.values():  # warm up
        for i in range(20):
            say(doc, i)
    per = {rows: [] for rows in SIZES}
    for r in range(args.rounds):
        order = SIZES if r % 2 == 0 else SIZES[::-1]
        for rows in order:
            doc = docs[rows]
            t = time.process_time()
            for i in range(args.messages):
                say(doc, i)
            per[rows].append((time.process_time() - t) / args.messages * 1e6)
    for rows in SIZES:
        v = sorted(per[rows])
        print(f"{rows:>7} rows: CPU us per message min {v[0]:.1f}, median {v[len(v) // 2]:.1f} "
              f"({', '.join(f'{x:.1f}' for x in per[rows])})")
    lo, hi = sorted(per[SIZES[0]]), sorted(per[SIZES[-1]])
    print(f"ratio {SIZES[-1]:,} / {SIZES[0]:,} rows: min {hi[0] / lo[0]:.2f}x, "
          f"median {hi[len(hi) // 2] / lo[len(lo) // 2]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
