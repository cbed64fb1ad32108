"""Documents run through the VM: fields, @construct, channels, formulas, and
transactions that roll back exactly (spec/language.md sections 1, 4, 6.8)."""
from __future__ import annotations

import pytest
from runkit import ALICE, BOB, T0, TransactionError, document

from advm.vm.docslots import NO_ONE

COUNTER = """
record Entry {
  public int id;
  public string who;
  public int amount;
  index who;
}

message Add { int amount; string who; }
message Init { string title; int start; }

public string title = "untitled";
public int count;
public double ratio = 1.5;
public long big = 5000000000L;
public maybe<int> last;
public map<string, int> per;
public Entry featured;
table<Entry> _entries;
public formula total = (iterate _entries).amount.sum();
public formula doubled = count * 2;
readonly principal owner;

@construct (Init i) {
  owner = @who;
  title = i.title;
  count = i.start;
}

channel add(Add a) {
  count += 1;
  last = a.amount;
  per[a.who] = per[a.who].getOrDefaultTo(0) + a.amount;
  _entries <- {who: a.who, amount: a.amount};
  featured.amount += a.amount;
  if (a.amount < 0) { abort; }
  assert (a.amount != 13);
  if (a.amount == 99) {
    int[] none = [];
    int boom = none[5].getOrDefaultTo(0) + Math.toInt((1 / 0).getOrDefaultTo(0.0));
    count = boom;
    maybe<int> nothing;
    count += nothing.getOrDefaultTo(0);
    last = count;
    (iterate _entries).amount = 0;
  }
}

message Spin { int n; }
channel spin(Spin s) {
  count = 1000;
  while (s.n > 0) { count += 1; }
}

message Forget { bool all; }
channel forget(Forget f) {
  last.delete();
  per.remove("a");
  if (f.all) { _entries.delete(); per.clear(); }
  (iterate _entries where who == "b").delete();
  (iterate _entries where who == "a").who = "z";
  if (f.all) { abort; }
}
"""


@pytest.fixture
def doc():
    return document(COUNTER, arg={"title": "t", "start": 10})


def test_construct_sets_fields_from_its_argument(doc):
    f = doc.fields()
    assert f["title"] == "t" and f["count"] == 10 and f["ratio"] == 1.5 and f["big"] == 5000000000
    assert f["owner"] == {"agent": "alice", "authority": "users"}
    assert f["last"] is None and f["per"] == {} and f["_entries"] == [] and f["total"] is None  # sum() of no rows is empty
    assert f["doubled"] == 20
    assert f["featured"] == {"id": 0, "who": "", "amount": 0}


def test_channel_writes_every_kind_of_state(doc):
    doc.send(BOB, "add", {"amount": 5, "who": "a"})
    doc.send(BOB, "add", {"amount": 7, "who": "b"})
    doc.send(BOB, "add", {"amount": 1, "who": "a"})
    f = doc.fields()
    assert f["count"] == 13 and f["last"] == 1
    assert f["per"] == {"a": 6, "b": 7}
    assert [(e["id"], e["who"], e["amount"]) for e in f["_entries"]] == [(1, "a", 5), (2, "b", 7), (3, "a", 1)]
    assert f["total"] == 13 and f["featured"]["amount"] == 13


@pytest.mark.parametrize("amount,kind", [(-1, "abort"), (13, "assert")])
def test_abort_and_failed_assert_roll_back_everything(doc, amount, kind):
    doc.send(BOB, "add", {"amount": 5, "who": "a"})
    before = doc.fields()
    with pytest.raises(TransactionError) as info:
        doc.send(BOB, "add", {"amount": amount, "who": "a"})
    assert info.value.kind == kind
    assert info.value.position.startswith("doc.adb:")
    assert doc.fields() == before
    # the next insert still gets the next id: the aborted insert left no trace
    doc.send(BOB, "add", {"amount": 2, "who": "c"})
    assert [e["id"] for e in doc.field("_entries")] == [1, 2]


def test_runtime_error_rolls_back_and_names_the_line(doc):
    doc.send(BOB, "add", {"amount": 5, "who": "a"})
    before = doc.fields()
    # amount 99 runs to the end without error (empty maybes have defaults) ...
    doc.send(BOB, "add", {"amount": 99, "who": "q"})
    assert doc.field("count") == 0 and [e["amount"] for e in doc.field("_entries")] == [0, 0]
    # ... while a message the document cannot take changes nothing
    with pytest.raises(TransactionError) as info:
        doc.send(BOB, "add", {"amount": "x", "who": "a"})
    assert info.value.kind == "input"
    with pytest.raises(TransactionError) as info:
        doc.send(BOB, "nope", {})
    assert info.value.kind == "input"
    assert before["title"] == doc.field("title")


def test_budget_exhaustion_aborts_only_that_transaction():
    d = document(COUNTER, arg={"title": "t", "start": 1})
    d.budget = 10_000
    d.machine.budget_limit = 10_000
    with pytest.raises(TransactionError) as info:
        d.send(BOB, "spin", {"n": 1})
    assert info.value.kind == "budget"
    assert d.field("count") == 1
    d.send(BOB, "spin", {"n": 0})
    assert d.field("count") == 1000


def test_deletes_map_removals_and_row_writes_roll_back(doc):
    for amount, who in [(1, "a"), (2, "b"), (3, "a"), (4, "c")]:
        doc.send(BOB, "add", {"amount": amount, "who": who})
    before = doc.fields()
    raw_order = list(doc.value("_entries").f[1])
    with pytest.raises(TransactionError):
        doc.send(BOB, "forget", {"all": True})
    assert doc.fields() == before
    assert list(doc.value("_entries").f[1]) == raw_order
    doc.send(BOB, "forget", {"all": False})
    f = doc.fields()
    assert f["last"] is None and f["per"] == {"b": 2, "c": 4}
    assert [(e["id"], e["who"]) for e in f["_entries"]] == [(1, "z"), (3, "z"), (4, "c")]


def test_index_stays_right_through_writes_and_rollbacks(doc):
    for amount, who in [(1, "a"), (2, "b"), (3, "a")]:
        doc.send(BOB, "add", {"amount": amount, "who": who})
    table = doc.value("_entries")
    slot = 1  # `who`
    with pytest.raises(TransactionError):
        doc.send(BOB, "forget", {"all": True})
    assert sorted(table.f[2][slot]["a"]) == [1, 3]
    doc.send(BOB, "forget", {"all": False})
    assert set(table.f[2][slot]) == {"z"} and sorted(table.f[2][slot]["z"]) == [1, 3]


def test_random_and_time_are_deterministic_per_key():
    src = """
      public int roll; public long started; public date day; public double r;
      @construct { roll = Random.genBoundInt(1000); started = Time.now(); day = Time.today(); r = Random.genDouble(); }
      message Go { bool x; }
      channel go(Go g) { roll = Random.genBoundInt(1000); abort; }
    """
    a, b, c = document(src, key="k1"), document(src, key="k1"), document(src, key="k2")
    assert a.fields() == b.fields()
    assert a.fields() != c.fields()
    assert a.field("started") == T0 and a.field("day") == "2026-01-01"
    state = a.machine.rng_state
    with pytest.raises(TransactionError):
        a.send(BOB, "go", {"x": True})
    assert a.machine.rng_state == state  # the aborted draw did not happen


def test_transition_is_recorded_and_rolled_back():
    src = """
      public int ticks;
      @construct { transition #tick in 60; }
      #tick { ticks += 1; if (ticks < 3) { transition #tick; } }
      message Stop { bool now; }
      channel stop(Stop s) { transition #tick in 5; abort; }
    """
    d = document(src)
    assert d.pending == ("tick", 60.0)
    with pytest.raises(TransactionError):
        d.send(BOB, "stop", {"now": True})
    assert d.pending == ("tick", 60.0)
    d.run_transition()
    assert d.state == "tick" and d.field("ticks") == 1 and d.pending == ("tick", 0.0)
    d.run_transition()
    d.run_transition()
    assert d.field("ticks") == 3 and d.pending is None


def test_handlers_and_bubbles_see_who():
    src = """
      record Note { public int id; public principal author; public string text; }
      table<Note> _notes;
      public int online;
      bubble mine = (iterate _notes where author == @who).size();
      @connected { online += 1; return @who != @no_one; }
      @disconnected { online -= 1; }
      message Say { string text; }
      channel say(principal who, Say s) { _notes <- {author: who, text: s.text}; }
    """
    d = document(src)
    assert d.handler("connected", who=BOB) is True
    assert d.handler("connected", who=NO_ONE) is False
    d.handler("disconnected", who=BOB)
    assert d.field("online") == 1
    d.send(BOB, "say", {"text": "hi"})
    d.send(ALICE, "say", {"text": "yo"})
    d.send(BOB, "say", {"text": "again"})
    assert d.bubble("mine", BOB) == 2 and d.bubble("mine", ALICE) == 1


def test_record_methods_formulas_and_policies():
    src = """
      record Counter {
        public int id;
        public int value;
        private principal holder;
        public formula twice = value * 2;
        method bump(int by) { value += by; }
        method doubled() -> int readonly { return twice + 0; }
        policy mine { return holder == @who; }
      }
      table<Counter> _counters;
      public formula values = (iterate _counters).value;
      public formula twices = (iterate _counters).twice;
      message Go { int by; }
      channel go(Go g) {
        _counters <- {value: 1, holder: @who};
        _counters <- {value: 5};
        foreach (c in iterate _counters) { c.bump(g.by); }
      }
      procedure first_doubled() -> int readonly {
        foreach (c in iterate _counters) { return c.doubled(); }
        return -1;
      }
    """
    d = document(src)
    d.send(BOB, "go", {"by": 10})
    assert d.field("values") == [11, 15]
    assert d.field("twices") == [22, 30]
    assert d.transaction("fn.first_doubled") == 22


def test_foreach_skips_rows_deleted_during_the_loop():
    src = """
      record R { public int id; public int v; }
      table<R> _rows;
      public int seen;
      @construct { _rows <- [{v: 1}, {v: 2}, {v: 3}, {v: 4}]; }
      message Go { bool x; }
      channel go(Go g) {
        foreach (r in iterate _rows) {
          seen += r.v;
          (iterate _rows where v == r.v + 1).delete();
        }
      }
    """
    d = document(src)
    d.send(BOB, "go", {"x": True})
    assert d.field("seen") == 1 + 3
    assert [r["v"] for r in d.field("_rows")] == [1, 3]


def test_ingest_as_gives_the_new_id_and_messages_copy_by_name():
    src = """
      record Item { public int id; public string name; public int qty; public maybe<int> note; }
      message NewItem { string name; int qty; }
      table<Item> _items;
      public int last_id;
      channel add(NewItem m) { _items <- m as added; last_id = added; }
      message Many { NewItem[] items; }
      channel many(Many m) { _items <- m.items; }
    """
    d = document(src)
    d.send(BOB, "add", {"name": "apple", "qty": 3})
    d.send(BOB, "many", {"items": [{"name": "pear", "qty": 1}, {"name": "plum"}]})
    d.send(BOB, "add", {"name": "fig", "qty": 2})
    assert d.field("last_id") == 4
    assert [(i["id"], i["name"], i["qty"]) for i in d.field("_items")] == [
        (1, "apple", 3), (2, "pear", 1), (3, "plum", 0), (4, "fig", 2)]


def test_tests_run_on_a_fresh_document():
    src = """
      public int counter;
      function add(int a, int b) -> int { return a + b; }
      test adds { assert (add(2, 3) == 5); counter += 1; assert (counter == 1); }
      test fails { assert (add(2, 2) == 5); }
    """
    d = document(src, create=False)
    d.run_test("adds")
    with pytest.raises(TransactionError) as info:
        d.run_test("fails")
    assert info.value.kind == "assert" and info.value.position == "doc.adb:5:20"


def test_values_stored_in_fields_are_copies_not_aliases():
    src = """
      record Card { public int id; public int rank; }
      message Point { int x; }
      table<Card> _cards;
      public Card featured;
      public Point origin;
      public map<string, int> tally;
      @construct { _cards <- {rank: 5}; }
      message Go { bool x; }
      channel go(Go g) {
        foreach (c in iterate _cards) { featured = c; }
        (iterate _cards).rank = 9;
        Point p = {x: 1};
        origin = p;
        p.x = 2;
        map<string, int> local;
        local["a"] = 1;
        tally = local;
        local["a"] = 2;
      }
    """
    d = document(src)
    d.send(BOB, "go", {"x": True})
    f = d.fields()
    assert f["featured"] == {"id": 1, "rank": 5} and f["_cards"][0]["rank"] == 9
    assert f["origin"] == {"x": 1} and f["tally"] == {"a": 1}


def test_invoking_a_state_that_is_being_invoked_is_an_error():
    src = """
      public int depth;
      @construct { transition #a; }
      #a { depth += 1; invoke #b; }
      #b { depth += 10; if (depth < 100) { invoke #b; } }
    """
    d = document(src)
    with pytest.raises(TransactionError) as info:
        d.run_transition()
    assert info.value.kind == "error" and "already being invoked" in info.value.message
    assert d.field("depth") == 0 and d.state == "a"


def test_time_date_and_document_library():
    src = """
      public long now;
      public datetime at;
      public date today;
      public time clock;
      public string zone;
      public int dow;
      public date later;
      public date month_end;
      public double hours;
      public string key;
      public bool zoned;
      public datetime start;
      @construct { start = Time.datetime(); }
      message Go { string zone; }
      channel go(Go g) {
        now = Time.now();
        at = Time.datetime();
        today = Time.today();
        clock = Time.time();
        dow = Date.dayOfWeek(today);
        later = Date.offsetDay(today, 40);
        if (Date.make(2026, 1, 31) as d) { month_end = Date.offsetMonth(d, 1); }
        hours = Date.between(start, Date.future(at, Date.between(at, at) + Date.between(at, at))).hours();
        key = Document.key();
        zoned = Time.setZone(g.zone);
        zone = Time.zone();
        if (g.zone == "Asia/Tokyo") { abort; }
      }
    """
    d = document(src, key="doc-7")
    d.send(BOB, "go", {"zone": "America/New_York"}, now=T0 + 90 * 60 * 1000)
    f = d.fields()
    assert f["now"] == T0 + 5400000 and f["at"] == "2026-01-01T01:30:00.000+00:00"
    assert f["today"] == "2026-01-01" and f["clock"] == "01:30" and f["dow"] == 4
    assert f["later"] == "2026-02-10" and f["month_end"] == "2026-02-28" and f["hours"] == 1.5
    assert f["key"] == "doc-7" and f["zoned"] is True and f["zone"] == "America/New_York"
    with pytest.raises(TransactionError):
        d.send(BOB, "go", {"zone": "Asia/Tokyo"})
    assert d.field("zone") == "America/New_York"  # setZone rolled back with the abort
    d.send(BOB, "go", {"zone": "Nowhere/Special"})
    assert d.field("zoned") is False and d.field("zone") == "America/New_York"
    assert d.field("today") == "2025-12-31"  # the New York date at 01:30 UTC


def test_row_delete_bulk_multiply_and_string_append():
    src = """
      record R { public int id; public int v; public string s; }
      table<R> _rows;
      @construct { _rows <- [{v: 1, s: "a"}, {v: 2, s: "b"}, {v: 3, s: "c"}]; }
      message Go { int id; }
      channel go(Go g) {
        (iterate _rows).v *= 10;
        (iterate _rows where v > 10).s += "!";
        foreach (r in iterate _rows where id == g.id) { r.delete(); }
      }
    """
    d = document(src)
    d.send(BOB, "go", {"id": 2})
    assert [(r["id"], r["v"], r["s"]) for r in d.field("_rows")] == [(1, 10, "a"), (3, 30, "c!")]


def test_runtime_errors_name_the_expression_that_failed():
    src = """public map<string, int> votes;
message Vote { string choice; }
channel vote(Vote v) {
  votes["seen"] = 1;
  votes[v.choice] += 1;
}
"""
    d = document(src)
    d.send(BOB, "vote", {"choice": "seen"})
    assert d.field("votes") == {"seen": 2}
    with pytest.raises(TransactionError) as info:
        d.send(BOB, "vote", {"choice": "other"})
    assert info.value.kind == "error" and "empty maybe" in info.value.message
    assert info.value.position == "doc.adb:5:3"
    assert d.field("votes") == {"seen": 2}


def test_principals_given_as_bare_agents_match_themselves():
    src = """
      public principal owner;
      public bool mine;
      message Claim { principal who; }
      channel claim(Claim c) { owner = c.who; mine = owner == @who; }
    """
    d = document(src)
    d.send("bob", "claim", {"who": "bob"})
    assert d.field("mine") is True and d.field("owner") == {"agent": "bob", "authority": ""}
