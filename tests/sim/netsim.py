"""The simulator over the protocol handler, with the network and the disk
replaced by doubles that inject faults (issue 21 point 2, spec/simulation.md 1.2).

    problem = netsim(SeededDraw(seed), NetConfig()).problem   # None: clean

What is real: the server's protocol handler (net/server.py `Server` and
`Socket`, `Stream`, the outbox, its overflow and resync), the router
(net/router.py), the shard and the runtime host (net/shard.py,
runtime/host.py), the durable documents (durable/document.py) and the LMDB
store (store/), export and import (durable/transfer.py), replay.

What is doubled, all driven from one seeded draw in one thread:

- the event loop: `SimLoop`, asyncio's own loop with a selector that never
  waits and a virtual clock (`loop.time()`, and the router's clock in ms);
  the simulator runs its ready callbacks until none is left, then chooses
  what happens next;
- the lane: `SimRunner`, a `Runner` (net/runners.py) that runs the real
  `Shard` on the loop itself instead of a thread;
- the network: `FakeWS`, what `Socket` reads requests from and writes frames
  to (`async for`, `transport.write`, `paused`, `drain`, `close`). Each
  direction is a FIFO pipe; the simulator delivers frames pipe by pipe in a
  drawn order (so frames are delayed and reordered across sockets), cuts
  connections (every frame still in the pipes is dropped), stops a client
  reading (the socket's writes back up: `paused`), and a client whose
  connection was cut before its answer sends the same message again on its
  next connection (a duplicate, which the server cannot tell apart);
- the disk: `SimStore`, in front of the real store: writes wait in a queue
  until the simulator flushes some of them; a flush may fail one with
  ENOSPC (`MapFull`) or EIO (the store then fails every write until the
  process restarts, as store/commit.py does after an LMDB error), or the
  process may crash before a commit, after it and before its
  acknowledgement, or in the middle of a group of commits (a torn last
  write: LMDB commits a transaction whole or not at all, so what tears is
  the group). A crash drops everything in memory (loop, router, documents,
  sockets, queued writes); the store as committed is what the next process
  starts from.

The invariants are judged at settle points (every `settle_every` steps and
at the end: readers resumed, every frame delivered, every write flushed):
(b) and (e) views, (c) durability over the protocol, (f) answers, (g)
documented failures, (a) no marker in any failure or error frame, (d)
replay of the final store.
"""
from __future__ import annotations

import asyncio
import json
import selectors
import shutil
import tempfile
from collections import deque
from dataclasses import dataclass, field
from types import SimpleNamespace

from docgen import PEOPLE, gen_doc
from draw import Draw
from sim import MARKER, Marks, Problem, compiled, message

from advm.views.merge import ViewState

MAIN, OTHER = "main", "other"
# Failure reasons a client may get (spec/protocol.md 8.7, spec/runtime.md 4);
# `internal` is not among them: it is a bug.
REASONS = {"queue_full", "destroyed", "not_created", "already_created", "already_connected",
           "not_connected", "unknown_ask", "stale_ask", "wrong_principal", "invalid_answer",
           "no_open_ask", "input", "abort", "assert", "budget", "error", "delete_refused",
           "unknown_channel", "create_refused", "store", "reloaded", "disconnected",
           "shutting_down", "not_found", "throttled", "connect_refused", "cancelled",
           "unknown_connection", "worker_failed"}


@dataclass
class NetConfig:
    steps: int = 60
    settle_every: int = 12
    store_dir: str | None = None
    lanes: bool = False   # documents on a worker and its lanes (lanesim.py), not on the loop


@dataclass
class NetResult:
    source: str
    trace: list[str] = field(default_factory=list)
    problem: Problem | None = None
    frames: int = 0
    crashes: int = 0
    reconnects: int = 0
    faults: int = 0
    settles: int = 0
    worker_inputs: int = 0        # with lanes: requests the worker's lanes ran
    lanes_used: int = 0           # with lanes: the most lanes one process's inputs ran on
    store_reads: int = 0          # with lanes: store reads the worker waited for (executor jobs)
    worker_deaths: int = 0        # with lanes: workers that died alone (and were replaced)


# ---------------------------------------------------------------- the loop


class _NeverWaits(selectors.BaseSelector):
    def __init__(self):
        self._map = {}

    def register(self, fileobj, events, data=None):
        fd = fileobj if isinstance(fileobj, int) else fileobj.fileno()
        key = selectors.SelectorKey(fileobj, fd, events, data)
        self._map[fd] = key
        return key

    def unregister(self, fileobj):
        fd = fileobj if isinstance(fileobj, int) else fileobj.fileno()
        return self._map.pop(fd)

    def select(self, timeout=None):
        return []

    def get_map(self):
        return self._map

    def close(self):
        self._map.clear()


class SimLoop(asyncio.SelectorEventLoop):
    """asyncio's loop, never waiting on anything, on a virtual clock."""

    def __init__(self):
        super().__init__(_NeverWaits())
        self.now = 1_000.0  # seconds

    def time(self):
        return self.now

    def ms(self) -> int:
        return int(self.now * 1000)

    def run_ready(self) -> None:
        """Run callbacks until only timers in the future are left."""
        for _ in range(100_000):
            due = self._scheduled and self._scheduled[0]._when <= self.now
            if not self._ready and not due:
                return
            self.call_soon(self.stop)
            self.run_forever()
        raise Problem("g", "the event loop never goes quiet (a callback loop)")

    def next_timer(self):
        live = [h._when for h in self._scheduled if not h._cancelled]
        return min(live) if live else None


# ---------------------------------------------------------------- the lane


class SimRunner:
    """net/runners.py's Runner contract, the Shard run on the loop itself."""

    name = "sim"

    def __init__(self, module, backend, loop):
        from advm.net.shard import Shard

        self.placed = 0
        self.inflight = 0
        self.dead = False
        self.loop = loop
        self.shard = Shard(module, backend)

    def call(self, kind, key, payload, now, done):
        self.inflight += 1
        self.loop.call_soon(self._run, kind, key, payload, now, done)

    def _run(self, kind, key, payload, now, done):
        fut = self.shard.handle(kind, key, payload, now)
        fut.add_done_callback(lambda f: self.loop.call_soon(self._finish, done, f.result()))

    def _finish(self, done, value):
        self.inflight -= 1
        done(value)

    async def start(self):
        pass

    async def close(self):
        pass


# ---------------------------------------------------------------- the disk


class _Write:
    __slots__ = ("method", "args", "kwargs", "fut", "callback", "doc")

    def __init__(self, method, args, kwargs, fut, callback):
        self.method, self.args, self.kwargs = method, args, kwargs
        self.fut, self.callback = fut, callback
        self.doc = args[0] if args and isinstance(args[0], str) else None


def _future(store):
    import concurrent.futures as cf

    class DiskFuture(cf.Future):
        """A write's future; waiting on it (what durable/document.py does to
        read its own writes) flushes the disk double up to it."""

        def result(self, timeout=None):
            if not self.done():
                store.flush_through(self)
            return super().result(0)

        def exception(self, timeout=None):
            if not self.done():
                store.flush_through(self)
            return super().exception(0)

    return DiskFuture()


class SimStore:
    """The store (store/interface.py) in front of a real one: reads go
    through, writes wait until flushed (spec/simulation.md 1.2)."""

    WRITES = ("commit", "append_envelope", "append", "schedule", "delete", "trim", "put_module",
              "barrier")

    def __init__(self, real):
        self.real = real
        self.queue: deque[_Write] = deque()
        self.broken = None      # the error every write gets after an EIO, until a restart
        self.fault = None       # "enospc" or "eio": the next flushed write fails so
        self.faults = 0
        for name in self.WRITES:
            setattr(self, name, self._writer(name))

    def __getattr__(self, name):
        return getattr(self.real, name)

    def _writer(self, name):
        def write(*args, callback=None, **kwargs):
            fut = None if callback is not None else _future(self)
            self.queue.append(_Write(name, args, kwargs, fut, callback))
            return fut
        return write

    def flush(self, n: int | None = None) -> None:
        for _ in range(len(self.queue) if n is None else min(n, len(self.queue))):
            self._land(self.queue.popleft(), ack=True)

    def commit_only(self, n: int) -> None:
        """Write the first n queued writes to disk and tell nobody (the
        process dies before their acknowledgements)."""
        for _ in range(min(n, len(self.queue))):
            self._land(self.queue.popleft(), ack=False)

    def flush_through(self, fut) -> None:
        while self.queue:
            w = self.queue.popleft()
            self._land(w, ack=True)
            if w.fut is fut:
                return

    def _land(self, w: _Write, ack: bool) -> None:
        from advm.store.errors import MapFull, StoreError

        kwargs = dict(w.kwargs)
        fail = kwargs.get("fail")
        result = error = None
        if self.broken is not None:
            error = self.broken
        elif self.fault is not None and w.method != "barrier":
            kind, self.fault = self.fault, None
            self.faults += 1
            if kind == "enospc":
                error = MapFull(f"store at {self.real.path} is full (simulated ENOSPC); nothing was "
                                f"written for document {w.doc!r}", doc=w.doc)
            else:
                error = self.broken = StoreError(
                    f"store at {self.real.path} failed (simulated EIO: [Errno 5] Input/output error); "
                    "nothing after the last acknowledged commit is durable. Restart to recover from disk.")
        else:
            try:
                result = getattr(self.real, w.method)(*w.args, **kwargs).result()
            except Exception as e:  # noqa: BLE001 - the real store's refusal, passed on
                error = e
                fail = None  # the real store applied it already
        if error is not None and fail is not None:
            error = fail(error)  # (a write that landed answered with its `value` already)
        if not ack:
            return
        if w.callback is not None:
            w.callback(None, error) if error is not None else w.callback(result, None)
        elif error is not None:
            w.fut.set_exception(error)
        else:
            w.fut.set_result(result)

    def close(self) -> None:  # the real store outlives the process double
        pass


# ---------------------------------------------------------------- the network


def parse_frames(data: bytes) -> list[str]:
    """The server's unmasked WebSocket text frames (net/server.py text_frame)."""
    out = []
    i = 0
    while i < len(data):
        b0, b1 = data[i], data[i + 1]
        assert b0 == 0x81 and not b1 & 0x80, (b0, b1)
        n = b1 & 0x7F
        i += 2
        if n == 126:
            n = int.from_bytes(data[i:i + 2], "big")
            i += 2
        elif n == 127:
            n = int.from_bytes(data[i:i + 8], "big")
            i += 8
        out.append(data[i:i + n].decode("utf-8"))
        i += n
    return out


class FakeWS:
    """One connection as the real `Socket` sees it (net/server.py Socket.run,
    flush, _drain, _overflow): requests by `async for`, frames by
    `transport.write`, backpressure by `paused` and `drain()`."""

    def __init__(self, loop, number: int):
        from websockets.protocol import OPEN

        self.loop = loop
        self.protocol = SimpleNamespace(state=OPEN)
        self.transport = self
        self.remote_address = (f"10.0.0.{number % 250 + 1}", 40000 + number)
        self.request = SimpleNamespace(headers={})
        self.paused = False
        self.up: deque[str] = deque()      # client -> server, in the network
        self.arrived: deque[str] = deque()  # ... delivered, for the server to read
        self.down: deque = deque()         # server -> client, in the network: text or ("close", code)
        self.gone = False                  # cut, or closed by either side
        self.close_code = None
        self._reader = None
        self._drained = None

    # the server's side
    def __aiter__(self):
        return self

    async def __anext__(self):
        while not self.arrived:
            if self.gone:
                raise StopAsyncIteration
            self._reader = self.loop.create_future()
            await self._reader
        return self.arrived.popleft()

    def write(self, data: bytes) -> None:
        if not self.gone:
            self.down.extend(parse_frames(data))

    def is_closing(self) -> bool:
        return self.gone

    async def drain(self) -> None:
        if self.paused and not self.gone:
            self._drained = self.loop.create_future()
            await self._drained

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if not self.gone:
            self.down.append(("close", code, reason))
            self._end()

    # the network's side
    def _wake(self):
        if self._reader is not None and not self._reader.done():
            self._reader.set_result(None)

    def _end(self) -> None:
        from websockets.protocol import CLOSED

        self.gone = True
        self.protocol.state = CLOSED
        self._wake()
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    def cut(self) -> None:
        """The connection breaks: what is in the pipes is lost."""
        self.up.clear()
        self.down.clear()
        self._end()

    def deliver_up(self, n: int) -> None:
        for _ in range(min(n, len(self.up))):
            self.arrived.append(self.up.popleft())
        self._wake()

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        if not paused and self._drained is not None and not self._drained.done():
            self._drained.set_result(None)


# ---------------------------------------------------------------- clients


class Stream:
    def __init__(self, sid: int, who: str, reconnect: bool):
        self.id = sid
        self.who = who
        self.view = ViewState()
        self.asks: dict[int, dict] = {}
        self.open = True        # no end seen
        self.joined = False     # its first frame came
        self.reconnect = reconnect
        self.judged = False


class Conn:
    """One client socket: what it sent, what it was answered."""

    def __init__(self, number: int, who: str, ws: FakeWS, key: str = MAIN):
        self.number = number
        self.who = who
        self.ws = ws
        self.key = key
        self.next_id = 1
        self.requests: dict[int, dict] = {}   # rid -> {"method", "tag", "answer": None | "ok" | reason}
        self.streams: dict[int, Stream] = {}
        self.closed_by_server = None


# ---------------------------------------------------------------- one process


class Process:
    """One server process: its loop, router, server and disk double."""

    def __init__(self, module, real_store, limits, seeds, lanes_draw=None):
        from advm.net.documents import DurableBackend
        from advm.net.router import Router
        from advm.net.server import Server

        self.loop = SimLoop()
        self.made: list = []  # every simulated worker of this process
        self.store = SimStore(real_store)
        self.router = Router(module, store=self.store, backend="durable", clock=self.loop.ms,
                             idle_unload_s=10 ** 9)
        if lanes_draw is None:
            self.lane = None
            self.runner = SimRunner(module, DurableBackend(module, self.store, seeds=seeds), self.loop)
        else:  # a worker process with its lanes, over the real ProcessRunner (lanesim.py)
            self.module, self.lanes_draw, self.seeds = module, lanes_draw, seeds
            self.old_lanes: list = []   # workers that died, until the router has let them go
            self.lane = self._lane()
            self.runner = self.lane.runner
            # Router._respawn, with a simulated worker for the real process
            self.router._respawn = self._respawn
        self.server = Server(self.router, _Tokens(), limits=limits)
        self.server._loop = self.loop
        self.do(self._start)

    async def _start(self):
        r = self.router
        # Router.start, with the one runner on the loop and no idle reaper
        # (the simulator unloads documents itself).
        r._wake = asyncio.Event()
        r.runners = [self.runner]
        await self.runner.start()
        for due, key in self.store.due(2 ** 62):
            r._set_due(key, due)
        await r.services.start()
        r._tasks = [asyncio.ensure_future(r._waker())]
        r.started = True

    def _lane(self):
        from lanesim import Lane

        lane = Lane(self.module, self.loop, self.store, self.lanes_draw, self.seeds,
                    on_death=self.router._runner_died)
        lane.worker.link.settle = self.settle
        self.made.append(lane)
        return lane

    async def _respawn(self, dead) -> None:
        """Router._respawn: a worker that died is replaced (here by a new
        simulated worker); its documents load again on their next request."""
        self.old_lanes.append(self.lane)
        self.lane = self._lane()
        fresh = self.runner = self.lane.runner
        await fresh.start()
        if self.router._closing:
            await fresh.close()
            return
        self.router.runners[self.router.runners.index(dead)] = fresh

    def kill_worker(self) -> None:
        """The worker process dies (killed, or crashed in native code): its
        threads stop where they are, what it wrote is still read, then EOF."""
        self.lane.die()
        self.settle()

    def do(self, fn, *args):
        """Run fn (a coroutine function or a plain one) on the loop; then the loop until quiet."""
        out = {}

        def go():
            got = fn(*args)
            if asyncio.iscoroutine(got):
                out["task"] = asyncio.ensure_future(got)
        self.loop.call_soon(go)
        self.loop.run_ready()
        return out.get("task")

    def accept(self, ws: FakeWS):
        ws.task = self.do(self.server._handle, ws)  # the socket's handler, until it ends

    def settle(self, limit: int = 10_000) -> None:
        """Everything in flight on the server side finishes: writes flush, timers due now fire."""
        for _ in range(limit):
            self.loop.run_ready()
            if self.lane is not None and (self.lane.pump() | any([old.pump() for old in self.old_lanes])):
                continue
            if self.store.queue:
                self.store.flush(1)
                continue
            return
        raise Problem("f", "the server never settles (writes keep coming)")

    def advance(self, seconds: float) -> None:
        target = self.loop.now + seconds
        while True:
            self.settle()
            t = self.loop.next_timer()
            if t is None or t > target:
                break
            self.loop.now = max(self.loop.now, t)
        self.loop.now = target
        self.settle()

    def shutdown(self) -> None:
        """A clean stop: what the router holds finishes, documents close, sockets close (1001)."""
        self.server._server = _Listening()
        task = self.do(self.server.close)
        for _ in range(10_000):
            if task.done():
                break
            self.settle()
            t = self.loop.next_timer()
            if t is not None:
                self.loop.now = max(self.loop.now, t)
        task.result()
        self.settle()
        self.dispose()

    def dispose(self) -> None:
        """The process is gone: nothing of it runs again."""
        if self.lane is not None:  # the first worker's dispose gives the VM its settings back
            for lane in reversed(self.made):
                lane.dispose(restore=lane is self.made[0])
        for t in asyncio.all_tasks(self.loop):
            t.cancel()
        try:
            self.loop.run_ready()
        except Problem:
            pass
        self.loop.close()


class _Listening:
    def close(self, close_connections=False):
        pass

    async def wait_closed(self):
        pass


class _Tokens:
    """The server's token check: a principal's token is its name (the
    simulator plays every client; signing is not what is tested here)."""

    def verify(self, identity):
        from advm.net.tokens import TokenError

        if identity in PEOPLE:
            return identity
        raise TokenError("bad_token", "not a simulated principal")


# ---------------------------------------------------------------- the simulation


class NetSim:
    def __init__(self, draw: Draw, spec, module, root: str, result: NetResult, lanes: bool = False):
        from advm.net.server import Limits
        from advm.store import Store

        self.draw = draw
        self.spec = spec
        self.module = module
        self.root = root
        self.result = result
        self.lanes = lanes
        self.workers: list = []
        self.real = Store(f"{root}/host0", durability="relaxed")
        self.limits = Limits(rate=1e9, burst=1e9, max_pending_bytes=1500,
                             max_pending_hard_bytes=64 * 1024, ping_interval=None)
        self.seeds = 0
        self.proc = self._process()
        self.marks = Marks()
        self.conns: list[Conn] = []
        self.numbers = 0
        self.sends: list[dict] = []      # every connection/send of a message: {"tag", "conn", "answer"}
        self.probe: Conn | None = None
        self.had_stream: set[str] = set()
        self.moved = 0

    def _seed(self):
        import hashlib

        self.seeds += 1  # runtime/document.py fresh_seed's shape, drawn from the run
        return hashlib.sha256(f"sim-{self.seeds}".encode()).hexdigest()

    def _process(self) -> Process:
        proc = Process(self.module, self.real, self.limits, self._seed, self.draw if self.lanes else None)
        self.workers.append(proc)
        return proc

    def count_lanes(self) -> None:
        r = self.result
        lanes = [lane for proc in self.workers for lane in proc.made]
        r.worker_inputs = sum(lane.worker.inputs for lane in lanes)
        r.lanes_used = max((len(lane.worker.lanes_seen) for lane in lanes), default=0)
        r.store_reads = sum(lane.executor.ran for lane in lanes)
        r.worker_deaths = sum(lane.died for lane in lanes)

    def log(self, line: str) -> None:
        self.result.trace.append(line)

    # ------------------------------------------------------------ client side

    def open_conn(self, who: str, key: str = MAIN) -> Conn:
        self.numbers += 1
        ws = FakeWS(self.proc.loop, self.numbers)
        c = Conn(self.numbers, who, ws, key)
        self.conns.append(c)
        self.proc.accept(ws)
        self.log(f"open #{c.number} {who}")
        return c

    def request(self, c: Conn, req: dict, **note) -> int:
        rid = c.next_id
        c.next_id += 1
        req = {"id": rid, "identity": c.who, **req}
        c.requests[rid] = {"method": req["method"], "answer": None, **note}
        text = json.dumps(req, sort_keys=True)
        c.ws.up.append(text)
        self.log(f"#{c.number} > {text}")
        return rid

    def connect(self, c: Conn) -> None:
        req = {"method": "connection/create", "key": c.key}
        if self.spec.paged and self.draw.chance(30):
            req["viewer-state"] = {"pg": self.draw.int(0, 4)}
        rid = self.request(c, req)
        c.streams[rid] = Stream(rid, c.who, reconnect=c.who in self.had_stream)
        self.result.reconnects += c.who in self.had_stream
        self.had_stream.add(c.who)

    def live(self) -> list[Conn]:
        """The clients' connections to the main document that are up."""
        return [c for c in self.conns if not c.ws.gone and c.key == MAIN]

    def take(self, c: Conn, item) -> None:
        """One frame reaches the client."""
        self.result.frames += 1
        if isinstance(item, tuple):
            c.closed_by_server = item[1]
            self.log(f"#{c.number} < close {item[1]}")
            return
        self.log(f"#{c.number} < {item}")
        f = json.loads(item)
        if "status" in f:
            return
        if "failure" in f:
            rid = f["failure"]
            if MARKER.search(f.get("message", "")):
                raise Problem("a", f"a failure to {c.who} carries a marker: {item}")
            if f["reason"] not in REASONS:
                raise Problem("g", f"a failure with an undocumented reason: {item}")
            if rid is None:
                raise Problem("g", f"a request the simulator made well was refused: {item}")
            stream = c.streams.get(rid)
            if stream is not None and stream.joined:
                stream.open = False  # a stream that ended
                return
            if stream is not None:
                stream.open = False
            self._answer(c, rid, f["reason"])
            return
        rid, response = f["deliver"], f["response"]
        stream = c.streams.get(rid)
        if stream is not None and not f["done"]:
            if not stream.open:
                return
            if "error" in response:
                if MARKER.search(json.dumps(response["error"])):
                    raise Problem("a", f"an error frame to {c.who} carries a marker: {item}")
                return
            d = response["delta"]
            if "data" in d:
                try:
                    if d.get("reset") or not stream.joined:
                        stream.view.reset()
                    stream.view.apply(d["data"], d["seq"])
                except ValueError as e:
                    raise Problem("b", f"#{c.number} {c.who} cannot apply {item}: {e}") from None
            if "outstanding" in d:
                stream.asks = {a["id"]: a for a in d["outstanding"]}
            if not stream.joined:
                stream.joined = True
                self._answer(c, rid, "ok")
            return
        if stream is not None and f["done"] and response == {}:
            stream.open = False  # its connection/end
            if not stream.joined:  # ended before it joined: that answers its connection/create
                self._answer(c, rid, "ok")
            return
        self._answer(c, rid, "ok" if f["done"] else None)

    def _answer(self, c: Conn, rid: int, outcome) -> None:
        r = c.requests.get(rid)
        if r is None or outcome is None:
            return
        if r["answer"] is not None:
            raise Problem("f", f"request {rid} on #{c.number} answered twice")
        r["answer"] = outcome

    def deliver_down(self, c: Conn, n: int) -> None:
        for _ in range(n):
            if not c.ws.down or c.ws.paused:
                return
            self.take(c, c.ws.down.popleft())

    def quiesce(self) -> None:
        """Every frame in the network delivered, every write flushed, until nothing moves."""
        for _ in range(1000):
            moved = False
            for c in self.conns:
                c.ws.set_paused(False)
                if c.ws.up:
                    self.log(f"#{c.number} {len(c.ws.up)} up")
                    c.ws.deliver_up(len(c.ws.up))
                    moved = True
            self.proc.settle()
            for c in self.conns:
                if c.ws.down:
                    self.deliver_down(c, len(c.ws.down))
                    moved = True
            self.proc.settle()
            if not moved and not self.proc.store.queue:
                return
        raise Problem("f", "the network never goes quiet")

    # ------------------------------------------------------------ faults

    def crash(self, how: str) -> None:
        """The process dies: `before` its queued writes commit, `after` they
        commit (unacknowledged), or `torn` (some of them)."""
        q = len(self.proc.store.queue)
        if how == "after":
            self.proc.store.commit_only(q)
        elif how == "torn" and q:
            self.proc.store.commit_only(self.draw.int(0, q - 1))
        self.log(f"crash {how} ({q} writes queued)")
        self.result.crashes += 1
        for c in self.conns:
            c.ws.cut()
        old = self.proc
        old.store.queue.clear()
        old.dispose()
        self.proc = self._process()

    def restart(self) -> None:
        self.log("restart")
        for c in self.conns:
            c.ws.set_paused(False)
        self.quiesce()
        self.proc.shutdown()
        for c in self.conns:
            while c.ws.down:
                self.take(c, c.ws.down.popleft())
            c.ws.cut()
        self.proc = self._process()

    def move(self) -> None:
        """Every document moves to another host: exported after a clean
        stop, imported into a new store, served from there."""
        from advm.durable.transfer import export_document, import_document
        from advm.store import Store

        self.log("move")
        for c in self.conns:
            c.ws.set_paused(False)
        self.quiesce()
        self.proc.shutdown()
        for c in self.conns:
            while c.ws.down:
                self.take(c, c.ws.down.popleft())
            c.ws.cut()
        self.moved += 1
        new = Store(f"{self.root}/host{self.moved}", durability="relaxed")
        for doc in self.real.documents():
            import_document(new, export_document(self.real, doc))
        self.real.close()
        self.real = new
        self.proc = self._process()

    def unload(self) -> None:
        """Documents nobody watches are closed (as the router's reaper does)."""
        r = self.proc.router

        closing = []

        def go():
            for slot in list(r.slots.values()):
                if slot.runner is not None and slot.loaded and not slot.closing and slot.idle():
                    slot.closing = True
                    closing.append(slot.key)
                    r._submit(slot, "close", None, {}, None, bounded=False)
        self.proc.do(go)
        self.log("unload " + " ".join(sorted(closing)))

    # ------------------------------------------------------------ steps

    def step(self) -> None:
        d = self.draw
        k = d.int(0, 34 if self.lanes else 29)
        if k >= 30:
            self.lane_step(k)
            return
        live = self.live()
        if k <= 2 or not live:
            who = d.pick(PEOPLE)
            if sum(1 for c in live if c.who == who) < 2:
                self.connect(self.open_conn(who))
                return
        if k <= 11 and live:
            c = d.pick(live)
            streams = [s for s in c.streams.values() if s.open]
            if not streams:
                self.connect(c)
                return
            s = d.pick(streams)
            if s.asks and d.chance(30):
                ask = s.asks[d.pick(sorted(s.asks))]
                if ask["channel"] == "pick_ch":
                    msg = d.pick(ask["options"])
                elif ask["channel"] == "ans_ch":
                    msg = {"v": self.marks.text()}
                else:
                    msg = [ask["options"][i] for i in range(d.int(0, 2))]
                self.request(c, {"method": "connection/send", "connection": s.id, "ask": ask["id"],
                                 "message": msg})
                return
            channels = self.spec.channels()
            name = d.pick(sorted(channels))
            m = message(d, channels[name], self.marks)
            rid = self.request(c, {"method": "connection/send", "connection": s.id, "channel": name,
                                   "message": m}, tag=m["tag"])
            self.sends.append({"tag": m["tag"], "conn": c, "rid": rid, "who": c.who, "channel": name,
                               "message": m})
            return
        if k <= 15 and live:  # the network delivers some frames of one socket, one way
            c = d.pick(live)
            if d.bool():
                n = d.int(1, 3)
                if c.ws.up:
                    self.log(f"#{c.number} {min(n, len(c.ws.up))} up")
                c.ws.deliver_up(n)
                self.proc.loop.run_ready()
            else:
                self.deliver_down(c, d.int(1, 4))
            return
        if k == 16 and live:
            c = d.pick(live)
            s = [s for s in c.streams.values() if s.open]
            if s:
                self.request(c, {"method": "connection/end", "connection": d.pick(s).id})
            return
        if k == 17 and live:
            c = d.pick(live)
            self.log(f"cut #{c.number}")
            c.ws.cut()
            self.proc.loop.run_ready()
            return
        if k == 18 and live:
            c = d.pick(live)
            c.ws.set_paused(not c.ws.paused)
            self.log(f"#{c.number} {'stops' if c.ws.paused else 'resumes'} reading")
            self.proc.loop.run_ready()
            return
        if k <= 20:
            n = d.int(1, 3)
            self.log(f"flush {n}")
            self.proc.store.flush(n)
            self.proc.loop.run_ready()
            return
        if k == 21:
            self.crash(d.pick(["before", "after", "torn"]))
            return
        if k == 22:
            kind = "enospc" if d.chance(70) else "eio"
            self.log(f"fault {kind} on the next write")
            self.proc.store.fault = kind
            self.result.faults += 1
            return
        if k == 23:
            secs = d.pick([1, 30, 61, 3600])
            self.log(f"advance {secs}")
            self.proc.advance(secs)
            return
        if k == 24:
            self.retry()
            return
        if k == 25 and self.spec.paged and live:
            c = d.pick(live)
            s = [s for s in c.streams.values() if s.open and s.joined]
            if s:
                self.request(c, {"method": "connection/update", "connection": d.pick(s).id,
                                 "viewer-state": {"pg": d.int(0, 4)}})
            return
        if k == 26:  # everyone leaves (most of the time), then idle documents unload
            everyone = d.chance(70)
            for c in self.live():
                if everyone or d.bool():
                    self.log(f"cut #{c.number}")
                    c.ws.cut()
            self.log("flush all")
            self.proc.settle()  # their @disconnected inputs become durable
            self.unload()
            return
        if k == 27 and d.chance(40):
            self.restart()
            return
        if k == 28 and d.chance(25):
            self.move()
            return
        if k == 29 and d.chance(50):
            self.crash(d.pick(["before", "after", "torn"]))
            return

    def lane_step(self, k: int) -> None:
        """With a worker (lanesim.py): the socket pair delivers, the worker's threads run."""
        d, lane = self.draw, self.proc.lane
        if k == 30:
            n, split = d.int(1, 2), d.chance(30)
            if lane.pipes.down:
                self.log(f"worker: {min(n, len(lane.pipes.down))} down{' (split)' if split else ''}")
            lane.down(n, split)
        elif k == 31:
            n = d.int(1, 6)
            lane.run(n)
            self.log(f"worker: {n} turns")
        elif k == 32:
            n = d.int(1, 2)
            if lane.pipes.up:
                self.log(f"worker: {min(n, len(lane.pipes.up))} up")
            lane.up(n)
        elif k == 33:
            if lane.executor.run_one():
                self.log("worker: a store read answered")
        elif d.chance(40):
            self.log("worker: dies")
            self.proc.kill_worker()
        self.proc.loop.run_ready()

    def retry(self) -> None:
        """A client sends again, on a connection still up, a message whose
        connection was cut before its answer (at least once delivery)."""
        lost = [s for s in self.sends if s["conn"].ws.gone and s["conn"].requests[s["rid"]]["answer"] is None
                and not s.get("retried")]
        if not lost:
            return
        s = self.draw.pick(lost)
        targets = [c for c in self.live() if c.who == s["who"]
                   and any(st.open and st.joined for st in c.streams.values())]
        if not targets:
            return
        c = self.draw.pick(targets)
        stream = next(st for st in c.streams.values() if st.open and st.joined)
        s["retried"] = True
        rid = self.request(c, {"method": "connection/send", "connection": stream.id,
                               "channel": s["channel"], "message": s["message"]}, tag=s["tag"])
        self.sends.append({**s, "conn": c, "rid": rid, "retried": True})

    # ------------------------------------------------------------ checks

    def check(self) -> None:
        self.result.settles += 1
        self.quiesce()
        stream = self.probe.streams.get(self.probe_stream)
        if self.probe.ws.gone or not (stream.open and stream.joined):
            self.reopen_probe()  # its stream ended (the document was reloaded after a failure)
            self.quiesce()
        # the other document must answer well, unless a disk fault is pending (it may hit its
        # write), or the probe's new stream could not open (a disk fault hit its connect)
        stream = self.probe.streams.get(self.probe_stream)
        self.probe_must = self.proc.store.fault is None and stream.open and stream.joined
        if self.proc.store.broken is None:
            rid = self.request(self.probe, {"method": "connection/send", "connection": self.probe_stream,
                                            "channel": "set_s_0",
                                            "message": {"tag": self.marks.text(), "v": "probe"}})
        else:
            rid = None
        self.quiesce()
        self.check_answers(rid)
        self.check_journal()
        self.check_members()
        self.check_views()

    def check_answers(self, probe_rid) -> None:
        """(f): on every connection still up, every request has its answer."""
        for c in self.conns:
            if c.ws.gone:
                continue
            if c.ws.task.done():
                raise Problem("f", f"the server stopped serving #{c.number} without closing it")
            for rid, r in c.requests.items():
                if r["answer"] is None:
                    raise Problem("f", f"request {rid} ({r['method']}) on #{c.number} {c.who} has no "
                                       f"answer and its connection is up")
        if probe_rid is not None and self.probe_must and self.probe.requests[probe_rid]["answer"] != "ok":
            raise Problem("f", f"the other document did not answer: "
                               f"{self.probe.requests[probe_rid]['answer']}")

    def check_members(self) -> None:
        """(f): the router holds a principal as attached to a document only
        while one of its streams is open or joining (else @disconnected never
        runs and the document never unloads)."""
        for key, slot in self.proc.router.slots.items():
            held = {who: n for who, n in slot.members.items() if n}
            streams: dict[str, int] = {}
            for c in self.conns:
                if c.key == key and not c.ws.gone:
                    for s in c.streams.values():
                        if s.open:
                            streams[s.who] = streams.get(s.who, 0) + 1
            if held != streams:
                raise Problem("f", f"the router holds {held} attached to {key!r}; the open streams "
                                   f"are {streams}")

    def check_views(self) -> None:
        """(b), (e): every stream's view from its frames is its fresh view."""
        docs = self.proc.runner.shard.docs
        for c in self.conns:
            if c.ws.gone or c.key != MAIN:
                continue
            for s in c.streams.values():
                if not (s.open and s.joined):
                    continue
                doc = docs.get(MAIN)
                if doc is None:
                    raise Problem("f", f"#{c.number} {c.who} holds an open stream of an unloaded document")
                # Read as a request would (view() first makes sure what it shows
                # is durable), except on a store that failed (EIO) under a
                # document whose own commits all landed: there that check is a
                # new write, which fails like every write until a restart, and
                # the checker's read would fail the document itself (seed 16442).
                living = doc.error is None and self.proc.store.broken is not None
                try:
                    fresh = doc.living.view(c.who) if living else doc.view(c.who)
                except Exception as e:  # noqa: BLE001 - a document serving past a failed commit
                    raise Problem("c", f"the loaded document cannot show {c.who} its view, which "
                                       f"#{c.number} holds open: {type(e).__name__}: {e}") from None
                # A stream's first settle judges its catch-up (e): the view it
                # started from (first connect, reconnect, second stream) and
                # what came since; later settles judge its deltas (b).
                law = "b" if s.judged else "e"
                s.judged = True
                if s.view.view != fresh:
                    raise Problem(law, f"#{c.number} {c.who}'s view from its frames {s.view.view} is not "
                                       f"its fresh view {fresh}")
                open_asks = sorted(a["id"] for a in (doc.living if living else doc).asks_for(c.who))
                if sorted(s.asks) != open_asks:
                    raise Problem(law, f"#{c.number} {c.who} holds asks {sorted(s.asks)}; open for it: "
                                       f"{open_asks}")

    def disk_journal(self) -> list[str]:
        from advm.durable.document import rebuild
        from advm.durable.noviews import NoViewers

        rec = self.real.load(MAIN)
        living, _ = rebuild(self.real, MAIN, rec.snapshot, rec.entries, viewers=NoViewers)
        return [row["tag"] for row in living.engine.field("_journal")]

    def check_journal(self) -> None:
        """(c): on disk, every acknowledged message once, none answered
        with a failure, none more often than it was sent, and one
        connection's messages in the order sent."""
        journal = self.disk_journal()
        count: dict[str, int] = {}
        for t in journal:
            count[t] = count.get(t, 0) + 1
        by_tag: dict[str, list] = {}
        for s in self.sends:
            by_tag.setdefault(s["tag"], []).append(s)
        for t, n in count.items():
            if t not in by_tag:
                raise Problem("c", f"the journal holds {t}, which nobody sent")
        for t, sends in by_tag.items():
            answers = [s["conn"].requests[s["rid"]]["answer"] for s in sends]
            acked = answers.count("ok")
            # Never answered, or answered `worker_failed` (its worker died with
            # it in flight: it may have been committed): either outcome.
            unknown = answers.count(None) + answers.count("worker_failed")
            got = count.get(t, 0)
            if not acked <= got <= acked + unknown:
                raise Problem("c", f"{t} is in the journal {got} times; sent {len(sends)} times, "
                                   f"answers {answers}")
        for c in self.conns:
            mine = [s["tag"] for s in self.sends if s["conn"] is c and len(by_tag[s["tag"]]) == 1
                    and s["tag"] in count]
            where = [journal.index(t) for t in mine]
            if where != sorted(where):
                raise Problem("c", f"#{c.number}'s messages {mine} are in the journal out of order")

    def check_replay(self) -> None:
        from advm.durable.replay import replay

        r = replay(self.real, MAIN)
        if not r.ok:
            raise Problem("d", f"replay of the final store diverges: {r.divergence}")

    # ------------------------------------------------------------ the run

    def open_probe(self) -> None:
        self.probe = self.open_conn(PEOPLE[2], OTHER)
        self.request(self.probe, {"method": "document/create", "key": OTHER})
        self.connect(self.probe)
        self.probe_stream = max(self.probe.streams)
        self.had_stream.discard(PEOPLE[2])

    def run(self, steps: int, settle_every: int) -> None:
        first = self.open_conn(PEOPLE[0])
        self.request(first, {"method": "document/create", "key": MAIN})
        self.open_probe()
        self.quiesce()
        for number in range(1, steps + 1):
            self.step()
            if self.probe.ws.gone:
                self.reopen_probe()
            if number % settle_every == 0 or number == steps:
                if self.proc.store.broken is not None and self.draw.chance(50):
                    self.restart()
                self.check()
        self.check_replay()

    def reopen_probe(self) -> None:
        self.probe = self.open_conn(PEOPLE[2], OTHER)
        self.connect(self.probe)
        self.probe_stream = max(self.probe.streams)


def digest(result: NetResult) -> str:
    """The run's fingerprint: sha256 of its document and trace (every request,
    every frame a client got, every fault), for the same-seed-same-bytes test."""
    import hashlib

    text = result.source + "\n".join(result.trace)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def netsim(draw: Draw, config: NetConfig | None = None) -> NetResult:
    config = config or NetConfig()
    spec = gen_doc(draw)
    result = NetResult(spec.source())
    root = config.store_dir or tempfile.mkdtemp(prefix="advm-netsim-")
    sim = None
    try:
        module = compiled(result.source)
        if module is None:
            raise Problem("gen", "check refuses a generated program (a bug of tests/sim/docgen.py)")
        sim = NetSim(draw, spec, module, root, result, lanes=config.lanes)
        try:
            sim.run(config.steps, config.settle_every)
        finally:
            sim.count_lanes()
    except Problem as p:
        result.problem = p
    finally:
        if sim is not None:
            try:
                sim.proc.dispose()
            except Exception:  # noqa: BLE001 - already gone
                pass
            sim.real.close()
        if config.store_dir is None:
            shutil.rmtree(root, ignore_errors=True)
    return result
