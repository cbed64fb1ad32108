"""@debug streams (spec/protocol.md 8.3 `document/debug`, spec/language.md 6.12):
end to end through a real server on loopback: a subscriber the `@static
debug` policy allows gets each input's lines, anyone else is refused, no
policy refuses everyone, and the bounds on lines per input and bytes per line
hold."""
from __future__ import annotations

import asyncio
import json

import pytest
import websockets

from advm.vm.stdlib import DEBUG_LINES_DROPPED, DEBUG_MAX_LINE_BYTES, DEBUG_MAX_LINES
from server_kit import raw, run

DOC = """
@static {
  create { return true; }
  debug { return @who.agent() == "dev"; }
}

message Bump { int by; int lines; int width; }

public int n;

@connected { return true; }

channel bump(Bump b) {
  n += b.by;
  @debug("bump by {0}, n is {1}", b.by, n);
  for (int i = 0; i < b.lines; i++) {
    @debug("line {0}", i);
  }
  if (b.width > 0) {
    string s = "";
    for (int i = 0; i < b.width; i++) {
      s = s + "x";
    }
    @debug("wide {0}", s);
  }
}
"""

# One input, two transactions: the channel's and the state it moves to.
DOC = DOC.replace("""channel bump(Bump b) {""", """message Burst { int lines; }

channel burst(Burst b) {
  for (int i = 0; i < b.lines; i++) {
    @debug("first {0}", i);
  }
  transition #more;
}

#more {
  for (int i = 0; i < 150; i++) {
    @debug("then {0}", i);
  }
}

channel bump(Bump b) {""")

NO_POLICY = DOC.replace('  debug { return @who.agent() == "dev"; }\n', "")


async def _socket(srv):
    ws = await websockets.connect(srv.ws_url)
    json.loads(await asyncio.wait_for(ws.recv(), 5))  # the greeting
    return ws


async def _next(ws, rid) -> dict:
    """The next frame for request `rid` on a raw socket."""
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if msg.get("deliver") == rid or msg.get("failure") == rid:
            return msg


async def _subscribe(kit, srv, who, key="d1", rid=1):
    ws = await _socket(srv)
    await ws.send(json.dumps({"id": rid, "method": "document/debug", "key": key,
                              "identity": kit.tokens.mint(who, ttl=600)}))
    return ws, await _next(ws, rid)


@pytest.mark.parametrize("workers", [0, 1])  # in the server's process, and in a worker process
def test_subscriber_gets_each_inputs_lines_and_others_are_refused(workers):
    async def scenario(kit):
        async with kit.serve(DOC, workers=workers) as srv:
            alice = await kit.client(srv, "alice")
            await alice.create("d1")
            conn = await alice.open("d1")
            dev, first = await _subscribe(kit, srv, "dev@corp")
            assert first == {"deliver": 1, "done": False, "response": {"subscribed": True}}
            eve, refused = await _subscribe(kit, srv, "eve@corp")
            assert refused["failure"] == 1 and refused["reason"] == "debug_refused"
            assert "@static debug returned false for eve@corp" in refused["message"]
            await conn.send("bump", {"by": 2, "lines": 2, "width": 0})
            got = await _next(dev, 1)
            assert got["response"] == {"debug": ["bump by 2, n is 2", "line 0", "line 1"]}
            # Ending the stream stops the lines; another subscriber still gets them.
            dev2, _ = await _subscribe(kit, srv, "dev@corp", rid=9)
            await dev.send(json.dumps({"id": 2, "method": "connection/end", "connection": 1}))
            assert await _next(dev, 1) == {"deliver": 1, "done": True, "response": {}}
            await conn.send("bump", {"by": 1, "lines": 0, "width": 0})
            assert (await _next(dev2, 9))["response"] == {"debug": ["bump by 1, n is 3"]}
            # A debug stream is not a connection: it sends nothing.
            await dev2.send(json.dumps({"id": 3, "method": "connection/send", "connection": 9,
                                        "channel": "bump", "message": {"by": 1, "lines": 0, "width": 0}}))
            assert (await _next(dev2, 3))["reason"] == "unknown_connection"
            for ws in (dev, dev2, eve):
                await ws.close()

    run(scenario)


def test_without_a_debug_policy_nobody_subscribes():
    async def scenario(kit):
        async with kit.serve(NO_POLICY) as srv:
            alice = await kit.client(srv, "alice")
            await alice.create("d1")
            ws, refused = await _subscribe(kit, srv, "dev@corp")
            assert refused["reason"] == "debug_refused"
            assert "has no @static debug policy" in refused["message"]
            ws2, missing = await _subscribe(kit, srv, "dev@corp", key="nope")
            assert missing["reason"] == "not_found"
            await ws.close()
            await ws2.close()

    run(scenario)


def test_lines_per_input_and_bytes_per_line_are_bounded():
    async def scenario(kit):
        async with kit.serve(DOC) as srv:
            alice = await kit.client(srv, "alice")
            await alice.create("d1")
            conn = await alice.open("d1")
            dev, _ = await _subscribe(kit, srv, "dev@corp")
            # At the bound: every line; one more and the rest is dropped, said once.
            await conn.send("bump", {"by": 1, "lines": DEBUG_MAX_LINES - 1, "width": 0})
            lines = (await _next(dev, 1))["response"]["debug"]
            assert len(lines) == DEBUG_MAX_LINES and DEBUG_LINES_DROPPED not in lines
            await conn.send("bump", {"by": 1, "lines": DEBUG_MAX_LINES + 50, "width": 0})
            lines = (await _next(dev, 1))["response"]["debug"]
            assert len(lines) == DEBUG_MAX_LINES + 1 and lines[-1] == DEBUG_LINES_DROPPED
            assert lines[-2] == f"line {DEBUG_MAX_LINES - 2}"
            # A line at the byte bound is whole; a longer one is cut, marked with '...'.
            fits = DEBUG_MAX_LINE_BYTES - len("wide ")
            await conn.send("bump", {"by": 1, "lines": 0, "width": fits})
            wide = (await _next(dev, 1))["response"]["debug"][1]
            assert wide == "wide " + "x" * fits
            await conn.send("bump", {"by": 1, "lines": 0, "width": fits + 10})
            wide = (await _next(dev, 1))["response"]["debug"][1]
            assert len(wide.encode()) == DEBUG_MAX_LINE_BYTES and wide.endswith("...")
            # Per input: two transactions of 100 and 150 lines (each under the
            # bound) make one input of 250, cut at the bound and said so.
            await conn.send("burst", {"lines": 100})
            lines = (await _next(dev, 1))["response"]["debug"]
            assert len(lines) == DEBUG_MAX_LINES + 1 and lines[-1] == DEBUG_LINES_DROPPED
            assert lines[99] == "first 99" and lines[100] == "then 0"
            assert lines[-2] == f"then {DEBUG_MAX_LINES - 101}"
            await conn.send("burst", {"lines": DEBUG_MAX_LINES - 150})
            lines = (await _next(dev, 1))["response"]["debug"]
            assert len(lines) == DEBUG_MAX_LINES and lines[-1] == "then 149"
            await dev.close()

    run(scenario)


SAME = """
@static {
  create { return true; }
  maximum_string_length = 8;
}
public int n;
message M { int d; }
channel go(M m) {
  n += 1;
  @debug("n is {0}, a tenth of d is {1}, {2}", n, m.d / 10, "longer than eight");
}
"""


def test_a_document_does_the_same_whether_anybody_listens_or_not():
    """The arguments are evaluated either way, and the line is joined outside
    the document's string bound: listening changes nothing but the lines."""
    from advm.runtime.living import LivingDocument
    from advm.views.viewers import Viewers
    from server_kit import module

    mod = module(SAME)
    runs = {}
    for listening in (True, False):
        d = LivingDocument(mod, key="k", viewers=Viewers)
        d.create("a@", None, 1)
        d.engine.debug_lines = []
        d.engine.listening = listening
        frames = [d.send("a@", "go", {"d": k}, 2 + k) for k in (0, 5)]
        runs[listening] = (frames, d.view("a@"), d.engine.debug_lines)
    assert runs[True][:2] == runs[False][:2] == ([[], []], {"n": 2})
    assert runs[True][2] == ["n is 1, a tenth of d is 0.0, longer than eight",
                             "n is 2, a tenth of d is 0.5, longer than eight"]
    assert runs[False][2] == []


def test_the_debug_policy_is_checked_like_create():
    from advm.compiler import compile_source

    def errors(static):
        comp = compile_source("@static {\n" + static + "\n}\npublic int n;\n", "p.adb")
        return [d.code for d in comp.diagnostics if d.severity == "error"]

    assert errors('debug { return @who.agent() == "dev" && @context.origin == ""; }') == []
    assert errors("debug { return 1; }") == ["E0405"]
    assert errors("debug { return true; }\ndebug { return false; }") == ["E0204"]
    assert errors("debug { return n > 0; }") != []  # it sees nothing of the document
    assert errors("debugg { return true; }") == ["E0504"]
