"""SIGKILL `advm run` with service calls in flight (issue 13 point 1): each
round starts the server on one store with a services file, checks out a few
carts whose charges the local payment service answers slowly, kills the
server (SIGKILL) at a random moment, starts it again and reconnects. Every
call is made again after the restart if its result was not logged, with the
same Idempotency-Key, and every document applies exactly one result; at the
end a replay of every log from seq 1 verifies every snapshot.

ROUNDS rounds: 4 by default (what CI runs), ADVM_KILLS=N runs N, ADVM_SOAK=1 the
issue's 100 (bench/README.md "The 100-kill soak" records a run).
"""
from __future__ import annotations

import asyncio
import os
import random
import signal
import time

import pytest

from advm.durable.replay import replay
from advm.net.client import Client
from advm.net.services import idempotency_key
from advm.net.tokens import Tokens
from advm.store import Store
from service_kit import PaymentService
from test_server_cli import Served

SOAK = os.environ.get("ADVM_SOAK") == "1"
ROUNDS = 100 if SOAK else int(os.environ.get("ADVM_KILLS", "4"))
CARTS = 3  # documents checking out in each round

SOURCE = """
@static { create { return true; } }
@connected { return true; }
service payments {
  message ChargeRequest { string order; int cents; }
  message ChargeReceipt { string charge_id; string status; }
  method<ChargeRequest, ChargeReceipt> charge;
}
message Buy { int cents; }
public int cents = 0;
public int applied = 0;
public int failed = 0;
public string charge_id = "";
public bool paying = false;
channel buy(Buy b) {
  if (paying || applied > 0) { abort; }
  cents = b.cents;
  paying = true;
  transition #pay;
}
#pay {
  let r = payments.charge(@no_one, {order: Document.key(), cents: cents});
  if (r.await() as receipt) {
    applied += 1;
    charge_id = receipt.charge_id;
  } else {
    failed += 1;
  }
  paying = false;
}
"""


class SlowPayments(PaymentService):
    """Answers each charge after a random delay (so kills land with calls in flight)."""

    def _handle(self, h, body):
        time.sleep(random.uniform(0.0, 0.25))
        super()._handle(h, body)


def start(doc, store, services, tmp_path) -> Served:
    return Served("run", doc, "--port", "0", "--store", store, "--workers", "1", "--services", services,
                  cwd=tmp_path)


async def checkout(server: Served, token: str, keys: list[str]) -> None:
    async with await Client.connect(server.ws_url, token) as c:
        for i, key in enumerate(keys):
            await c.create(key)
            view = await c.open(key)
            await view.send("buy", {"cents": 100 + i})


async def settle(server: Served, token: str, keys: list[str], deadline: float = 30.0) -> dict:
    """Reconnect to every document (which loads it and makes its calls again)
    and wait until each applied its result."""
    out = {}
    async with await Client.connect(server.ws_url, token) as c:
        views = {k: await c.open(k) for k in keys}
        end = time.monotonic() + deadline
        while True:
            out = {k: dict(v.view) for k, v in views.items()}
            if all(x["applied"] + x["failed"] >= 1 and not x["paying"] for x in out.values()):
                return out
            if time.monotonic() > end:
                raise AssertionError(f"documents still paying: {out}")
            await asyncio.sleep(0.05)


def test_sigkill_with_service_calls_in_flight_applies_each_result_once(tmp_path):
    doc = tmp_path / "pay.adb"
    doc.write_text(SOURCE)
    store = tmp_path / "store"
    rng = random.Random(1313)
    with SlowPayments() as pay:
        services = tmp_path / "services.toml"
        services.write_text(f'[services.payments]\nbase_url = "{pay.url}"\ntimeout_ms = 5000\n')
        server = start(doc, store, services, tmp_path)
        token = Tokens.from_store_dir(store).mint("shop")
        all_keys: list[str] = []
        reissued = 0
        made_again = 0  # calls made more than once, in every round
        try:
            for rnd in range(ROUNDS):
                keys = [f"r{rnd}-c{k}" for k in range(CARTS)]
                all_keys += keys
                stalled = rnd == 0  # the first round: every call certainly in flight at the kill
                if stalled:
                    pay.stall()
                asyncio.run(asyncio.wait_for(checkout(server, token, keys), 30))
                if stalled:
                    end = time.monotonic() + 20
                    while len(pay.charges()) < CARTS and time.monotonic() < end:
                        time.sleep(0.02)
                else:
                    time.sleep(rng.uniform(0.0, 0.3))  # calls answered, in flight or not yet made
                os.kill(server.proc.pid, signal.SIGKILL)
                server.proc.communicate()
                if stalled:
                    pay.mode = "ok"
                    pay.release()
                server = start(doc, store, services, tmp_path)
                views = asyncio.run(asyncio.wait_for(settle(server, token, keys), 60))
                for key, v in views.items():
                    assert v["applied"] == 1 and v["failed"] == 0, (key, v)
                    sent = [r for r in pay.charges() if r["body"]["order"] == key]
                    assert sent, key
                    # Every attempt of the one call carried the same key: the
                    # service answered the first receipt again.
                    assert {r["headers"]["Idempotency-Key"] for r in sent} == {idempotency_key(key, 1)}
                    assert v["charge_id"] == pay.receipts[idempotency_key(key, 1)]["charge_id"]
                    if stalled:  # made before the kill and again after the restart
                        assert len(sent) >= 2, (key, len(sent))
                        reissued += 1
                    made_again += len(sent) >= 2
        finally:
            server.kill()
    assert reissued == CARTS
    print(f"{ROUNDS} kills, {len(all_keys)} calls, {made_again} made again after a restart")
    s = Store(store)
    try:
        for key in all_keys:
            result = replay(s, key)
            assert result.ok, (key, result.divergence)
            assert result.living.engine.fields()["applied"] == 1
    finally:
        s.close()


def test_advm_run_against_a_service_that_fails_stalls_and_recovers(tmp_path):
    doc = tmp_path / "pay.adb"
    doc.write_text(SOURCE)
    store = tmp_path / "store"
    with PaymentService(mode="fail") as pay:
        services = tmp_path / "services.toml"
        services.write_text(f'[services.payments]\nbase_url = "{pay.url}"\ntimeout_ms = 1000\n')
        server = start(doc, store, services, tmp_path)
        token = Tokens.from_store_dir(store).mint("shop")

        async def scenario():
            async with await Client.connect(server.ws_url, token) as c:
                await c.create("a")
                view = await c.open("a")

                async def until(pred):
                    end = time.monotonic() + 20
                    while not pred(view.view):
                        assert time.monotonic() < end, view.view
                        await asyncio.sleep(0.02)

                await view.send("buy", {"cents": 5})
                await until(lambda v: v["failed"] == 1 and not v["paying"])  # 500: not retried
                pay.stall()
                await view.send("buy", {"cents": 5})
                await until(lambda v: v["failed"] == 2 and not v["paying"])  # timed out after 1 s
                pay.mode = "ok"  # recovered
                pay.release()
                await view.send("buy", {"cents": 5})
                await until(lambda v: v["applied"] == 1 and not v["paying"])
                return dict(view.view)

        try:
            v = asyncio.run(asyncio.wait_for(scenario(), 60))
            assert v["charge_id"].startswith("ch_")
            assert len(pay.charges()) == 3
        finally:
            server.kill()
