"""An asyncio client for advm servers: what tests use and users script with.

    async with await Client.connect("ws://127.0.0.1:8080/~s", identity=token) as client:
        await client.create("g1")
        game = await client.open("g1")            # first frame: the whole view
        print(game.view, game.outstanding)         # materialized view, open asks
        await game.answer(game.outstanding[0], {"x": 1, "y": 1})
        async for update in game.updates():        # every frame after this point
            print(update.seq, game.view)

Requests and streams follow spec/protocol.md section 8. Frames are applied
to a `views.merge.ViewState`, so `view` is always the plain view the server
meant, checked frame by frame (a bad frame raises DeltaError from the
stream, and the connection is marked broken).
"""
from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass

from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from ..views.merge import DeltaError, ViewState


class ClientError(Exception):
    """A failure frame: `reason` is the protocol's code."""

    def __init__(self, reason: str, message: str):
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


def _merged(old, patch):
    """A JSON merge (RFC 7396) of `patch` into `old`: objects merge key by key,
    null removes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    out = dict(old) if isinstance(old, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = _merged(out.get(k), v)
    return out


@dataclass
class Update:
    """One stream frame as applied: the patch (None when only asks changed)."""

    data: dict | None
    seq: int | None
    outstanding: list | None
    reset: bool = False


class Connection:
    """One connection/create stream: a document as one principal sees it."""

    def __init__(self, client: "Client", cid: int, key: str):
        self.client = client
        self.id = cid
        self.key = key
        self.state = ViewState()
        self.outstanding: list[dict] = []
        self.notes: list[dict] = []          # errors the document sent this principal
        self.ended: ClientError | None = None  # why the stream stopped, once it has
        # ViewState (spec/protocol.md 8.3): the viewer state this connection last sent
        # (update), with what the document's ViewState.merge told it since; and the
        # paths ViewState.goto sent it to, oldest first.
        self.viewer_state: dict = {}
        self.gone_to: list[str] = []
        self._first = asyncio.get_running_loop().create_future()
        self._changed = asyncio.Event()
        self._queues: list[asyncio.Queue] = []

    @property
    def view(self) -> dict:
        return self.state.view

    @property
    def seq(self) -> int | None:
        return self.state.seq

    @property
    def open(self) -> bool:
        return self.ended is None

    # ------------------------------------------------------------ frames from the client

    def _frame(self, response: dict) -> None:
        if "error" in response:
            self.notes.append(response["error"])
            self._signal(None)
            return
        body = response.get("delta")
        if not isinstance(body, dict):
            return
        if body.get("reset"):
            self.state.reset()
        data = body.get("data")
        try:
            if data is not None:
                self.state.apply(data, body.get("seq"))
        except DeltaError as e:  # a lost, repeated or reordered frame: reconnect to recover
            self._end(ClientError("bad_delta", str(e)))
            return
        if "outstanding" in body:
            self.outstanding = list(body["outstanding"])
        self._signal(Update(data, body.get("seq"), body.get("outstanding"), bool(body.get("reset"))))

    def _signal(self, update) -> None:
        if not self._first.done():
            self._first.set_result(None)
        if update is not None:
            for q in self._queues:
                q.put_nowait(update)
        self._changed.set()

    def _end(self, error: ClientError) -> None:
        if self.ended is None:
            self.ended = error
        if not self._first.done():
            self._first.set_exception(error)
        for q in self._queues:
            q.put_nowait(None)
        self._changed.set()

    # ------------------------------------------------------------ requests on the stream

    async def send(self, channel: str, message) -> dict:
        """Send a message to a channel; the reply comes once it committed. What
        the message's code told this connection (`viewstate`) is applied to
        `viewer_state` and `gone_to`."""
        reply = await self.client.request("connection/send", connection=self.id,
                                          channel=channel, message=message)
        for told in reply.get("viewstate", ()):
            if "merge" in told:
                self.viewer_state = _merged(self.viewer_state, told["merge"])
            elif "goto" in told:
                self.gone_to.append(told["goto"])
        return reply

    async def answer(self, ask, message) -> dict:
        """Answer an open ask (its dict from `outstanding`, or its id)."""
        if isinstance(ask, dict):
            return await self.client.request("connection/send", connection=self.id,
                                             channel=ask.get("channel"), ask=ask["id"],
                                             message=message)
        return await self.client.request("connection/send", connection=self.id, ask=ask,
                                         message=message)

    async def update(self, viewer_state: dict) -> dict:
        """connection/update: this viewer's new `view` fields; the reply comes
        once the patch of its view (if any) went out."""
        reply = await self.client.request("connection/update", connection=self.id,
                                          **{"viewer-state": viewer_state})
        self.viewer_state = dict(viewer_state)
        return reply

    async def end(self) -> None:
        if self.ended is None:
            await self.client.request("connection/end", connection=self.id)

    # ------------------------------------------------------------ waiting

    async def updates(self):
        """Every frame from now on, as Update objects, until the stream ends."""
        q: asyncio.Queue = asyncio.Queue()
        self._queues.append(q)
        try:
            while True:
                item = await q.get()
                if item is None:
                    return
                yield item
        finally:
            self._queues.remove(q)

    async def wait_for(self, predicate, timeout: float = 5.0):
        """Wait until `predicate(self)` is true (checked after every frame)."""
        async def loop():
            while True:
                if predicate(self):
                    return self.view
                if self.ended is not None:
                    raise self.ended
                self._changed.clear()
                await self._changed.wait()

        return await asyncio.wait_for(loop(), timeout)


class Client:
    def __init__(self, ws, identity: str | None, space: str | None = None):
        self.ws = ws
        self.identity = identity
        self.space = space  # every document request names it (protocol.md 8.16); None: the default space
        self.errors: list[ClientError] = []   # failures that named no request
        self.status: dict | None = None        # the server's greeting
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self._streams: dict[int, Connection] = {}
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(cls, url: str, identity: str | None = None, *, space: str | None = None,
                      **kw) -> "Client":
        """Open a socket; `identity` (a token, or "anonymous") is used by
        every request that does not name its own; `space`, the space of the
        documents it names (None: the server's default space)."""
        kw.setdefault("max_size", 16 * 1024 * 1024)
        kw.setdefault("compression", None)
        return cls(await ws_connect(url, **kw), identity, space)

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        await self.ws.close()
        try:
            await self._reader
        except (asyncio.CancelledError, DeltaError):
            pass

    # ------------------------------------------------------------ requests

    async def _send(self, method: str, params: dict) -> tuple[int, asyncio.Future]:
        rid = next(self._ids)
        fut = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        try:
            await self.ws.send(json.dumps({"id": rid, "method": method, **params}))
        except ConnectionClosed as e:
            self._pending.pop(rid, None)
            raise ClientError("closed", f"the socket closed: {e}") from None
        return rid, fut

    async def request(self, method: str, **params) -> dict:
        """One request; its reply's `response`, or ClientError."""
        _, fut = await self._send(method, params)
        return await fut

    def _who(self, identity):
        identity = identity if identity is not None else self.identity
        who = {} if identity is None else {"identity": identity}
        if self.space is not None:
            who["space"] = self.space
        return who

    async def create(self, key: str, arg=None, identity: str | None = None) -> dict:
        params = {"key": key, **self._who(identity)}
        if arg is not None:
            params["arg"] = arg
        return await self.request("document/create", **params)

    async def authorize(self, key: str, username: str | None = None, password: str | None = None,
                        message: dict | None = None) -> dict:
        """Sign in to document `key` (spec/protocol.md 8.3): with `username`
        and `password` its @authorize, with `message` its @authorization
        decides; {"identity": token, "principal": p} for the agent it answers."""
        if message is not None:
            return await self.request("document/authorize", key=key, message=message, **self._space())
        return await self.request("document/authorize", key=key, username=username, password=password,
                                  **self._space())

    def _space(self) -> dict:
        return {} if self.space is None else {"space": self.space}

    async def delete(self, key: str, identity: str | None = None) -> dict:
        return await self.request("document/delete", key=key, **self._who(identity))

    async def open(self, key: str, identity: str | None = None, viewer_state: dict | None = None) -> Connection:
        """connection/create; returns once the whole view has arrived.
        `viewer_state`: the document's `view` fields for this viewer (its
        bubbles' @viewer), which follow the whole view as a delta."""
        rid = next(self._ids)
        conn = Connection(self, rid, key)
        self._streams[rid] = conn
        fut = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        state = {} if viewer_state is None else {"viewer-state": viewer_state}
        try:
            await self.ws.send(json.dumps({"id": rid, "method": "connection/create", "key": key,
                                           **self._who(identity), **state}))
        except ConnectionClosed as e:
            self._pending.pop(rid, None)
            self._streams.pop(rid, None)
            raise ClientError("closed", f"the socket closed: {e}") from None

        def failed(f):
            if not f.cancelled() and f.exception() is not None:
                conn._end(f.exception())

        fut.add_done_callback(failed)
        await conn._first
        return conn

    # ------------------------------------------------------------ reading

    async def _read(self) -> None:
        try:
            async for text in self.ws:
                self._dispatch(json.loads(text))
        except ConnectionClosed:
            pass
        finally:
            closed = ClientError("closed", "the socket closed")
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(closed)
            self._pending.clear()
            for conn in self._streams.values():
                conn._end(closed)

    def _dispatch(self, msg: dict) -> None:
        if "status" in msg:  # the server's greeting
            self.status = msg
            return
        if "deliver" in msg:
            rid = msg["deliver"]
            conn = self._streams.get(rid)
            if not msg.get("done"):
                if conn is not None:
                    conn._frame(msg.get("response") or {})
                return
            if conn is not None:  # the stream ended normally (connection/end)
                del self._streams[rid]
                conn._end(ClientError("ended", "the connection was ended"))
            fut = self._pending.pop(rid, None)
            if fut is not None and not fut.done():
                fut.set_result(msg.get("response") or {})
        elif "failure" in msg:
            rid = msg["failure"]
            error = ClientError(msg.get("reason", "unknown"), msg.get("message", ""))
            conn = self._streams.pop(rid, None)
            fut = self._pending.pop(rid, None)
            if conn is not None:
                conn._end(error)
            if fut is not None and not fut.done():
                fut.set_exception(error)
            if conn is None and fut is None:
                self.errors.append(error)


__all__ = ["Client", "ClientError", "Connection", "Update"]
