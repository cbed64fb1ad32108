"""A document's creates and sends to other documents in the runtime (spec/
language.md 4.32, runtime.md 2): one call at a time per target document, in
the order made; the receiver's inbox runs each [sender, number] once and
survives its snapshot; @connected asked once per sender."""
from __future__ import annotations

import json

from advm.compiler import compile_source
from advm.compiler.build import build_module
from advm.runtime.living import LivingDocument
from advm.views.viewers import Viewers

T = 1_700_000_000_000
TARGET = """
@static { create { return true; } }
message Note { int n; }
public int total;
public int hellos;
public list<int> seen;
@connected {
  hellos++;
  return @who.authority() == "doc:sender";
}
channel note(Note m) {
  if (m.n < 0) {
    abort;
  }
  total += m.n;
}
"""
SENDER = """
@static { create { return true; } }
space target;
message Go { int n; }
channel go(Go g) {
  let a = target.note("t1", {n: 1});
  let b = target.note("t1", {n: 2});
  let c = target.note("t2", {n: 3});
  let d = target.note("t1", {n: 4});
}
"""


def build(text, name):
    comp = compile_source(text, name, lambda n: (TARGET, "target.adb") if n == "target" else None)
    assert comp.ok, comp.render()
    return build_module(comp)


def test_calls_to_one_document_go_one_at_a_time_in_order():
    living = LivingDocument(build(SENDER, "sender.adb"), key="s", viewers=Viewers)
    living.create("owner@", None, T)
    living.send("owner@", "go", {"n": 1}, T)
    first = living.service_calls()
    # t1's first call and t2's: t1's later ones wait for the first one's result.
    assert [(c["who"], json.loads(c["request"])["n"]) for c in first] == [("t1", 1), ("t2", 3)]
    assert all(c["space"] and c["service"] == "target" and c["method"] == "note" for c in first)
    living.apply({"op": "result", "call": first[0]["call"], "result": {"value": {"space": "target", "key": "t1"}},
                  "now": T + 1})
    second = living.service_calls()
    assert [(c["who"], json.loads(c["request"])["n"]) for c in second] == [("t1", 2), ("t2", 3)]
    assert second[0]["call"] > first[0]["call"]


def test_the_receiver_runs_each_number_once_and_keeps_them_in_its_snapshot():
    module = build(TARGET, "target.adb")
    living = LivingDocument(module, key="t1", viewers=Viewers)
    living.create("owner@", None, T)
    who = "s@doc:sender"

    def send(n, seq, channel="note"):
        frames = living.apply({"op": "send", "who": who, "channel": channel, "message": {"n": n},
                               "sender": ["sender/s", seq], "now": T})
        return [f["error"]["code"] for f in frames if "error" in f and f.get("to") == who]

    assert send(5, 1) == [] and living.engine.fields()["total"] == 5
    assert send(5, 1) == ["duplicate"] and living.engine.fields()["total"] == 5
    assert send(-1, 2) == ["abort"]  # refused: the number is not kept, it may come again
    assert send(7, 2) == [] and living.engine.fields()["total"] == 12
    assert living.engine.fields()["hellos"] == 1  # @connected once for this sender
    assert send(0, 2, "~created") == ["duplicate"] and send(0, 3, "~created") == ["already_created"]
    assert living.inbox == {"sender/s": 2}
    again = LivingDocument.restore(module, living.snapshot(), viewers=Viewers)
    assert again.inbox == {"sender/s": 2}
    frames = again.apply({"op": "send", "who": who, "channel": "note", "message": {"n": 9},
                          "sender": ["sender/s", 2], "now": T})
    assert [f["error"]["code"] for f in frames if "error" in f] == ["duplicate"]
    # Another document @connected refuses; a malformed sender is refused as input.
    frames = living.apply({"op": "send", "who": "x@doc:other", "channel": "note", "message": {"n": 1},
                           "sender": ["other/x", 1], "now": T})
    assert "connect_refused" in [f["error"]["code"] for f in frames if "error" in f]
    frames = living.apply({"op": "send", "who": who, "channel": "note", "message": {"n": 1},
                           "sender": ["sender/s"], "now": T})
    assert [f["error"]["code"] for f in frames if "error" in f] == ["input"]
    assert living.engine.fields()["total"] == 12


def test_limits_senders_kept_and_the_sender_name(monkeypatch):
    from advm.runtime import living as L

    monkeypatch.setattr(L, "MAX_SENDERS", 2)
    living = LivingDocument(build(TARGET, "target.adb"), key="t1", viewers=Viewers)
    living.create("owner@", None, T)

    def send(sender):
        frames = living.apply({"op": "send", "who": "s@doc:sender", "channel": "note", "message": {"n": 1},
                               "sender": [sender, 1], "now": T})
        return [f["error"]["code"] for f in frames if "error" in f]

    assert send("sender/a") == [] and send("sender/b") == []
    assert send("sender/c") == ["too_many_senders"]  # a third is refused, none forgotten
    assert send("sender/a") == ["duplicate"]
    assert send("s/" + "k" * 598) == ["too_many_senders"]  # 600 characters: a name, past the count
    assert send("s/" + "k" * 599) == ["input"]  # 601: not a sender


def test_at_most_64_spaces_in_a_document():
    names = [f"p{i}" for i in range(65)]
    text = "".join(f"space {n};\n" for n in names)
    comp = compile_source(text, "many.adb", lambda n: (TARGET, f"{n}.adb"))
    errors = [d for d in comp.diagnostics if d.severity == "error"]
    assert [d.code for d in errors] == ["E0533"] and "at most 64 spaces" in errors[0].message
    ok = compile_source("".join(f"space {n};\n" for n in names[:64]), "many.adb", lambda n: (TARGET, f"{n}.adb"))
    assert not [d for d in ok.diagnostics if d.severity == "error"], ok.render()
