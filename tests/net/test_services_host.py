"""Service calls over real HTTP through the serving router (issue 13 point 1):
the checkout example against a payment service on 127.0.0.1 that charges,
fails, stalls and recovers; a stalled service never blocks other documents;
secrets never reach the document; replay of the log never opens a socket."""
from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path

import pytest

from advm.net.router import Router
from advm.net.services import ConfigError, ServiceConfig, idempotency_key
from service_kit import PaymentService
from server_kit import Recorder, module, run

ROOT = Path(__file__).resolve().parents[2]
CHECKOUT = (ROOT / "examples" / "checkout.adb").read_text()


def config(url: str, **extra) -> ServiceConfig:
    return ServiceConfig.from_dict({"services": {"payments": {"base_url": url, **extra}}})


def view_of(rec: Recorder) -> dict:
    """The merged view a Recorder received."""
    out: dict = {}
    for call in rec.calls:
        if call[0] == "reset":
            out = json.loads(json.dumps(call[1]))
        elif call[0] == "deltas":
            for patch, _ in call[1]:
                _merge(out, patch)
    return out


def _merge(target: dict, patch: dict) -> None:
    for k, v in patch.items():
        if v is None:
            target.pop(k, None)
        elif isinstance(v, dict) and isinstance(target.get(k), dict):
            _merge(target[k], v)
        else:
            target[k] = v


async def until(pred, timeout: float = 10.0):
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not pred():
        if loop.time() > end:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.01)


async def shop(router: Router, key: str, who: str = "ann@shop") -> Recorder:
    await router.create(key, who, None)
    rec = Recorder()
    await router.connect(key, who, rec)
    await router.send(key, who, "add", {"sku": "tea", "cents": 450, "qty": 2})
    return rec


def test_checkout_charges_once_and_the_viewer_sees_it():
    with PaymentService() as pay:
        async def scenario(kit=None):
            router = Router(module(CHECKOUT), services=config(pay.url, headers={"X-Shop": "demo"},
                                                          secrets={"Authorization": "Bearer s3cr3t"}))
            await router.start()
            try:
                rec = await shop(router, "order-1")
                await router.send("order-1", "ann@shop", "checkout", {})
                await until(lambda: view_of(rec).get("phase") == "Paid")
                v = view_of(rec)
                assert v["charge_id"] == "ch_1" and v["total_cents"] == 900
                (req,) = pay.charges()
                assert req["body"] == {"order": "order-1", "cents": 900, "currency": "EUR"}
                h = req["headers"]
                assert h["Authorization"] == "Bearer s3cr3t" and h["X-Shop"] == "demo"
                # derived from the document and the call's id (its first call: id 1)
                assert h["Idempotency-Key"] == idempotency_key("order-1", 1)
                assert h["Advm-Attempt"] == "1" and h["Advm-Principal"] == "ann@shop"
                assert "s3cr3t" not in json.dumps(v)
            finally:
                await router.close()
        run(scenario)


def test_a_failing_service_declines_and_a_recovered_one_pays():
    with PaymentService(mode="fail") as pay:
        async def scenario(kit=None):
            router = Router(module(CHECKOUT), services=config(pay.url, secrets={"Authorization": "tok-xyz"}))
            await router.start()
            try:
                rec = await shop(router, "order-2")
                await router.send("order-2", "ann@shop", "checkout", {})
                await until(lambda: view_of(rec).get("phase") == "Declined")
                reason = view_of(rec)["declined_because"]
                assert "500" in reason and "tok-xyz" not in reason
                assert len(pay.charges()) == 1  # charge is not idempotent: never retried
                pay.mode = "ok"  # the service recovers; the customer tries again
                await router.send("order-2", "ann@shop", "checkout", {})
                await until(lambda: view_of(rec).get("phase") == "Paid")
                assert view_of(rec)["attempts"] == 2 and len(pay.charges()) == 2
            finally:
                await router.close()
        run(scenario)


def test_a_service_that_answers_garbage_or_is_unconfigured_gives_a_failed_result():
    with PaymentService(mode="garbage") as pay:
        async def scenario(kit=None):
            router = Router(module(CHECKOUT), services=config(pay.url))
            bare = Router(module(CHECKOUT))  # no services configured
            await router.start()
            await bare.start()
            try:
                rec = await shop(router, "g")
                await router.send("g", "ann@shop", "checkout", {})
                await until(lambda: view_of(rec).get("phase") == "Declined")
                assert "not JSON" in view_of(rec)["declined_because"]
                rec2 = await shop(bare, "u")
                await bare.send("u", "ann@shop", "checkout", {})
                await until(lambda: view_of(rec2).get("phase") == "Declined")
                assert "not configured" in view_of(rec2)["declined_because"]
            finally:
                await router.close()
                await bare.close()
        run(scenario)


def test_a_stalled_service_times_out_and_never_blocks_other_documents():
    with PaymentService() as pay:
        pay.stall()

        async def scenario(kit=None):
            router = Router(module(CHECKOUT), services=config(pay.url, timeout_ms=5000))
            await router.start()
            try:
                stuck = await shop(router, "stuck")
                await router.send("stuck", "ann@shop", "checkout", {})
                await until(lambda: len(pay.charges()) == 1)
                # While the call stalls, this document's other channels and other
                # documents answer: all of it happens with the call still in flight.
                other = await shop(router, "other", "bob@shop")
                await router.send("other", "bob@shop", "add", {"sku": "cup", "cents": 100, "qty": 1})
                await until(lambda: view_of(other).get("total_cents") == 1000)
                # The stalled document's own channels answer too (adding to a cart being paid aborts).
                with pytest.raises(Exception) as refused:
                    await router.send("stuck", "ann@shop", "add", {"sku": "cup", "cents": 100, "qty": 1})
                assert getattr(refused.value, "code", None) == "abort"
                assert [k for k in router.services.inflight if k[0] == "stuck"]  # the call: still stalled
                assert view_of(stuck).get("phase") == "Paying"
                await until(lambda: view_of(stuck).get("phase") == "Declined", 20)
                assert "did not answer within 5000 ms" in view_of(stuck)["declined_because"]
            finally:
                pay.release()
                await router.close()
        run(scenario)


IDEMPOTENT = """
@static { create { return true; } }
@connected { return true; }
service rates {
  message Q { string cur; }
  message R { double rate; }
  method<Q, R> get idempotent;
}
public formula eur = rates.get(@no_cache, {cur: "EUR"});
public formula eur_rate = eur.as_maybe();
"""


def test_an_idempotent_method_is_retried_and_a_formula_shows_its_result():
    with PaymentService(mode="fail") as svc:
        async def scenario(kit=None):
            router = Router(module(IDEMPOTENT), services=config(svc.url, attempts=4))
            router.services.config.services["rates"] = router.services.config.services.pop("payments")
            router.services.config.services["rates"].name = "rates"
            await router.start()
            try:
                await router.create("r", "ann@x", None)
                rec = Recorder()
                await router.connect("r", "ann@x", rec)
                await until(lambda: view_of(rec).get("eur", {}).get("finished"))
                got = view_of(rec)["eur"]
                assert got["failed"] and got["code"] == 500
                assert len(svc.requests) == 4  # every attempt of an idempotent method
                keys = {r["headers"]["Idempotency-Key"] for r in svc.requests}
                assert len(keys) == 1 and [r["headers"]["Advm-Attempt"] for r in svc.requests] == \
                    ["1", "2", "3", "4"]
            finally:
                await router.close()
        run(scenario)


def test_services_file_is_checked_and_reads_secrets_from_the_environment(tmp_path):
    f = tmp_path / "services.toml"
    f.write_text('[limits]\nper_host = 2\n[services.payments]\nbase_url = "http://127.0.0.1:9/api/"\n'
                 'secrets = { Authorization = "env:PAY_TOKEN" }\n')
    with pytest.raises(ConfigError) as e:
        ServiceConfig.load(f, environ={})
    assert "PAY_TOKEN" in str(e.value)
    c = ServiceConfig.load(f, environ={"PAY_TOKEN": "hidden-value"})
    assert c.per_host == 2 and c.services["payments"].base_url == "http://127.0.0.1:9/api"
    assert "hidden-value" not in repr(c.services["payments"])
    for bad, says in [('[services.p]\nbase_url = "ftp://x"\n', "base_url"),
                      ('[services.p]\nbase_url = "http://x"\ntimeout_ms = 0\n', "timeout_ms"),
                      ('[limits]\nper_host = 1001\n', "per_host"),
                      ('[services.p]\nbase_url = "http://x"\nattempts = 11\n', "attempts"),
                      ('[services.p]\nbase_url = "http://x"\nheaders = { A = 1 }\n', "strings"),
                      ('[services.p]\nurl = "http://x"\n', "unknown key"),
                      ('[other]\n', "unknown section"),
                      ("not toml =", "not TOML")]:
        f.write_text(bad)
        with pytest.raises(ConfigError) as e:
            ServiceConfig.load(f, environ={})
        assert says in str(e.value)
    many = "".join(f'[services.s{i}]\nbase_url = "http://x"\n' for i in range(257))
    f.write_text(many)
    with pytest.raises(ConfigError):
        ServiceConfig.load(f, environ={})
    assert ServiceConfig.from_flags(["pay=http://127.0.0.1:1"]).services["pay"].base_url == "http://127.0.0.1:1"
    with pytest.raises(ConfigError):
        ServiceConfig.from_flags(["nourl"])


def test_an_oversized_answer_is_a_failed_result():
    import advm.net.services as S

    big = b'{"charge_id": "' + b"x" * (S.MAX_BODY_BYTES + 10) + b'", "status": "paid"}'

    class Big(PaymentService):
        def _handle(self, h, body):
            self.requests.append({"path": h.path, "headers": dict(h.headers), "body": None})
            self._send(h, 200, big)

    with Big() as pay:
        async def scenario(kit=None):
            router = Router(module(CHECKOUT), services=config(pay.url))
            await router.start()
            try:
                rec = await shop(router, "big")
                await router.send("big", "ann@shop", "checkout", {})
                await until(lambda: view_of(rec).get("phase") == "Declined")
                assert "larger than" in view_of(rec)["declined_because"]
            finally:
                await router.close()
        run(scenario)


def test_advm_run_refuses_a_bad_services_file_before_serving(cli, tmp_path, monkeypatch):
    from advm.cli import ExitCode

    doc = tmp_path / "checkout.adb"
    doc.write_text(CHECKOUT)
    bad = tmp_path / "services.toml"
    bad.write_text('[services.payments]\nbase_url = "http://127.0.0.1:1"\n'
                   'secrets = { Authorization = "env:ADVM_TEST_NO_SUCH_VAR" }\n')
    monkeypatch.delenv("ADVM_TEST_NO_SUCH_VAR", raising=False)
    r = cli("run", doc, "--memory", "--port", "0", "--services", bad)
    assert r.code == ExitCode.USAGE and "ADVM_TEST_NO_SUCH_VAR" in r.err and "serving" not in r.out
    r = cli("run", doc, "--memory", "--port", "0", "--service", "payments")
    assert r.code == ExitCode.USAGE and "NAME=URL" in r.err
    r = cli("run", doc, "--memory", "--port", "0", "--services", tmp_path / "missing.toml")
    assert r.code == ExitCode.USAGE and "cannot read" in r.err


def test_calls_in_flight_per_host_are_bounded():
    with PaymentService() as pay:
        pay.stall()

        async def scenario(kit=None):
            router = Router(module(CHECKOUT), services=ServiceConfig.from_dict(
                {"limits": {"per_host": 1}, "services": {"payments": {"base_url": pay.url}}}))
            await router.start()
            try:
                recs = [await shop(router, f"b{i}", f"u{i}@shop") for i in range(3)]
                for i in range(3):
                    await router.send(f"b{i}", f"u{i}@shop", "checkout", {})
                await until(lambda: len(pay.charges()) == 1)
                await asyncio.sleep(0.5)
                assert len(pay.charges()) == 1  # the others wait for the one slot of that host
                pay.mode = "ok"
                pay.release()
                await until(lambda: all(view_of(r).get("phase") == "Paid" for r in recs))
                assert len(pay.charges()) == 3
            finally:
                await router.close()
        run(scenario)



def test_an_idempotent_call_is_retried_after_a_408_or_a_429_but_never_after_another_4xx(monkeypatch):
    """The failures that say "later" (408, 429, 5xx, timeouts) are retried for
    an idempotent method; any other 4xx is the result at once; a method not
    declared idempotent is never retried (net/services.py)."""
    from advm.net import services as net_services
    from advm.net.services import Dispatcher
    from inventory_kit import Inventory
    monkeypatch.setattr(net_services, "BACKOFF_S", 0.01)
    with Inventory() as inv:
        async def scenario():
            cfg = ServiceConfig.from_dict({"services": {"inventory": {"base_url": inv.url, "attempts": 5}}})
            d = Dispatcher(cfg, deliver=None)
            await d.start()
            try:
                call = {"call": 1, "service": "inventory", "method": "stock", "who": "a@b", "request": "{}",
                        "idempotent": True}
                inv.script = [429, 408, 503]
                assert await d.call("doc", call) == {"value": {"ok": True}}
                assert [r["status"] for r in inv.requests] == [429, 408, 503, 200]
                inv.requests.clear()
                inv.script = [409]
                got = await d.call("doc", {**call, "call": 2})
                assert got["error"]["code"] == 409 and [r["status"] for r in inv.requests] == [409]
                inv.requests.clear()
                inv.script = [429]
                got = await d.call("doc", {**call, "call": 3, "idempotent": False})
                assert got["error"]["code"] == 429 and len(inv.requests) == 1
            finally:
                await d.close()
        asyncio.run(asyncio.wait_for(scenario(), 30))
