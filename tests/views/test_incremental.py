"""Tables kept in place by the views (issue 12 point 1, views/viewers.py _Live).

A member whose value is a document table's rows in id order (a `table<R>`
field, or a formula that is exactly `iterate t`) is kept by each viewer (or
once, when every viewer sees it alike) and brought up to date from the rows a
transaction inserted, deleted and changed. The oracle is the encoder from
before issue 12, kept in Viewers (`incremental = False`: every table member
encoded from its rows, then diffed): over random sessions both must send
byte-identical frames and states, and every client must rebuild the view
rendered from scratch (privacy.render_view).
"""
from __future__ import annotations

import json
import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from runkit import T0
from viewkit import Clients, assert_current, source

from advm.compiler.build import build_source
from advm.runtime.engine import Engine, TransactionError
from advm.views.delta import compress_order
from advm.views.privacy import Schema
from advm.views.viewers import Viewers
from advm.vm.docslots import principal

MODULE = build_source(source("growth.adb"), "growth.adb")
PEOPLE = [principal(name, "users") for name in ("alice", "bob", "carol")]
EXAMPLES = int(os.environ.get("ADVM_PROP_EXAMPLES", "60"))


class Oracle(Viewers):
    incremental = False


def dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"))


who = st.sampled_from(PEOPLE)
rid = st.integers(min_value=1, max_value=12)
text = st.sampled_from(["a", "b", "c"])
steps = st.lists(
    st.one_of(
        st.tuples(st.just("add"), who, st.fixed_dictionaries({
            "score": st.integers(0, 9), "text": text, "shown": st.booleans(), "mine": st.booleans(),
            "count": st.sampled_from([1, 1, 1, 2, 5])})),
        st.tuples(st.just("edit"), who, st.fixed_dictionaries({"id": rid, "v": st.integers(0, 7), "text": text})),
        st.tuples(st.just("edit"), who, st.fixed_dictionaries({"id": rid, "v": st.integers(0, 7), "text": text})),
        st.tuples(st.just("drop"), who, st.fixed_dictionaries({"id": rid, "v": st.just(0), "text": text})),
        st.tuples(st.just("drop_below"), who, st.fixed_dictionaries({"id": st.just(0), "v": st.integers(0, 6),
                                                                     "text": text})),
        st.tuples(st.just("open"), who, st.fixed_dictionaries({"on": st.booleans()})),
        st.tuples(st.just("tick"), who, st.fixed_dictionaries({"on": st.booleans()})),
        st.tuples(st.just("raise"), who, st.fixed_dictionaries({"id": st.just(0), "v": st.integers(0, 9),
                                                                "text": text})),
        st.tuples(st.just("pub"), who, st.fixed_dictionaries({"id": st.just(0), "v": st.integers(0, 6),
                                                              "text": text})),
        st.tuples(st.just("set_pub"), who, st.fixed_dictionaries({"id": rid, "v": st.integers(0, 6),
                                                                  "text": text})),
        st.tuples(st.just("drop_pub"), who, st.fixed_dictionaries({"id": rid, "v": st.just(0), "text": text})),
        st.tuples(st.just("both"), who, st.fixed_dictionaries({"id": rid, "v": st.integers(0, 6), "text": text})),
        st.tuples(st.just("connect"), who),
        st.tuples(st.just("disconnect"), who),
        st.tuples(st.just("reload"),),
        st.tuples(st.just("quiet"),),
    ),
    max_size=40,
)


class Session:
    """One document, the views under test and the oracle side by side."""

    def __init__(self):
        self.doc = Engine(MODULE, key="growth")
        self.doc.create(PEOPLE[0], None, now=T0)
        self.views = Viewers(self.doc)
        self.oracle = Oracle(self.doc)
        self.schema = Schema(self.doc.meta)
        self.schema.bind(self.doc.machine.module)
        self.clients = Clients()
        self.connected: set[str] = set()

    def run(self, step) -> None:
        kind, *args = step
        if kind == "connect":
            self.connected.add(args[0])
            got, want = self.views.connect(args[0]), self.oracle.connect(args[0])
        elif kind == "disconnect":
            self.connected.discard(args[0])
            self.views.disconnect(args[0])
            self.oracle.disconnect(args[0])
            got = want = []
        elif kind == "reload":
            state, reference = self.views.state(), self.oracle.state()
            assert dumps(state) == dumps(reference)
            self.views, self.oracle = Viewers(self.doc), Oracle(self.doc)
            self.views.load(state)
            self.oracle.load(reference)
            got = want = []
        elif kind == "quiet":  # a commit nobody's view shows
            got, want = self.views.after_commit(), self.oracle.after_commit()
        else:
            sender, message = args
            try:
                self.doc.send(sender, kind, message, now=T0)
            except TransactionError:
                return
            got, want = self.views.after_commit(), self.oracle.after_commit()
        assert dumps(got) == dumps(want), f"frames differ after {step}"
        self.clients.feed(got)


def test_tables_iterate_and_where_formulas_are_kept_in_place_and_ordered_queries_are_not():
    views = Viewers(Engine(MODULE, key="growth"))
    views.engine.create(PEOPLE[0], None, now=T0)
    views.connect(PEOPLE[0])
    live = {item.name: item.live_where for item in views.items if item.live_slot is not None}
    assert live == {"rows": False, "pubs": False, "direct": False, "evens": True, "above": True, "named": True}
    assert views.item_by_name["above"].where_deps == {"threshold"}
    ranked = {item.name: (item.rank.where, item.rank.keys, item.rank.limit) for item in views.items if item.rank}
    # slots: Row id 0, score 1, text 2; Pub id 0, n 1, s 2
    assert ranked == {"top": (True, [(1, True, False)], 3), "ranked": (False, [(1, True, False), (2, False, False)], 4),
                      "by_text": (False, [(2, False, False), (1, True, False)], None),
                      "first3": (False, [], 3), "picked": (True, [(2, True, False)], 2),
                      "wide": (True, [(1, False, False)], 70000)}  # a limit from the constant pool
    assert views.item_by_name["picked"].where_deps == {"threshold"}


@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_frames_are_byte_identical_to_the_encoder_from_rows(script):
    s = Session()
    opening = [("connect", PEOPLE[0]), ("connect", PEOPLE[1]),
               ("add", PEOPLE[1], {"score": 1, "text": "a", "shown": False, "mine": True, "count": 3}),
               ("add", PEOPLE[2], {"score": 2, "text": "b", "shown": True, "mine": False, "count": 2}),
               ("pub", PEOPLE[0], {"id": 0, "v": 3, "text": "p"}),
               ("pub", PEOPLE[0], {"id": 0, "v": 4, "text": "q"}),
               ("pub", PEOPLE[0], {"id": 0, "v": 5, "text": "r"}),
               ("pub", PEOPLE[0], {"id": 0, "v": 1, "text": "s"})]
    for step in opening + script:
        s.run(step)
        for viewer in s.connected:
            assert_current(s.doc, s.clients, viewer, s.schema)
    # the views never ran the ordered queries over the whole table: they kept them sorted
    assert all(s.views.evaluations[item.name] == 0 for item in s.views.items if item.rank is not None)


@settings(max_examples=300, derandomize=True, deadline=None, database=None)
@given(st.lists(st.integers(1, 60), unique=True).map(sorted), st.data())
def test_the_order_patch_of_an_edit_is_compress_order(order, data):
    gone = sorted(data.draw(st.lists(st.sampled_from(order), unique=True)) if order else [])
    fresh = sorted(data.draw(st.lists(st.integers(1, 80).filter(lambda x: x not in order), unique=True)))
    added = [(rid, None) for rid in fresh]
    new = sorted((set(order) - set(gone)) | set(fresh))
    if not order or not new:
        return  # the empty table has its own encoding (views/viewers.py _live_update)
    assert Viewers._live_order(order, gone, added) == compress_order(order, new)


PLAIN = build_source("""
record Item {
  public int id;
  public int score;
  private principal holder;
  viewer_is<holder> int mine;
}
table<Item> _items;
public formula items = iterate _items;
message Add { int count; }
message Ref { int id; }
@connected { return true; }
channel add(Add a) {
  for (int k = 0; k < a.count; k++) {
    _items <- {score: k, holder: @who, mine: k};
  }
}
channel drop(Ref r) {
  (iterate _items where id == r.id).delete();
}
channel bump(Ref r) {
  foreach (x in iterate _items where id == r.id) {
    x.score = x.score + 1;
  }
}
""", "plain.adb")


def test_a_change_renders_the_rows_it_wrote_alone_whatever_the_table_holds():
    doc = Engine(PLAIN, key="plain")
    doc.create(PEOPLE[0], None, now=T0)
    doc.send(PEOPLE[0], "add", {"count": 2000}, now=T0)
    views = Viewers(doc)
    clients = Clients()
    clients.feed(views.connect(PEOPLE[1]))
    rendered = []
    original = views._row

    def counting(rec, shape, ctx, doc_f):
        rendered.append(rec.f[0])
        return original(rec, shape, ctx, doc_f)

    views._row = counting
    doc.send(PEOPLE[1], "add", {"count": 1}, now=T0)
    frames = clients.feed(views.after_commit())
    assert rendered == [2001]
    assert frames[0]["delta"] == {"items": {"2001": {"id": 2001, "score": 0, "mine": 0}, "@o": [[0, 1999], 2001]}}
    rendered.clear()
    doc.send(PEOPLE[0], "drop", {"id": 1000}, now=T0)
    frames = clients.feed(views.after_commit())
    assert rendered == []  # a delete renders nothing
    assert frames[0]["delta"] == {"items": {"@o": [[0, 998], [1000, 2000]], "1000": None}}
    doc.send(PEOPLE[0], "bump", {"id": 7}, now=T0)
    frames = clients.feed(views.after_commit())
    assert rendered == [7]
    assert frames[0]["delta"] == {"items": {"7": {"score": 7}}}
    assert_current(doc, clients, PEOPLE[1])


def test_frames_and_states_already_handed_out_do_not_change_with_the_kept_tables():
    """Kept tables change in place: what a frame or a state holds is a copy."""
    doc = Engine(PLAIN, key="plain")
    doc.create(PEOPLE[0], None, now=T0)
    doc.send(PEOPLE[0], "add", {"count": 5}, now=T0)
    views = Viewers(doc)
    first = views.connect(PEOPLE[1])
    state = views.state()
    before = dumps(first), dumps(state)
    handed = []
    for step in range(6):
        doc.send(PEOPLE[step % 2], "add", {"count": 2}, now=T0)
        handed.append((views.after_commit(), dumps(views.state())))
        doc.send(PEOPLE[0], "drop", {"id": 2 + step}, now=T0)
        handed.append((views.after_commit(), dumps(views.state())))
    assert (dumps(first), dumps(state)) == before
    assert all(made for made, _ in handed)  # every commit sent bob a frame
    # the states kept as text then are the ones a fresh encoder makes now from the same inputs
    oracle_doc = Engine(PLAIN, key="plain")
    oracle_doc.create(PEOPLE[0], None, now=T0)
    oracle_doc.send(PEOPLE[0], "add", {"count": 5}, now=T0)
    oracle = Oracle(oracle_doc)
    assert dumps(oracle.connect(PEOPLE[1])) == before[0]
    for step, (made, text) in zip(range(12), handed):
        if step % 2 == 0:
            oracle_doc.send(PEOPLE[(step // 2) % 2], "add", {"count": 2}, now=T0)
        else:
            oracle_doc.send(PEOPLE[0], "drop", {"id": 2 + step // 2}, now=T0)
        assert dumps(oracle.after_commit()) == dumps(made)
        assert dumps(oracle.state()) == text


def test_viewers_that_shared_a_kept_table_part_when_their_rows_differ():
    """Viewers built with the same rows share one kept table (interned); a
    change copies it for each of them instead of changing it under the
    others, and every frame is the old encoder's."""
    s = Session()
    s.run(("add", PEOPLE[0], {"score": 2, "text": "a", "shown": True, "mine": False, "count": 3}))
    for who in PEOPLE:
        s.run(("connect", who))
    kept = [s.views.viewers[who].lists["rows"] for who in PEOPLE]
    assert kept[0] is kept[1] is kept[2] and not kept[0].private
    shared = kept[0].enc
    text = dumps(shared)
    s.run(("add", PEOPLE[1], {"score": 6, "text": "c", "shown": False, "mine": True, "count": 1}))
    now = [s.views.viewers[who].lists["rows"] for who in PEOPLE]
    # bob sees his new row: his table is a copy; alice and carol see no change: theirs stays
    assert now[1].enc is not shared and now[0].enc is shared and now[2].enc is shared
    assert dumps(shared) == text  # copied, not changed under the viewers holding it
    for step in [("edit", PEOPLE[2], {"id": 4, "v": 3, "text": "a"}),  # carol takes bob's row
                 ("edit", PEOPLE[1], {"id": 2, "v": 2, "text": "a"}),
                 ("drop", PEOPLE[0], {"id": 1, "v": 0, "text": "a"})]:
        s.run(step)
        for who in PEOPLE:
            assert_current(s.doc, s.clients, who, s.schema)
