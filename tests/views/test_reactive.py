"""Lazy formulas and cached policies (views/reactive.py, views/viewers.py): a write
recomputes exactly what reads it, and views still match the reference."""
from __future__ import annotations

import pytest
from runkit import ALICE, BOB, T0, document
from viewkit import Clients, assert_current, source

from advm.compiler.build import build_source
from advm.runtime.engine import Engine
from advm.views.reactive import ChangeTracker
from advm.views.viewers import Viewers

MODULE = build_source(source("reactive.adb"), "reactive.adb")


@pytest.fixture
def live():
    d = Engine(MODULE, key="reactive")
    d.create(ALICE, None, now=T0)
    views = Viewers(d)
    clients = Clients()
    clients.feed(views.connect(ALICE))
    clients.feed(views.connect(BOB))
    return d, views, clients


def step(live, who, channel, message, now=None):
    d, views, clients = live
    d.send(who, channel, message, now=now)
    return clients.feed(views.after_commit())


def counts(views) -> dict:
    return dict(views.evaluations)


def test_each_formula_is_evaluated_once_until_something_it_reads_changes(live):
    d, views, _ = live
    first = counts(views)
    assert first["twice_a"] == 1 and first["sum"] == 1 and first["sum_plus"] == 1
    step(live, ALICE, "set_b", {"value": 5})
    after_b = counts(views)
    assert after_b["twice_a"] == 1  # reads only a
    assert after_b["sum"] == 2 and after_b["sum_plus"] == 2  # sum_plus through sum
    assert after_b["open"] == 1
    # `iterate _tasks` alone is the table's rows: views read the table, never the formula
    assert "tasks" not in after_b
    step(live, ALICE, "set_a", {"value": 7})
    assert counts(views)["twice_a"] == 2
    assert d.field("sum_plus") == 13


def test_a_private_formula_is_never_evaluated_for_views(live):
    d, views, _ = live
    step(live, ALICE, "set_b", {"value": 1})
    assert views.evaluations["lazy"] == 0


def test_a_write_no_formula_reads_recomputes_nothing_and_sends_nothing(live):
    d, views, _ = live
    before = counts(views)
    assert step(live, ALICE, "set_c", {"value": 1}) != []  # via_procedure reads c through read_c()
    changed = {k for k, v in counts(views).items() if v != before.get(k)}
    assert changed == {"via_procedure"}
    d.send(BOB, "promote", {"id": 0})  # boss is private; only a policy reads it
    before = counts(views)
    views.after_commit()
    assert counts(views) == before


def test_table_formulas_follow_row_changes(live):
    d, views, clients = live
    step(live, ALICE, "add", {"title": "t1", "effort": 3})
    step(live, BOB, "add", {"title": "t2", "effort": 5})
    before = counts(views)
    frames = step(live, ALICE, "rename", {"id": 2})
    after = counts(views)
    assert after["open"] == before["open"] + 1 and after["twice_a"] == before["twice_a"]
    assert "tasks" not in after  # the rows changed are re-rendered, the formula is not evaluated
    # the one renamed row is all each viewer receives
    assert [f["delta"] for f in frames] == [{"tasks": {"2": {"title": "renamed"}}}] * 2
    for who in (ALICE, BOB):
        assert_current(d, clients, who)


def test_clock_formulas_recompute_when_the_clock_moves(live):
    d, views, _ = live
    step(live, ALICE, "set_c", {"value": 1})  # no new time
    assert views.evaluations["clock"] == 1
    frames = step(live, ALICE, "set_c", {"value": 2}, now=T0 + 5000)
    assert views.evaluations["clock"] == 2
    assert all(f["delta"]["clock"] == str(T0 + 5000) for f in frames)


def test_policies_are_cached_until_what_they_read_changes(live):
    d, views, clients = live
    step(live, ALICE, "add", {"title": "t1", "effort": 3})
    step(live, BOB, "add", {"title": "t2", "effort": 5})
    base = views.policy_evaluations
    step(live, ALICE, "set_a", {"value": 1})
    assert views.policy_evaluations == base  # nothing a policy reads changed
    step(live, ALICE, "finish", {"id": 1})
    assert views.policy_evaluations == base  # `mine` reads owner, not done
    step(live, BOB, "promote", {"id": 0})
    assert views.policy_evaluations == base + 2  # is_boss, once per viewer
    assert "salary" in clients.view(BOB) and "salary" not in clients.view(ALICE)
    for who in (ALICE, BOB):
        assert_current(d, clients, who)


def test_records_outside_tables_are_evaluated_afresh(live):
    d, views, clients = live
    step(live, ALICE, "score", {"value": 4})
    assert clients.view(BOB)["profile"] == {"score": 4, "doubled": 8}
    step(live, BOB, "hold", {"id": 0})
    assert clients.view(BOB)["profile"]["pin"] == 1004 and "pin" not in clients.view(ALICE)["profile"]
    step(live, ALICE, "score", {"value": 5})
    assert clients.view(BOB)["profile"] == {"score": 5, "doubled": 10, "pin": 1005}
    step(live, BOB, "show", {"title": "public row", "effort": 2})
    assert clients.view(ALICE)["shown_tasks"] == [{"id": 1, "title": "public row", "done": False}]
    for who in (ALICE, BOB):
        assert_current(d, clients, who)


def test_change_tracker_names_fields_rows_and_slots():
    d = document(source("reactive.adb"))
    tracker = ChangeTracker(d.machine, d.meta)
    assert tracker.observe().everything
    d.send(ALICE, "add", {"title": "t1", "effort": 3})
    d.send(ALICE, "add", {"title": "t2", "effort": 3})
    first = tracker.observe()
    assert first.fields == {"_tasks"} and not first.rows  # new rows have nothing cached
    d.send(ALICE, "finish", {"id": 2})
    changes = tracker.observe()
    assert changes.fields == {"_tasks"}
    (row, slots), = changes.rows.items()
    done_slot = next(f["slot"] for f in d.meta["records"]["Task"]["fields"] if f["name"] == "done")
    assert row.f[0] == 2 and slots == {done_slot}
    assert not tracker.observe()  # nothing since
    d.send(ALICE, "set_b", {"value": 3}, now=T0 + 1)
    changes = tracker.observe()
    assert changes.fields == {"b"} and changes.time


def test_views_metadata_lists_reads_through_procedures_and_the_clock():
    views = MODULE.meta["views"]
    assert views["formulas"]["via_procedure"]["doc_reads"] == ["c"]
    assert views["formulas"]["clock"]["time"] is True
    assert views["policies"]["is_boss"]["doc_reads"] == ["boss"]
    assert views["records"]["Task"]["policies"]["mine"]["reads"] == ["owner"]


BOARD = """
record Cell {
  public int v;
}

record Board {
  table<Cell> _cells;
  public formula cells = iterate _cells;
}

public Board b;

message Go {
  int v;
}

@connected {
  return true;
}

channel add(Go g) {
  b._cells <- {v: g.v};
}

channel go(Go g) {
  foreach (c in iterate b._cells) {
    c.v = g.v;
  }
}
"""


def test_a_row_change_inside_a_nested_table_reaches_the_viewers():
    # issue 22.1: the write is to a row of a table held by a record field; the
    # viewer connected before it must get the change, as a fresh view shows it
    d = document(BOARD)
    views = Viewers(d)
    clients = Clients()
    clients.feed(views.connect(ALICE))
    d.send(ALICE, "add", {"v": 0}, now=T0)
    d.send(ALICE, "add", {"v": 0}, now=T0)
    clients.feed(views.after_commit())
    d.send(ALICE, "go", {"v": 1}, now=T0)
    frames = clients.feed(views.after_commit())
    assert [f["delta"] for f in frames] == [{"b": {"cells": {"1": {"v": 1}, "2": {"v": 1}}}}]
    assert clients.view(ALICE) == {"b": {"cells": [{"id": 1, "v": 1}, {"id": 2, "v": 1}]}}
    assert_current(d, clients, ALICE)
    d.send(ALICE, "go", {"v": 1}, now=T0)  # the same values again: nothing changed, nothing sent
    assert clients.feed(views.after_commit()) == []


def test_change_tracker_names_rows_of_nested_tables_and_what_holds_them():
    d = document(BOARD)
    tracker = ChangeTracker(d.machine, d.meta)
    tracker.observe()
    d.send(ALICE, "add", {"v": 0}, now=T0)
    first = tracker.observe()
    assert first.fields == {"b"} and not first.rows  # a new row: nothing is cached for it
    d.send(ALICE, "go", {"v": 2}, now=T0)
    changes = tracker.observe()
    (row, slots), = changes.rows.items()
    v_slot = next(f["slot"] for f in d.meta["records"]["Cell"]["fields"] if f["name"] == "v")
    assert changes.fields == {"b"} and slots == {v_slot} and row.f[v_slot] == 2
    d.send(ALICE, "go", {"v": 2}, now=T0)
    assert not tracker.observe()  # written with the value it had


SHELVES = """
record Cell {
  public int v;
  require shown;
  policy shown {
    return v != 13;
  }
}

record Board {
  public int w;
  table<Cell> _cells;
  public formula cells = iterate _cells;
  require open;
  policy open {
    return w != 13;
  }
}

public map<string, Board> boards;
public Board b;
public formula pair = [b, b];

message Op {
  string k;
  int v;
}

@connected {
  return true;
}

channel put(Op o) {
  boards[o.k] = {w: o.v};
}

channel add(Op o) {
  if (boards[o.k] as x) {
    x._cells <- {v: o.v};
  }
  b._cells <- {v: o.v};
}

channel set(Op o) {
  if (boards[o.k] as x) {
    foreach (c in iterate x._cells) {
      c.v = o.v;
    }
  }
  foreach (c in iterate b._cells) {
    c.v = o.v;
  }
}
"""


def test_nested_rows_are_encoded_from_their_cached_rows_exactly_as_from_scratch():
    # views encode records, maps of records and their lists of rows directly
    # (views/viewers.py _enc): reserved map keys are escaped, hidden entries and
    # rows left out, a list of records with repeated ids is a value list
    d = document(SHELVES)
    views = Viewers(d)
    clients = Clients()
    clients.feed(views.connect(ALICE))
    clients.feed(views.connect(BOB))
    script = [("put", "@o", 1), ("put", "a", 2), ("put", "h", 13), ("add", "@o", 3), ("add", "h", 4),
              ("add", "a", 13), ("set", "@o", 13), ("set", "@o", 4), ("put", "@", 5), ("add", "@", 6),
              ("put", "h", 7)]
    for channel, key, value in script:
        d.send(ALICE, channel, {"k": key, "v": value}, now=T0)
        clients.feed(views.after_commit())
        for who in (ALICE, BOB):
            assert_current(d, clients, who)
    view = clients.view(BOB)
    assert view["boards"] == {"@o": {"w": 1, "cells": [{"id": 1, "v": 4}]}, "a": {"w": 2, "cells": []},
                              "@": {"w": 5, "cells": [{"id": 1, "v": 6}]},
                              "h": {"w": 7, "cells": []}}  # a new board: the hidden one's row went with it
    assert view["pair"][0] == view["pair"][1] == {"id": 0, "w": 0, "cells": view["b"]["cells"]}
    assert clients.encoded(BOB)["pair"]["@s"] == 2


LOBBY = """
record Cell {
  public int v;
  public formula twice = v * 2;
  use_policy<odd> int x;
  policy odd {
    return v % 2 == 1;
  }
}

record Game {
  public int w;
  table<Cell> _cells;
  public formula cells = iterate _cells;
}

public map<int, Game> games;

message Op {
  int k;
  int v;
}

@connected {
  return true;
}

channel open(Op o) {
  games[o.k] = {w: o.v};
  if (games[o.k] as g) {
    for (int i = 0; i < 5; i++) {
      g._cells <- {v: i};
    }
  }
}

channel close(Op o) {
  games.remove(o.k);
}
"""


def test_what_views_cache_for_rows_of_replaced_nested_tables_is_let_go():
    # a game replaced or closed takes its table's rows with it, without a
    # delete; what views cached for them (policies, formulas, encodings) must
    # not pile up game after game
    d = document(LOBBY)
    views = Viewers(d)
    clients = Clients()
    for who in (ALICE, BOB):
        clients.feed(views.connect(who))
    for n in range(1, 401):
        d.send(ALICE, "open", {"k": n % 3, "v": n}, now=T0)
        clients.feed(views.after_commit())
        if n % 7 == 0:
            d.send(ALICE, "close", {"k": n % 3, "v": n}, now=T0)
            clients.feed(views.after_commit())
    # 400 games of 5 rows were seen; at most 3 are open
    assert len(views.row_cache) < 400 and len(views.rf_cache) < 400
    assert all(len(views.viewers[who].row_pol) < 400 for who in views.connected())
    for who in (ALICE, BOB):
        assert_current(d, clients, who)
