"""`advm run FILE` (serving is its default mode; `advm serve` is an alias):
starts, prints its URL, serves, and shuts down cleanly on Ctrl-C (every input
it acknowledged stays done)."""
from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys

from advm.net.client import Client
from advm.net.tokens import Tokens
from server_kit import COUNTER, EXAMPLES

IGNORED = "Exception ignored"  # what conftest.py watches stderr for


class Served:
    def __init__(self, *args, cwd):
        self.proc = subprocess.Popen([sys.executable, "-m", "advm", *map(str, args)], cwd=cwd,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.line = self.proc.stdout.readline()
        assert "serving" in self.line, self.line + self.proc.stderr.read()
        self.ws_url = self.line.split("WebSocket ")[1].strip().rstrip(")")

    def interrupt(self):
        self.proc.send_signal(signal.SIGINT)
        out, err = self.proc.communicate(timeout=30)
        assert IGNORED not in err, err
        return self.proc.returncode, out, err

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


def test_serve_prints_its_url_serves_and_stops_cleanly(tmp_path):
    doc = tmp_path / "counter.adb"
    doc.write_text(COUNTER)
    store = tmp_path / "store"
    server = Served("serve", doc, "--port", "0", "--store", store, "--workers", "1",
                    cwd=tmp_path)
    try:
        assert server.line.startswith(f"advm: serving {doc} at http://127.0.0.1:")
        token = Tokens.from_store_dir(store).mint("alice")

        async def session():
            async with await Client.connect(server.ws_url, token) as c:
                await c.create("c1")
                view = await c.open("c1")
                # Many inputs in flight when the interrupt lands.
                sends = [asyncio.ensure_future(view.send("bump", {"by": 1})) for _ in range(50)]
                await sends[0]
                os.kill(server.proc.pid, signal.SIGINT)
                results = await asyncio.gather(*sends, return_exceptions=True)
                return results, view

        results, view = asyncio.run(asyncio.wait_for(session(), 30))
        acked = [r for r in results if isinstance(r, dict)]
        refused = [r for r in results if not isinstance(r, dict)]
        # Everything the server accepted before it stopped taking requests
        # was run and answered; the rest was refused, not silently dropped.
        assert acked and len(acked) + len(refused) == 50
        assert all(getattr(r, "reason", None) in ("shutting_down", "closed") for r in refused)
        assert view.view["n"] >= len(acked)
        seen = view.view["n"]
        code, out, err = server.interrupt()
        assert code == 0, err
        assert "shutting down" in err and "advm: stopped" in err
        assert "kept in " + str(store) in err
    finally:
        server.kill()

    # Started again on the same store: every input it acknowledged is there.
    server = Served("serve", doc, "--port", "0", "--store", store, "--workers", "1",
                    cwd=tmp_path)
    try:
        async def again():
            async with await Client.connect(server.ws_url, token) as c:
                view = await c.open("c1")
                return view.view["n"]

        n = asyncio.run(asyncio.wait_for(again(), 30))
        assert len(acked) <= n == seen
        assert server.interrupt()[0] == 0
    finally:
        server.kill()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def square(ask) -> tuple[int, int]:
    return ask["options"][0]["x"], ask["options"][0]["y"]


async def move(conn, x: int, y: int) -> dict:
    """The player whose turn it is answers their open decide with (x, y)."""
    await conn.wait_for(lambda c: any(a["channel"] == "play" for a in c.outstanding), 10)
    ask = next(a for a in conn.outstanding if a["channel"] == "play")
    assert {"x": x, "y": y} in ask["options"]
    return await conn.answer(ask, {"x": x, "y": y})


def pieces(view) -> dict:
    # An empty square holds @no_one ("?@?").
    return {(sq["x"], sq["y"]): sq["piece"]["agent"] for sq in view["board"]
            if sq["piece"]["agent"] != "?"}


def test_run_with_no_flags_serves_plays_and_survives_a_restart(tmp_path):
    """The README's first command: `advm run doc.adb` serves on the embedded
    default (./.advm), two players play over the client library, Ctrl-C stops
    it cleanly, and a new server on the same store has every acknowledged move."""
    port = free_port()
    game = EXAMPLES / "tictactoe.adb"
    server = Served("run", game, "--port", port, cwd=tmp_path)
    try:
        assert server.line == f"advm: serving {game} at http://127.0.0.1:{port}/ " \
                              f"(WebSocket ws://127.0.0.1:{port}/~s)\n"
        tokens = Tokens.from_store_dir(tmp_path / ".advm")
        alice, bob = tokens.mint("alice"), tokens.mint("bob")

        async def play():
            async with await Client.connect(server.ws_url, alice) as a, \
                    await Client.connect(server.ws_url, bob) as b:
                await a.create("g1")
                x = await a.open("g1")   # first to connect plays X
                o = await b.open("g1")
                await move(x, 0, 0)
                await move(o, 1, 1)
                await move(x, 2, 0)
                await o.wait_for(lambda c: c.view.get("moves") == 3)
                return pieces(o.view)

        seen = asyncio.run(asyncio.wait_for(play(), 30))
        assert seen == {(0, 0): "alice", (1, 1): "bob", (2, 0): "alice"}
        code, out, err = server.interrupt()
        assert (code, out) == (0, "")
        assert "shutting down" in err and "advm: stopped" in err
        assert "documents are kept in .advm" in err
        assert (tmp_path / ".advm" / "token.key").exists()
    finally:
        server.kill()

    server = Served("run", game, "--port", port, cwd=tmp_path)
    try:
        async def resume():
            async with await Client.connect(server.ws_url, alice) as a, \
                    await Client.connect(server.ws_url, bob) as b:
                x, o = await a.open("g1"), await b.open("g1")
                assert pieces(x.view) == seen and x.view["moves"] == 3
                # The game goes on where it stopped: bob's turn, his ask is back.
                await move(o, 0, 1)
                await move(x, 1, 0)   # alice completes the top row
                await x.wait_for(lambda c: "winner" in c.view)
                return x.view

        view = asyncio.run(asyncio.wait_for(resume(), 30))
        assert view["winner"] == {"agent": "alice", "authority": ""} and view["moves"] == 5
        assert server.interrupt()[0] == 0
    finally:
        server.kill()


def test_serve_and_run_serve_are_aliases(tmp_path):
    for args in (("serve",), ("run", "--serve")):
        server = Served(*args[:1], EXAMPLES / "tictactoe.adb", *args[1:], "--port", "0",
                        "--store", tmp_path / "s", "--memory", "--workers", "0", cwd=tmp_path)
        try:
            code, _, err = server.interrupt()
            assert code == 0 and "advm: stopped" in err
        finally:
            server.kill()


def test_serve_usage_errors(cli, tmp_path):
    r = cli("run", EXAMPLES / "tictactoe.adb", "--as", "alice")
    assert r.code == 2 and "--as" in r.err and "--once" in r.err
    r = cli("run", EXAMPLES / "tictactoe.adb", "--serve", "--as", "alice")
    assert r.code == 2 and "--as" in r.err
    r = cli("run", tmp_path / "missing.adb")
    assert r.code == 2 and "no such file" in r.err
    r = cli("serve", tmp_path / "missing.adb")
    assert r.code == 2 and "no such file" in r.err
    r = cli("serve", EXAMPLES / "tictactoe.adb", "--port", "70000")
    assert r.code == 2 and "--port" in r.err
    for budget in ("-1", "nan", "inf"):  # MB of document estimates per worker (spec/runtime.md 7.1)
        r = cli("run", EXAMPLES / "tictactoe.adb", "--memory-budget", budget)
        assert r.code == 2 and "--memory-budget" in r.err
