"""Exactly one writer per document (issue 18 point 3, spec/store.md 20.4): two
`advm run` hosts on one PostgreSQL store. The first owner is paused
(SIGSTOP) past its lease; a second host takes the document (a new epoch),
loads it and goes on; the first, resumed, cannot commit: its inputs are
refused, and the state in the database is the new owner's."""
from __future__ import annotations

import asyncio
import os
import signal

import pytest

from advm.net.client import Client, ClientError
from advm.net.tokens import Tokens
from advm.store.postgres import PgStore
from server_kit import COUNTER
from test_server_cli import Served

LEASE_S = 1.0


@pytest.mark.parametrize("workers", ["0", "1"])  # documents on the host's thread, or in a worker
def test_a_paused_owner_resumed_cannot_commit(tmp_path, pg_server, workers):
    doc = tmp_path / "counter.adb"
    doc.write_text(COUNTER)
    url = pg_server.url(lease=LEASE_S)
    # both hosts run in tmp_path: the same ./.advm/token.key, so one token opens both
    first = Served("run", doc, "--port", "0", "--store", url, "--workers", workers, cwd=tmp_path)
    second = None
    try:
        token = Tokens.from_store_dir(tmp_path / ".advm").mint("alice")

        async def scenario():
            nonlocal second
            async with await Client.connect(first.ws_url, token) as c1:
                await c1.create("c1")
                view1 = await c1.open("c1")
                for _ in range(3):
                    await view1.send("bump", {"by": 1})
                assert view1.view["n"] == 3
                os.kill(first.proc.pid, signal.SIGSTOP)
                try:
                    await asyncio.sleep(2 * LEASE_S)  # the paused owner renews nothing
                    second = await asyncio.to_thread(
                        Served, "run", doc, "--port", "0", "--store", url, "--workers", workers,
                        cwd=tmp_path)
                    async with await Client.connect(second.ws_url, token) as c2:
                        view2 = await c2.open("c1")  # second takes the lease, then loads
                        assert view2.view["n"] == 3
                        for _ in range(2):
                            await view2.send("bump", {"by": 10})
                        assert view2.view["n"] == 23
                finally:
                    os.kill(first.proc.pid, signal.SIGCONT)
                # The resumed owner still has the document in memory at n = 3:
                # its next input runs, but its commit is refused (fenced by epoch).
                try:
                    reply = await view1.send("bump", {"by": 100})
                except ClientError as e:
                    refused = e
                else:
                    raise AssertionError(f"the old owner acknowledged an input: {reply}")
                return refused

        refused = asyncio.run(asyncio.wait_for(scenario(), 60))
        assert refused.reason == "store", refused
        # The state that counts is the new owner's: in the database and on its host.
        with PgStore(url, readonly=True) as store:
            sends = [e for e in store.log("c1") if e.kind == "send"]
            assert [e.payload for e in sends] == [{"by": 1}] * 3 + [{"by": 10}] * 2

        async def reread():
            async with await Client.connect(second.ws_url, token) as c:
                view = await c.open("c1")
                return view.view["n"]

        assert asyncio.run(asyncio.wait_for(reread(), 30)) == 23
        assert second.interrupt()[0] == 0
        code, _, err = first.interrupt()
        assert code == 0, err
        assert "lease (epoch 1) is gone" in err and "epoch 2" in err, err
    finally:
        first.kill()
        if second is not None:
            second.kill()


SLEEPER = """
@static { create { return true; } }
@connected { return true; }
public int fired;
@construct { transition #later in 2; }
#later { fired += 1; }
"""


def test_a_dead_hosts_due_timer_fires_once_on_another_host(tmp_path, pg_server):
    """Issue 18 point 4: host B is serving when host A creates a document
    that will wake in 2 s and is SIGKILLed. The wake time is in the database;
    B finds it once A's lease ran out, takes the lease, loads the document and
    fires its transition, once."""
    doc = tmp_path / "sleeper.adb"
    doc.write_text(SLEEPER)
    url = pg_server.url(lease=LEASE_S)
    second = Served("run", doc, "--port", "0", "--store", url, "--workers", "0", cwd=tmp_path)
    first = Served("run", doc, "--port", "0", "--store", url, "--workers", "0", cwd=tmp_path)
    try:
        token = Tokens.from_store_dir(tmp_path / ".advm").mint("alice")

        async def create():
            async with await Client.connect(first.ws_url, token) as c:
                await c.create("s1")
                view = await c.open("s1")
                return view.view["fired"]

        assert asyncio.run(asyncio.wait_for(create(), 30)) == 0
        first.proc.kill()  # SIGKILL: no lease given back, no timer fired
        first.proc.communicate()
        with PgStore(url, readonly=True) as store:
            assert store.timer("s1") is not None

            async def until_fired():
                # the wake is due 2 s after creation; B looks once a lease (1 s)
                # for wake times more than a lease overdue
                while store.timer("s1") is not None:
                    await asyncio.sleep(0.2)

            asyncio.run(asyncio.wait_for(until_fired(), 30))
            kinds = [e.kind for e in store.log("s1")]

        async def look():
            async with await Client.connect(second.ws_url, token) as c:
                view = await c.open("s1")
                return view.view["fired"]

        assert asyncio.run(asyncio.wait_for(look(), 30)) == 1
        assert kinds.count("advance") == 1, kinds
        code, _, err = second.interrupt()
        assert code == 0, err
    finally:
        first.kill()
        second.kill()
