"""`order by id` over a table needs no sort (compiler/gen_query.py): rows are
kept in id order, so ascending is the order they come in and descending the
reverse, and `order by id desc limit n` takes the newest n rows straight from
the table (vm/table.py `newest`). Checked against the same queries done in
Python on the rows, over random inserts, deletes and aborted transactions."""
from __future__ import annotations

import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from runkit import ALICE, T0, document  # noqa: E402

from advm.runtime.engine import TransactionError  # noqa: E402

SOURCE = """
record R {
  public int id;
  public int v;
  public int g;
  index g;
}
table<R> _t;
public formula newest3 = iterate _t order by id desc limit 3;
public formula all_desc = iterate _t order by id desc;
public formula all_asc = iterate _t order by id;
public formula by_two = iterate _t order by id, v desc;
public formula odd_newest = iterate _t where g == 1 order by id desc limit 2;
public formula skip_desc = iterate _t order by id desc offset 2 limit 2;
public formula first_four_desc = iterate _t limit 4 order by id desc;
public formula by_v = iterate _t order by v desc limit 3;
public formula none = iterate _t order by id desc limit 0;
message M { int v; int g; bool fail; }
channel add(M m) {
  _t <- {v: m.v, g: m.g};
  if (m.fail) {
    abort;
  }
}
channel drop(M m) {
  (iterate _t where id == m.v).delete();
  if (m.fail) {
    abort;
  }
}
"""

ops = st.lists(st.tuples(st.sampled_from(["add", "add", "drop"]), st.integers(0, 12), st.integers(0, 1),
                         st.booleans()), max_size=30)


def expected(rows: list[dict]) -> dict:
    """The queries over plain rows (in id order), the slow way."""
    def by(key, reverse=False):
        return sorted(rows, key=key, reverse=reverse)

    asc = by(lambda r: r["id"])
    desc = by(lambda r: r["id"], True)
    return {
        "newest3": desc[:3], "all_desc": desc, "all_asc": asc, "by_two": asc,
        "odd_newest": [r for r in desc if r["g"] == 1][:2], "skip_desc": desc[2:][:2],
        "first_four_desc": sorted(asc[:4], key=lambda r: r["id"], reverse=True),
        "by_v": sorted(asc, key=lambda r: r["v"], reverse=True)[:3], "none": [],
    }


@settings(max_examples=60, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(ops)
def test_order_by_id_matches_sorting(script):
    d = document(SOURCE)
    for kind, v, g, fail in script:
        try:
            d.send(ALICE, kind, {"v": v, "g": g, "fail": fail}, now=T0)
        except TransactionError:
            pass
        rows = d.fields(formulas=False)["_t"]
        for name, want in expected(rows).items():
            assert d.field(name) == want, name
