"""Issue 23: examples/chat.adb's per-viewer bubbles as the room grows.

`my_line_count` and `my_likes` used to count the viewer's lines on every
change (`(iterate _lines where author == @who).size()`, `.likes.sum()`): a
message cost O(lines) per viewer. The example now keeps both counts in the
member's row (kept by `say`, `like` and the daily trim), and the bubbles read
that row through the `member` index. This measures a `say` (the runtime's
whole input: transaction, views, frames; LivingDocument.apply) with two
viewers connected, in rooms of 100 and 10,000 lines, for the example as it
is (`kept`) and, as the baseline in the same run, the same program with the
two bubbles as they were (`walked`).

Group `chat-growth` (pytest-benchmark, every case in the same run):

    python -m pytest bench/bench_chat_growth.py --benchmark-enable

CPU time, the four cases alternated (the machine is shared; bench/README.md):

    python bench/bench_chat_growth.py [--rounds 5] [--messages 200]

Goal: the message costs the same at 100 and at 10,000 lines.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pytest

from advm.compiler.build import build_source
from advm.runtime.contracts import as_input
from advm.runtime.living import LivingDocument
from advm.views.viewers import Viewers

CHAT = Path(__file__).resolve().parent.parent / "examples" / "chat.adb"
KEPT = ("bubble my_line_count = (iterate _members where member == @who).lines_kept.sum();\n"
        "bubble my_likes = (iterate _members where member == @who).likes_received.sum();\n")
WALKED = ("bubble my_line_count = (iterate _lines where author == @who).size();\n"
          "bubble my_likes = (iterate _lines where author == @who).likes.sum();\n")
T0 = 1767225600000
PEOPLE = ("ada@lab", "bo@lab")
SIZES = [100, 10_000]
CASES = ["kept", "walked"]
_modules: dict = {}


def source(case: str) -> str:
    text = CHAT.read_text()
    assert KEPT in text, "examples/chat.adb's bubbles changed: update bench/bench_chat_growth.py"
    return text if case == "kept" else text.replace(KEPT, WALKED)


def module(case: str):
    if case not in _modules:
        _modules[case] = build_source(source(case), "chat.adb")
    return _modules[case]


def send(doc: LivingDocument, who: str, channel: str, message: dict) -> list:
    return doc.apply(as_input({"op": "send", "who": who, "channel": channel, "message": message}, T0))


def room(case: str, lines: int) -> LivingDocument:
    """A room of `lines` lines by the two people (every tenth liked), both connected."""
    doc = LivingDocument(module(case), key="chat", viewers=Viewers)
    doc.create(PEOPLE[0], None, T0)
    for who in PEOPLE:
        doc.apply(as_input({"op": "connect", "who": who}, T0))
        doc.apply(as_input({"op": "disconnect", "who": who}, T0))
    for i in range(lines):
        send(doc, PEOPLE[i % 2], "say", {"text": f"line {i}"})
        if i % 10 == 0:
            send(doc, PEOPLE[(i + 1) % 2], "like", {"line": i + 1})
    for who in PEOPLE:
        doc.apply(as_input({"op": "connect", "who": who}, T0))
    return doc


def say(doc: LivingDocument, i: int) -> list:
    frames = send(doc, PEOPLE[i % 2], "say", {"text": f"message {i}"})
    assert sum(1 for f in frames if "delta" in f) == len(PEOPLE)
    return frames


@pytest.mark.benchmark(group="chat-growth")
@pytest.mark.parametrize("lines", SIZES)
@pytest.mark.parametrize("case", CASES)
def test_say_in_a_growing_room(benchmark, case, lines):
    doc = room(case, lines)
    state = {"i": 0}

    def run():
        state["i"] += 1
        say(doc, state["i"])

    benchmark.pedantic(run, rounds=100, iterations=1, warmup_rounds=5)
    ada = {"agent": "ada", "authority": "lab"}
    lines_of_ada = [ln for ln in doc.engine.field("_lines") if ln["author"] == ada]
    assert doc.engine.bubble("my_line_count", PEOPLE[0]) == len(lines_of_ada) >= lines // 2
    assert doc.engine.bubble("my_likes", PEOPLE[0]) == sum(ln["likes"] for ln in lines_of_ada)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="CPU time per message at 100 and 10,000 lines")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--messages", type=int, default=200)
    args = p.parse_args(argv)
    keys = [(case, lines) for case in CASES for lines in SIZES]
    docs = {k: room(*k) for k in keys}
    for doc in docs.values():  # warm up
        for i in range(20):
            say(doc, i)
    per = {k: [] for k in keys}
    for r in range(args.rounds):
        for k in (keys if r % 2 == 0 else keys[::-1]):
            doc = docs[k]
            t = time.process_time()
            for i in range(args.messages):
                say(doc, i)
            per[k].append((time.process_time() - t) / args.messages * 1e6)
    for k in keys:
        v = sorted(per[k])
        print(f"{k[0]:>6} {k[1]:>6} lines: CPU us per message min {v[0]:.1f}, median {v[len(v) // 2]:.1f} "
              f"({', '.join(f'{x:.1f}' for x in per[k])})")
    for case in CASES:
        lo, hi = sorted(per[(case, SIZES[0])]), sorted(per[(case, SIZES[-1])])
        print(f"{case}: {SIZES[-1]:,} / {SIZES[0]:,} lines: min {hi[0] / lo[0]:.2f}x, "
              f"median {hi[len(hi) // 2] / lo[len(lo) // 2]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
