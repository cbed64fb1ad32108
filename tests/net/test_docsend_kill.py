"""SIGKILL `advm run` in the middle of documents creating and sending to
documents (issue 19, spec/language.md 4.32): the lobby example
(examples/lobby/: lobby.adb matches players and creates game.adb documents,
which report their outcome back to the lobby) served as two spaces of one
server on one store.

Each round: players join a new lobby document (each pair makes a match and
the lobby creates its game), the server is SIGKILLed at a random moment,
started again; the games are played to their end (each end sends `finished`
to the lobby), the server is killed again at a random moment and started
again. Then every match's game exists, was created once (the lobby's await
got its reply, no error), and reported once (games_finished counts each
report: a message run twice would count two). At the end the log of every
document involved replays and verifies.

ROUNDS: 3 by default (what CI runs), ADVM_KILLS=N runs N, ADVM_SOAK=1 runs 100.
"""
from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import time
from pathlib import Path

from advm.durable.replay import replay
from advm.net.client import Client, ClientError
from advm.net.tokens import Tokens
from advm.store import Store
from advm.store.spaces import SpaceStore
from test_server_cli import Served

SOAK = os.environ.get("ADVM_SOAK") == "1"
ROUNDS = 100 if SOAK else int(os.environ.get("ADVM_KILLS", "3"))
PAIRS = 2  # games per round
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "lobby"
# x wins along the top row: x plays 0, 1, 2 and o plays 3, 4.
MOVES = [("x", 0), ("o", 3), ("x", 1), ("o", 4), ("x", 2)]


def start(folder, store, tmp_path) -> Served:
    return Served("run", folder / "lobby.adb", folder / "game.adb", "--port", "0", "--store", store,
                  "--workers", "0", cwd=tmp_path)


async def join(server: Served, tokens: Tokens, lobby: str, players: list[str]) -> None:
    owner = await Client.connect(server.ws_url, tokens.mint("owner"), space="lobby")
    try:
        await owner.create(lobby)
    finally:
        await owner.close()
    for p in players:
        async with await Client.connect(server.ws_url, tokens.mint(p), space="lobby") as c:
            view = await c.open(lobby)
            await view.send("join", {"ready": True})


async def lobby_view(server: Served, tokens: Tokens, lobby: str, done, deadline: float = 60.0) -> dict:
    async with await Client.connect(server.ws_url, tokens.mint("owner"), space="lobby") as c:
        view = await c.open(lobby)
        end = time.monotonic() + deadline
        while not done(view.view):
            if time.monotonic() > end:
                raise AssertionError(f"lobby {lobby} did not settle: {view.view}")
            await asyncio.sleep(0.05)
        return dict(view.view)


async def play(server: Served, tokens: Tokens, matches: list[dict]) -> None:
    """Every game to its end (a move refused because it ran before the kill is skipped)."""
    for m in matches:
        players = {"x": m["x"]["agent"], "o": m["o"]["agent"]}
        for side, cell in MOVES:
            async with await Client.connect(server.ws_url, tokens.mint(players[side]), space="game") as c:
                view = await c.open(m["game"])
                if view.view.get("outcome"):
                    break
                try:
                    await view.send("move", {"cell": cell})
                except ClientError as e:
                    assert e.reason == "abort", e  # the move ran already (before a kill)


def outstanding(store, space: str, keys: list[str]) -> int:
    """Creates and sends the documents `keys` had made and not had the
    result of, as the store holds them after a kill (the server is down)."""
    s = Store(store)
    try:
        view = SpaceStore(s, space)
        return sum(sum(1 for c in replay(view, k).living.service_calls() if c.get("space"))
                   for k in keys if view.last_seq(k) > 0)
    finally:
        s.close()


def settled_created(n):
    return lambda v: v.get("games_created", 0) + sum(1 for m in v.get("matches", []) if m["error"]) >= n


def settled_finished(n):
    return lambda v: v.get("games_finished", 0) >= n


def test_sigkill_in_create_and_send_flows_runs_each_once(tmp_path):
    folder = tmp_path / "lobby"
    shutil.copytree(EXAMPLE, folder)
    store = tmp_path / "store"
    rng = random.Random(1919)
    server = start(folder, store, tmp_path)
    tokens = Tokens.from_store_dir(store)
    lobbies, games = [], []
    pending = {"create": 0, "send": 0}  # calls still without their result in the store at a kill
    try:
        for rnd in range(ROUNDS):
            lobby = f"l{rnd}"
            lobbies.append(lobby)
            players = [f"p{rnd}-{i}" for i in range(2 * PAIRS)]
            # The create flow: joins commit, the lobby's creations are in flight.
            asyncio.run(asyncio.wait_for(join(server, tokens, lobby, players), 60))
            time.sleep(rng.uniform(0.0, 0.03))
            os.kill(server.proc.pid, signal.SIGKILL)
            server.proc.communicate()
            pending["create"] += outstanding(store, "lobby", [lobby])
            server = start(folder, store, tmp_path)
            v = asyncio.run(lobby_view(server, tokens, lobby, settled_created(PAIRS)))
            assert v["games_created"] == PAIRS and v["games_matched"] == PAIRS, v
            assert all(m["created"] and m["error"] == "" for m in v["matches"]), v["matches"]
            # The send flow: the games end and report to the lobby.
            asyncio.run(asyncio.wait_for(play(server, tokens, v["matches"]), 60))
            time.sleep(rng.uniform(0.0, 0.005))  # the report follows the last move within milliseconds
            os.kill(server.proc.pid, signal.SIGKILL)
            server.proc.communicate()
            pending["send"] += outstanding(store, "game", [m["game"] for m in v["matches"]])
            server = start(folder, store, tmp_path)
            v = asyncio.run(lobby_view(server, tokens, lobby, settled_finished(PAIRS)))
            time.sleep(0.2)  # a duplicate report, were there one, would land now
            v = asyncio.run(lobby_view(server, tokens, lobby, settled_finished(PAIRS)))
            assert v["games_finished"] == PAIRS and v["refused"] == 0, v
            assert [m["outcome"] for m in v["matches"]] == ["x"] * PAIRS, v["matches"]
            games += [m["game"] for m in v["matches"]]
    finally:
        server.kill()
    s = Store(store)
    again = {"lobby": 0, "game": 0}  # calls made again after a kill, which the receiver ran before
    try:
        for space, keys in (("lobby", lobbies), ("game", games)):
            view = SpaceStore(s, space)
            for key in keys:
                log = view.log(key)
                again[space] += sum(1 for e in log if e.extra.get("sender") and e.extra.get("outcome") == "duplicate")
                made = [e for e in log if e.kind == "create"]
                assert len(made) == 1, (space, key)
                if space == "game":  # created by the lobby's document, once
                    assert made[0].principal.endswith("@doc:lobby") and made[0].extra.get("sender"), made[0]
                result = replay(view, key)
                assert result.ok, (space, key, result.divergence)
                fields = result.living.engine.fields()
                if space == "game":
                    assert fields["outcome"] == "x"
                else:
                    assert fields["games_finished"] == PAIRS and fields["games_created"] == PAIRS
    finally:
        s.close()
    print(f"{ROUNDS} rounds, {2 * ROUNDS} kills, {len(games)} games created and reported once; "
          f"made again after a kill and found duplicate: {again['game']} creations, {again['lobby']} reports; "
          f"outstanding in the store at the kills: {pending['create']} creations, {pending['send']} reports")
