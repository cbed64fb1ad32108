"""Memory per socket is bounded in bytes (issue 10, point 8; spec/protocol.md
8.6): a slow reader's queue passes its byte bound and its deltas are
coalesced into one reset per stream, sent one at a time; a client that pings
and never reads stops being read."""
from __future__ import annotations

import asyncio
import socket

from server_kit import run

from advm.net.server import FRAME_COST, Limits

BIG = """
@static {
  create {
    return true;
  }
}
@connected {
  return true;
}
message Fill {
  int n;
  string text;
}
public int n;
public string text;
channel fill(Fill f) {
  n = f.n;
  text = f.text;
}
"""


async def _tiny_client(kit, srv, who):
    """A client whose socket buffers are tiny on both ends, so that what the
    server writes to it backs up in the server at once."""
    tiny = socket.socket()
    tiny.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    tiny.setblocking(False)
    await asyncio.get_running_loop().sock_connect(tiny, ("127.0.0.1", srv.port))
    client = await kit.client(srv, who, sock=tiny)
    return client


def _socket_of(srv, who):
    return next(s for s in srv.sockets if any(st.who == who for st in s.streams.values()))


def _squeeze(sock):
    transport = sock.ws.transport
    transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    transport.set_write_buffer_limits(high=2048)


def test_a_slow_reader_with_many_streams_on_a_big_view_is_bounded_in_bytes():
    bound = 256 * 1024

    async def scenario(kit):
        limits = Limits(max_pending_bytes=bound, max_pending_hard_bytes=4 * bound)
        async with kit.serve(BIG, limits=limits) as srv:
            alice = await kit.client(srv, "alice")
            await alice.create("d")
            writer = await alice.open("d")
            slow = await _tiny_client(kit, srv, "bob")
            views = [await slow.open("d") for _ in range(8)]
            sock = _socket_of(srv, "bob@")
            _squeeze(sock)
            slow.ws.transport.pause_reading()
            most = 0
            for i in range(1, 21):
                # 100 KB per change, 8 streams: 16 MB of frames unbounded.
                await writer.send("fill", {"n": i, "text": chr(96 + i) * 50_000})
                most = max(most, sock.queued)
            assert srv.dropped >= 1, "bob's deltas never backed up"
            assert most <= bound, most
            assert sock.kept <= 80_000  # replies and at most one reset (one view)
            slow.ws.transport.resume_reading()
            want = {"n": 20, "text": "t" * 50_000}
            for view in views:
                await view.wait_for(lambda v: v.view == want, timeout=15)
            assert all(view.open for view in views)

    run(scenario, deadline=60)


def test_a_client_that_pings_and_never_reads_stops_being_read():
    async def scenario(kit):
        async with kit.serve(BIG) as srv:
            client = await _tiny_client(kit, srv, "mallory")
            await client.request("space/reflect", identity=client.identity)
            sock = next(iter(srv.sockets))
            _squeeze(sock)
            client_side = client.ws.transport
            client_side.pause_reading()
            ping = bytes([0x89, 0x80]) + b"\x01\x02\x03\x04"  # masked, empty ping
            client_side.write(ping * 300_000)   # 1.8 MB of pings; 600 KB of pongs owed
            server_side = sock.ws.transport
            # Let the server read what it will: until it stops reading, or
            # owes the client more than the bound, or has read every ping.
            for _ in range(1000):
                await asyncio.sleep(0.01)
                if (not server_side.is_reading()
                        or server_side.get_write_buffer_size() >= 128 * 1024):
                    break
            owed = server_side.get_write_buffer_size()
            assert owed < 128 * 1024, f"the server holds {owed} bytes of pongs"
            assert not server_side.is_reading(), "the server reads a client that reads nothing"
            # Once the client reads again, so does the server: it answers.
            client_side.resume_reading()
            reply = await client.request("space/reflect", identity=client.identity)
            assert "fill" in reply["reflection"]["channels"]
            assert server_side.is_reading()

    run(scenario, deadline=60)


def test_the_queue_counts_bytes_and_a_cost_per_frame():
    assert FRAME_COST > 0
    limits = Limits()
    assert limits.max_pending_bytes == 4 * 1024 * 1024
    assert limits.max_pending_hard_bytes == 16 * 1024 * 1024
