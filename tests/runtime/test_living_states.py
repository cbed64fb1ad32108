"""The state machine, the input queue and the lifecycle of a LivingDocument
(issue 4 points 1, 3 and 4; spec/language.md 4.17-4.21, 6.9-6.11, 8)."""
from __future__ import annotations

from pathlib import Path

from living_kit import (DAY, HOUR, SECOND, T0, PlainViewers, asks, errors, fingerprint, living,
                             restore, to)

from advm.runtime.living import QUEUE_LIMIT

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

MACHINE = """
message Go { int delay; }
message Nothing { bool x; }
public string log;
public bool started;
public bool touched;
public int invoked;

channel go_a(Go g) {
  transition #a in g.delay;
}

channel go_b(Go g) {
  transition #b in g.delay;
}

channel start(Nothing n) {
  started = true;
  transition #fails;
}

channel setup(Nothing n) {
  transition #setup;
}

#a {
  log = log + "a";
}

#b {
  log = log + "b";
}

#fails {
  touched = true;
  abort;
}

#setup {
  invoke #count;
  invoke #count;
  log = log + "s";
}

#count {
  invoked += 1;
}
"""


def machine():
    d = living(MACHINE, viewers=PlainViewers)
    d.create("host", None, T0)
    return d


def test_a_transition_runs_in_its_own_transaction_after_the_current_one_commits():
    d = machine()
    frames = d.send("ann", "start", {}, T0)
    # The channel's writes committed; the state's abort undid only the state's own.
    assert errors(frames) == []
    assert d.engine.field("started") is True and d.engine.field("touched") is False
    assert d.engine.state == "fails" and d.pending is None


def test_a_delayed_transition_fires_when_document_time_reaches_it():
    d = machine()
    d.send("ann", "go_a", {"delay": 60}, T0)
    assert d.pending.label == "a" and d.pending.due == T0 + 60 * SECOND
    assert d.next_due() == T0 + 60 * SECOND
    d.advance(T0 + 59 * SECOND)
    assert d.engine.field("log") == ""
    d.advance(T0 + 60 * SECOND)
    assert d.engine.field("log") == "a" and d.pending is None and d.engine.state == "a"


def test_the_last_transition_wins():
    d = machine()
    d.send("ann", "go_a", {"delay": 10}, T0)
    d.send("ann", "go_b", {"delay": 20}, T0 + SECOND)
    d.advance(T0 + HOUR)
    assert d.engine.field("log") == "b"
    d.send("ann", "go_b", {"delay": 5}, T0 + HOUR)
    d.send("ann", "go_a", {"delay": 50}, T0 + HOUR)
    d.advance(T0 + 2 * HOUR)
    assert d.engine.field("log") == "ba"


def test_due_timers_run_before_a_later_input():
    d = machine()
    d.send("ann", "go_a", {"delay": 10}, T0)
    # The input at T0 + 11 s comes after the timer in document time, so the timer runs first.
    d.send("ann", "go_b", {"delay": 0}, T0 + 11 * SECOND)
    assert d.engine.field("log") == "ab"


def test_invoke_runs_a_state_inline_without_changing_the_label():
    d = machine()
    d.send("ann", "setup", {}, T0)
    assert d.engine.field("invoked") == 2 and d.engine.field("log") == "s"
    assert d.engine.state == "setup"


LOOP = """
public int spins;
@construct {
  transition #spin;
}
#spin {
  spins += 1;
  transition #spin;
}
"""


def test_a_state_that_transitions_to_itself_forever_does_not_hang_the_host():
    d = living(LOOP, viewers=PlainViewers)
    d.create("host", None, T0)
    assert d.engine.field("spins") == 1000 and d.pending is not None
    d.advance(T0)
    assert d.engine.field("spins") == 2000


def test_a_delayed_transition_that_fires_while_a_block_waits_cancels_it():
    d = living((EXAMPLES / "approval.adb").read_text(), viewers=PlainViewers)
    d.create("rita@corp", {"title": "desk", "amount": 500, "manager": "mia@corp", "director": "dora@corp"}, T0)
    assert d.asks_for("mia@corp") == [{"id": 1, "channel": "manager_decision", "kind": "fetch"}]
    frames = d.advance(T0 + 2 * DAY)
    assert to(frames, "mia@corp", "ask_closed") == [{"to": "mia@corp", "ask_closed": 1}]
    assert asks(frames, "dora@corp") == [{"id": 2, "channel": "director_decision", "kind": "fetch"}]
    assert d.engine.field("status") == "Escalated" and d.engine.state == "waitForDirector"
    frames = d.answer("mia@corp", 1, {"approve": True, "comment": ""}, T0 + 2 * DAY)
    assert [e["code"] for e in errors(frames)] == ["stale_ask"]
    d.answer("dora@corp", 2, {"approve": True, "comment": "ok"}, T0 + 3 * DAY)
    assert d.engine.field("status") == "Approved"


def test_a_transition_from_a_channel_ends_the_wait_too():
    d = living((EXAMPLES / "approval.adb").read_text(), viewers=PlainViewers)
    d.create("rita@corp", {"title": "desk", "amount": 500, "manager": "mia@corp", "director": "dora@corp"}, T0)
    frames = d.send("rita@corp", "withdraw", {"reason": "bought one"}, T0 + HOUR)
    assert to(frames, "mia@corp", "ask_closed") == [{"to": "mia@corp", "ask_closed": 1}]
    assert d.engine.field("status") == "Withdrawn" and d.pending is None and d.engine.cont is None


# ---------------------------------------------------------------- the queue

def test_the_queue_holds_256_inputs_and_refuses_more():
    d = machine()
    for k in range(QUEUE_LIMIT):
        assert d.enqueue({"op": "send", "who": "ann", "channel": "go_a", "message": {"delay": k},
                          "now": T0}) == []
    refused = d.enqueue({"op": "send", "who": "bob", "channel": "go_a", "message": {"delay": 1}, "now": T0})
    assert refused == [{"to": "bob@", "error": {"code": "queue_full", "message": refused[0]["error"]["message"]}}]
    assert "256" in refused[0]["error"]["message"]
    assert errors(d.pump()) == [] and len(d.queue) == 0
    # Processed one at a time, in order: the last one's delay is the pending one.
    assert d.pending.due == T0 + (QUEUE_LIMIT - 1) * SECOND
    assert d.enqueue({"op": "advance", "now": T0}) == []


def test_inputs_are_checked():
    d = living(MACHINE, viewers=PlainViewers)
    assert [e["code"] for e in errors(d.send("ann", "go_a", {"delay": 1}, T0))] == ["not_created"]
    d.create("host", None, T0)
    assert [e["code"] for e in errors(d.apply({"op": "fly", "who": "ann", "now": T0}))] == ["input"]
    assert [e["code"] for e in errors(d.apply({"op": "send", "who": "ann", "channel": "go_a"}))] == ["input"]
    assert [e["code"] for e in errors(d.send("ann", "nope", {}, T0))] == ["input"]
    assert [e["code"] for e in errors(d.send("ann", "go_a", {"delay": "x"}, T0))] == ["input"]


# ---------------------------------------------------------------- lifecycle

LIFE = """
message Init { string title; }
message Note { string text; }
readonly principal owner;
public string title;
public int online;
public int constructs;
public int loads;
public int refused;
public bool open = true;

@construct (Init m) {
  owner = @who;
  title = m.title;
  constructs += 1;
  if (m.title == "") {
    abort;
  }
}

@load {
  loads += 1;
}

@connected {
  if (@who == owner || title != "private") {
    online += 1;
    return true;
  }
  refused += 1;
  return false;
}

@disconnected {
  online -= 1;
}

@delete {
  return @who == owner && !open;
}

channel close(Note n) {
  open = false;
}

channel end(Note n) {
  @destroy;
}

channel fail(Note n) {
  open = false;
  abort;
}
"""


def test_construct_runs_once_with_its_argument():
    d = living(LIFE, viewers=PlainViewers)
    frames = d.create("olga", {"title": ""}, T0)
    assert [e["code"] for e in errors(frames, "olga")] == ["abort"] and not d.engine.created
    assert [e["code"] for e in errors(d.create("olga", {"title": 3}, T0))] == ["input"]
    assert d.create("olga", {"title": "notes"}, T0) == []
    assert d.engine.field("title") == "notes" and d.engine.field("constructs") == 1
    assert [e["code"] for e in errors(d.create("olga", {"title": "again"}, T0))] == ["already_created"]
    assert d.engine.field("constructs") == 1


def test_connected_decides_and_its_writes_commit_either_way():
    d = living(LIFE, viewers=PlainViewers)
    d.create("olga", {"title": "private"}, T0)
    frames = d.connect("olga", T0)
    assert frames[0] == {"to": "olga@", "connected": True}
    assert frames[1]["to"] == "olga@" and frames[1]["seq"] == 1 and frames[1]["delta"]["online"] == 1
    frames = d.connect("pete", T0)
    assert to(frames, "pete", "connected") == [{"to": "pete@", "connected": False}]
    assert to(frames, "pete", "delta") == [] and d.engine.field("refused") == 1
    assert [e["code"] for e in errors(d.connect("olga", T0))] == ["already_connected"]
    frames = d.disconnect("olga", T0)
    assert frames == [{"to": "olga@", "connected": False}] and d.engine.field("online") == 0
    assert [e["code"] for e in errors(d.disconnect("olga", T0))] == ["not_connected"]


def test_without_connected_nobody_connects():
    d = living("public int x;", viewers=PlainViewers)
    d.create("olga", None, T0)
    assert d.connect("olga", T0) == [{"to": "olga@", "connected": False}]


def test_load_runs_at_every_restore():
    d = living(LIFE, viewers=PlainViewers)
    d.create("olga", {"title": "t"}, T0)
    d.connect("olga", T0)
    twin = restore(d, PlainViewers)
    assert twin.engine.field("loads") == 1
    # What @load changed reaches the restored viewers with the next input's frames.
    frames = twin.advance(T0 + SECOND)
    assert to(frames, "olga", "delta") == [{"to": "olga@", "delta": {"loads": 1}, "seq": 2}]
    assert restore(twin, PlainViewers).engine.field("loads") == 2


def test_delete_asks_the_document_and_destroys_it_when_allowed():
    d = living(LIFE, viewers=PlainViewers)
    d.create("olga", {"title": "t"}, T0)
    d.connect("pete", T0)
    allowed, frames = d.delete("olga", T0)
    assert not allowed and [e["code"] for e in errors(frames)] == ["delete_refused"]
    d.send("olga", "close", {}, T0)
    allowed, frames = d.delete("pete", T0)
    assert not allowed and not d.destroyed
    allowed, frames = d.delete("olga", T0)
    assert allowed and d.destroyed
    assert to(frames, "pete", "connected") == [{"to": "pete@", "connected": False}]
    frames = d.send("olga", "close", {}, T0)
    assert [e["code"] for e in errors(frames)] == ["destroyed"]


def test_destroy_from_code_or_host_ends_the_document():
    d = living(LIFE, viewers=PlainViewers)
    d.create("olga", {"title": "t"}, T0)
    d.connect("olga", T0)
    frames = d.send("olga", "end", {}, T0)
    assert frames == [{"to": "olga@", "connected": False}] and d.destroyed
    assert [e["code"] for e in errors(d.connect("olga", T0))] == ["destroyed"]
    assert d.next_due() is None
    e = living(LIFE, viewers=PlainViewers)
    e.create("olga", {"title": "t"}, T0)
    e.destroy(T0)
    assert [x["code"] for x in errors(e.send("olga", "close", {}, T0))] == ["destroyed"]
    assert restore(e, PlainViewers).destroyed


def test_a_refused_event_leaves_no_trace():
    d = living(LIFE, viewers=PlainViewers)
    d.create("olga", {"title": "t"}, T0)
    d.connect("olga", T0)
    before = fingerprint(d)
    frames = d.send("olga", "fail", {}, T0 + DAY)
    assert [e["code"] for e in errors(frames)] == ["abort"] and len(frames) == 1
    assert fingerprint(d) == before  # not even the clock moved


INVOKED_WAIT = """
message Ok { bool ok; }
message Go { bool go; }
channel<Ok> confirm;
public principal boss;
public int rounds;
public int done;

@construct {
  boss = @who;
  transition #outer;
}

channel restart(Go g) {
  transition #outer;
}

#outer {
  rounds += 1;
  invoke #inner;
}

#inner {
  Ok o = confirm.fetch(boss).await();
  done += 1;
}
"""


def test_cancelling_a_block_that_waits_inside_invoke_lets_it_be_invoked_again():
    d = living(INVOKED_WAIT, viewers=PlainViewers)
    frames = d.create("bea", None, T0)
    assert asks(frames, "bea") == [{"id": 1, "channel": "confirm", "kind": "fetch"}]
    frames = d.send("bea", "restart", {"go": True}, T0 + SECOND)
    assert errors(frames) == [] and d.engine.field("rounds") == 2
    assert to(frames, "bea", "ask_closed") == [{"to": "bea@", "ask_closed": 1}]
    assert asks(frames, "bea") == [{"id": 2, "channel": "confirm", "kind": "fetch"}]
    d.answer("bea", 2, {"ok": True}, T0 + 2 * SECOND)
    assert d.engine.field("done") == 1 and d.engine.cont is None
