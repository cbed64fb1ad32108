"""HTTP requests to documents' @web handlers (spec/protocol.md 8.15).

The server's port speaks both the WebSocket protocol and this: net/server.py
`Connection` reads a connection's first request line and, for a request to
`/~d/<key>/<path>` or any method but GET, hands the connection to a
`WebExchange` instead of the WebSocket library. One request per connection
(the answer says `Connection: close`), parsed with h11:

- the head (request line and headers) within `head_timeout` seconds and
  `max_head` bytes (431 past it), the path within runtime/web.py MAX_PATH
  characters (414);
- at most `rate` requests a second per client address, `burst` at once (429);
- the body, streamed, at most `max_body` bytes (413 as soon as it is past,
  or at once when Content-Length says so), within `body_timeout` seconds;
- authentication as the WebSocket's: `Authorization: Bearer <token>` (a
  token of the server's key), or none for an anonymous visitor where the
  server accepts anonymous clients (401 otherwise, and for a bad token);
- the method: GET, PUT, POST (taken as PUT), DELETE, OPTIONS (405 else).

The document runs the handler (net/router.py `Router.web`): get and options
only read, put and delete are logged inputs. The answer is the handler's
status, headers and body (runtime/web.py `response`).
"""
from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

import h11

from ..runtime.web import ASSET_HEADER, MAX_PATH, WebError, parse_query, request_headers
from ..store.blobs import TooLarge, collect
from .router import RouterError
from .tokens import TokenError, anonymous_principal

log = logging.getLogger("advm.web")

PREFIX = "/~d/"  # /~d/<key>/<path>: document <key>'s @web handler for /<path>
ATTACH = "/~attach/"  # PUT or POST /~attach/<key>?name=<file name>: an upload (language.md 4.29)
MAX_NAME = 1024  # characters of an uploaded file's name
MAX_TYPE = 256   # characters of its content type
HOLD = 256 * 1024  # bytes received and not yet read before the socket stops being read
MIB = 1 << 20

METHODS = {"GET": "get", "PUT": "put", "POST": "put", "DELETE": "delete", "OPTIONS": "options"}

# What a router failure means to an HTTP client.
STATUS_OF = {
    "not_found": 404, "destroyed": 404, "not_created": 404, "bad_key": 400, "input": 400,
    "queue_full": 503, "shutting_down": 503, "worker_failed": 503, "throttled": 429,
    "attach_refused": 403, "abort": 409,
}


@dataclass
class WebLimits:
    max_head: int = 16 * 1024     # bytes of the request line and headers
    max_body: int = 1 * MIB       # bytes of a request's body
    rate: float = 50.0            # requests per second per client address, sustained
    burst: float = 100.0          # ... and at once
    head_timeout: float = 10.0    # seconds to send the head
    body_timeout: float = 30.0    # seconds to send the body
    answer_timeout: float = 30.0  # seconds the document may take to answer
    max_asset: int = 16 * MIB     # bytes of one uploaded file
    asset_timeout: float = 300.0  # seconds to send one


class RateLimiter:
    """A token bucket per client address (at most `keep` addresses tracked:
    the oldest is forgotten first)."""

    def __init__(self, rate: float, burst: float, keep: int = 10_000):
        self.rate, self.burst, self.keep = rate, burst, keep
        self.buckets: dict[str, tuple[float, float]] = {}

    def allow(self, ip: str) -> bool:
        now = time.monotonic()
        tokens, stamp = self.buckets.pop(ip, (self.burst, now))
        tokens = min(self.burst, tokens + (now - stamp) * self.rate)
        ok = tokens >= 1.0
        self.buckets[ip] = (tokens - 1.0 if ok else tokens, now)
        while len(self.buckets) > self.keep:
            del self.buckets[next(iter(self.buckets))]
        return ok


class _Answer(Exception):
    def __init__(self, status: int, message: str, headers=()):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, list(headers)


def text_answer(status: int, message: str, headers=()) -> tuple:
    return (status, [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store"),
                     *headers], (message + "\n").encode("utf-8"))


class WebExchange:
    """One HTTP request on a connection of the server (see the module)."""

    def __init__(self, server, transport, ip: str):
        self.server = server
        self.limits: WebLimits = server.web_limits
        self.transport = transport
        self.ip = ip
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self.limits.max_head)
        self.arrived = asyncio.Event()
        self.closed = False
        self.paused = False

    # ---- from the protocol (net/server.py Connection)

    def feed(self, data: bytes) -> None:
        if not self.closed:
            self.conn.receive_data(data)
            self.arrived.set()
            # What came and was not read yet stays under HOLD: past it the socket is not
            # read until the exchange takes what it holds (a client cannot fill the
            # server's memory while, say, @can_attach is being asked).
            if not self.paused and len(self.conn.trailing_data[0]) > HOLD:
                self.paused = True
                self.transport.pause_reading()

    def eof(self) -> None:
        if not self.closed:
            self.conn.receive_data(b"")
            self.arrived.set()

    def lost(self) -> None:
        self.closed = True
        self.arrived.set()

    # ---- the exchange

    async def _event(self, deadline: float):
        while True:
            try:
                event = self.conn.next_event()
            except h11.RemoteProtocolError as e:
                status = e.error_status_hint
                raise _Answer(431 if status == 431 else status or 400, "the request is not valid HTTP/1.1")
            if event is not h11.NEED_DATA:
                return event
            if self.closed:
                raise ConnectionError("the client went away")
            if self.paused:
                self.paused = False
                self.transport.resume_reading()
            self.arrived.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise _Answer(408, "the request took too long to arrive")
            try:
                await asyncio.wait_for(self.arrived.wait(), left)
            except asyncio.TimeoutError:
                raise _Answer(408, "the request took too long to arrive") from None

    async def run(self) -> None:
        try:
            answer = await self._serve()
        except _Answer as a:
            answer = text_answer(a.status, a.message, a.headers)
        except ConnectionError:
            return
        except Exception as e:  # a bug must not take the server down
            log.error("web request failed: %r", e)
            answer = text_answer(500, "the request failed")
        await self._send(*answer)

    async def _serve(self) -> tuple:
        lim = self.limits
        request = await self._event(time.monotonic() + lim.head_timeout)
        if not isinstance(request, h11.Request):
            raise _Answer(400, "the request is not valid HTTP/1.1")
        self.request = request
        if len(request.target) + sum(len(k) + len(v) + 4 for k, v in request.headers) > lim.max_head:
            raise _Answer(431, f"the request's head is larger than {lim.max_head} bytes")
        target = request.target.decode("ascii", "replace")
        path = target.split("?", 1)[0]
        if len(path) > MAX_PATH + len(PREFIX) + 512:
            raise _Answer(414, "the path is too long")
        if not self.server.web_rate.allow(self.ip):
            raise _Answer(429, "too many requests from this address; slow down", [("Retry-After", "1")])
        method = METHODS.get(request.method.decode("ascii", "replace"))
        if method is None:
            raise _Answer(405, "the methods are GET, PUT, POST, DELETE and OPTIONS",
                          [("Allow", "GET, PUT, POST, DELETE, OPTIONS")])
        if path.startswith(ATTACH) and method == "put":
            return await self._upload(path, target, request)
        if not path.startswith(PREFIX):
            raise _Answer(404, f"not found (documents' handlers are under {PREFIX}<key>/)")
        key, slash, rest = path[len(PREFIX):].partition("/")
        key = unquote(key)
        sub = "/" + rest
        if len(sub) > MAX_PATH:
            raise _Answer(414, f"the path under the document is longer than {MAX_PATH} characters")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.headers}
        try:  # @parameters and @headers (runtime/web.py: their limits)
            parameters = parse_query(target.split("?", 1)[1]) if "?" in target else {}
            seen = request_headers((k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers)
        except WebError as e:
            raise _Answer(e.status, e.message) from None
        who = self._principal(headers)
        message = await self._body(headers, method)
        fut = self._router().web(key, who, method, sub, message, parameters, seen)
        try:
            got = await asyncio.wait_for(asyncio.shield(fut) if isinstance(fut, asyncio.Future) else fut,
                                         lim.answer_timeout)
        except asyncio.TimeoutError:
            raise _Answer(504, "the document did not answer in time") from None
        except RouterError as e:
            raise _Answer(STATUS_OF.get(e.code, 500), e.message) from None
        if got is None:
            raise _Answer(503, "the request did not run")
        status, out_headers, body = got
        out_headers = list(out_headers)
        blob = next((v for k, v in out_headers if k == ASSET_HEADER), None)
        if blob is not None:  # an asset: its bytes, from the blob store
            out_headers = [(k, v) for k, v in out_headers if k != ASSET_HEADER]
            blobs = self.server.blobs
            size = blobs.size(blob) if blobs is not None else None
            if size is None:
                raise _Answer(404, "the asset's bytes are not in this server's blob store")
            return status, out_headers, (size, blobs.read(blob))
        return status, out_headers, body

    async def _upload(self, path: str, target: str, request) -> tuple:
        """PUT /~attach/<key>?name=<file name>: @can_attach is asked, the body
        streamed into the blob store (at most max_asset bytes), then the
        document's attach input runs @attached (a). 201 with the asset's facts."""
        lim = self.limits
        blobs = self.server.blobs
        if blobs is None:
            raise _Answer(404, "this server keeps no uploaded files")
        key = unquote(path[len(ATTACH):].strip("/"))
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.headers}
        who = self._principal(headers)
        query = dict(parse_qsl(target.split("?", 1)[1])) if "?" in target else {}
        name = query.get("name") or headers.get("x-file-name") or "file"
        kind = headers.get("content-type") or "application/octet-stream"
        if len(name) > MAX_NAME or len(kind) > MAX_TYPE:
            raise _Answer(400, f"a file's name is at most {MAX_NAME} characters, its type {MAX_TYPE}")
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > lim.max_asset:
            raise _Answer(413, f"the file is larger than {lim.max_asset} bytes")
        allowed = await self._ask(self._router().web(key, who, "can_attach", "/", None))
        if not (isinstance(allowed, tuple) and allowed[0] == 200):
            raise _Answer(403, "@can_attach does not let you attach files to this document")
        writer = blobs.writer(lim.max_asset)
        deadline = time.monotonic() + lim.asset_timeout
        try:
            while True:
                event = await self._event(deadline)
                if isinstance(event, h11.EndOfMessage):
                    break
                if isinstance(event, h11.Data):
                    writer.write(event.data)
                elif isinstance(event, h11.ConnectionClosed):
                    raise ConnectionError("the client went away")
            facts = writer.finish()
        except TooLarge:
            raise _Answer(413, f"the file is larger than {lim.max_asset} bytes") from None
        except BaseException:
            writer.abort()
            raise
        asset = {**facts, "name": name, "type": kind}
        await self._ask(self._router().web(key, who, "attach", "/", asset))
        body = json.dumps(asset).encode("utf-8")
        return 201, [("Content-Type", "application/json"), ("Cache-Control", "no-store")], body

    def _router(self):
        """The default space's router: @web requests reach that space only
        (spec/protocol.md 8.17); a server without one answers 404."""
        router = self.server.router
        if router is None:
            raise _Answer(404, "this server has no default space, and @web requests reach the "
                               "default space only")
        return router

    async def _ask(self, fut):
        try:
            return await asyncio.wait_for(asyncio.shield(fut), self.limits.answer_timeout)
        except asyncio.TimeoutError:
            raise _Answer(504, "the document did not answer in time") from None
        except RouterError as e:
            raise _Answer(STATUS_OF.get(e.code, 500), e.message) from None

    def _principal(self, headers: dict) -> str:
        auth = headers.get("authorization")
        if auth is None:
            if not self.server.allow_anonymous:
                raise _Answer(401, "this server does not accept anonymous clients: send Authorization: Bearer <token>",
                              [("WWW-Authenticate", "Bearer")])
            return anonymous_principal()
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _Answer(401, "Authorization is `Bearer <token>`", [("WWW-Authenticate", "Bearer")])
        try:
            return self.server.tokens.verify(token.strip())
        except TokenError as e:
            raise _Answer(401, e.message, [("WWW-Authenticate", "Bearer")]) from None

    async def _body(self, headers: dict, method: str):
        """The body as JSON (an object, for put's message) or a form; None
        without one. Past max_body bytes: 413, before reading further."""
        lim = self.limits
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > lim.max_body:
            raise _Answer(413, f"the body is larger than {lim.max_body} bytes")
        chunks, size = [], 0
        deadline = time.monotonic() + lim.body_timeout
        while True:
            event = await self._event(deadline)
            if isinstance(event, h11.EndOfMessage):
                break
            if isinstance(event, h11.Data):
                size += len(event.data)
                if size > lim.max_body:
                    raise _Answer(413, f"the body is larger than {lim.max_body} bytes")
                chunks.append(event.data)
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("the client went away")
        data = b"".join(chunks)
        if not data or method != "put":
            return None
        kind = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise _Answer(400, "the body is not UTF-8") from None
        if kind == "application/x-www-form-urlencoded":
            return dict(parse_qsl(text, keep_blank_values=True))
        try:
            value = json.loads(text)
        except ValueError:
            raise _Answer(400, "the body is neither JSON nor a form (application/x-www-form-urlencoded)") from None
        if not isinstance(value, dict):
            raise _Answer(400, "the body is a JSON object")
        return value

    async def _send(self, status: int, headers: list, body) -> None:
        """`body` is bytes, or (size, chunks) of an asset, written as the client reads."""
        if self.closed:
            return
        size, chunks = (len(body), None) if isinstance(body, bytes) else body
        headers = [*headers, ("Content-Length", str(size)), ("Connection", "close")]
        try:
            out = self.conn.send(h11.Response(status_code=status, headers=headers, reason=b""))
            if chunks is not None:
                self.transport.write(out)
                for chunk in chunks:
                    if self.closed:
                        return
                    self.transport.write(self.conn.send(h11.Data(data=chunk)))
                    while self.transport.get_write_buffer_size() > 256 * 1024 and not self.closed:
                        await asyncio.sleep(0.002)  # the client reads slower than the disk
                out = b""
            else:
                out += self.conn.send(h11.Data(data=body)) if body else b""
            out += self.conn.send(h11.EndOfMessage())
        except h11.LocalProtocolError:  # the request was too broken to answer in kind
            out = (f"HTTP/1.1 {status} \r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                   .encode("latin-1") + body)
        self.transport.write(out)
        # Written out before the connection closes (net/server.py aborts it after).
        deadline = time.monotonic() + 10.0
        while self.transport.get_write_buffer_size() and not self.closed and time.monotonic() < deadline:
            await asyncio.sleep(0.005)


GC_INTERVAL = 90.0  # seconds between two collections of unreferenced assets (seed 004: every 60-120 s)


async def collect_assets(router, blobs, *, grace: float | None = None) -> list[str]:
    """The asset collector (language.md 4.29): every document the router
    knows (loaded, sleeping, or in its store) names the assets its state holds;
    blobs nobody names, older than `grace`, are deleted. If any document cannot
    answer, nothing is deleted this time. Returns the ids deleted."""
    keys = set(router.slots)
    shelf = router._doc_store()
    if shelf is not None:  # the durable store's documents, or the in-memory shelf's
        keys.update(shelf.documents() if hasattr(shelf, "documents") else shelf.keys())
    keep: set[str] = set()
    for key in sorted(keys):
        try:
            got = await router.web(key, None, "assets", "/", None)
        except RouterError as e:
            if e.code in ("not_found", "destroyed", "not_created"):
                continue
            log.warning("asset collection skipped: document %r did not answer (%s)", key, e.code)
            return []
        keep.update(got[2])
    kw = {} if grace is None else {"grace": grace}
    return await asyncio.get_running_loop().run_in_executor(None, lambda: collect(blobs, keep, **kw))


__all__ = ["ATTACH", "GC_INTERVAL", "collect_assets", "METHODS", "PREFIX", "RateLimiter", "WebExchange", "WebLimits", "text_answer"]
