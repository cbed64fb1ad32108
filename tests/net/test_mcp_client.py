"""The official MCP Python client (ClientSession over streamable_http_client)
against a running `advm run` (spec/protocol.md 8.16): it lists tools and
resources, calls a tool, reads the change, gets a refusal as a tool error and
a subscription's update through the session's event stream."""
from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import warnings

import anyio
import httpx2
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPDeprecationWarning

from advm.net.client import Client
from advm.net.tokens import Tokens
from server_kit import EXAMPLES

IGNORED = "Exception ignored"


class Served:
    """`advm run FILE` on 127.0.0.1, a port of its choosing."""

    def __init__(self, doc, store):
        self.proc = subprocess.Popen([sys.executable, "-m", "advm", "run", str(doc), "--port", "0",
                                      "--store", str(store)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True)
        line = self.proc.stdout.readline()
        assert "serving" in line, line + self.proc.stderr.read()
        self.url = line.split(" at ")[1].split()[0]
        self.ws_url = line.split("WebSocket ")[1].strip().rstrip(")")

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=30)
        return err


def test_the_official_client_lists_reads_and_calls(tmp_path):
    store = tmp_path / "store"
    server = Served(EXAMPLES / "chat.adb", store)
    tokens = Tokens.from_store_dir(store)
    alice, bob = tokens.mint("alice"), tokens.mint("bob")
    seen: list = []
    updated = anyio.Event()

    async def on_message(message) -> None:
        text = repr(message)
        if "resources/updated" in text or "ResourceUpdated" in text:
            seen.append(text)
            updated.set()

    async def scenario():
        async with await Client.connect(server.ws_url, alice) as c:
            await c.create("lobby")
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {alice}"}) as http:
            async with streamable_http_client(server.url + "~mcp", http_client=http) as (r, w):
                async with ClientSession(r, w, message_handler=on_message) as s:
                    init = await s.initialize()
                    assert init.server_info.name == "advm"
                    assert init.capabilities.resources.subscribe is True
                    tools = {t.name: t for t in (await s.list_tools()).tools}
                    assert set(tools) == {"lobby.like", "lobby.rename", "lobby.say", "lobby.set_topic"}
                    say = tools["lobby.say"]
                    assert say.input_schema["properties"] == {"text": {"type": "string"}}
                    assert say.input_schema["additionalProperties"] is False
                    resources = (await s.list_resources()).resources
                    assert [(x.name, str(x.uri)) for x in resources] == [("lobby", "advm://document/lobby")]
                    before = json.loads((await s.read_resource("advm://document/lobby")).contents[0].text)
                    assert before["recent"] == [] and before["me"][0]["name"] == "alice"

                    # the method of the handshake era (2025-11-25, what the session agreed on);
                    # the SDK warns that the 2026 revision replaces it
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", MCPDeprecationWarning)
                        await s.subscribe_resource("advm://document/lobby")
                    done = await s.call_tool("lobby.say", {"text": "hello from MCP"})
                    assert done.is_error is False and done.structured_content["sent"] is True
                    after = json.loads((await s.read_resource("advm://document/lobby")).contents[0].text)
                    assert [line["text"] for line in after["recent"]] == ["hello from MCP"]
                    with anyio.fail_after(10):
                        await updated.wait()
                    assert "advm://document/lobby" in seen[0]

                    wrong = await s.call_tool("lobby.say", {"txt": "typo"})
                    assert wrong.is_error is True
                    assert wrong.content[0].text == "input: message on 'say': Say has no field 'txt'"
                    assert (await s.list_prompts()).prompts == []
        # bob, another principal, sees alice's line through the viewer protocol as MCP showed it
        async with await Client.connect(server.ws_url, bob) as c:
            view = await c.open("lobby")
            assert [line["text"] for line in view.view["recent"]] == ["hello from MCP"]

    try:
        asyncio.run(asyncio.wait_for(scenario(), 60))
    finally:
        err = server.stop()
    assert IGNORED not in err, err
    assert server.proc.returncode == 0, err
