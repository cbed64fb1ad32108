"""Service calls in the runtime (runtime/services.py, spec/language.md 4.27,
spec/runtime.md 8): what a document records, merges, keeps and applies, with
no server and no network (the tests play the service's results as inputs)."""
from __future__ import annotations

import json

from advm.compiler.build import build_source
from advm.runtime import services as S
from advm.runtime.living import LivingDocument
from advm.views.viewers import Viewers

T = 1_767_225_600_000

SOURCE = """
@static { create { return true; } }
@connected { return true; }
service svc {
  message Q { string q; }
  message A { int n; string s; }
  method<Q, A> get;
  method<Q, A> look idempotent;
}
message Go { string q; }
public int got = -1;
public int code = 0;
public string why = "";
public bool before = false;
public string q = "x";
public formula f = svc.look(@no_cache, {q: q});
public formula fn = f.as_maybe();
channel twice(Go g) { svc.get(@who, {q: g.q}); svc.get(@who, {q: g.q}); svc.get(@who, {q: "other"}); }
channel fresh(Go g) { svc.get(@no_cache, {q: g.q}); svc.get(@no_cache, {q: g.q}); }
channel undone(Go g) { svc.get(@who, {q: g.q}); abort; }
channel set(Go g) { q = g.q; }
channel start(Go g) { transition #wait; }
#wait {
  let r = svc.get(@no_one, {q: "w"});
  before = r.finished();
  if (r.await() as a) { got = a.n; } else { code = r.code(); why = r.message(); }
}
"""


def doc() -> LivingDocument:
    living = LivingDocument(build_source(SOURCE, "svc.adb"), viewers=Viewers)
    living.create("ann@x", None, T)
    return living


def result(living, call, value=None, error=None, now=T + 1):
    res = {"value": value} if error is None else {"error": error}
    return living.apply({"op": "result", "call": call, "result": res, "now": now})


def handler_calls(living):
    return [c for c in living.service_calls() if isinstance(c["call"], int)]


def test_identical_calls_of_one_transaction_are_one_call_unless_no_cache():
    living = doc()
    living.send("ann@x", "twice", {"q": "a"}, T)
    calls = handler_calls(living)
    assert [(c["request"], c["who"]) for c in calls] == [('{"q":"a"}', "ann@x"), ('{"q":"other"}', "ann@x")]
    living.send("ann@x", "fresh", {"q": "a"}, T)
    assert len(handler_calls(living)) == 4  # @no_cache: two calls, as the document (@no_one)
    assert {c["who"] for c in handler_calls(living)[2:]} == {"?@?"}


def test_a_call_in_a_transaction_that_aborts_was_never_made():
    living = doc()
    frames = living.send("ann@x", "undone", {"q": "a"}, T)
    assert frames[0]["error"]["code"] == "abort"
    assert handler_calls(living) == []


def test_an_awaited_call_resumes_the_state_and_says_how_it_ended():
    living = doc()
    living.send("ann@x", "start", {"q": ""}, T)
    (call,) = handler_calls(living)
    assert living.engine.fields()["before"] is False  # in flight when made
    result(living, call["call"], {"n": 7, "s": "ok", "extra": 1})
    assert living.engine.fields()["got"] == 7 and handler_calls(living) == []
    living.send("ann@x", "start", {"q": ""}, T + 2)
    (call,) = handler_calls(living)
    result(living, call["call"], error={"code": 503, "message": "x" * 2000}, now=T + 3)
    fields = living.engine.fields()
    assert fields["code"] == 503 and len(fields["why"]) == S.MAX_MESSAGE_CHARS


def test_a_result_that_does_not_fit_is_a_failed_result_not_a_refused_input():
    living = doc()
    living.send("ann@x", "start", {"q": ""}, T)
    (call,) = handler_calls(living)
    assert result(living, call["call"], {"n": "seven"}) == []
    fields = living.engine.fields()
    assert fields["code"] == 502 and "does not fit A" in fields["why"]


def test_clients_cannot_answer_a_service_call():
    living = doc()
    living.connect("ann@x", T)
    living.send("ann@x", "start", {"q": ""}, T)
    (call,) = handler_calls(living)
    frames = living.answer("ann@x", call["call"], {"n": 1}, T + 1)
    assert frames[0]["error"]["code"] == "unknown_ask"
    assert living.asks_for("ann@x") == []  # never shown as an ask


def test_a_formula_asks_for_its_call_and_shows_the_result_when_it_arrives():
    living = doc()
    living.connect("ann@x", T)
    (want,) = [c for c in living.service_calls() if isinstance(c["call"], str)]
    assert want["idempotent"] and json.loads(want["call"])[:2] == ["svc", "look"]
    frames = result(living, want["call"], {"n": 5, "s": "five"})
    (delta,) = [f["delta"] for f in frames if "delta" in f]
    assert delta["f"]["has"] is True and delta["fn"] == {"n": 5, "s": "five"}
    assert living.service_calls() == []
    # A new invocation (the message changed) is asked for; the old result stays kept.
    living.send("ann@x", "set", {"q": "y"}, T + 2)
    (want2,) = living.service_calls()
    assert want2["call"] != want["call"] and want["call"] in living.engine.asks.cache
    # Its result again is refused (already kept), and so is one for an unknown invocation.
    assert result(living, want["call"], {"n": 1})[0]["error"]["code"] == "unknown_call"
    bogus = json.dumps(["svc", "nope", "?@?", "{}"])
    assert result(living, bogus, {"n": 1})[0]["error"]["code"] == "unknown_call"


def test_a_document_keeps_at_most_max_cached_formula_results(monkeypatch):
    monkeypatch.setattr("advm.runtime.living.MAX_CACHED", 3)
    living = doc()
    keys = []
    for i in range(5):
        living.send("ann@x", "set", {"q": f"q{i}"}, T + i)
        living.engine.fields()  # the formula is evaluated (as for a viewer)
        (want,) = [c for c in living.service_calls() if isinstance(c["call"], str)]
        result(living, want["call"], {"n": i}, now=T + i)
        keys.append(want["call"])
    assert list(living.engine.asks.cache) == keys[2:]  # the oldest went first


def test_a_request_over_the_limit_fails_at_once(monkeypatch):
    monkeypatch.setattr(S, "MAX_REQUEST_BYTES", 10)
    living = doc()
    living.send("ann@x", "set", {"q": "a long question"}, T)
    f = living.engine.fields()["f"]
    assert f["failed"] and f["code"] == 413
    assert [c for c in living.service_calls() if isinstance(c["call"], str)] == []


def test_calls_and_results_survive_a_snapshot_and_make_the_document_due():
    living = doc()
    living.send("ann@x", "start", {"q": ""}, T)
    living.engine.fields()
    (call,) = handler_calls(living)
    (want,) = [c for c in living.service_calls() if isinstance(c["call"], str)]
    result(living, want["call"], {"n": 1})
    assert living.next_due() == living.clock + S.CALL_RECHECK_MS
    again = LivingDocument.restore(living.engine.module, living.snapshot(), viewers=Viewers)
    assert handler_calls(again) == [call]
    assert again.engine.asks.cache.keys() == living.engine.asks.cache.keys()
    result(again, call["call"], {"n": 9})
    assert again.engine.fields()["got"] == 9 and again.next_due() is None


def test_formula_calls_waiting_for_results_are_bounded(monkeypatch):
    monkeypatch.setattr(S, "MAX_WANTED", 2)
    living = doc()
    for i in range(3):
        living.send("ann@x", "set", {"q": f"w{i}"}, T + i)
        living.engine.fields()
    assert len([c for c in living.service_calls() if isinstance(c["call"], str)]) == 2
    f = living.engine.fields()["f"]
    assert f["failed"] and f["code"] == 429


def test_calls_of_code_without_results_are_bounded_and_a_call_failing_at_once_is_awaited(monkeypatch):
    monkeypatch.setattr(S, "MAX_CALLS", 2)
    living = doc()
    living.send("ann@x", "twice", {"q": "a"}, T)  # two calls
    living.send("ann@x", "start", {"q": ""}, T + 1)  # the third fails at once, and its await goes on
    assert len(handler_calls(living)) == 2
    fields = living.engine.fields()
    assert fields["code"] == 429 and "too many" in fields["why"]

