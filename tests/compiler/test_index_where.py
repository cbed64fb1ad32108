"""`iterate t where f == k` on an indexed field: when the lookup gives exactly
the rows the `where` keeps, the `where` is not run again over them
(compiler/gen_query.py `answers_where`). The answers must stay those of a scan
through indexed writes, deletes and rolled-back transactions."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from runkit import document

from advm.compiler import compile_source
from advm.compiler.build import build_module
from advm.vm.disasm import disasm
from advm.vm.docslots import principal

SRC = """
record Item {
  public int id;
  public principal owner;
  public int tag;
  public double w;
  %(index)s
}

table<Item> _items;

message Add { int tag; double w; }
message Tag { int from; int to; bool fail; }

channel add(principal who, Add a) {
  _items <- {owner: who, tag: a.tag, w: a.w};
}

channel retag(principal who, Tag t) {
  int from = t.from;
  (iterate _items where tag == from).tag = t.to;
  if (t.fail) { abort; }
}

channel drop(principal who, Tag t) {
  int from = t.from;
  (iterate _items where tag == from).delete();
}

procedure mine(principal p) -> list<int> readonly {
  return (iterate _items where owner == p).id;
}

procedure tagged(int k) -> list<int> readonly {
  int key = k;
  return (iterate _items where tag == key).id;
}

procedure both(principal p, int k) -> list<int> readonly {
  return (iterate _items where owner == p && tag == k).id;
}

procedure widened(long k) -> list<int> readonly {
  return (iterate _items where tag == k).id;
}
"""


def body(text: str, name: str) -> str:
    start = text.index(f"function fn.{name}")
    end = text.find("\nfunction ", start)
    return text[start:end if end >= 0 else len(text)]


def test_only_exact_single_comparisons_skip_the_where():
    src = SRC % {"index": "index owner; index tag;"}
    text = disasm(build_module(compile_source(src, "i.adb")), src)
    for name in ("mine", "tagged"):  # the lookup is the answer: no filter loop
        assert "table.lookup" in body(text, name) and "LPUSH" not in body(text, name)
    # two conditions, or a key of a wider type than the field: the where still runs
    for name in ("both", "widened"):
        assert "table.lookup" in body(text, name) and "LPUSH" in body(text, name)


OPS = st.lists(st.tuples(st.sampled_from(["add", "retag", "retag_fail", "drop"]),
                         st.integers(0, 4), st.integers(0, 4), st.sampled_from("pqr")),
               max_size=30)


@settings(max_examples=30, deadline=None)
@given(OPS)
def test_indexed_lookups_agree_with_scans(ops):
    docs = [document(SRC % {"index": "index owner; index tag;"}),
            document(SRC % {"index": ""})]
    for op, a, b, who in ops:
        who = principal(who, "users")
        for d in docs:
            if op == "add":
                d.send(who, "add", {"tag": a, "w": b / 2})
            elif op == "drop":
                d.send(who, "drop", {"from": a, "to": b, "fail": False})
            else:
                try:
                    d.send(who, "retag", {"from": a, "to": b, "fail": op == "retag_fail"})
                except Exception:
                    assert op == "retag_fail"
    answers = []
    for d in docs:
        answers.append((
            [d.transaction("fn.mine", principal(w, "users")) for w in "pqrs"],
            [d.transaction("fn.tagged", k) for k in range(6)],
            [d.transaction("fn.both", principal(w, "users"), k) for w in "pq" for k in range(5)],
            [d.transaction("fn.widened", k + (1 << 32) * (k % 2)) for k in range(5)],
        ))
    assert answers[0] == answers[1]
