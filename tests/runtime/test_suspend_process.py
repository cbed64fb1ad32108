"""Suspension through the language (issue 3 point 8, spec/language.md section 8):
a state block stopped at `fetch(...).await()` with live locals is saved while
it waits -- the document's snapshot plus its Continuation, both CBOR --
restored in a NEW PROCESS, answered there, and finishes exactly like the run
that never left the first process: same snapshot bytes, same JSON state, and
the values the spec says.

The documents cover live locals of every bank across the await, a loop that
awaits several times, `abort` after an await (rolls back to the await and
asks again, 8.4), another event while waiting (8.2), an await inside an
invoked state (two frames saved), and examples/approval.adb."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from runkit import ALICE, BOB, T0, TransactionError

from advm.compiler.build import build_source
from advm.runtime.engine import Engine
from advm.vm.snapshot import dumps_values, loads_values

HERE = Path(__file__).resolve().parent
EXAMPLES = HERE.parents[1] / "examples"

COLLECT = """
message Answer { int value; string note; }
message Poke { int by; }

record Entry {
  public int id;
  public int value;
  public string note;
  public long waited;
}

channel<Answer> answer;
table<Entry> _entries;
private principal asker;
public int wanted = 3;
public int total;
public double mean;
public string trail;
public int pokes;
public string scratch_seen;

@construct {
  asker = @who;
  transition #collect;
}

channel poke(Poke p) {
  pokes += p.by;
  trail = trail + "poke;";
}

#collect {
  int k = 0;
  long started = Time.now();
  double sum = 0.5;
  string joined = "<";
  bool odd = false;
  Entry scratch;
  scratch.note = "fresh";
  while (k < wanted) {
    trail = trail + "ask" + k + ";";
    Answer a = answer.fetch(asker).await();
    // Writes to a local record after the await; an abort must not leak them
    // into the retry (the local is as it was at the checkpoint).
    scratch_seen = scratch_seen + scratch.note + ",";
    scratch.note = "dirty";
    total += a.value;
    if (a.value < 0) {
      abort;
    }
    scratch.note = "clean" + k;
    sum += a.value;
    joined = joined + a.note;
    odd = !odd;
    _entries <- {value: a.value, note: a.note, waited: Time.now() - started};
    k += 1;
  }
  if (sum / k as m) {
    mean = m;
  }
  trail = trail + joined + ">" + odd + pokes;
  transition #done;
}

#done {
  trail = trail + "|done";
}
"""

NESTED = """
message Answer { int value; string note; }
channel<Answer> answer;
private principal asker;
public string trail;
public long product = 1L;

@construct {
  asker = @who;
  transition #outer;
}

#outer {
  int before = 7;
  double ratio = 0.25;
  string tag = "outer";
  long big = 9000000000L;
  invoke #inner;
  trail = trail + tag + before + ":" + ratio + ":" + (big + product);
  transition #finish;
}

#inner {
  string mine = "inner";
  Answer a = answer.fetch(asker).await();
  product = product * a.value;
  trail = trail + mine + a.note + ";";
}

#finish {
  trail = trail + "|finished";
}
"""

SOURCES = {
    "collect": (COLLECT, "collect.adb"),
    "nested": (NESTED, "nested.adb"),
    "approval": ((EXAMPLES / "approval.adb").read_text(), "approval.adb"),
}


def module(name: str):
    text, filename = SOURCES[name]
    return build_source(text, filename)


# ---------------------------------------------------------------- steps and state as data


def step(doc: Engine, s: list) -> None:
    """One event: ["create", who, arg, now], ["transition", now],
    ["answer", message type, json, now], ["refused", message type, json, now, kind]
    (an answer whose transaction fails: the code must still be waiting),
    ["send", who, channel, json, now]."""
    kind = s[0]
    if kind == "create":
        doc.create(s[1], s[2], now=s[3])
    elif kind == "transition":
        assert doc.pending is not None, "nothing pending"
        doc.run_transition(now=s[1])
    elif kind == "answer":
        assert doc.cont is not None, "nothing is waiting"
        doc.resume(doc.message(s[1], s[2]), now=s[3])
    elif kind == "refused":
        waiting = doc.waiting
        with pytest.raises(TransactionError) as info:
            doc.resume(doc.message(s[1], s[2]), now=s[3])
        assert info.value.kind == s[4]
        assert doc.cont is not None and doc.waiting == waiting  # 8.4: still asking
    else:
        doc.send(s[1], s[2], s[3], now=s[4])


def pack(doc: Engine) -> dict:
    """Everything of the document between events -- fields, PRNG, the waiting
    code as data, the open asks -- as CBOR (Engine.export), and, to compare
    machines, its machine snapshot."""
    return {"state": dumps_values(doc.export()).hex(), "snapshot": doc.snapshot().hex()}


def unpack(mod, packed: dict) -> Engine:
    return Engine.from_export(mod, loads_values(bytes.fromhex(packed["state"])))


def waiting_code(packed: dict):
    """The saved Continuation, or None."""
    return loads_values(bytes.fromhex(packed["state"]))["cont"]


def run(name: str, steps: list, packed: dict | None = None) -> dict:
    mod = module(name)
    doc = Engine(mod, key="susp") if packed is None else unpack(mod, packed)
    for s in steps:
        step(doc, s)
    return {**pack(doc), "fields": doc.fields()}


SCRIPT = """
import importlib.util, json, sys
sys.path.insert(0, {tests!r})
spec = importlib.util.spec_from_file_location("suspend_process_session", {path!r})
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
job = json.load(sys.stdin)
print(json.dumps(m.run(job["name"], job["steps"], job["packed"])))
"""


def in_new_process(name: str, packed: dict, steps: list) -> dict:
    proc = subprocess.run([sys.executable, "-c", SCRIPT.format(tests=str(HERE.parent), path=__file__)],
                          input=json.dumps({"name": name, "steps": steps, "packed": packed}),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def assert_same(got: dict, want: dict) -> None:
    assert got["fields"] == want["fields"]
    assert got["state"] == want["state"], "exported state differs from the uninterrupted run"
    assert got["snapshot"] == want["snapshot"], "snapshot bytes differ from the uninterrupted run"


def answer(value: int, note: str, now: int) -> list:
    return ["answer", "Answer", {"value": value, "note": note}, now]


# ---------------------------------------------------------------- the tests


COLLECT_START = [["create", ALICE, None, T0], ["transition", T0 + 10]]
COLLECT_FIRST = [answer(4, "a", T0 + 1_000),
                 ["send", BOB, "poke", {"by": 2}, T0 + 1_500],
                 ["refused", "Answer", {"value": -9, "note": "bad"}, T0 + 2_000, "abort"]]
COLLECT_REST = [answer(5, "b", T0 + 3_000), answer(7, "c", T0 + 4_000), ["transition", T0 + 5_000]]


def test_collect_restored_in_new_processes_finishes_like_the_uninterrupted_run():
    reference = run("collect", COLLECT_START + COLLECT_FIRST + COLLECT_REST)
    waiting = run("collect", COLLECT_START)
    assert waiting_code(waiting) is not None
    middle = in_new_process("collect", waiting, COLLECT_FIRST)
    assert waiting_code(middle) is not None  # still waiting, at the second ask
    assert middle == run("collect", COLLECT_START + COLLECT_FIRST)
    final = in_new_process("collect", middle, COLLECT_REST)
    assert_same(final, reference)


def test_collect_ends_with_the_values_the_spec_gives():
    f = run("collect", COLLECT_START + COLLECT_FIRST + COLLECT_REST)["fields"]
    # Writes before each await committed (8.1); the refused answer's writes,
    # its `total += -9` included, were undone and it was asked again (8.4);
    # the poke ran while the code waited and the resumed code saw it (8.2).
    assert f["trail"] == "ask0;ask1;poke;ask2;<abc>true2|done"
    assert f["total"] == 16 and f["pokes"] == 2
    assert f["mean"] == (0.5 + 16) / 3
    assert [(e["value"], e["note"], e["waited"]) for e in f["_entries"]] == [
        (4, "a", 990), (5, "b", 2_990), (7, "c", 3_990)]  # `started` (T0 + 10) survived as a live local
    # Appended right after each await (the refused run's append is undone with
    # it): the retry of the second await sees the local record as it was at
    # that await ("clean0"), not as the refused run left it ("dirty").
    assert f["scratch_seen"] == "fresh,clean0,clean1,"


def test_the_saved_continuation_holds_the_live_locals():
    cont = waiting_code(run("collect", COLLECT_START))
    assert len(cont.frames) == 1
    assert cont.payload["kind"] == "fetch" and cont.payload["who"] == ALICE
    assert "<" in [v for v in cont.obank if isinstance(v, str)]  # `joined`
    nested = waiting_code(run("nested", [["create", ALICE, None, T0], ["transition", T0]]))
    assert len(nested.frames) == 2  # #outer's frame under #inner's
    assert {"outer", "inner"} <= {v for v in nested.obank if isinstance(v, str)}


NESTED_START = [["create", ALICE, None, T0], ["transition", T0 + 1]]
NESTED_REST = [answer(6, "!", T0 + 60_000), ["transition", T0 + 60_001]]


def test_an_await_inside_an_invoked_state_resumes_in_a_new_process():
    reference = run("nested", NESTED_START + NESTED_REST)
    final = in_new_process("nested", run("nested", NESTED_START), NESTED_REST)
    assert_same(final, reference)
    assert final["fields"]["trail"] == "inner!;outer7:0.25:9000000006|finished"
    assert final["fields"]["product"] == 6


APPROVAL_START = [
    ["create", ALICE, {"title": "laptop", "amount": 25000, "manager": "mia@corp", "director": "dora@corp"}, T0],
    ["transition", T0 + 1],
]
APPROVAL_REST = [
    ["refused", "Decision", {"approve": False, "comment": "  "}, T0 + 3_600_000, "abort"],
    ["answer", "Decision", {"approve": True, "comment": "ok"}, T0 + 7_200_000],
    ["transition", T0 + 7_200_001],  # amount above the threshold: the director is asked
    ["answer", "Decision", {"approve": True, "comment": "fine"}, T0 + 9_000_000],
    ["transition", T0 + 9_000_001],
]


def test_the_approval_example_waits_across_processes():
    reference = run("approval", APPROVAL_START + APPROVAL_REST)
    waiting = run("approval", APPROVAL_START)
    assert waiting["fields"]["status"] == "Pending"
    final = in_new_process("approval", waiting, APPROVAL_REST)
    assert_same(final, reference)
    f = final["fields"]
    assert f["status"] == "Approved" and f["steps"] == 2
    assert [(h["role"], h["comment"]) for h in f["history"]] == [("manager", "ok"), ("director", "fine")]
