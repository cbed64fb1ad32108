"""Documents that create and send to documents (issue 19, spec/language.md
4.32): the lobby example (examples/lobby/) served as two spaces of one server,
in process; what crosses checked at compile time; a call made again runs once;
the sender's principal; outcomes as results; a deploy that breaks a caller
refused naming it (spec/runtime.md 9)."""
from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from advm.compiler import compile_source
from advm.compiler.build import build_module
from advm.compiler.spaces import files_resolver
from advm.durable.replay import replay
from advm.net.client import Client, ClientError
from advm.net.docsend import deliver_call, principal_of
from advm.net.router import Router, RouterError
from advm.net.server import Server
from advm.net.spaces import Spaces
from advm.net.tokens import Tokens
from advm.store import open_store
from advm.store.spaces import SpaceStore
from server_kit import run

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "lobby"
TOKENS = Tokens(b"advm-test-key-0123456789abcdef!!")


def build(path: Path, text: str | None = None):
    comp = compile_source(text if text is not None else path.read_text(), str(path))
    assert comp.ok, comp.render()
    return build_module(comp)


@contextlib.asynccontextmanager
async def serving(tmp_path, modules: dict):
    store = open_store(tmp_path / "store")

    def make_router(name, mod, lim):
        router = Router(mod, store=SpaceStore(store, name), workers=0)
        spaces.share_thread(router)
        return router

    spaces = Spaces(make_router, store=store)
    for name, mod in modules.items():
        spaces.add(name, mod)
    srv = Server(None, TOKENS, port=0, spaces=spaces)
    await srv.start()
    clients = []

    async def client(who, space):
        c = await Client.connect(srv.ws_url, TOKENS.mint(who, ttl=600), space=space)
        clients.append(c)
        return c

    try:
        yield spaces, client, store
    finally:
        for c in clients:
            await c.close()
        await srv.close()
        store.close()


def example():
    return {"lobby": build(EXAMPLE / "lobby.adb"), "game": build(EXAMPLE / "game.adb")}


async def until(view, pred, what=""):
    for _ in range(600):
        if pred(view.view):
            return dict(view.view)
        await asyncio.sleep(0.01)
    raise AssertionError(f"{what}: {view.view}")


def test_lobby_creates_games_which_report_back_once(tmp_path):
    async def scenario(kit):
        async with serving(tmp_path, example()) as (spaces, client, store):
            owner = await client("owner", "lobby")
            await owner.create("main")
            for p in ("alice", "bob"):
                c = await client(p, "lobby")
                await (await c.open("main")).send("join", {"ready": True})
            lobby = await owner.open("main")
            v = await until(lobby, lambda v: v["games_created"] == 1, "created")
            assert v["matches"][0]["created"] and v["matches"][0]["game"] == "main-1"
            # The game exists, created by the lobby's document principal.
            alice = await client("alice", "game")
            game = await alice.open("main-1")
            assert game.view["home"] == "main" and game.view["player_x"]["agent"] == "alice"
            bob = await (await client("bob", "game")).open("main-1")
            for view, cell in ((game, 0), (bob, 3), (game, 1), (bob, 4), (game, 2)):
                await view.send("move", {"cell": cell})
            v = await until(lobby, lambda v: v["games_finished"] == 1, "reported")
            assert v["matches"][0]["outcome"] == "x" and v["refused"] == 0
            # A client cannot pose as a game: its `finished` is refused by the lobby's code.
            with pytest.raises(ClientError) as refused:
                await lobby.send("finished", {"game": "main-1", "outcome": "o"})
            assert refused.value.reason == "abort"
            # The same call sent again (a sender that crashed before logging its
            # result) runs nothing and succeeds: exactly once at the receiver.
            again = {"call": 1, "service": "lobby", "method": "finished", "who": "main",
                     "request": '{"game":"main-1","outcome":"x"}'}
            got = await deliver_call(spaces, "game", "main-1", again)
            assert got == {"value": {"space": "lobby", "key": "main"}}
            # So is a creation made again: the document says that call made it.
            made = {"call": 1, "service": "game", "method": "create", "who": "main-1",
                    "request": '{"x":"alice@","o":"bob@","lobby":"main"}'}
            assert "value" in await deliver_call(spaces, "lobby", "main", made)
            # Another call creating the same key is refused: the key is taken.
            other = dict(made, call=99)
            assert (await deliver_call(spaces, "lobby", "main", other))["error"]["code"] == 409
            # A document that is not a player: the game's @connected refuses it (403).
            intruder = {"call": 1, "service": "game", "method": "move", "who": "main-1", "request": '{"cell":5}'}
            assert (await deliver_call(spaces, "lobby", "other", intruder))["error"]["code"] == 403
            # A message to nobody: 404 as the result.
            lost = dict(again, call=2, who="nobody")
            assert (await deliver_call(spaces, "game", "main-1", lost))["error"]["code"] == 404
            await asyncio.sleep(0.1)
            v = dict(lobby.view)
            assert v["games_finished"] == 1 and v["games_created"] == 1
        for space, key in (("lobby", "main"), ("game", "main-1")):
            s = open_store(tmp_path / "store")
            try:
                result = replay(SpaceStore(s, space), key)
                assert result.ok, result.divergence
            finally:
                s.close()

    run(scenario, 60)


def test_the_sender_is_a_principal_of_its_own():
    assert principal_of("lobby", "main") == "main@doc:lobby"


GAME_NO_X = (EXAMPLE / "game.adb").read_text().replace("  principal x;\n", "  principal first;\n").replace(
    "s.x", "s.first")
LOBBY_NO_FINISHED = (EXAMPLE / "lobby.adb").read_text().replace("channel finished(", "channel done(")


def test_deploy_refused_when_the_new_code_no_longer_takes_what_callers_send(tmp_path):
    async def scenario(kit):
        async with serving(tmp_path, example()) as (spaces, client, store):
            # Compiled on its own (the sibling lobby.adb is found), the new game
            # no longer has Start.x, which the lobby sends.
            bad = build(EXAMPLE / "game.adb", GAME_NO_X)
            with pytest.raises(RouterError) as refused:
                await spaces.deploy("game", bad.to_bytes())
            assert refused.value.code == "callers_refuse"
            assert "space 'lobby' calls game.create with Start: Start has no field x" in refused.value.message
            gone = build(EXAMPLE / "lobby.adb", LOBBY_NO_FINISHED)
            with pytest.raises(RouterError) as refused:
                await spaces.deploy("lobby", gone.to_bytes())
            assert "space 'game' calls lobby.finished: the new code has no channel 'finished'" \
                in refused.value.message
            # A compatible change (a new field the caller does not send) deploys.
            fine = build(EXAMPLE / "game.adb", (EXAMPLE / "game.adb").read_text().replace(
                "  string lobby;\n", "  string lobby;\n  int rounds;\n"))
            await spaces.deploy("game", fine.to_bytes())

    run(scenario, 60)


def test_types_across_documents_are_checked_at_compile_time(tmp_path):
    lobby = tmp_path / "lobby.adb"
    source = (EXAMPLE / "lobby.adb").read_text()
    lobby.write_text(source.replace("{x: m.x, o: m.o, lobby: Document.key()}", "{x: m.x, o: 3, lobby: 1}")
                     .replace("space game;", "space game;\nspace missing;"))
    resolve = files_resolver([EXAMPLE / "game.adb"])
    comp = compile_source(lobby.read_text(), str(lobby), resolve)
    got = [(d.code, comp.source.line_col(d.span.start)[0]) for d in comp.diagnostics if d.severity == "error"]
    text = lobby.read_text().split("\n")
    line = next(i for i, t in enumerate(text, 1) if "game.create" in t)
    missing = next(i for i, t in enumerate(text, 1) if t == "space missing;")
    assert sorted(got) == sorted([("E0301", line), ("E0301", line), ("E0533", missing)]), comp.render()
    rendered = comp.render()
    assert f"{lobby}:{line}:" in rendered and "no program is served as space 'missing'" in rendered
    # One name, one shape: a Start of another shape here is refused at the space.
    clash = tmp_path / "clash.adb"
    clash.write_text("message Start { int x; }\nspace game;\n")
    comp = compile_source(clash.read_text(), str(clash), resolve)
    assert [d.code for d in comp.diagnostics if d.severity == "error"] == ["E0533"]
    assert "Start of program 'game' is not the Start this document declares" in comp.render()


def test_deploy_at_rest_refused_naming_the_callers_the_registry_keeps(tmp_path):
    import shutil
    import subprocess
    import sys

    for name in ("lobby.adb", "game.adb"):
        shutil.copy(EXAMPLE / name, tmp_path / name)
    (tmp_path / "v2").mkdir()
    shutil.copy(EXAMPLE / "lobby.adb", tmp_path / "v2" / "lobby.adb")
    (tmp_path / "v2" / "game.adb").write_text(GAME_NO_X)

    def advm(*args):
        return subprocess.run([sys.executable, "-m", "advm", *args], cwd=tmp_path, capture_output=True, text=True,
                              timeout=120)

    for name in ("lobby", "game"):
        assert advm("space", "create", name, f"{name}.adb", "--store", "st").returncode == 0
    refused = advm("deploy", "v2/game.adb", "--space", "game", "--store", "st")
    assert refused.returncode == 1, refused
    assert "space 'lobby' calls game.create with Start: Start has no field x any more" in refused.stderr
    ok = advm("deploy", "game.adb", "--space", "game", "--store", "st")
    assert ok.returncode == 0, ok.stderr
