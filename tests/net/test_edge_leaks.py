"""What enters a document is checked against its type where it enters, and
what leaves as an error tells a client nothing the document holds
(issue 21 point 1; spec/protocol.md 8.7, spec/sessions.md 2).

A typed message field (`date`, `datetime`, `time`, `principal`, enums, ...)
that does not fit is refused with `input` naming the field, and nothing is
stored. A run-time error reaches a client as its code, a position relative to
the document and a fixed text: no argument, no exception text, no server path.
"""
from __future__ import annotations

import asyncio
import json
import logging

import pytest
from websockets.asyncio.client import connect as ws_connect

from advm.compiler.build import build_source
from advm.net.router import Router
from advm.net.server import Server
from advm.net.tokens import Tokens
from advm.runtime.engine import Engine, TransactionError
from advm.runtime.living import LivingDocument
from advm.session import Session
from advm.views.viewers import Viewers
from advm.vm.errors import public_message
from server_kit import run

# The document of issue 21, exactly.
BIRTHDAY = """\
@static { create { return true; } }
message SetD { date d; }
message Go { int n; }
private date birthday;
public date due;
@connected { return true; }
channel set_birthday(SetD m) { birthday = m.d; }
channel next_week(Go g) { due = Date.offsetDay(birthday, 7); }
"""

SERVER_DIR = "/srv/advm-private-dir"  # where the server keeps the document: never sent
T0 = 1767225600000


def _frames_of(ws_frames: list[str]) -> str:
    return "\n".join(ws_frames)


async def _socket(url: str, identity: str):
    ws = await ws_connect(url, compression=None)
    seen: list[str] = []

    async def request(rid: int, method: str, **fields) -> dict:
        await ws.send(json.dumps({"id": rid, "method": method, "identity": identity, **fields}))
        while True:
            text = await asyncio.wait_for(ws.recv(), 5)
            seen.append(text)
            msg = json.loads(text)
            if msg.get("failure") == rid or msg.get("deliver") == rid and (
                    msg.get("done") or method == "connection/create"):
                return msg

    return ws, seen, request


def _served(source: str, scenario):
    tokens = Tokens(b"advm-test-key-0123456789abcdef!!")

    async def main(kit):
        module = build_source(source, f"{SERVER_DIR}/doc.adb")
        srv = Server(Router(module), tokens, port=0)
        await srv.start()
        try:
            await scenario(srv, tokens)
        finally:
            await srv.close()

    run(main)


def test_a_private_value_never_reaches_another_principal_through_an_error():
    async def scenario(srv, tokens):
        alice_ws, alice_seen, alice = await _socket(srv.ws_url, tokens.mint("alice", ttl=600))
        bob_ws, bob_seen, bob = await _socket(srv.ws_url, tokens.mint("bob", ttl=600))
        assert "deliver" in await alice(1, "document/create", key="d")
        await alice(2, "connection/create", key="d")
        await bob(1, "connection/create", key="d")
        refused = await alice(3, "connection/send", connection=2, channel="set_birthday",
                              message={"d": "SECRET-alice-private"})
        assert refused["reason"] == "input" and ".d" in refused["message"], refused
        assert "SECRET" not in refused["message"]
        done = await bob(2, "connection/send", connection=1, channel="next_week",
                         message={"n": 1})
        assert done.get("done") is True, done  # the birthday stayed the default: nothing failed
        await bob(3, "connection/end", connection=1)
        everything = _frames_of(bob_seen)
        assert "SECRET" not in everything
        assert SERVER_DIR not in everything and SERVER_DIR not in _frames_of(alice_seen)
        await alice_ws.close()
        await bob_ws.close()

    _served(BIRTHDAY, scenario)


def test_a_failing_host_function_tells_the_client_a_fixed_text_and_the_log_the_rest(caplog):
    # A library function that fails on a value the document holds (put there
    # behind the edge's back, as a document stored before the check might
    # hold it): the client learns where, relative to the document, and
    # which function; the server's log gets the whole error.
    living = LivingDocument(build_source(BIRTHDAY, f"{SERVER_DIR}/doc.adb"), key="d", viewers=Viewers)
    living.create("alice@", None, T0)
    doc = living.engine
    doc.doc.f[doc.meta["document"]["fields"][0]["slot"]] = "SECRET-alice-private"
    with caplog.at_level(logging.WARNING, logger="advm.document"):
        frames = living.send("bob@", "next_week", {"n": 1}, T0)
    assert frames == [{"to": "bob@", "error": {
        "code": "error", "message": "doc.adb:8:33: host function Date.offsetDay failed"}}]
    logged = caplog.text
    assert "SECRET-alice-private" in logged and f"{SERVER_DIR}/doc.adb:8:33" in logged
    with pytest.raises(TransactionError) as e:  # the developer's own API keeps the whole story
        doc.send("bob@", "next_week", {"n": 1})
    assert "SECRET" in e.value.message


@pytest.mark.parametrize("message, expected", [
    ("host function Date.offsetDay/2(oi)o failed: ValueError: Invalid isoformat string: 'x'",
     "host function Date.offsetDay failed"),
    ("host function Date.between/2(oo)d returned str, not a double", "host function Date.between failed"),
    ("list index 7 out of range (length 3)", "list index out of range"),
    ("read of an empty maybe", "read of an empty maybe"),
    ("assertion failed", "assertion failed"),
    ("state #deal is already being invoked", "state #deal is already being invoked"),
    ("internal error: KeyError: 'SECRET'", "internal error"),
    ("something nobody listed: SECRET", "a run-time error"),
])
def test_public_texts_are_fixed_per_kind_of_fault(message, expected):
    assert public_message(message) == expected


def _session_frames(source: str, lines: list[dict]) -> list[dict]:
    session = Session(build_source(source, f"{SERVER_DIR}/doc.adb"))
    out = []
    for number, item in enumerate(lines, start=1):
        out += session.feed(json.dumps(item), number)
    return out


def test_scripted_sessions_send_the_same_safe_errors():
    frames = _session_frames(BIRTHDAY, [
        {"op": "create", "as": "alice"}, {"op": "connect", "as": "alice"},
        {"op": "connect", "as": "bob"},
        {"op": "send", "as": "alice", "channel": "set_birthday",
         "message": {"d": "SECRET-alice-private"}},
        {"op": "send", "as": "bob", "channel": "next_week", "message": {"n": 1}},
    ])
    errors = [f for f in frames if "error" in f]
    assert errors == [{"to": "alice", "error": {
        "code": "input",
        "message": "message on 'set_birthday'.d: expected a date (YYYY-MM-DD), got a string"}}]
    assert not any("SECRET" in json.dumps(f) for f in frames if f["to"] == "bob")
    assert {"to": "bob", "delta": {"due": "1970-01-08"}, "seq": 2} in frames


DATES = """\
@static { create { return true; } }
enum Color { Red, Blue }
message Typed {
  date d;
  datetime dt;
  time t;
  timespan span;
  principal p;
  Color c;
  long big;
  maybe<date> md;
  Typed2 inner;
  date[] ds;
}
message Typed2 { datetime at; }
public date d;
public datetime dt;
public time t;
public int weekday;
public double between;
@connected { return true; }
channel put(Typed m) {
  d = m.d;
  dt = m.dt;
  t = m.t;
  weekday = Date.dayOfWeek(m.d);
  between = Date.between(m.dt, m.inner.at).seconds();
}
"""

GOOD = {"d": "2026-03-04", "dt": "2026-03-04T10:00:00Z", "t": "23:59", "span": 1.5,
        "p": {"agent": "ann", "authority": "corp"}, "c": "Blue", "big": 2 ** 40,
        "md": None, "inner": {"at": "2026-03-04T11:00:00+01:00"}, "ds": ["2026-01-01"]}


@pytest.mark.parametrize("field, value", [
    ("d", "SECRET"), ("d", "2026-02-30"), ("d", "20260304"), ("d", "2026-W10-3"), ("d", 20260304),
    ("dt", "SECRET"), ("dt", "2026-03-04"), ("dt", "2026-03-04T25:00:00Z"),
    ("t", "SECRET"), ("t", "24:00"), ("t", "7:05"), ("t", "12:60"),
    ("span", "1s"), ("span", float("inf")),
    ("p", {"agent": "ann", "authority": ["x"]}), ("p", {"agent": 7}), ("p", 7),
    ("c", "Green"), ("c", 9),
    ("big", 2 ** 63), ("big", "12"), ("big", 1.5), ("big", True),
    ("md", "SECRET"), ("inner", {"at": "SECRET"}), ("ds", ["2026-01-01", "SECRET"]),
])
def test_every_typed_field_is_checked_where_the_message_enters(field, value):
    doc = Engine(build_source(DATES, "doc.adb"))
    doc.create("alice@")
    before = doc.fields()
    with pytest.raises(TransactionError) as e:
        doc.send("alice@", "put", {**GOOD, field: value})
    assert e.value.kind == "input"
    assert f".{field}" in e.value.message and "SECRET" not in e.value.message
    assert doc.fields() == before  # nothing stored


def test_values_that_fit_are_taken_in_the_runtime_form():
    doc = Engine(build_source(DATES, "doc.adb"))
    doc.create("alice@")
    doc.send("alice@", "put", GOOD)
    got = doc.fields()
    assert (got["d"], got["t"], got["weekday"]) == ("2026-03-04", "23:59", 3)
    # a datetime is held as the runtime writes one: milliseconds and an offset
    assert got["dt"] == "2026-03-04T10:00:00.000+00:00"
    assert got["between"] == 0.0  # 11:00+01:00 is 10:00Z
