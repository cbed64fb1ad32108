"""The frames Viewers sends (views/viewers.py): first a full view, then only what
each viewer can see change, with sequence numbers, across reconnects and a
state()/load() round trip."""
from __future__ import annotations

import cbor2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from runkit import ALICE, BOB, CAROL, T0
from viewkit import Clients, assert_current, source

from advm.compiler.build import build_source
from advm.runtime.engine import Engine
from advm.views import diff, encode_view
from advm.views.delta import diff_objects
from advm.views.reactive import Changes
from advm.views.viewers import Viewers, _Txn
from advm.vm.docslots import WHO

MODULE = build_source(source("secrets.adb"), "secrets.adb")


class Live:
    def __init__(self):
        self.doc = Engine(MODULE, key="deltas")
        self.doc.create(ALICE, None, now=T0)
        self.views = Viewers(self.doc)
        self.clients = Clients()
        self.clock = T0

    def connect(self, who):
        return self.clients.feed(self.views.connect(who))

    def send(self, who, channel, message, commit=True):
        self.doc.send(who, channel, message, now=self.clock)
        return self.clients.feed(self.views.after_commit()) if commit else []

    def add(self, who, n, for_me=True):
        return self.send(who, "add", {"label": f"l{n}", "note": f"note{n}", "pin": n, "hidden": f"h{n}",
                                      "owner_only": f"o{n}", "for_me": for_me})

    def check(self, *people):
        for who in people:
            assert_current(self.doc, self.clients, who)


@pytest.fixture
def live():
    return Live()


def test_the_first_frame_is_the_whole_encoded_view(live):
    frames = live.connect(BOB)
    assert [f["seq"] for f in frames] == [1]
    assert frames[0]["to"] == BOB
    assert frames[0]["delta"] == encode_view(live.views.plain_view(BOB))


def test_a_viewer_gets_a_frame_only_when_its_view_changes(live):
    live.connect(ALICE)
    live.connect(BOB)
    assert live.send(ALICE, "set", {"what": 1, "text": "vault"}) == []  # private
    frames = live.send(ALICE, "set", {"what": 2, "text": "for alice"})  # viewer_is<owner>
    assert [(f["to"], f["delta"], f["seq"]) for f in frames] == [(ALICE, {"owner_note": "for alice"}, 2)]
    frames = live.send(BOB, "set", {"what": 0, "score": 9})
    assert [(f["to"], f["delta"], f["seq"]) for f in frames] == [(ALICE, {"score": 9}, 3), (BOB, {"score": 9}, 2)]
    live.check(ALICE, BOB)


def test_rows_travel_one_by_one_with_an_order_only_when_membership_changes(live):
    live.connect(BOB)
    for n in range(1, 6):
        live.add(BOB, n)
    frames = live.add(BOB, 6)
    assert frames[0]["delta"]["items"]["@o"] == [[0, 4], 6]
    frames = live.send(BOB, "edit", {"id": 3, "what": 0, "text": "new label", "pin": 0})
    assert frames[0]["delta"]["items"] == {"3": {"label": "new label", "shout": "new label!"}}
    frames = live.send(BOB, "remove", {"id": 1})
    assert frames[0]["delta"]["items"] == {"1": None, "@o": [[1, 5]]}
    live.check(BOB)


def test_a_row_hidden_by_require_leaves_and_comes_back(live):
    live.connect(ALICE)
    live.connect(BOB)
    live.add(BOB, 1)
    frames = live.send(ALICE, "lock", {"on": True})
    to_alice = next(f["delta"] for f in frames if f["to"] == ALICE)
    assert to_alice["items"] == {"1": None, "@o": None, "@s": 0}
    live.send(ALICE, "lock", {"on": False})
    live.check(ALICE, BOB)


def test_a_list_edited_while_hidden_is_rebuilt_when_it_shows_again(live):
    # review_items is shown to the reviewer only; its rows change while bob
    # cannot see it, and nothing it reads changes when he sees it again
    live.connect(ALICE)
    live.connect(BOB)
    live.add(BOB, 1)
    live.send(BOB, "review", {"on": True})
    live.send(ALICE, "review", {"on": True})
    live.send(BOB, "edit", {"id": 1, "what": 0, "text": "edited", "pin": 0})
    live.send(BOB, "review", {"on": True})
    assert live.clients.view(BOB)["review_items"][0]["label"] == "edited"
    live.check(ALICE, BOB)


def test_reconnecting_starts_over_at_seq_1(live):
    live.connect(BOB)
    live.send(BOB, "set", {"what": 0, "score": 1})
    live.views.disconnect(BOB)
    assert live.send(BOB, "set", {"what": 0, "score": 2}) == []
    frames = live.connect(BOB)
    assert [f["seq"] for f in frames] == [1] and frames[0]["delta"]["score"] == 2
    live.check(BOB)


def test_connect_first_brings_the_others_up_to_date(live):
    live.connect(ALICE)
    live.send(BOB, "set", {"what": 0, "score": 5}, commit=False)  # the runtime has not reported it yet
    frames = live.connect(BOB)
    assert [(f["to"], f["seq"]) for f in frames] == [(ALICE, 2), (BOB, 1)]
    live.check(ALICE, BOB)


def test_state_survives_cbor_and_a_new_viewers_instance(live):
    live.connect(ALICE)
    live.connect(BOB)
    live.add(BOB, 1)
    data = cbor2.dumps(live.views.state())
    fresh = Viewers(live.doc)
    fresh.load(cbor2.loads(data))
    live.views = fresh
    assert fresh.after_commit() == []  # nothing changed since what each viewer holds
    frames = live.send(BOB, "edit", {"id": 1, "what": 1, "text": "after load", "pin": 0})
    assert [(f["to"], f["seq"]) for f in frames] == [(BOB, 3)]
    live.check(ALICE, BOB)


def test_views_leave_the_document_as_they_found_it(live):
    live.connect(ALICE)
    live.connect(CAROL)
    live.doc.doc.f[WHO] = "marker@test"
    live.add(BOB, 1)
    assert live.doc.doc.f[WHO] == BOB  # the transaction's own @who, untouched by policies and bubbles
    live.doc.doc.f[WHO] = "marker@test"
    live.views.plain_view(CAROL)
    live.views.after_commit()
    assert live.doc.doc.f[WHO] == "marker@test"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.sampled_from(["a", "b", "@o"]),
    lambda inner: st.lists(inner, max_size=3)
    | st.lists(st.fixed_dictionaries({"id": st.integers(1, 4), "v": inner}), max_size=3)
    | st.dictionaries(st.sampled_from(["x", "y", "z", "@s"]), inner, max_size=3),
    max_leaves=12,
)
views = st.dictionaries(st.sampled_from(["p", "q", "r", "s"]), json_values, max_size=4)


@settings(max_examples=300, derandomize=True, database=None)
@given(views, views)
def test_the_fan_out_diff_is_the_delta_diff(old, new):
    """The fan-out's hook for top-level members (one patch per pair of
    encodings, shared through the transaction's memo) changes no patch."""
    a, b = encode_view(old), encode_view(new)
    txn = _Txn(Changes())
    assert diff_objects(a, b, txn) == diff(a, b)
    assert diff_objects(a, b, txn) == diff(a, b)  # and again, from the memo


def test_viewers_that_see_alike_share_one_patch_and_stay_exact():
    """Fan-out of a member every viewer sees alike makes one patch for all of
    them; later changes, per viewer or not, still reach each view exactly."""
    from runkit import ALICE, BOB, CAROL, T0
    from viewkit import Clients, assert_current, source

    from advm.compiler.build import build_source
    from advm.runtime.engine import Engine
    from advm.views.viewers import Viewers

    d = Engine(build_source(source("reactive.adb"), "reactive.adb"), key="shared")
    d.create(ALICE, None, now=T0)
    views = Viewers(d)
    clients = Clients()
    for who in (ALICE, BOB, CAROL):
        clients.feed(views.connect(who))
    d.send(ALICE, "set_a", {"value": 4}, now=T0)
    frames = clients.feed(views.after_commit())
    assert len(frames) == 3 and frames[0]["delta"] is frames[1]["delta"] is frames[2]["delta"]
    assert frames[0]["delta"] == {"a": 4, "twice_a": 8, "sum": 4, "sum_plus": 5}
    for channel, message in [("add", {"title": "t", "effort": 2}), ("set_b", {"value": 1}),
                             ("promote", {"id": 0}), ("set_a", {"value": 5})]:
        d.send(BOB, channel, message, now=T0)
        clients.feed(views.after_commit())
        for who in (ALICE, BOB, CAROL):
            assert_current(d, clients, who)
