"""Same-process A/B runs for issue 12 points 4 and 5 (bench/README.md,
"Points 4 and 5 again"). On a loaded machine only alternating variants in
one process say anything about a change, so each variant of the past is put
back here by patching, beside the current code:

    python bench/ab_issue12.py meta ROUNDS [DEPTH [INPUTS]]
        the 100-document synced closed loop (bench_durable.closed_loop,
        callback acks): LMDB's own O_DSYNC meta write (the store before
        bcbff28), metasync off with a meta flush after every commit
        (defer_meta off), and the meta carried by the next batch's flush
        (the default); a 50-flush probe of the disk before each round.
    python bench/ab_issue12.py raw ROUNDS
        raw LMDB, 40 puts a commit, 300 commits a run: metasync on (LMDB's
        O_DSYNC meta write), metasync off with env.sync after each commit,
        metasync off alone (one flush a commit).
    python bench/ab_issue12.py wake [gcoff]
        DurableDocument.open of the 64 KB document (bench_durable
        bulk_document) before b49836a (the sha256 checked at load, the views
        made by Viewers.load) and after, against cbor2.loads of the same
        state; process time per call, 5 rounds of 200 alternating.
"""
from __future__ import annotations

import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cbor2
import lmdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_durable as bd  # noqa: E402

from advm.durable.document import DurableDocument  # noqa: E402
from advm.store import Store, keys, log, snapshots  # noqa: E402
from advm.store import env as envmod  # noqa: E402
from advm.store import store as storemod  # noqa: E402
from advm.views.viewers import Viewers  # noqa: E402

_open = lmdb.open
_sync_meta = envmod.StoreEnv.sync_meta
_load = storemod.Store.load
_vload = Viewers.load


def _lmdb_metasync(*a, **k):
    k["metasync"] = k.get("sync", True)
    return _open(*a, **k)


def _old_load(self, doc):
    keys.doc_bytes(doc)
    with self.env.read() as txn:
        snap = snapshots.latest(txn, self.env.snapshots, doc, verify=True)
        seq = snap.seq if snap is not None else 0
        entries = log.read(txn, self.env.log, doc, after=seq)
    return storemod.Recovery(snap, seq, entries)


def _old_vload(self, state):
    self.tracker  # noqa: B018 - made at once, as Viewers.load did
    return _vload(self, state)


def flush_probe(where: str) -> float:
    fd, path = tempfile.mkstemp(dir=where)
    lat = []
    try:
        for _ in range(50):
            os.pwrite(fd, b"x" * 4096, 0)
            t = time.perf_counter()
            os.fdatasync(fd)
            lat.append(time.perf_counter() - t)
    finally:
        os.close(fd)
        os.unlink(path)
    return statistics.median(lat) * 1e3


def meta_run(variant: str, depth: int, inputs: int, where: str):
    old = variant == "lmdb-metasync"
    envmod.lmdb.open = _lmdb_metasync if old else _open
    envmod.StoreEnv.sync_meta = (lambda self: None) if old else _sync_meta
    try:
        with tempfile.TemporaryDirectory(dir=where) as tmp, \
                Store(Path(tmp) / "s", durability="synced") as store:
            store.committer.defer_meta = variant == "deferred"
            module = bd.build(bd.COUNTER, "counter.adb")
            docs = [DurableDocument.create(store, f"d{i:03d}", module, "ann@", None, bd.T0,
                                           viewers=Viewers)[0] for i in range(bd.DOCS)]
            runs = bd.Runs()

            def message(n):
                return {"op": "send", "as": "ann@", "channel": "add", "message": {"k": n}}

            bd.closed_loop(docs, inputs, message, runs, [bd.T0], "callback", depth)
            return (runs.rates[0], bd.percentile(runs.latencies, .5) * 1e3,
                    bd.percentile(runs.latencies, .99) * 1e3,
                    store.committer.stats()["mean_batch"], runs.cpu[0] * 1e6)
    finally:
        envmod.lmdb.open = _open
        envmod.StoreEnv.sync_meta = _sync_meta


def raw(rounds: int, puts: int = 40, commits: int = 300) -> None:
    where = "/work" if os.path.isdir("/work") else tempfile.gettempdir()
    for _ in range(rounds):
        for metasync, sync_after in ((True, False), (False, True), (False, False)):
            with tempfile.TemporaryDirectory(dir=where) as d:
                env = _open(d, map_size=1 << 30, max_dbs=2, metasync=metasync, readahead=False)
                db = env.open_db(b"log")
                n, value, lat = 0, b"v" * 120, []
                t0 = time.perf_counter()
                for _ in range(commits):
                    t = time.perf_counter()
                    with env.begin(write=True) as txn:
                        for _ in range(puts):
                            txn.put(n.to_bytes(8, "big"), value, db=db)
                            n += 1
                    if sync_after:
                        env.sync(True)
                    lat.append(time.perf_counter() - t)
                rate = commits / (time.perf_counter() - t0)
                env.close()
            lat.sort()
            print(f"metasync={metasync!s:5} sync after={sync_after!s:5}: {rate:6.0f} commits/s, "
                  f"p50 {lat[len(lat) // 2] * 1e3:.2f} p99 {lat[int(len(lat) * .99)] * 1e3:.2f} ms "
                  f"(load {os.getloadavg()[0]:.1f})", flush=True)


def meta(rounds: int, depth: int = 1, inputs: int = 6000) -> None:
    where = tempfile.gettempdir() if not os.path.isdir("/work") else "/work"
    sys.setswitchinterval(0.0005)
    out: dict = {}
    for r in range(rounds):
        print(f"round {r}: load {os.getloadavg()[0]:.1f}, flush p50 {flush_probe(where):.2f} ms",
              flush=True)
        for v in ("lmdb-metasync", "explicit", "deferred"):
            rate, p50, p99, batch, cpu = meta_run(v, depth, inputs, where)
            out.setdefault(v, []).append((rate, p99))
            print(f"  {v:14s} {rate:8.0f} tx/s p50 {p50:6.1f} p99 {p99:6.1f} ms "
                  f"mean batch {batch:.0f} cpu {cpu:.1f} us", flush=True)
    for v, xs in out.items():
        rs = sorted(x[0] for x in xs)
        ps = sorted(x[1] for x in xs)
        print(f"{v:14s} tx/s min/median/max {rs[0]:.0f} {statistics.median(rs):.0f} {rs[-1]:.0f}; "
              f"p99 min/median {ps[0]:.1f} {statistics.median(ps):.1f} ms")


def wake(gcoff: bool, rounds: int = 5, calls: int = 200) -> None:
    with tempfile.TemporaryDirectory() as tmp, \
            Store(Path(tmp) / "s", durability="relaxed") as store:
        module, doc = bd.bulk_document(store, "big", 900)
        modules = {module.module_id(): module}
        plain = cbor2.dumps({"fields": doc.living.engine.fields(formulas=False),
                             "viewers": [], "rng": [1, 2, 3, 4]})
        DurableDocument.open(store, "big", modules, viewers=Viewers)
        res: dict = {}
        for _ in range(rounds):
            for v in ("before", "after", "cbor2"):
                storemod.Store.load = _old_load if v == "before" else _load
                Viewers.load = _old_vload if v == "before" else _vload
                if v == "cbor2":
                    def fn():
                        return cbor2.loads(plain)
                else:
                    def fn():
                        return DurableDocument.open(store, "big", modules, viewers=Viewers)
                xs = []
                for _ in range(calls):
                    if gcoff:
                        gc.disable()
                    t = time.process_time()
                    x = fn()
                    xs.append(time.process_time() - t)
                    if gcoff:
                        gc.enable()
                    del x
                gc.collect()  # the next block starts without this one's dropped documents
                res.setdefault(v, []).append((min(xs), statistics.median(xs)))
        storemod.Store.load, Viewers.load = _load, _vload
    print(f"collector {'off while timed' if gcoff else 'on'}, load {os.getloadavg()[0]:.1f}")
    for v in ("before", "after", "cbor2"):
        mins = sorted(a[0] for a in res[v])
        meds = sorted(a[1] for a in res[v])
        line = (f"  {v:6s}: min {mins[0] * 1e6:.0f}-{mins[-1] * 1e6:.0f} us, "
                f"median {meds[0] * 1e6:.0f}-{meds[-1] * 1e6:.0f} us")
        if v != "cbor2":
            rmin = sorted(a[0] / c[0] for a, c in zip(res[v], res["cbor2"]))
            rmed = sorted(a[1] / c[1] for a, c in zip(res[v], res["cbor2"]))
            line += (f"; / cbor2 same round: minimums {rmin[0]:.2f}-{rmin[-1]:.2f}, "
                     f"medians {rmed[0]:.2f}-{rmed[-1]:.2f}")
        print(line)


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else ""
    if what == "meta":
        meta(*(int(a) for a in sys.argv[2:5]))
    elif what == "raw":
        raw(int(sys.argv[2]) if len(sys.argv) > 2 else 3)
    elif what == "wake":
        wake("gcoff" in sys.argv[2:])
    else:
        sys.exit(__doc__)
