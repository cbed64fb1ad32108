"""Viewer state over the protocol (spec/protocol.md 8.3): `viewer-state` in
connection/create and connection/update reach the document's bubbles as
@viewer (spec/language.md 4.9.1), through a worker process, for each viewer
alone."""
from __future__ import annotations

from pathlib import Path

import pytest

from advm.net.client import ClientError
from server_kit import run

SOURCE = (Path(__file__).resolve().parents[2] / "spec" / "cases" / "sessions" / "viewer_state.adb").read_text()


def test_each_viewer_state_reaches_its_bubbles():
    async def scenario(kit):
        async with kit.serve(SOURCE, workers=1) as srv:
            alice = await kit.client(srv, "alice")
            bob = await kit.client(srv, "bob")
            await alice.create("list")
            a = await alice.open("list", viewer_state={"filter": "a"})
            b = await bob.open("list")
            for tag, n in [("a", 1), ("b", 2), ("a", 3)]:
                await a.send("add", {"tag": tag, "n": n})
            await a.wait_for(lambda c: c.view.get("heading") == "a #0 of 2")
            await b.wait_for(lambda c: c.view.get("heading") == "all #0 of 3")
            assert [r["n"] for r in a.view["page_items"]] == [1, 3]

            await b.update({"page": 1})
            assert b.view["heading"] == "all #1 of 3"  # the patch arrives before the reply
            assert [r["n"] for r in b.view["page_items"]] == [3]
            assert a.view["heading"] == "a #0 of 2"

            with pytest.raises(ClientError) as e:
                await b.update({"page": "one"})
            assert e.value.reason == "input"
            assert b.view["heading"] == "all #1 of 3"
            with pytest.raises(ClientError) as e:
                await bob.request("connection/update", connection=b.id, **{"viewer-state": [1]})
            assert e.value.reason == "bad_request"

            await a.send("add", {"tag": "b", "n": 4})  # a commit: each viewer with its own state
            await b.wait_for(lambda c: c.view.get("heading") == "all #1 of 4")
            assert [r["n"] for r in b.view["page_items"]] == [3, 4]
            assert a.view["heading"] == "a #0 of 2"

    run(scenario)
