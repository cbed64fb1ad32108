"""The agent loop inside a document (spec/language.md 4.31, runtime/agents.py),
driven in process: each model reply is the `result` input the server would
deliver, so these run without any network. The loop over a real server and a
scripted model is tests/net/test_agents_server.py."""
from __future__ import annotations

import json

from living_kit import SECOND, T0, errors, fingerprint, living, restore
from model_kit import calls, reply

from advm.runtime.agents import MAX_REQUEST_BYTES, MAX_TOOL_CALLS

ALICE, BOB = "alice@users", "bob@users"

SOURCE = """
@static { create { return true; } }
@connected { return true; }
message NoteIn { string topic; }
message NoteOut { int applied; }
message CountIn { string prefix; }
message CountOut { int count; }
message Say { string text; }
public table<Item> items;
record Item { public string name; }

agent Helper {
  instructions = "You keep notes.";
  model = "test-model";
  max_tool_rounds = ROUNDS;
  token_budget = BUDGET;
  staleness_timeout = 30;
  mutable string topic;
  mutable int applied;
  @description("Write down a topic")
  mutating tool<NoteIn, NoteOut> note {
    topic = request.topic;
    applied++;
    return {applied: applied};
  }
  @description("Count the items whose name starts with a prefix")
  tool<CountIn, CountOut> count {
    return {count: (iterate items where name.startsWith(request.prefix)).size()};
  }
}

public session<Helper> chat;

channel say(principal who, Say s) {
  if (!chat.ask(who, s.text)) {
    abort;
  }
}
"""


def doc(rounds: int = 5, budget: int = 0):
    d = living(SOURCE.replace("ROUNDS", str(rounds)).replace("BUDGET", str(budget)))
    d.create(ALICE, None, T0)
    d.apply({"op": "send", "who": ALICE, "channel": "say", "message": {"text": "x"}, "now": T0})  # warm-up ask
    d.apply(result(d, reply("hello")))
    return d


def chat(d) -> dict:
    return d.engine.field("chat")


def wanted(d) -> list[dict]:
    return [c for c in d.service_calls() if c.get("agent")]


def result(d, value=None, error=None, now: int | None = None) -> dict:
    (call,) = wanted(d)
    outcome = {"value": value} if error is None else {"error": error}
    return {"op": "result", "call": call["call"], "result": outcome, "now": now or d.clock + 1}


def ask(d, text: str, who: str = ALICE, now: int | None = None) -> list[dict]:
    return d.apply({"op": "send", "who": who, "channel": "__ask_chat", "message": {"text": text},
                    "now": now or d.clock + 1})


def test_a_full_tool_loop_runs_each_tool_once_and_streams_every_step():
    d = doc()
    d.apply({"op": "connect", "who": BOB, "now": d.clock + 1})
    frames = ask(d, "note the topic and count")
    assert errors(frames) == []
    assert chat(d)["status"] == "processing" and chat(d)["asker"] == {"agent": "alice", "authority": "users"}
    (call,) = wanted(d)
    body = json.loads(call["request"])
    assert body["model"] == "test-model" and body["messages"][0] == {"role": "system", "content": "You keep notes."}
    assert body["messages"][-1] == {"role": "user", "content": "note the topic and count"}
    assert {t["function"]["name"] for t in body["tools"]} == {"note", "count"}
    assert body["tools"][0]["function"]["parameters"]["properties"] == {"topic": {"type": "string"}}
    frames = d.apply(result(d, calls(("c1", "note", {"topic": "work"}), ("c2", "count", {"prefix": "a"}), tokens=30)))
    # Bob, a viewer, saw each step: the reply, each tool's result, as deltas
    assert len([f for f in frames if f["to"] == BOB and "delta" in f]) >= 3
    st = chat(d)
    assert (st["status"], st["rounds"], st["topic"], st["applied"]) == ("processing", 1, "work", 1)
    assert [(t["role"], t["tool"], t["content"]) for t in st["history"][-3:]] == [
        ("assistant", "", ""), ("tool", "note", '{"applied":1}'), ("tool", "count", '{"count":0}')]
    (call,) = wanted(d)
    sent = json.loads(call["request"])["messages"]
    assert sent[-3]["tool_calls"][0]["function"] == {"name": "note", "arguments": '{"topic": "work"}'}
    assert sent[-2:] == [{"role": "tool", "tool_call_id": "c1", "content": '{"applied":1}'},
                         {"role": "tool", "tool_call_id": "c2", "content": '{"count":0}'}]
    d.apply(result(d, reply("Noted.", tokens=12)))
    st = chat(d)
    assert (st["status"], st["ending"], st["tokens"], st["applied"]) == ("idle", "finished", 42, 1)
    assert st["history"][-1]["content"] == "Noted." and wanted(d) == []


def test_the_round_limit_ends_the_ask():
    d = doc(rounds=2)
    ask(d, "loop")
    made = 0
    while wanted(d):
        made += 1
        d.apply(result(d, calls((f"c{made}", "note", {"topic": str(made)}))))
    st = chat(d)
    assert (st["ending"], st["rounds"], st["applied"], made) == ("max_tool_rounds", 2, 2, 2)


def test_the_token_budget_ends_the_ask():
    d = doc(budget=25)
    ask(d, "spend")
    made = 0
    while wanted(d):
        made += 1
        d.apply(result(d, calls((f"c{made}", "count", {"prefix": ""}), tokens=10)))
    st = chat(d)
    assert (st["ending"], st["tokens"], made) == ("token_budget", 30, 3)
    assert st["history"][-1]["role"] == "assistant"  # the third reply's tools never ran


def test_a_failed_ask_discards_its_mutable_changes():
    d = doc()
    ask(d, "note then fail")
    d.apply(result(d, calls(("c1", "note", {"topic": "lost"}))))
    assert (chat(d)["topic"], chat(d)["applied"]) == ("lost", 1)
    d.apply(result(d, error={"code": 500, "message": "the model answered 500"}))
    st = chat(d)
    assert (st["status"], st["ending"], st["topic"], st["applied"]) == ("idle", "failed", "", 0)
    assert "500" in st["error"]


def test_a_reply_that_is_not_a_completion_fails_the_ask():
    d = doc()
    for bad in ({"pad": 1}, {"choices": []}, {"choices": [{"message": {"content": 5}}]},
                {"choices": [{"message": {"tool_calls": [{"function": {}}]}}]}):
        ask(d, "again")
        d.apply(result(d, bad))
        assert (chat(d)["ending"], "502" in chat(d)["error"]) == ("failed", True), bad


def test_a_reply_for_no_waiting_session_is_unknown_and_changes_nothing():
    d = doc()
    ask(d, "once")
    item = result(d, reply("a"))
    d.apply(item)
    before = fingerprint(d)
    frames = d.apply({**item, "now": d.clock})
    assert [e["code"] for e in errors(frames)] == ["unknown_call"]
    assert fingerprint(d) == before and chat(d)["ending"] == "finished"


def test_tool_calls_the_document_cannot_run_give_error_turns():
    d = doc()
    ask(d, "bad calls")
    d.apply(result(d, calls(("c1", "nope", {}), ("c2", "note", {"topic": 5}), ("c3", "count", {"other": 1}))))
    turns = chat(d)["history"][-3:]
    assert [json.loads(t["content"])["error"][:20] for t in turns] == [
        "there is no tool 'no", "the arguments do not", "the arguments do not"]
    assert chat(d)["applied"] == 0 and chat(d)["status"] == "processing"


def test_a_second_ask_while_one_runs_is_refused():
    d = doc()
    ask(d, "first")
    frames = ask(d, "second", who=BOB)
    assert [e["code"] for e in errors(frames, BOB)] == ["abort"]
    assert [t["content"] for t in chat(d)["history"] if t["role"] == "user"][-1] == "first"


def test_a_session_still_processing_after_its_staleness_timeout_ends_stale():
    d = doc()
    ask(d, "hang")
    d.apply(result(d, calls(("c1", "note", {"topic": "t"}))))
    due = d.agents.wake()
    assert due == chat(d)["updated"] + 30 * SECOND
    assert d.next_due() == d.clock + 10 * SECOND  # woken before that to ask again after a restart
    d.apply({"op": "advance", "now": due - 1})
    assert chat(d)["status"] == "processing"
    d.apply({"op": "advance", "now": due})
    st = chat(d)
    assert (st["ending"], st["topic"], st["applied"]) == ("stale", "", 0) and wanted(d) == []


def test_a_restored_document_wants_the_same_completion_again():
    d = doc()
    ask(d, "survive")
    d.apply(result(d, calls(("c1", "note", {"topic": "t"}))))
    before = wanted(d)
    again = restore(d)
    assert wanted(again) == before
    again.apply(result(again, reply("done")))
    assert (chat(again)["ending"], chat(again)["applied"]) == ("finished", 1)


def test_replaying_the_inputs_gives_the_same_document_without_a_model():
    inputs = []
    d = living(SOURCE.replace("ROUNDS", "3").replace("BUDGET", "0"))

    def run(item):
        inputs.append(item)
        d.apply(item)

    run({"op": "create", "who": ALICE, "arg": None, "now": T0})
    run({"op": "send", "who": ALICE, "channel": "__ask_chat", "message": {"text": "go"}, "now": T0 + 1})
    run(result(d, calls(("c1", "note", {"topic": "a"}), ("c2", "count", {"prefix": ""}))))
    run(result(d, calls(("c3", "note", {"topic": "b"}))))
    run(result(d, reply("done")))
    again = living(SOURCE.replace("ROUNDS", "3").replace("BUDGET", "0"))
    for item in inputs:
        again.apply(item)
    assert fingerprint(again) == fingerprint(d)
    assert chat(again)["applied"] == 2 and chat(again)["ending"] == "finished"


# ---------------------------------------------------------------- limits, each crossed


def test_an_ask_longer_than_10000_characters_is_refused():
    d = doc()
    assert errors(ask(d, "x" * 10_000)) == []
    d.apply(result(d, reply("ok")))
    assert [e["code"] for e in errors(ask(d, "x" * 10_001))] == ["abort"]


def test_a_reply_with_more_tool_calls_than_the_limit_fails_the_ask():
    d = doc()
    ask(d, "many")
    d.apply(result(d, calls(*[(f"c{i}", "count", {"prefix": ""}) for i in range(MAX_TOOL_CALLS)])))
    assert chat(d)["status"] == "processing"
    d.apply(result(d, calls(*[(f"d{i}", "count", {"prefix": ""}) for i in range(MAX_TOOL_CALLS + 1)])))
    assert chat(d)["ending"] == "failed" and f"more than {MAX_TOOL_CALLS}" in chat(d)["error"]


def test_a_conversation_past_the_request_limit_fails_its_ask():
    d = doc()
    n = 0
    while True:
        n += 1
        ask(d, "y" * 9_000)
        if chat(d)["status"] != "processing":
            break
        assert len(wanted(d)[0]["request"]) <= MAX_REQUEST_BYTES
        d.apply(result(d, reply("ok")))
    assert chat(d)["ending"] == "failed" and "413" in chat(d)["error"]
    assert n * 9_000 > MAX_REQUEST_BYTES - 20_000


def test_a_reply_text_and_a_tool_result_are_cut_at_the_content_limit_and_an_error_at_its():
    from advm.runtime.agents import MAX_CONTENT_CHARS, MAX_ERROR_CHARS

    d = doc()
    ask(d, "long")
    d.apply(result(d, reply("z" * MAX_CONTENT_CHARS)))
    assert len(chat(d)["history"][-1]["content"]) == MAX_CONTENT_CHARS
    ask(d, "longer")
    d.apply(result(d, reply("z" * (MAX_CONTENT_CHARS + 1))))
    assert len(chat(d)["history"][-1]["content"]) == MAX_CONTENT_CHARS
    ask(d, "fail at length")
    d.apply(result(d, error={"code": 500, "message": "m" * 2_000}))
    assert len(chat(d)["error"]) == MAX_ERROR_CHARS
