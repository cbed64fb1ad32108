"""SIGKILL a process that appends through the group committer, at random moments.

The child prints one line per acknowledged commit. After each kill the parent
reopens the store and checks: every acknowledged entry is there, each log runs
from 1 without holes, every record decodes, and the newest snapshot matches
the log. ADVM_STORE_KILLS sets the number of kills (default 20; a soak run can
raise it).
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from advm.store import Store

KILLS = int(os.environ.get("ADVM_STORE_KILLS", "20"))
DOCS = 4

# Several writer threads, each owning one document; commits of 1-3 entries,
# a snapshot every few commits and a timer change now and then, so a kill can
# land in any kind of write. An ack line is written only after the future
# resolved, i.e. after the batch was committed.
CHILD = r"""
import os, random, sys, threading
from advm.store import Entry, Snapshot, Store

path, durability, ndocs = sys.argv[1], sys.argv[2], int(sys.argv[3])
store = Store(path, durability=durability)
out_lock = threading.Lock()

def say(text):
    with out_lock:
        os.write(1, text.encode())

def writer(doc, rng):
    seq = store.last_seq(doc)
    while True:
        n = rng.randint(1, 3)
        entries = [Entry(s, 1000 + s, "send", doc, "say", {"doc": doc, "n": s, "pad": "x" * (s % 40)})
                   for s in range(seq + 1, seq + n + 1)]
        seq += n
        snap = Snapshot(seq, f"{doc}@{seq}".encode()) if rng.random() < 0.2 else None
        timer = 10_000 + seq if rng.random() < 0.1 else ...
        kw = {} if timer is ... else {"timer": timer}
        last = store.commit(doc, entries, snapshot=snap, **kw).result()
        say(f"{doc} {last}\n")

say("ready\n")
for i in range(ndocs):
    threading.Thread(target=writer, args=(f"doc{i}", random.Random(i * 1000 + os.getpid())),
                     daemon=True).start()
threading.Event().wait()
"""


def run_child(path, durability, rng):
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(path), durability, str(DOCS)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        ready = proc.stdout.readline()  # b"" if the child died while starting
        if ready == b"ready\n":
            time.sleep(rng.uniform(0.0, 0.2))
    finally:
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate(timeout=30)
    assert ready == b"ready\n" and proc.returncode == -signal.SIGKILL, err.decode()
    acked: dict[str, int] = {}
    for line in out.decode().splitlines():
        doc, _, last = line.partition(" ")
        if doc.startswith("doc") and last.isdigit():
            acked[doc] = max(acked.get(doc, 0), int(last))
    return acked


def check_store(path, acked_ever):
    with Store(path, durability="relaxed") as store:
        for doc, acked in acked_ever.items():
            log = store.log(doc)  # raises CorruptRecord on a hole or a bad record
            seqs = [e.seq for e in log]
            assert seqs == list(range(1, len(seqs) + 1)), f"{doc}: log does not start at 1"
            assert len(seqs) >= acked, f"{doc}: acked up to {acked}, only {len(seqs)} durable"
            for e in log:
                assert e.payload == {"doc": doc, "n": e.seq, "pad": "x" * (e.seq % 40)}
            snap, seq, tail = store.load(doc)
            if snap is not None:
                assert snap.data == f"{doc}@{seq}".encode()
            assert [e.seq for e in tail] == seqs[seq:]
        return {doc: store.last_seq(doc) for doc in acked_ever}


@pytest.mark.slow
@pytest.mark.parametrize("durability, kills", [("synced", KILLS), ("relaxed", max(3, KILLS // 4))])
def test_sigkill_never_loses_an_acknowledged_entry(tmp_path, durability, kills):
    # `relaxed` does not flush, but a killed process leaves its commits in the
    # OS page cache, so it too must lose nothing here (only an OS crash can).
    path = tmp_path / "store"
    rng = random.Random(20260101)
    acked_ever: dict[str, int] = {}
    total_acks = 0
    for _ in range(kills):
        acked = run_child(path, durability, rng)
        for doc, last in acked.items():
            assert last >= acked_ever.get(doc, 0)
            acked_ever[doc] = last
        total_acks += sum(acked.values())
        durable = check_store(path, acked_ever)
        # The next run continues where the durable log ends, which may be past
        # the last ack (committed, killed before it could print).
        acked_ever.update({doc: max(acked_ever[doc], durable[doc]) for doc in durable})
    assert total_acks > 0, "the child never acknowledged anything before being killed"
