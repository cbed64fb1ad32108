"""/~mcp as JSON-RPC 2.0 (spec/protocol.md 8.16): over a WebSocket and over
Streamable HTTP, malformed messages get JSON-RPC errors and the server goes
on; every limit of 8.16 is crossed; HTTP sessions belong to one principal."""
from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect as ws_connect

from advm.net.mcp import (INVALID_PARAMS, INVALID_REQUEST, LIMIT_ERROR, METHOD_NOT_FOUND, NOT_INITIALIZED,
                          PARSE_ERROR, RESOURCE_NOT_FOUND, McpLimits, key_name, name_key)
from advm.net.router import Router
from advm.net.server import Server
from server_kit import COUNTER, module, run

INIT = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}


def rpc(rid, method, params=None) -> dict:
    out = {"jsonrpc": "2.0", "id": rid, "method": method}
    if params is not None:
        out["params"] = params
    return out


@contextlib.asynccontextmanager
async def served(kit, limits: McpLimits | None = None, source: str = COUNTER, router_kw=None, **kw):
    srv = Server(Router(module(source), **(router_kw or {})), kit.tokens, port=0, mcp_limits=limits, **kw)
    await srv.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{srv.port}", timeout=10) as http:
            yield srv, http
    finally:
        for c in kit.clients:
            await c.close()
        kit.clients.clear()
        await srv.close()


def auth(kit, who: str) -> dict:
    return {"Authorization": "Bearer " + kit.tokens.mint(who, ttl=600)}


async def http_session(http, headers: dict) -> dict:
    """initialize over POST: the headers of the session's later requests."""
    r = await http.post("/~mcp", json=INIT, headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["result"]["serverInfo"]["name"] == "advm"
    return {**headers, "Mcp-Session-Id": r.headers["mcp-session-id"]}


async def made(kit, srv, *keys, who="alice"):
    c = await kit.client(srv, who)
    for key in keys:
        await c.create(key)
    return c


def test_tool_names_carry_any_key_and_read_back():
    for key in ["g1", "a.b", "x_y", "_5f_", "naïve key/1", "a-b"]:
        name = key_name(key)
        assert all(ch.isalnum() and ch.isascii() or ch in "-_" for ch in name)
        assert name_key(name) == key


def test_websocket_jsonrpc_lists_calls_reads_and_notifies():
    async def scenario(kit):
        async with served(kit) as (srv, _):
            alice = await made(kit, srv, "c1")
            url = f"ws://127.0.0.1:{srv.port}/~mcp"
            async with ws_connect(url, additional_headers=auth(kit, "bob")) as ws:
                async def ask(msg):
                    await ws.send(json.dumps(msg))
                    while True:
                        got = json.loads(await asyncio.wait_for(ws.recv(), 5))
                        if "id" in got:
                            return got
                assert (await ask(rpc(1, "ping")))["result"] == {}
                early = await ask(rpc(2, "tools/list"))
                assert early["error"]["code"] == NOT_INITIALIZED
                init = await ask(INIT)
                assert init["result"]["protocolVersion"] == "2025-11-25"
                await ws.send(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}))
                tools = (await ask(rpc(3, "tools/list")))["result"]["tools"]
                assert [t["name"] for t in tools] == ["c1.bump"]
                assert tools[0]["inputSchema"]["properties"]["by"]["type"] == "integer"
                called = await ask(rpc(4, "tools/call", {"name": "c1.bump", "arguments": {"by": 5}}))
                assert called["result"]["isError"] is False
                read = await ask(rpc(5, "resources/read", {"uri": "advm://document/c1"}))
                assert json.loads(read["result"]["contents"][0]["text"]) == {"n": 5}
                assert (await ask(rpc(6, "resources/subscribe", {"uri": "advm://document/c1"})))["result"] == {}
                view = await alice.open("c1")
                await view.send("bump", {"by": 2})
                note = json.loads(await asyncio.wait_for(ws.recv(), 5))
                assert note == {"jsonrpc": "2.0", "method": "notifications/resources/updated",
                                "params": {"uri": "advm://document/c1"}}
                read = await ask(rpc(7, "resources/read", {"uri": "advm://document/c1"}))
                assert json.loads(read["result"]["contents"][0]["text"]) == {"n": 7}
                bad = await ask(rpc(8, "tools/call", {"name": "c1.bump", "arguments": {"by": "x"}}))
                assert bad["result"]["isError"] is True and bad["result"]["content"][0]["text"].startswith("input:")
                gone = await ask(rpc(9, "resources/read", {"uri": "advm://document/nope"}))
                assert gone["error"]["code"] == RESOURCE_NOT_FOUND
                nope = await ask(rpc(10, "tools/call", {"name": "c1.nothing", "arguments": {}}))
                assert nope["error"]["code"] == INVALID_PARAMS
            # the socket's session ends with it (once the server has seen the close)
            for _ in range(250):
                if not srv.mcp.sessions:
                    break
                await asyncio.sleep(0.02)
            assert not srv.mcp.sessions
    run(scenario)


MALFORMED = [
    (b"not json", PARSE_ERROR),
    (b"\xff\xfe", PARSE_ERROR),
    (b"[]", INVALID_REQUEST),
    (b"42", INVALID_REQUEST),
    (b'{"jsonrpc": "1.0", "id": 1, "method": "ping"}', INVALID_REQUEST),
    (b'{"jsonrpc": "2.0", "id": true, "method": "ping"}', INVALID_REQUEST),
    (b'{"jsonrpc": "2.0", "id": 1.5, "method": "ping"}', INVALID_REQUEST),
    (b'{"jsonrpc": "2.0", "id": 1, "method": 5}', INVALID_REQUEST),
    (b'{"jsonrpc": "2.0", "id": 1}', INVALID_REQUEST),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "nope"}', METHOD_NOT_FOUND),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": [1]}', INVALID_PARAMS),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {}}', INVALID_PARAMS),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "resources/read", "params": {"uri": 7}}', INVALID_PARAMS),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "prompts/get", "params": {"name": "none"}}', INVALID_PARAMS),
    (('{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"a": ' + "[" * 70 + "]" * 70 + "}}").encode(),
     INVALID_REQUEST),
    (b'{"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"a": "\\udc80"}}', INVALID_REQUEST),
]


@pytest.mark.parametrize("transport", ["http", "ws"])
def test_malformed_messages_get_jsonrpc_errors_and_the_server_goes_on(transport):
    async def scenario(kit):
        async with served(kit) as (srv, http):
            headers = auth(kit, "alice")
            if transport == "http":
                session = await http_session(http, headers)

                async def send(body: bytes):
                    r = await http.post("/~mcp", content=body, headers={**session, "Content-Type": "application/json"})
                    assert r.headers["content-type"] == "application/json"
                    return r.json()
                note = await http.post("/~mcp", json={"jsonrpc": "2.0", "method": "notifications/initialized"},
                                       headers=session)
                assert note.status_code == 202
            else:
                ws = await ws_connect(f"ws://127.0.0.1:{srv.port}/~mcp", additional_headers=headers)

                async def send(body: bytes):
                    await ws.send(body.decode("utf-8", "surrogateescape") if body != b"\xff\xfe" else body)
                    return json.loads(await asyncio.wait_for(ws.recv(), 5))
                assert "result" in await send(json.dumps(INIT).encode())
            for body, code in MALFORMED:
                got = await send(body)
                assert got["jsonrpc"] == "2.0" and got["error"]["code"] == code, (body, got)
            assert (await send(json.dumps(rpc(99, "ping")).encode())) == {"jsonrpc": "2.0", "id": 99, "result": {}}
            if transport == "ws":
                await ws.close()
    run(scenario)


def _padded(size: int) -> bytes:
    """A ping of exactly `size` bytes."""
    head = json.dumps(rpc(1, "ping", {"pad": ""})).encode()
    body = json.dumps(rpc(1, "ping", {"pad": "x" * (size - len(head))})).encode()
    assert len(body) == size
    return body


def test_request_size_and_batch_limits_over_both_transports():
    limits = McpLimits(max_request=2048, max_batch=4)

    async def scenario(kit):
        async with served(kit, limits) as (srv, http):
            session = await http_session(http, auth(kit, "alice"))
            ok = await http.post("/~mcp", content=_padded(2048), headers=session)
            assert ok.json()["result"] == {}
            big = await http.post("/~mcp", content=_padded(2049), headers=session)
            assert big.status_code == 429 and big.json()["error"]["code"] == LIMIT_ERROR
            four = await http.post("/~mcp", json=[rpc(i, "ping") for i in range(4)], headers=session)
            assert [a["id"] for a in four.json()] == [0, 1, 2, 3]
            five = await http.post("/~mcp", json=[rpc(i, "ping") for i in range(5)], headers=session)
            assert five.status_code == 429 and five.json()["error"]["code"] == LIMIT_ERROR
            notes = await http.post("/~mcp", json=[{"jsonrpc": "2.0", "method": "notifications/x"}], headers=session)
            assert notes.status_code == 202 and notes.content == b""

            async with ws_connect(f"ws://127.0.0.1:{srv.port}/~mcp", additional_headers=auth(kit, "bob")) as ws:
                async def send(body):
                    await ws.send(body)
                    return json.loads(await asyncio.wait_for(ws.recv(), 5))
                assert "result" in await send(json.dumps(INIT))
                assert (await send(_padded(2048).decode()))["result"] == {}
                assert (await send(_padded(2049).decode()))["error"]["code"] == LIMIT_ERROR
                assert len(await send(json.dumps([rpc(i, "ping") for i in range(4)]))) == 4
                assert (await send(json.dumps([rpc(i, "ping") for i in range(5)])))["error"]["code"] == LIMIT_ERROR
    run(scenario)


def test_messages_waiting_on_one_socket_are_bounded():
    limits = McpLimits(max_pending=3)

    async def scenario(kit):
        async with served(kit, limits) as (srv, _):
            async with ws_connect(f"ws://127.0.0.1:{srv.port}/~mcp", additional_headers=auth(kit, "bob")) as ws:
                await ws.send(json.dumps(INIT))
                json.loads(await ws.recv())
                # ten requests in one write: the socket takes three, the rest are refused
                await asyncio.gather(*(ws.send(json.dumps(rpc(i, "ping"))) for i in range(10)))
                answers = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(10)]
                refused = [a for a in answers if "error" in a]
                assert {a["error"]["code"] for a in refused} == {LIMIT_ERROR}
                assert sorted(a["id"] for a in answers if "result" in a) == list(range(10 - len(refused)))
                assert 1 <= len(refused) <= 7
                await ws.send(json.dumps(rpc(50, "ping")))  # and the socket goes on
                assert json.loads(await asyncio.wait_for(ws.recv(), 5)) == {"jsonrpc": "2.0", "id": 50, "result": {}}
    run(scenario)


def test_sessions_per_principal_subscriptions_and_documents_are_bounded():
    limits = McpLimits(max_sessions=2, max_subscriptions=1, max_documents=2)

    async def scenario(kit):
        async with served(kit, limits) as (srv, http):
            await made(kit, srv, "d1", "d2", "d3")
            alice = auth(kit, "alice")
            one = await http_session(http, alice)
            await http_session(http, alice)
            third = await http.post("/~mcp", json=INIT, headers=alice)
            assert third.status_code == 429 and third.json()["error"]["code"] == LIMIT_ERROR
            await http_session(http, auth(kit, "bob"))  # another principal has its own two
            assert (await http.delete("/~mcp", headers=one)).status_code == 200
            session = await http_session(http, alice)  # one ended: room for another

            listed = (await http.post("/~mcp", json=rpc(1, "resources/list"), headers=session)).json()
            assert [r["name"] for r in listed["result"]["resources"]] == ["d1", "d2"]
            past = (await http.post("/~mcp", json=rpc(2, "resources/read", {"uri": "advm://document/d3"}),
                                    headers=session)).json()
            assert past["error"]["code"] == LIMIT_ERROR
            sub = (await http.post("/~mcp", json=rpc(3, "resources/subscribe", {"uri": "advm://document/d1"}),
                                   headers=session)).json()
            again = (await http.post("/~mcp", json=rpc(4, "resources/subscribe", {"uri": "advm://document/d1"}),
                                     headers=session)).json()
            assert sub["result"] == {} and again["result"] == {}
            second = (await http.post("/~mcp", json=rpc(5, "resources/subscribe", {"uri": "advm://document/d2"}),
                                      headers=session)).json()
            assert second["error"]["code"] == LIMIT_ERROR
    run(scenario)


def test_http_sessions_belong_to_their_principal():
    async def scenario(kit):
        async with served(kit, allow_anonymous=False) as (srv, http):
            await made(kit, srv, "d1")
            alice = auth(kit, "alice")
            session = await http_session(http, alice)
            sid = session["Mcp-Session-Id"]
            no_id = await http.post("/~mcp", json=rpc(1, "ping"), headers=alice)
            assert no_id.status_code == 400 and no_id.json()["error"]["code"] == INVALID_REQUEST
            unknown = await http.post("/~mcp", json=rpc(1, "ping"), headers={**alice, "Mcp-Session-Id": "x"})
            assert unknown.status_code == 404
            stolen = await http.post("/~mcp", json=rpc(1, "ping"), headers={**auth(kit, "eve"), "Mcp-Session-Id": sid})
            assert stolen.status_code == 403
            bare = await http.post("/~mcp", json=rpc(1, "ping"), headers={"Mcp-Session-Id": sid})
            assert bare.status_code == 401
            anonymous = await http.post("/~mcp", json=INIT)
            assert anonymous.status_code == 401
            bad = await http.post("/~mcp", json=INIT, headers={"Authorization": "Bearer nonsense"})
            assert bad.status_code == 401
            assert (await http.get("/~mcp", headers=session)).status_code == 406
            assert (await http.put("/~mcp", json=rpc(1, "ping"), headers=session)).status_code == 405
            foreign = await http.post("/~mcp", json=rpc(1, "ping"), headers={**session, "Origin": "http://evil.example"})
            assert foreign.status_code == 403
            assert (await http.post("/~mcp", json=rpc(1, "ping"), headers=session)).json()["result"] == {}
            assert (await http.delete("/~mcp", headers=session)).status_code == 200
            assert (await http.post("/~mcp", json=rpc(1, "ping"), headers=session)).status_code == 404
    run(scenario)


def test_an_anonymous_session_is_a_guest_the_document_may_refuse():
    async def scenario(kit):
        async with served(kit, source=COUNTER.replace("return true;\n}\n\nchannel",
                                                      "return !@who.isAnonymous();\n}\n\nchannel")) as (srv, http):
            await made(kit, srv, "d1")
            session = await http_session(http, {})
            listed = (await http.post("/~mcp", json=rpc(1, "resources/list"), headers=session)).json()
            assert listed["result"]["resources"] == []
            tools = (await http.post("/~mcp", json=rpc(2, "tools/list"), headers=session)).json()
            assert tools["result"]["tools"] == []
            call = (await http.post("/~mcp", json=rpc(3, "tools/call", {"name": "d1.bump", "arguments": {}}),
                                    headers=session)).json()
            assert call["error"]["code"] == INVALID_PARAMS
    run(scenario)


def test_prompts_are_the_agents_a_program_exposes():
    """prompts/list and prompts/get read the module's `agents` (the hook the
    agent blocks fill, spec/protocol.md 8.16); given here by hand."""
    from advm.compiler.build import build_source

    program = build_source(COUNTER, "agents.adb")
    program.meta["agents"] = {
        "Helper": {"instructions": "You are a helpful task manager.", "description": "tasks"},
        "Secret": {"instructions": "hidden", "exposed": False},
    }

    async def scenario(kit):
        srv = Server(Router(program), kit.tokens, port=0)
        await srv.start()
        try:
            async with ws_connect(f"ws://127.0.0.1:{srv.port}/~mcp") as ws:
                async def ask(msg):
                    await ws.send(json.dumps(msg))
                    return json.loads(await asyncio.wait_for(ws.recv(), 5))
                # no header: the token may come in initialize's params (`identity`)
                init = await ask({**INIT, "params": {**INIT["params"], "identity": kit.tokens.mint("ann", ttl=60)}})
                assert "Documents of this advm server as ann@" in init["result"]["instructions"]
                listed = (await ask(rpc(1, "prompts/list")))["result"]["prompts"]
                assert listed == [{"name": "Helper", "description": "tasks"}]
                got = (await ask(rpc(2, "prompts/get", {"name": "Helper"})))["result"]
                assert got["messages"] == [{"role": "user", "content": {"type": "text",
                                                                        "text": "You are a helpful task manager."}}]
                hidden = await ask(rpc(3, "prompts/get", {"name": "Secret"}))
                assert hidden["error"]["code"] == INVALID_PARAMS
        finally:
            await srv.close()
    run(scenario)


def test_an_idle_http_session_ends_and_its_connections_close():
    source = COUNTER.replace("channel bump", "public int gone;\n\n@disconnected {\n  gone++;\n}\n\nchannel bump")
    limits = McpLimits(idle_timeout=0.0)  # every session is idle by the next request

    async def scenario(kit):
        async with served(kit, limits, source=source) as (srv, http):
            await made(kit, srv, "d1")
            first = await http_session(http, auth(kit, "bob"))
            listed = (await http.post("/~mcp", json=rpc(1, "resources/list"), headers=first)).json()
            assert [r["name"] for r in listed["result"]["resources"]] == ["d1"]
            await http_session(http, auth(kit, "carol"))  # the next request sweeps bob's session
            assert (await http.post("/~mcp", json=rpc(2, "ping"), headers=first)).status_code == 404
            watcher = await kit.client(srv, "alice")
            view = await watcher.open("d1")
            assert view.view["gone"] == 1  # bob's connection closed: @disconnected ran
    run(scenario)


def test_a_channel_of_many_messages_takes_them_under_messages():
    source = COUNTER.replace("channel bump(Bump b) {\n  n += b.by;\n}",
                             "channel bump(Bump b) {\n  n += b.by;\n}\n\nchannel bumps(Bump[] bs) {\n"
                             "  foreach (b in bs) {\n    n += b.by;\n  }\n}")
    assert "bumps" in source

    async def scenario(kit):
        async with served(kit, source=source) as (srv, http):
            await made(kit, srv, "d1")
            session = await http_session(http, auth(kit, "bob"))
            tools = (await http.post("/~mcp", json=rpc(1, "tools/list"), headers=session)).json()["result"]["tools"]
            many = next(t for t in tools if t["name"] == "d1.bumps")
            assert many["inputSchema"]["required"] == ["messages"]
            assert many["inputSchema"]["properties"]["messages"]["items"] == {"$ref": "#/$defs/Bump"}
            call = (await http.post("/~mcp", json=rpc(2, "tools/call", {
                "name": "d1.bumps", "arguments": {"messages": [{"by": 2}, {"by": 3}]}}), headers=session)).json()
            assert call["result"]["isError"] is False
            bare = (await http.post("/~mcp", json=rpc(3, "tools/call", {
                "name": "d1.bumps", "arguments": {"by": 2}}), headers=session)).json()
            assert bare["result"]["isError"] is True
            read = (await http.post("/~mcp", json=rpc(4, "resources/read", {"uri": "advm://document/d1"}),
                                    headers=session)).json()
            assert json.loads(read["result"]["contents"][0]["text"]) == {"n": 5}
    run(scenario)


def test_a_session_serves_the_space_its_url_names():
    """`/~mcp?space=NAME` (spec/protocol.md 8.17): the session's documents are that space's."""
    from advm.net.client import Client
    from advm.net.spaces import Spaces

    other = COUNTER.replace("channel bump(Bump b)", "channel lift(Bump b)")

    async def scenario(kit):
        spaces = Spaces(lambda name, program, limits: Router(program))
        spaces.add("default", module(COUNTER))
        spaces.add("other", module(other, "other.adb"))
        srv = Server(None, kit.tokens, port=0, spaces=spaces)
        await srv.start()
        try:
            token = kit.tokens.mint("alice", ttl=600)
            async with await Client.connect(srv.ws_url, token) as c:
                await c.create("home")
            async with await Client.connect(srv.ws_url, token, space="other") as c:
                await c.create("away")
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{srv.port}", timeout=10) as http:
                for query, key, tool in [("", "home", "home.bump"), ("?space=other", "away", "away.lift")]:
                    r = await http.post("/~mcp" + query, json=INIT, headers=auth(kit, "bob"))
                    session = {**auth(kit, "bob"), "Mcp-Session-Id": r.headers["mcp-session-id"]}
                    listed = (await http.post("/~mcp", json=rpc(1, "resources/list"), headers=session)).json()
                    assert [x["name"] for x in listed["result"]["resources"]] == [key]
                    tools = (await http.post("/~mcp", json=rpc(2, "tools/list"), headers=session)).json()
                    assert [t["name"] for t in tools["result"]["tools"]] == [tool]
                nowhere = await http.post("/~mcp?space=nowhere", json=INIT, headers=auth(kit, "bob"))
                assert nowhere.status_code == 400 and "no space 'nowhere'" in nowhere.json()["error"]["message"]
            async with ws_connect(f"ws://127.0.0.1:{srv.port}/~mcp?space=other",
                                  additional_headers=auth(kit, "bob")) as ws:
                await ws.send(json.dumps(INIT))
                json.loads(await ws.recv())
                await ws.send(json.dumps(rpc(1, "resources/list")))
                got = json.loads(await asyncio.wait_for(ws.recv(), 5))
                assert [x["name"] for x in got["result"]["resources"]] == ["away"]
        finally:
            await srv.close()
    run(scenario)


AGENT_DOC = (Path(__file__).resolve().parents[2] / "spec/cases/decls/ok_agent.adb").read_text() + """
@static {
  create {
    return true;
  }
}

@connected {
  return true;
}
"""


def test_an_agent_is_a_prompt_where_its_session_shows_and_its_ask_channel_a_tool():
    """A document exposes its agent by showing the agent's session: a principal
    whose view holds `chat` gets the prompt and the ask tool; with the session
    private, neither."""
    hidden = AGENT_DOC.replace("public session<Helper> chat;", "private session<Helper> chat;")
    assert hidden != AGENT_DOC

    async def scenario(kit):
        for source, shown in [(AGENT_DOC, True), (hidden, False)]:
            async with served(kit, source=source) as (srv, http):
                await made(kit, srv, "d1")
                session = await http_session(http, auth(kit, "bob"))

                async def call(method, params=None):
                    got = (await http.post("/~mcp", json=rpc(1, method, params or {}), headers=session)).json()
                    return got.get("result", got.get("error"))
                prompts = (await call("prompts/list"))["prompts"]
                tools = {t["name"]: t for t in (await call("tools/list"))["tools"]}
                if shown:
                    assert prompts == [{"name": "Helper", "description": "the instructions of agent Helper"}]
                    got = await call("prompts/get", {"name": "Helper"})
                    assert got["messages"][0]["content"]["text"] == "You are a helpful task manager."
                    ask = tools["d1.__ask_chat"]
                    assert ask["description"].startswith("Ask the agent Helper of document d1")
                    assert ask["inputSchema"]["properties"] == {"text": {"type": "string"}}
                else:
                    assert prompts == []
                    assert (await call("prompts/get", {"name": "Helper"}))["code"] == INVALID_PARAMS
                    assert "d1.__ask_chat" not in tools
                assert "d1.say" in tools
    run(scenario, deadline=40)


def test_a_websocket_session_ends_when_its_token_expires():
    async def scenario(kit):
        async with served(kit) as (srv, _):
            await made(kit, srv, "d1")
            token = kit.tokens.mint("bob", ttl=3)
            async with ws_connect(f"ws://127.0.0.1:{srv.port}/~mcp",
                                  additional_headers={"Authorization": "Bearer " + token}) as ws:
                await ws.send(json.dumps(INIT))
                assert "result" in json.loads(await ws.recv())
                await ws.send(json.dumps(rpc(1, "resources/list")))
                assert len(json.loads(await ws.recv())["result"]["resources"]) == 1
                await asyncio.sleep(4.1)  # past the token's exp (whole seconds)
                await ws.send(json.dumps(rpc(2, "ping")))
                ended = json.loads(await asyncio.wait_for(ws.recv(), 5))
                assert ended["error"]["code"] == INVALID_REQUEST
                assert ended["error"]["message"].startswith("expired_token:")
                await asyncio.wait_for(ws.wait_closed(), 5)
            assert not srv.mcp.sessions
    run(scenario)


def test_overlapping_requests_of_a_session_share_one_connection():
    source = COUNTER.replace("channel bump", "public int joins;\n\n@connected {\n  joins++;\n  return true;\n}\n\n"
                             "channel bump").replace("@connected {\n  return true;\n}\n", "", 1)

    async def scenario(kit):
        async with served(kit, source=source) as (srv, http):
            await made(kit, srv, "d1")
            session = await http_session(http, auth(kit, "bob"))
            reads = await asyncio.gather(*(http.post("/~mcp", json=rpc(i, "resources/read",
                                                                        {"uri": "advm://document/d1"}),
                                                     headers=session) for i in range(6)))
            views = [json.loads(r.json()["result"]["contents"][0]["text"]) for r in reads]
            assert all(v == views[0] for v in views)
            assert views[0]["joins"] == 1  # bob, once
            mcp = next(iter(srv.mcp.sessions.values()))
            assert list(mcp.docs) == ["d1"] and not mcp.connecting
            assert srv.router.slots["d1"].members.get("bob@") == 1
    run(scenario)


SLOW = """
@static {
  create {
    return true;
  }
  instruction_budget = 2000000000;
}

message Spin {
  int rounds;
}

public int n;

@connected {
  return true;
}

channel spin(Spin s) {
  int i = 0;
  while (i < s.rounds) {
    i++;
  }
  n += 1;
}
"""


def test_a_send_slower_than_answer_timeout_is_a_tool_error():
    async def scenario(kit):
        # a worker process runs the document, as `advm run` does: the server's loop stays free
        async with served(kit, McpLimits(answer_timeout=1.0), source=SLOW, router_kw={"workers": 1}) as (srv, http):
            await made(kit, srv, "d1")
            session = await http_session(http, auth(kit, "bob"))
            quick = (await http.post("/~mcp", json=rpc(1, "tools/call", {"name": "d1.spin",
                                                                         "arguments": {"rounds": 10}}),
                                     headers=session)).json()
            assert quick["result"]["isError"] is False
            slow = (await http.post("/~mcp", json=rpc(2, "tools/call", {"name": "d1.spin",
                                                                        "arguments": {"rounds": 100_000_000}}),
                                    headers=session)).json()
            assert slow["result"]["isError"] is True
            assert slow["result"]["content"][0]["text"] == "timeout: the document did not answer in time"
    run(scenario, deadline=120)
