"""Execution lanes for the host: where documents' inputs actually run.

A runner takes requests for the documents placed on it and answers each with
an asyncio future of the shard's reply (net/shard.py). It runs one request
at a time, in the order given; different runners run at the same time.

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

from .shard import failed
from .worker import FUTURE_METHODS, register_pickling

START_TIMEOUT = 30.0  # seconds for a worker to import advm and load the module
STOP_TIMEOUT = 10.0


class Runner(ABC):
    """What the host sees of a lane (a thread or a worker process)."""

    name = "runner"

    def __init__(self):
        self.placed = 0     # documents the host has placed here
        self.inflight = 0   # requests sent and not answered
        self.dead = False

    @abstractmethod
    def call(self, kind: str, key: str, payload: dict, now: int) -> asyncio.Future:
        """Run one request for document `key` on this lane."""

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass


def _settle(fut: asyncio.Future, value) -> None:
    if not fut.done():
        fut.set_result(value)


class ThreadRunner(Runner):
    name = "thread"

    def __init__(self, module, backend):
        super().__init__()
        self.module = module
        self.backend = backend
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        from .shard import Shard

        self._loop = asyncio.get_running_loop()
        shard = Shard(self.module, self.backend)
        self._thread = threading.Thread(target=self._run, args=(shard,), name="advm-documents",
                                        daemon=True)
        self._thread.start()

    def _run(self, shard) -> None:
        loop = self._loop
        while True:
            item = self._queue.get()
            if item is None:
                return
            fut, kind, key, payload, now = item
            done = shard.handle(kind, key, payload, now)
            done.add_done_callback(
                lambda d, fut=fut: loop.call_soon_threadsafe(self._finish, fut, d.result()))

    def _finish(self, fut, value) -> None:
        self.inflight -= 1
        _settle(fut, value)

    def call(self, kind, key, payload, now):
        fut = self._loop.create_future()
        self.inflight += 1
        self._queue.put((fut, kind, key, payload, now))
        return fut

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
        self._pending: dict[int, asyncio.Future] = {}
        self._ids = itertools.count(1)
        self._outgoing: list = []
        self._closing = False

    async def start(self) -> None:
        # A plain `python -m` child rather than multiprocessing's spawn: spawn
        # re-runs the parent's main script in the child, which breaks any
        # script that starts a host without an `if __name__ == "__main__"` guard.
        register_pickling()
        ours, theirs = socket.socketpair()
        try:
            # Imported by name (not run as __main__) so that what it pickles
            # names functions the host can find.
            self._proc = subprocess.Popen(
                [sys.executable, "-c", "import sys; from advm.net.worker import worker_main; "
                 "worker_main(int(sys.argv[1]))", str(theirs.fileno())],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL)
        finally:
            theirs.close()
        reader, self._writer = await asyncio.open_connection(sock=ours)
        attrs = {"path": str(self.store.path)} if hasattr(self.store, "path") else {}
        self._writer.write(frame(("init", self.module_bytes, self.backend, attrs)))
        try:
            hello = (await asyncio.wait_for(read_frame(reader), START_TIMEOUT))[1][0]
        except (asyncio.IncompleteReadError, asyncio.TimeoutError, ConnectionError) as e:
            self._proc.kill()
            raise RuntimeError(f"worker {self.index} did not start: {e!r}") from None
        if hello[0] != "ready":
            self._proc.kill()
            raise RuntimeError(f"worker {self.index} failed to start: {hello[1]}")
        self.pid = self._proc.pid
        self._reader_task = asyncio.create_task(self._read(reader))

    def call(self, kind, key, payload, now):
        fut = asyncio.get_running_loop().create_future()
        if self.dead:
            fut.set_result(failed("worker_failed", f"worker {self.index} has stopped"))
            return fut
        rid = next(self._ids)
        self._pending[rid] = fut
        self.inflight += 1
        self._post(("req", rid, kind, key, payload, now))
        return fut

    def _post(self, message) -> None:
        """Queue a message; what one turn of the event loop queues is one write."""
        if not self._outgoing:
            asyncio.get_running_loop().call_soon(self._flush)
        self._outgoing.append(message)

    def _flush(self) -> None:
        batch, self._outgoing = self._outgoing, []
        if batch and not self.dead and not self._writer.is_closing():
            self._writer.write(frame(("batch", batch)))

    async def _read(self, reader) -> None:
        try:
            while True:
                for msg in (await read_frame(reader))[1]:
                    if msg[0] == "reply":
                        fut = self._pending.pop(msg[1], None)
                        if fut is not None:
                            self.inflight -= 1
                            _settle(fut, msg[2])
                    elif msg[0] == "store":
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
        for fut in pending.values():
            _settle(fut, failed("worker_failed", f"worker {self.index} stopped"))
        if not self._closing and self.on_death is not None:
            self.on_death(self)

    def _store_call(self, cid: int, method: str, args, kwargs) -> None:
        def answer(ok: bool, value) -> None:
            if not self.dead:
                self._post(("store_reply", cid, ok, value))

        def settled(f) -> None:
            exc = f.exception()
            answer(exc is None, f"{type(exc).__name__}: {exc}" if exc else f.result())

        try:
            target = getattr(self.store, method)
        except AttributeError:
            answer(False, f"AttributeError: the host's store has no {method!r}")
            return
        loop = asyncio.get_running_loop()
        if method in FUTURE_METHODS:
            try:
                result = target(*args, **kwargs)
            except Exception as e:
                answer(False, f"{type(e).__name__}: {e}")
                return
            if isinstance(result, cf.Future):
                asyncio.wrap_future(result, loop=loop).add_done_callback(settled)
            else:
                answer(True, result)
        else:
            loop.run_in_executor(None, lambda: target(*args, **kwargs)).add_done_callback(settled)

    async def close(self) -> None:
        self._closing = True
        if self._writer is not None and not self.dead:
            try:
                self._flush()
                self._writer.write(frame(("stop",)))
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
