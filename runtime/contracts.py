"""What crosses the runtime's edges, as types (spec/runtime.md).

The runtime passes plain dicts on its hot paths (an input, the frames it
returns), so the shapes are `TypedDict`s: dicts at run time, checked shapes
for a reader and a type checker. What the runtime asks of other layers (the
viewers, a document a host drives, a backend that makes them) is a
`typing.Protocol`: views/, durable/ and net/ implement them without importing
anything from here, and the tests check that they do.

- `Input`: one input in the runtime's shape (spec/runtime.md 2), and
  `as_input`, the one conversion from the scripted-session shape (the
  principal under "as", the time given apart) that sessions, durable
  documents and hosts receive;
- `Frame`: what an input returns (spec/runtime.md 3), and `frame_kind`, which
  names a frame's kind once instead of each host sniffing its keys;
- `Viewers`, `ViewersFactory`: the viewers interface (spec/runtime.md 6);
- `HostedDocument`, `Backend`: a document as the host (runtime/host.py)
  drives it (in memory or durable) and where it opens documents from.
"""
# No `from __future__ import annotations` here: TypedDict reads NotRequired
# from evaluated annotations, and the tests read the required keys.
from typing import Any, Callable, Literal, NotRequired, Protocol, TypedDict, runtime_checkable

# ---------------------------------------------------------------- inputs

Op = Literal["create", "connect", "disconnect", "send", "answer", "advance", "delete", "destroy", "result",
             "web", "attach"]
OPS: tuple[str, ...] = ("create", "connect", "disconnect", "send", "answer", "advance", "delete", "destroy",
                        "result", "web", "attach")


class Input(TypedDict):
    """One input (spec/runtime.md 2). `who` is absent from `advance` and
    `destroy`; `arg` and `seed` belong to `create`, `channel` to `send`, `ask`
    to `answer`, `message` to both."""

    op: Op
    now: int
    who: NotRequired[str]
    arg: NotRequired[Any]
    seed: NotRequired[str]
    channel: NotRequired[str]
    message: NotRequired[Any]
    ask: NotRequired[int]
    call: NotRequired[Any]  # result: the call's id (int) or a formula's invocation (str)
    result: NotRequired[Any]  # result: {"value": ...} or {"error": {"code", "message"}}
    method: NotRequired[str]  # web: put or delete (get and options are no inputs: they only read)
    path: NotRequired[str]  # web: the request's path under the document (spec/protocol.md 8.15)
    parameters: NotRequired[dict]  # web: @parameters, its query string (runtime/web.py parse_query)
    headers: NotRequired[dict]  # web: @headers, its headers but Authorization and Cookie
    asset: NotRequired[Any]  # attach: the uploaded file's id, name, type, size, md5, sha384
    # connect, disconnect, send: the connection's {"origin", "ip"}, read as @context (runtime.md 2)
    context: NotRequired[dict]


CONTEXT_LIMIT = 256  # characters of an origin or an ip kept in @context (longer ones are cut)


def context_of(value) -> dict:
    """An input's connection context as @context holds it: {"origin", "ip"},
    each a string of at most CONTEXT_LIMIT characters ("" when absent or not a
    string)."""
    if not isinstance(value, dict):
        value = {}
    out = {}
    for name in ("origin", "ip"):
        v = value.get(name)
        out[name] = v[:CONTEXT_LIMIT] if isinstance(v, str) else ""
    return out


def as_input(op: dict, now: int) -> Input:
    """A scripted-session style input ({"op": "send", "as": who, ...}) in the
    runtime's shape ({"op": "send", "who": who, ..., "now": now}): a fresh
    dict; "who" is taken as it is when there is no "as", and `now` replaces
    any time the op had (the caller's time is the input's)."""
    if type(op) is not dict:
        if not isinstance(op, dict):
            raise TypeError(f"an input is a dict with an 'op', not {type(op).__name__}")
        op = dict(op)
    item = op.copy()
    if "as" in item:
        item["who"] = item.pop("as")
    item["now"] = now
    return item


# ---------------------------------------------------------------- frames

AskKind = Literal["fetch", "decide", "choose"]


class AskInfo(TypedDict):
    id: int
    channel: str
    kind: AskKind
    options: NotRequired[list]  # decide and choose: the message values offered, as JSON
    limit: NotRequired[int]  # choose


class ErrorInfo(TypedDict):
    code: str
    message: str


class DeltaFrame(TypedDict):
    to: str
    delta: dict  # a merge patch on the viewer's encoded view (spec/protocol.md 2)
    seq: int


class ConnectedFrame(TypedDict):
    to: str
    connected: bool


class AskFrame(TypedDict):
    to: str
    ask: AskInfo


class AskClosedFrame(TypedDict):
    to: str
    ask_closed: int


class ErrorFrame(TypedDict):
    to: str | None  # None: an input that had no sender
    error: ErrorInfo


class ViewStateFrame(TypedDict):
    to: str  # the sender of the committed message whose code called ViewState
    viewstate: dict  # {"merge": value} or {"goto": path} (spec/language.md 5.23)


Frame = DeltaFrame | ConnectedFrame | AskFrame | AskClosedFrame | ErrorFrame | ViewStateFrame
FrameKind = Literal["delta", "connected", "ask", "ask_closed", "error", "viewstate"]
FRAME_KINDS: tuple[str, ...] = ("delta", "connected", "ask", "ask_closed", "error", "viewstate")


def frame_kind(frame: dict) -> FrameKind:
    """Which of the six frames `frame` is (ValueError for anything else)."""
    for kind in FRAME_KINDS:
        if kind in frame:
            return kind
    raise ValueError(f"not a runtime frame: keys {sorted(frame)}")


# ---------------------------------------------------------------- viewers

@runtime_checkable
class Viewers(Protocol):
    """The viewers interface (spec/runtime.md 6): views.viewers.Viewers
    computes views, durable.noviews.NoViewers none."""

    def connect(self, who: str) -> list[Frame]: ...

    def disconnect(self, who: str) -> None: ...

    def connected(self) -> list[str]: ...

    def after_commit(self) -> list[Frame]: ...

    def plain_view(self, who: str) -> dict: ...

    def state(self) -> dict: ...

    def load(self, state: dict) -> None: ...


ViewersFactory = Callable[[Any], Viewers]  # called with the runtime's Engine (runtime/engine.py)


# ---------------------------------------------------------------- what a host drives

class Outcome(Protocol):
    """A future of an input's frames: a concurrent.futures.Future, or one of
    the lighter ones a host uses (runtime/host.py Resolved, net/documents.py
    Later)."""

    def done(self) -> bool: ...

    def result(self, timeout: float | None = None) -> Any: ...

    def exception(self, timeout: float | None = None) -> BaseException | None: ...

    def add_done_callback(self, fn: Callable[[Any], None]) -> None: ...


@runtime_checkable
class HostedDocument(Protocol):
    """A document as a host drives it, in memory or durable (spec/store.md
    11.4): inputs in the scripted-session shape, frames through a future.
    `living` is the runtime underneath."""

    living: Any

    def submit(self, op: dict, now: int) -> Outcome: ...

    def next_due(self) -> int | None: ...

    def view(self, who: str) -> dict: ...

    def asks_for(self, who: str) -> list[AskInfo]: ...

    def reconnect(self) -> Outcome: ...  # viewers back after a restart, without @connected

    def close(self) -> None: ...


@runtime_checkable
class Backend(Protocol):
    """Where a host (runtime/host.py) opens its documents: memory or the
    store. `create` returns the document and the create input's frames; a
    create that failed (the frames say why) leaves no document behind.
    `checkpoint` makes the document as it is what a crash recovers (nothing
    to do for the store, where every input is durable)."""

    name: str

    def exists(self, key: str) -> bool: ...

    def create(self, key: str, who: str, arg: Any, now: int) -> tuple[HostedDocument, list[Frame]]: ...

    def open(self, key: str) -> HostedDocument: ...

    def checkpoint(self, doc: HostedDocument) -> None: ...

    def remove(self, key: str) -> None: ...


__all__ = ["AskClosedFrame", "AskFrame", "AskInfo", "AskKind", "Backend", "ConnectedFrame", "DeltaFrame",
           "ErrorFrame", "ErrorInfo", "FRAME_KINDS", "Frame", "FrameKind", "HostedDocument", "Input", "OPS", "Op",
           "Outcome", "ViewStateFrame", "Viewers", "ViewersFactory", "as_input", "frame_kind"]
