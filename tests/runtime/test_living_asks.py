"""Channels, asks and durable await in a LivingDocument (issue 4 point 2,
spec/language.md 5.22 and 8)."""
from __future__ import annotations

from living_kit import SECOND, T0, PlainViewers, asks, errors, fingerprint, living, to

PARALLEL = """
message Answer { int value; }
message Note { string text; }
channel<Answer> answer;
public principal p1;
public principal p2;
public int total;
public int phase;
public int seen_notes;
public int notes_at_resume;
public int kept;

@connected {
  if (p1 == @no_one) {
    p1 = @who;
  } else if (p2 == @no_one && @who != p1) {
    p2 = @who;
    transition #collect;
  }
  return true;
}

channel note(Note n) {
  seen_notes += 1;
}

#collect {
  future<Answer> f1 = answer.fetch(p1);
  future<Answer> f2 = answer.fetch(p2);
  phase = 1;
  int before = seen_notes;
  Answer a1 = f1.await();
  // After a wait the code reads the document as it is now; its locals are as they were.
  notes_at_resume = seen_notes - before;
  kept = before;
  phase = 2;
  Answer a2 = f2.await();
  if (a2.value < 0) {
    abort;
  }
  total = a1.value + a2.value;
  phase = 3;
}
"""


def started(src=PARALLEL):
    d = living(src, viewers=PlainViewers)
    assert d.create("host", None, T0) == []
    d.connect("ann", T0)
    frames = d.connect("ben", T0)
    return d, frames


def test_asks_go_to_each_principal_and_the_checkpoint_commits():
    d, frames = started()
    assert asks(frames, "ann") == [{"id": 1, "channel": "answer", "kind": "fetch"}]
    assert asks(frames, "ben") == [{"id": 2, "channel": "answer", "kind": "fetch"}]
    # What ran before the await committed and viewers were told (phase = 1).
    assert any(f["delta"].get("phase") == 1 for f in to(frames, "ann", "delta"))
    assert d.engine.field("phase") == 1
    assert d.asks_for("ann") == [{"id": 1, "channel": "answer", "kind": "fetch"}]


def test_answers_in_order_resume_where_the_code_stopped():
    d, _ = started()
    frames = d.answer("ann", 1, {"value": 3}, T0 + SECOND)
    assert to(frames, "ann", "ask_closed") == [{"to": "ann@", "ask_closed": 1}]
    assert d.engine.field("phase") == 2
    frames = d.answer("ben", 2, {"value": 4}, T0 + 2 * SECOND)
    assert to(frames, "ben", "ask_closed") == [{"to": "ben@", "ask_closed": 2}]
    assert d.engine.field("total") == 7 and d.engine.field("phase") == 3
    assert d.engine.cont is None and d.asks_for("ann") == d.asks_for("ben") == []


def test_an_answer_before_its_await_is_kept_and_the_await_does_not_wait():
    d, _ = started()
    frames = d.answer("ben", 2, {"value": 4}, T0 + SECOND)
    # Nothing ran (the code still waits for ann): ben's ask closes, no view changes.
    assert frames == [{"to": "ben@", "ask_closed": 2}]
    assert d.engine.field("phase") == 1
    frames = d.answer("ann", 1, {"value": 3}, T0 + 2 * SECOND)
    assert d.engine.field("total") == 7 and d.engine.field("phase") == 3
    assert frames[-1] == {"to": "ann@", "ask_closed": 1}


def test_a_waiting_document_keeps_serving_other_channels():
    d, _ = started()
    for k in range(2):
        frames = d.send("ann", "note", {"text": f"n{k}"}, T0 + k)
        assert errors(frames) == [] and to(frames, "ben", "delta")
    d.answer("ann", 1, {"value": 1}, T0 + 5 * SECOND)
    assert d.engine.field("notes_at_resume") == 2  # read after the wait
    assert d.engine.field("kept") == 0  # a local from before the wait


def test_abort_after_an_await_that_did_not_wait_refuses_that_answer_only():
    d, _ = started()
    assert d.answer("ben", 2, {"value": -5}, T0 + SECOND) == [{"to": "ben@", "ask_closed": 2}]
    frames = d.answer("ann", 1, {"value": 3}, T0 + 2 * SECOND)
    # ann's answer is taken (phase 2 committed); ben's is refused and he is asked again, same ask.
    assert d.engine.field("phase") == 2 and d.engine.field("total") == 0
    assert to(frames, "ann", "ask_closed") == [{"to": "ann@", "ask_closed": 1}]
    assert [e["code"] for e in errors(frames, "ben")] == ["abort"]
    assert "ask 2 was refused" in errors(frames, "ben")[0]["message"]
    assert asks(frames, "ben") == [{"id": 2, "channel": "answer", "kind": "fetch"}]
    frames = d.answer("ben", 2, {"value": 4}, T0 + 3 * SECOND)
    assert d.engine.field("total") == 7 and errors(frames) == []


def test_abort_right_after_the_await_that_waited_changes_nothing_and_keeps_the_ask():
    d, _ = started()
    d.answer("ann", 1, {"value": 3}, T0 + SECOND)
    before = fingerprint(d)
    frames = d.answer("ben", 2, {"value": -1}, T0 + 2 * SECOND)
    assert [e["code"] for e in errors(frames, "ben")] == ["abort"] and len(frames) == 1
    assert fingerprint(d) == before  # nothing changed, not even the clock
    assert d.asks_for("ben") == [{"id": 2, "channel": "answer", "kind": "fetch"}]
    d.answer("ben", 2, {"value": 1}, T0 + 3 * SECOND)
    assert d.engine.field("total") == 4


def test_bad_answers_are_refused_and_change_nothing():
    d, _ = started()
    before = fingerprint(d)
    cases = [
        ("ben", 1, {"value": 1}, "wrong_principal"),
        ("ann", 99, {"value": 1}, "unknown_ask"),
        ("ann", "1", {"value": 1}, "unknown_ask"),
        ("ann", 1, {"value": "three"}, "invalid_answer"),
        ("ann", 1, {"nope": 1}, "invalid_answer"),
    ]
    for who, ask_id, message, code in cases:
        frames = d.answer(who, ask_id, message, T0 + SECOND)
        assert [e["code"] for e in errors(frames, who)] == [code] and len(frames) == 1, (ask_id, message)
        assert fingerprint(d) == before
    d.answer("ann", 1, {"value": 1}, T0 + SECOND)
    frames = d.answer("ann", 1, {"value": 1}, T0 + SECOND)
    assert [e["code"] for e in errors(frames, "ann")] == ["stale_ask"]


def test_a_message_on_an_incomplete_channel_answers_the_senders_open_ask():
    d, _ = started()
    frames = d.send("ben", "answer", {"value": 4}, T0 + SECOND)
    assert frames == [{"to": "ben@", "ask_closed": 2}]
    d.send("ann", "answer", {"value": 3}, T0 + SECOND)
    assert d.engine.field("total") == 7
    frames = d.send("ann", "answer", {"value": 3}, T0 + SECOND)
    assert [e["code"] for e in errors(frames, "ann")] == ["no_open_ask"]


CHOICES = """
message Pick { int option; }
record R { public int id; public int option; }
table<R> _nothing;
channel<Pick> pick;
channel<Pick[]> picks;
public principal p;
public int picked;
public int many;
public int sum;
public int empty_runs;

@connected {
  if (p == @no_one) {
    p = @who;
    transition #ask;
  }
  return true;
}

#ask {
  Pick[] options = [{option: 1}, {option: 2}, {option: 3}];
  if (pick.decide(p, options).await() as chosen) {
    picked = chosen.option;
  }
  if (picks.choose(p, options, 2).await() as chosen_many) {
    many = chosen_many.size();
    foreach (c in chosen_many) {
      sum = sum * 10 + c.option;
    }
  }
  list<R> none = iterate _nothing;
  if (pick.decide(p, @convert<Pick>(none)).await() as nothing) {
    picked = 100;
  } else {
    empty_runs += 1;
  }
}
"""


def test_decide_and_choose_accept_only_their_options():
    d = living(CHOICES, viewers=PlainViewers)
    d.create("host", None, T0)
    frames = d.connect("pat", T0)
    options = [{"option": 1}, {"option": 2}, {"option": 3}]
    assert asks(frames, "pat") == [{"id": 1, "channel": "pick", "kind": "decide", "options": options}]
    before = fingerprint(d)
    frames = d.answer("pat", 1, {"option": 4}, T0)
    assert [e["code"] for e in errors(frames)] == ["invalid_answer"] and fingerprint(d) == before
    frames = d.answer("pat", 1, {"option": 2}, T0)
    assert d.engine.field("picked") == 2
    assert asks(frames, "pat") == [{"id": 2, "channel": "picks", "kind": "choose", "options": options,
                                    "limit": 2}]
    before = fingerprint(d)
    for bad in ([{"option": 1}, {"option": 1}], [{"option": 1}, {"option": 2}, {"option": 3}], [],
                [{"option": 9}], {"option": 1}):
        frames = d.answer("pat", 2, bad, T0)
        assert [e["code"] for e in errors(frames)] == ["invalid_answer"], bad
        assert fingerprint(d) == before
    frames = d.answer("pat", 2, [{"option": 3}, {"option": 1}], T0)
    assert errors(frames) == []
    # The third ask had nothing to offer: its await yields empty at once, nobody is asked.
    assert d.engine.field("many") == 2 and d.engine.field("sum") == 31
    assert d.engine.field("empty_runs") == 1 and d.engine.field("picked") == 2
    assert asks(frames, "pat") == [] and d.engine.cont is None


WITHDRAWN = """
message Answer { int value; }
channel<Answer> answer;
public principal p1;
public principal p2;
public int got;

@connected {
  if (p1 == @no_one) {
    p1 = @who;
  } else if (p2 == @no_one) {
    p2 = @who;
    transition #one_of_two;
  }
  return true;
}

// Asks made where nothing can await them are withdrawn when the transaction ends.
channel poke(Answer a) {
  answer.fetch(@who);
  got = -1;
}

#one_of_two {
  future<Answer> f1 = answer.fetch(p1);
  future<Answer> f2 = answer.fetch(p2);
  future<Answer> again = answer.fetch(p1);
  got = f1.await().value;
  got += again.await().value;
}
"""


def test_unawaited_asks_are_withdrawn_and_asks_to_one_principal_queue():
    d = living(WITHDRAWN, viewers=PlainViewers)
    d.create("host", None, T0)
    d.connect("ann", T0)
    frames = d.connect("ben", T0)
    # ann's second ask on the same channel queues behind her first.
    assert [a["id"] for a in asks(frames, "ann")] == [1]
    assert [a["id"] for a in asks(frames, "ben")] == [2]
    frames = d.answer("ann", 3, {"value": 1}, T0)
    assert [e["code"] for e in errors(frames)] == ["unknown_ask"]
    frames = d.answer("ann", 1, {"value": 10}, T0)
    assert frames[-2:] == [{"to": "ann@", "ask_closed": 1}, {"to": "ann@", "ask": asks(frames, "ann")[0]}]
    assert asks(frames, "ann")[0]["id"] == 3
    frames = d.answer("ann", 3, {"value": 5}, T0)
    # The block ended without awaiting ben's ask: it is withdrawn.
    assert d.engine.field("got") == 15
    assert to(frames, "ben", "ask_closed") == [{"to": "ben@", "ask_closed": 2}]
    frames = d.answer("ben", 2, {"value": 1}, T0)
    assert [e["code"] for e in errors(frames)] == ["stale_ask"]
    frames = d.send("ann", "poke", {"value": 0}, T0)
    assert asks(frames, "ann") == [] and d.asks_for("ann") == [] and d.engine.field("got") == -1


MOVES = """
// Tic-tac-toe where the document checks moves itself: an illegal one aborts,
// which rolls back to the await and asks the same player again.
message Play { int x; int y; }
record Square { public int id; public int x; public int y; public principal piece; }
table<Square> _board;
channel<Play> play;
public principal px;
public principal po;
public principal current;
public int moves;
public int refusals_seen;
public formula board = iterate _board order by y, x;

@construct {
  for (int y = 0; y < 3; y++) {
    for (int x = 0; x < 3; x++) {
      _board <- {x, y, piece: @no_one};
    }
  }
}

@connected {
  if (px == @no_one) {
    px = @who;
  } else if (po == @no_one && @who != px) {
    po = @who;
    current = px;
    transition #turn;
  }
  return true;
}

#turn {
  Play m = play.fetch(current).await();
  list<Square> free = iterate _board where x == m.x && y == m.y && piece == @no_one;
  if (free.size() == 0) {
    refusals_seen += 1;
    abort;
  }
  (iterate _board where x == m.x && y == m.y).piece = current;
  moves++;
  current = current == px ? po : px;
  if (moves < 9) {
    transition #turn;
  }
}
"""


def test_abort_validates_moves_and_the_same_player_is_asked_again():
    d = living(MOVES, viewers=PlainViewers)
    d.create("host", None, T0)
    d.connect("xena", T0)
    frames = d.connect("otto", T0)
    assert asks(frames, "xena") == [{"id": 1, "channel": "play", "kind": "fetch"}]
    d.answer("xena", 1, {"x": 1, "y": 1}, T0)
    assert d.asks_for("otto") == [{"id": 2, "channel": "play", "kind": "fetch"}]
    before = fingerprint(d)
    for bad in ({"x": 1, "y": 1}, {"x": 7, "y": 0}):
        frames = d.answer("otto", 2, bad, T0 + SECOND)
        assert [e["code"] for e in errors(frames, "otto")] == ["abort"] and len(frames) == 1
        assert fingerprint(d) == before  # the refusal counter rolled back too
        assert d.asks_for("otto") == [{"id": 2, "channel": "play", "kind": "fetch"}]
    frames = d.answer("otto", 2, {"x": 0, "y": 0}, T0 + 2 * SECOND)
    assert errors(frames) == [] and d.engine.field("moves") == 2
    assert d.engine.field("refusals_seen") == 0
    assert asks(frames, "xena") == [{"id": 3, "channel": "play", "kind": "fetch"}]
