"""The protocol's edge (spec/protocol.md 8.6, 8.7; issue 10 points 2, 4 and 12):
what a request may hold before anything of it reaches a document, and the
specific failure each refusal gets, with the socket, the document and the
server carrying on."""
from __future__ import annotations

import asyncio
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect as ws_connect

from advm.net.client import ClientError
from advm.net.router import MAX_KEY_BYTES, check_key, RouterError
from advm.net.server import static_pages
from advm.store.keys import MAX_DOC_BYTES
from advm.vm.values import MAX_DEPTH
from advm.views.viewers import Viewers
from server_kit import raw, run

DOC = """
@static {
  create {
    return true;
  }
}

message Put {
  string text;
  dynamic extra;
}

message Start {
  string title;
}

public string title;
public int count;
public string text;
public dynamic extra;

@construct (Start s) {
  title = s.title;
}

@connected {
  return true;
}

channel put(Put p) {
  count++;
  text = p.text;
  extra = p.extra;
}
"""


def nested(levels: int, leaf=0):
    """A JSON value `levels` arrays deep around `leaf`."""
    value = leaf
    for _ in range(levels):
        value = [value]
    return value


async def _plain_socket(srv):
    ws = await ws_connect(srv.ws_url, compression=None, max_size=None)
    return ws


def test_values_nesting_past_the_limit_fail_that_request_alone():
    async def scenario(kit):
        async with kit.serve(DOC) as srv:
            alice = await kit.client(srv, "alice")
            await alice.create("d", {"title": "t"})
            doc = await alice.open("d")
            other = await kit.client(srv, "bob")
            await other.create("e", {"title": "u"})
            # The message object is level 1: `extra` may hold 63 more levels.
            await doc.send("put", {"text": "ok", "extra": nested(MAX_DEPTH - 1)})
            with pytest.raises(ClientError) as e:
                await doc.send("put", {"text": "no", "extra": nested(MAX_DEPTH)})
            assert e.value.reason == "too_deep" and '"message"' in e.value.message
            with pytest.raises(ClientError) as e:
                await alice.create("f", {"title": "t", "x": nested(500)})
            assert e.value.reason == "too_deep"
            # Too deep to read at all (Python's reader gives out): the frame has no id.
            ws = await _plain_socket(srv)
            text = '{"id": 5, "method": "connection/send", "message": ' + "[" * 20000 + "]" * 20000 + "}"
            reply = await raw(ws, text)
            assert reply == {"failure": None, "reason": "too_deep",
                             "message": "the request nests too deep to read"}
            await ws.close()
            await doc.send("put", {"text": "after", "extra": None})
            await doc.wait_for(lambda c: c.view["count"] == 2 and c.view["text"] == "after")
            assert (await other.open("e")).view["title"] == "u"  # another document answers

    run(scenario)


def test_lone_surrogates_are_refused_at_the_edge_and_nothing_is_committed():
    async def scenario(kit):
        async with kit.serve(DOC) as srv:  # in memory: what is committed is what runs
            alice = await kit.client(srv, "alice")
            await alice.create("d", {"title": "t"})
            doc = await alice.open("d")
            ws = await _plain_socket(srv)
            token = kit.tokens.mint("alice", ttl=600)
            await raw(ws, {"id": 1, "method": "connection/create", "identity": token, "key": "d"})
            # json.dumps escapes the surrogate as \udc80, as any client would send it
            bad = await raw(ws, {"id": 2, "method": "connection/send", "connection": 1,
                                 "channel": "put", "message": {"text": "x\udc80"}})
            assert bad["failure"] == 2 and bad["reason"] == "input", bad
            assert '"message"' in bad["message"] and "Unicode" in bad["message"]
            bad = await raw(ws, {"id": 3, "method": "connection/send", "connection": 1,
                                 "channel": "put", "message": {"text": "x", "extra": {"\ud800k": 1}}})
            assert bad["reason"] == "input"
            bad = await raw(ws, {"id": 4, "method": "document/create", "identity": token,
                                 "key": "g", "arg": {"title": "\udfff"}})
            assert bad["reason"] == "input"
            bad = await raw(ws, {"id": 5, "method": "connection/send", "connection": 1,
                                 "channel": "p\udc80t", "message": {}})
            assert bad["reason"] == "bad_request"
            await ws.close()
            # The sender was told a failure: nothing ran, and the stream still hears.
            await doc.send("put", {"text": "fine"})
            await doc.wait_for(lambda c: c.view["count"] == 1 and c.view["text"] == "fine")
            with pytest.raises(ClientError) as e:
                await alice.open("g")
            assert e.value.reason == "not_found"  # the refused create made nothing

    run(scenario)


def test_bad_keys_get_bad_key():
    assert MAX_KEY_BYTES == MAX_DOC_BYTES  # the router refuses what the store could not key

    async def scenario(kit):
        async with kit.serve(DOC) as srv:
            ws = await _plain_socket(srv)
            token = kit.tokens.mint("alice", ttl=600)
            wide = "\U0001F600" * 100  # 100 characters, 400 bytes
            for rid, key in enumerate(["k\udc80", wide, "é" * 128], start=1):
                reply = await raw(ws, {"id": rid, "method": "document/create", "identity": token,
                                       "key": key, "arg": {"title": "t"}})
                assert reply["failure"] == rid and reply["reason"] == "bad_key", (key, reply)
            ok = await raw(ws, {"id": 9, "method": "document/create", "identity": token,
                                "key": "é" * 127, "arg": {"title": "t"}})  # 254 bytes fit
            assert ok == {"deliver": 9, "done": True, "response": {}}
            await ws.close()

    run(scenario)
    with pytest.raises(RouterError) as e:  # the router's own check, for programs that skip the server
        check_key("k\udc80")
    assert e.value.code == "bad_key"


@pytest.mark.parametrize("connection", [[], {}, "1", 1.5, None, True])
def test_a_connection_that_is_not_an_integer_is_a_bad_request(connection):
    async def scenario(kit):
        async with kit.serve(DOC) as srv:
            ws = await _plain_socket(srv)
            reply = await raw(ws, {"id": 7, "method": "connection/send", "connection": connection,
                                   "channel": "put", "message": {}})
            assert reply["failure"] == 7 and reply["reason"] == "bad_request", reply
            assert "connection" in reply["message"]
            reply = await raw(ws, {"id": 8, "method": "connection/end", "connection": connection})
            assert reply["failure"] == 8 and reply["reason"] == "bad_request", reply
            await ws.close()

    run(scenario)


async def _http_get(port: int, path: str) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    status = int(data.split(b" ", 2)[1])
    return status, data


def test_long_paths_get_4xx_and_no_server_path(tmp_path):
    (tmp_path / "index.html").write_text("<p>hi</p>")

    async def scenario(kit):
        async with kit.serve(DOC, pages=static_pages(tmp_path)) as srv:
            status, body = await _http_get(srv.port, "/" + "a" * 5000)
            assert status == 414, body[:200]
            status, body = await _http_get(srv.port, "/" + "b" * 1500)  # past a file name's length
            assert status == 404, body[:200]
            assert str(tmp_path).encode() not in body
            status, _ = await _http_get(srv.port, "/")
            assert status == 200

    run(scenario)


def test_a_runtime_error_names_the_document_file_not_the_server_path(tmp_path):
    source = DOC.replace("  count++;", "  count++;\n  if (p.text == \"boom\") { abort; }")
    path = tmp_path / "deep" / "dir" / "doc.adb"

    async def scenario(kit):
        from advm.compiler.build import build_source
        from advm.net.router import Router
        from advm.net.server import Server

        srv = Server(Router(build_source(source, str(path))), kit.tokens, port=0)
        await srv.start()
        try:
            alice = await kit.client(srv, "alice")
            await alice.create("d", {"title": "t"})
            doc = await alice.open("d")
            with pytest.raises(ClientError) as e:
                await doc.send("put", {"text": "boom"})
            assert e.value.reason == "abort"
            assert e.value.message == "doc.adb:32:27: the transaction aborted"
            assert str(tmp_path) not in json.dumps(doc.notes)
        finally:
            for c in kit.clients:
                await c.close()
            await srv.close()

    run(scenario)


# ---------------------------------------------------------------- fuzzing the edge

FUZZ_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-2 ** 70, 2 ** 70),
                        st.floats(allow_nan=False, allow_infinity=False),
                        st.sampled_from(["", "x", "é", "\U0001F600", "a\udc80", "\ud800"]))


@st.composite
def fuzz_values(draw):
    """A JSON value of any type, nested around the limit now and then."""
    value = draw(FUZZ_LEAVES)
    levels = draw(st.sampled_from([0, 1, 2, MAX_DEPTH - 2, MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 3]))
    for _ in range(levels):
        value = [value] if draw(st.booleans()) else {draw(st.sampled_from(["text", "é", "\udc80"])): value}
    return value


@st.composite
def fuzz_requests(draw):
    """A connection/send on the fuzzed document's stream 1, or another method
    with odd fields; field names the protocol does not know included."""
    kind = draw(st.sampled_from(["send", "send", "send", "create", "other"]))
    if kind == "send":
        message = draw(st.one_of(fuzz_values(), st.fixed_dictionaries(
            {"text": st.one_of(FUZZ_LEAVES, fuzz_values())}, optional={"extra": fuzz_values()})))
        req = {"method": "connection/send", "connection": 1, "channel": "put", "message": message}
    elif kind == "create":
        req = {"method": "document/create", "key": draw(st.one_of(
            st.sampled_from(["k", "k\udc80", "\U0001F600" * 70, "$x", ""]), fuzz_values())),
            "arg": draw(fuzz_values())}
    else:
        req = {"method": draw(st.sampled_from(["connection/end", "space/reflect", "nope"])),
               "connection": draw(fuzz_values())}
    if draw(st.booleans()):
        req[draw(st.sampled_from(["zz", "\udc80", "é"]))] = draw(fuzz_values())
    return req


def _puts(frames: list[dict]) -> int:
    return sum(1 for f in frames if "deliver" in f and f.get("done") and "seq" in f.get("response", {}))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(requests=st.lists(fuzz_requests(), min_size=1, max_size=10))
def test_fuzzed_requests_are_each_answered_and_what_was_acknowledged_survives(tmp_path_factory,
                                                                              requests):
    from advm.compiler.build import build_source
    from advm.net.router import Router
    from advm.net.server import Server
    from advm.store import open_store
    from advm.durable.document import DurableDocument
    from advm.durable.replay import replay

    path = tmp_path_factory.mktemp("fuzz")
    module = build_source(DOC, "doc.adb")
    acknowledged = []

    async def scenario(kit):
        store = open_store(path / "s", durability="relaxed")
        srv = Server(Router(module, store=store), kit.tokens, port=0)
        await srv.start()
        try:
            token = kit.tokens.mint("alice", ttl=600)
            ws = await _plain_socket(srv)
            await raw(ws, {"id": 1, "method": "document/create", "identity": token, "key": "d",
                           "arg": {"title": "t"}})
            await raw(ws, {"id": 1, "method": "connection/create", "identity": token, "key": "d"})
            for rid, req in enumerate(requests, start=100):
                text = json.dumps({"id": rid, "identity": token, **req})
                await ws.send(text)
                while True:  # every request gets its reply or failure; deltas may come first
                    reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
                    if reply.get("deliver") == rid or "failure" in reply and reply["failure"] in (
                            rid, None):
                        break
                assert reply.get("reason") != "internal", (req, reply)
                if reply.get("deliver") == rid and req["method"] == "connection/send":
                    acknowledged.append(req["message"])
            other = await kit.client(srv, "bob")  # the server and other documents carry on
            await other.create("other", {"title": "u"})
            assert (await other.open("other")).view["title"] == "u"
            await ws.close()
        finally:
            for c in kit.clients:
                await c.close()
            await srv.close()
            store.close()

    run(scenario)
    store = open_store(path / "s", durability="relaxed")
    try:
        doc = DurableDocument.open(store, "d", viewers=Viewers)
        assert doc.living.engine.field("count") == len(acknowledged)
        if acknowledged:
            last = acknowledged[-1] or {}  # null is the message with its defaults
            assert doc.living.engine.field("text") == last.get("text", "")
            assert doc.living.engine.field("extra") == last.get("extra")
        doc.close()
        assert replay(store, "d").ok
    finally:
        store.close()
