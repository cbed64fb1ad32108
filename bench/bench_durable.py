"""Durable documents (issue 5): durable/document.py over the LMDB store, next to
raw LMDB and the in-memory runtime measured in the same run.

    .venv/bin/python -m pytest bench/bench_durable.py --benchmark-enable

Groups:

- `durable`: durable transactions per second (synced: every acknowledgement
  waits for the flush) for one document and for 100 documents with group
  commit, with p50/p99 commit latency (from submit to acknowledgement) and
  the process CPU per input; acknowledged by future or by `done` callback,
  and once relaxed (no flush: the process without the disk's latency).
  Baselines: one put per synced LMDB transaction and 100 puts per synced
  transaction (the disk's flush and batch rates), and the same inputs on
  plain in-memory LivingDocuments (the runtime's own rate: the ceiling for
  anything durable on one core).
- `durable-wake`: waking a 64 KB and a 1 MB document (DurableDocument.open:
  load, verify, restore), next to a raw LMDB read of the snapshot and to
  cbor2 decoding the same state written as string-keyed maps.
- `durable-replay`: `advm replay` on a chat log (checking every kept snapshot,
  or the newest), next to running the same inputs on a runtime with and
  without views and to reading the log alone.

Targets (issue 5): >= 20,000 durable tx/s across 100 documents with p99 <= 10
ms; 64 KB wake <= 2 ms median and <= half of cbor2's string-keyed decode;
1 MB wake < 30 ms; replay >= 50,000 tx/s for the chat example. Results and
what limits them: spec/store.md section 18.
"""
from __future__ import annotations

import collections
import queue
import statistics
import sys
import time
from pathlib import Path

import cbor2
import lmdb
import pytest

from advm.runtime.living import LivingDocument
from advm.store import Store
from advm.durable.document import DurableDocument
from advm.views.viewers import Viewers

ROOT = Path(__file__).resolve().parent.parent
T0 = 1_767_225_600_000
ROUNDS = 3
DOCS = 100
INPUTS = 6000          # per round, across the documents
ONE_DOC_INPUTS = 600
RAW_COMMITS = 300

COUNTER = """
@static { create { return true; } }
public int n;
public long total;
message Add { int k; }
channel add(principal who, Add a) {
  n++;
  total += a.k;
}
"""

BULK = """
@static { create { return true; } snapshot_every = 1000000; }
record Row {
  public int id;
  public string text;
  public int n;
  public double score;
}
message Fill { int count; string text; }
table<Row> _rows;
public int filled;
channel fill(principal who, Fill f) {
  for (int i = 0; i < f.count; i++) {
    _rows <- {text: f.text, n: i, score: i * 0.5};
    filled++;
  }
}
"""


def build(text: str, name: str):
    from advm.compiler.build import build_source

    return build_source(text, name)


def percentile(samples, q):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Runs:
    def __init__(self):
        self.rates: list[float] = []
        self.latencies: list[float] = []
        self.cpu: list[float] = []  # process CPU seconds per input, all threads

    def info(self, **more):
        out = {"tx_per_second_best": round(max(self.rates)),
               "tx_per_second_median": round(statistics.median(self.rates))}
        if self.cpu:
            out["cpu_us_per_input_best"] = round(min(self.cpu) * 1e6, 1)
        if self.latencies:
            out["p50_commit_ms"] = round(percentile(self.latencies, 0.50) * 1e3, 3)
            out["p99_commit_ms"] = round(percentile(self.latencies, 0.99) * 1e3, 3)
        out.update(more)
        return out


@pytest.fixture
def fast_switch():
    # A host gives the committer thread the GIL back quickly after each flush
    # (spec/store.md 10, "a note for hosts").
    old = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    yield
    sys.setswitchinterval(old)


# ---------------------------------------------------------------- baselines


@pytest.mark.benchmark(group="durable")
@pytest.mark.parametrize("puts", [1, 100])
def test_raw_lmdb_synced_commits(benchmark, tmp_path, puts):
    env = lmdb.open(str(tmp_path / "raw"), map_size=1 << 30, max_dbs=2, readahead=False)
    db = env.open_db(b"log")
    runs = Runs()
    counter = iter(range(1 << 62))
    value = b"v" * 120

    def run():
        t0 = time.perf_counter()
        for _ in range(RAW_COMMITS):
            t = time.perf_counter()
            with env.begin(write=True) as txn:
                for _ in range(puts):
                    txn.put(next(counter).to_bytes(8, "big"), value, db=db)
            runs.latencies.append(time.perf_counter() - t)
        runs.rates.append(RAW_COMMITS * puts / (time.perf_counter() - t0))

    benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
    env.close()
    benchmark.extra_info.update(runs.info(puts_per_commit=puts))


@pytest.mark.benchmark(group="durable")
def test_disk_flush(benchmark, tmp_path):
    """The disk's own flush: rewrite one 4 KB page of a file and fdatasync
    it, RAW_COMMITS times a round (what one synced LMDB commit waits for at
    least once; p50/p99 of one flush)."""
    import os

    path = tmp_path / "flush"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    runs = Runs()
    page = b"x" * 4096

    def run():
        t0 = time.perf_counter()
        for _ in range(RAW_COMMITS):
            t = time.perf_counter()
            os.pwrite(fd, page, 0)
            os.fdatasync(fd)
            runs.latencies.append(time.perf_counter() - t)
        runs.rates.append(RAW_COMMITS / (time.perf_counter() - t0))

    try:
        benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
    finally:
        os.close(fd)
    benchmark.extra_info.update(runs.info())


@pytest.mark.benchmark(group="durable")
def test_in_memory_runtime_same_inputs(benchmark):
    """The same inputs as the durable benchmarks on plain LivingDocuments."""
    module = build(COUNTER, "counter.adb")
    docs = []
    for i in range(DOCS):
        d = LivingDocument(module, key=f"d{i}", viewers=Viewers)
        d.create("ann@", None, T0)
        docs.append(d)
    runs = Runs()
    clock = [T0]

    def run():
        t0 = time.perf_counter()
        cpu0 = time.process_time()
        for i in range(INPUTS):
            clock[0] += 1
            docs[i % DOCS].send("ann@", "add", {"k": i}, clock[0])
        runs.rates.append(INPUTS / (time.perf_counter() - t0))
        runs.cpu.append((time.process_time() - cpu0) / INPUTS)

    benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
    benchmark.extra_info.update(runs.info(documents=DOCS))


# ---------------------------------------------------------------- durable


@pytest.fixture
def synced(tmp_path):
    with Store(tmp_path / "store", durability="synced") as s:
        yield s


@pytest.mark.benchmark(group="durable")
def test_durable_one_document(benchmark, synced, fast_switch):
    """One document, one input at a time: each waits for its acknowledgement."""
    module = build(COUNTER, "counter.adb")
    doc, _ = DurableDocument.create(synced, "solo", module, "ann@", None, T0, viewers=Viewers)
    runs = Runs()
    clock = [T0]

    def run():
        t0 = time.perf_counter()
        for i in range(ONE_DOC_INPUTS):
            clock[0] += 1
            t = time.perf_counter()
            doc.submit({"op": "send", "as": "ann@", "channel": "add", "message": {"k": i}},
                       clock[0]).result()
            runs.latencies.append(time.perf_counter() - t)
        runs.rates.append(ONE_DOC_INPUTS / (time.perf_counter() - t0))

    benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
    benchmark.extra_info.update(runs.info(documents=1))


def closed_loop(docs, inputs: int, message, runs: Runs, clock: list, ack: str = "future",
                depth: int = 1) -> None:
    """Every document has `depth` inputs in flight (as `depth` clients of it,
    each waiting for its reply: the document runs the next input while the
    previous one's commit is in flight); an acknowledgement (from the
    committer thread) lets the next one go. `ack`: "future" (submit returns a
    concurrent.futures.Future) or "callback" (submit(op, now, done): no
    future at all)."""
    acks: queue.SimpleQueue = queue.SimpleQueue()
    sent = 0
    started = {i: collections.deque() for i in range(len(docs))}  # acks come in order
    put = acks.put
    clock_now = time.perf_counter

    def submit(i):
        nonlocal sent
        clock[0] += 1
        sent += 1
        started[i].append(time.perf_counter())
        if ack == "callback":
            docs[i].submit(message(sent), clock[0],
                           lambda frames, error, i=i: put((i, clock_now(), error)))
        else:
            fut = docs[i].submit(message(sent), clock[0])
            fut.add_done_callback(lambda f, i=i: put((i, clock_now(), f.exception())))

    t0 = time.perf_counter()
    cpu0 = time.process_time()
    for _ in range(depth):
        for i in range(len(docs)):
            submit(i)
    done = 0
    while done < inputs:
        i, when, error = acks.get()
        if error is not None:
            raise error
        runs.latencies.append(when - started[i].popleft())
        done += 1
        if sent < inputs:
            submit(i)
    runs.rates.append(inputs / (time.perf_counter() - t0))
    runs.cpu.append((time.process_time() - cpu0) / inputs)


@pytest.mark.benchmark(group="durable")
@pytest.mark.parametrize("app,ack,mode,depth", [("counter", "future", "synced", 1),
                                                ("counter", "callback", "synced", 1),
                                                ("counter", "callback", "synced-meta-each", 1),
                                                ("counter", "callback", "synced", 4),
                                                ("counter", "callback", "relaxed", 1),
                                                ("chat", "future", "synced", 1)])
def test_durable_100_documents_group_commit(benchmark, tmp_path, fast_switch, app, ack, mode,
                                            depth):
    """`relaxed` (no flush) shows what the process does when the disk is not
    the limit: on a shared disk a flush can take milliseconds. `depth` 4:
    four inputs in flight per document (pipelined under the output gate, as
    the server runs several clients of one document), so the rate is no
    longer documents / commit round trip. `synced-meta-each`: the baseline
    for one flush per batch (spec/store.md 5): every commit's meta page
    flushed on its own before its acknowledgement (defer_meta off)."""
    durability = "synced" if mode.startswith("synced") else mode
    with Store(tmp_path / "store", durability=durability) as store:
        store.committer.defer_meta = mode != "synced-meta-each"
        _group_commit(benchmark, store, app, ack, mode, depth)


def _group_commit(benchmark, synced, app, ack, mode, depth=1):
    runs = Runs()
    clock = [T0]
    if app == "counter":
        module = build(COUNTER, "counter.adb")
        docs = [DurableDocument.create(synced, f"d{i:03d}", module, "ann@", None, T0, viewers=Viewers)[0]
                for i in range(DOCS)]

        def message(n):
            return {"op": "send", "as": "ann@", "channel": "add", "message": {"k": n}}
    else:
        module = build((ROOT / "examples" / "chat.adb").read_text(), "chat.adb")
        docs = []
        for i in range(DOCS):
            doc, _ = DurableDocument.create(synced, f"room{i:03d}", module, "ada@lab", None, T0, viewers=Viewers)
            for who in ("ada@lab", "bo@lab"):
                doc.submit({"op": "connect", "as": who}, T0).result()
            docs.append(doc)

        def message(n):
            who = "ada@lab" if n % 2 else "bo@lab"
            return {"op": "send", "as": who, "channel": "say", "message": {"text": f"line {n}"}}

    def run():
        closed_loop(docs, INPUTS, message, runs, clock, ack, depth)

    benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
    stats = synced.committer.stats()
    benchmark.extra_info.update(runs.info(
        documents=DOCS, app=app, ack=ack, durability=mode, in_flight_per_document=depth,
        target_tx_per_second=20_000,
        target_p99_ms=10,
        mean_batch=round(stats["mean_batch"], 1), largest_batch=stats["largest_batch"]))


# ---------------------------------------------------------------- wake


def bulk_document(store, key: str, rows: int):
    module = build(BULK, "bulk.adb")
    doc, _ = DurableDocument.create(store, key, module, "ann@", None, T0, viewers=Viewers)
    left = rows
    while left:
        n = min(left, 2000)
        doc.submit({"op": "send", "as": "ann@", "channel": "fill",
                    "message": {"count": n, "text": "a row of about forty bytes of text."}},
                   T0 + 1).result()
        left -= n
    doc.close()
    return module, doc


@pytest.mark.benchmark(group="durable-wake")
@pytest.mark.parametrize("size,rows", [("64KB", 900), ("1MB", 14500)], ids=["64KB", "1MB"])
@pytest.mark.parametrize("how", ["open", "raw-lmdb-read", "cbor2-string-keys"])
def test_wake(benchmark, tmp_path, size, rows, how):
    """`open`: DurableDocument.open, the whole wake (snapshot read, CRC and
    hash checked, runtime restored, ready for input). `raw-lmdb-read`: the
    snapshot's bytes alone. `cbor2-string-keys`: cbor2.loads of the same
    state written the plain way (fields by name, rows as name -> value maps).

    A woken document is a cyclic graph (rows point at their table), so each
    `open` round also pays Python's cyclic collector for the documents that
    earlier rounds dropped: conservative (that is the cost of evicting a
    document), and left in on purpose."""
    with Store(tmp_path / "store", durability="relaxed") as store:
        module, doc = bulk_document(store, "big", rows)
        snap = store.snapshot("big")
        info = {"snapshot_bytes": len(snap.data), "rows": rows}
        if how == "open":
            modules = {module.module_id(): module}
            DurableDocument.open(store, "big", modules, viewers=Viewers)  # module checks cached, as in a host
            result = benchmark(DurableDocument.open, store, "big", modules, viewers=Viewers)
            assert result.living.engine.fields(formulas=False)["filled"] == rows
        elif how == "raw-lmdb-read":
            env, snapdb = store.env.env, store.env.snapshots

            def raw():
                with env.begin(buffers=True) as txn:
                    cursor = txn.cursor(snapdb)
                    cursor.set_range(b"big\x01")
                    cursor.prev()
                    return bytes(cursor.value())

            assert len(benchmark(raw)) > len(snap.data)
        else:
            plain = cbor2.dumps({"fields": doc.living.engine.fields(formulas=False),
                                 "viewers": [], "rng": [1, 2, 3, 4]})
            info["plain_bytes"] = len(plain)
            benchmark(cbor2.loads, plain)
        benchmark.extra_info.update(info)


# ---------------------------------------------------------------- replay


CHAT_INPUTS = 3000


def chat_log(store, key: str):
    """A chat room's history: members come and go, lines, likes, renames, a
    few refused lines (they abort and are logged too)."""
    module = build((ROOT / "examples" / "chat.adb").read_text(), "chat.adb")
    doc, _ = DurableDocument.create(store, key, module, "ada@lab", None, T0, viewers=Viewers)
    people = ["ada@lab", "bo@lab", "cy@lab", "dee@lab"]
    clock = T0
    ops = []
    for who in people[:2]:
        ops.append({"op": "connect", "as": who})
    for n in range(CHAT_INPUTS - 2):
        who = people[n % len(people)]
        k = n % 20
        if k == 7:
            op = {"op": "send", "as": who, "channel": "like", "message": {"line": max(1, n // 2)}}
        elif k == 13:
            op = {"op": "send", "as": who, "channel": "say", "message": {"text": "   "}}
        elif k == 17:
            op = {"op": "connect" if n % 40 == 17 else "disconnect", "as": people[2]}
        else:
            op = {"op": "send", "as": who, "channel": "say", "message": {"text": f"line {n}"}}
        ops.append(op)
    futures = []
    for op in ops:
        clock += 1000
        futures.append(doc.submit(op, clock))
    for f in futures:
        f.result()
    doc.close()
    return module, ops


@pytest.mark.benchmark(group="durable-replay")
@pytest.mark.parametrize("how", ["replay", "replay-check-newest", "replay-module-loaded",
                                 "live-runtime", "runtime-no-views", "read-log"])
def test_replay_chat(benchmark, tmp_path, how):
    """`replay`: durable/replay.py as `advm replay` runs it (no views, digests
    and every kept snapshot checked); `replay-check-newest`: the same,
    comparing the state with the newest kept snapshot only; `replay-module-loaded`:
    checking all, given the module already loaded (as a host that runs it has
    it), so the module is not read from the store, verified and prepared for
    the machine again (the one fixed cost `runtime-no-views` does not pay).
    `live-runtime`: the same inputs on a runtime
    computing the viewers' views, as the host ran them. `runtime-no-views`:
    the same inputs on a runtime without views, nothing checked: the bound
    for replay. `read-log`: reading and decoding the log alone."""
    from advm.durable import inputs
    from advm.durable.noviews import NoViewers
    from advm.durable.replay import replay

    with Store(tmp_path / "store", durability="relaxed") as store:
        module, ops = chat_log(store, "chat")
        entries = store.log("chat")
        rates = []

        def timed(fn):
            def run():
                t0 = time.perf_counter()
                out = fn()
                rates.append(len(entries) / (time.perf_counter() - t0))
                return out
            return run

        # The chat example keeps maximum_history = 1000: the log starts after
        # the snapshot it was cut at, and every comparison starts there too.
        start = entries[0].seq - 1
        base = store.snapshot("chat", start).data if start else None
        if how.startswith("replay"):
            check = "newest" if how == "replay-check-newest" else "all"
            loaded = {module.module_id(): module} if how == "replay-module-loaded" else None
            result = benchmark.pedantic(
                timed(lambda: replay(store, "chat", check=check, modules=loaded)),
                rounds=ROUNDS, iterations=1)
            assert result.ok and result.start == start and result.steps == len(entries)
            assert result.head == entries[-1].seq
        elif how in ("live-runtime", "runtime-no-views"):
            viewers = NoViewers if how == "runtime-no-views" else Viewers
            items = [inputs.from_entry(e) for e in entries]

            def live():
                if base is None:
                    d = LivingDocument(module, key="chat", viewers=viewers)
                else:
                    d = LivingDocument.restore(module, base, viewers=viewers, load=False)
                for item in items:
                    frames = d.apply(item)
                return d, frames
            d, frames = benchmark.pedantic(timed(live), rounds=ROUNDS, iterations=1)
            # The same document as replay ends with: the inputs really ran.
            want = replay(store, "chat").living.engine.fields(formulas=False)
            assert d.engine.fields(formulas=False)["total_lines"] == want["total_lines"] > 1000
        else:
            benchmark.pedantic(timed(lambda: list(store.entries("chat"))), rounds=ROUNDS,
                               iterations=1)
        benchmark.extra_info.update({"transactions": len(entries), "first_seq": start + 1,
                                     "tx_per_second_best": round(max(rates)),
                                     "target_tx_per_second": 50_000})
