"""A worker process: runs a shard of the router's documents on its own core.

Why processes: the VM's dispatch loop is C that holds the GIL for a whole
transaction, so a document running a long handler on a thread would stop the
server's event loop and every other document in the process. In a worker
process it stops only the documents placed on that worker.

The messages it exchanges with the router are declared in net/messages.py
(spec/protocol.md 8.13): requests in, replies out, and the calls its
documents make on the router's store, which stays in the router process (LMDB
allows one writer, and one group committer batches every worker's writes
into one flush). Workers reach it through `RemoteStore`, which has one
method per call the backend's store interface declares: reads wait for the
router's answer, writes return futures resolved when the router's commit is
durable, and a durable input's log append answers a callback (the call
crosses with `callback=True`; the router hands the store a callback of its own
instead of waiting on a future).

Messages are batched both ways: what one side produces in one turn (an
event-loop turn in the router; a run of queued requests in the worker) goes
in one write, so a busy worker costs a few system calls per batch rather
than several per input.
"""
from __future__ import annotations

import concurrent.futures as cf
import contextlib
import copyreg
import itertools
import os
import pickle
import signal
import sys
import threading
import types

from . import messages as M


def _keep():
    from ..store.commit import KEEP

    return KEEP


def _proxy(mapping):
    return types.MappingProxyType(dict(mapping))


def register_pickling() -> None:
    """What the store hands across the socket pickles as itself: its KEEP
    sentinel, compared by identity, arrives as the receiver's own KEEP, and
    read-only mappings (a log entry's empty `extra`) travel as their items."""
    copyreg.pickle(types.MappingProxyType, lambda m: (_proxy, (dict(m),)))
    try:
        from ..store.commit import KEEP
    except ImportError:
        return
    copyreg.pickle(type(KEEP), lambda _: (_keep, ()))


# Messages the buffer holds before the thread that sends the next writes
# them: far above a closed loop's replies in flight per worker (bench_server:
# about 500), whose writing in one piece is what keeps the router's socket
# writes near one per message (a bound of 256 split them: 1.6 sendto per
# message against 1.2; bench/README.md).
MAX_HELD = 4096


class RemoteError(Exception):
    """The router's store raised; the message keeps its type and text."""


class Link:
    """The worker's end of the socket. Messages sent while any thread is
    inside `batched()` (a lane while it has work queued, the reader while it
    handles one batch from the router) wait in one buffer, in the order they
    were sent, and go out together when a thread leaves `batched()`; a thread
    about to wait for the router flushes first (RemoteFuture). One buffer for
    every thread keeps a document's messages in order whichever lane ran its
    inputs (net/lanes.py). A thread that leaves `batched()` while a lane
    drains and is not stalled (`draining`), or a lane that stops while the
    reader is in its batch, leaves the write to that thread, which writes
    when it leaves: the replies go out when the lanes run dry, as the single
    executor's did before lanes (each write is one pickle, one frame the
    router reads and one turn of its loop in which it writes to every socket
    that got a frame; issue 10's load test, bench/README.md). A long
    transaction writes what waits each time it offers the GIL (worker_main)."""

    def __init__(self, conn):
        self.conn = conn
        self._send_lock = threading.Lock()    # one write at a time, in buffer order
        self._buffer_lock = threading.Lock()
        self._buffer: list = []
        self._batching = 0                    # threads inside batched()
        self._reading = 0                     # readers inside batched(): they write when they leave
        # Whether a lane drains that will leave batched() soon (net/lanes.py
        # Lanes.draining): then a lane that stops leaves its messages to it.
        self.draining = _never
        self._calls: dict[int, cf.Future] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def send(self, message) -> None:
        with self._buffer_lock:
            self._buffer.append(message)
            # A lane that drains on and on (requests arriving as fast as it
            # runs them) writes every MAX_HELD messages rather than only once dry.
            if self._batching and len(self._buffer) < MAX_HELD:
                return
        self.flush()

    def flush(self) -> None:
        """Send what is buffered, from every thread (they keep batching)."""
        if not self._buffer:
            return
        lost = ()
        with self._send_lock:
            with self._buffer_lock:
                messages, self._buffer = self._buffer, []
            if messages:
                lost = self._write(messages)
        for cid, why in lost:  # outside the lock: the answers send replies
            self.resolve(cid, False, f"the call cannot be passed to the host's store ({why})")

    def _write(self, messages: list) -> list:
        """Write one batch (the send lock held); the store calls that could not cross."""
        try:
            self.conn.send(M.batch(messages))  # pickled whole before any byte is written
            return []
        except (OSError, EOFError):
            raise
        except Exception:  # a message pickle cannot write (nested too deep, ...)
            messages, lost = _carryable(messages)
            self.conn.send(M.batch(messages))
            return lost

    def wait(self, fut: cf.Future) -> None:
        """How a thread waits for the router's answer to `fut` before it
        blocks on the future itself: here, nothing more. (The simulator's
        link, tests/sim/lanesim.py, hands its deterministic scheduler the
        turn here until the answer has come.)"""

    @contextlib.contextmanager
    def batched(self, lane: bool = False):
        """Messages sent inside wait in the buffer, and go out when the
        thread leaves, unless a draining lane (or, for a `lane`, the reader)
        will write them soon."""
        with self._buffer_lock:
            self._batching += 1
            if not lane:
                self._reading += 1
        try:
            yield
        finally:
            with self._buffer_lock:
                self._batching -= 1
                if not lane:
                    self._reading -= 1
                later = (lane and self._reading) or self.draining()
            if not later:
                self.flush()

    def call(self, name: str, args, kwargs) -> cf.Future:
        """The store call `name` (declared: net/messages.py store_calls),
        answered through a future."""
        fut = RemoteFuture(self)
        with self._lock:
            cid = next(self._ids)
            self._calls[cid] = fut
        self.send(M.store_call(cid, name, args, kwargs))
        return fut

    def call_back(self, name: str, args, kwargs, answer) -> None:
        """A store call answered by `answer(ok, value)` on the reader thread:
        no future on either side (the durable hot path)."""
        with self._lock:
            cid = next(self._ids)
            self._calls[cid] = answer
        self.send(M.store_call(cid, name, args, kwargs))

    def resolve(self, cid: int, ok: bool, value) -> None:
        with self._lock:
            fut = self._calls.pop(cid, None)
        if fut is None:
            return
        if not isinstance(fut, cf.Future):
            fut(ok, value)
        elif ok:
            fut.set_result(value)
        else:
            fut.set_exception(RemoteError(value))

    def fail_all(self, message: str) -> None:
        with self._lock:
            calls, self._calls = self._calls, {}
        for fut in calls.values():
            if isinstance(fut, cf.Future):
                fut.set_exception(RemoteError(message))
            else:
                fut(False, message)


def _carryable(messages: list) -> tuple[list, list]:
    """`messages` with each one that cannot be pickled replaced by what can
    stand in for it, and the store calls that cannot cross as (call id,
    reason): they are answered here, with that error. One message that
    cannot cross fails alone, never its batch."""
    kept, lost = [], []
    for message in messages:
        try:
            pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as e:
            why = f"{type(e).__name__}: {e}"
            if message[0] == M.REPLY:
                kept.append(M.reply(message[1], _stand_in(message[2], why)))
            elif message[0] == M.STORE_CALL:
                lost.append((message[1], why))
        else:
            kept.append(message)
    return kept, lost


def _stand_in(reply: dict, why: str) -> dict:
    """A reply that pickles, for one that does not: its deltas (text) and
    bookkeeping, the frames that pickle alone; a view that cannot cross
    (a second stream's, a resync's) becomes an `internal` failure, since it
    changed nothing. An input's reply stays a success if it was one: the
    input ran, and only what cannot cross is left out."""
    out = {k: reply[k] for k in ("deltas", "due", "loaded", "destroyed", "error") if k in reply}
    frames = []
    for f in reply.get("frames", ()):
        try:
            pickle.dumps(f, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            continue
        frames.append(f)
    if frames:
        out["frames"] = frames
    if "view" in reply or "asks" in reply:
        out["error"] = ["internal", f"the view cannot be passed back from the worker ({why})"]
    try:
        pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        out = {"error": ["internal", f"the reply cannot be passed back from the worker ({why})"],
               **({"loaded": True} if reply.get("loaded") else {})}
    return out


class RemoteFuture(cf.Future):
    """A store call's future: whoever waits on it first sends what its thread
    has batched, or the call it waits for might still be in the batch."""

    def __init__(self, link: Link):
        super().__init__()
        self._link = link

    def result(self, timeout=None):
        if not self.done():
            self._link.flush()
            self._link.wait(self)
        return super().result(timeout)

    def exception(self, timeout=None):
        if not self.done():
            self._link.flush()
            self._link.wait(self)
        return super().exception(timeout)


class RemoteStore:
    """The router's store (a Store, or the Shelf of in-memory snapshots) as a
    worker sees it: one method per call the backend's store interface
    declares (net/messages.py `store_calls`: store/interface.py
    `DocumentStore` for the durable backend, `ShelfStore` for the memory
    one), each forwarded to the router and answered as declared; nothing else
    is forwarded. `attrs` are plain attributes copied at start (the store's
    path). Made by `remote_store`, which gives each backend its own class."""

    def __init__(self, link: Link, attrs: dict):
        self._link = link
        self.__dict__.update(attrs)


_REMOTE_CLASSES: dict[str, type] = {}


def remote_store(link: Link, backend: str, attrs: dict) -> RemoteStore:
    """The proxy of the router's store for a worker of `backend`."""
    cls = _REMOTE_CLASSES.get(backend)
    if cls is None:
        methods = {name: _forwarder(name, how) for name, how in sorted(M.store_calls(backend).items())}
        cls = _REMOTE_CLASSES[backend] = type(f"RemoteStore[{backend}]", (RemoteStore,), methods)
    return cls(link, attrs)


def _forwarder(name: str, how: str):
    """The proxy's method for the declared call `name`, answered `how`."""
    if how == M.WAIT:
        def call(self, *args, **kwargs):
            return self._link.call(name, args, kwargs).result()
    else:
        by_callback = how == M.CALLBACK

        def call(self, *args, **kwargs):
            link = self._link
            # A write's `value` and `fail` are applied here: they are the
            # worker's own objects (the frames an input released, a bound
            # method of its document), which need not, and cannot always,
            # cross to the router and back.
            local = {k: kwargs.pop(k) for k in ("value", "fail") if k in kwargs}
            callback = kwargs.pop("callback", None)
            if callback is not None:
                answer = _answering(callback, local)
                if by_callback:
                    kwargs["callback"] = True
                    link.call_back(name, args, kwargs, answer)
                else:  # the router's store takes no callback here: its future, forwarded
                    link.call(name, args, kwargs).add_done_callback(
                        lambda f: answer(True, f.result()) if f.exception() is None
                        else answer(False, str(f.exception())))
                return None
            fut = link.call(name, args, kwargs)
            return _mapped(link, fut, local) if local else fut

    call.__name__ = call.__qualname__ = name
    return call


def _answering(callback, local: dict):
    """The store's `callback(result, error)` contract for a call answered
    from the router as (ok, value), with `value` and `fail` applied here."""
    fail = local.get("fail")

    def answer(ok: bool, value) -> None:
        if ok:
            callback(local["value"] if "value" in local else value, None)
        else:
            exc = RemoteError(value)
            callback(None, fail(exc) if fail is not None else exc)

    return answer


def _mapped(link: Link, inner: cf.Future, local: dict) -> cf.Future:
    """`inner`'s outcome as the store would give it with `value` (the result
    instead of the store's own) and `fail` (maps the error), on the reader
    thread that resolves `inner`, as the store does on its committer thread."""
    out = RemoteFuture(link)
    fail = local.get("fail")

    def settle(f: cf.Future) -> None:
        exc = f.exception()
        if exc is not None:
            out.set_exception(fail(exc) if fail is not None else exc)
        else:
            out.set_result(local["value"] if "value" in local else f.result())

    inner.add_done_callback(settle)
    return out


def make_backend(kind: str, module, store):
    from .documents import DurableBackend, MemoryBackend

    if kind == "memory":
        return MemoryBackend(module, store)
    if kind == "durable":
        return DurableBackend(module, store)
    raise ValueError(f"unknown backend {kind!r}")


def worker_main(fd: int) -> None:
    """Entry point of a worker process; `fd` is its end of a socket pair."""
    from multiprocessing.connection import Connection

    # Ctrl-C reaches the whole process group; the router decides when workers
    # stop (after their documents are closed), so they ignore it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from .logs import configure_from_environment

    configure_from_environment()  # --log-format, handed down by the server
    register_pickling()
    conn = Connection(fd)
    try:
        tag, module_bytes, backend, store_attrs = conn.recv()
        if tag != M.INIT:
            raise ValueError(f"expected the host's init message, got {tag!r}")
        from ..vm.module import Module
        from .shard import Shard

        link = Link(conn)
        module = Module.from_bytes(module_bytes)
        shard = Shard(module, make_backend(backend, module, remote_store(link, backend, store_attrs)))
    except Exception as e:
        conn.send(M.batch([M.failed(f"{type(e).__name__}: {e}")]))
        return
    # While a lane runs Python (views, encoding, the runtime around the VM),
    # a short interval lets the reader thread hand over store answers
    # (durable commits) promptly, and another lane take the GIL from one in
    # a long transaction (the VM releases it every YIELD_EVERY units).
    sys.setswitchinterval(0.001)
    from ..vm._machine import pause_with, yield_by_default
    from .lanes import LANES, YIELD_EVERY, Lanes

    yield_by_default(YIELD_EVERY)
    run, batched = lane_work(link, shard)
    lanes = Lanes(run, LANES, batched=batched)
    link.draining = lanes.draining

    def pause() -> None:
        # A long transaction tells the lanes itself, each time it offers the
        # GIL, and writes what other threads left in the buffer (Link.batched).
        lanes.nudge()
        if link._buffer:
            link.flush()

    pause_with(pause)
    stopped = threading.Event()
    asked = []  # whether the router asked to stop (rather than went away)

    def read() -> None:
        asked.append(read_requests(conn, link, lanes))
        stopped.set()

    threading.Thread(target=read, name="advm-worker-reader", daemon=True).start()
    import advm

    link.send(M.ready(module.module_id(), os.path.dirname(os.path.abspath(advm.__file__))))
    stopped.wait()
    if asked[0]:
        lanes.close()  # what was queued runs first, as the router expects


def _never() -> bool:
    return False


def lane_work(link: Link, shard):
    """What a worker's lanes run for one request, `run(key, item)`, and the
    context they drain in, `batched()` (net/lanes.py). Apart from
    worker_main so that the simulator (tests/sim/lanesim.py) runs the same."""
    from .documents import Resolved

    def run(key, item) -> None:
        rid, kind, _, payload, now = item
        if shard.suspect(key):
            # It may run for its whole budget: what waits in the buffer goes first.
            link.flush()
        fut = shard.handle(kind, key, payload, now)
        if type(fut) is Resolved:  # every in-memory input: answered in this batch
            link.send(M.reply(rid, fut.result()))
        else:
            fut.add_done_callback(lambda f, rid=rid: _answer(link, rid, f))

    @contextlib.contextmanager
    def batched():
        try:
            with link.batched(lane=True):
                yield
        except (OSError, EOFError):
            pass  # the router is gone; nobody is waiting

    return run, batched


def read_requests(conn, link: Link, lanes) -> bool:
    """The worker's reader: requests from the router go to their documents'
    lanes, store answers to whoever waits, each batch's replies in one
    write, until the router asks to stop (True) or goes away (False)."""
    asked = False
    try:
        while True:
            msg = conn.recv()
            if msg[0] == M.STOP:
                asked = True
                break
            # Replies released by these store answers leave in one write.
            with link.batched():
                for item in msg[1]:
                    if item[0] == M.REQUEST:  # (tag, rid, kind, key, payload, now)
                        lanes.put(item[3], item[1:])
                    else:  # M.STORE_REPLY: (tag, cid, ok, value)
                        link.resolve(item[1], item[2], item[3])
    except (EOFError, OSError):
        pass
    link.fail_all("the host went away")
    return asked


def _answer(link: Link, rid: int, fut: cf.Future) -> None:
    try:
        link.send(M.reply(rid, fut.result()))
    except (OSError, EOFError):
        pass  # the router is gone; nobody is waiting


__all__ = ["Link", "RemoteError", "RemoteStore", "lane_work", "read_requests", "register_pickling", "remote_store",
           "worker_main"]
