"""Bad storage gives a clear StoreError naming the document, never a wrong document."""
from __future__ import annotations

import lmdb
import pytest

from advm.store import (CorruptRecord, Entry, IncompatibleStore, MapFull, Snapshot, Store,
                        StoreError, keys)
from advm.store import records
from advm.store.env import STORE_FORMAT

T0 = 1_767_225_600_000


def entry(seq):
    return Entry(seq, T0 + seq, "send", "alice", "say", {"n": seq})


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "s", durability="relaxed") as s:
        s.commit("game", [entry(1), entry(2)], snapshot=Snapshot.of(2, {"hp": 10})).result()
        s.append("game", entry(3)).result()
        s.put_module(b"module code").result()
        yield s


def poke(store, db, key, value):
    """Write bytes behind the store's back, as a disk or a bug might."""
    with store.env.env.begin(write=True) as txn:
        txn.put(key, value, db=getattr(store.env, db))


def raw(store, db, key):
    with store.env.env.begin() as txn:
        return txn.get(key, db=getattr(store.env, db))


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:]


LOG3 = keys.log_key("game", 3)
SNAP2 = keys.snapshot_key("game", 2)


@pytest.mark.parametrize("mangle, reason", [
    (lambda v: b"garbage bytes, not a record", "bad magic"),
    (lambda v: v[:3], "shorter than its header"),
    (lambda v: b"\xad\x07" + v[2:], "record format version 7"),
    (lambda v: v[:2] + b"S" + v[3:], "record kind b'S'"),
    (lambda v: flip(v, len(v) - 2), "CRC mismatch"),
    (lambda v: v[:-3], "CRC mismatch"),
])
def test_corrupt_log_record(store, mangle, reason):
    poke(store, "log", LOG3, mangle(raw(store, "log", LOG3)))
    with pytest.raises(CorruptRecord, match=reason) as info:
        store.load("game")
    err = info.value
    assert err.doc == "game" and err.db == "log" and err.key == LOG3
    assert "document 'game'" in str(err) and LOG3.hex() in str(err)


def test_record_with_valid_crc_but_bad_cbor(store):
    body = b"\xff\xff\xff"  # a stop code with nothing to stop
    import zlib
    value = records.HEADER.pack(records.MAGIC, records.RECORD_VERSION, records.KIND_LOG,
                                zlib.crc32(body)) + body
    poke(store, "log", LOG3, value)
    with pytest.raises(CorruptRecord, match="undecodable CBOR"):
        store.log("game")


def test_record_under_the_wrong_key(store):
    poke(store, "log", LOG3, raw(store, "log", keys.log_key("game", 2)))
    with pytest.raises(CorruptRecord, match="says seq 2 but is stored under seq 3"):
        store.load("game")


def test_record_missing_a_field(store):
    poke(store, "log", LOG3, records.pack(records.KIND_LOG, [3]))
    with pytest.raises(CorruptRecord, match="missing field 'time'"):
        store.load("game")


@pytest.mark.parametrize("body, reason", [
    ({"seq": 3, "time": 5, "kind": "send"}, "expected a log envelope \\(an array\\), found dict"),
    ([3, "5", "send", None, None, None, None, None], "field 'time' has type str"),
    ([3, 5, "send", None], "8 or 9 fields, this one 4"),
    ([3, 5, "send", None, None, None, None, None, ["x"]], "extra fields are a map, found list"),
])
def test_malformed_positional_envelopes(store, body, reason):
    poke(store, "log", LOG3, records.pack(records.KIND_LOG, body))
    with pytest.raises(CorruptRecord, match=reason):
        store.load("game")


def test_snapshot_hash_mismatch(store):
    good = Snapshot.of(2, {"hp": 10})
    forged = {"seq": 2, "format": 1, "hash": good.hash, "data": b"\xa1bhp\x0b"}  # hp: 11
    poke(store, "snapshots", SNAP2, records.pack(records.KIND_SNAPSHOT, forged))
    with pytest.raises(CorruptRecord, match="content hash mismatch") as info:
        store.snapshot("game")
    assert info.value.doc == "game" and info.value.db == "snapshots"
    with pytest.raises(CorruptRecord, match="content hash mismatch"):
        store.snapshot("game", 2)
    # Inspection tools may still look at the bytes when they ask to.
    assert store.snapshot("game", verify=False).data == b"\xa1bhp\x0b"
    # A wake checks the record's CRC, not the hash (spec/store.md 3): this
    # record's CRC was made over the forged body, so load takes it as written.
    assert store.load("game").snapshot.data == b"\xa1bhp\x0b"


def test_load_checks_the_snapshot_crc_not_its_hash(store):
    """What the wake relies on instead of the content hash: any byte of the
    stored data changed after it was written fails the record's CRC."""
    raw_value = raw(store, "snapshots", SNAP2)
    for at in (records.HEADER_SIZE + 2, len(raw_value) - 1):
        poke(store, "snapshots", SNAP2, flip(raw_value, at))
        with pytest.raises(CorruptRecord, match="CRC mismatch"):
            store.load("game")


def test_corrupt_snapshot_bytes(store):
    poke(store, "snapshots", SNAP2, flip(raw(store, "snapshots", SNAP2), 40))
    with pytest.raises(CorruptRecord, match="'game'.*CRC mismatch"):
        store.load("game")


def test_corrupt_timer_record_fails_only_that_change(store):
    store.schedule("game", T0).result()
    poke(store, "timers", keys.timer_of_key("game"), b"junk")
    with pytest.raises(CorruptRecord, match="timers record for document 'game'"):
        store.commit("game", [entry(4)], timer=T0 + 5).result()
    assert store.last_seq("game") == 3  # nothing of the refused change was written


def test_corrupt_module(store):
    digest = store.module_hashes()[0]
    poke(store, "modules", digest, records.pack(records.KIND_MODULE, {"code": b"other code"}))
    with pytest.raises(CorruptRecord, match="does not match its hash"):
        store.module(digest)


def test_map_grows_then_fails_clearly_at_the_cap(tmp_path):
    small, cap = 256 * 1024, 4 * 1024 * 1024
    with Store(tmp_path / "s", durability="relaxed", map_size=small, map_cap=cap) as s:
        # Several times the initial map: each overflow doubles it (or more).
        for seq in range(1, 9):
            s.commit("big", [entry(seq)], snapshot=Snapshot(seq, bytes(200_000))).result()
        assert small < s.env.map_size <= cap
        with pytest.raises(MapFull, match=r"full: map size \d+ bytes, cap 4194304.*'huge'") as info:
            s.commit("huge", [entry(1)], snapshot=Snapshot(1, bytes(8 * 1024 * 1024))).result()
        assert info.value.doc == "huge"
        # Nothing of it was written, and smaller work still goes through.
        assert s.load("huge") == (None, 0, [])
        assert s.append("big", entry(9)).result() == 9
    with Store(tmp_path / "s", durability="relaxed", map_size=small, map_cap=cap) as s:
        assert s.env.map_size > small  # the grown size is kept across opens
        assert s.load("big").seq == 8


def test_incompatible_format_refuses_to_open(tmp_path):
    with Store(tmp_path / "s", durability="relaxed") as s:
        poke(s, "meta", keys.META_FORMAT,
             records.pack(records.KIND_META, {"format": STORE_FORMAT + 1}))
    with pytest.raises(IncompatibleStore, match=f"store format {STORE_FORMAT + 1}; this advm "
                                                f"reads formats 3 to {STORE_FORMAT}"):
        Store(tmp_path / "s")
    # The refusal released the directory: a reader of the right version could open it.
    with pytest.raises(IncompatibleStore):
        Store(tmp_path / "s", readonly=True)


def test_foreign_lmdb_directory_is_refused(tmp_path):
    env = lmdb.open(str(tmp_path / "x"), max_dbs=8)
    db = env.open_db(b"log")
    with env.begin(write=True) as txn:
        txn.put(b"somebody else's key", b"value", db=db)
    env.close()
    with pytest.raises(IncompatibleStore, match="no format record"):
        Store(tmp_path / "x")


def test_unopenable_path(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(StoreError):
        Store(tmp_path / "file")


def test_map_growth_waits_for_readers(tmp_path):
    """Readers in other threads keep reading while the committer grows the map
    several times; each read sees a whole snapshot, never a torn one."""
    import threading

    with Store(tmp_path / "s", durability="relaxed", map_size=256 * 1024) as s:
        s.commit("d", [entry(1)], snapshot=Snapshot(1, b"\x01" * 1000)).result()
        stop = threading.Event()
        problems = []
        reads = [0]

        def reader():
            while not stop.is_set():
                try:
                    snap, seq, _ = s.load("d")
                    assert snap.data == bytes([snap.seq % 256]) * len(snap.data)
                    reads[0] += 1
                except Exception as exc:  # reported below, with the thread's view
                    problems.append(exc)
                    return

        threads = [threading.Thread(target=reader) for _ in range(3)]
        for t in threads:
            t.start()
        start = s.env.map_size
        for seq in range(2, 14):
            s.commit("d", [entry(seq)], snapshot=Snapshot(seq, bytes([seq]) * 150_000)).result()
        stop.set()
        for t in threads:
            t.join()
        assert not problems, problems
        assert s.env.map_size >= 4 * start and reads[0] > 0


GROW_ELSEWHERE = r"""
import sys
from advm.store import Entry, Snapshot, Store
with Store(sys.argv[1], durability="relaxed", map_size=256 * 1024) as s:
    seq = s.last_seq("other")
    for n in range(seq + 1, seq + 9):
        s.commit("other", [Entry(n, 0, "send")], snapshot=Snapshot(n, bytes(200_000))).result()
    print(s.env.map_size)
"""


def test_map_grown_by_another_process_is_adopted(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "s"

    def grow_elsewhere():
        out = subprocess.run([sys.executable, "-c", GROW_ELSEWHERE, str(path)],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return int(out.stdout)

    with Store(path, durability="relaxed", map_size=256 * 1024) as s:
        s.append("d", entry(1)).result()
        # The next write transaction meets MDB_MAP_RESIZED first, then a read does.
        assert grow_elsewhere() > 256 * 1024
        assert s.append("d", entry(2)).result() == 2
        grown = grow_elsewhere()
        assert s.load("other").seq == 16
        assert s.env.map_size >= grown
