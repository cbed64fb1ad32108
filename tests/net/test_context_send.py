"""@context over the server (issue 22 point 7, language.md 5.9): a program whose channels
read @context gets its socket's origin and address with every message, and @connected with
every connection."""
from __future__ import annotations

from server_kit import run

SOURCE = """
@static {
  create { return true; }
}

message Ping {
  int n;
}

public string connected_from;
public string sent_from;
public int pings;

@connected {
  connected_from = @context.ip;
  return true;
}

channel ping(Ping p) {
  sent_from = @context.ip + " " + @context.origin;
  pings += p.n;
}
"""


def test_channels_and_connected_read_the_socket_s_context():
    async def scenario(kit):
        async with kit.serve(SOURCE) as srv:
            ann = await kit.client(srv, "ann")
            await ann.create("k")
            conn = await ann.open("k")
            assert conn.view["connected_from"] == "127.0.0.1"
            await conn.send("ping", {"n": 2})
            assert conn.view["sent_from"] == "127.0.0.1 " and conn.view["pings"] == 2

    run(scenario)


def test_a_program_that_does_not_read_it_is_sent_none():
    from server_kit import COUNTER, module
    assert "reads_context" not in module(COUNTER).meta
    assert module(SOURCE).meta["reads_context"] is True
