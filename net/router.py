"""The router: many living documents of one program in one server.

    router = Router(module, store=store, workers=2)
    await router.start()
    await router.create("g1", "alice@", None)
    await router.connect("g1", "alice@", sink)      # sink receives deltas
    await router.send("g1", "alice@", "play", {"x": 1, "y": 1})
    await router.close()

Documents are loaded on demand on a runner (a worker process, or a thread
for workers=0; net/runners.py), unloaded after `idle_unload_s` with nobody
connected and nothing queued, and woken at their next timer (delayed
transition or @cron) even with nobody connected. Each document runs one
input at a time, in arrival order; documents on different runners run at the
same time. Requests are pipelined: the router sends a document's inputs to its
runner as they arrive and forwards each reply's frames in order, once the
runner releases them (after the input is durable, with the durable backend).

Viewers are objects the server supplies, one per client stream (net/server.py
`Stream`), each a `Sink` (below). They must not block: the router calls them
from the event loop.
"""
from __future__ import annotations

import asyncio
import heapq
import time
from collections import deque
from typing import Protocol, runtime_checkable

from ..runtime.contracts import frame_kind
from ..views.delta import encode_view
from .documents import MemoryBackend, Shelf, durable_available
from .messages import ShardReply
from .runners import ProcessRunner, ThreadRunner
from .services import Dispatcher, ServiceConfig

QUEUE_LIMIT = 256  # inputs queued per document (the runtime's own bound)
IDLE_UNLOAD_S = 120.0
# Each runner's (worker's) memory budget: the estimates of the documents it
# holds (runtime/memory.py) added up; past it the router unloads its idle
# documents, least recently used first, then refuses loads with
# `memory_full` (spec/protocol.md 8.6, 8.8). None: no budget.
MEMORY_BUDGET = 1_000_000_000  # 1 GB
MEMORY_RETRY_MS = 1_000  # a timer's wake refused for memory is tried again this much later
# Requests that load a sleeping document (a `result` is owed to the document: never refused).
_LOADS = frozenset(("create", "connect", "view", "send", "answer", "advance", "delete", "web",
                    "authorize", "debug"))
MAX_KEY = 128
# What the store can key a document by (store/keys.py MAX_DOC_BYTES; not
# imported: the router runs without the store's LMDB too).
MAX_KEY_BYTES = 255


@runtime_checkable
class Sink(Protocol):
    """One client stream of a principal on a document, as the router drives it
    (net/server.py `Stream`). The router keeps its own bookkeeping on it in the
    attribute `_router_state` (a slot, if it has slots)."""

    def deltas(self, items: list[tuple[str, int]], outstanding: list[dict] | None) -> None:
        """View patches in order, each (patch as JSON text, seq); `outstanding`
        is the principal's open asks when they changed, else None."""

    def reset(self, data: dict, seq: int, outstanding: list[dict]) -> None:
        """A whole encoded view replacing the client's (a second stream, a resync)."""

    def notify(self, error: dict) -> None:
        """An error ({"code", "message"}) for this principal that answers no
        request of this stream (another stream's input, a timer's)."""

    def ended(self, code: str, message: str) -> None:
        """The stream is over (the document was deleted or reloaded, its
        worker stopped, the router is closing): a reason of spec/protocol.md 8.7."""


@runtime_checkable
class Debugger(Protocol):
    """A `document/debug` subscriber (net/server.py `DebugStream`): `debug(lines)`
    with the @debug lines of each input of the document, `ended(code, message)`
    when the subscription ends without being asked to. On the event loop; never blocks."""

    def debug(self, lines: list[str]) -> None: ...

    def ended(self, code: str, message: str) -> None: ...


class RouterError(Exception):
    """A request the router or the document refused; `code` is the protocol's reason."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


def check_key(key) -> str:
    if not isinstance(key, str) or not key or len(key) > MAX_KEY:
        raise RouterError("bad_key", f"a document key is a string of 1 to {MAX_KEY} characters")
    if key.startswith("$") or any(ord(c) < 32 for c in key):
        raise RouterError("bad_key", "a document key cannot start with '$' or hold control characters")
    if not key.isascii():
        # The store keys documents by their UTF-8 bytes (store/keys.py).
        try:
            size = len(key.encode("utf-8"))
        except UnicodeEncodeError:
            raise RouterError("bad_key", "a document key must be valid Unicode "
                            "(it holds a lone surrogate)") from None
        if size > MAX_KEY_BYTES:
            raise RouterError("bad_key", f"a document key is at most {MAX_KEY_BYTES} bytes in UTF-8")
    return key


class Reply:
    """A request's outcome delivered to a function instead of a future:
    `fn(result, None)` or `fn(None, RouterError)`, called once, at once. The
    server answers its hot requests this way (no future, no extra turn of the
    event loop before the reply is queued); everything else uses futures."""

    __slots__ = ("fn", "_done")

    def __init__(self, fn):
        self.fn = fn
        self._done = False

    def done(self) -> bool:
        return self._done

    def set_result(self, value) -> None:
        self._done = True
        self.fn(value, None)

    def set_exception(self, exc) -> None:
        self._done = True
        self.fn(None, exc)


class _Pending:
    __slots__ = ("kind", "who", "reply", "arrived", "waiter", "sink", "payload", "start")

    def __init__(self, kind, who, waiter, sink, payload):
        self.start = time.perf_counter()  # for the metrics (net/metrics.py)
        self.kind = kind
        self.who = who
        self.payload = payload
        self.reply = None     # the runner's reply, once it arrived
        self.arrived = False
        self.waiter = waiter
        self.sink = sink


class Slot:
    """The router's side of one document: where it runs, what is in flight, who watches."""

    __slots__ = ("key", "runner", "queue", "sinks", "members", "last_seq", "asks", "used",
                 "closing", "loaded", "debuggers", "bytes")

    def __init__(self, key: str):
        self.key = key
        self.runner = None
        self.queue: deque[_Pending] = deque()
        self.sinks: dict[str, list] = {}   # principal -> sinks receiving its frames
        self.members: dict[str, int] = {}    # principal -> sinks attached or attaching
        self.last_seq: dict[str, int] = {}
        self.asks: dict[str, dict[int, dict]] = {}
        self.used = time.monotonic()
        self.closing = False
        self.loaded = False
        self.debuggers: list = []  # @debug subscribers (Debugger), in the order they came
        self.bytes = 0  # its memory estimate while loaded (runtime/memory.py), as last measured

    def idle(self) -> bool:
        return not self.queue and not any(self.members.values()) and not self.debuggers

    def outstanding(self, who: str) -> list[dict]:
        asks = self.asks.get(who) or {}
        return [asks[i] for i in sorted(asks)]


class Router:
    # What runs its documents with workers=0: a thread of its own, or one shared
    # by many spaces' routers (net/spaces.py SharedThread).
    thread_runner = ThreadRunner

    def __init__(self, module, *, store=None, shelf: Shelf | None = None, workers: int = 0,
                 backend: str | None = None, idle_unload_s: float = IDLE_UNLOAD_S,
                 clock=wall_clock_ms, queue_limit: int = QUEUE_LIMIT, services=None,
                 service_transport=None, memory_budget: int | None = MEMORY_BUDGET):
        if backend is None:
            backend = "durable" if store is not None and durable_available() else "memory"
        if backend == "durable" and store is None:
            raise ValueError("the durable backend needs a store")
        self.module = module
        self.store = store
        self.backend = backend
        self.shelf = shelf if shelf is not None else Shelf()
        self.workers = workers
        self.idle_unload_s = idle_unload_s
        self.memory_budget = memory_budget or None  # bytes per runner (MEMORY_BUDGET)
        self.clock = clock
        self.queue_limit = queue_limit
        self.slots: dict[str, Slot] = {}
        self.runners: list = []
        self._attached: dict[object, tuple[Slot, str]] = {}
        self._debugging: dict[object, Slot] = {}  # @debug subscriber -> its document, joining or joined
        self._due: dict[str, int] = {}
        self._heap: list[tuple[int, str]] = []
        self._wake: asyncio.Event | None = None
        self._tasks: list[asyncio.Task] = []
        self._closing = False
        self.started = False
        # requests sent to runners, timer wakes, documents closed and loaded
        self.stats = {"inputs": 0, "wakes": 0, "unloads": 0, "loads": 0,
                      "budget_unloads": 0, "memory_refusals": 0}
        self.metrics = None  # net/metrics.py Metrics, told of every reply
        # The space this router serves (net/spaces.py): its name, and its limits'
        # gate, asked before each input is queued and told of each reply.
        self.space = "default"
        self.gate = None
        # Service calls (net/services.py): made for every document that wants
        # one, with the endpoints of `services` (a ServiceConfig; none: every
        # call fails with 501, not configured).
        self.services = Dispatcher(services if services is not None else ServiceConfig(), self.result,
                                   transport=service_transport)

    # ------------------------------------------------------------ lifetime

    def _doc_store(self):
        return self.store if self.backend == "durable" else self.shelf

    async def start(self) -> None:
        self._wake = asyncio.Event()
        if self.workers <= 0:
            if self.backend == "durable":
                from .documents import DurableBackend

                lane = DurableBackend(self.module, self.store)
            else:
                lane = MemoryBackend(self.module, self.shelf)
            self.runners = [self.thread_runner(self.module, lane)]
        else:
            code = self.module.to_bytes()
            self.runners = [ProcessRunner(code, self.backend, self._doc_store(), i,
                                          on_death=self._runner_died)
                            for i in range(self.workers)]
        try:
            await asyncio.gather(*(r.start() for r in self.runners))
        except BaseException:
            await asyncio.gather(*(r.close() for r in self.runners), return_exceptions=True)
            raise
        if self.backend == "durable":
            # Sleeping documents' wake times survive restarts in the store's timer index.
            for due, key in self.store.due(2 ** 62):
                self._set_due(key, due)
        await self.services.start()
        self._tasks = [asyncio.create_task(self._waker()), asyncio.create_task(self._reaper())]
        self.started = True

    async def close(self) -> None:
        """Stop taking requests, let every queued input finish (and become
        durable), close every loaded document, stop the runners. The caller
        closes the store afterwards."""
        if self._closing:
            return
        self._closing = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        # Calls in flight are dropped: the documents still list them, and make them again when woken.
        await self.services.close()
        # Inputs already accepted run to the end, and their sinks see them.
        await self._settle()
        for slot in self.slots.values():
            self._end_debuggers(slot, "shutting_down", "the server is shutting down", tell=False)
            for sinks in slot.sinks.values():
                for v in sinks:
                    self._attached.pop(v, None)
                    v.ended("shutting_down", "the server is shutting down")
            slot.sinks.clear()
        closing = []
        loop = asyncio.get_running_loop()
        for slot in list(self.slots.values()):
            if slot.runner is not None and not slot.runner.dead:
                fut = loop.create_future()
                slot.runner.call("close", slot.key, {}, self.clock(),
                                 lambda reply, fut=fut: fut.done() or fut.set_result(reply))
                closing.append(fut)
        if closing:
            await asyncio.gather(*closing)
        await asyncio.gather(*(r.close() for r in self.runners), return_exceptions=True)
        self.slots.clear()

    async def _settle(self) -> None:
        """Wait until nothing is in flight on any document."""
        while any(s.queue for s in self.slots.values()):
            await asyncio.sleep(0.005)

    # ------------------------------------------------------------ requests

    def _request(self, key: str, reply: Reply | None = None):
        """A new waiter (or `reply`) and the slot of document `key`; a bad
        key fails the waiter at once and gives no slot (every request starts
        this way)."""
        waiter = self._new_waiter() if reply is None else reply
        if reply is not None and self._closing:
            reply.set_exception(RouterError("shutting_down", "the server is shutting down"))
        slot = self.slots.get(key) if type(key) is str else None
        if slot is not None:  # its key was checked when the slot was made
            return waiter, slot
        try:
            return waiter, self._slot(check_key(key))
        except RouterError as e:
            if not waiter.done():
                waiter.set_exception(e)
            return waiter, None

    def create(self, key: str, who: str, arg, context: dict | None = None) -> asyncio.Future:
        """Create document `key` as `who` with @construct's argument; `@static
        create` decides. Resolves to {} or fails with RouterError."""
        waiter, slot = self._request(key)
        if slot is None:
            return waiter
        self._submit(slot, "create", who, {"who": who, "arg": arg, **(context or {})}, waiter)
        return waiter

    def connect(self, key: str, who: str, sink: Sink, context: dict | None = None,
                state: dict | None = None) -> asyncio.Future:
        """Attach `sink` to document `key` as `who`. The first sink of a
        principal runs @connected; later ones share its stream. Resolves to
        {"seq": n} once the sink holds its full view. `state`, the viewer
        state its client sent (spec/language.md 4.9.1), follows as an update
        once it is attached."""
        waiter, slot = self._request(key)
        if slot is None:
            return waiter
        if sink in self._attached:
            waiter.set_exception(RouterError("already_connected", "this stream is already connected"))
            return waiter
        first = not slot.members.get(who)
        kind = "connect" if first else "view"
        if self._submit(slot, kind, who, {"who": who, **(context or {})}, waiter, sink):
            slot.members[who] = slot.members.get(who, 0) + 1
            self._attached[sink] = (slot, who)
            joining = sink_state(sink)
            joining.joining, joining.cancelled = True, False
            if state is not None:  # in order after the join; refused with it if the join is
                self._submit(slot, "update", who, {"who": who, "state": state}, None, bounded=False)
        return waiter

    def update(self, sink: Sink, state) -> asyncio.Future:
        """The viewer state of `sink`'s principal (its client's `view`
        fields): its bubbles are computed again and its patch follows.
        Resolves to {"seq": n} once the patch (if any) went out."""
        got = self._attached.get(sink)
        if got is None:
            waiter = self._new_waiter()
            if not waiter.done():
                waiter.set_exception(RouterError("not_connected", "this stream is not connected"))
            return waiter
        slot, who = got
        waiter = self._new_waiter()
        self._submit(slot, "update", who, {"who": who, "state": state}, waiter)
        return waiter

    def send(self, key: str, who: str, channel: str, message, ask=None, *,
             reply: Reply | None = None, context: dict | None = None) -> asyncio.Future | Reply:
        """A message to a channel, or with `ask` an answer to that ask.
        Resolves to {"seq": n} (the sender's view after it) once committed;
        with `reply`, that is where the outcome goes (and what is returned)."""
        waiter, slot = self._request(key, reply)
        if slot is None:
            return waiter
        if ask is None:
            payload = {"who": who, "channel": channel, "message": message}
            if context:  # the socket's {origin, ip}, for a program that reads @context (language.md 5.9)
                payload.update(context)
            self._submit(slot, "send", who, payload, waiter)
        else:
            self._submit(slot, "answer", who, {"who": who, "ask": ask, "message": message}, waiter)
        return waiter

    def answer(self, key: str, who: str, ask: int, message) -> asyncio.Future:
        """Answer ask `ask` (its id) with `message`."""
        return self.send(key, who, None, message, ask=ask)

    def result(self, key: str, call, result: dict) -> asyncio.Future:
        """A service call's outcome, as the document's `result` input (net/services.py)."""
        waiter, slot = self._request(key)
        if slot is None:
            return waiter
        self._submit(slot, "result", None, {"call": call, "result": result}, waiter, bounded=False)
        return waiter

    def web(self, key: str, who: str, method: str, path: str, message, parameters: dict | None = None,
            headers: dict | None = None) -> asyncio.Future:
        """An HTTP request to a @web handler (net/web.py): resolves to
        (status, headers, body). get and options only read; put and delete
        are the document's logged `web` input. `parameters` and `headers`
        are the handler's @parameters and @headers (runtime/web.py)."""
        waiter, slot = self._request(key)
        if slot is None:
            return waiter
        payload = {"who": who, "method": method, "path": path, "message": message}
        if parameters:
            payload["parameters"] = parameters
        if headers:
            payload["headers"] = headers
        self._submit(slot, "web", who, payload, waiter)
        return waiter

    def authorize(self, key: str, credentials: dict) -> asyncio.Future:
        """Sign-in to document `key` (spec/protocol.md 8.3): resolves to
        {"agent": name} when its @authorize (`username`, `password`) or
        @authorization (`message`) answers one, else fails (`authorize_refused`)."""
        waiter, slot = self._request(key)
        if slot is None:
            return waiter
        self._submit(slot, "authorize", None, dict(credentials), waiter)
        return waiter

    def delete(self, key: str, who: str) -> asyncio.Future:
        """Delete the document if its @delete lets `who`."""
        waiter, slot = self._request(key)
        if slot is None:
            return waiter
        self._submit(slot, "delete", who, {"who": who}, waiter)
        return waiter

    def debug(self, key: str, who: str, sink: Debugger, context: dict | None = None) -> asyncio.Future:
        """Subscribe `sink` to document `key`'s @debug lines, if its `@static
        debug` policy lets `who` (asked anew for every subscription; without
        the policy nobody may: `debug_refused`). Resolves to {} once
        subscribed; `disconnect(sink)` ends it. While a document has
        subscribers it stays loaded and its runner keeps its lines."""
        waiter, slot = self._request(key)
        if slot is None:
            return waiter
        if sink in self._debugging:
            waiter.set_exception(RouterError("already_connected", "this stream is already subscribed"))
            return waiter
        if self._submit(slot, "debug", who, {"who": who, "on": True, **(context or {})}, waiter, sink,
                        bounded=False):
            self._debugging[sink] = slot
        return waiter

    def _apply_debug(self, slot: Slot, p: _Pending, reply: ShardReply) -> None:
        sink, waiter = p.sink, p.waiter
        if sink is None:  # a subscriber went
            return
        error = reply.get("error")
        if error is not None or self._debugging.get(sink) is not slot:
            if self._debugging.get(sink) is slot:
                del self._debugging[sink]
            if error is None:  # it went while subscribing: the runner counted it
                self._submit(slot, "debug", None, {"on": False}, None, bounded=False)
            elif waiter is not None and not waiter.done():
                waiter.set_exception(RouterError(error[0], error[1]))
            return
        slot.debuggers.append(sink)
        if waiter is not None and not waiter.done():
            waiter.set_result({})

    def _end_debuggers(self, slot: Slot, code: str, message: str, *, tell: bool) -> None:
        """End every @debug subscription of `slot` (the document is gone, or
        its runner is); with `tell`, its runner stops keeping the lines."""
        for sink in slot.debuggers:
            self._debugging.pop(sink, None)
            sink.ended(code, message)
            if tell:
                self._submit(slot, "debug", None, {"on": False}, None, bounded=False)
        slot.debuggers = []

    def disconnect(self, sink: Sink) -> None:
        """Detach a sink; the last one of a principal runs @disconnected.
        Ends a @debug subscription (`debug`) too."""
        slot = self._debugging.pop(sink, None)
        if slot is not None:
            if sink in slot.debuggers:  # else still subscribing: its reply undoes it
                slot.debuggers.remove(sink)
                self._submit(slot, "debug", None, {"on": False}, None, bounded=False)
            return
        got = self._attached.pop(sink, None)
        if got is None:
            return
        slot, who = got
        state = sink_state(sink)
        if state.joining:
            state.cancelled = True  # its connect reply will undo the attachment
            return
        sinks = slot.sinks.get(who, [])
        if sink in sinks:
            sinks.remove(sink)
        self._leave(slot, who)

    def resync(self, sink: Sink) -> bool:
        """Send this sink its whole current view (it lost deltas: a slow
        client whose pending frames were dropped). False when it was not
        asked for (the sink is not attached or still joining, or the router
        is closing), so the caller may ask again later."""
        got = self._attached.get(sink)
        if got is None or sink_state(sink).joining or self._closing:
            return False
        slot, who = got
        return self._submit(slot, "view", who, {"who": who}, None, sink, bounded=False,
                            resync=True) is not False

    # ------------------------------------------------------------ plumbing

    async def deploy(self, code: bytes, *, restart_blocked: bool = False, prefix: str | None = None,
                     percent: int | None = None) -> dict:
        """New code, the server staying up (spec/runtime.md 9, protocol.md
        8.15): every runner first checks the plan and its loaded documents (a
        refusal raises RouterError deploy_refused, nothing changed), then
        switches: new documents run the new module, sleeping ones move when
        they wake, and each loaded document moves by an `upgrade` request
        queued behind its inputs, its viewers getting the deltas. `code` is a
        compiled module (.advc bytes)."""
        from ..vm.module import Module

        from ..runtime.upgrade import compare

        module = Module.from_bytes(code)
        loop = asyncio.get_running_loop()
        plan = compare(self.module, module).to_json()  # what it renames (`@was`), adds, drops

        async def ask(runner, payload):
            fut = loop.create_future()
            runner.call("deploy", "", payload, self.clock(), fut.set_result)
            got = await fut
            if got.get("error"):
                raise RouterError(*got["error"])
            return got.get("keys", [])

        live = [r for r in self.runners if not r.dead]
        canary = None if prefix is None and percent is None else [prefix, percent]
        for runner in live:
            await ask(runner, {"code": code, "check": True, "canary": canary})
        keys = []
        for runner in live:
            keys += await ask(runner, {"code": code, "restart_blocked": restart_blocked, "canary": canary})
        if canary is None:
            self.module = module
        for runner in live:  # what a worker that replaces this one starts from (_respawn)
            if canary is None:
                if hasattr(runner, "module_bytes"):
                    runner.module_bytes = code
                runner.canaries = []
            else:
                runner.canaries = [*getattr(runner, "canaries", []), {"code": code, "canary": canary}]
        waiters = []
        for key in keys:
            waiter = self._new_waiter()
            if self._submit(self._slot(key), "upgrade", None, {}, waiter, bounded=False):
                waiters.append(waiter)
        await asyncio.gather(*waiters, return_exceptions=True)
        return {"module": module.module_id(), "moved": sorted(keys), "plan": plan}

    def _new_waiter(self) -> asyncio.Future:
        waiter = asyncio.get_running_loop().create_future()
        if self._closing:
            waiter.set_exception(RouterError("shutting_down", "the server is shutting down"))
        return waiter

    def _slot(self, key: str) -> Slot:
        slot = self.slots.get(key)
        if slot is None:
            slot = self.slots[key] = Slot(key)
        return slot

    def _place(self):
        """The runner for a document being loaded: the least busy live one."""
        live = [r for r in self.runners if not r.dead]
        if not live:
            raise RouterError("worker_failed", "every worker has stopped")
        return min(live, key=lambda r: (r.inflight, r.placed))

    def _submit(self, slot: Slot, kind: str, who, payload: dict, waiter, sink=None, *,
                bounded: bool = True, resync: bool = False) -> bool:
        if waiter is not None and waiter.done():  # refused already (shutting down)
            return False
        if bounded and len(slot.queue) >= self.queue_limit:
            waiter.set_exception(RouterError(
                "queue_full", f"document {slot.key!r} has {self.queue_limit} inputs waiting"))
            return False
        if self.gate is not None:
            refusal = self.gate.refuse(slot, kind, who, sink, bounded)
            if refusal is not None:
                if waiter is not None:
                    waiter.set_exception(refusal)
                if not slot.queue and slot.runner is None and self.slots.get(slot.key) is slot:
                    del self.slots[slot.key]
                return False
        if (self.memory_budget is not None and not slot.loaded and not slot.queue
                and kind in _LOADS and (kind != "debug" or payload.get("on"))):
            refusal = self._admit(slot)
            if refusal is not None:
                self._refuse_load(slot, kind, waiter, refusal)
                return False
        if slot.runner is None:
            try:
                slot.runner = self._place()
            except RouterError as e:
                if waiter is not None:
                    waiter.set_exception(e)
                return False
            slot.runner.placed += 1
        self.stats["inputs"] += 1
        pending = _Pending("resync" if resync else kind, who, waiter, sink, payload)
        slot.queue.append(pending)
        if kind != "advance":  # a timer's wake is not activity: the document sleeps again after it
            slot.used = time.monotonic()
        slot.runner.call(kind, slot.key, payload, self.clock(),
                         lambda reply, p=pending, slot=slot: self._arrived(slot, p, reply))
        return True

    def _arrived(self, slot: Slot, p: _Pending, reply: ShardReply) -> None:
        if self.metrics is not None:
            self.metrics.replied(p.kind, p.start, reply, p.who)
        if self.gate is not None:
            self.gate.spent(slot.runner, p.start)
        p.reply = reply
        p.arrived = True
        self._replies(slot)

    def _replies(self, slot: Slot) -> None:
        """Apply the replies at the head of the document's queue, in order."""
        used = False
        while slot.queue and slot.queue[0].arrived:
            p = slot.queue.popleft()
            used = used or p.kind != "advance"
            try:
                self._apply(slot, p, p.reply)
            except Exception as e:  # a bug here must not wedge the document's queue
                if p.waiter is not None and not p.waiter.done():
                    p.waiter.set_exception(RouterError("internal", f"{type(e).__name__}: {e}"))
                raise
        if used:
            slot.used = time.monotonic()
        if not slot.queue and slot.runner is not None and not slot.loaded and not any(
                slot.members.values()) and not slot.debuggers:
            self._forget(slot)

    def _forget(self, slot: Slot) -> None:
        """The runner holds nothing of this document: free the slot."""
        if self.slots.get(slot.key) is slot:
            del self.slots[slot.key]
        if slot.runner is not None:
            slot.runner.placed -= 1
            slot.runner = None

    def _apply(self, slot: Slot, p: _Pending, reply: ShardReply) -> None:
        error = reply.get("error")
        calls = reply.get("calls")
        if calls and not self._closing:
            self.services.want(slot.key, calls)
        lines = reply.get("debug")
        if lines:  # the input's @debug lines, to the subscribers (spec/protocol.md 8.3)
            for sink in slot.debuggers:
                sink.debug(lines)
        was = slot.loaded
        slot.loaded = bool(reply.get("loaded"))
        if slot.loaded and not was:
            self.stats["loads"] += 1
        if not slot.loaded:
            slot.bytes = 0
        elif "bytes" in reply:  # measured again: past the budget, idle documents go
            slot.bytes = reply["bytes"]
            if self.memory_budget is not None and slot.runner is not None and not self._closing:
                self._shed(slot.runner)
        if error is None:
            if p.kind not in ("close", "debug"):
                self._set_due(slot.key, reply.get("due"))
        elif error[0] == "not_found":
            self._set_due(slot.key, None)
        elif error[0] == "worker_failed":
            self._runner_lost(slot)
        if reply.get("dropped"):
            self._dropped(slot)
        if p.kind == "debug":
            self._apply_debug(slot, p, reply)
        elif p.kind in ("connect", "view", "resync"):
            self._apply_join(slot, p, reply)
        elif p.kind == "close":
            slot.closing = False
            self.stats["unloads"] += 1
        else:
            self._dispatch(slot, reply.get("frames", ()), reply.get("deltas", ()), p.who,
                           end_code="destroyed" if reply.get("destroyed") else "disconnected")
            if p.kind == "web" and p.waiter is not None and not p.waiter.done() \
                    and error is None and reply.get("web") is not None:
                p.waiter.set_result(tuple(reply["web"]))  # the handler's answer (errors too)
            if p.kind == "authorize" and p.waiter is not None and not p.waiter.done() \
                    and error is None and reply.get("agent") is not None:
                p.waiter.set_result({"agent": reply["agent"]})  # who signed in
            if p.waiter is not None and not p.waiter.done():
                outcome = error or _sender_error(reply.get("frames", ()), p.who)
                if outcome is not None:
                    p.waiter.set_exception(RouterError(outcome[0], outcome[1]))
                else:
                    seq = slot.last_seq.get(p.who)
                    result = {} if seq is None else {"seq": seq}
                    if p.kind == "send":  # ViewState: what the message told its sender, on its reply only
                        told = [f["viewstate"] for f in reply.get("frames", ())
                                if f["to"] == p.who and "viewstate" in f]
                        if told:
                            result["viewstate"] = told
                    p.waiter.set_result(result)
        if reply.get("destroyed"):
            self._destroyed(slot, reply.get("due"))

    def _apply_join(self, slot: Slot, p: _Pending, reply: ShardReply) -> None:
        who, sink, waiter = p.who, p.sink, p.waiter
        error = reply.get("error")
        frames = reply.get("frames", ())
        if p.kind == "resync":
            if error is None and reply.get("connected") and sink in slot.sinks.get(who, ()):
                slot.asks[who] = {a["id"]: a for a in reply["asks"]}
                sink.reset(encode_view(reply["view"]), slot.last_seq.get(who, 0),
                             slot.outstanding(who))
            return
        state = sink_state(sink)
        state.joining = False
        if p.kind == "connect":
            accepted = error is None and any(frame_kind(f) == "connected" and f["to"] == who
                                             and f["connected"] is True for f in frames)
        else:
            accepted = error is None and bool(reply.get("connected"))
            if (error is None and not accepted and not state.cancelled
                    and not slot.sinks.get(who) and not self._closing):
                # Its principal's other streams ended since it asked (the
                # document was reloaded): it is the first stream again.
                state.joining = True
                self._submit(slot, "connect", who, p.payload, waiter, sink, bounded=False)
                return
        if accepted and not state.cancelled:
            slot.sinks.setdefault(who, []).append(sink)
        if p.kind == "connect":
            if accepted:
                slot.asks[who] = {}
                slot.last_seq.pop(who, None)
            self._dispatch(slot, frames, reply.get("deltas", ()), who,
                           joined=who if accepted else None)
        elif accepted and not state.cancelled:
            slot.asks[who] = {a["id"]: a for a in reply["asks"]}
            sink.reset(encode_view(reply["view"]), slot.last_seq.get(who, 0),
                         slot.outstanding(who))
        if not accepted:
            if self._attached.get(sink, (None,))[0] is slot:
                del self._attached[sink]
            slot.members[who] = max(0, slot.members.get(who, 0) - 1)
            if waiter is not None and not waiter.done():
                outcome = error or _sender_error(frames, who) or [
                    "connect_refused", self._refusal(slot.key, who)]
                waiter.set_exception(RouterError(outcome[0], outcome[1]))
            return
        if state.cancelled:
            self._leave(slot, who)
            if waiter is not None and not waiter.done():
                waiter.set_exception(RouterError("cancelled", "the stream ended while connecting"))
            return
        if waiter is not None and not waiter.done():
            waiter.set_result({"seq": slot.last_seq.get(who, 0)})

    def _refusal(self, key: str, who: str) -> str:
        """Which hook refused a connection (spec/protocol.md 8.7)."""
        if "connected" not in self.module.meta["handlers"]:
            return (f"document {key!r} has no @connected, so nobody may connect "
                    f"(spec/language.md 4.20); {who} was refused")
        return f"@connected returned false for {who} on document {key!r}"

    def _leave(self, slot: Slot, who: str) -> None:
        left = slot.members.get(who, 0) - 1
        if left > 0:
            slot.members[who] = left
            return
        slot.members.pop(who, None)
        slot.sinks.pop(who, None)
        slot.asks.pop(who, None)
        slot.last_seq.pop(who, None)
        if not self._closing and slot.runner is not None:
            self._submit(slot, "disconnect", who, {"who": who}, None, bounded=False)

    def _dispatch(self, slot: Slot, frames, delta_frames, sender, joined: str | None = None,
                  end_code: str = "disconnected") -> None:
        """Forward one reply's frames to the sinks they are for. `frames`
        are the runtime's (spec/runtime.md 3), read by their declared kind
        (runtime/contracts.py); the deltas come apart, as (to, patch, seq)."""
        if not frames and joined is None:
            # Only deltas (no asks, errors or departures): each goes out as it
            # comes, which is what the general path below does too.
            sinks_of = slot.sinks
            last_seq = slot.last_seq
            for to, patch, seq in delta_frames:
                last_seq[to] = seq
                sinks = sinks_of.get(to)
                if sinks:
                    item = ((patch, seq),)
                    for v in sinks:
                        v.deltas(item, None)
            return
        deltas: dict[str, list] = {}
        changed: set[str] = set()
        kicked: list[str] = []
        notes: list[dict] = []
        last_seq = slot.last_seq
        for to, patch, seq in delta_frames:
            items = deltas.get(to)
            if items is None:
                deltas[to] = [(patch, seq)]
            else:
                items.append((patch, seq))
            last_seq[to] = seq
        for f in frames:
            to = f["to"]
            kind = frame_kind(f)
            if kind == "ask":
                if to in slot.asks:
                    slot.asks[to][f["ask"]["id"]] = f["ask"]
                    changed.add(to)
            elif kind == "ask_closed":
                asks = slot.asks.get(to)
                if asks is not None and asks.pop(f["ask_closed"], None) is not None:
                    changed.add(to)
            elif kind == "connected":
                if f["connected"] is False and to != joined and to in slot.sinks:
                    kicked.append(to)
            elif kind == "error" and to != sender and to in slot.sinks:
                notes.append(f)
        if joined is not None:
            changed.add(joined)  # a new stream's first frame always lists its asks
        sinks_of = slot.sinks
        for who, items in deltas.items():
            sinks = sinks_of.get(who)
            if sinks:
                outstanding = slot.outstanding(who) if who in changed else None
                for v in sinks:
                    v.deltas(items, outstanding)
        for who in changed:
            if who not in deltas:
                outstanding = slot.outstanding(who)
                for v in sinks_of.get(who, ()):
                    v.deltas([], outstanding)
        for f in notes:
            for v in slot.sinks.get(f["to"], ()):
                v.notify(f["error"])
        for who in kicked:
            self._kick(slot, who, end_code, f"document {slot.key!r} let {who} go"
                       if end_code == "disconnected" else f"document {slot.key!r} was deleted")

    def _kick(self, slot: Slot, who: str, code: str, message: str) -> None:
        for v in slot.sinks.pop(who, ()):
            self._attached.pop(v, None)
            v.ended(code, message)
        slot.members.pop(who, None)
        slot.asks.pop(who, None)
        slot.last_seq.pop(who, None)

    def _destroyed(self, slot: Slot, due: int | None = None) -> None:
        """Deleted: its streams end. `due`: a deleted document whose replicated
        copies are still being deleted is woken then to go on (language.md 4.30)."""
        self._end_debuggers(slot, "destroyed", f"document {slot.key!r} was deleted", tell=True)
        for who in list(slot.sinks):
            self._kick(slot, who, "destroyed", f"document {slot.key!r} was deleted")
        self._set_due(slot.key, due)
        slot.loaded = False

    def _dropped(self, slot: Slot) -> None:
        """The runner let go of the document after a failure (net/shard.py
        Shard._drop): it loads again on its next request, where nobody is
        connected. Every stream of it ends, with the reason; streams still
        joining stay counted and join the reloaded document."""
        message = f"document {slot.key!r} was reloaded after a failure; connect again"
        for who in list(slot.sinks):
            sinks = slot.sinks.pop(who)
            for v in sinks:
                self._attached.pop(v, None)
                v.ended("reloaded", message)
            left = slot.members.get(who, 0) - len(sinks)
            if left > 0:
                slot.members[who] = left
            else:
                slot.members.pop(who, None)
            slot.asks.pop(who, None)
            slot.last_seq.pop(who, None)

    def _runner_lost(self, slot: Slot) -> None:
        self._end_debuggers(slot, "worker_failed", "the document's worker stopped; subscribe again",
                            tell=False)
        for who in list(slot.sinks):
            self._kick(slot, who, "worker_failed", "the document's worker stopped; reconnect")
        slot.loaded = False

    def _runner_died(self, runner) -> None:
        for slot in list(self.slots.values()):
            if slot.runner is runner and not slot.queue:
                self._runner_lost(slot)
                self._forget(slot)
        if not self._closing:
            self._tasks.append(asyncio.create_task(self._respawn(runner)))

    async def _respawn(self, dead) -> None:
        """A worker that died (killed, or crashed in native code) is replaced;
        its documents load again from the store on their next request."""
        fresh = ProcessRunner(dead.module_bytes, dead.backend, dead.store, dead.index,
                              on_death=self._runner_died)
        try:
            await fresh.start()
        except Exception:
            return
        if self._closing:
            await fresh.close()
            return
        # a canary deployed to the dead worker holds for its replacement too
        fresh.canaries = list(getattr(dead, "canaries", []))
        for payload in fresh.canaries:
            fresh.call("deploy", "", payload, self.clock(), lambda reply: None)
        self.runners[self.runners.index(dead)] = fresh

    # ------------------------------------------------------------ sleep and wake

    def _set_due(self, key: str, due) -> None:
        if self._due.get(key) == due:
            return
        if due is None:
            self._due.pop(key, None)
            return
        self._due[key] = due
        if len(self._heap) > 2 * len(self._due) + 64:
            # Entries a later due time replaced stay in the heap until they come
            # up; a document whose due time keeps moving would grow it for good.
            self._heap = [(d, k) for k, d in self._due.items()]
            heapq.heapify(self._heap)
        else:
            heapq.heappush(self._heap, (due, key))
        if self._wake is not None and self._heap[0] == (due, key):
            self._wake.set()

    def next_wake(self):
        """(due ms, key) of the next document to wake, for tests and tools."""
        while self._heap and self._due.get(self._heap[0][1]) != self._heap[0][0]:
            heapq.heappop(self._heap)
        return self._heap[0] if self._heap else None

    def poke(self) -> None:
        """Re-read the clock now (for an injected clock that jumped)."""
        if self._wake is not None:
            self._wake.set()

    async def _waker(self) -> None:
        # A store several hosts share (PostgreSQL, spec/store.md 20.5) also
        # holds the wake times of documents no host runs (theirs died): looked
        # for once a lease period.
        poll = getattr(self.store, "lease_ms", 0) / 1000 if getattr(
            self.store, "owner", None) is not None else None
        polled = None
        while True:
            self._wake.clear()
            if poll is not None and (polled is None or time.monotonic() - polled >= poll):
                polled = time.monotonic()
                await self._orphans(poll)
            now = self.clock()
            while (top := self.next_wake()) is not None and top[0] <= now:
                heapq.heappop(self._heap)
                del self._due[top[1]]  # the advance's reply sets the next one
                self.stats["wakes"] += 1
                fresh = top[1] not in self.slots
                slot = self._slot(top[1])
                if fresh:  # woken from sleep: unloaded again once it ran (seed 004, sleep/wake)
                    slot.used = 0.0
                self._submit(slot, "advance", None, {}, None, bounded=False)
            top = self.next_wake()
            timeout = None if top is None else min(max(0.0, (top[0] - self.clock()) / 1000), 60.0)
            if poll is not None:
                timeout = poll if timeout is None else min(timeout, poll)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except asyncio.TimeoutError:
                pass

    async def _orphans(self, lease_s: float) -> None:
        """Documents in the shared store due more than a lease ago: a live
        owner wakes its own at once, so these sleep with no host, and this
        host takes their wake-ups. Loading takes the document's lease, so one
        host wakes it, once; the others' loads are refused (LeaseLost)."""
        try:
            found = await asyncio.to_thread(self.store.due, self.clock() - int(lease_s * 1000), 256)
        except Exception:  # the database is away: the next round asks again
            return
        for due, key in found:
            if key not in self.slots and key not in self._due:
                self._set_due(key, due)

    async def _reaper(self) -> None:
        period = max(0.01, min(1.0, self.idle_unload_s / 4))
        while True:
            await asyncio.sleep(period)
            cutoff = time.monotonic() - self.idle_unload_s
            for slot in list(self.slots.values()):
                if (slot.runner is not None and slot.loaded and not slot.closing
                        and slot.idle() and slot.used <= cutoff):
                    slot.closing = True
                    self._submit(slot, "close", None, {}, None, bounded=False)

    # ------------------------------------------------------------ the memory budget

    def held(self, runner) -> int:
        """The memory estimates of the documents `runner` holds, added up."""
        return sum(s.bytes for s in self.slots.values() if s.runner is runner and s.loaded)

    def _shed(self, runner) -> bool:
        """Within `runner`'s memory budget, counting the documents being
        unloaded as gone? If not, unload its idle documents (nobody
        connected, no input in flight, no @debug subscriber), least recently
        used first, until it is. Whether it is within the budget then."""
        mine = [s for s in self.slots.values() if s.runner is runner and s.loaded and not s.closing]
        held = sum(s.bytes for s in mine)
        if held <= self.memory_budget:
            return True
        for slot in sorted((s for s in mine if s.idle()), key=lambda s: s.used):
            slot.closing = True
            held -= slot.bytes
            self.stats["budget_unloads"] += 1
            self._submit(slot, "close", None, {}, None, bounded=False)
            if held <= self.memory_budget:
                return True
        return False

    def _admit(self, slot: Slot) -> RouterError | None:
        """Whether document `slot.key` may be loaded: on its runner if it has
        one, else on the least busy live runner within its budget (idle
        documents unloaded to make room). None when it may (and the slot is
        placed), else the `memory_full` refusal."""
        if slot.runner is not None:
            candidates = [slot.runner]
        else:
            candidates = sorted((r for r in self.runners if not r.dead), key=lambda r: (r.inflight, r.placed))
            if not candidates:
                return None  # _place says every worker has stopped
        for runner in candidates:
            if self._shed(runner):
                if slot.runner is None:
                    slot.runner = runner
                    runner.placed += 1
                return None
        mb = self.memory_budget / 1e6
        held = max(self.held(r) for r in candidates) / 1e6
        return RouterError("memory_full", f"document {slot.key!r} cannot be loaded now: the documents "
                           f"loaded hold about {held:.1f} MB, past the memory budget of {mb:.1f} MB "
                           "per worker, and none of them is idle; retry later")

    def _refuse_load(self, slot: Slot, kind: str, waiter, refusal: RouterError) -> None:
        self.stats["memory_refusals"] += 1
        if waiter is not None:
            waiter.set_exception(refusal)
        if kind == "advance":  # a timer's wake: tried again shortly
            self._set_due(slot.key, self.clock() + MEMORY_RETRY_MS)
        if (slot.runner is None and not slot.queue and not any(slot.members.values())
                and not slot.debuggers and self.slots.get(slot.key) is slot):
            del self.slots[slot.key]

    # ------------------------------------------------------------ introspection

    def loaded(self) -> list[str]:
        return sorted(k for k, s in self.slots.items() if s.loaded)

    def placement(self, key: str):
        slot = self.slots.get(key)
        return None if slot is None or slot.runner is None else slot.runner


class _SinkState:
    __slots__ = ("joining", "cancelled")

    def __init__(self):
        self.joining = False
        self.cancelled = False


def sink_state(sink) -> _SinkState:
    state = getattr(sink, "_router_state", None)
    if state is None:
        state = sink._router_state = _SinkState()
    return state


def _sender_error(frames, who):
    """[code, message] of the error frame for `who` among `frames`, or None."""
    for f in frames:
        if f["to"] == who and frame_kind(f) == "error":
            return [f["error"]["code"], f["error"]["message"]]
    return None


__all__ = ["Debugger", "Router", "RouterError", "IDLE_UNLOAD_S", "QUEUE_LIMIT", "Reply", "Slot", "Sink", "check_key",
           "wall_clock_ms"]
