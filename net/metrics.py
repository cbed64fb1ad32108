"""Prometheus metrics for a serving process, at GET /metrics (spec/protocol.md
8.12 lists them).

    metrics = Metrics(router, server)    # attaches itself to both (and the store)
    status, kind, body = metrics.page()

Everything is counted in the server process, never in a worker: every input
a worker runs comes back to the router as a reply (net/router.py `_arrived`),
which is where it is counted and timed, and the store's group committer runs
in the server process too. So one registry holds the whole server's numbers
and Prometheus' multiprocess mode (files shared between processes) is not
needed. Gauges (documents loaded and sleeping, viewers, queue depths) are read
from the router and the sockets when scraped.
"""
from __future__ import annotations

import time
from bisect import bisect_left

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# Seconds: an input usually commits in about a millisecond; a runaway may take seconds.
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
                   5.0, 10.0)
BUDGET = "budget"       # the runtime's code for an exhausted instruction budget


class _Gauges:
    """What is true now, read at each scrape."""

    def __init__(self, metrics: "Metrics"):
        self.metrics = metrics

    def describe(self):
        return []

    def collect(self):
        m = self.metrics
        router = m.router
        slots = list(router.slots.values())
        loaded = sum(1 for s in slots if s.loaded)
        yield _gauge("advm_documents_loaded", "documents loaded on a worker", loaded)
        yield _gauge("advm_documents_sleeping",
                     "documents that exist but are not loaded (in the store, or on the "
                     "memory backend's shelf)", m.sleeping())
        viewers = sum(len(vs) for s in slots for vs in s.sinks.values())
        yield _gauge("advm_viewers", "client streams attached to documents", viewers)
        yield _gauge("advm_queue_depth",
                     "inputs sent to documents and not yet answered, over all documents",
                     sum(len(s.queue) for s in slots))
        inflight = GaugeMetricFamily("advm_worker_inflight",
                                     "requests sent to a worker (or thread) and not answered",
                                     labels=["worker"])
        for i, r in enumerate(router.runners):
            inflight.add_metric([str(getattr(r, "index", i))], r.inflight)
        yield inflight
        # Memory (spec/runtime.md 7.1): each loaded document's estimate, added up per worker.
        held = GaugeMetricFamily("advm_document_bytes",
                                 "memory estimates of the documents a worker holds, added up "
                                 "(runtime/memory.py: from each one's snapshot size)", labels=["worker"])
        largest = GaugeMetricFamily("advm_document_bytes_largest",
                                    "the largest memory estimate of one document a worker holds",
                                    labels=["worker"])
        for i, r in enumerate(router.runners):
            sizes = [s.bytes for s in slots if s.runner is r and s.loaded]
            held.add_metric([str(getattr(r, "index", i))], sum(sizes))
            largest.add_metric([str(getattr(r, "index", i))], max(sizes, default=0))
        yield held
        yield largest
        if router.memory_budget is not None:
            yield _gauge("advm_memory_budget_bytes", "each worker's memory budget for its documents",
                         router.memory_budget)
        yield _gauge("advm_budget_unloads",
                     "idle documents unloaded because a worker was past its memory budget (counter)",
                     router.stats["budget_unloads"])
        yield _gauge("advm_memory_refusals",
                     "loads refused with memory_full (counter)", router.stats["memory_refusals"])
        server = m.server
        if server is not None:
            sockets = list(server.sockets)
            yield _gauge("advm_sockets", "open WebSockets", len(sockets))
            yield _gauge("advm_outbox_bytes", "bytes queued for clients, not yet written",
                         sum(s.queued for s in sockets))
            yield _gauge("advm_dropped_resyncs",
                         "times a slow client's deltas were dropped for a whole view (counter)",
                         server.dropped)
        committer = getattr(getattr(router, "store", None), "committer", None)
        if committer is not None:
            yield _gauge("advm_store_commit_batches", "group commits so far (counter)",
                         committer.batches)


def _gauge(name: str, text: str, value) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, text, value=value)


class _PerInput:
    """The two numbers kept for every input: how many of each kind, and how
    long each took. They are plain ints and floats added to on the event loop
    and turned into Prometheus families at each scrape, because a labelled
    Counter and Histogram of prometheus-client cost about 5 us per input (a
    `labels()` lookup and a lock per increment), a tenth of what the server
    spends on an input. The event loop is the only writer, so no lock."""

    INPUTS = ("advm_inputs", "inputs the documents answered, by kind "
              "(send, answer, create, connect, advance, ...)")
    TRANSACTION = ("advm_transaction_seconds",
                   "from the router sending an input to its document until the reply is applied "
                   "(run, and with the durable backend made durable)")

    def __init__(self):
        # kind -> [count per bucket (the last is +Inf), total seconds]
        self.kinds: dict[str, list] = {}

    def observe(self, kind: str, seconds: float) -> None:
        row = self.kinds.get(kind)
        if row is None:
            row = self.kinds[kind] = [[0] * (len(LATENCY_BUCKETS) + 1), 0.0]
        row[0][bisect_left(LATENCY_BUCKETS, seconds)] += 1
        row[1] += seconds

    def describe(self):
        return []

    def collect(self):
        inputs = CounterMetricFamily(*self.INPUTS, labels=["kind"])
        latency = HistogramMetricFamily(*self.TRANSACTION, labels=["kind"])
        for kind, (counts, total) in list(self.kinds.items()):
            cumulative, buckets = 0, []
            for bound, n in zip((*LATENCY_BUCKETS, float("inf")), counts):
                cumulative += n
                buckets.append((_le(bound), cumulative))
            inputs.add_metric([kind], cumulative)
            latency.add_metric([kind], buckets, total)
        yield inputs
        yield latency


def _le(bound: float) -> str:
    """A bucket's bound as prometheus-client writes it (`0.0005`, `1.0`, `+Inf`)."""
    return "+Inf" if bound == float("inf") else repr(float(bound))


class Metrics:
    def __init__(self, router, server=None):
        self.router = router
        self.server = server
        r = self.registry = CollectorRegistry(auto_describe=True)
        self.per_input = _PerInput()
        r.register(self.per_input)
        self.failures = Counter("advm_input_failures",
                                "inputs that failed, by the protocol's reason", ["reason"],
                                registry=r)
        self.budget = Counter("advm_budget_exhaustions",
                              "inputs whose transaction ran out of its instruction budget",
                              registry=r)
        self.commit = Histogram("advm_commit_seconds",
                                "one group commit of the store (its LMDB transaction and sync)",
                                buckets=LATENCY_BUCKETS, registry=r)
        self.committed = Counter("advm_commit_operations",
                                 "store operations (a document's entries, snapshots) committed",
                                 registry=r)
        r.register(_Gauges(self))
        router.metrics = self
        committer = getattr(getattr(router, "store", None), "committer", None)
        if committer is not None:
            committer.observe = self.committed_batch
        if server is not None:
            server.metrics = self

    # ---------------------------------------------------------- what the router reports

    def replied(self, kind: str, started: float, reply: dict, who) -> None:
        """One input's reply arrived (net/router.py `_arrived`)."""
        self.per_input.observe(kind, time.perf_counter() - started)
        error = reply.get("error")
        code = error[0] if error else None
        budget = code == BUDGET
        for f in reply.get("frames", ()):
            if "error" in f:
                e = f["error"]
                if e.get("code") == BUDGET:
                    budget = True
                if code is None and f.get("to") == who:
                    code = e.get("code")
        if code is not None:
            self.failures.labels(code).inc()
        if budget:
            self.budget.inc()

    def committed_batch(self, seconds: float, ops: int) -> None:
        """The store's committer finished one batch (its own thread)."""
        self.commit.observe(seconds)
        self.committed.inc(ops)

    # ---------------------------------------------------------- reading

    def sleeping(self) -> int:
        """Documents that exist and are not loaded: one scan of the store's
        document index per scrape."""
        router = self.router
        if router.backend == "durable" and router.store is not None:
            keys = set(router.store.documents())
        else:
            keys = set(router.shelf.keys())
        return len(keys.difference(k for k, s in router.slots.items() if s.loaded))

    def page(self):
        return 200, CONTENT_TYPE_LATEST, generate_latest(self.registry)


__all__ = ["Metrics"]
