"""The wire protocol (spec/protocol.md section 8): requests, streams, and every
way a request can be refused, each answered with a failure frame while other
clients on the same server keep being served."""
from __future__ import annotations

import asyncio
import json
import socket

import pytest
from websockets.asyncio.client import connect as ws_connect

from advm.net.client import ClientError
from advm.net.server import Limits, static_pages
from advm.net.tokens import Tokens
from server_kit import raw, run

DOC = """
@static {
  create {
    return !@who.isAnonymous();
  }
}

message Bump {
  int by;
}

message Pick {
  int v;
}

public principal owner;
public int n;
public int picked;
channel<Pick> pick;

@construct {
  owner = @who;
  transition #ask;
}

@connected {
  return @who.agent() != "mallory";
}

channel bump(Bump b) {
  if (b.by < 0) {
    abort;
  }
  n += b.by;
}

#ask {
  Pick p = pick.fetch(owner).await();
  picked = p.v;
  transition #ask;
}
"""


async def _bystander(kit, srv):
    """A second client that keeps working: returns a coroutine proving it."""
    bob = await kit.client(srv, "bob")
    doc = await bob.open("d")
    return bob, doc


async def _still_served(doc, n_before: int) -> None:
    await doc.send("bump", {"by": 1})
    await doc.wait_for(lambda c: c.view["n"] == n_before + 1)


def test_stream_frames_have_the_documented_shape():
    async def scenario(kit):
        async with kit.serve(DOC) as srv:
            async with ws_connect(srv.ws_url) as ws:
                greeting = json.loads(await ws.recv())
                assert greeting["status"] == "connected"  # what Adama's clients wait for
                token = kit.tokens.mint("alice")
                reply = await raw(ws, {"id": 1, "method": "document/create", "identity": token,
                                       "key": "d"})
                assert reply == {"deliver": 1, "done": True, "response": {}}
                first = await raw(ws, {"id": 2, "method": "connection/create", "identity": token,
                                       "key": "d"})
                assert first["deliver"] == 2 and first["done"] is False
                delta = first["response"]["delta"]
                assert delta["seq"] == 1
                assert delta["data"] == {"owner": {"agent": "alice", "authority": ""}, "n": 0,
                                         "picked": 0}
                assert delta["outstanding"] == [{"id": 1, "channel": "pick", "kind": "fetch"}]
                await ws.send(json.dumps({"id": 3, "method": "connection/send", "connection": 2,
                                          "channel": "bump", "message": {"by": 5}}))
                frames = [json.loads(await ws.recv()) for _ in range(2)]
                # The delta goes out before the reply, so a client that got the
                # reply already holds the view it caused.
                assert frames[0] == {"deliver": 2, "done": False,
                                     "response": {"delta": {"data": {"n": 5}, "seq": 2}}}
                assert frames[1] == {"deliver": 3, "done": True, "response": {"seq": 2}}
                await ws.send(json.dumps({"id": 4, "method": "connection/send", "connection": 2,
                                          "ask": 1, "message": {"v": 9}}))
                frames = [json.loads(await ws.recv()) for _ in range(2)]
                assert frames[0]["response"]["delta"] == {
                    "data": {"picked": 9}, "seq": 3,
                    "outstanding": [{"id": 2, "channel": "pick", "kind": "fetch"}]}
                assert frames[1] == {"deliver": 4, "done": True, "response": {"seq": 3}}
                end = [await raw(ws, {"id": 5, "method": "connection/end", "connection": 2}),
                       json.loads(await ws.recv())]
                assert {"deliver": 2, "done": True, "response": {}} in end
                assert {"deliver": 5, "done": True, "response": {}} in end

    run(scenario)


@pytest.mark.parametrize("frame, reason", [
    ("{not json", "bad_json"),
    ("[1, 2]", "bad_request"),
    (json.dumps({"method": "document/create"}), "bad_request"),
    (b"\x00\x01", "bad_frame"),
])
def test_malformed_frames_get_failures_and_the_server_goes_on(frame, reason):
    async def scenario(kit):
        async with kit.serve(DOC) as srv:
            alice = await kit.client(srv, "alice")
            await alice.create("d")
            bob, doc = await _bystander(kit, srv)
            async with ws_connect(srv.ws_url) as ws:
                reply = await raw(ws, frame)
                assert reply["failure"] is None and reply["reason"] == reason
                assert reply["message"]
                # the same socket still works afterwards
                ok = await raw(ws, {"id": 9, "method": "document/create",
                                    "identity": kit.tokens.mint("carol"), "key": "other"})
                assert ok == {"deliver": 9, "done": True, "response": {}}
            await _still_served(doc, 0)

    run(scenario)


def test_unknown_method_names_the_known_ones():
    async def scenario(kit):
        async with kit.serve(DOC) as srv:
            alice = await kit.client(srv, "alice")
            with pytest.raises(ClientError) as e:
                await alice.request("document/frobnicate", key="d")
            assert e.value.reason == "unknown_method"
            assert "connection/create" in e.value.message

    run(scenario)


def test_oversized_frame_is_refused_but_the_socket_lives():
    async def scenario(kit):
        limits = Limits(max_frame=1000, hard_frame=100_000)
        async with kit.serve(DOC, limits=limits) as srv:
            alice = await kit.client(srv, "alice")
            await alice.create("d")
            bob, doc = await _bystander(kit, srv)
            async with ws_connect(srv.ws_url) as ws:
                big = json.dumps({"id": 1, "method": "document/create", "key": "x" * 5000})
                reply = await raw(ws, big)
                assert reply["reason"] == "frame_too_large"
                assert "1000" in reply["message"]
                ok = await raw(ws, {"id": 2, "method": "document/create",
                                    "identity": kit.tokens.mint("carol"), "key": "small"})
                assert ok["done"] is True
            await _still_served(doc, 0)

    run(scenario)


def test_fragmented_messages_are_requests_too():
    async def scenario(kit):
        limits = Limits(max_frame=1000, hard_frame=10_000)
        async with kit.serve(DOC, limits=limits) as srv:
            async with ws_connect(srv.ws_url) as ws:
                assert "status" in json.loads(await ws.recv())
                token = kit.tokens.mint("carol")
                # One text message in three frames (RFC 6455 5.4), then a binary one.
                text = json.dumps({"id": 1, "method": "document/create", "identity": token,
                                   "key": "frag"})
                await ws.send([text[:10], text[10:20], text[20:]])
                assert json.loads(await ws.recv()) == {"deliver": 1, "done": True, "response": {}}
                await ws.send([b"\x00", b"\x01"])
                reply = json.loads(await ws.recv())
                assert (reply["failure"], reply["reason"]) == (None, "bad_frame")
                # Fragments past the hard limit together close the socket, as one frame would.
                await ws.send(["x" * 6000, "y" * 6000])
                with pytest.raises(Exception) as e:
                    await asyncio.wait_for(ws.recv(), 5)
                assert getattr(getattr(e.value, "rcvd", None), "code", None) == 1009

    run(scenario)


def test_frame_past_the_hard_limit_closes_only_that_socket():
    async def scenario(kit):
        limits = Limits(max_frame=1000, hard_frame=10_000)
        async with kit.serve(DOC, limits=limits) as srv:
            alice = await kit.client(srv, "alice")
            await alice.create("d")
            bob, doc = await _bystander(kit, srv)
            async with ws_connect(srv.ws_url) as ws:
                assert "status" in json.loads(await ws.recv())
                await ws.send("x" * 20_000)
                with pytest.raises(Exception) as e:
                    await asyncio.wait_for(ws.recv(), 5)
                assert getattr(getattr(e.value, "rcvd", None), "code", None) == 1009
            await _still_served(doc, 0)

    run(scenario)


def test_bad_and_expired_tokens_are_refused():
    async def scenario(kit):
        async with kit.serve(DOC) as srv:
            alice = await kit.client(srv, "alice")
            await alice.create("d")
            bob, doc = await _bystander(kit, srv)
            forged = Tokens(b"another-host-key-000000000000000").mint("alice")
            tampered = kit.tokens.mint("carol")[:-2] + "AA"
            clock = [1000.0]
            expired = Tokens(kit.tokens._key, clock=lambda: clock[0]).mint("alice", ttl=10)
            for identity, reason in [(forged, "bad_token"), (tampered, "bad_token"),
                                     ("not-a-token", "bad_token"), (expired, "expired_token"),
                                     (None, "bad_token"), (12, "bad_token")]:
                mallory = await kit.client(srv, identity=identity)
                with pytest.raises(ClientError) as e:
                    await mallory.open("d")
                assert e.value.reason == reason, identity
                with pytest.raises(ClientError) as e:
                    await mallory.create("new")
                assert e.value.reason == reason
            await _still_served(doc, 0)

    run(scenario)


def test_wrong_principal_cannot_answer_someone_elses_ask():
    async def scenario(kit):
        async with kit.serve(DOC) as srv:
            alice = await kit.client(srv, "alice")
            await alice.create("d")
            mine = await alice.open("d")
            assert [a["id"] for a in mine.outstanding] == [1]
            bob, doc = await _bystander(kit, srv)
            assert doc.outstanding == []
            with pytest.raises(ClientError) as e:
                await doc.answer(1, {"v": 4})
            assert e.value.reason == "wrong_principal"
            with pytest.raises(ClientError) as e:  # and not through the channel either
                await doc.send("pick", {"v": 4})
            assert e.value.reason == "no_open_ask"
            assert doc.view["picked"] == 0 and mine.view["picked"] == 0
            await mine.answer(mine.outstanding[0], {"v": 4})
            await doc.wait_for(lambda c: c.view["picked"] == 4)
            await _still_served(doc, 0)

    run(scenario)


def test_document_errors_and_policies_come_back_as_failures():
    async def scenario(kit):
        async with kit.serve(DOC) as srv:
            alice = await kit.client(srv, "alice")
            with pytest.raises(ClientError) as e:
                await alice.open("missing")
            assert e.value.reason == "not_found"
            await alice.create("d")
            with pytest.raises(ClientError) as e:
                await alice.create("d")
            assert e.value.reason == "already_created"
            guest = await kit.client(srv, identity="anonymous")
            with pytest.raises(ClientError) as e:
                await guest.create("g")
            assert e.value.reason == "create_refused"
            watching = await guest.open("d")  # @connected lets visitors watch
            assert watching.view["owner"]["agent"] == "alice"
            mallory = await kit.client(srv, "mallory")
            with pytest.raises(ClientError) as e:
                await mallory.open("d")
            assert e.value.reason == "connect_refused"
            doc = await alice.open("d")
            with pytest.raises(ClientError) as e:
                await doc.send("bump", {"by": -1})
            assert e.value.reason == "abort"
            with pytest.raises(ClientError) as e:
                await doc.send("nope", {})
            assert e.value.reason == "input"
            with pytest.raises(ClientError) as e:
                await alice.request("connection/send", connection=999, channel="bump",
                                    message={"by": 1})
            assert e.value.reason == "unknown_connection"
            with pytest.raises(ClientError) as e:
                await alice.request("connection/create", key=7, identity=kit.tokens.mint("a"))
            assert e.value.reason == "bad_request"
            with pytest.raises(ClientError) as e:
                await alice.request("document/create", key="$x", identity=kit.tokens.mint("a"))
            assert e.value.reason == "bad_key"
            await _still_served(watching, 0)

    run(scenario)


def test_rate_limit_refuses_the_excess_and_recovers():
    async def scenario(kit):
        limits = Limits(rate=20.0, burst=5.0)
        async with kit.serve(DOC, limits=limits) as srv:
            alice = await kit.client(srv, "alice")
            await alice.create("d")
            doc = await alice.open("d")
            results = await asyncio.gather(*(doc.send("bump", {"by": 1}) for _ in range(12)),
                                           return_exceptions=True)
            refused = [r for r in results if isinstance(r, ClientError)]
            assert refused and all(r.reason == "rate_limited" for r in refused)
            served = len(results) - len(refused)
            assert 1 <= served <= 6
            await doc.wait_for(lambda c: c.view["n"] == served)
            await asyncio.sleep(0.3)  # the bucket refills
            await doc.send("bump", {"by": 1})
            await doc.wait_for(lambda c: c.view["n"] == served + 1)

    run(scenario)


def test_http_requests_go_to_the_pages_hook(tmp_path):
    (tmp_path / "index.html").write_text("<p>the page</p>")
    (tmp_path / "app.js").write_text("let x = 1;")
    (tmp_path.parent / "secret.txt").write_text("outside the folder")

    async def scenario(kit):
        async with kit.serve(DOC, pages=static_pages(tmp_path)) as srv:
            loop = asyncio.get_running_loop()

            def get(path):
                import urllib.error
                import urllib.request

                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{srv.port}{path}") as r:
                        return r.status, r.headers["Content-Type"], r.read()
                except urllib.error.HTTPError as e:
                    with e:
                        return e.code, None, e.read()

            assert await loop.run_in_executor(None, get, "/") == (
                200, "text/html", b"<p>the page</p>")
            status, kind, _ = await loop.run_in_executor(None, get, "/app.js?v=2")
            assert status == 200 and "javascript" in kind
            for path in ("/nothing-here", "/../secret.txt", "/%2e%2e/secret.txt"):
                status, _, _ = await loop.run_in_executor(None, get, path)
                assert status == 404, path
            # and the same port still speaks WebSocket
            alice = await kit.client(srv, "alice")
            await alice.create("d")

    run(scenario)


def test_slow_client_gets_its_deltas_coalesced_into_one_view():
    async def scenario(kit):
        limits = Limits(max_pending_bytes=8 * 200, max_pending_hard_bytes=1 << 20)
        async with kit.serve(DOC, limits=limits) as srv:
            alice = await kit.client(srv, "alice")
            await alice.create("d")
            writer = await alice.open("d")
            # A receive buffer this small must be set before connecting: the
            # TCP window is advertised at the handshake.
            tiny = socket.socket()
            tiny.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            tiny.setblocking(False)
            await asyncio.get_running_loop().sock_connect(tiny, ("127.0.0.1", srv.port))
            slow = await kit.client(srv, "bob", sock=tiny)
            view = await slow.open("d")
            # Every update bob's client handles from now on is collected: the
            # library under the client may resume reading by itself (its own
            # flow control), so frames can be handled before the bumps end.
            updates = []

            async def collect():
                async for update in view.updates():
                    updates.append(update)
                    # (the update's own data: the view may already be further on)
                    if (update.data or {}).get("n") == 400:
                        return

            collector = asyncio.create_task(collect())
            await asyncio.sleep(0)  # its queue is registered before any change
            # Bob stops reading and his socket's buffers are tiny: the server's
            # writes to him back up while alice keeps changing the document.
            sock = next(s for s in srv.sockets
                           if any(st.who == "bob@" for st in s.streams.values()))
            server_side = sock.ws.transport
            server_side.get_extra_info("socket").setsockopt(
                socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
            server_side.set_write_buffer_limits(high=2048)
            client_side = slow.ws.transport
            client_side.pause_reading()
            for _ in range(400):
                await writer.send("bump", {"by": 1})
            assert writer.view["n"] == 400
            assert srv.dropped >= 1, "bob's deltas never backed up"
            client_side.resume_reading()
            await asyncio.wait_for(collector, 10)
            resets = [u for u in updates if u.reset]
            assert resets, "the slow client was never coalesced"
            # Far fewer frames than changes reached bob, and he holds the right view.
            assert view.seq == writer.seq
            assert view.view == {"owner": {"agent": "alice", "authority": ""}, "n": 400,
                                 "picked": 0}
            assert view.open
            # and the writer was never held up: its own frames all arrived in order.
            assert writer.seq == 401

    run(scenario)


def _masked(opcode_byte: int, payload: bytes, key: bytes = b"\x11\x22\x33\x44") -> bytes:
    """A client frame (RFC 6455 5.2) with a real mask, built by hand."""
    n = len(payload)
    head = bytes((opcode_byte, 0x80 | n)) if n < 126 else \
        bytes((opcode_byte, 0x80 | 126)) + n.to_bytes(2, "big")
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


async def _read_frames(reader, count: int) -> list[tuple[int, bytes]]:
    out = []
    while len(out) < count:
        b0, b1 = await reader.readexactly(2)
        n = b1 & 0x7F
        if n == 126:
            n = int.from_bytes(await reader.readexactly(2), "big")
        elif n == 127:
            n = int.from_bytes(await reader.readexactly(8), "big")
        out.append((b0 & 0x0F, await reader.readexactly(n)))
    return out


def test_frames_split_or_packed_in_any_way_are_read_alike():
    """The server reads small whole data frames itself (net/server.py
    Connection.data_received): requests packed into one write, a request cut
    into single bytes, a ping between requests, a fragmented message, a
    16-bit length, and finally a frame without a mask, which the library
    refuses by closing the socket with 1002."""
    async def scenario(kit):
        async with kit.serve(DOC) as srv:
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            writer.write(b"GET /~s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                         b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         b"Sec-WebSocket-Version: 13\r\n\r\n")
            assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
            assert b'"status"' in (await _read_frames(reader, 1))[0][1]
            token = kit.tokens.mint("alice")

            def req(rid, key, pad=""):
                return json.dumps({"id": rid, "method": "document/create", "identity": token,
                                   "key": key, "pad": pad}).encode()

            # Two requests and a ping in one write, then one cut into bytes.
            writer.write(_masked(0x81, req(1, "a")) + _masked(0x89, b"hi")
                         + _masked(0x81, req(2, "b")))
            cut = _masked(0x81, req(3, "c"))
            for i in range(len(cut)):
                writer.write(cut[i:i + 1])
                await writer.drain()
                await asyncio.sleep(0.001)
            # A message in two fragments with a ping between them, a long
            # frame (16-bit length), then a request in the same write.
            text = req(4, "d")
            writer.write(_masked(0x01, text[:7]) + _masked(0x89, b"p2")
                         + _masked(0x80, text[7:]) + _masked(0x81, req(5, "e", "x" * 300))
                         + _masked(0x81, req(6, "f")))
            frames = await asyncio.wait_for(_read_frames(reader, 8), 5)
            pongs = [data for op, data in frames if op == 0xA]
            replies = [json.loads(data) for op, data in frames if op == 0x1]
            assert pongs == [b"hi", b"p2"]
            # (replies to different documents' requests may come in any order)
            assert sorted(r.get("deliver") for r in replies) == [1, 2, 3, 4, 5, 6], replies
            assert all(r["done"] is True and r["response"] == {} for r in replies)
            # An unmasked client frame is a protocol error: the library closes.
            writer.write(bytes((0x81, 2)) + b"{}")
            op, data = (await asyncio.wait_for(_read_frames(reader, 1), 5))[0]
            assert op == 0x8 and int.from_bytes(data[:2], "big") == 1002
            writer.close()

    run(scenario)
