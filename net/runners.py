"""Execution lanes for the router: where documents' inputs actually run.

A runner takes requests for the documents placed on it and hands each one's
reply (net/shard.py) to the function given with it, on the event loop. It
runs one request at a time, in the order given; different runners run at the
same time. (A function rather than a future: per input that saves a future
and a turn of the event loop, and the router only ever wants the one callback.)

- `ThreadRunner`: one thread in the server process. Cheap, but the VM holds
  the GIL while it runs, so a long handler delays the event loop too.
- `ProcessRunner`: a worker process (net/worker.py). A long handler stops
  only the documents placed on that worker; the event loop, other workers'
  documents and every socket keep going. The default for `advm serve`.
"""
from __future__ import annotations

import asyncio
import concurrent.futures as cf
import itertools
import os
import pickle
import queue
import socket
import struct
import subprocess
import sys
import threading
from abc import ABC, abstractmethod

from . import messages as M
from .shard import failed
from .worker import register_pickling

START_TIMEOUT = 30.0  # seconds for a worker to import advm and load the module
STOP_TIMEOUT = 10.0


class Runner(ABC):
    """What the router sees of a lane (a thread or a worker process)."""

    name = "runner"

    def __init__(self):
        self.placed = 0     # documents the router has placed here
        self.inflight = 0   # requests sent and not answered
        self.dead = False

    @abstractmethod
    def call(self, kind: str, key: str, payload: dict, now: int, done) -> None:
        """Run one request for document `key` on this lane; `done(reply)` is
        called on the event loop once, never before this returns."""

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass


def _deliver(done, reply) -> None:
    """Call a request's `done`; a bug in it is reported, and the runner (its
    reader loop, for a worker) keeps going."""
    try:
        done(reply)
    except Exception as e:
        asyncio.get_running_loop().call_exception_handler(
            {"message": "advm: a runner's reply could not be applied", "exception": e})


class ThreadRunner(Runner):
    name = "thread"

    def __init__(self, module, backend):
        super().__init__()
        self.module = module
        self.backend = backend
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.shard = None  # the documents this lane holds (for tools and tests; its thread's)

    async def start(self) -> None:
        from .shard import Shard

        self._loop = asyncio.get_running_loop()
        shard = self.shard = Shard(self.module, self.backend)
        self._thread = threading.Thread(target=self._run, args=(shard,), name="advm-documents",
                                        daemon=True)
        self._thread.start()

    def _run(self, shard) -> None:
        loop = self._loop
        while True:
            item = self._queue.get()
            if item is None:
                return
            done, kind, key, payload, now = item
            fut = shard.handle(kind, key, payload, now)
            fut.add_done_callback(
                lambda f, done=done: loop.call_soon_threadsafe(self._finish, done, f.result()))

    def _finish(self, done, value) -> None:
        self.inflight -= 1
        _deliver(done, value)

    def call(self, kind, key, payload, now, done):
        self.inflight += 1
        self._queue.put((done, kind, key, payload, now))

    async def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            await asyncio.get_running_loop().run_in_executor(None, self._thread.join)
            self._thread = None


# ---------------------------------------------------------------- wire framing

def frame(obj) -> bytes:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    if len(data) > 0x7FFFFFFF:
        return struct.pack("!i", -1) + struct.pack("!Q", len(data)) + data
    return struct.pack("!i", len(data)) + data


async def read_frame(reader: asyncio.StreamReader):
    (size,) = struct.unpack("!i", await reader.readexactly(4))
    if size == -1:
        (size,) = struct.unpack("!Q", await reader.readexactly(8))
    return pickle.loads(await reader.readexactly(size))


# What a worker runs. `-P` keeps the working directory (or a script's folder)
# off the front of sys.path, where a source checkout's own `advm/` folder
# would hide the installed package (and a stray `json.py` would hide the
# standard library's); the path list is then the parent's own, so the worker
# imports exactly what the server imported, from any working directory.
# Imported by name (not run as __main__) so that what it pickles names
# functions the router can find.
WORKER_CODE = ("import sys, json; sys.path[:] = json.loads(sys.argv[1]); "
               "from advm.net.worker import worker_main; worker_main(int(sys.argv[2]))")


def worker_command(fd: int) -> list[str]:
    import json

    return [sys.executable, "-P", "-c", WORKER_CODE, json.dumps(sys.path), str(fd)]


def _advm_location() -> str:
    import advm

    return os.path.dirname(os.path.abspath(advm.__file__))


class ProcessRunner(Runner):
    name = "process"

    def __init__(self, module_bytes: bytes, backend: str, store, index: int = 0,
                 on_death=None):
        super().__init__()
        self.module_bytes = module_bytes
        self.backend = backend
        self.store = store
        self.index = index
        self.on_death = on_death
        self.pid: int | None = None
        self._proc = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task | None = None
        self._pending: dict = {}  # request id -> its `done`
        self._ids = itertools.count(1)
        self._outgoing: list = []
        self._closing = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._durable: list = []       # (store call id, ok, value) landed, for the loop
        self._durable_lock = threading.Lock()
        # The calls its worker may make on the store (net/messages.py), and
        # the store's method for each: a call nobody declared is refused.
        self._calls = M.store_calls(backend)
        self._targets = {name: getattr(store, name, None) for name in self._calls}

    async def start(self) -> None:
        # A plain `python -m` child rather than multiprocessing's spawn: spawn
        # re-runs the parent's main script in the child, which breaks any
        # script that starts a router without an `if __name__ == "__main__"` guard.
        register_pickling()
        self._loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair()
        try:
            self._proc = subprocess.Popen(worker_command(theirs.fileno()),
                                          pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL)
        finally:
            theirs.close()
        reader, self._writer = await asyncio.open_connection(sock=ours)
        attrs = {"path": str(self.store.path)} if hasattr(self.store, "path") else {}
        self._writer.write(frame(M.init(self.module_bytes, self.backend, attrs)))
        try:
            hello = (await asyncio.wait_for(read_frame(reader), START_TIMEOUT))[1][0]
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError) as e:
            self._proc.kill()
            raise RuntimeError(f"worker {self.index} did not start: {e!r}") from None
        if hello[0] != M.READY:
            self._proc.kill()
            raise RuntimeError(f"worker {self.index} failed to start: {hello[1]}")
        if hello[2] != _advm_location():
            self._proc.kill()
            raise RuntimeError(f"worker {self.index} imported advm from {hello[2]}, "
                               f"the server from {_advm_location()}")
        self.pid = self._proc.pid
        self._reader_task = asyncio.create_task(self._read(reader))

    def call(self, kind, key, payload, now, done):
        if self.dead:
            asyncio.get_running_loop().call_soon(
                _deliver, done, failed("worker_failed", f"worker {self.index} has stopped"))
            return
        rid = next(self._ids)
        self._pending[rid] = done
        self.inflight += 1
        self._post(M.request(rid, kind, key, payload, now))

    def _post(self, message) -> None:
        """Queue a message; what one turn of the event loop queues is one write."""
        if not self._outgoing:
            self._loop.call_soon(self._flush)
        self._outgoing.append(message)

    def _flush(self) -> None:
        batch, self._outgoing = self._outgoing, []
        if batch and not self.dead and not self._writer.is_closing():
            try:
                data = frame(M.batch(batch))
            except Exception:  # a message pickle cannot write (nested too deep, ...)
                data = frame(M.batch(self._carryable(batch)))
            self._writer.write(data)

    def _carryable(self, batch: list) -> list:
        """The messages of `batch` that can cross to the worker. One that
        cannot fails alone: a request is answered `bad_request` at once (its
        document never sees it), a store answer becomes the store's error."""
        kept = []
        for message in batch:
            try:
                pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception as e:
                why = f"{type(e).__name__}: {e}"
                if message[0] == M.REQUEST:
                    done = self._pending.pop(message[1], None)
                    if done is not None:
                        self.inflight -= 1
                        self._loop.call_soon(_deliver, done, failed(
                            "bad_request", f"the request cannot be passed to its document ({why})"))
                elif message[0] == M.STORE_REPLY:
                    self._post(M.store_reply(message[1], False,
                                             f"the store's answer cannot be passed to the worker ({why})"))
            else:
                kept.append(message)
        return kept

    async def _read(self, reader) -> None:
        try:
            while True:
                for msg in (await read_frame(reader))[1]:
                    if msg[0] == M.REPLY:
                        done = self._pending.pop(msg[1], None)
                        if done is not None:
                            self.inflight -= 1
                            _deliver(done, msg[2])
                    elif msg[0] == M.STORE_CALL:
                        self._store_call(*msg[1:])
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        except Exception as e:  # a message we cannot read: the worker is of no more use
            print(f"advm: worker {self.index}: unreadable message: {e!r}", file=sys.stderr)
            self._proc.kill()
        if not self._closing:
            # The worker went away by itself: free its socket, reap the process.
            self._writer.close()
            try:
                await asyncio.get_running_loop().run_in_executor(None, self._proc.wait, STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        self._died()

    def _died(self) -> None:
        self.dead = True
        pending, self._pending = self._pending, {}
        self.inflight = 0
        for done in pending.values():
            _deliver(done, failed("worker_failed", f"worker {self.index} stopped"))
        if not self._closing and self.on_death is not None:
            self.on_death(self)

    def _store_answer(self, cid: int, ok: bool, value) -> None:
        if not self.dead:
            self._post(M.store_reply(cid, ok, value))

    def _store_settled(self, cid: int, f) -> None:
        exc = f.exception()
        self._store_answer(cid, exc is None, f"{type(exc).__name__}: {exc}" if exc else f.result())

    def _store_done(self, cid: int, f: cf.Future) -> None:
        exc = f.exception()
        self._store_landed(cid, None if exc else f.result(), exc)

    def _store_landed(self, cid: int, result, exc) -> None:
        """A durable write finished (on the store's committer thread). One
        group commit finishes many writes at once: they are collected and
        the event loop is woken once for all of them, not once each."""
        item = (cid, True, result) if exc is None else (cid, False, f"{type(exc).__name__}: {exc}")
        with self._durable_lock:
            first = not self._durable
            self._durable.append(item)
        if first:
            try:
                self._loop.call_soon_threadsafe(self._store_drain)
            except RuntimeError:
                pass  # the loop is closed: nobody is waiting any more

    def _store_drain(self) -> None:
        with self._durable_lock:
            done, self._durable = self._durable, []
        for cid, ok, value in done:
            self._store_answer(cid, ok, value)

    def _store_call(self, cid: int, name: str, args, kwargs) -> None:
        """Run the worker's store call `name`, answered as its declaration
        says (net/messages.py): WAIT on an executor thread, FUTURE when the
        write's future resolves, CALLBACK when the store calls back."""
        how = self._calls.get(name)
        target = self._targets.get(name)
        if target is None:
            self._store_answer(cid, False, (
                f"the host's {self.backend} store has no {name!r}" if how is not None else
                f"{name!r} is not a call of the {self.backend} store interface (net/messages.py)"))
            return
        if how != M.WAIT:
            if how == M.CALLBACK and kwargs.get("callback") is True:  # the worker waits without a future
                kwargs["callback"] = lambda result, exc, cid=cid: self._store_landed(cid, result, exc)
            try:
                result = target(*args, **kwargs)
            except Exception as e:
                self._store_answer(cid, False, f"{type(e).__name__}: {e}")
                return
            if isinstance(result, cf.Future):
                result.add_done_callback(lambda f, cid=cid: self._store_done(cid, f))
            elif kwargs.get("callback") is not None:
                pass  # answered by the callback
            else:
                self._store_answer(cid, True, result)
        else:
            self._loop.run_in_executor(None, lambda: target(*args, **kwargs)).add_done_callback(
                lambda f, cid=cid: self._store_settled(cid, f))

    async def close(self) -> None:
        self._closing = True
        if self._writer is not None and not self.dead:
            try:
                self._flush()
                self._writer.write(frame(M.stop()))
                await self._writer.drain()
            except (ConnectionError, OSError):
                pass
        if self._proc is not None:
            proc = self._proc
            loop = asyncio.get_running_loop()
            try:
                await loop.run_in_executor(None, proc.wait, STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                await loop.run_in_executor(None, proc.wait)
        if self._reader_task is not None:
            self._reader_task.cancel()
            try:
                await self._reader_task
            except (asyncio.CancelledError, Exception):
                pass
        if self._writer is not None:
            self._writer.close()
        self.dead = True


__all__ = ["ProcessRunner", "Runner", "ThreadRunner", "frame", "read_frame"]
