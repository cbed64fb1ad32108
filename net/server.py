"""The WebSocket server: JSON text frames in, streamed responses out
(spec/protocol.md section 8 is the contract).

    server = Server(host, tokens, host="127.0.0.1", port=8080)
    await server.start(); print(server.url)
    ...
    await server.close()      # stops listening, then host.close(), then sockets

One `Session` per socket reads requests and answers each as the host
resolves it; a `Stream` per `connection/create` receives the document's
deltas. Nothing the server does for one client waits on another client or on
a document: replies are queued on the socket's outbox and a writer task
drains it, so a slow reader only grows its own outbox. Past a bound its
pending deltas are dropped and replaced by one full view once it catches up
(spec section 8.6), and past a harder bound the socket is closed.

HTTP requests that are not WebSocket upgrades go to `pages(path)`, the hook
for the browser dev page (`static_pages(directory)` serves a folder).
"""
from __future__ import annotations

import asyncio
import http
import json
import mimetypes
import time
from dataclasses import dataclass
from pathlib import Path

from websockets.asyncio.server import serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Response
from websockets.protocol import OPEN

from .host import HostError
from .reflect import reflect
from .tokens import ANONYMOUS, TokenError, anonymous_principal

ENDPOINT = "/~s"  # Adama's WebSocket path; any path upgrades, this is the advertised one


@dataclass
class Limits:
    max_frame: int = 64 * 1024          # bytes of one request; larger ones are refused
    hard_frame: int = 1024 * 1024       # larger than this and the socket is closed (1009)
    rate: float = 200.0                 # requests per second per socket, sustained
    burst: float = 400.0                # ... and in a burst
    max_streams: int = 64               # open connection/create streams per socket
    max_pending: int = 512              # frames waiting on a socket before its deltas are dropped
    max_pending_hard: int = 4096        # ... before the socket is closed as too slow
    ping_interval: float | None = 20.0


def text_frame(text: str) -> bytes:
    """One unmasked, unfragmented WebSocket text frame (RFC 6455 section 5.2).

    Written here rather than through the library's per-frame objects: a
    server frame is a 2-10 byte header and the payload, and building it
    directly costs a small fraction of the library's path, which is most of a
    frame's cost when one change goes to a thousand viewers. The server
    negotiates no extensions (compression=None), so no RSV bit is ever set.
    """
    data = text.encode("utf-8")
    n = len(data)
    if n < 126:
        return bytes((0x81, n)) + data
    if n < 65536:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + data
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + data


_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _json(value) -> str:
    return _encode(value)


def failure(rid, reason: str, message: str) -> str:
    return _json({"failure": rid, "reason": reason, "message": message})


def deliver(rid, response, done: bool) -> str:
    return _json({"deliver": rid, "done": done, "response": response})


class Stream:
    """One connection/create: the host's viewer for one client stream."""

    __slots__ = ("session", "id", "key", "who", "stale", "resyncing", "open", "pending",
                 "head", "_host_state", "__weakref__")

    def __init__(self, session: "Session", sid, key: str, who: str):
        self.session = session
        self.id = sid
        self.key = key
        self.who = who
        self.stale = False   # its deltas were dropped; a full view is on the way
        self.resyncing = False
        self.open = True
        self.pending = 0     # its delta frames in the outbox
        self.head = '{"deliver":' + _json(sid) + ',"done":false,"response":{"delta":{'

    def deltas(self, items, outstanding) -> None:
        if self.stale or not self.open:
            return
        head = self.head
        last = len(items) - 1
        for i, (patch, seq) in enumerate(items):
            body = '"data":' + patch + ',"seq":' + str(seq)
            if i == last and outstanding is not None:
                body += ',"outstanding":' + _json(outstanding)
            self.session.push(head + body + "}}}", self)
        if not items and outstanding is not None:
            self.session.push(head + '"outstanding":' + _json(outstanding) + "}}}", self)

    def reset(self, data, seq, outstanding) -> None:
        if not self.open:
            return
        self.stale = self.resyncing = False
        self.session.push(deliver(self.id, {"delta": {"data": data, "seq": seq, "reset": True,
                                                      "outstanding": outstanding}}, False), self)

    def notify(self, error) -> None:
        if self.open:
            self.session.push(deliver(self.id, {"error": error}, False))

    def ended(self, code: str, message: str) -> None:
        if self.open:
            self.open = False
            self.session.streams.pop(self.id, None)
            self.session.push(failure(self.id, code, message))


class Session:
    """One WebSocket: requests in, responses and stream frames out."""

    def __init__(self, server: "Server", ws):
        self.server = server
        self.host = server.host
        self.ws = ws
        self.limits = server.limits
        self.streams: dict = {}
        self.outbox: list = []    # (text, stream); frames without a stream are never dropped
        self.sent = 0
        self._dirty = False
        self._stale = False       # some stream lost deltas and waits for a full view
        self._drainer: asyncio.Future | None = None
        self._anonymous: str | None = None
        self._allowance = self.limits.burst
        self._stamp = time.monotonic()
        self.closed = False
        try:
            peer = ws.remote_address
            self.ip = peer[0] if peer else ""
        except (AttributeError, TypeError, IndexError):
            self.ip = ""
        try:
            self.origin = ws.request.headers.get("Origin", "") or ""
        except AttributeError:
            self.origin = ""

    # ------------------------------------------------------------ socket loop

    async def run(self) -> None:
        # Adama's clients wait for this before their first request.
        self.push(_json({"status": "connected", "server": "advm", "assets": False}))
        try:
            async for message in self.ws:
                self.receive(message)
        except ConnectionClosed:
            pass
        finally:
            self.closed = True
            for stream in list(self.streams.values()):
                stream.open = False
                self.host.disconnect(stream)
            self.streams.clear()
            self.outbox.clear()
            if self._drainer is not None:
                self._drainer.cancel()

    def push(self, text: str, stream: Stream | None = None) -> None:
        if self.closed:
            return
        self.outbox.append((text, stream))
        if stream is not None:
            stream.pending += 1
        if not self._dirty:
            self._dirty = True
            self.server.dirty(self)
        if len(self.outbox) > self.limits.max_pending:
            self._overflow()

    def flush(self) -> None:
        """Write everything queued as one write to the socket, unless the
        socket is backed up: then wait for it to drain (the drainer task)."""
        self._dirty = False
        ws = self.ws
        if self.closed:
            return
        if ws.protocol.state is not OPEN:
            self.outbox.clear()
            return
        if ws.paused:
            if self._drainer is None:
                self._drainer = asyncio.ensure_future(self._drain())
            return
        if self.outbox:
            out, self.outbox = self.outbox, []
            for _, stream in out:
                if stream is not None:
                    stream.pending -= 1
            ws.transport.write(b"".join([text_frame(text) for text, _ in out]))
            self.sent += len(out)
        if self._stale:
            self._resync()

    async def _drain(self) -> None:
        try:
            while self.ws.paused and not self.closed:
                await self.ws.drain()
        finally:
            self._drainer = None
        self.flush()

    def _resync(self) -> None:
        still = False
        for stream in list(self.streams.values()):
            if stream.stale and stream.pending == 0 and not stream.resyncing:
                stream.resyncing = True
                self.host.resync(stream)
            still = still or stream.stale
        self._stale = still

    def _overflow(self) -> None:
        """The client reads slower than its documents change: drop its queued
        deltas; each stream that lost some gets its whole view once the
        socket drains. Only if even that is not enough is it let go."""
        kept = []
        for item in self.outbox:
            stream = item[1]
            if stream is None:
                kept.append(item)
            else:
                stream.pending -= 1
                if not stream.stale:
                    stream.stale = True
                    self._stale = True
                    self.server.dropped += 1
        self.outbox = kept
        if len(kept) > self.limits.max_pending_hard:
            self.closed = True
            self.outbox.clear()
            asyncio.ensure_future(self.ws.close(1008, "too slow: too many frames waiting"))

    # ------------------------------------------------------------ requests

    def _rate_ok(self) -> bool:
        now = time.monotonic()
        lim = self.limits
        self._allowance = min(lim.burst, self._allowance + (now - self._stamp) * lim.rate)
        self._stamp = now
        if self._allowance < 1.0:
            return False
        self._allowance -= 1.0
        return True

    def receive(self, message) -> None:
        if isinstance(message, bytes):
            self.push(failure(None, "bad_frame", "frames are JSON text, not binary"))
            return
        limit = self.limits.max_frame
        if len(message) > limit or len(message) * 4 > limit and len(message.encode()) > limit:
            self.push(failure(None, "frame_too_large",
                              f"a request is at most {self.limits.max_frame} bytes"))
            return
        try:
            req = json.loads(message)
        except ValueError as e:
            self.push(failure(None, "bad_json", f"not JSON: {e}"))
            return
        if not isinstance(req, dict):
            self.push(failure(None, "bad_request", "a request is a JSON object"))
            return
        rid = req.get("id")
        if type(rid) is not int:
            self.push(failure(None, "bad_request", "a request needs an integer \"id\""))
            return
        if not self._rate_ok():
            self.push(failure(rid, "rate_limited", "too many requests; slow down"))
            return
        handler = METHODS.get(req.get("method"))
        if handler is None:
            self.push(failure(rid, "unknown_method", f"no method {req.get('method')!r}; "
                              f"methods: {', '.join(sorted(METHODS))}"))
            return
        try:
            handler(self, rid, req)
        except _Refused as e:
            self.push(failure(rid, e.code, e.message))

    def principal(self, req: dict) -> str:
        identity = req.get("identity")
        if identity == ANONYMOUS:
            if not self.server.allow_anonymous:
                raise _Refused("anonymous_refused", "this server does not accept anonymous clients")
            if self._anonymous is None:
                self._anonymous = anonymous_principal()
            return self._anonymous
        if identity is None:
            raise _Refused("bad_token", "\"identity\" is required: a token, or \"anonymous\"")
        try:
            return self.server.tokens.verify(identity)
        except TokenError as e:
            raise _Refused(e.code, e.message) from None

    def context(self) -> dict:
        return {"origin": self.origin, "ip": self.ip}

    def answer(self, rid, fut: asyncio.Future, shape=None) -> None:
        def done(f):
            if f.cancelled():
                return
            exc = f.exception()
            if exc is None:
                self.push(deliver(rid, shape(f.result()) if shape else f.result(), True))
            elif isinstance(exc, HostError):
                self.push(failure(rid, exc.code, exc.message))
            else:
                self.push(failure(rid, "internal", f"{type(exc).__name__}: {exc}"))

        fut.add_done_callback(done)


class _Refused(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _need(req: dict, name: str, kind, what: str):
    value = req.get(name)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise _Refused("bad_request", f"\"{name}\" is required: {what}")
    return value


def _stream(session: Session, req: dict) -> Stream:
    sid = req.get("connection")
    stream = session.streams.get(sid)
    if stream is None:
        raise _Refused("unknown_connection", f"no open connection {sid!r} on this socket")
    return stream


# ---------------------------------------------------------------- methods


def _document_create(s: Session, rid, req) -> None:
    key = _need(req, "key", str, "the document's key")
    who = s.principal(req)
    s.answer(rid, s.host.create(key, who, req.get("arg"), s.context()))


def _document_delete(s: Session, rid, req) -> None:
    key = _need(req, "key", str, "the document's key")
    who = s.principal(req)
    s.answer(rid, s.host.delete(key, who))


def _connection_create(s: Session, rid, req) -> None:
    key = _need(req, "key", str, "the document's key")
    who = s.principal(req)
    if rid in s.streams:
        raise _Refused("bad_request", f"request id {rid} already names an open connection")
    if len(s.streams) >= s.limits.max_streams:
        raise _Refused("too_many_streams", f"at most {s.limits.max_streams} connections per socket")
    stream = Stream(s, rid, key, who)
    s.streams[rid] = stream
    fut = s.host.connect(key, who, stream, s.context())

    def done(f):
        exc = f.exception()
        if exc is not None and stream.open:
            stream.open = False
            if s.streams.get(rid) is stream:
                del s.streams[rid]
            code, text = (exc.code, exc.message) if isinstance(exc, HostError) else (
                "internal", repr(exc))
            s.push(failure(rid, code, text))

    fut.add_done_callback(done)


def _connection_send(s: Session, rid, req) -> None:
    stream = _stream(s, req)
    ask = req.get("ask")
    if ask is not None and type(ask) is not int:
        raise _Refused("bad_request", "\"ask\" is an ask's integer id")
    channel = req.get("channel")
    if ask is None:
        channel = _need(req, "channel", str, "the channel's name")
    if "message" not in req:
        raise _Refused("bad_request", "\"message\" is required")
    s.answer(rid, s.host.send(stream.key, stream.who, channel, req["message"], ask=ask))


def _connection_end(s: Session, rid, req) -> None:
    stream = _stream(s, req)
    stream.open = False
    s.streams.pop(stream.id, None)
    s.host.disconnect(stream)
    s.push(deliver(stream.id, {}, True))
    s.push(deliver(rid, {}, True))


def _space_reflect(s: Session, rid, req) -> None:
    s.principal(req)  # only someone who may make requests learns the program's API
    s.push(deliver(rid, {"reflection": reflect(s.host.module.meta)}, True))


METHODS = {
    "document/create": _document_create,
    "document/delete": _document_delete,
    "connection/create": _connection_create,
    "connection/send": _connection_send,
    "connection/end": _connection_end,
    "space/reflect": _space_reflect,
}


# ---------------------------------------------------------------- HTTP pages


def static_pages(root):
    """A `pages` hook serving the files under `root` (`/` is index.html)."""
    root = Path(root).resolve()

    def pages(path: str):
        rel = path.split("?", 1)[0].lstrip("/") or "index.html"
        target = (root / rel).resolve()
        if root not in target.parents and target != root or not target.is_file():
            return None
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        return 200, kind, target.read_bytes()

    return pages


STATIC = Path(__file__).resolve().parent / "static"  # the browser dev page (package data)


def _default_page(path: str):
    if (STATIC / "index.html").is_file():
        return static_pages(STATIC)(path)
    if path.split("?", 1)[0] != "/":
        return None
    text = (f"advm server. Connect a WebSocket to {ENDPOINT} and speak the protocol in "
            "spec/protocol.md section 8.\n")
    return 200, "text/plain; charset=utf-8", text.encode("utf-8")


def _response(status: int, kind: str, body: bytes) -> Response:
    headers = Headers([("Content-Type", kind), ("Content-Length", str(len(body))),
                       ("Cache-Control", "no-store")])
    return Response(status, http.HTTPStatus(status).phrase, headers, body)


# ---------------------------------------------------------------- the server


class Server:
    def __init__(self, host, tokens, *, bind: str = "127.0.0.1", port: int = 8080,
                 limits: Limits | None = None, pages=None, allow_anonymous: bool = True):
        self.host = host
        self.tokens = tokens
        self.bind = bind
        self.port = port
        self.limits = limits or Limits()
        self.pages = pages or _default_page
        self.allow_anonymous = allow_anonymous
        self.sessions: set[Session] = set()
        self.dropped = 0
        self._server = None
        self._dirty: list[Session] = []

    def dirty(self, session: Session) -> None:
        """Flush `session` at the end of this turn of the event loop: every
        frame a dispatch makes for one socket goes out in one write."""
        if not self._dirty:
            asyncio.get_running_loop().call_soon(self._flush)
        self._dirty.append(session)

    def _flush(self) -> None:
        sessions, self._dirty = self._dirty, []
        for session in sessions:
            session.flush()

    @property
    def url(self) -> str:
        return f"http://{self.bind}:{self.port}/"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.bind}:{self.port}{ENDPOINT}"

    async def start(self) -> None:
        if not self.host.started:
            await self.host.start()
        self._server = await serve(
            self._handle, self.bind, self.port, process_request=self._http,
            max_size=self.limits.hard_frame, ping_interval=self.limits.ping_interval,
            max_queue=64, compression=None)
        self.port = self._server.sockets[0].getsockname()[1]

    def _http(self, connection, request):
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        try:
            page = self.pages(request.path)
        except Exception as e:  # a broken page must not take the server down
            return _response(500, "text/plain; charset=utf-8", f"page failed: {e!r}\n".encode())
        if page is None:
            return _response(404, "text/plain; charset=utf-8", b"not found\n")
        return _response(*page)

    async def _handle(self, ws) -> None:
        session = Session(self, ws)
        self.sessions.add(session)
        try:
            await session.run()
        finally:
            self.sessions.discard(session)

    async def close(self) -> None:
        """Stop listening, let the host finish what is in flight and close its
        documents, flush what clients were sent, then close the sockets."""
        if self._server is None:
            return
        self._server.close(close_connections=False)
        await self.host.close()
        deadline = time.monotonic() + 2.0
        while any(s.outbox for s in self.sessions) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)  # what the host's shutdown said goes out first
        for s in list(self.sessions):
            try:
                await s.ws.close(1001, "server shutting down")
            except Exception:
                pass
        await self._server.wait_closed()
        self._server = None


__all__ = ["ENDPOINT", "Limits", "METHODS", "Server", "Session", "Stream", "deliver",
           "failure", "static_pages"]
