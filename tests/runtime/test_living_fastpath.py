"""The runtime's fast path for messages (LivingDocument._fast_send) must be
invisible: the same inputs give the same frames, the same state and the same
snapshots whether it runs or the general path (_process) does everything.

Each test plays inputs twice, once as shipped and once with the fast path
turned off, and compares after every input; it also checks that the fast
path really ran, and that it stood aside for what it does not handle."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from advm.compiler.build import build_source
from advm.session import Session
from advm.runtime.living import LivingDocument
from advm.views.viewers import Viewers

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
NAMES = ["todo", "chat", "tictactoe", "cardgame", "auction", "approval", "cron_cleanup"]
T0 = 1_767_225_600_000


class Counted:
    """Wraps _fast_send: how often it took an input and how often it stood aside."""

    def __init__(self, real, enabled: bool):
        self.real, self.enabled = real, enabled
        self.took = self.declined = self.while_asking = 0

    def __call__(self, living, *args):
        if not self.enabled:
            return None
        asking = bool(living.engine.asks.asks)
        frames = self.real(living, *args)
        if frames is None:
            self.declined += 1
        else:
            self.took += 1
            self.while_asking += asking
        return frames


@pytest.fixture
def switch(monkeypatch):
    """switch(enabled) sets whether the fast path runs; returns its counter."""
    real = LivingDocument._fast_send

    def set_to(enabled: bool) -> Counted:
        counted = Counted(real, enabled)
        monkeypatch.setattr(LivingDocument, "_fast_send",
                            lambda self, *args: counted(self, *args))
        return counted
    return set_to


@pytest.mark.parametrize("name", NAMES)
def test_example_sessions_play_the_same_either_way(name, switch):
    source = (EXAMPLES / f"{name}.adb").read_text(encoding="utf-8")
    lines = (EXAMPLES / "sessions" / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    runs = {}
    for enabled in (True, False):
        counted = switch(enabled)
        session = Session(build_source(source, f"examples/{name}.adb"))
        trace = []
        for number, text in enumerate(lines, start=1):
            frames = session.feed(text, number)
            living = session.living
            trace.append((frames, living.snapshot(), living.next_due(), living.clock))
        runs[enabled] = (trace, counted)
    (fast, counted), (general, _) = runs[True], runs[False]
    for number, (a, b) in enumerate(zip(fast, general), start=1):
        assert a == b, f"{name} line {number}: {lines[number - 1]}"
    assert len(fast) == len(general)
    # cardgame's and approval's sessions send only answers (channels without a handler)
    assert (counted.took > 0) == (name not in ("cardgame", "approval")), counted.took


TIMERS = """
@static { create { return true; } }
public int n;
public int seen;
public string note;
public int clicks;
message Add { int k; }
message Pick { int v; }
message Zone { string z; }
channel<Pick> pick;
channel add(principal who, Add a) {
  if (a.k < 0) { abort; }
  n += a.k;
  if (a.k == 3) { transition #later in 2; }
  if (a.k == 4) { transition #now; }
  if (a.k == 5) { Document.destroy(); }
  if (a.k == 6) { @debug("six"); }
}
channel zone(principal who, Zone m) {
  Time.setZone(m.z);
}
private principal asker;
channel ask(principal who, Add a) {
  asker = who;
  transition #asking;
}
#asking {
  auto f = pick.fetch(asker);
  seen = f.await().v;
}
#now { note = "now"; }
#later { note = "later"; n++; }
@cron tick hourly 30 { clicks++; }
"""


def random_inputs(rng: random.Random, count: int):
    t = T0 + 1
    for _ in range(count):
        t += rng.choice([0, 1, 1, 5, 1000, 2500, 40 * 60_000, -3000])
        who = rng.choice(["ann@", "bob", "ann"])
        r = rng.random()
        if r < 0.55:
            yield "send", who, "add", {"k": rng.choice([1, 1, 2, 3, 4, -1, 6, 0, "x"])}, t
        elif r < 0.6:
            yield "send", who, "zone", {"z": rng.choice(["UTC", "Europe/Paris", "UTC"])}, t
        elif r < 0.66:
            yield "send", who, "ask", {"k": 1}, t
        elif r < 0.72:
            yield "send", who, "pick", {"v": rng.randrange(9)}, t
        elif r < 0.75:
            yield "send", who, rng.choice(["nope", 7, None]), {}, t
        elif r < 0.8:
            yield "advance", None, None, None, t
        elif r < 0.82:
            yield "send", who, "add", {"k": 5}, t
        elif r < 0.9:
            yield "connect", who, None, None, t
        else:
            yield "disconnect", who, None, None, t


def apply(living: LivingDocument, step) -> list[dict]:
    op, who, channel, message, t = step
    if op == "send":
        return living.send(who, channel, message, t)
    if op == "advance":
        return living.advance(t)
    if op == "connect":
        return living.connect(who, t)
    return living.disconnect(who, t)


@pytest.mark.parametrize("seed", range(6))
def test_random_inputs_with_timers_asks_and_aborts(seed, switch):
    module = build_source(TIMERS, "timers.adb")
    steps = list(random_inputs(random.Random(seed), 150))
    traces = {}
    for enabled in (True, False):
        counted = switch(enabled)
        living = LivingDocument(module, key="t", viewers=Viewers)
        trace = [living.create("ann@", None, T0)]
        for step in steps:
            trace.append((apply(living, step), living.snapshot(), living.next_due(),
                          list(living.engine.debug_lines), len(living.failures)))
        traces[enabled] = (trace, counted)
    (fast, counted), (general, _) = traces[True], traces[False]
    for i, (a, b) in enumerate(zip(fast, general)):
        assert a == b, (seed, i, steps[i - 1] if i else "create")
    assert counted.took > 0 and counted.declined > 0  # both routes were exercised


def test_the_fast_path_stands_aside_when_something_is_due(switch):
    counted = switch(True)
    living = LivingDocument(build_source(TIMERS, "timers.adb"), key="t", viewers=Viewers)
    living.create("ann@", None, T0)
    assert living.send("ann@", "add", {"k": 3}, T0 + 1) == []  # schedules #later in 2 s
    took = counted.took
    assert living.next_due() == T0 + 1 + 2000
    # The transition is due before this input: it runs first, on the general path.
    living.send("ann@", "add", {"k": 1}, T0 + 5000)
    assert counted.took == took and counted.declined >= 1
    assert living.engine.field("note") == "later" and living.engine.field("n") == 3 + 1 + 1
    living.send("ann@", "add", {"k": 1}, T0 + 5001)
    assert counted.took == took + 1  # nothing due any more: fast again


def test_messages_while_a_body_waits_on_an_ask(switch):
    module = build_source(TIMERS, "timers.adb")
    steps = [("connect", "ann@", None, None, T0 + 1), ("send", "ann@", "ask", {"k": 0}, T0 + 2),
             ("send", "bob@", "add", {"k": 1}, T0 + 3), ("send", "ann@", "add", {"k": -1}, T0 + 4),
             ("send", "bob@", "add", {"k": "x"}, T0 + 5), ("send", "ann@", "pick", {"v": 7}, T0 + 6),
             ("send", "ann@", "add", {"k": 2}, T0 + 7)]
    traces = {}
    for enabled in (True, False):
        counted = switch(enabled)
        living = LivingDocument(module, key="t", viewers=Viewers)
        living.create("ann@", None, T0)
        traces[enabled] = ([(apply(living, s), living.snapshot()) for s in steps], counted)
        assert living.engine.field("seen") == 7 and living.engine.field("n") == 3
    (fast, counted), (general, _) = traces[True], traces[False]
    assert fast == general
    assert any("ask" in f for f in fast[1][0])  # ann was asked, and the ask stayed open
    assert counted.while_asking == 3  # the three messages sent while it was open ran fast
