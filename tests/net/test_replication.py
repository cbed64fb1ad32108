"""Replication (issue 13 point 2, spec/language.md 4.30): a replicated value
is copied to a service on 127.0.0.1 once per change (create, update, delete,
with its content hash), nothing is sent for an unchanged value, a failing
target is retried with backoff until it recovers, an operation pending at a
restart is completed once, and replay never opens a connection."""
from __future__ import annotations

import asyncio
import json
import socket
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advm.durable.document import DurableDocument
from advm.durable.noviews import state_hash
from advm.durable.replay import replay
from advm.net import services as net_services
from advm.net.router import Router
from advm.net.services import ServiceConfig, idempotency_key, replication_backoff
from advm.runtime.replication import content_hash
from advm.views.viewers import Viewers
from durable_kit import T0, compiled, open_store
from inventory_kit import Inventory
from server_kit import module

SOURCE = """
service inventory {
  message Stock { string sku; int count; }
  message Ack { bool ok; }
  method<Stock, Ack> stock;
}
@static { create { return true; } }
@connected { return true; }
public string sku = "tea";
public int count = 0;
public bool listed = true;
message Set { int count; }
message List { bool on; }
channel set(Set s) { count = s.count; }
channel list(List l) { listed = l.on; }
replication<inventory:stock> copy = listed ? @maybe({sku: sku, count: count}) : @maybe<Stock>;
"""


def config(url: str) -> ServiceConfig:
    return ServiceConfig.from_dict({"services": {"inventory": {"base_url": url}}})


async def until(pred, timeout: float = 10.0):
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.01)


async def settle(seconds: float = 0.3):
    await asyncio.sleep(seconds)


@pytest.fixture
def fast_backoff(monkeypatch):
    monkeypatch.setattr(net_services, "REPLICATION_BACKOFF_S", 0.05)
    monkeypatch.setattr(net_services, "REPLICATION_MAX_BACKOFF_S", 0.4)


# ------------------------------------------------------------ the document's side (no network)

def test_the_checker_takes_a_replication_and_refuses_a_wrong_one():
    from advm.compiler import compile_source
    ok = compile_source(SOURCE, "r.adb")
    assert not [d for d in ok.diagnostics if d.severity == "error"]
    bad = compile_source(SOURCE.replace("inventory:stock", "inventory:stok")
                         + "replication<inventory:stock> n = count;", "r.adb")
    codes = sorted(d.code for d in bad.diagnostics if d.severity == "error")
    assert codes == ["E0301", "E0530"]


def test_a_change_issues_one_operation_an_ack_clears_it_and_a_duplicate_changes_nothing(tmp_path):
    store = open_store(tmp_path / "s")
    doc, _ = DurableDocument.create(store, "shop", compiled(SOURCE, "r.adb"), "ann@shop", None, T0, viewers=Viewers)
    (c,) = doc.living.service_calls()
    body = json.loads(c["request"])
    assert (c["call"], c["replication"], c["attempts"]) == ("~r/copy/1", "create", 0)
    assert body == {"op": "create", "name": "copy", "hash": content_hash({"sku": "tea", "count": 0}),
                    "value": {"sku": "tea", "count": 0}}
    doc.submit({"op": "send", "who": "ann@shop", "channel": "set", "message": {"count": 5}},
               T0 + 1).result()
    assert [x["call"] for x in doc.living.service_calls()] == ["~r/copy/1"]  # one at a time, content fixed
    assert json.loads(doc.living.service_calls()[0]["request"])["value"]["count"] == 0
    doc.submit({"op": "result", "call": "~r/copy/1", "result": {"value": {"ok": True}}}, T0 + 2).result()
    (c2,) = doc.living.service_calls()  # the value changed meanwhile: its update
    assert (c2["call"], c2["replication"]) == ("~r/copy/2", "update")
    assert json.loads(c2["request"])["hash"] == content_hash({"sku": "tea", "count": 5})
    frames = doc.submit({"op": "result", "call": "~r/copy/1", "result": {"value": {}}}, T0 + 3).result()
    assert [f.get("error", {}).get("code") for f in frames if "error" in f] in ([], ["unknown_call"])
    assert [x["call"] for x in doc.living.service_calls()] == ["~r/copy/2"]
    doc.submit({"op": "result", "call": "~r/copy/2", "result": {"value": {}}}, T0 + 4).result()
    assert doc.living.service_calls() == []
    doc.submit({"op": "send", "who": "ann@shop", "channel": "set", "message": {"count": 5}}, T0 + 5).result()
    assert doc.living.service_calls() == []  # the same value again: nothing to send
    doc.submit({"op": "send", "who": "ann@shop", "channel": "list", "message": {"on": False}}, T0 + 6).result()
    (c3,) = doc.living.service_calls()
    assert c3["replication"] == "delete" and json.loads(c3["request"])["value"] is None
    doc.close()


SILENT = """
message Line { string item; int qty; string hint @silent; }
message Stock { string sku; int count; string note @silent; Line[] lines; }
message Ack { bool ok; }
service inventory {
  method<Stock, Ack> stock;
}
@static { create { return true; } }
@connected { return true; }
public int count = 0;
public string note = "";
public string hint = "";
message Set { int count; string note; string hint; }
channel set(Set s) { count = s.count; note = s.note; hint = s.hint; }
replication<inventory:stock> copy = {sku: "tea", count: count, note: note, lines: [{item: "cup", qty: 1, hint: hint}]};
"""


def test_a_change_to_silent_fields_alone_sends_nothing(tmp_path):
    # Adama's @silent: the field is left out of the message's hash (a nested message's too),
    # so changing it alone issues no operation; every operation still carries it.
    from advm.runtime.replication import audible

    store = open_store(tmp_path / "s")
    mod = compiled(SILENT, "r.adb")
    mask = mod.meta["replications"]["copy"]["silent"]
    assert mask == {"fields": {"note": True, "lines": {"each": {"fields": {"hint": True}}}}}
    doc, _ = DurableDocument.create(store, "shop", mod, "ann@shop", None, T0, viewers=Viewers)
    (c,) = doc.living.service_calls()
    value = {"sku": "tea", "count": 0, "note": "", "lines": [{"item": "cup", "qty": 1, "hint": ""}]}
    assert json.loads(c["request"]) == {"op": "create", "name": "copy", "value": value,
                                        "hash": content_hash({"sku": "tea", "count": 0,
                                                              "lines": [{"item": "cup", "qty": 1}]})}
    assert audible(value, mask) == {"sku": "tea", "count": 0, "lines": [{"item": "cup", "qty": 1}]}
    doc.submit({"op": "result", "call": "~r/copy/1", "result": {"value": {"ok": True}}}, T0 + 1).result()
    doc.submit({"op": "send", "who": "ann@shop", "channel": "set",
                "message": {"count": 0, "note": "fragile", "hint": "top shelf"}}, T0 + 2).result()
    assert doc.living.service_calls() == []  # only silent fields changed
    doc.submit({"op": "send", "who": "ann@shop", "channel": "set",
                "message": {"count": 4, "note": "fragile", "hint": "top shelf"}}, T0 + 3).result()
    (c2,) = doc.living.service_calls()
    body = json.loads(c2["request"])
    assert (body["op"], body["value"]["count"], body["value"]["note"], body["value"]["lines"][0]["hint"]) == \
        ("update", 4, "fragile", "top shelf")
    doc.close()


def test_failures_count_attempts_in_the_state_and_survive_a_restart(tmp_path):
    store = open_store(tmp_path / "s")
    mod = compiled(SOURCE, "r.adb")
    doc, _ = DurableDocument.create(store, "shop", mod, "ann@shop", None, T0, viewers=Viewers)
    for i in range(3):
        doc.submit({"op": "result", "call": "~r/copy/1", "result": {"error": {"code": 503, "message": "down"}}},
                   T0 + 1 + i).result()
    assert doc.living.replicas.to_values()["copy"]["op"]["attempts"] == 3
    from advm.runtime.living import LivingDocument
    back = LivingDocument.restore(mod, doc.living.snapshot(), viewers=Viewers)  # kept in the snapshot
    assert back.replicas.to_values() == doc.living.replicas.to_values()
    assert doc.living.next_due() is not None  # woken to make it again after a restart
    del doc  # a crash: no close
    doc = DurableDocument.open(store, "shop", viewers=Viewers)
    (c,) = doc.living.service_calls()
    assert (c["call"], c["attempts"]) == ("~r/copy/1", 3)
    doc.close()


steps = st.lists(st.one_of(
    st.tuples(st.just("set"), st.integers(0, 3)),
    st.tuples(st.just("list"), st.booleans()),
    st.tuples(st.just("ok"), st.integers(0, 3)),
    st.tuples(st.just("fail"), st.integers(0, 3)),
    st.tuples(st.just("again"), st.integers(0, 3)),
    st.just(("restart",)),
), max_size=20)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps)
def test_replay_of_replication_inputs_never_opens_a_connection(tmp_path_factory, steps):
    """Property: any log of changes, acknowledgements, failures, duplicate
    acknowledgements and restarts replays to the live state (replication
    included) without a connection; an acknowledged operation is never
    pending again."""
    store = open_store(tmp_path_factory.mktemp("s"))
    doc, _ = DurableDocument.create(store, "shop", compiled(SOURCE, "r.adb"), "ann@shop", None, T0, viewers=Viewers)
    now, acked = T0, []
    for step in steps:
        now += 1000
        calls = doc.living.service_calls()
        kind = step[0]
        if kind == "set":
            doc.submit({"op": "send", "who": "ann@shop", "channel": "set", "message": {"count": step[1]}},
                       now).result()
        elif kind == "list":
            doc.submit({"op": "send", "who": "ann@shop", "channel": "list", "message": {"on": step[1]}},
                       now).result()
        elif kind in ("ok", "fail") and calls:
            result = {"value": {"ok": True}} if kind == "ok" else {"error": {"code": 503, "message": "down"}}
            doc.submit({"op": "result", "call": calls[0]["call"], "result": result}, now).result()
            if kind == "ok":
                acked.append(calls[0]["call"])
        elif kind == "again" and acked:
            doc.submit({"op": "result", "call": acked[step[1] % len(acked)], "result": {"value": {}}},
                       now).result()
        elif kind == "restart":
            doc = DurableDocument.open(store, "shop", viewers=Viewers)
        assert not {c["call"] for c in doc.living.service_calls()} & set(acked)
    live = state_hash(doc.living.snapshot())
    replicas = doc.living.replicas.to_values()
    doc.close()

    def refuse(*a, **kw):
        raise AssertionError("replay opened a network connection")
    real = socket.socket.connect, socket.create_connection
    socket.socket.connect = refuse
    socket.create_connection = refuse
    try:
        result = replay(store, "shop")
    finally:
        socket.socket.connect, socket.create_connection = real
        store.close()
    assert result.ok, result.divergence
    assert state_hash(result.living.snapshot()) == live
    assert result.living.replicas.to_values() == replicas


def test_backoff_grows_exponentially_with_jitter_and_is_capped():
    for n in range(1, 12):
        d = min(net_services.REPLICATION_MAX_BACKOFF_S, net_services.REPLICATION_BACKOFF_S * 2 ** (n - 1))
        got = [replication_backoff(n) for _ in range(50)]
        assert all(d / 2 <= x <= d for x in got)
        assert len(set(got)) > 1  # jitter
    assert replication_backoff(100) <= net_services.REPLICATION_MAX_BACKOFF_S


# ------------------------------------------------------------ over HTTP, through the router

async def _create(router, key):
    await router.create(key, "ann@shop", None)


def test_a_change_sends_one_update_with_the_new_hash_and_an_unchanged_value_nothing():
    with Inventory() as inv:
        async def scenario():
            router = Router(module(SOURCE), services=config(inv.url))
            await router.start()
            try:
                await _create(router, "shop-1")
                await until(lambda: len(inv.requests) == 1)
                await router.send("shop-1", "ann@shop", "set", {"count": 7})
                await until(lambda: len(inv.requests) == 2)
                await router.send("shop-1", "ann@shop", "set", {"count": 7})  # unchanged
                await settle()
                assert len(inv.requests) == 2
                first, second = inv.requests
                assert first["path"] == "/stock" and first["headers"]["Advm-Replication"] == "create"
                assert second["headers"]["Advm-Replication"] == "update"
                assert second["body"] == {"op": "update", "name": "copy", "value": {"sku": "tea", "count": 7},
                                          "hash": content_hash({"sku": "tea", "count": 7})}
                assert second["headers"]["Idempotency-Key"] == idempotency_key("shop-1", "~r/copy/2")
                await router.send("shop-1", "ann@shop", "list", {"on": False})
                await until(lambda: len(inv.requests) == 3)
                assert inv.requests[2]["body"]["op"] == "delete"
            finally:
                await router.close()
        asyncio.run(asyncio.wait_for(scenario(), 30))


def test_a_failing_target_is_retried_with_backoff_then_succeeds_once(fast_backoff):
    with Inventory() as inv:
        inv.failing = 4

        async def scenario():
            router = Router(module(SOURCE), services=config(inv.url))
            await router.start()
            try:
                await _create(router, "shop-2")
                await until(lambda: len(inv.requests) == 5)
                await settle()
                assert len(inv.requests) == 5  # 4 failures, 1 success, nothing after
                gaps = [b["at"] - a["at"] for a, b in zip(inv.requests, inv.requests[1:])]
                # attempt n waits between half and all of 0.05 * 2**(n-1), at most 0.4
                assert gaps[0] >= 0.025 and gaps[3] >= 0.2, gaps
                assert len({r["headers"]["Idempotency-Key"] for r in inv.requests}) == 1
                assert len({json.dumps(r["body"]) for r in inv.requests}) == 1
                assert [r["headers"]["Advm-Attempt"] for r in inv.requests] == ["1", "2", "3", "4", "5"]
            finally:
                await router.close()
        asyncio.run(asyncio.wait_for(scenario(), 30))


def test_an_operation_pending_at_a_restart_is_completed_once(tmp_path, fast_backoff):
    """The server stops with the create failing; the next one (same store)
    takes it up with its attempts, completes it, and never sends it again."""
    with Inventory() as inv:
        inv.failing = 10 ** 6

        async def first():
            router = Router(module(SOURCE), store=store, services=config(inv.url))
            await router.start()
            try:
                await _create(router, "shop-3")
                await until(lambda: len(inv.requests) >= 2)
            finally:
                await router.close()
        store = open_store(tmp_path / "s")
        asyncio.run(asyncio.wait_for(first(), 30))
        store.close()
        sent_before = len(inv.requests)
        inv.failing = 0

        async def second():
            router = Router(module(SOURCE), store=store, services=config(inv.url))
            await router.start()
            try:
                await router.send("shop-3", "ann@shop", "set", {"count": 0})  # wakes it (unchanged value)
                await until(lambda: len(inv.requests) == sent_before + 1)
                await settle(0.5)
                assert len(inv.requests) == sent_before + 1
            finally:
                await router.close()
        store = open_store(tmp_path / "s")
        asyncio.run(asyncio.wait_for(second(), 30))
        bodies = inv.bodies()
        assert all(b == bodies[0] for b in bodies)  # one content for the operation, before and after
        doc = DurableDocument.open(store, "shop-3", viewers=Viewers)
        assert doc.living.replicas.to_values()["copy"]["op"] is None
        assert doc.living.replicas.to_values()["copy"]["acked"] == bodies[0]["hash"]
        doc.close()
        store.close()


def test_snapshot_inspect_shows_the_pending_operation_and_its_attempts(tmp_path, cli):
    store = open_store(tmp_path / "s")
    doc, _ = DurableDocument.create(store, "shop", compiled(SOURCE, "r.adb"), "ann@shop", None, T0, viewers=Viewers)
    for i in range(2):
        doc.submit({"op": "result", "call": "~r/copy/1", "result": {"error": {"code": 503, "message": "down"}}},
                   T0 + 1 + i).result()
    doc.close()
    store.close()
    r = cli("snapshot", "inspect", "--store", tmp_path / "s", "--doc", "shop", "--json")
    assert r.code == 0, r.err
    (rep,) = json.loads(r.out)["replication"]
    assert rep["name"] == "copy" and (rep["service"], rep["method"]) == ("inventory", "stock")
    assert rep["acked"] is None and rep["ops"] == 1
    assert rep["pending"] == {"call": "~r/copy/1", "op": "create", "hash": content_hash({"sku": "tea", "count": 0}),
                              "attempts": 2, "error": "503: down"}
    text = cli("snapshot", "inspect", "--store", tmp_path / "s", "--doc", "shop").out
    assert "replicate copy -> inventory:stock: acknowledged nothing, 1 operation(s) issued, pending create " \
           "~r/copy/1" in text and "2 failed attempt(s), last: 503: down" in text


def test_the_checkout_example_replicates_a_paid_order_to_inventory_once(fast_backoff):
    """examples/checkout.adb (issue 13 point 7): paid through the payment
    service, the order is created at an inventory service that fails twice first."""
    from pathlib import Path
    from service_kit import PaymentService
    checkout = (Path(__file__).resolve().parents[2] / "examples" / "checkout.adb").read_text()
    with PaymentService() as pay, Inventory() as inv:
        inv.failing = 2

        async def scenario():
            cfg = ServiceConfig.from_dict({"services": {"payments": {"base_url": pay.url},
                                                        "inventory": {"base_url": inv.url}}})
            router = Router(module(checkout), services=cfg)
            await router.start()
            try:
                await router.create("order-9", "ann@shop", None)
                await router.send("order-9", "ann@shop", "add", {"sku": "tea", "cents": 450, "qty": 2})
                await settle(0.2)
                assert inv.requests == []  # nothing replicated before the order is paid
                await router.send("order-9", "ann@shop", "checkout", {})
                await until(lambda: len(inv.requests) == 3)
                await settle()
                assert len(inv.requests) == 3 and len(pay.charges()) == 1
                value = {"order": "order-9", "cents": 900, "lines": 1, "charge_id": "ch_1"}
                assert all(r["body"] == {"op": "create", "name": "paid_order", "value": value,
                                         "hash": content_hash(value)} for r in inv.requests)
            finally:
                await router.close()
        asyncio.run(asyncio.wait_for(scenario(), 30))


def test_an_upgrade_keeps_what_was_acknowledged_and_the_pending_operation():
    """New code (a field added) must not send the acknowledged copy again,
    nor lose an operation in flight."""
    from advm.runtime.living import LivingDocument
    from advm.runtime.upgrade import upgrade
    from advm.views.viewers import Viewers
    old, new = compiled(SOURCE, "r.adb"), compiled(SOURCE + "public int extra = 1;\n", "r.adb")
    living = LivingDocument(old, key="u", viewers=Viewers)
    living.create("ann@shop", None, T0)
    living.apply({"op": "result", "call": "~r/copy/1", "result": {"value": {}}, "now": T0 + 1})
    moved, _ = upgrade(living, new, viewers=Viewers)
    assert moved.replicas.to_values() == living.replicas.to_values()
    moved.apply({"op": "send", "who": "ann@shop", "channel": "set", "message": {"count": 0}, "now": T0 + 2})
    assert moved.service_calls() == []  # the same value: the acknowledged copy is not sent again
    moved.apply({"op": "send", "who": "ann@shop", "channel": "set", "message": {"count": 3}, "now": T0 + 3})
    (c,) = moved.service_calls()
    assert (c["call"], c["replication"]) == ("~r/copy/2", "update")
    moved2, _ = upgrade(moved, compiled(SOURCE + "public int extra = 2;\n", "r.adb"), viewers=Viewers)
    assert moved2.service_calls() == [c]  # the pending operation carries over, same id and content


def test_a_value_over_the_request_limit_is_not_sent_and_a_long_error_is_cut(tmp_path):
    from advm.runtime import replication
    src = SOURCE.replace("public string sku = \"tea\";", "public string sku = \"tea\";\nmessage Sku { string s; }\n"
                         "channel sku_is(Sku k) { sku = k.s; }")
    store = open_store(tmp_path / "s")
    doc, _ = DurableDocument.create(store, "shop", compiled(src, "r.adb"), "ann@shop", None, T0, viewers=Viewers)
    doc.submit({"op": "result", "call": "~r/copy/1", "result": {"error": {"code": 500, "message": "x" * 1000}}},
               T0 + 1).result()
    op = doc.living.replicas.to_values()["copy"]["op"]
    assert len(op["error"]) == replication.MAX_ERROR_CHARS and op["error"].startswith("500: xxx")
    doc.submit({"op": "result", "call": "~r/copy/1", "result": {"value": {}}}, T0 + 2).result()
    big = "y" * replication.MAX_REQUEST_BYTES  # the request crosses the limit by its other fields
    doc.submit({"op": "send", "who": "ann@shop", "channel": "sku_is", "message": {"s": big}}, T0 + 3).result()
    assert doc.living.service_calls() == []
    s = doc.living.replicas.to_values()["copy"]
    assert s["ops"] == 1 and s["too_large"] == content_hash({"sku": big, "count": 0})
    fits = "y" * (replication.MAX_REQUEST_BYTES - 200)
    doc.submit({"op": "send", "who": "ann@shop", "channel": "sku_is", "message": {"s": fits}}, T0 + 4).result()
    (c,) = doc.living.service_calls()
    assert c["replication"] == "update" and "too_large" not in doc.living.replicas.to_values()["copy"]
    doc.close()
    store.close()


def test_the_formatter_keeps_replication_targets_tight():
    from advm.compiler.format import format_source
    src = "replication < inventory : stock >   copy = {sku: sku,count: count};\n"
    assert format_source(src) == "replication<inventory:stock> copy = {sku: sku, count: count};\n"
    assert format_source(SOURCE.strip() + "\n") == format_source(format_source(SOURCE.strip() + "\n"))
    assert "replication<inventory:stock> copy = listed ? " in format_source(SOURCE)


# ------------------------------------------------------------ failures that are final (a 4xx)


def test_a_4xx_ends_the_operation_as_failed_and_the_same_content_is_not_issued_again(tmp_path, cli):
    """A 4xx other than 408 and 429 is final (runtime/replication.py
    `permanent`): the operation is marked failed, kept for inspect, not retried;
    408, 429 and 5xx only count an attempt. A later value is issued anew."""
    from advm.runtime.replication import permanent
    from advm.views.viewers import Viewers as views
    assert [c for c in (400, 404, 408, 409, 413, 422, 429, 500, 501, 503, 504) if permanent(c)] == \
        [400, 404, 409, 413, 422]
    store = open_store(tmp_path / "s")
    doc, _ = DurableDocument.create(store, "shop", compiled(SOURCE, "r.adb"), "ann@shop", None, T0, viewers=views)
    for i, code in enumerate((503, 408, 429)):  # retried: the operation stays, its attempts counted
        doc.submit({"op": "result", "call": "~r/copy/1", "result": {"error": {"code": code, "message": "busy"}}},
                   T0 + 1 + i).result()
    assert doc.living.replicas.to_values()["copy"]["op"]["attempts"] == 3
    doc.submit({"op": "result", "call": "~r/copy/1", "result": {"error": {"code": 422, "message": "no such sku"}}},
               T0 + 5).result()
    s = doc.living.replicas.to_values()["copy"]
    assert s["op"] is None and s["acked"] is None
    assert s["failed"]["id"] == "~r/copy/1" and s["failed"]["code"] == 422 and s["failed"]["attempts"] == 4
    assert s["failed"]["error"] == "422: no such sku"
    assert doc.living.service_calls() == []
    assert doc.living.next_due() is None  # nothing left to make: no wake for it
    doc.submit({"op": "send", "who": "ann@shop", "channel": "set", "message": {"count": 0}}, T0 + 6).result()
    assert doc.living.service_calls() == []  # the value it refused, unchanged: not sent again
    frames = doc.submit({"op": "result", "call": "~r/copy/1", "result": {"value": {}}}, T0 + 7).result()
    assert [f["error"]["code"] for f in frames if "error" in f] in ([], ["unknown_call"])  # a late answer: nothing
    assert doc.living.replicas.to_values()["copy"]["acked"] is None
    doc.close()
    store.close()
    r = cli("snapshot", "inspect", "--store", tmp_path / "s", "--doc", "shop", "--json")
    assert r.code == 0, r.err
    (rep,) = json.loads(r.out)["replication"]
    assert rep["pending"] is None
    assert rep["failed"] == {"call": "~r/copy/1", "op": "create", "hash": content_hash({"sku": "tea", "count": 0}),
                             "attempts": 4, "code": 422, "error": "422: no such sku"}
    text = cli("snapshot", "inspect", "--store", tmp_path / "s", "--doc", "shop").out
    assert "failed create ~r/copy/1" in text and "refused for good after 4 attempt(s): 422: no such sku" in text
    store = open_store(tmp_path / "s")
    doc = DurableDocument.open(store, "shop", viewers=views)  # the failure survives a restart (it is in the log and state)
    assert doc.living.replicas.to_values()["copy"]["failed"]["code"] == 422
    doc.submit({"op": "send", "who": "ann@shop", "channel": "set", "message": {"count": 2}}, T0 + 8).result()
    (c,) = doc.living.service_calls()  # another value: a new create (nothing was acknowledged)
    assert (c["call"], c["replication"]) == ("~r/copy/2", "create")
    doc.submit({"op": "result", "call": "~r/copy/2", "result": {"value": None}}, T0 + 9).result()
    s = doc.living.replicas.to_values()["copy"]
    assert s["acked"] == content_hash({"sku": "tea", "count": 2}) and "failed" not in s  # in step again
    doc.close()
    store.close()


def test_the_dispatcher_stops_at_a_4xx_and_retries_a_408_a_429_and_a_5xx(fast_backoff):
    """Against the inventory on 127.0.0.1: 429, 408 and 503 are tried again
    with backoff; a 404 ends the operation after one request; the next value
    goes out and an empty 204 answer acknowledges it."""
    with Inventory() as inv:
        inv.script = [429, 408, 503, 404]

        async def scenario():
            router = Router(module(SOURCE), services=config(inv.url))
            await router.start()
            try:
                await _create(router, "shop-4")
                await until(lambda: len(inv.requests) == 4)
                await settle(0.6)  # longer than the backoff after 3 failures: nothing more comes
                assert [r["status"] for r in inv.requests] == [429, 408, 503, 404]
                assert len({r["headers"]["Idempotency-Key"] for r in inv.requests}) == 1
                inv.script = [204]
                await router.send("shop-4", "ann@shop", "set", {"count": 1})
                await until(lambda: len(inv.requests) == 5)
                await settle()
                assert len(inv.requests) == 5 and inv.requests[4]["headers"]["Advm-Replication"] == "create"
                assert inv.requests[4]["body"]["value"] == {"sku": "tea", "count": 1}
            finally:
                await router.close()
        asyncio.run(asyncio.wait_for(scenario(), 30))


# ------------------------------------------------------------ deleting the document deletes its copies

DELETABLE = SOURCE + "@delete { return true; }\n"


def test_deleting_the_document_deletes_its_copy_with_retries_then_frees_its_key(fast_backoff):
    """The document's delete issues each acknowledged copy's `delete`
    (language.md 4.30), tried with backoff while the target fails; until it is
    acknowledged the deleted document is kept (its key not free again); then
    it is removed and its key can make a new document."""
    with Inventory() as inv:
        async def scenario():
            router = Router(module(DELETABLE), services=config(inv.url))
            await router.start()
            try:
                await _create(router, "shop-5")
                await until(lambda: len(inv.requests) == 1)
                await router.send("shop-5", "ann@shop", "set", {"count": 4})
                await until(lambda: len(inv.requests) == 2)
                inv.failing = 10 ** 6
                await router.delete("shop-5", "ann@shop")
                await until(lambda: len(inv.requests) >= 4)
                with pytest.raises(Exception) as refused:
                    await router.create("shop-5", "bob@shop", None)
                assert "still being deleted" in str(refused.value)
                inv.failing = 0
                await until(lambda: inv.requests[-1]["status"] == 200 and len(inv.requests) >= 5)
                deletes = inv.requests[2:]
                assert {r["headers"]["Advm-Replication"] for r in deletes} == {"delete"}
                assert {json.dumps(r["body"]) for r in deletes} == {json.dumps(
                    {"op": "delete", "name": "copy", "hash": None, "value": None})}
                assert len({r["headers"]["Idempotency-Key"] for r in deletes}) == 1
                assert [r["headers"]["Advm-Attempt"] for r in deletes] == [str(i + 1) for i in range(len(deletes))]
                await settle()
                sent = len(inv.requests)
                await until(lambda: "shop-5" not in router.slots or not router.slots["shop-5"].loaded)
                await router.create("shop-5", "bob@shop", None)  # removed: the key is free again
                await until(lambda: len(inv.requests) == sent + 1)
                assert inv.requests[-1]["body"]["op"] == "create"
            finally:
                await router.close()
        asyncio.run(asyncio.wait_for(scenario(), 30))


def test_a_copys_delete_survives_a_restart_and_a_document_that_never_replicated_goes_at_once(tmp_path, fast_backoff):
    """A server stopped while the target refuses the delete: the deleted
    document stays in the store with its pending delete (and a wake time);
    the next server makes it, and only then is the document removed."""
    with Inventory() as inv:
        async def first():
            router = Router(module(DELETABLE), store=store, services=config(inv.url))
            await router.start()
            try:
                await _create(router, "shop-6")
                await until(lambda: len(inv.requests) == 1)
                inv.failing = 10 ** 6
                await router.delete("shop-6", "ann@shop")
                await until(lambda: len(inv.requests) >= 3)
            finally:
                await router.close()
        store = open_store(tmp_path / "s")
        asyncio.run(asyncio.wait_for(first(), 30))
        assert "shop-6" in set(store.documents()) and store.timer("shop-6") is not None
        store.close()
        inv.failing = 0
        sent = len(inv.requests)

        async def second():
            router = Router(module(DELETABLE), store=store, services=config(inv.url))
            await router.start()
            try:
                with pytest.raises(Exception):  # a client finds it deleted; its deletes go on
                    await router.send("shop-6", "ann@shop", "set", {"count": 1})
                await until(lambda: len(inv.requests) == sent + 1)
                await until(lambda: "shop-6" not in set(store.documents()))
            finally:
                await router.close()
        store = open_store(tmp_path / "s")
        asyncio.run(asyncio.wait_for(second(), 30))
        assert inv.requests[-1]["body"]["op"] == "delete" and inv.requests[-1]["status"] == 200
        assert len({r["headers"]["Idempotency-Key"] for r in inv.requests[1:]}) == 1
        store.close()


def test_the_deleted_documents_log_replays_its_copys_delete(tmp_path):
    """Replay reproduces the deleted document's replication state: the delete
    issued at the deletion, its failed attempt, its acknowledgement."""
    from advm.views.viewers import Viewers as views
    store = open_store(tmp_path / "s")
    doc, _ = DurableDocument.create(store, "shop", compiled(DELETABLE, "r.adb"), "ann@shop", None, T0, viewers=views)
    doc.submit({"op": "result", "call": "~r/copy/1", "result": {"value": {}}}, T0 + 1).result()
    doc.submit({"op": "delete", "who": "ann@shop"}, T0 + 2).result()
    assert doc.living.destroyed and doc.living.deleting
    (c,) = doc.living.service_calls()
    assert (c["call"], c["replication"]) == ("~r/copy/2", "delete")
    assert doc.living.next_due() == doc.living.clock + 10_000  # woken to make it again after a restart
    frames = doc.submit({"op": "send", "who": "ann@shop", "channel": "set", "message": {"count": 1}}, T0 + 3).result()
    assert [f["error"]["code"] for f in frames if "error" in f] == ["destroyed"]
    doc.submit({"op": "result", "call": "~r/copy/2", "result": {"error": {"code": 503, "message": "down"}}},
               T0 + 4).result()
    doc.submit({"op": "advance"}, T0 + 20_000).result()
    assert doc.living.next_due() == T0 + 30_000  # the recheck moves with the wake
    waiting = doc.living.replicas.to_values()
    assert waiting["copy"]["op"]["attempts"] == 1
    doc.submit({"op": "result", "call": "~r/copy/2", "result": {"value": None}}, T0 + 20_001).result()
    assert not doc.living.deleting and doc.living.service_calls() == [] and doc.living.next_due() is None
    final = doc.living.replicas.to_values()
    assert final["copy"]["acked"] is None and final["copy"]["op"] is None
    doc.close()
    assert set(store.documents()) == {"shop"}  # the durable document is its host's to remove
    for until, want in ((5, waiting), (None, final)):  # seq 5: the advance after the failed attempt
        report = replay(store, "shop", until=until)
        assert report.ok and report.living.destroyed, report.to_json()
        assert report.living.replicas.to_values() == want
    store.close()


def test_admin_view_shows_a_running_documents_replication_status(tmp_path, fast_backoff):
    """admin/view (spec/protocol.md 8.11) on a running server gives the same
    replication status as `advm snapshot inspect`: the failed operation and
    its code after a 422, then the acknowledged hash."""
    from server_kit import run

    with Inventory() as inv:
        inv.script = [422]

        async def scenario(kit):
            async with kit.serve(SOURCE, store=open_store(tmp_path / "s"), services=config(inv.url)) as srv:
                admin = kit.tokens.mint("ops", ttl=600, admin=True)
                ann = await kit.client(srv, "ann@shop")
                await ann.create("shop-7")
                await until(lambda: len(inv.requests) == 1)
                c = await kit.client(srv, identity=admin)

                async def status():
                    got = await c.request("admin/view", key="shop-7", principal="ann@shop", identity=admin)
                    return got["replication"]

                async def eventually(pred):
                    for _ in range(200):
                        got = await status()
                        if pred(got):
                            return got
                        await asyncio.sleep(0.02)
                    raise AssertionError(got)

                (rep,) = await eventually(lambda r: r[0]["failed"] is not None)
                assert rep["pending"] is None and rep["acked"] is None
                assert (rep["failed"]["call"], rep["failed"]["code"]) == ("~r/copy/1", 422)
                doc = await ann.open("shop-7")
                await doc.send("set", {"count": 3})
                (rep,) = await eventually(lambda r: r[0]["acked"] is not None)
                assert rep["acked"] == content_hash({"sku": "tea", "count": 3}) and rep["failed"] is None
                assert rep["ops"] == 2 and (rep["service"], rep["method"]) == ("inventory", "stock")
        run(scenario)
