"""Viewer fan-out: after_commit() for one change with 1,000 connected viewers,
against json.dumps of one viewer's whole plain view (what a server without
deltas would at least pay per viewer) measured in the same run.

Group `views`. The document: 200 cards, each held by one of the first 200 viewers, exposed
through a public formula; each card has public fields, a viewer_is field and a
use_policy field, so every viewer's table differs. One transaction changes a
public field, one card, or a private field. The transaction itself is setup,
not timed: only the views' work is (change detection, formulas, per-viewer
encoding, diffs, frames).

`nested`: the same cards held by a record field (`public Deck deck;`, the table
and its formula inside Deck), one card voted: what a change inside nested
state costs (issue 22.1), in the same run.

Group `views-chat`: examples/chat.adb driven by 3,000 inputs (the input mix
of bench/bench_durable.py's chat log: lines, likes, refused lines, a third
person coming and going) on a LivingDocument, inputs per second:
- `viewers`: two or three people connected the whole time (views, formulas
  and bubbles kept current, frames made);
- `nobody`: the same inputs without the connects, default Viewers (what a
  document serving nobody, or a replay, pays for views: should be nothing);
- baseline `no-views`: the same inputs without connects and a Viewers stand-in
  that does nothing, measured in the same run.

Run: python -m pytest bench/bench_views.py --benchmark-enable   (see bench/README.md)
"""
from __future__ import annotations

import json
import timeit

import pytest

from pathlib import Path

from advm.compiler.build import build_source
from advm.runtime.engine import Engine
from advm.runtime.living import LivingDocument
from advm.views.viewers import Viewers
from advm.vm.docslots import principal

VIEWERS = 1000
CARDS = 200
T0 = 1767225600000

SOURCE = """
record Card {
  public int id;
  private principal holder;
  public string text;
  public int votes;
  viewer_is<holder> string note;
  use_policy<mine> int secret;

  policy mine {
    return holder == @who;
  }
}

table<Card> _cards;
public formula cards = iterate _cards;
public formula total = (iterate _cards).size();
public int round;
private int vault;

message Deal { string text; }
message Ref { int id; }

@connected {
  return true;
}

channel deal(Deal d) {
  _cards <- {holder: @who, text: d.text, note: "note " + d.text, secret: 7};
}

channel vote(Ref r) {
  foreach (c in iterate _cards where id == r.id) {
    c.votes = c.votes + 1;
  }
}

channel tick(Ref r) {
  round = round + 1;
}

channel hide(Ref r) {
  vault = vault + 1;
}
"""

# The same document with the cards one level down, in a record field.
NESTED_SOURCE = SOURCE.replace("""table<Card> _cards;
public formula cards = iterate _cards;
public formula total = (iterate _cards).size();""", """record Deck {
  table<Card> _cards;
  public formula cards = iterate _cards;
}

public Deck deck;
public formula total = (iterate deck._cards).size();""").replace("  _cards <- {", "  deck._cards <- {").replace(
    "iterate _cards where", "iterate deck._cards where")
assert NESTED_SOURCE.count("deck._cards") == 3

PEOPLE = [principal(f"user{i}", "bench") for i in range(VIEWERS)]


def room(source=SOURCE):
    doc = Engine(build_source(source, "bench.adb"), key="bench")
    doc.create(PEOPLE[0], None, now=T0)
    for i in range(CARDS):
        doc.send(PEOPLE[i], "deal", {"text": f"card {i}"}, now=T0)
    views = Viewers(doc)
    for who in PEOPLE:
        views.connect(who)
    return doc, views


@pytest.fixture(scope="module")
def live():
    return room()


@pytest.fixture(scope="module")
def nested():
    return room(NESTED_SOURCE)


@pytest.fixture(scope="module")
def dumps_seconds(live) -> float:
    """The baseline: serialize one viewer's whole plain view."""
    doc, views = live
    plain = views.plain_view(PEOPLE[1])
    return min(timeit.repeat(lambda: json.dumps(plain), number=20, repeat=15)) / 20


def record(benchmark, baseline: float, frames: list) -> None:
    stats = getattr(benchmark, "stats", None)
    if stats is None:  # --benchmark-disable: ran once, nothing to report
        return
    best = stats.stats.min
    benchmark.extra_info["viewers"] = VIEWERS
    benchmark.extra_info["frames"] = len(frames)
    benchmark.extra_info["us_per_viewer_best"] = round(best / VIEWERS * 1e6, 2)
    benchmark.extra_info["json_dumps_one_view_us_best"] = round(baseline * 1e6, 1)
    benchmark.extra_info["x_json_dumps_per_viewer_best"] = round(best / VIEWERS / baseline, 3)


def fan_out(benchmark, live, channel, message_of):
    doc, views = live
    sent = []
    state = {"n": 0}

    def change():
        state["n"] += 1
        doc.send(PEOPLE[1], channel, message_of(state["n"]), now=T0)
        return (), {}

    def run():
        frames = views.after_commit()
        sent[:] = frames
        return frames

    benchmark.pedantic(run, setup=change, rounds=30, iterations=1, warmup_rounds=2)
    return sent


@pytest.mark.benchmark(group="views")
def test_public_field_1000_viewers(benchmark, live, dumps_seconds):
    """A public int changes: encoded once, one 1-member patch shared by all."""
    frames = fan_out(benchmark, live, "tick", lambda n: {"id": 0})
    assert len(frames) == VIEWERS and all(list(f["delta"]) == ["round"] for f in frames)
    record(benchmark, dumps_seconds, frames)


@pytest.mark.benchmark(group="views")
def test_one_card_1000_viewers(benchmark, live, dumps_seconds):
    """One row of a per-viewer table changes: each viewer's table is patched."""
    frames = fan_out(benchmark, live, "vote", lambda n: {"id": 1 + n % CARDS})
    assert len(frames) == VIEWERS
    assert all(list(f["delta"]) == ["cards"] and len(f["delta"]["cards"]) == 1 for f in frames)
    record(benchmark, dumps_seconds, frames)


@pytest.mark.benchmark(group="views")
def test_one_nested_card_1000_viewers(benchmark, nested, dumps_seconds):
    """One row of a table held by a record field changes: the record is
    re-encoded per viewer from its rows' cached encodings."""
    frames = fan_out(benchmark, nested, "vote", lambda n: {"id": 1 + n % CARDS})
    assert len(frames) == VIEWERS
    assert all(list(f["delta"]) == ["deck"] and len(f["delta"]["deck"]["cards"]) == 1 for f in frames)
    record(benchmark, dumps_seconds, frames)


@pytest.mark.benchmark(group="views")
def test_private_field_1000_viewers(benchmark, live, dumps_seconds):
    """A private field changes: nobody can see it, so nobody gets a frame."""
    frames = fan_out(benchmark, live, "hide", lambda n: {"id": 0})
    assert frames == []
    record(benchmark, dumps_seconds, frames)


@pytest.mark.benchmark(group="views")
def test_baseline_json_dumps_one_view(benchmark, live, dumps_seconds):
    """The baseline: json.dumps of one viewer's whole plain view."""
    doc, views = live
    plain = views.plain_view(PEOPLE[1])
    text = benchmark(json.dumps, plain)
    assert len(text) > 5_000
    record(benchmark, dumps_seconds, [])


# ---------------------------------------------------------------- chat

CHAT_INPUTS = 3000
CHAT_PEOPLE = ["ada@lab", "bo@lab", "cy@lab", "dee@lab"]


def chat_ops(connects: bool) -> list[dict]:
    ops = [{"op": "create", "who": "ada@lab", "arg": None}]
    if connects:
        ops += [{"op": "connect", "who": who} for who in CHAT_PEOPLE[:2]]
    for n in range(CHAT_INPUTS - 2):
        who = CHAT_PEOPLE[n % len(CHAT_PEOPLE)]
        k = n % 20
        if k == 7:
            op = {"op": "send", "who": who, "channel": "like", "message": {"line": max(1, n // 2)}}
        elif k == 13:
            op = {"op": "send", "who": who, "channel": "say", "message": {"text": "   "}}
        elif k == 17:
            if not connects:
                continue
            op = {"op": "connect" if n % 40 == 17 else "disconnect", "who": CHAT_PEOPLE[2]}
        else:
            op = {"op": "send", "who": who, "channel": "say", "message": {"text": f"line {n}"}}
        ops.append(op)
    for i, op in enumerate(ops):
        op["now"] = T0 + 1000 * (i + 1)
    return ops


class NoViews:
    """A Viewers stand-in that does nothing (the baseline)."""

    def __init__(self, document):
        pass

    def after_commit(self):
        return []

    def connect(self, who):
        return []

    def disconnect(self, who):
        pass


@pytest.fixture(scope="module")
def chat_module():
    return build_source((Path(__file__).resolve().parent.parent / "examples" / "chat.adb").read_text(),
                        "chat.adb")


@pytest.mark.benchmark(group="views-chat")
@pytest.mark.parametrize("case", ["viewers", "nobody", "no-views"])
def test_chat_inputs(benchmark, chat_module, case):
    ops = chat_ops(connects=case == "viewers")
    factory = NoViews if case == "no-views" else Viewers
    frames = []

    def run():
        d = LivingDocument(chat_module, key="chat", viewers=factory)
        out = 0
        for op in ops:
            out += len(d.apply(op))
        frames[:] = [out]
        return d

    d = benchmark.pedantic(run, rounds=3, iterations=1)
    assert len(d.engine.fields(formulas=False)["_lines"]) > 2000
    if case == "viewers":
        assert frames[0] > len(ops)  # every line reaches every viewer
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        benchmark.extra_info["inputs"] = len(ops)
        benchmark.extra_info["inputs_per_second_best"] = round(len(ops) / stats.stats.min)
