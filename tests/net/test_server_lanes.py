"""A worker's lanes (net/lanes.py, issue 10.9): documents run on a few
threads, each document one input at a time and in order, so another
document's input runs to completion while a runaway is still running.
Ordering is proved with events and the order replies arrive in, never with
timing thresholds (the waits' timeouts only keep a broken build from
hanging)."""
from __future__ import annotations

import asyncio
import random
import threading

import pytest

from advm.net.router import Router, RouterError
from advm.net.lanes import Lanes
from server_kit import module, run

WAIT_S = 30.0  # a deadlock guard, not a measurement


def test_a_documents_inputs_never_overlap_or_reorder():
    keys = [f"d{k}" for k in range(7)]
    running: set = set()
    overlaps: list = []
    seen: dict = {k: [] for k in keys}
    guard = threading.Lock()

    def step(key, item):
        with guard:
            if key in running:
                overlaps.append(key)
            running.add(key)
        # Python work between the marks, so the interpreter switches lanes here.
        sum(i * i for i in range(random.randrange(50, 2000)))
        with guard:
            running.discard(key)
            seen[key].append(item)

    lanes = Lanes(step, 4)
    sent: dict = {k: [] for k in keys}
    rng = random.Random(7)
    for n in range(3000):
        key = rng.choice(keys)
        sent[key].append(n)
        lanes.put(key, n)
    lanes.close()
    assert overlaps == []
    assert seen == sent


def test_another_document_runs_while_one_is_still_running():
    started = threading.Event()
    release = threading.Event()
    three = threading.Event()
    order: list = []

    def step(key, item):
        if key == "slow":
            started.set()
            assert release.wait(WAIT_S)
        order.append((key, item))
        if len(order) == 3:
            three.set()

    lanes = Lanes(step, 2)
    try:
        lanes.put("slow", 1)
        assert started.wait(WAIT_S)
        lanes.put("slow", 2)   # queued behind its own first input
        lanes.put("other", 1)
        lanes.put("other", 2)
        lanes.put("last", 1)
        # Three inputs of two other documents ran while slow's first had not ended.
        assert three.wait(WAIT_S)
        assert sorted(order) == [("last", 1), ("other", 1), ("other", 2)]
        assert order.index(("other", 1)) < order.index(("other", 2))
    finally:
        release.set()
        lanes.close()
    assert order[-2:] == [("slow", 1), ("slow", 2)]


def test_a_long_transaction_nudges_another_lane_in_without_the_watcher():
    """What a long transaction does each time the VM offers the GIL (the
    worker installs `nudge` with vm/_machine.pyx pause_with) lets another
    lane take the other documents, with the idle watcher's period far
    longer than the test: only the nudges can have let them in."""
    started = threading.Event()
    release = threading.Event()
    two = threading.Event()
    order: list = []

    def step(key, item):
        if key == "slow":
            started.set()
            while not release.is_set():  # a transaction offering the GIL
                lanes.nudge()
                release.wait(0.0005)
        order.append((key, item))
        if len(order) == 2:
            two.set()

    lanes = Lanes(step, 2, watch=3600.0)
    try:
        lanes.put("slow", 1)
        assert started.wait(WAIT_S)
        lanes.put("other", 1)
        lanes.put("other", 2)
        assert two.wait(WAIT_S)
        assert order == [("other", 1), ("other", 2)]
    finally:
        release.set()
        lanes.close()
    assert order[-1] == ("slow", 1)


def test_a_lane_that_joined_leaves_once_the_stall_is_over(monkeypatch):
    """A lane joins while the drainer is stalled; once that input ends, the
    two do not go on draining side by side (they would trade the GIL every
    switch interval): the lanes' clock is a fake one that only the slow
    input moves, so no later input is ever stalled, and no two of the later
    inputs overlap."""
    import advm.net.lanes as lanes_module

    clock = [0.0]
    monkeypatch.setattr(lanes_module, "monotonic", lambda: clock[0])
    started = threading.Event()
    release = threading.Event()
    joined = threading.Event()
    inside: list = []
    overlaps: list = []
    guard = threading.Lock()

    def step(key, item):
        with guard:
            if key != "slow" and any(k != "slow" for k in inside):
                overlaps.append(key)
            inside.append(key)
        try:
            if key == "slow":
                clock[0] += 10.0  # stalled from now on
                started.set()
                assert release.wait(WAIT_S)
            else:
                joined.set()
                sum(i * i for i in range(500))  # Python work: lanes may switch here
        finally:
            with guard:
                inside.remove(key)

    lanes = Lanes(step, 4, stall=1.0, watch=0.001)
    try:
        lanes.put("slow", 1)
        assert started.wait(WAIT_S)
        for n in range(2000):
            lanes.put(f"d{n % 13}", n)
        assert joined.wait(WAIT_S)  # another lane joined: the drainer is stalled
    finally:
        release.set()
        lanes.close()
    assert overlaps == []


def test_an_input_that_raises_leaves_the_documents_other_inputs_to_run():
    ran: list = []

    def step(key, item):
        if item == 2:
            raise RuntimeError("a bug in one input")
        ran.append((key, item))

    lanes = Lanes(step, 2)
    for item in range(1, 5):
        lanes.put("d", item)
    lanes.close()  # returns: nothing is left queued
    assert ran == [("d", 1), ("d", 3), ("d", 4)]


LONG = """
@static {
  create {
    return true;
  }
  instruction_budget = 300000000;
}

message Go {
  int k;
}

message Want {
  string trail;
}

public int n;
public string trail;

channel spin(Go g) {
  while (true) {
    n++;
  }
}

channel bump(Go g) {
  n += g.k;
  trail = trail + g.k + ",";
}

channel check(Want w) {
  if (trail != w.trail) {
    abort;
  }
}
"""


def test_a_worker_answers_another_document_before_a_runaway_ends():
    """One worker: while `wild` runs a loop whose budget lasts seconds,
    `calm` makes round trips; each is answered before wild's `budget`
    failure, which a worker running one transaction at a time could not
    do."""
    async def scenario(kit):
        router = Router(module(LONG), workers=1)
        await router.start()
        try:
            for key in ("wild", "calm"):
                await router.create(key, "alice@", None)
            wild = asyncio.ensure_future(router.send("wild", "alice@", "spin", {"k": 0}))
            await asyncio.sleep(0)  # wild's request leaves first
            for k in range(1, 6):
                await router.send("calm", "alice@", "bump", {"k": k})
                assert not wild.done(), f"the runaway ended before calm's round trip {k}"
            with pytest.raises(RouterError) as e:
                await wild
            assert e.value.code == "budget"
        finally:
            await router.close()

    run(scenario, deadline=120)


def test_a_documents_inputs_stay_in_order_on_a_worker_with_lanes():
    """Inputs of several documents pipelined at once: each document sees its
    own in the order they were sent (its trail), whatever lane ran them."""
    async def scenario(kit):
        router = Router(module(LONG), workers=1)
        await router.start()
        try:
            keys = [f"d{k}" for k in range(5)]
            for key in keys:
                await router.create(key, "alice@", None)
            sends = [router.send(key, "alice@", "bump", {"k": k})
                     for k in range(1, 41) for key in keys]
            await asyncio.gather(*sends)
            want = "".join(f"{k}," for k in range(1, 41))
            for key in keys:  # aborts unless the trail is exactly this
                await router.send(key, "alice@", "check", {"trail": want})
            with pytest.raises(RouterError) as e:
                await router.send("d0", "alice@", "check", {"trail": want[::-1]})
            assert e.value.code == "abort"
        finally:
            await router.close()

    run(scenario, deadline=120)
