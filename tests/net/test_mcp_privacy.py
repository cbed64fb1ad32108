"""A principal's MCP session never sees more than its privacy rules show it
(spec/protocol.md 8.16), over random principals and random inputs on the
examples that have privacy rules.

Each example: a document of one of them is created by a random principal
(its constructor message drawn from the constructor's schema), random
principals send it random messages (drawn from the channels' schemas) over
the viewer protocol, then an observer (a random principal, or a guest) opens
an MCP session and a viewer-protocol connection. The document is a resource
of the session exactly when the viewer protocol lets the observer connect;
the resource's text is the view the viewer protocol gives that principal;
the tools are exactly the channels it may send on there (every complete
channel, an incomplete one only while it has an open ask there)."""
from __future__ import annotations

import asyncio
import contextlib
import json

import httpx
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from advm.net.client import ClientError
from advm.net.mcp import tool_name
from advm.net.router import Router
from advm.net.server import Server
from advm.vm.schemas import message_schema
from schema_kit import from_schema
from server_kit import EXAMPLES, Kit, module

# the examples whose views hide something from someone (private fields, bubbles, @connected refusals)
PRIVATE = ["tictactoe.adb", "cardgame.adb", "chat.adb", "todo.adb", "auction.adb", "approval.adb",
           "rummy.adb", "cron_cleanup.adb"]
PEOPLE = ["alice", "bob", "carol", "dave"]
INIT = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}


def _module(name: str):
    return module((EXAMPLES / name).read_text(), name)


def _message(meta, name, array=False):
    if name is None:
        return st.none()
    schema = message_schema(meta, name, array=array)
    return from_schema(schema, schema)


@st.composite
def scenarios(draw):
    name = draw(st.sampled_from(PRIVATE))
    meta = _module(name).meta
    construct = (meta["handlers"].get("construct") or {}).get("message")
    creator = draw(st.sampled_from(PEOPLE))
    arg = draw(_message(meta, construct))
    channels = sorted(c for c, info in meta["channels"].items() if info["message"] is not None)
    actions = draw(st.lists(st.tuples(st.sampled_from(PEOPLE), st.sampled_from(channels)), max_size=5))
    sends = []
    for who, channel in actions:
        info = meta["channels"][channel]
        message = draw(_message(meta, info["message"], bool(info["array"])))
        sends.append((who, channel, message["messages"] if info["array"] else message))
    observer = draw(st.sampled_from(PEOPLE + [None]))  # None: a guest (no token)
    return name, creator, arg, sends, observer


async def _observe(kit: Kit, srv, http, observer):
    """(MCP: resources, their texts, tools; viewer protocol: the view or None, the open asks)."""
    headers = {} if observer is None else {"Authorization": "Bearer " + kit.tokens.mint(observer, ttl=600)}
    r = await http.post("/~mcp", json=INIT, headers=headers)
    session = {**headers, "Mcp-Session-Id": r.headers["mcp-session-id"]}

    async def call(method, params=None):
        got = (await http.post("/~mcp", json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or {}},
                               headers=session)).json()
        assert "result" in got, got
        return got["result"]

    resources = [x["uri"] for x in (await call("resources/list"))["resources"]]
    client = await kit.client(srv, observer, identity=None if observer else "anonymous")
    try:
        conn = await client.open("d")
        view, asks = conn.view, conn.outstanding
    except ClientError:
        view, asks = None, []
    # read after the viewer protocol's stream holds its view: one principal, one viewer
    texts = [json.loads((await call("resources/read", {"uri": uri}))["contents"][0]["text"]) for uri in resources]
    tools = sorted(t["name"] for t in (await call("tools/list"))["tools"])
    return resources, texts, tools, view, asks


@contextlib.asynccontextmanager
async def _served(kit, name):
    srv = Server(Router(_module(name)), kit.tokens, port=0)
    await srv.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{srv.port}", timeout=10) as http:
            yield srv, http
    finally:
        for c in kit.clients:
            await c.close()
        kit.clients.clear()
        await srv.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(scenarios())
def test_a_principal_sees_through_mcp_what_its_view_shows_and_no_more(scenario):
    name, creator, arg, sends, observer = scenario
    meta = _module(name).meta

    async def run(kit):
        async with _served(kit, name) as (srv, http):
            maker = await kit.client(srv, creator)
            try:
                await maker.create("d", arg)
            except ClientError:
                pass  # refused (a constructor that aborts on this message): nobody sees a document
            for who, channel, message in sends:
                c = await kit.client(srv, who)
                try:
                    conn = await c.open("d")
                    await conn.send(channel, message)
                except ClientError:
                    pass
            return await _observe(kit, srv, http, observer)

    resources, texts, tools, view, asks = asyncio.run(asyncio.wait_for(run(Kit()), 60))
    event(f"{name}: {'refused' if view is None else 'connected'}{'' if observer else ' (guest)'}, "
          f"{len(tools)} tools")
    if view is None:  # the viewer protocol refuses the observer: MCP shows nothing of the document
        assert resources == [] and tools == []
        return
    assert resources == ["advm://document/d"]
    sendable = {c: info for c, info in meta["channels"].items() if info["message"] is not None}
    if observer is None:
        # A guest of MCP and a guest of the socket are two principals (two views, their own
        # asks): the guest's tools are the complete channels and incomplete ones it was asked on.
        assert {tool_name("d", c) for c, info in sendable.items() if info["complete"]} <= set(tools)
        assert set(tools) <= {tool_name("d", c) for c in sendable}
        return
    assert texts == [view]
    asked = {a["channel"] for a in asks}
    assert tools == sorted(tool_name("d", c) for c, info in sendable.items() if info["complete"] or c in asked)
