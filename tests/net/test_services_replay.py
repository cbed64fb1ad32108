"""Service results are logged inputs (issue 13 point 1, determinism): any
log holding service calls and their results replays to the same state
without opening a single network connection, and a duplicate result is
applied at most once."""
from __future__ import annotations

import socket

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advm.durable.document import DurableDocument
from advm.durable.noviews import state_hash
from advm.durable.replay import replay
from advm.views.viewers import Viewers
from durable_kit import T0, compiled, open_store
from test_services_host import CHECKOUT, IDEMPOTENT

# A document with both kinds of call: awaited in a state, made and not
# awaited in a channel, and read by a formula.
BOTH = CHECKOUT.replace("public int attempts = 0;", """public int attempts = 0;
message Note { string text; }
channel note(Note n) {
  payments.charge(@who, {order: n.text, cents: 1, currency: "EUR"});
}
public formula quote = payments.charge(@no_cache, {order: "quote", cents: 1, currency: "EUR"});
""")

ops = st.lists(st.one_of(
    st.tuples(st.just("add"), st.integers(1, 500)),
    st.just(("checkout",)),
    st.tuples(st.just("note"), st.sampled_from(["a", "b", "a"])),
    st.tuples(st.just("ok"), st.integers(0, 5)),
    st.tuples(st.just("fail"), st.integers(0, 5)),
    st.tuples(st.just("junk"), st.integers(0, 5)),
    st.tuples(st.just("again"), st.integers(0, 5)),
    st.just(("restart",)),
    st.tuples(st.just("advance"), st.integers(1, 30_000)),
), max_size=25)


class NoNetwork(Exception):
    pass


def _refuse(*a, **kw):
    raise NoNetwork("replay opened a network connection")


def play(store, module, steps) -> tuple[DurableDocument, int]:
    now = T0
    doc, _ = DurableDocument.create(store, "shop", module, "ann@shop", None, now, viewers=Viewers)
    delivered = []
    for step in steps:
        now += 1000
        kind = step[0]
        calls = doc.living.service_calls()
        if kind == "add":
            doc.submit({"op": "send", "who": "ann@shop", "channel": "add",
                        "message": {"sku": "x", "cents": step[1], "qty": 1}}, now).result()
        elif kind == "checkout":
            doc.submit({"op": "send", "who": "ann@shop", "channel": "checkout", "message": {}}, now).result()
        elif kind == "note":
            doc.submit({"op": "send", "who": "ann@shop", "channel": "note", "message": {"text": step[1]}},
                       now).result()
        elif kind in ("ok", "fail", "junk") and calls:
            c = calls[step[1] % len(calls)]
            result = {"ok": {"value": {"charge_id": f"ch{now}", "status": "paid", "extra": [1]}},
                      "fail": {"error": {"code": 503, "message": "down"}},
                      "junk": {"value": {"charge_id": 7}}}[kind]
            doc.submit({"op": "result", "call": c["call"], "result": result}, now).result()
            delivered.append((c["call"], result))
        elif kind == "again" and delivered:  # at-least-once delivery: a result twice
            call, result = delivered[step[1] % len(delivered)]
            doc.submit({"op": "result", "call": call, "result": result}, now).result()
        elif kind == "restart":
            doc = DurableDocument.open(store, "shop", viewers=Viewers)
        elif kind == "advance":
            doc.submit({"op": "advance"}, now + step[1]).result()
            now += step[1]
        doc.living.view("ann@shop")  # formulas are evaluated, as for a viewer
    return doc, now


def check_replay(directory, steps) -> DurableDocument:
    module = compiled(BOTH, "both.adb")
    store = open_store(directory)
    try:
        doc, _ = play(store, module, steps)
        live = state_hash(doc.living.snapshot())
        doc.close()
        real = socket.socket.connect, socket.create_connection
        socket.socket.connect = _refuse
        socket.create_connection = _refuse
        try:
            result = replay(store, "shop")
        finally:
            socket.socket.connect, socket.create_connection = real
        assert result.ok, result.divergence
        assert state_hash(result.living.snapshot()) == live
        return result.living
    finally:
        store.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=ops)
def test_replay_of_service_results_never_opens_a_connection(tmp_path_factory, steps):
    check_replay(tmp_path_factory.mktemp("svc"), steps)


def test_replay_of_every_kind_of_result(tmp_path):
    steps = [("add", 300), ("note", "a"), ("note", "a"), ("checkout",), ("ok", 0), ("again", 0),
             ("restart",), ("fail", 0), ("junk", 0), ("advance", 20_000), ("ok", 0), ("ok", 0)]
    living = check_replay(tmp_path, steps)
    fields = living.engine.fields()
    assert fields["quote"]["finished"]  # the formula's result came in and replayed
    assert fields["phase"] in ("Paid", "Declined")
    assert living.service_calls() == []


def test_a_result_is_applied_once_and_a_duplicate_changes_nothing(tmp_path):
    module = compiled(CHECKOUT, "checkout.adb")
    store = open_store(tmp_path)
    try:
        doc, _ = play(store, module, [("add", 300), ("checkout",)])
        (call,) = doc.living.service_calls()
        ok = {"value": {"charge_id": "ch_9", "status": "paid"}}
        doc.submit({"op": "result", "call": call["call"], "result": ok}, T0 + 10_000).result()
        fields = doc.living.engine.fields()
        assert fields["phase"] == "Paid" and fields["attempts"] == 1
        frames = doc.submit({"op": "result", "call": call["call"], "result": ok}, T0 + 11_000).result()
        assert [f["error"]["code"] for f in frames] == ["unknown_call"]
        # Nothing left but the paid order's copy to inventory (checkout.adb replicates it, 4.30).
        assert doc.living.engine.fields() == fields
        assert [c.get("replication") for c in doc.living.service_calls()] == ["create"]
        # A malformed result is refused before anything runs.
        frames = doc.submit({"op": "result", "call": 99, "result": {"oops": 1}}, T0 + 12_000).result()
        assert frames[0]["error"]["code"] == "input"
    finally:
        store.close()


def test_a_call_in_flight_survives_a_restart_and_the_document_wakes_for_it(tmp_path):
    module = compiled(CHECKOUT, "checkout.adb")
    store = open_store(tmp_path)
    try:
        doc, now = play(store, module, [("add", 300), ("checkout",)])
        (call,) = doc.living.service_calls()
        assert doc.next_due() is not None  # it is due again, to make the call again
        again = DurableDocument.open(store, "shop", viewers=Viewers)  # a crash: no close
        assert again.living.service_calls() == [call]
        assert store.due(2 ** 62)  # the timer index wakes it after a restart
        again.submit({"op": "result", "call": call["call"],
                      "result": {"value": {"charge_id": "c", "status": "paid"}}}, now + 1).result()
        assert again.living.engine.fields()["phase"] == "Paid"
        # the charge is done; the paid order's copy to inventory is what is left (4.30)
        assert [c.get("replication") for c in again.living.service_calls()] == ["create"]
    finally:
        store.close()
