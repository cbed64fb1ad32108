"""The messages between the router and its workers, declared once
(spec/protocol.md 8.13). net/runners.py `ProcessRunner` is the router's end,
net/worker.py the worker's; neither sends or reads a message that is not
listed here.

Wire: one socket pair per worker, each message a length-prefixed pickle
(multiprocessing.Connection's framing). Every message is a plain tuple whose
first item is its tag: a tuple pickles and unpickles in about a fifth of the
time a NamedTuple takes (0.9 against 4.5 us each way, measured), and two of
them cross per input. The tuple types below say what each position holds.

    router -> worker   Init      ("init", module bytes, backend, store attributes)   first, alone
                     Batch     ("batch", [Request | StoreReply, ...])
                     Stop      ("stop",)
    worker -> router   Batch     ("batch", [Ready | Failed | ReplyMessage | StoreCall, ...])

A `Request` runs one request of `RequestKind` on a document and is answered
by one `ReplyMessage` with its id, holding the shard's `ShardReply`; a
`StoreCall` is the worker's document calling the router's store (the store
stays in the router process: LMDB allows one writer, and one group committer
batches every worker's writes), answered by one `StoreReply` with its id. What one side produces in one turn goes in one
`Batch`, so a busy worker costs a few system calls per batch rather than
several per input.

The calls a worker may make are the store interface of its backend
(`store_calls`): for the durable backend, store/interface.py's
`DocumentStore`; for the memory backend, `ShelfStore` below. Each call is
answered one of three ways (`WAIT`, `FUTURE`, `CALLBACK`): the worker's proxy
(net/worker.py `RemoteStore`) has one method per declared call, and the router
runs only a declared call, the way the declaration says.
"""
from __future__ import annotations

from typing import Any, Literal, Protocol, TypedDict, runtime_checkable

from ..runtime.contracts import AskInfo, Frame

# ---------------------------------------------------------------- tags

INIT = "init"
BATCH = "batch"
STOP = "stop"
REQUEST = "req"
STORE_REPLY = "store_reply"
READY = "ready"
FAILED = "failed"
REPLY = "reply"
STORE_CALL = "store"

# ---------------------------------------------------------------- requests and replies

RequestKind = Literal["create", "connect", "view", "update", "send", "answer", "delete", "disconnect",
                      "advance", "close", "result", "web", "debug"]
REQUEST_KINDS: tuple[str, ...] = ("create", "connect", "view", "update", "send", "answer", "delete",
                                  "disconnect", "advance", "close", "result", "web", "debug")


class Payload(TypedDict, total=False):
    """A request's fields, by kind: `who` for every kind but advance, close
    and result; create: `arg`; send: `channel`, `message`; answer: `ask`,
    `message`; update: `state`; result: `call`, `result`; debug: `on` (a
    @debug subscriber comes, or goes); create, connect and debug also carry
    what the @static policies see of the connection (`origin`, `ip`)."""

    who: str
    call: Any
    result: Any
    arg: Any
    channel: str
    message: Any
    ask: int
    state: Any
    origin: str
    ip: str
    on: bool


class ShardReply(TypedDict, total=False):
    """A request's outcome (net/shard.py `reply`). Every key that would hold
    its default (nothing, no error, False) is left out: read them with `.get`.
    Frames are the runtime's (spec/runtime.md 3), but for the view deltas,
    which travel apart as (to, patch as JSON text, seq), encoded by the
    worker."""

    frames: list[Frame]
    deltas: list[tuple[str, str, int]]
    due: int
    error: list           # [code, message]: the request failed (spec/protocol.md 8.7)
    destroyed: bool       # the input deleted the document
    loaded: bool          # the runner holds the document after the request
    bytes: int            # its memory estimate, when measured again (runtime/memory.py)
    dropped: bool         # the runner let go of the document after a failure
    view: dict            # view: the principal's whole plain view,
    asks: list[AskInfo]   # its open asks,
    connected: bool       # and whether it is connected
    calls: list[dict]     # the service calls the document wants made (net/services.py)
    web: tuple            # a @web request's answer: (status, [(header, value)], body) (net/web.py)
    debug: list[str]      # the @debug lines the input printed, only while someone subscribes


Init = tuple[Literal["init"], bytes, str, dict]
Stop = tuple[Literal["stop"]]
Request = tuple[Literal["req"], int, RequestKind, str, Payload, int]  # id, kind, document key, payload, now
ReplyMessage = tuple[Literal["reply"], int, ShardReply]               # the request's id, its reply
Ready = tuple[Literal["ready"], str, str]    # the module's id, the folder advm was imported from
Failed = tuple[Literal["failed"], str]       # why the worker could not start
StoreCall = tuple[Literal["store"], int, str, tuple, dict]            # id, call, args, kwargs
StoreReply = tuple[Literal["store_reply"], int, bool, Any]            # id, ok, result or error text
ToWorker = Request | StoreReply
ToHost = Ready | Failed | ReplyMessage | StoreCall
Batch = tuple[Literal["batch"], list]  # list[ToWorker] or list[ToHost]


def init(module: bytes, backend: str, store_attrs: dict) -> Init:
    return (INIT, module, backend, store_attrs)


def stop() -> Stop:
    return (STOP,)


def batch(messages: list) -> Batch:
    return (BATCH, messages)


def request(rid: int, kind: str, key: str, payload: Payload, now: int) -> Request:
    return (REQUEST, rid, kind, key, payload, now)


def reply(rid: int, outcome: ShardReply) -> ReplyMessage:
    return (REPLY, rid, outcome)


def ready(module_id: str, location: str) -> Ready:
    return (READY, module_id, location)


def failed(text: str) -> Failed:
    return (FAILED, text)


def store_call(cid: int, name: str, args: tuple, kwargs: dict) -> StoreCall:
    return (STORE_CALL, cid, name, args, kwargs)


def store_reply(cid: int, ok: bool, value) -> StoreReply:
    return (STORE_REPLY, cid, ok, value)


# ---------------------------------------------------------------- store calls

# How the router answers a call: the worker's thread waits for the answer
# (reads, and the shelf's calls); a future resolved once the write is durable;
# or, for a durable input's log append, a callback(result, error) and no future
# on either side (the call crosses with `callback=True`).
WAIT = "wait"
FUTURE = "future"
CALLBACK = "callback"


@runtime_checkable
class ShelfStore(Protocol):
    """What an in-memory document's worker calls on the router's shelf of
    sleeping documents' snapshots (net/documents.py `Shelf`). Every call is
    answered at once (`WAIT`)."""

    def get(self, key: str) -> bytes | None: ...

    def put(self, key: str, data: bytes) -> None: ...

    def remove(self, key: str) -> None: ...

    def keys(self) -> list[str]: ...


SHELF_CALLS: dict[str, str] = {"get": WAIT, "put": WAIT, "remove": WAIT, "keys": WAIT}


def _document_store_calls() -> dict[str, str]:
    # The durable backend's calls are the store interface's own lists. Read
    # here, not at import: the store needs LMDB, and a router that keeps its
    # documents in memory runs without it (net/documents.py durable_available).
    from ..store.interface import CALLBACK_WRITES, READS, WRITES

    calls = {name: WAIT for name in READS}
    calls.update({name: CALLBACK if name in CALLBACK_WRITES else FUTURE for name in WRITES})
    return calls


def store_calls(backend: str) -> dict[str, str]:
    """The calls a worker of `backend` ("memory" or "durable") may make on
    the router's store, and how each is answered."""
    if backend == "memory":
        return SHELF_CALLS
    if backend == "durable":
        return _document_store_calls()
    raise ValueError(f"unknown backend {backend!r}")


__all__ = ["BATCH", "Batch", "CALLBACK", "FAILED", "FUTURE", "Failed", "INIT", "Init", "Payload", "READY",
           "REPLY", "REQUEST", "REQUEST_KINDS", "Ready", "ReplyMessage", "Request", "RequestKind",
           "SHELF_CALLS", "STOP", "STORE_CALL", "STORE_REPLY", "ShardReply", "ShelfStore", "Stop",
           "StoreCall", "StoreReply", "ToHost", "ToWorker", "WAIT", "batch", "failed", "init", "ready",
           "reply", "request", "stop", "store_call", "store_calls", "store_reply"]
