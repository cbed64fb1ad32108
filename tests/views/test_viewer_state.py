"""Viewer state (spec/language.md 4.9.1): each viewer's own `view` fields,
read by the document's bubbles as @viewer. Viewers.connect(who, state) and
Viewers.update(who, state) must keep every client's view equal to the
reference, render_view(document, who, state=its state), whatever the order of
commits, updates, connects and disconnects; and state()/load() keeps the
viewers' states. Guarded bubbles (bubble<p>) in the same document come and
go with their policies, for each viewer as the reference says."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from runkit import ALICE, BOB, CAROL, T0
from viewkit import Clients, source

from advm.compiler.build import build_source
from advm.runtime.engine import Engine
from advm.views import encode_view
from advm.views.privacy import render_view
from advm.views.viewers import Viewers

MODULE = build_source(source("viewer_state.adb"), "viewer_state.adb")
PEOPLE = [ALICE, BOB, CAROL]


class Live:
    def __init__(self):
        self.doc = Engine(MODULE, key="viewer-state")
        self.doc.create(ALICE, None, now=T0)
        self.views = Viewers(self.doc)
        self.clients = Clients()
        self.states: dict = {}  # who -> the state its client last sent

    def connect(self, who, state=None):
        self.states[who] = state
        return self.clients.feed(self.views.connect(who, state))

    def update(self, who, state):
        self.states[who] = state
        return self.clients.feed(self.views.update(who, state))

    def disconnect(self, who):
        self.views.disconnect(who)
        del self.states[who]

    def send(self, who, channel, message):
        self.doc.send(who, channel, message, now=T0)
        return self.clients.feed(self.views.after_commit())

    def check(self):
        for who, state in self.states.items():
            reference = render_view(self.doc, who, state=state)
            assert self.clients.view(who) == reference, who
            assert self.clients.encoded(who) == encode_view(reference), who
            assert self.views.plain_view(who) == reference, who


@pytest.fixture
def live():
    return Live()


def test_each_viewer_sees_its_own_state(live):
    live.send(ALICE, "add", {"tag": "a", "n": 1})
    live.send(BOB, "add", {"tag": "b", "n": 2})
    live.send(ALICE, "add", {"tag": "a", "n": 3})
    live.connect(ALICE, {"filter": "a"})
    live.connect(BOB, {"page": 1})
    assert live.clients.view(ALICE)["heading"] == "a #0 of 2"
    assert [r["n"] for r in live.clients.view(ALICE)["page_items"]] == [1, 3]
    assert live.clients.view(BOB)["heading"] == "all #1 of 3"
    assert [r["n"] for r in live.clients.view(BOB)["page_items"]] == [3]
    live.check()


def test_an_update_sends_only_that_viewers_patch(live):
    live.send(ALICE, "add", {"tag": "a", "n": 1})
    live.connect(ALICE)
    live.connect(BOB)
    frames = live.update(BOB, {"filter": "b"})
    assert [(f["to"], f["seq"]) for f in frames] == [(BOB, 2)]
    assert frames[0]["delta"]["heading"] == "b #0 of 0"
    assert live.update(BOB, {"filter": "b"}) == []  # the same state: nothing changed
    live.check()


def test_a_commit_recomputes_each_viewers_bubbles_with_its_state(live):
    live.connect(ALICE, {"mine": True})
    live.connect(BOB, {"mine": True})
    live.send(ALICE, "add", {"tag": "x", "n": 5})
    assert [r["n"] for r in live.clients.view(ALICE)["page_items"]] == [5]
    assert live.clients.view(BOB)["page_items"] == []
    live.check()


def test_a_guarded_bubble_shows_only_where_its_policy_admits(live):
    live.connect(ALICE)
    live.connect(BOB)
    live.send(ALICE, "add", {"tag": "a", "n": 4})
    assert live.clients.view(ALICE)["wide_count"] == 10
    assert live.clients.view(ALICE)["page_items"][0]["mark"] == 8  # alice owns the row
    assert "mark" not in live.clients.view(BOB)["page_items"][0]
    live.send(BOB, "resize", {"size": 1})
    assert "wide_count" not in live.clients.view(ALICE) and "wide_count" not in live.clients.view(BOB)
    live.send(BOB, "resize", {"size": 3})
    assert live.clients.view(BOB)["wide_count"] == 10
    live.check()


def test_a_state_that_does_not_fit_changes_nothing(live):
    live.connect(ALICE, {"page": 1})
    with pytest.raises(ValueError):
        live.views.update(ALICE, {"page": "one"})
    with pytest.raises(ValueError):
        live.views.connect(BOB, ["not", "an", "object"])
    assert BOB not in live.views.connected()
    with pytest.raises(KeyError):
        live.views.update(CAROL, {})
    live.check()


def test_state_and_load_keep_the_viewers_states(live):
    live.send(ALICE, "add", {"tag": "a", "n": 1})
    live.send(ALICE, "add", {"tag": "a", "n": 2})
    live.send(ALICE, "add", {"tag": "a", "n": 3})
    live.connect(ALICE, {"page": 1})
    saved = live.views.state()
    fresh = Viewers(live.doc)
    fresh.load(saved)
    live.views = fresh
    live.send(ALICE, "add", {"tag": "a", "n": 4})
    assert [r["n"] for r in live.clients.view(ALICE)["page_items"]] == [3, 4]
    live.check()


STATES = st.fixed_dictionaries({}, optional={"page": st.integers(0, 3), "filter": st.sampled_from(["", "a", "b"]),
                                             "mine": st.booleans()})
STEPS = st.lists(st.one_of(
    st.tuples(st.just("connect"), st.sampled_from(PEOPLE), st.one_of(st.none(), STATES)),
    st.tuples(st.just("update"), st.sampled_from(PEOPLE), STATES),
    st.tuples(st.just("disconnect"), st.sampled_from(PEOPLE), st.none()),
    st.tuples(st.just("add"), st.sampled_from(PEOPLE), st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 9))),
    st.tuples(st.just("resize"), st.sampled_from(PEOPLE), st.integers(1, 3)),
), max_size=25)


@settings(max_examples=60, deadline=None)
@given(STEPS)
def test_views_equal_the_reference_whatever_the_order(steps):
    live = Live()
    for op, who, arg in steps:
        if op == "connect":
            live.connect(who, arg)
        elif op == "update":
            if who in live.states:
                live.update(who, arg)
        elif op == "disconnect":
            if who in live.states:
                live.disconnect(who)
        elif op == "add":
            live.send(who, "add", {"tag": arg[0], "n": arg[1]})
        else:
            live.send(who, "resize", {"size": arg})
        live.check()
