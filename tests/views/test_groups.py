"""Viewers grouped by what they are bound to see (views/viewers.py, points 6 of its
docstring): many viewers, per-viewer tables (viewer_is and use_policy fields,
a require policy, a table in a field), changes to shared members,
to single rows, to who holds what and to who may see what, connects and
disconnects between them. After every step each client's view, rebuilt only
from its frames, equals the view rendered from scratch."""
from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runkit import T0
from viewkit import Clients, assert_current

from advm.compiler.build import build_source
from advm.runtime.engine import Engine, TransactionError
from advm.views.privacy import Schema
from advm.views.viewers import Viewers
from advm.vm.docslots import principal

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

  policy shown {
    return !hide || holder == @who;
  }

  require shown;
}

table<Card> _cards;
public formula cards = iterate _cards;
public formula newest = iterate _cards order by id desc limit 3;
public formula total = (iterate _cards).size();
public table<Card> open_cards;
public int round;
public bool hide;
use_policy<boss> int boss_only = 5;
principal the_boss;

policy boss {
  return @who == the_boss;
}

message Deal { string text; }
message Ref { int id; }

@connected {
  return true;
}

channel deal(Deal d) {
  _cards <- {holder: @who, text: d.text, note: "note " + d.text, secret: 7};
}

channel vote(Ref r) {
  (iterate _cards where id == r.id).votes += 1;
}

channel take(Ref r) {
  (iterate _cards where id == r.id).holder = @who;
}

channel retext(Ref r) {
  (iterate _cards where id == r.id).text = "t" + r.id;
}

channel tick(Ref r) {
  round = round + 1;
}

channel toggle(Ref r) {
  hide = !hide;
}

channel crown(Ref r) {
  the_boss = @who;
  boss_only = boss_only + 1;
}

channel open(Deal d) {
  open_cards <- {holder: @who, text: d.text, note: "open " + d.text, secret: 9};
}

channel drop(Ref r) {
  (iterate _cards where id == r.id).delete();
}
"""

MODULE = build_source(SOURCE, "groups.adb")
PEOPLE = [principal(f"p{i}", "users") for i in range(8)]
EXAMPLES = int(os.environ.get("ADVM_PROP_EXAMPLES", "40"))

who = st.sampled_from(PEOPLE)
card = st.integers(1, 6)
step = st.one_of(
    st.tuples(st.sampled_from(["vote", "vote", "retext", "take", "drop", "tick", "toggle", "crown"]), who, card),
    st.tuples(st.sampled_from(["deal", "open"]), who, st.text("abc", min_size=1, max_size=3)),
    st.tuples(st.sampled_from(["connect", "disconnect"]), who, st.just(0)),
)


@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, max_size=25))
def test_grouped_viewers_each_get_exactly_their_view(script):
    d = Engine(MODULE, key="groups")
    d.create(PEOPLE[0], None, now=T0)
    for i, p in enumerate(PEOPLE[:4]):
        d.send(p, "deal", {"text": f"c{i}"}, now=T0)
    views = Viewers(d)
    schema = Schema(d.meta)
    schema.bind(d.machine.module)
    clients = Clients()
    connected = set()
    for p in PEOPLE[:6]:
        clients.feed(views.connect(p))
        connected.add(p)
    opening = [("take", PEOPLE[5], 1), ("vote", PEOPLE[4], 2), ("retext", PEOPLE[4], 3), ("toggle", PEOPLE[0], 0),
               ("take", PEOPLE[4], 2), ("vote", PEOPLE[1], 1), ("toggle", PEOPLE[0], 0), ("crown", PEOPLE[4], 0),
               ("tick", PEOPLE[1], 0), ("open", PEOPLE[2], "x"), ("vote", PEOPLE[3], 4)]
    for kind, p, arg in opening + script:
        if kind == "connect":
            clients.feed(views.connect(p))
            connected.add(p)
        elif kind == "disconnect":
            views.disconnect(p)
            connected.discard(p)
        else:
            message = {"text": arg} if kind in ("deal", "open") else {"id": arg}
            try:
                d.send(p, kind, message, now=T0)
            except TransactionError:
                continue
            frames = clients.feed(views.after_commit())
            assert {f["to"] for f in frames} <= connected
        for viewer in connected:
            assert_current(d, clients, viewer, schema)
