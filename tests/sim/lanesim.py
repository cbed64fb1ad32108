"""A worker process and its lanes inside the simulator (spec/simulation.md 1.3).

Real: the router's end of a worker (net/runners.py `ProcessRunner`: requests
batched per loop turn, the wire framing and pickling, replies, the worker's
store calls answered as net/messages.py declares them, `close` with its stop
message), the worker's end (net/worker.py: `Link` and its batching,
`RemoteStore`, `lane_work`, `read_requests`) and the lanes (net/lanes.py
`Lanes`: mailboxes, the ready queue, stalls, the watcher, nudges, `close`),
running the real `Shard` and durable documents over the router's store.

Doubled, all driven by the run's one seeded draw, in one OS thread:

- the socket pair: two FIFO byte pipes. What one side writes waits in its
  pipe until the simulator delivers it (a write at a time, or the first part
  of one: a partial read), so requests, replies and store calls are delayed
  against everything else;
- the worker's threads (its reader, its LANES lanes and its main thread):
  greenlets, `SimThread`, one running at a time. A thread runs until it
  would block, where it hands the turn back: a condition's wait, a lock
  another thread holds, `conn.recv` with nothing to read, a store call's
  answer (`Link.wait`), a join. The scheduler chooses among the threads that
  can go on by the draw. Threads do not switch inside a transaction (the
  VM's offers of the GIL call the lanes' `nudge`, which wakes a lane, but the
  running one keeps the turn until it blocks);
- the worker's clock (`Lanes(clock=...)`): virtual; each turn advances it
  by 0, 1 or 3 ms (drawn), so lanes stall and the watcher takes over; a
  timed wait ends once the clock passes it (the clock jumps there when no
  thread can go on otherwise);
- the router's executor (`loop.run_in_executor`: the worker's reads of the
  store, and `close` waiting for the process): jobs wait until the simulator
  runs them; waiting for the process ends once the worker's threads stopped;
- the process itself: the worker is made in place (module, shard, link,
  lanes), with no INIT/READY exchange and no subprocess.

Checked on the lanes (`SimWorker.problem`, reported as (c)): a document is
in at most one lane at a time, and its requests run in the order they
arrived.
"""
from __future__ import annotations

import asyncio
import concurrent.futures as cf
import pickle
import struct
from collections import deque

import greenlet

from sim import Problem

TURN_STEPS = (0.0, 0.0, 0.001, 0.003)   # seconds the worker's clock moves per turn
TURN_LIMIT = 100_000


class Scheduler:
    """Deterministic threads: greenlets, one at a time, picked by the draw."""

    def __init__(self, draw):
        self.draw = draw
        self.now = 100.0           # the worker's clock, seconds
        self.threads: list[SimThread] = []
        self.dead = False          # the process is gone: every thread must end
        self.turns = 0
        self.threading = _Threading(self)

    def clock(self) -> float:
        return self.now

    def current(self):
        g = greenlet.getcurrent()
        return g if isinstance(g, SimThread) else None

    def runnable(self) -> list:
        return [t for t in self.threads if t.started and not t.dead and t.can_go(self.now)]

    def run(self, turns: int | None = None) -> bool:
        """Let threads run until none can go on (or `turns` turns); whether any ran."""
        ran = 0
        while turns is None or ran < turns:
            can = self.runnable()
            if not can:
                timed = [t for t in self.threads if t.started and not t.dead and t.deadline is not None]
                if not timed:
                    break
                self.now = max(self.now, min(t.deadline for t in timed))
                continue
            t = can[self.draw.int(0, len(can) - 1)] if len(can) > 1 else can[0]
            self.now += self.draw.pick(TURN_STEPS)
            self.resume(t)
            ran += 1
            self.turns += 1
            if ran > TURN_LIMIT:
                raise Problem("f", "the worker's lanes never go quiet")
        return ran > 0

    def resume(self, t: "SimThread") -> None:
        try:
            t.switch()
        except greenlet.GreenletExit:
            pass
        except Problem:
            raise
        except BaseException as e:  # noqa: BLE001 - a worker thread died of it: a bug
            raise Problem("g", f"the worker's thread {t.name} raised {type(e).__name__}: {e}") from None

    def kill(self) -> None:
        """The process is gone: every thread ends where it waits."""
        self.dead = True
        for t in self.threads:
            for _ in range(100):
                if t.dead or not t.started:
                    break
                try:
                    t.throw(greenlet.GreenletExit)
                except BaseException:  # noqa: BLE001 - whatever it raises on its way out
                    pass


class SimThread(greenlet.greenlet):
    """threading.Thread's part the lanes use, as a greenlet of the scheduler."""

    def __init__(self, sched: Scheduler, target, args=(), name=None, daemon=None):
        super().__init__(run=lambda: target(*args), parent=greenlet.getcurrent())
        self.sched = sched
        self.name = name or f"thread-{len(sched.threads)}"
        self.started = False
        self.ready_when = None   # while parked: a function, true once it may go on
        self.deadline = None     # while in a timed wait: when it ends
        self.timed_out = False

    def start(self) -> None:
        self.started = True
        self.sched.threads.append(self)

    def can_go(self, now: float) -> bool:
        if self.ready_when is None or self.ready_when():
            return True
        return self.deadline is not None and now >= self.deadline

    def park(self, ready, deadline=None) -> bool:
        """Hand the turn back until `ready()` (True) or the deadline passes (False)."""
        if self.sched.dead:
            raise greenlet.GreenletExit
        self.ready_when, self.deadline = ready, deadline
        try:
            self.parent.switch()
        finally:
            self.ready_when = self.deadline = None
        if self.sched.dead:
            raise greenlet.GreenletExit
        return bool(ready())

    def join(self, timeout=None) -> None:
        me = self.sched.current()
        if me is None:
            raise Problem("f", f"the simulator's own thread would wait for {self.name}")
        me.park(lambda: self.dead)


class SimLock:
    def __init__(self, sched: Scheduler):
        self.sched = sched
        self.owner = None

    def acquire(self, blocking=True, timeout=-1) -> bool:
        me = self.sched.current() or "main"
        if self.owner is not None:
            if not blocking:
                return False
            if me == "main":
                raise Problem("f", "the simulator's own thread would block on a worker's lock")
            me.park(lambda: self.owner is None)
        self.owner = me
        return True

    def release(self) -> None:
        self.owner = None

    __enter__ = acquire

    def __exit__(self, *exc) -> None:
        self.release()


class SimCondition:
    """threading.Condition over a SimLock: waiters woken in FIFO order."""

    def __init__(self, sched: Scheduler, lock: SimLock | None = None):
        self.sched = sched
        self.lock = lock or SimLock(sched)
        self.waiters: deque = deque()

    def __enter__(self):
        return self.lock.acquire()

    def __exit__(self, *exc):
        self.lock.release()

    def wait(self, timeout=None) -> bool:
        me = self.sched.current()
        if me is None:
            raise Problem("f", "the simulator's own thread would wait on a worker's condition")
        token = [False]
        self.waiters.append(token)
        self.lock.release()
        try:
            me.park(lambda: token[0], None if timeout is None else self.sched.now + timeout)
        finally:
            if not token[0]:  # by identity: every waiting token is an equal [False]
                self.waiters = deque(w for w in self.waiters if w is not token)
        self.lock.acquire()
        return token[0]

    def notify(self, n: int = 1) -> None:
        for _ in range(min(n, len(self.waiters))):
            self.waiters.popleft()[0] = True

    def notify_all(self) -> None:
        self.notify(len(self.waiters))


class _Threading:
    """The part of the threading module net/lanes.py uses."""

    def __init__(self, sched: Scheduler):
        self._sched = sched

    def Lock(self):  # noqa: N802 - threading's names
        return SimLock(self._sched)

    def Condition(self, lock=None):  # noqa: N802
        return SimCondition(self._sched, lock)

    def Thread(self, target, args=(), name=None, daemon=None):  # noqa: N802
        return SimThread(self._sched, target, args, name, daemon)


# ---------------------------------------------------------------- the socket pair


class Pipes:
    """The socket pair: router -> worker (`down`) and worker -> router (`up`),
    each a FIFO of writes not yet delivered."""

    def __init__(self):
        self.down: deque[bytes] = deque()
        self.inbox = bytearray()          # delivered to the worker, not yet read
        self.up: deque[bytes] = deque()
        self.closed = False

    def frame_ready(self) -> bool:
        if len(self.inbox) < 4:
            return False
        (size,) = struct.unpack("!i", self.inbox[:4])
        return len(self.inbox) >= 4 + size


class WorkerEnd:
    """The worker's end (multiprocessing.connection.Connection's send/recv,
    the same framing: a 4-byte length, then the pickle)."""

    def __init__(self, sched: Scheduler, pipes: Pipes):
        self.sched = sched
        self.pipes = pipes

    def recv(self):
        p = self.pipes
        while not p.frame_ready():
            if p.closed:
                raise EOFError
            me = self.sched.current()
            if me is None:
                raise Problem("f", "the simulator's own thread would read the worker's socket")
            me.park(lambda: p.frame_ready() or p.closed)
        (size,) = struct.unpack("!i", p.inbox[:4])
        data = bytes(p.inbox[4:4 + size])
        del p.inbox[:4 + size]
        return pickle.loads(data)

    def send(self, obj) -> None:
        from advm.net.runners import frame

        if self.pipes.closed:
            raise OSError("the router is gone")
        self.pipes.up.append(frame(obj))


class RouterEnd:
    """The router's StreamWriter on the socket pair."""

    def __init__(self, pipes: Pipes):
        self.pipes = pipes
        self.closed = False

    def write(self, data: bytes) -> None:
        if not self.pipes.closed:
            self.pipes.down.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closed or self.pipes.closed

    async def drain(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True


# ---------------------------------------------------------------- the executor


class NotYet(Exception):
    """An executor job that cannot finish yet (the worker has not stopped)."""


class SimExecutor(cf.ThreadPoolExecutor):
    """The loop's default executor: jobs wait until the simulator runs them."""

    def __init__(self):
        super().__init__(max_workers=1)
        self.jobs: deque = deque()
        self.ran = 0

    def submit(self, fn, /, *args, **kwargs):
        fut = cf.Future()
        self.jobs.append((fut, fn, args, kwargs))
        return fut

    def run_one(self) -> bool:
        """Run the oldest job that can finish; whether one did."""
        for _ in range(len(self.jobs)):
            fut, fn, args, kwargs = self.jobs.popleft()
            try:
                result = fn(*args, **kwargs)
            except NotYet:
                self.jobs.append((fut, fn, args, kwargs))
                continue
            except BaseException as e:  # noqa: BLE001 - the job's own failure, passed on
                fut.set_exception(e)
            else:
                fut.set_result(result)
            self.ran += 1
            return True
        return False

    def shutdown(self, wait=True, *, cancel_futures=False):
        self.jobs.clear()


# ---------------------------------------------------------------- the worker


def _link_class():
    from advm.net.worker import Link

    class SimLink(Link):
        """The real Link; a thread waiting for a store call's answer hands
        the scheduler the turn until it has come."""

        def __init__(self, conn, sched: Scheduler):
            super().__init__(conn)
            self.sched = sched
            self.settle = None  # the process's settle, for the simulator's own thread

        def wait(self, fut) -> None:
            me = self.sched.current()
            if me is not None:
                me.park(fut.done)
                return
            # The simulator's own thread (a check reading a document) lets
            # the process run until the answer is there.
            if self.settle is not None:
                self.settle()
            if not fut.done():
                raise Problem("f", "a worker's store call is never answered")

    return SimLink


class SimWorker:
    """One worker: its link, shard, lanes and threads, on the scheduler."""

    def __init__(self, module, draw, pipes: Pipes, store_attrs: dict, seeds):
        from advm.net.documents import DurableBackend
        from advm.net.lanes import LANES, YIELD_EVERY, Lanes
        from advm.net.shard import Shard
        from advm.net.worker import lane_work, read_requests, register_pickling, remote_store
        from advm.vm._machine import pause_with, yield_by_default

        register_pickling()
        self.sched = Scheduler(draw)
        self.pipes = pipes
        self.conn = WorkerEnd(self.sched, pipes)
        self.link = _link_class()(self.conn, self.sched)
        self.shard = Shard(module, DurableBackend(module, remote_store(self.link, "durable", store_attrs),
                                                  seeds=seeds))
        self.problem: Problem | None = None
        self.running: dict[str, str] = {}   # document -> the lane running it
        self.last: dict[str, int] = {}      # document -> the last request id run
        self.inputs = 0
        self.lanes_seen: set[str] = set()
        run, batched = lane_work(self.link, self.shard)
        self.lanes = Lanes(self._checked(run), LANES, batched=batched, clock=self.sched.clock,
                           threading=self.sched.threading)
        self._yield = yield_by_default(YIELD_EVERY)
        self._pause = pause_with(self.lanes.nudge)
        self.exited = False

        def main() -> None:
            if read_requests(self.conn, self.link, self.lanes):
                self.lanes.close()  # what was queued runs first
            self.exited = True

        self.sched.threading.Thread(main, name="advm-worker-reader").start()

    def _checked(self, run):
        def go(key, item):
            rid = item[0]
            lane = self.sched.current().name
            if key in self.running and self.problem is None:
                self.problem = Problem("c", f"document {key!r} runs on two lanes at once "
                                            f"({self.running[key]} and {lane})")
            if rid <= self.last.get(key, 0) and self.problem is None:
                self.problem = Problem("c", f"document {key!r}'s request {rid} ran on {lane} after its "
                                            f"request {self.last[key]}: out of arrival order")
            self.running[key] = lane
            self.last[key] = rid
            self.inputs += 1
            self.lanes_seen.add(lane)
            try:
                run(key, item)
            finally:
                del self.running[key]
        return go

    def dispose(self, restore: bool = True) -> None:
        """The worker is gone; `restore`: give the VM back the pause and
        yield settings it had before this worker (its process's first)."""
        from advm.vm._machine import pause_with, yield_by_default

        self.pipes.closed = True
        self.sched.kill()
        if restore:
            pause_with(self._pause)
            yield_by_default(self._yield)


def runner_class():
    from advm.net.runners import ProcessRunner

    class SimProcessRunner(ProcessRunner):
        """The real ProcessRunner over the pipes; `start` makes no process."""

        name = "sim-process"

        def __init__(self, store, lane: "Lane", on_death=None):
            super().__init__(b"", "durable", store, index=0, on_death=on_death)
            self.lane = lane
            self.shard = lane.worker.shard

        async def start(self) -> None:
            self._loop = asyncio.get_running_loop()
            self._writer = RouterEnd(self.lane.pipes)
            self._proc = _Process(self.lane)
            self.pid = 0
            self._reader_task = asyncio.ensure_future(self._read(self.lane.reader))

    return SimProcessRunner


class _Process:
    """subprocess.Popen's part ProcessRunner uses: waiting ends once the
    worker's threads stopped."""

    def __init__(self, lane: "Lane"):
        self.lane = lane
        self.pid = 0

    def wait(self, timeout=None) -> int:
        if not self.lane.worker.exited:
            raise NotYet
        return 0

    def kill(self) -> None:
        self.lane.worker.dispose()


class Lane:
    """A worker and the router's end of it, for one simulated process."""

    def __init__(self, module, loop, store, draw, seeds, on_death=None):
        self.draw = draw
        self.died = False
        self.loop = loop
        self.pipes = Pipes()
        self.reader = asyncio.StreamReader(loop=loop)
        self.executor = SimExecutor()
        loop.set_default_executor(self.executor)
        attrs = {"path": str(store.path)} if hasattr(store, "path") else {}
        self.worker = SimWorker(module, draw, self.pipes, attrs, seeds)
        self.runner = runner_class()(store, self, on_death)
        self.eof = False

    def die(self) -> None:
        """The worker process dies alone: its threads stop where they are;
        what it wrote is still read by the router, then its socket ends."""
        self.died = True
        self.pipes.down.clear()
        self.pipes.inbox.clear()
        self.worker.dispose(restore=False)
        self.worker.exited = True

    def check(self) -> None:
        if self.worker.problem is not None:
            raise self.worker.problem

    def down(self, n: int | None = None, split: bool = False) -> bool:
        """Deliver up to n writes of the router to the worker (the first part of the last one if `split`)."""
        p = self.pipes
        moved = False
        for i in range(len(p.down) if n is None else min(n, len(p.down))):
            data = p.down.popleft()
            if split and i == n - 1 and len(data) > 1:
                cut = self.draw.int(1, len(data) - 1)
                data, rest = data[:cut], data[cut:]
                p.down.appendleft(rest)
            p.inbox += data
            moved = True
        return moved

    def up(self, n: int | None = None) -> bool:
        """Deliver up to n writes of the worker to the router."""
        p = self.pipes
        moved = False
        for _ in range(len(p.up) if n is None else min(n, len(p.up))):
            self.reader.feed_data(p.up.popleft())
            moved = True
        return moved

    def run(self, turns: int | None = None) -> bool:
        ran = self.worker.sched.run(turns)
        self.check()
        return ran

    def pump(self) -> bool:
        """One round of everything that can move between the router and the worker."""
        moved = self.down()
        moved = self.run() or moved
        moved = self.up() or moved
        if self.worker.exited and not self.pipes.closed:
            self.pipes.closed = True  # the process is gone: its socket closes
        if self.pipes.closed and not self.pipes.up and not self.eof:
            self.eof = True
            self.reader.feed_eof()
            moved = True
        moved = self.executor.run_one() or moved
        return moved

    def dispose(self, restore: bool = True) -> None:
        self.worker.dispose(restore)
        self.executor.jobs.clear()
