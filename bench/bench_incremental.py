"""Issue 12 points 1-2: what a viewer adds to a commit, as the document grows.

Group `views-growth`: one insert into a table of 100, 10,000 and 100,000 rows
(the transaction and `after_commit()` together), with one viewer of
`public formula items = iterate _items;` connected, against the same insert
into the same table with nobody connected (`nobody-*`), measured in the same
run. Goal (issue 12): the insert at 100,000 rows costs at most 2x the insert
at 100 rows. Each round inserts one more row; the table grows by the rounds
(30 + warm-up), which is nothing next to its size.

Groups `views-growth-where` and `views-growth-order-limit`: the same inserts
with the viewer on `iterate _items where score % 2 == 0` (kept in place: the
clause runs on the new row alone) and on `iterate _items order by score desc
limit 10` (kept sorted: the new row placed by bisection; `from-rows`: the formula
evaluated by the machine over every row, as before issue 12), each new row
entering the view. The `nobody-*` baselines are the same.

`from-rows` cases run the encoder from before issue 12 (Viewers with
`incremental = False`, the tests' oracle) in the same run.

Group `views-growth-change`: an update of one row and a delete of one row
in the middle of a table of 100 and 100,000 rows, one viewer of `iterate
_items` against nobody connected.

Group `views-int`: a commit that bumps `public int n` with one viewer
connected, against the same commit with nobody connected (the baseline): the
difference is the added cost per commit of one viewer of one int (goal
<= 10 us). `private` is the same commit with a viewer connected but only a
private field changed (the dirty-check alone).

The fan-out goal (1,000 viewers, median per viewer <= 15 us) is
bench_views.py's `views` group.

Run: python -m pytest bench/bench_incremental.py --benchmark-enable   (see bench/README.md)
"""
from __future__ import annotations

import pytest

from advm.compiler.build import build_source
from advm.runtime.engine import Engine
from advm.views.viewers import Viewers
from advm.vm.docslots import principal

T0 = 1767225600000
ADA = principal("ada", "bench")

TABLE_SOURCE = """
record Item {
  public int id;
  public string text;
  public int score;
}

table<Item> _items;
public formula items = QUERY;

message Add { string text; int score; }

@connected {
  return true;
}

channel add(Add a) {
  _items <- {text: a.text, score: a.score};
}

message Ref { int id; }

channel bump(Ref r) {
  foreach (x in iterate _items where id == r.id) {
    x.score = x.score + 2;
  }
}

channel drop(Ref r) {
  (iterate _items where id == r.id).delete();
}
"""

INT_SOURCE = """
public int n;
private int vault;

message Go { int k; }

@connected {
  return true;
}

channel bump(Go g) {
  n = n + g.k;
}

channel hide(Go g) {
  vault = vault + g.k;
}
"""

SIZES = [100, 10_000, 100_000]
# the formula the viewer sees: the table whole (kept in place), a where clause
# (kept in place, the clause run on the new row), and an ordered, limited
# query (evaluated by the machine over every row: the documented fallback)
QUERIES = {"iterate": "iterate _items", "where": "iterate _items where score % 2 == 0",
           "order-limit": "iterate _items order by score desc limit 10"}
_modules: dict = {}


def _module(source: str):
    known = _modules.get(source)
    if known is None:
        known = _modules[source] = build_source(source, "bench.adb")
    return known


class FromRows(Viewers):
    """The encoder from before issue 12 (every table member encoded from its
    rows and diffed, every commit through the general way): the same-run
    reference for `from-rows` cases."""

    incremental = False


def table_doc(rows: int, viewer: bool, query: str = "iterate", views_class=Viewers):
    doc = Engine(_module(TABLE_SOURCE.replace("QUERY", QUERIES[query])), key="bench")
    doc.create(ADA, None, now=T0)
    for i in range(rows):
        doc.send(ADA, "add", {"text": f"row {i}", "score": i % 97}, now=T0)
    views = views_class(doc)
    if viewer:
        views.connect(ADA)
    return doc, views


def _insert_rounds(benchmark, doc, views, expect_frames: int):
    state = {"n": 0, "frames": None}

    def run():
        state["n"] += 1
        # even scores, so that the where clause keeps every new row; above
        # every other score, so that each enters the ordered query's top 10
        doc.send(ADA, "add", {"text": f"new {state['n']}", "score": 1000 + 2 * state["n"]}, now=T0)
        state["frames"] = views.after_commit()

    benchmark.pedantic(run, rounds=30, iterations=1, warmup_rounds=3)
    assert len(state["frames"]) == expect_frames
    return state["frames"]


@pytest.mark.benchmark(group="views-growth")
@pytest.mark.parametrize("rows", SIZES)
def test_insert_one_viewer(benchmark, rows):
    doc, views = table_doc(rows, viewer=True)
    frames = _insert_rounds(benchmark, doc, views, 1)
    delta = frames[0]["delta"]["items"]
    assert delta["@o"][0] == [0, len(doc.fields(formulas=False)["_items"]) - 2]
    benchmark.extra_info["rows"] = rows


@pytest.mark.benchmark(group="views-growth-where")
@pytest.mark.parametrize("rows", SIZES)
def test_insert_one_viewer_where(benchmark, rows):
    doc, views = table_doc(rows, viewer=True, query="where")
    frames = _insert_rounds(benchmark, doc, views, 1)
    assert len(frames[0]["delta"]["items"]) == 2  # the new row and the order
    benchmark.extra_info["rows"] = rows


@pytest.mark.benchmark(group="views-growth-order-limit")
@pytest.mark.parametrize("rows", SIZES)
@pytest.mark.parametrize("kind", ["kept", "from-rows"])
def test_insert_one_viewer_order_limit(benchmark, rows, kind):
    doc, views = table_doc(rows, viewer=True, query="order-limit",
                           views_class=Viewers if kind == "kept" else FromRows)
    frames = _insert_rounds(benchmark, doc, views, 1)
    delta = frames[0]["delta"]["items"]
    assert delta["@o"][1] == [0, 8] and list(delta.values()).count(None) == 1  # one row in, one out
    benchmark.extra_info["rows"] = rows


@pytest.mark.benchmark(group="views-growth")
@pytest.mark.parametrize("rows", SIZES)
def test_insert_one_viewer_from_rows(benchmark, rows):
    """The same insert through the encoder from before issue 12 (FromRows)."""
    doc, views = table_doc(rows, viewer=True, views_class=FromRows)
    frames = _insert_rounds(benchmark, doc, views, 1)
    assert frames[0]["delta"]["items"]["@o"][0] == [0, len(doc.fields(formulas=False)["_items"]) - 2]
    benchmark.extra_info["rows"] = rows


@pytest.mark.benchmark(group="views-growth")
@pytest.mark.parametrize("rows", SIZES)
def test_insert_nobody(benchmark, rows):
    """The baseline: the same insert with nobody connected."""
    doc, views = table_doc(rows, viewer=False)
    _insert_rounds(benchmark, doc, views, 0)
    benchmark.extra_info["rows"] = rows


def int_doc(viewer: bool, views_class=Viewers):
    doc = Engine(_module(INT_SOURCE), key="bench")
    doc.create(ADA, None, now=T0)
    views = views_class(doc)
    if viewer:
        views.connect(ADA)
    return doc, views


def _commit_rounds(benchmark, doc, views, channel: str, expect_frames: int):
    state = {"frames": None}
    msg = {"k": 1}

    def run():
        doc.send(ADA, channel, msg, now=T0)
        state["frames"] = views.after_commit()

    benchmark.pedantic(run, rounds=2000, iterations=1, warmup_rounds=50)
    assert len(state["frames"]) == expect_frames


@pytest.mark.benchmark(group="views-int")
def test_int_one_viewer(benchmark):
    doc, views = int_doc(viewer=True)
    _commit_rounds(benchmark, doc, views, "bump", 1)


@pytest.mark.benchmark(group="views-int")
def test_int_one_viewer_from_rows(benchmark):
    """The same commit through the general way (FromRows: before issue 12)."""
    doc, views = int_doc(viewer=True, views_class=FromRows)
    _commit_rounds(benchmark, doc, views, "bump", 1)


@pytest.mark.benchmark(group="views-int")
def test_int_private_one_viewer(benchmark):
    """A viewer connected, only a private field changed: the dirty-check alone."""
    doc, views = int_doc(viewer=True)
    _commit_rounds(benchmark, doc, views, "hide", 0)


@pytest.mark.benchmark(group="views-int")
def test_int_nobody(benchmark):
    """The baseline: the same commit with nobody connected."""
    doc, views = int_doc(viewer=False)
    _commit_rounds(benchmark, doc, views, "bump", 0)


@pytest.mark.benchmark(group="views-growth-change")
@pytest.mark.parametrize("rows", [100, 100_000])
@pytest.mark.parametrize("change", ["bump", "drop"])
@pytest.mark.parametrize("kind", ["kept", "nobody"])
def test_change_one_row(benchmark, rows, change, kind):
    """An update (`bump`: one field of one row) or a delete (`drop`) of a row
    in the middle of the table, one viewer of `iterate _items` (`kept`) or
    nobody connected (the baseline)."""
    doc, views = table_doc(rows, viewer=kind == "kept")
    state = {"n": 0, "frames": None}

    def run():
        state["n"] += 1
        doc.send(ADA, change, {"id": rows // 2 - 40 + state["n"]}, now=T0)
        state["frames"] = views.after_commit()

    benchmark.pedantic(run, rounds=30, iterations=1, warmup_rounds=3)
    assert len(state["frames"]) == (1 if kind == "kept" else 0)
    benchmark.extra_info["rows"] = rows
