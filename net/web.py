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

from ..runtime.web import MAX_PATH
from .router import RouterError
from .tokens import TokenError, anonymous_principal

log = logging.getLogger("advm.web")

PREFIX = "/~d/"  # /~d/<key>/<path>: document <key>'s @web handler for /<path>
MIB = 1 << 20

METHODS = {"GET": "get", "PUT": "put", "POST": "put", "DELETE": "delete", "OPTIONS": "options"}

# What a router failure means to an HTTP client.
STATUS_OF = {
    "not_found": 404, "destroyed": 404, "not_created": 404, "bad_key": 400, "input": 400,
    "queue_full": 503, "shutting_down": 503, "worker_failed": 503, "throttled": 429,
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

    # ---- from the protocol (net/server.py Connection)

    def feed(self, data: bytes) -> None:
        if not self.closed:
            self.conn.receive_data(data)
            self.arrived.set()

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
        if not path.startswith(PREFIX):
            raise _Answer(404, f"not found (documents' handlers are under {PREFIX}<key>/)")
        key, slash, rest = path[len(PREFIX):].partition("/")
        key = unquote(key)
        sub = "/" + rest
        if len(sub) > MAX_PATH:
            raise _Answer(414, f"the path under the document is longer than {MAX_PATH} characters")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.headers}
        who = self._principal(headers)
        message = await self._body(headers, method)
        fut = self.server.router.web(key, who, method, sub, message)
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
        return status, list(out_headers), body

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

    async def _send(self, status: int, headers: list, body: bytes) -> None:
        if self.closed:
            return
        headers = [*headers, ("Content-Length", str(len(body))), ("Connection", "close")]
        try:
            reason = b""
            out = self.conn.send(h11.Response(status_code=status, headers=headers, reason=reason))
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


__all__ = ["METHODS", "PREFIX", "RateLimiter", "WebExchange", "WebLimits", "text_answer"]
