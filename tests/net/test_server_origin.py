"""Cross-site WebSocket hijacking (issue 10, point 4): a page on another
origin must not open the server's socket, and never gets a token minted.
spec/protocol.md 8.1 and 8.5."""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from server_kit import run
from websockets.exceptions import InvalidStatus

from advm.net.client import Client, ClientError
from advm.net.server import page_origins

ROOT = Path(__file__).resolve().parents[2]
SOURCE = "@static { create { return true; } } @connected { return true; } public int x;"


def test_the_page_origins_are_the_listening_address_and_its_loopback_names():
    assert page_origins("127.0.0.1", 8080) == [
        "http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080"]
    assert page_origins("::1", 9) == ["http://[::1]:9", "http://127.0.0.1:9", "http://localhost:9"]
    assert page_origins("10.1.2.3", 80) == ["http://10.1.2.3:80"]


async def _refused(url, origin):
    with pytest.raises(InvalidStatus) as e:
        await Client.connect(url, "anonymous", origin=origin)
    assert e.value.response.status_code == 403


def test_a_foreign_page_cannot_open_a_socket_and_the_server_own_page_can():
    async def scenario(kit):
        async with kit.serve(SOURCE, dev_tokens=True) as srv:
            port = srv.port
            for foreign in ("http://evil.example", f"http://evil.example:{port}",
                            "http://127.0.0.1:1", f"https://127.0.0.1:{port}", "null"):
                await _refused(srv.ws_url, foreign)
            for own in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
                c = await kit.client(srv, identity="anonymous", origin=own)
                minted = await c.request("identity/mint", principal="alice")
                assert minted["principal"] == "alice@"
            # No Origin header: not a browser, so no page to hijack.
            plain = await kit.client(srv, identity="anonymous")
            assert (await plain.request("identity/mint", principal="bob"))["principal"] == "bob@"

    run(scenario)


def test_an_allowed_origin_may_connect_but_is_never_minted_for():
    async def scenario(kit):
        from advm.net.router import Router
        from advm.net.server import Server
        from server_kit import module

        srv = Server(Router(module(SOURCE)), kit.tokens, port=0, dev_tokens=True,
                     allow_origins=["http://app.example:5173"])
        await srv.start()
        try:
            c = await Client.connect(srv.ws_url, kit.tokens.mint("alice", ttl=60),
                                     origin="http://app.example:5173")
            try:
                await c.request("document/create", key="d1", identity=c.identity)
                with pytest.raises(ClientError) as e:
                    await c.request("identity/mint", principal="mallory")
                assert e.value.reason == "mint_refused" and "advm token" in e.value.message
            finally:
                await c.close()
            await _refused(srv.ws_url, "http://app.example:5174")
        finally:
            await srv.close()

    run(scenario)


def test_advm_run_refuses_a_foreign_page_and_accepts_allow_origin(tmp_path):
    import asyncio

    doc = tmp_path / "doc.adb"
    doc.write_text(SOURCE)
    proc = subprocess.Popen(
        [sys.executable, "-m", "advm", "run", str(doc), "--port", "0", "--memory",
         "--workers", "0", "--store", str(tmp_path / "s"),
         "--allow-origin", "http://app.example:3000"],
        cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        line = proc.stdout.readline()
        assert "serving" in line, line + proc.stderr.read()
        ws_url = line.rsplit("WebSocket ", 1)[1].rstrip(")\n")
        page = line.split(" at ", 1)[1].split()[0].rstrip("/")

        async def scenario():
            await _refused(ws_url, "http://evil.example")
            for origin in (page, "http://app.example:3000"):
                c = await Client.connect(ws_url, "anonymous", origin=origin)
                try:
                    await c.request("document/create", key="k-" + str(len(origin)),
                                    identity="anonymous")
                finally:
                    await c.close()

        asyncio.run(asyncio.wait_for(scenario(), 20))
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err


@pytest.mark.parametrize("bad", ["app.example", "http://app.example/path", "ftp://x", "http://",
                                 "http://x:99999", "http://app.example/"])
def test_allow_origin_takes_an_origin(bad, tmp_path, capsys):
    from advm.cli import main

    doc = tmp_path / "doc.adb"
    doc.write_text(SOURCE)
    assert main(["run", str(doc), "--allow-origin", bad, "--memory"]) == 2
    assert "--allow-origin" in capsys.readouterr().err
