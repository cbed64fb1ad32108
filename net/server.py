"""The WebSocket server: JSON text frames in, streamed responses out
(spec/protocol.md section 8 is the contract).

    server = Server(host, tokens, host="127.0.0.1", port=8080)
    await server.start(); print(server.url)
    ...
    await server.close()      # stops listening, then router.close(), then sockets

One `Socket` per WebSocket reads requests and answers each as the router
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
import base64
import binascii
import gc
import http
import json
import logging
import mimetypes
import time
from dataclasses import dataclass
from pathlib import Path

from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import OPEN

from .admin import METHODS as ADMIN_METHODS, guarded
from .spaces import METHODS as SPACE_METHODS
from .mcp import MCP_PATH, McpExchange, McpSocket, is_mcp_upgrade_head
from .clientjs import client_page
from .edge import request_problem
from .router import RouterError, Reply
from .jsontext import encode as _encode
from .reflect import reflect
from .tokens import ANONYMOUS, TokenError, anonymous_principal
from ..store.blobs import TooLarge
from .web import MAX_NAME, MAX_TYPE, GC_INTERVAL, PREFIX as _WEB_PREFIX, RateLimiter, WebExchange, WebLimits, collect_assets

WEB_PREFIX = _WEB_PREFIX.encode("ascii")
OPEN_TIMEOUT = 10.0  # seconds for a WebSocket's opening handshake (the library's default)
READ_SIZE = 64 * 1024  # bytes asked of the socket per read (Connection.connection_made)
MAX_PATH = 2048  # characters of an HTTP request's path (and query); longer ones get 414
ENDPOINT = "/~s"  # Adama's WebSocket path; any path upgrades, this is the advertised one
MIB = 1 << 20
# What a queued frame costs besides its bytes (its tuple, list slot and bytes
# object header), counted with each frame so that many tiny frames are bounded too.
FRAME_COST = 100


@dataclass
class Limits:
    max_frame: int = 64 * 1024          # bytes of one request; larger ones are refused
    hard_frame: int = 1024 * 1024       # larger than this and the socket is closed (1009)
    rate: float = 200.0                 # requests per second per socket, sustained
    burst: float = 400.0                # ... and in a burst
    max_streams: int = 64               # open connection/create streams per socket
    max_pending_bytes: int = 4 * MIB    # bytes waiting on a socket before its deltas are dropped
    max_pending_hard_bytes: int = 16 * MIB  # bytes of frames never dropped (replies, failures,
    #                                     a reset) waiting on it before the socket is closed
    ping_interval: float | None = 20.0


def text_frame(text: str) -> bytes:
    """One unmasked, unfragmented WebSocket text frame, serialized by the
    library. Built once per distinct frame and handed to every socket that
    gets it (Stream.deltas shares them), instead of once per socket as the
    library's send() would: most of a frame's cost when one change goes to
    a thousand viewers. The server negotiates no extensions (compression=None)."""
    return Frame(_TEXT, text.encode("utf-8")).serialize(mask=False, extensions=())


def _json(value) -> str:
    return _encode(value)


def failure(rid, reason: str, message: str) -> str:
    return _json({"failure": rid, "reason": reason, "message": message})


log = logging.getLogger("advm.server")
# Failures whose text comes from an exception, which may hold a document's
# value or a server path: the client gets a fixed text, the log the rest.
_WITHHELD = {"internal": "internal error in the server (the server's log has it)",
             "store": "the input could not be made durable (the server's log has why)"}


def failed(rid, exc: BaseException) -> str:
    """The failure frame of a request that ended in `exc` (spec 8.7)."""
    if isinstance(exc, RouterError) and exc.code not in _WITHHELD:
        return failure(rid, exc.code, exc.message)
    code = exc.code if isinstance(exc, RouterError) else "internal"
    log.error("request %r failed (%s): %s", rid, code,
              exc.message if isinstance(exc, RouterError) else repr(exc),
              exc_info=None if isinstance(exc, RouterError) else exc)
    return failure(rid, code, _WITHHELD[code])


def deliver(rid, response, done: bool) -> str:
    return _json({"deliver": rid, "done": done, "response": response})


class Stream:
    """One connection/create: the router's sink for one client stream."""

    __slots__ = ("sock", "id", "key", "who", "stale", "resyncing", "open", "pending",
                 "head", "router", "_router_state", "__weakref__")

    def __init__(self, sock: "Socket", sid, key: str, who: str):
        self.sock = sock
        self.router = sock.router  # its space's (the request's: Socket.receive)
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
        sock = self.sock
        head = self.head
        # One change usually reaches many streams as the same bytes (same
        # stream id on different sockets, same seq, the same patch text
        # object): each distinct frame is built once per event-loop turn.
        built = sock.server.built
        if outstanding is None and len(items) == 1 and not sock.closed:
            # The common case, once per viewer per change: push_frame inlined.
            patch, seq = items[0]
            key = (head, patch, seq)
            data = built.get(key)
            if data is None:
                data = built[key] = text_frame(head + '"data":' + patch + ',"seq":' + str(seq)
                                               + "}}}")
            sock.outbox.append((data, self))
            self.pending += 1
            sock.queued += len(data) + FRAME_COST
            if not sock._dirty:
                sock._dirty = True
                sock.server.dirty(sock)
            if sock.queued > sock.limits.max_pending_bytes:
                sock._overflow()
            return
        last = len(items) - 1
        for i, (patch, seq) in enumerate(items):
            if i == last and outstanding is not None:
                sock.push_frame(text_frame(head + '"data":' + patch + ',"seq":' + str(seq)
                                              + ',"outstanding":' + _json(outstanding) + "}}}"),
                                   self)
                continue
            key = (head, patch, seq)
            data = built.get(key)
            if data is None:
                data = built[key] = text_frame(head + '"data":' + patch + ',"seq":' + str(seq)
                                               + "}}}")
            sock.push_frame(data, self)
        if not items and outstanding is not None:
            sock.push(head + '"outstanding":' + _json(outstanding) + "}}}", self)

    def reset(self, data, seq, outstanding) -> None:
        if not self.open:
            return
        self.stale = self.resyncing = False
        # Never dropped: it is what the dropped deltas were coalesced into,
        # and a socket asks for one at a time (Socket._resync).
        self.sock.push(deliver(self.id, {"delta": {"data": data, "seq": seq, "reset": True,
                                                      "outstanding": outstanding}}, False))

    def notify(self, error) -> None:
        if self.open:
            self.sock.push(deliver(self.id, {"error": error}, False))

    def ended(self, code: str, message: str) -> None:
        if self.open:
            self.open = False
            self.sock.streams.pop(self.id, None)
            self.sock.push(failure(self.id, code, message))


class DebugStream:
    """One document/debug subscription: the router's Debugger for one client
    stream. Each input's lines go out as one `{"debug": [line, ...]}` frame;
    while the socket holds more than `max_pending_bytes` new frames are
    dropped, and the next frame sent says how many lines were (`dropped`)."""

    __slots__ = ("sock", "id", "key", "who", "open", "dropped", "router", "__weakref__")
    stale = False  # never resynchronised (Socket._resync): a lost line is gone

    def __init__(self, sock: "Socket", sid, key: str, who: str):
        self.sock = sock
        self.router = sock.router
        self.id = sid
        self.key = key
        self.who = who
        self.open = True
        self.dropped = 0

    def debug(self, lines) -> None:
        sock = self.sock
        if not self.open or sock.closed:
            return
        if sock.queued > sock.limits.max_pending_bytes:
            self.dropped += len(lines)
            return
        response = {"debug": lines}
        if self.dropped:
            response["dropped"] = self.dropped
            self.dropped = 0
        sock.push(deliver(self.id, response, False))

    def ended(self, code: str, message: str) -> None:
        if self.open:
            self.open = False
            self.sock.streams.pop(self.id, None)
            self.sock.push(failure(self.id, code, message))


_TEXT, _BINARY, _CONT = Opcode.TEXT, Opcode.BINARY, Opcode.CONT


class Connection(ServerConnection):
    """The library's connection, except that each complete data message goes
    straight to its Socket as the bytes arrive (in `data_received`), instead
    of through the library's message queue to a task awaiting `recv()`: per
    request that saves a queue, a future and a task switch, which at a few
    thousand requests a second is a good part of the server's own time.
    Handshake, control frames (ping, pong, close), UTF-8 framing rules and
    size limits stay the library's."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.sock: Socket | None = None
        self.early: list = []          # messages that came before the Socket took over
        self._parts: tuple | None = None  # (opcode, chunks) of a fragmented message
        # @web (net/web.py): the first request line decides whether this
        # connection is the WebSocket library's or a WebExchange's.
        self.web: WebExchange | None = None
        self._head = b""
        self._sniffed = None  # a future: "ws" or "web"

    def _decide(self, data: bytes) -> None:
        """Buffer the start of the connection until its request line is
        there, then pass what came to the WebSocket library or a WebExchange."""
        self._head += data
        line, crlf, _ = self._head.partition(b"\r\n")
        if not crlf and len(self._head) < 8192:
            return
        method, _, rest = line.partition(b" ")
        target = rest.partition(b" ")[0]
        server = getattr(self, "advm_server", None)
        # /~mcp (net/mcp.py): a GET is the WebSocket's upgrade or an MCP event stream, as its
        # headers say; every other method is the Streamable HTTP transport's.
        mcp = server is not None and target.split(b"?", 1)[0] == MCP_PATH.encode("ascii")
        if mcp and method == b"GET" and b"\r\n\r\n" not in self._head and len(self._head) < 16384:
            return
        head, self._head = self._head, b""
        if mcp and not (method == b"GET" and is_mcp_upgrade_head(head)):
            peer = self.transport.get_extra_info("peername")
            self.web = McpExchange(server, self.transport, peer[0] if peer else "")
            self.web.feed(head)
            self._resolve("web")
        elif server is not None and (method != b"GET" or target.startswith(WEB_PREFIX)):
            peer = self.transport.get_extra_info("peername")
            self.web = WebExchange(server, self.transport, peer[0] if peer else "")
            self.web.feed(head)
            self._resolve("web")
        else:
            self._resolve("ws")
            super().data_received(head)

    def _resolve(self, kind: str) -> None:
        if self._sniffed is None:
            self._sniffed = asyncio.get_running_loop().create_future()
        if not self._sniffed.done():
            self._sniffed.set_result(kind)

    def data_received(self, data: bytes) -> None:
        if self.web is not None:
            self.web.feed(data)
        elif self._sniffed is not None and self._sniffed.done():
            super().data_received(data)
        else:
            self._decide(data)

    def eof_received(self):
        if self.web is not None:
            self.web.eof()
            return True  # half-closed by the client: the answer can still be written
        if self._sniffed is None or not self._sniffed.done():
            self._resolve("ws")
            if self._head:
                head, self._head = self._head, b""
                super().data_received(head)
        return super().eof_received()

    def connection_lost(self, exc) -> None:
        if self.web is not None:
            self.web.lost()
        self._resolve("ws")
        super().connection_lost(exc)

    async def handshake(self, *args, **kwargs):
        """The WebSocket handshake within OPEN_TIMEOUT or, for a @web request,
        the whole exchange (bounded by net/web.py's own limits); the library
        closes the connection after either unless it opened a WebSocket."""
        if self._sniffed is None:
            self._sniffed = asyncio.get_running_loop().create_future()
        async with asyncio.timeout(OPEN_TIMEOUT):
            kind = await self._sniffed
            if kind == "ws":
                return await super().handshake(*args, **kwargs)
        await self.web.run()

    def connection_made(self, transport) -> None:
        # asyncio reads with recv(256 KiB): a buffer that size is past
        # glibc's mmap threshold, so every read maps, shrinks and unmaps
        # memory (three system calls and a page fault for a 100-byte request).
        # 64 KiB comes from the heap; larger messages just take more reads.
        if getattr(transport, "max_size", 0) > READ_SIZE:
            transport.max_size = READ_SIZE
        super().connection_made(transport)

    # Backpressure on the client itself. The library answers every ping
    # with a pong written straight to the transport, and nothing of
    # websockets stops reading while those writes back up: a client that
    # pings and never reads grew the server by ~118 bytes a ping. So while
    # the transport's buffer is above its high-water mark (write_limit), the
    # socket is not read: its pings, and its requests, wait in the client's
    # kernel buffers until it reads what it was sent.
    def pause_writing(self) -> None:
        super().pause_writing()
        self.transport.pause_reading()

    def resume_writing(self) -> None:
        super().resume_writing()
        if not self.transport.is_closing():
            self.transport.resume_reading()

    def process_event(self, event) -> None:
        if self.request is None or not isinstance(event, Frame) or event.opcode not in (
                _TEXT, _BINARY, _CONT):
            super().process_event(event)
            return
        if event.opcode is _CONT:
            if self._parts is None:
                return  # the protocol layer refuses a continuation with no start
            # (the protocol layer holds the whole message to max_size)
            self._parts[1].append(event.data)
            if not event.fin:
                return
            opcode, chunks = self._parts
            self._parts = None
            data = b"".join(chunks)
        elif not event.fin:
            self._parts = (event.opcode, [event.data])
            return
        else:
            opcode, data = event.opcode, event.data
        if self.sock is None:
            self.early.append((opcode, data))
        else:
            self.sock.frame(opcode is _TEXT, data)


class Socket:
    """One WebSocket: requests in, responses and stream frames out."""

    def __init__(self, server: "Server", ws):
        self.server = server
        self.router = server.router
        self.ws = ws
        self.limits = server.limits
        self.streams: dict = {}
        self.outbox: list = []    # (frame bytes, stream); frames without a stream are never dropped
        self.queued = 0           # bytes in the outbox, FRAME_COST each included
        self.kept = 0             # ... of them in frames without a stream
        self._resetting: Stream | None = None  # the stream whose reset was asked for last
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
        ws = self.ws
        try:
            if isinstance(ws, Connection):
                ws.sock = self
                early, ws.early = ws.early, []
                for opcode, data in early:
                    self.frame(opcode is _TEXT, data)
                await ws.wait_closed()
            else:
                async for message in ws:
                    self.receive(message)
        except ConnectionClosed:
            pass
        finally:
            self.closed = True
            for stream in list(self.streams.values()):
                stream.open = False
                stream.router.disconnect(stream)
            self.streams.clear()
            end_uploads(self)
            self._clear()
            if self._drainer is not None:
                self._drainer.cancel()

    def push(self, text: str, stream: Stream | None = None) -> None:
        self.push_frame(text_frame(text), stream)

    def push_frame(self, data: bytes, stream: Stream | None = None) -> None:
        """Queue one WebSocket frame, already encoded (text_frame)."""
        if self.closed:
            return
        self.outbox.append((data, stream))
        cost = len(data) + FRAME_COST
        self.queued += cost
        if stream is not None:
            stream.pending += 1
        else:
            self.kept += cost
        if not self._dirty:
            self._dirty = True
            self.server.dirty(self)
        if self.queued > self.limits.max_pending_bytes:
            self._overflow()

    def _clear(self) -> None:
        self.outbox.clear()
        self.queued = self.kept = 0

    def flush(self) -> None:
        """Write everything queued as one write to the socket, unless the
        socket is backed up: then wait for it to drain (the drainer task)."""
        self._dirty = False
        ws = self.ws
        if self.closed:
            return
        if ws.protocol.state is not OPEN:
            self._clear()
            return
        if ws.paused:
            if self._drainer is None:
                self._drainer = asyncio.ensure_future(self._drain())
            return
        out = self.outbox
        if out:
            self.outbox = []
            self.queued = self.kept = 0
            if len(out) == 1:
                data, stream = out[0]
                if stream is not None:
                    stream.pending -= 1
            else:
                parts = []
                for frame, stream in out:
                    parts.append(frame)
                    if stream is not None:
                        stream.pending -= 1
                data = b"".join(parts)
            ws.transport.write(data)
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
        """Ask for the whole view of one stream that lost deltas, once the
        socket has drained: one at a time, so that a socket never holds more
        than one reset (64 streams on a 1 MiB view would otherwise queue
        64 MiB at once, however fast the client reads)."""
        last = self._resetting
        if last is not None and last.open and last.resyncing and last.stale:
            return  # its reset is on the way
        self._resetting = None
        still = False
        for stream in list(self.streams.values()):
            if not stream.stale:
                continue
            still = True
            if stream.pending == 0 and self._resetting is None:
                if stream.router.resync(stream) is not False:
                    stream.resyncing = True
                    self._resetting = stream
        self._stale = still

    def _drop(self, stream: Stream) -> None:
        stream.pending -= 1
        if not stream.stale:
            stream.stale = True
            self._stale = True
            self.server.dropped += 1

    def _overflow(self) -> None:
        """The client reads slower than its documents change: its queue
        passed `max_pending_bytes`. Drop its queued deltas; each stream that
        lost some gets its whole view once the socket drains (_resync). Only
        if what cannot be dropped passes `max_pending_hard_bytes` is it let go."""
        lim = self.limits
        if self.kept > lim.max_pending_hard_bytes:
            self.closed = True
            waiting = self.queued
            self._clear()
            asyncio.ensure_future(self.ws.close(
                1008, f"too slow: {waiting} bytes waiting, the bound is "
                      f"{lim.max_pending_bytes} (spec/protocol.md 8.6)"))
            return
        out = self.outbox
        if self.queued == self.kept:
            return  # nothing to drop: replies only, below the hard bound
        last = out[-1]
        if last[1] is not None and self.queued - self.kept == len(last[0]) + FRAME_COST:
            # The usual case once replies alone fill the queue: the newest
            # frame is its only delta (drop it without walking the queue).
            out.pop()
            self.queued = self.kept
            self._drop(last[1])
            return
        kept = []
        for item in out:
            if item[1] is None:
                kept.append(item)
            else:
                self._drop(item[1])
        self.outbox = kept
        self.queued = self.kept

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

    def frame(self, text: bool, data) -> None:
        """One complete data message, as its frame's payload bytes."""
        if self.closed:
            return
        if not text:
            self.push(failure(None, "bad_frame", "frames are JSON text, not binary"))
            return
        if len(data) > self.limits.max_frame:
            self.push(failure(None, "frame_too_large",
                              f"a request is at most {self.limits.max_frame} bytes"))
            return
        try:
            message = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            self.push(failure(None, "bad_frame", "a text frame must be UTF-8"))
            return
        try:
            self.receive(message)
        except Exception as e:  # a bug: this request fails, the socket and the server go on
            self.push(failed(None, e))

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
        except RecursionError:
            self.push(failure(None, "too_deep", "the request nests too deep to read"))
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
        problem = request_problem(message, req)
        if problem is not None:  # refused before anything of it reaches a document
            self.push(failure(rid, *problem))
            return
        handler = METHODS.get(req.get("method"))
        if handler is None:
            self.push(failure(rid, "unknown_method", f"no method {req.get('method')!r}; "
                              f"methods: {', '.join(sorted(METHODS))}"))
            return
        # The router of the request's space (protocol.md 8.17); no `space`: the default one.
        space = req.get("space")
        self.router = self.server.router if space is None else self.server.space_router(space)
        if self.router is None and req["method"] not in SPACELESS:
            self.push(failure(rid, "unknown_space", self.server.no_space(space)))
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

    def replier(self, rid) -> Reply:
        """Where the router puts a request's outcome: straight onto this socket."""
        def fn(result, exc):
            if exc is None:
                seq = result.get("seq")
                if type(seq) is int and len(result) == 1:
                    # The usual reply, once per message: formatted, not
                    # encoded (rid is an int: receive() checked it).
                    self.push('{"deliver":%d,"done":true,"response":{"seq":%d}}' % (rid, seq))
                else:
                    self.push(deliver(rid, result, True))
            else:
                self.push(failed(rid, exc))

        return Reply(fn)

    def answer(self, rid, fut: asyncio.Future, shape=None) -> None:
        def done(f):
            if f.cancelled():
                return
            exc = f.exception()
            if exc is None:
                self.push(deliver(rid, shape(f.result()) if shape else f.result(), True))
            else:
                self.push(failed(rid, exc))

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


def _stream(sock: Socket, req: dict, kind=Stream) -> Stream:
    sid = req.get("connection")
    if type(sid) is not int:
        raise _Refused("bad_request", "\"connection\" is the integer id of a connection/create "
                       "on this socket")
    stream = sock.streams.get(sid)
    if stream is None:
        raise _Refused("unknown_connection", f"no open connection {sid!r} on this socket")
    if not isinstance(stream, kind):  # a document/debug stream sends nothing
        raise _Refused("unknown_connection", f"{sid!r} is a document/debug stream, not a connection")
    return stream


# ---------------------------------------------------------------- uploads over the socket

MAX_UPLOADS = 4  # uploads open at once on one socket (language.md 4.29, protocol.md 8.15)


def _uploads(s: Socket) -> dict:
    up = getattr(s, "uploads", None)
    if up is None:
        up = s.uploads = {}
    return up


def end_uploads(s: Socket) -> None:
    """The socket closed: its unfinished uploads are thrown away."""
    for up in _uploads(s).values():
        up["writer"].abort()
    _uploads(s).clear()


def _attachment_start(s: Socket, rid, req) -> None:
    """attachment/start {key, name, type}: @can_attach is asked; then
    attachment/append sends the bytes and attachment/finish attaches them."""
    key = _need(req, "key", str, "the document's key")
    who = s.principal(req)
    name, kind = req.get("name", "file"), req.get("type", "application/octet-stream")
    if not isinstance(name, str) or not isinstance(kind, str) or len(name) > MAX_NAME or len(kind) > MAX_TYPE:
        raise _Refused("bad_request", f"\"name\" and \"type\" are strings of at most {MAX_NAME} and "
                       f"{MAX_TYPE} characters")
    blobs = s.server.blobs
    if blobs is None:
        raise _Refused("no_uploads", "this server keeps no uploaded files")
    uploads = _uploads(s)
    if len(uploads) >= MAX_UPLOADS:
        raise _Refused("too_many_uploads", f"at most {MAX_UPLOADS} uploads may be open on one socket")
    asked = s.router.web(key, who, "can_attach", "/", None)
    out = asyncio.get_running_loop().create_future()

    def done(f):
        exc = f.exception()
        if exc is not None:
            out.set_exception(exc)
        elif f.result()[0] != 200:
            out.set_exception(RouterError("attach_refused", "@can_attach does not let you attach files here"))
        elif s.closed or len(uploads) >= MAX_UPLOADS:
            out.set_exception(RouterError("too_many_uploads", f"at most {MAX_UPLOADS} uploads may be open"))
        else:
            uid = s.next_upload = getattr(s, "next_upload", 0) + 1
            uploads[uid] = {"key": key, "who": who, "name": name, "type": kind, "router": s.router,
                            "writer": blobs.writer(s.server.web_limits.max_asset)}
            out.set_result({"upload": uid})

    asked.add_done_callback(done)
    s.answer(rid, out)


def _upload_of(s: Socket, req: dict) -> tuple[int, dict]:
    uid = _need(req, "upload", int, "the id attachment/start gave")
    up = _uploads(s).get(uid)
    if up is None:
        raise _Refused("unknown_upload", f"no open upload {uid!r} on this socket")
    return uid, up


def _attachment_append(s: Socket, rid, req) -> None:
    """attachment/append {upload, data}: `data` is the next bytes, base64."""
    uid, up = _upload_of(s, req)
    try:
        data = base64.b64decode(_need(req, "data", str, "the next bytes, base64"), validate=True)
    except binascii.Error:
        raise _Refused("bad_request", "\"data\" is not base64") from None
    try:
        up["writer"].write(data)
    except TooLarge:
        del _uploads(s)[uid]
        raise _Refused("too_large", f"the file is larger than {s.server.web_limits.max_asset} bytes") from None
    s.push(deliver(rid, {"size": up["writer"].size}, True))


def _attachment_finish(s: Socket, rid, req) -> None:
    """attachment/finish {upload}: the bytes go into place and the document's
    attach input runs @attached (a); the answer is the asset's facts."""
    uid, up = _upload_of(s, req)
    del _uploads(s)[uid]
    asset = {**up["writer"].finish(), "name": up["name"], "type": up["type"]}
    s.answer(rid, up["router"].web(up["key"], up["who"], "attach", "/", asset), lambda _: {"asset": asset})


# ---------------------------------------------------------------- methods


def _document_create(s: Socket, rid, req) -> None:
    key = _need(req, "key", str, "the document's key")
    who = s.principal(req)
    s.answer(rid, s.router.create(key, who, req.get("arg"), s.context()))


def _document_delete(s: Socket, rid, req) -> None:
    key = _need(req, "key", str, "the document's key")
    who = s.principal(req)
    s.answer(rid, s.router.delete(key, who))


def _connection_create(s: Socket, rid, req) -> None:
    key = _need(req, "key", str, "the document's key")
    who = s.principal(req)
    if rid in s.streams:
        raise _Refused("bad_request", f"request id {rid} already names an open connection")
    if len(s.streams) >= s.limits.max_streams:
        raise _Refused("too_many_streams", f"at most {s.limits.max_streams} connections per socket")
    state = req.get("viewer-state")
    if state is not None and not isinstance(state, dict):
        raise _Refused("bad_request", "\"viewer-state\" is a JSON object of the document's `view` fields")
    stream = Stream(s, rid, key, who)
    s.streams[rid] = stream
    if s.server.watch_token is not None:  # an authority's revocation ends the stream (8.5)
        s.server.watch_token(stream, req.get("identity"))
    fut = s.router.connect(key, who, stream, s.context(), state)

    def done(f):
        exc = f.exception()
        if exc is not None and stream.open:
            stream.open = False
            if s.streams.get(rid) is stream:
                del s.streams[rid]
            s.push(failed(rid, exc))

    fut.add_done_callback(done)


def _document_debug(s: Socket, rid, req) -> None:
    """A stream of the document's @debug lines, if its `@static debug` policy
    lets the principal (spec/protocol.md 8.3); `connection/end` ends it."""
    key = _need(req, "key", str, "the document's key")
    who = s.principal(req)
    if rid in s.streams:
        raise _Refused("bad_request", f"request id {rid} already names an open connection")
    if len(s.streams) >= s.limits.max_streams:
        raise _Refused("too_many_streams", f"at most {s.limits.max_streams} connections per socket")
    stream = DebugStream(s, rid, key, who)
    s.streams[rid] = stream
    fut = s.router.debug(key, who, stream, s.context())

    def done(f):
        exc = f.exception()
        if exc is not None:
            if stream.open:
                stream.open = False
                if s.streams.get(rid) is stream:
                    del s.streams[rid]
                s.push(failed(rid, exc))
        elif stream.open:
            s.push(deliver(rid, {"subscribed": True}, False))

    fut.add_done_callback(done)


def _connection_send(s: Socket, rid, req) -> None:
    stream = _stream(s, req)
    ask = req.get("ask")
    if ask is not None and type(ask) is not int:
        raise _Refused("bad_request", "\"ask\" is an ask's integer id")
    channel = req.get("channel")
    if ask is None:
        channel = _need(req, "channel", str, "the channel's name")
    if "message" not in req:
        raise _Refused("bad_request", "\"message\" is required")
    router = stream.router
    context = s.context() if ask is None and router.module.meta.get("reads_context") else None
    router.send(stream.key, stream.who, channel, req["message"], ask=ask, reply=s.replier(rid),
                  context=context)


def _agent_ask(s: Socket, rid, req) -> None:
    """`agent/ask` (protocol.md 8.18): the text goes to a session's ask channel
    (compiler/agents.py), a message like any other, as the connection's principal."""
    stream = _stream(s, req)
    session = _need(req, "session", str, "the session field's name")
    text = _need(req, "text", str, "what to ask")
    router = stream.router
    channel = router.module.meta.get("session_asks", {}).get(session)
    if channel is None:
        raise _Refused("input", f"the document has no session {session!r} that clients may ask")
    router.send(stream.key, stream.who, channel, {"text": text}, reply=s.replier(rid))


def _connection_update(s: Socket, rid, req) -> None:
    stream = _stream(s, req)
    state = req.get("viewer-state")
    if not isinstance(state, dict):
        raise _Refused("bad_request", "\"viewer-state\" is required: a JSON object of the document's "
                       "`view` fields")
    s.answer(rid, stream.router.update(stream, state))


def _connection_end(s: Socket, rid, req) -> None:
    stream = _stream(s, req, (Stream, DebugStream))
    stream.open = False
    s.streams.pop(stream.id, None)
    stream.router.disconnect(stream)
    s.push(deliver(stream.id, {}, True))
    s.push(deliver(rid, {}, True))


def _space_reflect(s: Socket, rid, req) -> None:
    s.principal(req)  # only someone who may make requests learns the program's API
    s.push(deliver(rid, {"reflection": reflect(s.router.module.meta)}, True))


def _identity_whoami(s: Socket, rid, req) -> None:
    # A guest's principal is made by the server (one per socket), so this is
    # the only way its page can learn the name the documents see.
    who = s.principal(req)
    agent, _, authority = who.rpartition("@")
    s.push(deliver(rid, {"principal": who, "agent": agent, "authority": authority,
                         "anonymous": authority == ANONYMOUS}, True))


AUTHORIZE_TTL = 7 * 24 * 3600  # a document-signed identity lasts a week, as `advm token`'s


def authorized_principal(agent: str, key: str) -> str:
    """The principal a document signs in (spec/protocol.md 8.3): the agent its
    @authorize answered, in the document's own authority `doc.KEY`."""
    return f"{agent}@doc.{key}"


def _document_authorize(s: Socket, rid, req) -> None:
    key = _need(req, "key", str, "the document's key")
    if "message" in req:
        credentials = {"message": _need(req, "message", dict, "the @authorization message, a JSON object")}
    else:
        credentials = {"username": _need(req, "username", str, "the name @authorize checks"),
                       "password": _need(req, "password", str, "the password @authorize checks")}
    fut = s.router.authorize(key, credentials)

    def done(f):
        if f.cancelled():
            return
        exc = f.exception()
        if exc is not None:
            s.push(failed(rid, exc))
            return
        try:
            token = s.server.tokens.mint(authorized_principal(f.result()["agent"], key), ttl=AUTHORIZE_TTL)
        except TokenError as e:
            s.push(failure(rid, "authorize_refused", f"the document answered a name no token may hold: {e.message}"))
            return
        s.push(deliver(rid, {"identity": token, "principal": s.server.tokens.verify(token)}, True))

    fut.add_done_callback(done)


def _identity_mint(s: Socket, rid, req) -> None:
    if not s.server.dev_tokens:
        raise _Refused("mint_refused", "this server does not mint tokens; ask its operator "
                       "for one (advm token NAME)")
    if s.origin and s.origin not in s.server.own_origins:
        raise _Refused("mint_refused", f"tokens are minted for this server's own page only, "
                       f"not for {s.origin}; use a token from advm token NAME")
    name = _need(req, "principal", str, "the principal to sign, agent@authority")
    try:
        token = s.server.tokens.mint(name, ttl=DEV_TOKEN_TTL)
    except TokenError as e:
        raise _Refused("bad_request", e.message) from None
    s.push(deliver(rid, {"identity": token, "principal": s.server.tokens.verify(token)}, True))


METHODS = {
    **{name: guarded(fn, _Refused) for name, fn in ADMIN_METHODS.items()},
    "identity/whoami": _identity_whoami,
    "identity/mint": _identity_mint,
    "document/create": _document_create,
    "document/delete": _document_delete,
    "document/authorize": _document_authorize,
    "document/debug": _document_debug,
    "attachment/start": _attachment_start,
    "attachment/append": _attachment_append,
    "attachment/finish": _attachment_finish,
    "connection/create": _connection_create,
    "connection/send": _connection_send,
    "agent/ask": _agent_ask,
    "connection/update": _connection_update,
    "connection/end": _connection_end,
    "space/reflect": _space_reflect,
    **{name: guarded(fn, _Refused) for name, fn in SPACE_METHODS.items()},
}

# Methods that name no document of a space (the others need one: `space`, or a default space).
SPACELESS = frozenset(("identity/whoami", "identity/mint", "connection/send", "connection/update",
                       "connection/end", "attachment/append", "attachment/finish", *SPACE_METHODS))


# ---------------------------------------------------------------- HTTP pages


def static_pages(root):
    """A `pages` hook serving the files under `root` (`/` is index.html), and
    the JavaScript client at /advm/ where `root` has no such file (clientjs)."""
    root = Path(root).resolve()

    def files(path: str):
        rel = path.split("?", 1)[0].lstrip("/") or "index.html"
        try:
            target = (root / rel).resolve()
            if root not in target.parents and target != root or not target.is_file():
                return None
        except (OSError, ValueError):  # a name the file system cannot hold (too long, NUL)
            return None
        kind = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        return 200, kind, target.read_bytes()

    def pages(path: str):
        return files(path) or client_page(path)

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


GC_THRESHOLD = (10_000, 20, 20)


def quiet_gc() -> tuple:
    """Collect garbage less often in a serving process; returns the old
    thresholds. Under load a server allocates a few dozen containers per
    request (parsed JSON, frames, callbacks), nearly all freed by reference
    counting at once, yet CPython's default (a young collection every 700
    allocations, whose survivors, the requests in flight, are promoted and
    make the older collections scan the whole heap of sockets) cost the
    server several percent of its time in the load test. What exists at
    start (the program, its module) moves to the oldest generation. Nothing
    is left frozen: documents running in this process (`--workers 0`) move
    their own long-lived objects with gc.freeze()/unfreeze() (runtime/engine.py
    promote_young), which they skip while anything is frozen."""
    old = gc.get_threshold()
    if gc.get_freeze_count() == 0:
        gc.freeze()
        gc.unfreeze()
    gc.set_threshold(*GC_THRESHOLD)
    return old


DEV_TOKEN_TTL = 7 * 24 * 3600  # as `advm token`'s default
REVOKE_CHECK = 1.0  # seconds between looks at the authority table for revoked open streams


def is_loopback(bind: str) -> bool:
    """An address only this machine can reach."""
    import ipaddress

    if bind == "localhost":
        return True
    try:
        return ipaddress.ip_address(bind).is_loopback
    except ValueError:
        return False


def page_origins(bind: str, port: int) -> list[str]:
    """The origins of the page this server serves (spec/protocol.md 8.1):
    http://ADDRESS:PORT for the address it listens on, and for a loopback
    address every loopback name a browser may have used to open the page.
    A fixed list, never the request's Host header, so that a page on
    another name resolving to this address (DNS rebinding) stays foreign."""
    hosts = [bind] + (["127.0.0.1", "localhost", "::1"] if is_loopback(bind) else [])
    return [f"http://{f'[{h}]' if ':' in h else h}:{port}" for h in dict.fromkeys(hosts)]


class Server:
    """`dev_tokens`: `identity/mint` signs a token for any principal a client
    names. Only for a developer's own machine (`advm run` turns it on when it
    listens on a loopback address): whoever can reach the socket can be anyone.

    `allow_origins`: origins (`http://host:port`) whose pages may open a
    WebSocket besides the server's own page; every other browser origin is
    refused at the upgrade (403, the library's origin check). A request
    without an Origin header (not a browser) is accepted. Minting answers
    only the server's own page and non-browser clients."""

    def __init__(self, router, tokens, *, bind: str = "127.0.0.1", port: int = 8080,
                 limits: Limits | None = None, pages=None, allow_anonymous: bool = True,
                 dev_tokens: bool = False, allow_origins=(), web_limits: WebLimits | None = None,
                 blobs=None, mcp_limits=None, spaces=None):
        # `spaces` (net/spaces.py Spaces): the programs this server hosts, each
        # its own router; `router` is then the default space's, or None.
        self.spaces = spaces
        self.router = router if spaces is None else spaces.default
        if spaces is not None:  # a default space created or deleted while serving
            spaces.on_default = lambda r: setattr(self, "router", r)
        self.blobs = blobs  # uploaded files' bytes (store/blobs.py), or None: no uploads
        self.web_limits = web_limits or WebLimits()  # @web requests (net/web.py, protocol.md 8.15)
        self.web_rate = RateLimiter(self.web_limits.rate, self.web_limits.burst)
        self.tokens = tokens
        # streams opened with an authority's token, ended if it is revoked (None: a
        # token checker without revocation, such as the protocol simulator's)
        self.watch_token = getattr(tokens, "watch", None)
        self.dev_tokens = dev_tokens
        self.allow_origins = list(allow_origins)
        self.own_origins: list[str] = []  # page_origins() once the port is known
        # What the library checks each upgrade's Origin against: None (no
        # header) and the allowed origins now, the page's own once bound.
        self._origins: list = [None, *self.allow_origins]
        self.bind = bind
        self.port = port
        self.limits = limits or Limits()
        self.pages = pages or _default_page
        self.allow_anonymous = allow_anonymous
        self.sockets: set[Socket] = set()
        self.dropped = 0
        self._server = None
        self._dirty: list[Socket] = []
        self.built: dict = {}  # frames built this turn, shared by streams (Stream.deltas)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._gc: tuple | None = None  # the collector's thresholds before start()
        self.metrics = None  # net/metrics.py Metrics: served at /metrics when set
        self.mcp = None  # net/mcp.py McpHub, made on the first request to /~mcp
        self.mcp_limits = mcp_limits  # its limits (McpLimits; None: the defaults)

    def dirty(self, sock: Socket) -> None:
        """Flush `sock` at the end of this turn of the event loop: every
        frame a dispatch makes for one socket goes out in one write. (The
        reply to a `connection/send` is queued in the same turn as the deltas
        it caused, through a router `Reply` rather than a future, whose
        callbacks would run a turn later and cost the sender a second write.)"""
        if not self._dirty:
            self._loop.call_soon(self._flush)
        self._dirty.append(sock)

    def _flush(self) -> None:
        sockets, self._dirty = self._dirty, []
        self.built = {}
        for sock in sockets:
            sock.flush()

    def space_router(self, space):
        """The router of space `space` (a request's `space`), or None."""
        if self.spaces is None:
            return self.router if space == "default" else None
        return self.spaces.router(space) if isinstance(space, str) else None

    def no_space(self, space) -> str:
        names = self.spaces.names() if self.spaces is not None else ["default"]
        if space is None:
            return f"this server has no default space: name one with \"space\" ({', '.join(names)})"
        return f"no space {space!r} on this server; spaces: {', '.join(names) or 'none'}"

    @property
    def url(self) -> str:
        return f"http://{self.bind}:{self.port}/"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.bind}:{self.port}{ENDPOINT}"

    async def start(self) -> None:
        # Kept: asking asyncio for the running loop costs a system call
        # (getpid) each time, and flushing asks twice per turn.
        self._loop = asyncio.get_running_loop()
        if self.spaces is not None:
            await self.spaces.start()
        elif not self.router.started:
            await self.router.start()
        self._gc = quiet_gc()
        self._server = await serve(
            self._handle, self.bind, self.port, process_request=self._http,
            max_size=self.limits.hard_frame, ping_interval=self.limits.ping_interval,
            max_queue=64, compression=None, create_connection=self._connection,
            origins=self._origins, open_timeout=None)
        self.port = self._server.sockets[0].getsockname()[1]
        self.own_origins = page_origins(self.bind, self.port)
        if self.blobs is not None:  # uploaded files nobody references are collected (net/web.py)
            self._collector = asyncio.create_task(self._collect_assets())
        if self.watch_token is not None:
            self._revoker = asyncio.create_task(self._end_revoked())
        self._origins.extend(self.own_origins)

    def _connection(self, *args, **kwargs) -> Connection:
        conn = Connection(*args, **kwargs)
        conn.advm_server = self  # a @web request is answered with this server's router and tokens
        return conn

    def _http(self, connection, request):
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        if len(request.path) > MAX_PATH:
            return _response(414, "text/plain; charset=utf-8", b"the path is too long\n")
        if self.metrics is not None and request.path.split("?", 1)[0] == "/metrics":
            return _response(*self.metrics.page())
        try:
            page = self.pages(request.path)
        except Exception as e:  # a broken page must not take the server down
            log.error("page %.200r failed: %r", request.path, e)  # the text may name server paths
            return _response(500, "text/plain; charset=utf-8", b"the page failed\n")
        if page is None:
            return _response(404, "text/plain; charset=utf-8", b"not found\n")
        return _response(*page)

    async def _handle(self, ws) -> None:
        if isinstance(ws, Connection) and ws.request is not None and \
                ws.request.path.split("?", 1)[0] == MCP_PATH:  # JSON-RPC for MCP clients (net/mcp.py)
            await McpSocket(self, ws).run()
            return
        sock = Socket(self, ws)
        self.sockets.add(sock)
        try:
            await sock.run()
        finally:
            self.sockets.discard(sock)

    async def _collect_assets(self) -> None:
        while True:
            await asyncio.sleep(GC_INTERVAL)
            try:
                gone = []
                for router in (self.spaces.routers() if self.spaces is not None else [self.router]):
                    gone += await collect_assets(router, self.blobs)
                if gone:
                    log.info("collected %d unreferenced assets", len(gone))
            except Exception as e:  # the next pass tries again
                log.error("asset collection failed: %r", e)

    async def _end_revoked(self) -> None:
        """Every REVOKE_CHECK seconds: streams opened with a token its authority
        has since revoked (or an authority since removed) end with revoked_token."""
        while True:
            await asyncio.sleep(REVOKE_CHECK)
            try:
                for stream, reason in self.tokens.revoked_streams():
                    if stream.open:
                        stream.router.disconnect(stream)
                        stream.ended("revoked_token", reason)
            except Exception as e:  # a bad table: the next pass tries again
                log.error("revocation check failed: %r", e)

    async def close(self) -> None:
        """Stop listening, let the router finish what is in flight and close its
        documents, flush what clients were sent, then close the sockets."""
        if self._server is None:
            return
        if getattr(self, "_revoker", None) is not None:
            self._revoker.cancel()
            self._revoker = None
        if getattr(self, "_collector", None) is not None:
            self._collector.cancel()
            self._collector = None
        self._server.close(close_connections=False)
        if self.mcp is not None:  # MCP sessions end, their event streams and sockets close
            await self.mcp.shutdown()
        if self.spaces is not None:
            await self.spaces.close()
        else:
            await self.router.close()
        deadline = time.monotonic() + 2.0
        while any(s.outbox for s in self.sockets) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)  # what the router's shutdown said goes out first
        for s in list(self.sockets):
            try:
                await s.ws.close(1001, "server shutting down")
            except Exception:
                pass
        await self._server.wait_closed()
        self._server = None
        if self._gc is not None:
            gc.set_threshold(*self._gc)
            self._gc = None


__all__ = ["ENDPOINT", "Limits", "METHODS", "Server", "Socket", "Stream", "deliver",
           "failure", "is_loopback", "page_origins", "static_pages"]
