"""Exactly one writer per document (issue 18 point 3, spec/store.md 20.4): two
`advm run` hosts on one PostgreSQL store. The first owner is paused
(SIGSTOP) past its lease; a second host takes the document (a new epoch),
loads it and goes on; the first, resumed, cannot commit: its inputs are
refused, and the state in the database is the new owner's."""
from __future__ import annotations

import asyncio
import os
import signal

from advm.net.client import Client, ClientError
from advm.net.tokens import Tokens
from advm.store.postgres import PgStore
from server_kit import COUNTER
from test_server_cli import Served

LEASE_S = 1.0


def test_a_paused_owner_resumed_cannot_commit(tmp_path, pg_server):
    doc = tmp_path / "counter.adb"
    doc.write_text(COUNTER)
    url = pg_server.url(lease=LEASE_S)
    # both hosts run in tmp_path: the same ./.advm/token.key, so one token opens both
    first = Served("run", doc, "--port", "0", "--store", url, "--workers", "0", cwd=tmp_path)
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
                        Served, "run", doc, "--port", "0", "--store", url, "--workers", "0",
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
