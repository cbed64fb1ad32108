"""@web handlers through the real server (issue 13 point 3; spec/protocol.md
8.15, language.md 4.28): routing and typed path parameters, authentication,
a put that aborts and changes nothing, get only reading, every limit crossed,
viewers seeing a put's change, and a log of web inputs replayed."""
from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advm.durable.document import DurableDocument
from advm.durable.noviews import state_hash
from advm.durable.replay import replay
from advm.net.web import WebLimits
from advm.views.viewers import Viewers
from durable_kit import T0, open_store
from server_kit import Kit, bearer, http_served, module, run

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
WEBHOOK = (EXAMPLES / "webhook.adb").read_text()

ROUTES = """
@static { create { return true; } }
@connected { return true; }
public int n;
message Sms { string From; string Body; }
@web get / { return {html: "root"}; }
@web get /item/$id:int { return {html: "int " + id}; }
@web get /item/$id:long/x { return {html: "long " + id}; }
@web get /item/$name { return {html: "string " + name}; }
@web get /item/fixed { return {html: "fixed"}; }
@web get /price/$p:double { return {html: "double " + p}; }
@web get /files/$rest* { return {html: "rest [" + rest + "]"}; }
@web get /who { return {html: "" + @who}; }
@web get /boom { assert(n > 100); return {html: "no"}; }
@web put /sms (Sms m) { n += 1; return {xml: "<r>" + m.From + ":" + m.Body + "</r>"}; }
@web get /json { return {json: Dynamic.dyn(n), cors: true, cache_ttl_seconds: 30}; }
@web get /go { return {redirect: "/elsewhere"}; }
@web get /teapot { return {error: "short and stout", status: 418}; }
"""


def served(kit: Kit, source: str, *, store=None, anonymous: bool = True, limits: WebLimits | None = None):
    return http_served(kit, source, store=store, allow_anonymous=anonymous, web_limits=limits)


async def created(kit: Kit, srv, key: str, who: str = "ann@shop"):
    c = await kit.client(srv, who)
    await c.create(key)
    return c


def test_routing_typed_parameters_and_responses():
    async def scenario(kit):
        async with served(kit, ROUTES) as (srv, http):
            await created(kit, srv, "r")
            h = bearer(kit, "ann@shop")

            async def get(path):
                return await http.get("/~d/r" + path, headers=h)

            assert (await get("/")).text == "root"
            assert (await get("/item/42")).text == "int 42"
            assert (await get("/item/-7")).text == "int -7"
            # past the int range it is no int; a long handler has another shape (/x)
            assert (await get("/item/3000000000")).text == "string 3000000000"
            assert (await get("/item/3000000000/x")).text == "long 3000000000"
            assert (await get("/item/fixed")).text == "fixed"  # fixed before typed
            assert (await get("/item/a%20b")).text == "string a b"  # percent-decoded
            assert (await get("/price/2.5")).text == "double 2.5"
            assert (await get("/files/a/b/c.txt")).text == "rest [a/b/c.txt]"
            assert (await get("/files")).text == "rest []"
            r = await get("/item/42")
            assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=utf-8"
            assert r.headers["cache-control"] == "no-store"
            r = await get("/json")
            assert r.json() == 0 and r.headers["content-type"] == "application/json"
            assert r.headers["access-control-allow-origin"] == "*"
            assert r.headers["cache-control"] == "max-age=30"
            r = await get("/go")
            assert r.status_code == 302 and r.headers["location"] == "/elsewhere" and r.content == b""
            r = await get("/teapot")
            assert r.status_code == 418 and r.text == "short and stout"
            assert r.headers["content-type"].startswith("text/plain")
            assert (await get("/who")).text == "ann"  # the principal as text: its agent
            r = await get("/nothing/here")
            assert r.status_code == 404
            r = await http.delete("/~d/r/item/1", headers=h)
            assert r.status_code == 405  # the path is served, by get only
            r = await get("/boom")
            assert r.status_code == 500 and "assert" in r.text
            r = await http.get("/~d/nobody/item/1", headers=h)
            assert r.status_code == 404
            # put's message from JSON and from a form; POST is PUT
            r = await http.put("/~d/r/sms", json={"From": "+1", "Body": "hi", "Other": 1}, headers=h)
            assert r.status_code == 200 and r.text == "<r>+1:hi</r>"
            assert r.headers["content-type"] == "application/xml; charset=utf-8"
            r = await http.post("/~d/r/sms", data={"From": "+2", "Body": "yo"}, headers=h)
            assert r.text == "<r>+2:yo</r>"
            assert (await get("/json")).json() == 2
            r = await http.put("/~d/r/sms", content=b"[1, 2]", headers=h)
            assert r.status_code == 400
            r = await http.put("/~d/r/sms", json={"From": 5}, headers=h)
            assert r.status_code == 400 and "From" in r.text
            r = await http.request("PATCH", "/~d/r/sms", headers=h)
            assert r.status_code == 405
            assert (await get("/json")).json() == 2  # refused requests changed nothing

    run(scenario)


def test_authentication_like_the_websocket():
    async def scenario(kit):
        async with served(kit, ROUTES, anonymous=False) as (srv, http):
            await created(kit, srv, "a")
            assert (await http.get("/~d/a/who")).status_code == 401
            r = await http.get("/~d/a/who", headers={"Authorization": "Bearer not-a-token"})
            assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
            r = await http.get("/~d/a/who", headers={"Authorization": "Basic abc"})
            assert r.status_code == 401
            r = await http.get("/~d/a/who", headers=bearer(kit, "bob@shop"))
            assert r.status_code == 200 and r.text == "bob"
        async with served(kit, ROUTES, anonymous=True) as (srv, http):
            await created(kit, srv, "a")
            r = await http.get("/~d/a/who")
            assert r.status_code == 200 and r.text.startswith("guest-")

    run(scenario)


def test_webhook_put_is_one_transaction_that_viewers_see_and_an_abort_changes_nothing():
    async def scenario(kit):
        async with served(kit, WEBHOOK) as (srv, http):
            c = await created(kit, srv, "shop")
            conn = await c.open("shop")
            h = bearer(kit, "stripe@hooks")
            r = await http.put("/~d/shop/hook/stripe", json={"id": "e1", "kind": "paid", "cents": 500}, headers=h)
            assert r.status_code == 201 and r.json() == 500
            await conn.wait_for(lambda c: c.view.get("balance") == 500)
            r = await http.put("/~d/shop/hook/stripe", json={"id": "e2", "kind": "refunded", "cents": 900},
                               headers=h)
            assert r.status_code == 409 and "abort" in r.text
            r = await http.put("/~d/shop/hook/stripe", json={"id": "e1", "kind": "paid", "cents": 500}, headers=h)
            assert r.status_code == 200 and r.json() == 500  # a repeated event is taken once
            r = await http.put("/~d/shop/hook/stripe", json={"id": "e3", "kind": "odd", "cents": 1}, headers=h)
            assert r.status_code == 422
            r = await http.get("/~d/shop/summary", headers=h)
            assert r.json() == 500 and r.headers["cache-control"] == "max-age=1"
            r = await http.get("/~d/shop/events/10", headers=h)
            assert r.text == "e1,paid,500\n" and r.headers["content-type"] == "text/csv; charset=utf-8"
            r = await http.options("/~d/shop/hook/stripe")
            assert r.status_code == 200 and "PUT" in r.headers["access-control-allow-methods"]
            assert conn.view["balance"] == 500 and conn.view["events"] == 1
            r = await http.delete("/~d/shop/events", headers=h)
            assert r.status_code == 200 and r.text == "cleared"
            await conn.wait_for(lambda c: c.view.get("balance") == 0 and c.view.get("events") == 0)

    run(scenario)


def test_limits_crossed():
    limits = WebLimits(max_body=1024, rate=2.0, burst=6.0, head_timeout=1.0, body_timeout=1.0)

    async def scenario(kit):
        async with served(kit, ROUTES, limits=limits) as (srv, http):
            await created(kit, srv, "l")
            h = bearer(kit, "ann@shop")
            body = {"From": "x" * 900, "Body": ""}
            assert (await http.put("/~d/l/sms", json=body, headers=h)).status_code == 200
            body = {"From": "x" * 1100, "Body": ""}
            r = await http.put("/~d/l/sms", json=body, headers=h)
            assert r.status_code == 413
            # a body sent in chunks without a length, crossing the limit on the way
            async def chunks():
                for _ in range(4):
                    yield b"x" * 400
            r = await http.put("/~d/l/sms", content=chunks(), headers=h)
            assert r.status_code == 413
            r = await http.get("/~d/l/files/" + "a" * 2050, headers=h)
            assert r.status_code == 414
            r = await http.get("/~d/l/files/" + "a/" * 70, headers=h)
            assert r.status_code == 414  # more than 64 segments
            # a head that never ends: 408 after head_timeout
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            writer.write(b"PUT /~d/l/sms HTTP/1.1\r\nHost: x\r\n")
            await writer.drain()
            got = await asyncio.wait_for(reader.read(), 5)
            assert got.startswith(b"HTTP/1.1 408")
            writer.close()
            # headers past max_head: 431
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            writer.write(b"GET /~d/l/ HTTP/1.1\r\nHost: x\r\nX-Big: " + b"y" * 20000 + b"\r\n\r\n")
            await writer.drain()
            got = await asyncio.wait_for(reader.read(), 5)
            assert got.startswith(b"HTTP/1.1 431")
            writer.close()
            # the rate: the bucket empties, then 429 with Retry-After
            statuses = [(await http.get("/~d/l/", headers=h)).status_code for _ in range(12)]
            assert 429 in statuses
            r = await http.get("/~d/l/", headers=h)
            assert r.status_code == 429 and r.headers["retry-after"] == "1"
            await asyncio.sleep(1.0)
            assert (await http.get("/~d/l/", headers=h)).status_code == 200
            # the WebSocket on the same port still works
            c = await kit.client(srv, "ann@shop")
            await c.open("l")

    run(scenario)


def test_get_leaves_nothing_in_the_log_and_replay_runs_the_puts_again(tmp_path):
    store = open_store(tmp_path / "db")
    m = module(WEBHOOK)
    try:
        doc, _ = DurableDocument.create(store, "shop", m, "ann@shop", None, T0, viewers=Viewers)
        now = T0
        answers = []
        for i, (kind, cents) in enumerate([("paid", 700), ("refunded", 900), ("refunded", 200), ("paid", 5)]):
            now += 1000
            doc.living.web_reply = None
            doc.submit({"op": "web", "who": "stripe@hooks", "method": "put", "path": "/hook/stripe",
                        "message": {"id": f"e{i}", "kind": kind, "cents": cents}}, now).result()
            answers.append(doc.living.web_reply[0])
            seq, clock = store.last_seq("shop"), doc.living.clock
            got = doc.living.web_read("ann@shop", "get", "/summary")
            assert got[0] == 200 and got[2] == str(doc.living.engine.fields()["balance"]).encode()
            assert store.last_seq("shop") == seq and doc.living.clock == clock  # nothing logged, no time
        assert answers == [201, 409, 201, 201]
        assert doc.living.engine.fields()["balance"] == 505
        live = state_hash(doc.living.snapshot())
        doc.close()
        real = socket.socket.connect
        socket.socket.connect = None
        try:
            result = replay(store, "shop")
        finally:
            socket.socket.connect = real
        assert result.ok, result.divergence
        assert state_hash(result.living.snapshot()) == live
        assert result.living.engine.fields()["balance"] == 505
    finally:
        store.close()


_steps = st.lists(st.one_of(
    st.tuples(st.just("put"), st.integers(0, 5), st.sampled_from(["paid", "refunded", "odd"]), st.integers(-5, 900)),
    st.tuples(st.just("bad"), st.sampled_from(["/hook", "/hook/a/b", "/nothing", "/events"])),
    st.tuples(st.just("delete")),
    st.tuples(st.just("get"), st.sampled_from(["/summary", "/events/3", "/events/x", "/hook/s"])),
    st.tuples(st.just("restart")),
), max_size=25)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=_steps)
def test_replay_of_any_log_of_web_inputs_gives_the_live_state(tmp_path_factory, steps):
    store = open_store(tmp_path_factory.mktemp("web"))
    m = module(WEBHOOK)
    try:
        doc, _ = DurableDocument.create(store, "shop", m, "ann@shop", None, T0, viewers=Viewers)
        now = T0
        for step in steps:
            now += 1000
            if step[0] == "put":
                doc.submit({"op": "web", "who": "h@hooks", "method": "put", "path": "/hook/s",
                            "message": {"id": f"e{step[1]}", "kind": step[2], "cents": step[3]}}, now).result()
            elif step[0] == "bad":
                doc.submit({"op": "web", "who": "h@hooks", "method": "put", "path": step[1],
                            "message": {"id": 1}}, now).result()
            elif step[0] == "delete":
                doc.submit({"op": "web", "who": "h@hooks", "method": "delete", "path": "/events"}, now).result()
            elif step[0] == "get":
                seq = store.last_seq("shop")
                status = doc.living.web_read("ann@shop", "get", step[1])[0]
                assert status in (200, 404, 405) and store.last_seq("shop") == seq
            else:
                doc.close()
                doc = DurableDocument.open(store, "shop", viewers=Viewers)
        live = state_hash(doc.living.snapshot())
        doc.close()
        real = socket.socket.connect
        socket.socket.connect = None  # replay opens no connection
        try:
            result = replay(store, "shop")
        finally:
            socket.socket.connect = real
        assert result.ok, result.divergence
        assert state_hash(result.living.snapshot()) == live
    finally:
        store.close()


def test_a_client_that_half_closes_still_gets_its_answer_and_a_flood_is_held():
    async def scenario(kit):
        async with served(kit, ROUTES, limits=WebLimits(max_body=4 * 1024 * 1024)) as (srv, http):
            await created(kit, srv, "h")
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            writer.write(b"GET /~d/h/item/5 HTTP/1.1\r\nHost: x\r\n\r\n")
            writer.write_eof()
            got = await asyncio.wait_for(reader.read(), 5)
            assert got.startswith(b"HTTP/1.1 200") and got.endswith(b"int 5")
            writer.close()
            # a body much larger than the hold (256 KiB): read in turns, the socket paused between them
            reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
            body = b'{"From": "' + b"x" * 3_000_000 + b'", "Body": ""}'
            writer.write(b"PUT /~d/h/sms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            got = await asyncio.wait_for(reader.read(), 10)
            assert got.startswith(b"HTTP/1.1 200") and got.endswith(b'<r>' + b"x" * 3_000_000 + b':</r>')
            writer.close()

    run(scenario)


# ------------------------------------------------------------ @parameters and @headers

REQUEST = """
@static { create { return true; } }
@connected { return true; }
public string last;
public int total;
message Tip { int cents; }
@web get /q {
  return {json: @parameters};
}
@web get /h/$name {
  if (@headers[name] as v) {
    return {html: v};
  }
  return {error: "no header " + name, status: 404};
}
@web get /count {
  return {html: "" + @headers.size() + " " + @headers.has("authorization") + " " + @headers.has("cookie")};
}
@web put /tip (Tip t) {
  if (Dynamic.str(@parameters, "from") as who) {
    last = who;
  }
  if (@headers["x-signature"] as sig) {
    if (sig != "ok") {
      abort;
    }
  }
  total += t.cents;
  return {json: @parameters, status: 201};
}
"""


def test_parameters_and_headers_reach_the_handler_and_a_put_logs_them_for_replay(tmp_path):
    """@parameters is the query string as a dynamic object of texts, @headers
    the request's headers (names lowercased) as a map<string, string> without
    Authorization and Cookie; a put's are part of its logged input, so replay
    reproduces what the handler decided from them."""
    store = open_store(tmp_path / "db")

    async def scenario(kit):
        async with served(kit, REQUEST, store=store) as (srv, http):
            await created(kit, srv, "p")
            h = {**bearer(kit, "ann@shop"), "Cookie": "session=secret", "X-Shop": "tea"}
            r = await http.get("/~d/p/q?a=1&b=two%20words&empty=&a=3", headers=h)
            assert r.json() == {"a": "3", "b": "two words", "empty": ""}  # a repeated name: its last value
            assert (await http.get("/~d/p/q", headers=h)).json() == {}
            assert (await http.get("/~d/p/h/x-shop", headers=h)).text == "tea"
            assert (await http.get("/~d/p/h/X-Shop", headers=h)).status_code == 404  # names are lowercased
            assert (await http.get("/~d/p/h/authorization", headers=h)).status_code == 404
            assert (await http.get("/~d/p/h/cookie", headers=h)).status_code == 404
            assert (await http.get("/~d/p/count", headers=h)).text.endswith(" false false")
            r = await http.put("/~d/p/tip?from=bob&n=2", json={"cents": 5},
                               headers={**h, "X-Signature": "ok"})
            assert r.status_code == 201 and r.json() == {"from": "bob", "n": "2"}
            r = await http.put("/~d/p/tip?from=eve", json={"cents": 9}, headers={**h, "X-Signature": "forged"})
            assert r.status_code == 409  # the handler read the header and aborted
            r = await http.put("/~d/p/tip", json={"cents": 1}, headers=h)
            assert r.status_code == 201 and r.json() == {}
            c = await kit.client(srv, "ann@shop")
            view = (await c.open("p")).view
            assert view["last"] == "bob" and view["total"] == 6

    run(scenario)
    entries = [e for e in store.log("p") if e.kind == "web"]
    assert [e.extra.get("parameters") for e in entries] == [{"from": "bob", "n": "2"}, {"from": "eve"}, None]
    assert entries[0].extra["headers"]["x-signature"] == "ok"
    assert all("authorization" not in e.extra["headers"] and "cookie" not in e.extra["headers"] for e in entries)
    real = socket.socket.connect
    socket.socket.connect = None
    try:
        result = replay(store, "p")
    finally:
        socket.socket.connect = real
    assert result.ok, result.divergence
    fields = result.living.engine.fields()
    assert fields["last"] == "bob" and fields["total"] == 6
    store.close()


def test_parameters_and_headers_limits_crossed():
    """The query string: at most 4,096 characters (414) and 64 parameters
    (400); the headers a handler sees: at most 64 (431) and 8,192 characters
    a value (431). The checker refuses @parameters and @headers outside @web."""
    from advm.runtime.web import MAX_HEADER_CHARS, MAX_HEADERS, MAX_PARAMETERS, MAX_QUERY

    async def scenario(kit):
        async with served(kit, REQUEST) as (srv, http):
            await created(kit, srv, "l")
            h = bearer(kit, "ann@shop")
            fits = "&".join(f"k{i}=v" for i in range(MAX_PARAMETERS))
            assert len((await http.get("/~d/l/q?" + fits, headers=h)).json()) == MAX_PARAMETERS
            r = await http.get("/~d/l/q?" + fits + "&one=more", headers=h)
            assert r.status_code == 400 and "64 parameters" in r.text
            assert (await http.get("/~d/l/q?a=" + "x" * (MAX_QUERY - 2), headers=h)).status_code == 200
            r = await http.get("/~d/l/q?a=" + "x" * (MAX_QUERY - 1), headers=h)
            assert r.status_code == 414
            r = await http.get("/~d/l/q?a=%ff", headers=h)
            assert r.status_code == 400  # not UTF-8
            many = {f"x-h{i}": "v" for i in range(MAX_HEADERS)}  # with the client's own: past the limit
            r = await http.get("/~d/l/count", headers={**h, **many})
            assert r.status_code == 431 and "64 headers" in r.text
            fewer = {f"x-h{i}": "v" for i in range(MAX_HEADERS - 10)}
            assert (await http.get("/~d/l/count", headers={**h, **fewer})).status_code == 200
            r = await http.get("/~d/l/h/x-long", headers={**h, "X-Long": "y" * (MAX_HEADER_CHARS + 1)})
            assert r.status_code == 431
            assert (await http.get("/~d/l/h/x-long", headers={**h, "X-Long": "y" * MAX_HEADER_CHARS})).text \
                == "y" * MAX_HEADER_CHARS

    run(scenario)
    from advm.runtime.web import WebError, request_values
    for parameters, headers in (({f"k{i}": "" for i in range(MAX_PARAMETERS + 1)}, None), ({"a": 1}, None),
                                (None, {f"h{i}": "" for i in range(MAX_HEADERS + 1)}), (None, ["x"])):
        try:  # a logged web input is checked again by the runtime
            request_values(parameters, headers)
            raise AssertionError("not refused")
        except WebError as e:
            assert e.status == 400
    from advm.compiler import compile_source
    assert not [d for d in compile_source(REQUEST, "r.adb").diagnostics if d.severity == "error"]
    bad = REQUEST + ("message M { int n; }\nchannel c(M m) { total = @headers.size(); }\n"
                     "public formula f = Dynamic.str(@parameters, \"a\");\n")
    errors = [d for d in compile_source(bad, "r.adb").diagnostics if d.severity == "error"]
    assert [d.code for d in errors] == ["E0213", "E0213"]
    assert "@headers is not available in channel 'c'" in errors[0].message
