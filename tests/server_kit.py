"""Helpers for the server tests: a router and server on loopback inside one
asyncio.run, documents compiled once per source, and a bounded runner.

    def test_x():
        run(scenario)              # scenario(kit) is async; the whole test has a deadline

    async def scenario(kit):
        async with kit.serve(SOURCE) as srv:
            alice = await kit.client(srv, "alice")
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from pathlib import Path

from advm.compiler.build import build_source
from advm.net.client import Client
from advm.net.router import Router
from advm.net.server import Limits, Server
from advm.net.tokens import Tokens

DEADLINE = 20.0  # seconds for one whole test scenario

# A document anyone may create and bump: the server tests' smallest program.
COUNTER = """
@static {
  create {
    return true;
  }
}

message Bump {
  int by;
}

public int n;

@connected {
  return true;
}

channel bump(Bump b) {
  n += b.by;
}
"""


@functools.lru_cache(maxsize=None)
def module(source: str, name: str = "doc.adb"):
    return build_source(source, name)


class Kit:
    def __init__(self):
        self.tokens = Tokens(b"advm-test-key-0123456789abcdef!!")
        self.clients: list[Client] = []

    @contextlib.asynccontextmanager
    async def serve(self, source: str, *, limits: Limits | None = None, pages=None,
                    dev_tokens: bool = False, **host_kw):
        srv = Server(Router(module(source), **host_kw), self.tokens, port=0, limits=limits,
                     pages=pages, dev_tokens=dev_tokens)
        await srv.start()
        try:
            yield srv
        finally:
            for c in self.clients:
                await c.close()
            self.clients.clear()
            await srv.close()

    async def client(self, srv: Server, who: str | None = None, identity: str | None = None,
                     **kw) -> Client:
        if identity is None and who is not None:
            identity = self.tokens.mint(who, ttl=600)
        c = await Client.connect(srv.ws_url, identity, **kw)
        self.clients.append(c)
        return c


def run(scenario, deadline: float = DEADLINE):
    async def bounded():
        return await asyncio.wait_for(scenario(Kit()), deadline)

    return asyncio.run(bounded())


async def raw(ws, frame) -> dict:
    """Send one frame (a dict, or text as is) on a plain websocket and read one
    reply (the server's greeting on a new socket is skipped)."""
    await ws.send(frame if isinstance(frame, (str, bytes)) else json.dumps(frame))
    while True:
        reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if "status" not in reply:
            return reply


class Recorder:
    """A sink (net/router.py Sink) for Router-level tests: keeps every call."""

    def __init__(self):
        self.calls: list[tuple] = []
        self.event = asyncio.Event()

    def deltas(self, items, outstanding):
        self.calls.append(("deltas", [(json.loads(p), seq) for p, seq in items], outstanding))
        self.event.set()

    def reset(self, data, seq, outstanding):
        self.calls.append(("reset", data, seq, outstanding))
        self.event.set()

    def notify(self, error):
        self.calls.append(("notify", error))
        self.event.set()

    def ended(self, code, message):
        self.calls.append(("ended", code, message))
        self.event.set()

    def last_outstanding(self):
        for call in reversed(self.calls):
            if call[0] == "deltas" and call[2] is not None:
                return call[2]
            if call[0] == "reset":
                return call[3]
        return None



EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def tictactoe_source() -> str:
    return (EXAMPLES / "tictactoe.adb").read_text()


@contextlib.asynccontextmanager
async def http_served(kit: "Kit", source: str, *, store=None, router_kw=None, **server_kw):
    """A server of `source` on 127.0.0.1 with an httpx client at its port
    (the @web and upload tests): yields (server, http); closes the kit's
    clients and the server after."""
    import httpx

    router_kw = dict(router_kw or {})
    if store is not None:
        router_kw["store"] = store
    srv = Server(Router(module(source), **router_kw), kit.tokens, port=0, **server_kw)
    await srv.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{srv.port}", timeout=10) as http:
            yield srv, http
    finally:
        for c in kit.clients:
            await c.close()
        kit.clients.clear()
        await srv.close()


def bearer(kit: "Kit", who: str) -> dict:
    """The Authorization header of a token for `who`."""
    return {"Authorization": "Bearer " + kit.tokens.mint(who, ttl=600)}


# A document of many lines behind a view of the last 50 (the memory tests:
# tests/net/test_server_memory.py, test_memory_budget.py).
LINES = """
@static {
  create {
    return true;
  }
}

record Line {
  public int id;
  public string text;
  public int likes;
}

message Fill {
  int n;
}

table<Line> _lines;
public formula recent = iterate _lines order by id desc limit 50;
public int total;

@connected {
  return true;
}

channel fill(Fill f) {
  for (int i = 0; i < f.n; i++) {
    _lines <- {text: "line " + i, likes: i};
    total++;
  }
}
"""
