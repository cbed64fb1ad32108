"""A worker's lanes: the threads its documents' inputs run on.

Each document has a mailbox; a few threads (LANES) take documents whose
mailbox holds inputs and run them. A document is in the hands of at most one
lane at a time, and its inputs run one after another in arrival order: the
actor model holds (a document's inputs never overlap or reorder), while two
documents can be in the middle of a transaction at the same time.

Why: a runaway handler runs until its instruction budget is exhausted (about
half a second), and with one thread every other document placed on the
worker waited for it (spec/protocol.md 8.6). The VM offers the GIL to a
waiting thread every YIELD_EVERY units of budget (vm/_machine.pyx
`yield_every`), so while one lane runs a long transaction another lane can
run the next document's input. Yielding changes nothing a document
computes: the same instructions run and charge the same budget.

The common path stays one thread: one lane drains the ready documents, as
the worker's single thread did, and the others sleep. Only while documents
are waiting and every draining lane has been in its current input for
STALL_S or more does another lane join in. Who notices: a long transaction
itself, since each time the VM offers the GIL it calls `nudge` (installed
with vm/_machine.pyx `pause_with`), which wakes a lane once the drainers
are stalled; and, for other long work (the runtime's Python, the views),
one idle lane that watches with a timed wait of WATCH_S as long as
documents are waiting. So a long transaction delays the others by about
STALL_S, other long work by up to WATCH_S, and short inputs never pay for a
thread switch. (The watcher used to wake every STALL_S: on the synced load
test that was about 500 GIL hand-offs a second per worker while documents
waited, most of the worker's thread switches.)
A lane that joined leaves again after an input unless every other draining
lane is still stalled: a stall (a long input, or a drainer that merely lost
the core for 2 ms on a loaded machine) never leaves several lanes draining
short inputs side by side, where they would trade the GIL every switch
interval and split the worker's sends into many small writes.

Fairness: after one input a lane puts the document back at the end of the
ready queue if it has more, so a document with a full mailbox takes turns
with the others rather than holding its lane.

The clock (`clock`, time.monotonic) and the threads, locks and conditions
(`threading`, the module) are parameters: the simulator (tests/sim/lanesim.py,
spec/simulation.md 1.3) runs these lanes on its own deterministic threads and
virtual clock.
"""
from __future__ import annotations

import contextlib
import logging
import threading
from collections import deque
from time import monotonic

LANES = 4              # threads per worker: documents in a transaction at once
YIELD_EVERY = 16_384   # budget units between two offers of the GIL (0.04-0.5 ms of work)
STALL_S = 0.002        # an input running this long lets another lane take the next document
WATCH_S = 0.02         # the idle watcher's period (long work the VM's nudge does not see)

log = logging.getLogger("advm.server")


class Lanes:
    """`put(key, item)` queues `item` for document `key`; a lane calls
    `run(key, item)` for it in turn, inside `batched()` while it drains."""

    def __init__(self, run, count: int = LANES, batched=contextlib.nullcontext,
                 name: str = "advm-lane", stall: float = STALL_S, watch: float = WATCH_S,
                 clock=monotonic, threading=threading):
        self._run = run
        self._clock = clock
        self._batched = batched
        self._stall = stall
        self._watch = max(watch, stall)
        self._boxes: dict = {}       # key -> deque of items; present while queued or running
        self._ready: deque = deque() # keys no lane has
        self._since: dict = {}       # lane -> when its current input started, while it drains
        self._watcher = False        # an idle lane is in its timed wait
        self._waking = False         # a lane was woken and has not looked at the queue yet
        self._closing = False
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)  # idle lanes wait here
        self._idle = threading.Condition(self._lock)  # notified when no box is left
        self._threads = [threading.Thread(target=self._lane, args=(k,), name=f"{name}-{k}",
                                          daemon=True) for k in range(count)]
        for t in self._threads:
            t.start()

    def put(self, key, item) -> None:
        with self._lock:
            box = self._boxes.get(key)
            if box is not None:  # queued or running: whoever has it takes this in turn
                box.append(item)
                return
            self._boxes[key] = deque((item,))
            self._ready.append(key)
            if not self._since or not self._watcher:  # nobody drains, or nobody watches
                self._wake_one()

    def _wake_one(self) -> None:
        """Wake one idle lane (the lock held), unless one woken already has
        yet to look at the queue: the reader puts a whole batch at once, and
        a wake per put had every idle lane fight for the GIL only to find the
        queue taken. Whoever looks next takes a document, or watches, and
        wakes the next lane if documents are still waiting unwatched
        (`_take`, `_lane`)."""
        if not self._waking:
            self._waking = True
            self._wake.notify()

    def nudge(self) -> None:
        """Called on a lane in a long transaction whenever the VM offers the
        GIL (every YIELD_EVERY units of budget): if documents wait and every
        draining lane has been in its input for STALL_S, wake a lane to take
        the next."""
        if self._ready and not self._waking:
            with self._lock:
                if self._ready and self._since and self._stalled():
                    self._wake_one()

    def draining(self) -> bool:
        """Whether a lane drains whose input has run less than STALL_S: it
        will leave its batch soon (net/worker.py Link.batched). Read without
        the lock: a stale answer costs one write more, or leaves a write to
        a lane that is about to make it."""
        now = self._clock()
        return any(now - t < self._stall for t in list(self._since.values()))

    def close(self) -> None:
        """Run everything queued, then stop the lanes."""
        with self._lock:
            while self._boxes:
                self._idle.wait()
            self._closing = True
            self._wake.notify_all()
        for t in self._threads:
            t.join()

    def _stalled(self, me=None) -> bool:
        """Whether every draining lane (but `me`) has been in its input for STALL_S."""
        now = self._clock()
        return all(now - t >= self._stall for lane, t in self._since.items() if lane != me)

    def _take(self, me: int):
        """The next ready document for lane `me` once it may have one (the
        lock held); None when the lanes close."""
        while True:
            # This lane looks at the queue now, so a put may wake another.
            # (A lane that was woken always gets here, and so does every lane
            # that stops draining: a wake that found no lane asleep is not lost.)
            self._waking = False
            if self._ready:
                if not self._since or self._stalled():
                    self._since[me] = self._clock()
                    key = self._ready.popleft()
                    if self._ready and not self._watcher:  # the rest need a watcher
                        self._wake_one()
                    return key
                if not self._watcher:  # lanes drain and none is stalled yet: watch
                    self._watcher = True
                    self._wake.wait(self._watch)
                    self._watcher = False
                    continue
            elif self._closing:
                return None
            self._wake.wait()

    def _lane(self, me: int) -> None:
        boxes, ready, lock = self._boxes, self._ready, self._lock
        while True:
            with lock:
                key = self._take(me)
                if key is None:
                    return
                item = boxes[key].popleft()
            # What the inputs send goes out together once this lane runs dry.
            with self._batched():
                while key is not None:
                    try:
                        self._run(key, item)
                    except Exception:  # a bug: the input is lost, never the lane
                        log.exception("advm: an input of document %r failed on its lane", key)
                    with lock:  # done with this input; the next one, if any
                        if boxes[key]:
                            ready.append(key)
                        else:
                            del boxes[key]
                            if not boxes:
                                self._idle.notify_all()
                        # The next one, unless another lane drains and is
                        # not stalled: a lane that joined for a stall leaves
                        # once it is over (the one left keeps draining).
                        if ready and (len(self._since) == 1 or self._stalled(me)):
                            key = ready.popleft()
                            item = boxes[key].popleft()
                            self._since[me] = self._clock()
                            if ready and not self._watcher:  # the rest need a watcher
                                self._wake_one()
                        else:
                            key = None
                            del self._since[me]


__all__ = ["LANES", "Lanes", "STALL_S", "WATCH_S", "YIELD_EVERY"]
