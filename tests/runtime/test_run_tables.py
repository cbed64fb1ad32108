"""Tables through the VM: ingestion, iterate with every step, index lookups that
agree with scans, aggregates, projections, bulk updates and deletes
(spec/language.md 3.7, 4.11, 5.17-5.20, 6.3)."""
from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from runkit import BOB, document

from advm.compiler import compile_source
from advm.compiler.build import build_module
from advm.vm.disasm import disasm

PLAYERS = """
record Player {
  public int id;
  public string name;
  public int score;
  public bool active;
  public principal owner;
  %(index)s
}

table<Player> _players;

public formula leaders = iterate _players where active order by score desc, name asc limit 3;
public formula page = iterate _players order by name offset 2 limit 2;
public formula names = (iterate _players).name;
public formula total = (iterate _players).score.sum();
public formula mean = (iterate _players).score.average();
public formula best = (iterate _players).score.max();
public formula worst = (iterate _players where score > 1000).score.min();
public formula count = _players.size();

message Add { string name; int score; bool active; }
message Pick { int id; }
message Owner { string name; }

channel add(principal who, Add a) {
  _players <- {name: a.name, score: a.score, active: a.active, owner: who};
}

channel bump(Pick p) {
  (iterate _players where id == p.id).score += 10;
}

channel rename(Owner o) {
  (iterate _players where owner == @who).name = o.name;
}

channel drop(Pick p) {
  (iterate _players where id == p.id).delete();
}

channel clear_inactive(Pick p) {
  (iterate _players where !active).delete();
}

procedure by_id(int k) -> string readonly {
  list<Player> found = iterate _players where id == k;
  if (found[0] as p) { return p.name; }
  return "";
}

procedure by_owner(principal who) -> int readonly {
  return (iterate _players where owner == who && score >= 0).size();
}

procedure shuffled() -> list<string> {
  return (iterate _players shuffle).name;
}
"""


def players(index: bool = True):
    return document(PLAYERS % {"index": "index owner; index score;" if index else ""})


ROWS = [("ann", 50, True), ("bob", 70, False), ("cat", 70, True), ("dan", 10, True), ("eve", 90, True)]


@pytest.fixture
def filled():
    d = players()
    for name, score, active in ROWS:
        d.send(BOB, "add", {"name": name, "score": score, "active": active})
    return d


def test_iterate_steps_and_aggregates(filled):
    f = filled.fields()
    assert [p["name"] for p in f["leaders"]] == ["eve", "cat", "ann"]
    assert [p["name"] for p in f["page"]] == ["cat", "dan"]
    assert f["names"] == ["ann", "bob", "cat", "dan", "eve"]
    assert f["total"] == 290 and f["mean"] == 58.0 and f["best"] == 90
    assert f["worst"] is None and f["count"] == 5


def test_bulk_update_delete_and_lookup_by_id(filled):
    filled.send(BOB, "bump", {"id": 4})
    assert filled.transaction("fn.by_id", 4) == "dan"
    assert [p["score"] for p in filled.field("_players")] == [50, 70, 70, 20, 90]
    filled.send(BOB, "drop", {"id": 2})
    filled.send(BOB, "clear_inactive", {"id": 0})
    assert filled.transaction("fn.by_id", 2) == ""
    assert [p["id"] for p in filled.field("_players")] == [1, 3, 4, 5]
    filled.send(BOB, "add", {"name": "fay", "score": 1, "active": True})
    assert filled.field("_players")[-1]["id"] == 6  # ids are never reused


def test_shuffle_draws_from_the_document_stream(filled):
    first = filled.transaction("fn.shuffled")
    assert sorted(first) == ["ann", "bob", "cat", "dan", "eve"]
    again = players()
    for name, score, active in ROWS:
        again.send(BOB, "add", {"name": name, "score": score, "active": active})
    assert again.transaction("fn.shuffled") == first  # same key, same events, same order


def test_indexed_and_id_lookups_do_not_scan():
    src = PLAYERS % {"index": "index owner;"}
    text = disasm(build_module(compile_source(src, "p.adb")), src)
    by_id = text[text.index("function fn.by_id"):text.index("function fn.by_owner")]
    by_owner = text[text.index("function fn.by_owner"):text.index("function fn.shuffled")]
    assert "table.by_id" in by_id and "table.rows" not in by_id
    assert "table.lookup" in by_owner and "table.rows" not in by_owner


OPS = st.lists(st.tuples(st.sampled_from(["add", "bump", "drop", "rename", "clear"]),
                         st.integers(0, 6), st.sampled_from(["p", "q", "r"])), max_size=25)


@settings(max_examples=30, deadline=None)
@given(OPS)
def test_index_and_scan_agree(ops):
    """The same events on a document with and without index hints give the same
    answers to every lookup (an index changes speed, never results)."""
    from advm.vm.docslots import principal

    docs = [players(True), players(False)]
    for op, k, who in ops:
        who = principal(who, "users")
        for d in docs:
            try:
                if op == "add":
                    d.send(who, "add", {"name": f"n{k}", "score": k * 7 % 5, "active": k % 2 == 0})
                elif op == "bump":
                    d.send(who, "bump", {"id": k})
                elif op == "drop":
                    d.send(who, "drop", {"id": k})
                elif op == "rename":
                    d.send(who, "rename", {"name": f"r{k}"})
                else:
                    d.send(who, "clear_inactive", {"id": 0})
            except Exception:  # pragma: no cover - no event here aborts
                raise
    views = []
    for d in docs:
        lookups = [d.transaction("fn.by_id", k) for k in range(8)]
        owners = [d.transaction("fn.by_owner", principal(w, "users")) for w in "pqrs"]
        views.append((d.fields(), lookups, owners))
    assert views[0] == views[1]


def test_insert_many_and_rollback_of_a_bulk_insert():
    src = """
      record R { public int id; public int v; index v; }
      table<R> _rows;
      message Go { int n; bool fail; }
      channel go(Go g) {
        for (int i = 0; i < g.n; i++) { _rows <- {v: (i % 3).getOrDefaultTo(0)}; }
        (iterate _rows where v == 1).delete();
        if (g.fail) { abort; }
      }
      procedure ones() -> int readonly { return (iterate _rows where v == 1).size(); }
      procedure twos() -> int readonly { return (iterate _rows where v == 2).size(); }
    """
    d = document(src)
    d.send(BOB, "go", {"n": 30, "fail": False})
    before = d.fields()
    with pytest.raises(Exception):
        d.send(BOB, "go", {"n": 50, "fail": True})
    assert d.fields() == before
    assert d.transaction("fn.ones") == 0 and d.transaction("fn.twos") == 10
    d.send(BOB, "go", {"n": 3, "fail": False})
    assert [r["id"] for r in d.field("_rows")][-2:] == [31, 33]


def test_random_order_by_is_stable():
    rng = random.Random(7)
    rows = [(rng.randrange(4), rng.choice("abc")) for _ in range(40)]
    src = """
      record R { public int id; public int a; public string b; }
      table<R> _rows;
      public formula sorted = (iterate _rows order by a desc, b).id;
      message Add { int a; string b; }
      channel add(Add x) { _rows <- {a: x.a, b: x.b}; }
    """
    d = document(src)
    for a, b in rows:
        d.send(BOB, "add", {"a": a, "b": b})
    ids = list(range(1, len(rows) + 1))
    want = sorted(ids, key=lambda i: (-rows[i - 1][0], rows[i - 1][1]))
    assert d.field("sorted") == want


LOOPS = """
record R { public int id; public int v; }
table<R> _rows;
message N { int n; }
channel fill(N m) { for (int i = 0; i < m.n; i++) { _rows <- {v: i}; } }
procedure sum_where() -> long readonly {
  long t = 0;
  foreach (r in iterate _rows where v % 3 == 0) { t += r.v; }
  return t;
}
procedure moving_limit() -> int readonly {
  int limit = 5;
  int seen = 0;
  foreach (r in iterate _rows where v < limit) { limit = 0; seen++; }
  return seen;
}
procedure bump_later() -> int {
  int seen = 0;
  foreach (r in iterate _rows where v < 3) { (iterate _rows where id == r.id + 1).v = 100; seen++; }
  return seen;
}
procedure grow() -> int {
  int seen = 0;
  foreach (r in iterate _rows where v < 2) { _rows <- {v: 0}; seen++; }
  return seen;
}
procedure drop_next() -> int {
  int seen = 0;
  foreach (r in iterate _rows where v < 4) { (iterate _rows where id == r.id + 1).delete(); seen++; }
  return seen;
}
"""


@pytest.mark.parametrize("fn, want", [
    ("sum_where", 18),
    ("moving_limit", 5),  # the rows that passed when the loop began, though `limit` changes
    ("bump_later", 3),  # rows changed by the body were already chosen
    ("grow", 2),  # rows inserted by the body are not visited
    ("drop_next", 2),  # rows deleted by the body are skipped
])
def test_foreach_over_a_where_filters_first(fn, want):
    """`foreach (r in iterate t where c)` means: the rows passing `c` when the
    loop starts, minus those deleted meanwhile; walking the table once (when
    the body writes only locals `c` does not read) must give the same."""
    d = document(LOOPS)
    d.send(BOB, "fill", {"n": 10})
    assert d.transaction(f"fn.{fn}") == want


def test_a_where_walks_the_table_and_a_local_only_body_runs_inside_the_walk():
    text = disasm(build_module(compile_source(LOOPS, "l.adb")), LOOPS)

    def body(name):
        start = text.index(f"function fn.{name}")
        return text[start:text.index("function", start + 1)]

    fused = body("sum_where")
    assert "TNEXT" in fused and "table.rows" not in fused and "LGET" not in fused
    for name in ("moving_limit", "bump_later", "grow", "drop_next"):
        assert "TNEXT" in body(name) and "LGET" in body(name), name  # filtered first, then looped
