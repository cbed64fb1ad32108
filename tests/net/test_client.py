"""net/client.py end to end: two players play tic-tac-toe through a real
server (documents in worker processes), each seeing only its own asks."""
from __future__ import annotations

import asyncio

import pytest

from advm.net.client import ClientError
from advm.store import open_store
from server_kit import run, tictactoe_source


def _square(view, x, y):
    return next(s for s in view["board"] if s["x"] == x and s["y"] == y)


async def _play(player, x, y):
    await player.wait_for(lambda c: any(a["channel"] == "play" for a in c.outstanding))
    ask = next(a for a in player.outstanding if a["channel"] == "play")
    assert ask["kind"] == "decide" and {"x": x, "y": y} in ask["options"]
    return await player.answer(ask, {"x": x, "y": y})


def test_tictactoe_between_two_clients(tmp_path):
    async def scenario(kit):
        store = open_store(tmp_path / "store")
        async with kit.serve(tictactoe_source(), workers=2, store=store) as srv:
            assert srv.router.backend == "durable"
            alice = await kit.client(srv, "alice")
            bob = await kit.client(srv, "bob")
            await alice.create("game")
            x = await alice.open("game")
            o = await bob.open("game")
            seen = []

            async def watch():
                async for update in o.updates():
                    seen.append(update)

            watcher = asyncio.create_task(watch())
            await x.wait_for(lambda c: c.view.get("my_turn"))
            assert x.view["player_x"]["agent"] == "alice" and o.view["player_o"]["agent"] == "bob"
            assert o.outstanding == [] and not o.view["my_turn"]

            # A taken square is refused by the document and the same ask stays open.
            await _play(x, 1, 1)
            await o.wait_for(lambda c: c.outstanding)
            ask = o.outstanding[0]
            with pytest.raises(ClientError) as e:
                await o.answer(ask, {"x": 1, "y": 1})
            assert e.value.reason == "abort"
            assert o.outstanding[0]["id"] == ask["id"]
            # An answer outside the offered options never reaches the document.
            with pytest.raises(ClientError) as e:
                await o.answer(ask, {"x": 5, "y": 5})
            assert e.value.reason == "invalid_answer"

            # bob takes the left column while alice builds nothing
            for player, (sx, sy) in [(o, (0, 0)), (x, (2, 0)), (o, (0, 2)), (x, (1, 0)),
                                     (o, (0, 1))]:
                await _play(player, sx, sy)
            await o.wait_for(lambda c: "winner" in c.view)
            for view in (x.view, o.view):
                assert view["winner"] == {"agent": "bob", "authority": ""}
                assert view["moves"] == 6 and view["games"] == 1
                assert _square(view, 0, 1)["piece"]["agent"] == "bob"
                assert _square(view, 1, 1)["piece"]["agent"] == "alice"
            assert x.outstanding == [] and o.outstanding == []
            assert x.view["board"] == o.view["board"]

            # Either player may start a rematch; the loser opens it.
            await o.send("rematch", {"ready": True})
            await x.wait_for(lambda c: c.outstanding and "winner" not in c.view)
            assert x.view["moves"] == 0 and x.view["my_turn"]

            await o.end()
            watcher.cancel()
            assert seen and all(u.seq is None or u.seq > 1 for u in seen)
            with pytest.raises(ClientError) as e:
                await o.send("rematch", {"ready": True})
            assert e.value.reason == "unknown_connection"
        store.close()

    run(scenario, deadline=60)


def test_anonymous_visitor_and_many_streams_on_one_socket():
    async def scenario(kit):
        async with kit.serve(tictactoe_source()) as srv:
            alice = await kit.client(srv, "alice")
            await alice.create("g")
            # One socket, two principals: each stream carries its own identity.
            a = await alice.open("g")
            b = await alice.open("g", identity=kit.tokens.mint("bob"))
            guest = await alice.open("g", identity="anonymous")
            assert guest.view["player_x"]["agent"] == "alice"
            assert guest.view["player_o"]["agent"] == "bob"
            await a.wait_for(lambda c: c.outstanding)
            await a.answer(a.outstanding[0], {"x": 0, "y": 0})
            await guest.wait_for(lambda c: c.view["moves"] == 1)
            assert guest.outstanding == [] and b.outstanding

    run(scenario)
