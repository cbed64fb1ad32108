"""The protocol's edge (spec/protocol.md 8.6, 8.7; issue 10 points 2, 4 and 12):
what a request may hold before anything of it reaches a document, and the
specific failure each refusal gets, with the socket, the document and the
server carrying on."""
from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect as ws_connect

from advm.net.client import ClientError
from advm.net.host import MAX_KEY_BYTES, check_key, HostError
from advm.net.server import static_pages
from advm.store.keys import MAX_DOC_BYTES
from advm.vm.values import MAX_DEPTH
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
    assert MAX_KEY_BYTES == MAX_DOC_BYTES  # the host refuses what the store could not key

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
    with pytest.raises(HostError) as e:  # the host's own check, for programs that skip the server
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
        from advm.net.host import Host
        from advm.net.server import Server

        srv = Server(Host(build_source(source, str(path))), kit.tokens, port=0)
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
