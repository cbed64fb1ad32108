"""The PostgreSQL store's durable transactions per second (group "store-pg"),
next to raw psycopg batched inserts of the same records measured in the same
rounds (issue 18: goal >= 70% of the raw rate).

    python -m pytest bench/bench_store_pg.py --benchmark-enable

Both sides run against one PostgreSQL server this benchmark starts
(tests/pg_kit.py) with fsync on and synchronous_commit on: every transaction
is flushed before it is acknowledged. The store: 100 documents on one asyncio
loop, each with one transaction in flight (it waits for its ack before the
next), as a host runs them; the group committer packs what is queued into
one PostgreSQL transaction. The baseline: a client that already holds 100
records (the same encoded log records, one per document) and inserts them
with one `INSERT ... SELECT FROM unnest(...)` (arrays sent in binary) per synced transaction on one
connection: the rate PostgreSQL gives a writer that batches perfectly.
Results: spec/store.md section 20.7.
"""
from __future__ import annotations

import asyncio
import os
import resource
import statistics
import sys
import time

import psycopg
import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))

from pg_kit import Server  # noqa: E402

from advm.store import Entry  # noqa: E402
from advm.store.log import encode  # noqa: E402
from advm.store.postgres import PgStore  # noqa: E402

ROUNDS = 5
DOCS = 100
TX_PER_DOC = 40
PAYLOAD = {"text": "a chat line of ordinary length", "n": 0}


def entry(seq):
    return Entry(seq, 1_767_225_600_000 + seq, "send", "alice", "say", PAYLOAD)


def percentile(samples, q):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


@pytest.fixture(scope="module")
def server():
    s = Server(fsync=True)
    yield s
    s.stop()


@pytest.mark.benchmark(group="store-pg")
def test_pg_store_100_documents_against_raw_psycopg(benchmark, server):
    store = PgStore(server.url("bench"), durability="synced")
    raw = psycopg.connect(server.base, autocommit=True)
    raw.execute("CREATE TABLE raw_log (doc bytea NOT NULL, seq bigint NOT NULL, "
                "rec bytea NOT NULL, PRIMARY KEY (doc, seq))")
    docs = [f"doc-{i:03d}".encode() for i in range(DOCS)]
    seqs = [0] * DOCS
    raw_seq = [0]
    store_rates, raw_rates, latencies, raw_latencies = [], [], [], []
    store_cpu, raw_cpu = [], []

    async def document(i):
        doc = f"doc-{i:03d}"
        for _ in range(TX_PER_DOC):
            seqs[i] += 1
            t = time.perf_counter()
            await store.append_async(doc, entry(seqs[i]))
            latencies.append(time.perf_counter() - t)

    async def all_documents():
        await asyncio.gather(*(document(i) for i in range(DOCS)))

    def raw_round():
        # the same number of records as the store's round, 100 to a transaction
        c0, t0 = cpu(), time.perf_counter()
        for _ in range(TX_PER_DOC):
            raw_seq[0] += 1
            rec = encode(entry(raw_seq[0]))
            t = time.perf_counter()
            with raw.transaction():
                raw.execute("INSERT INTO raw_log (doc, seq, rec) SELECT * FROM "
                            "unnest(%b::bytea[], %b::bigint[], %b::bytea[])",
                            (docs, [raw_seq[0]] * DOCS, [rec] * DOCS))
            raw_latencies.append(time.perf_counter() - t)
        raw_rates.append(DOCS * TX_PER_DOC / (time.perf_counter() - t0))
        raw_cpu.append((cpu() - c0) / (DOCS * TX_PER_DOC))

    def run():
        raw_round()  # measured in the same round, just before
        c0, t0 = cpu(), time.perf_counter()
        asyncio.run(all_documents())
        store_rates.append(DOCS * TX_PER_DOC / (time.perf_counter() - t0))
        store_cpu.append((cpu() - c0) / (DOCS * TX_PER_DOC))

    try:
        benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
        stats = store.committer.stats()
    finally:
        store.close()
        raw.close()
    ratios = [s / r for s, r in zip(store_rates, raw_rates)]
    benchmark.extra_info.update({
        "store_tx_per_second_best": round(max(store_rates)),
        "store_tx_per_second_median": round(statistics.median(store_rates)),
        "raw_rows_per_second_best": round(max(raw_rates)),
        "raw_rows_per_second_median": round(statistics.median(raw_rates)),
        "ratio_per_round": [round(r, 3) for r in ratios],
        "ratio_median": round(statistics.median(ratios), 3),
        "goal_ratio": 0.70,
        "store_p50_ms": round(percentile(latencies, 0.5) * 1e3, 2),
        "store_p99_ms": round(percentile(latencies, 0.99) * 1e3, 2),
        "raw_commit_p50_ms": round(percentile(raw_latencies, 0.5) * 1e3, 2),
        "store_cpu_us_per_tx": round(statistics.median(store_cpu) * 1e6, 1),
        "raw_cpu_us_per_row": round(statistics.median(raw_cpu) * 1e6, 1),
        "mean_batch": round(stats["mean_batch"], 1), "largest_batch": stats["largest_batch"],
        "load_average": os.getloadavg()[0],
    })
