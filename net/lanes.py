"""A worker's lanes: the threads its documents' inputs run on.

Each document has a mailbox; a few threads (LANES) take documents whose
mailbox holds inputs and run them. A document is in the hands of at most one
lane at a time, and its inputs run one after another in arrival order: the
actor model holds (a document's inputs never overlap or reorder), while two
documents can be in the middle of a transaction at the same time.

Why: a runaway handler runs until its instruction budget is exhausted (about
half a second), and with one thread every other document placed on the
worker waited for it (spec/protocol.md 8.6). The VM releases the GIL every
YIELD_EVERY units of budget (vm/_machine.pyx `yield_every`), so while one
lane runs a long transaction, another lane gets the GIL within the switch
interval and runs the next document's input. Yielding changes nothing a
document computes: the same instructions run and charge the same budget.

Fairness: after one input a lane puts the document back at the end of the
ready queue if it has more, so a document with a full mailbox takes turns
with the others rather than holding its lane.
"""
from __future__ import annotations

import contextlib
import queue
import threading
from collections import deque

LANES = 4              # threads per worker: documents in a transaction at once
YIELD_EVERY = 16_384   # budget units between two chances to hand over the GIL (0.04-0.5 ms)


class Lanes:
    """`put(key, item)` queues `item` for document `key`; a lane calls
    `run(key, item)` for it in turn, inside `batched()` while it has work."""

    def __init__(self, run, count: int = LANES, batched=contextlib.nullcontext,
                 name: str = "advm-lane"):
        self._run = run
        self._batched = batched
        self._boxes: dict = {}          # key -> deque of items; present while queued or running
        self._ready: queue.SimpleQueue = queue.SimpleQueue()  # keys a lane may take
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)  # notified when no box is left
        self._threads = [threading.Thread(target=self._lane, name=f"{name}-{k}", daemon=True)
                         for k in range(count)]
        for t in self._threads:
            t.start()

    def put(self, key, item) -> None:
        with self._lock:
            box = self._boxes.get(key)
            if box is not None:  # queued or running: whoever has it takes this in turn
                box.append(item)
                return
            self._boxes[key] = deque((item,))
        self._ready.put(key)

    def close(self) -> None:
        """Run everything queued, then stop the lanes."""
        with self._lock:
            while self._boxes:
                self._idle.wait()
        for _ in self._threads:
            self._ready.put(None)
        for t in self._threads:
            t.join()

    def _lane(self) -> None:
        ready = self._ready
        while True:
            key = ready.get()
            if key is None:
                return
            # What the inputs send goes out together once this lane runs dry.
            with self._batched():
                while key is not None:
                    self._one(key)
                    try:
                        key = ready.get_nowait()
                    except queue.Empty:
                        break
            if key is None:
                return

    def _one(self, key) -> None:
        with self._lock:
            item = self._boxes[key].popleft()
        try:
            self._run(key, item)
        finally:
            with self._lock:
                box = self._boxes[key]
                if box:
                    again = True
                else:
                    again = False
                    del self._boxes[key]
                    if not self._boxes:
                        self._idle.notify_all()
            if again:
                self._ready.put(key)


__all__ = ["LANES", "Lanes", "YIELD_EVERY"]
