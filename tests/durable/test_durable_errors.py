"""Bad storage under a durable document (issue 5 point 8): a corrupt record, a
full map or an incompatible version gives a clear error naming the document,
never a silently wrong document."""
from __future__ import annotations

import pytest

from advm.runtime.living import SNAPSHOT_VERSION

from advm.store import (CorruptRecord, IncompatibleStore, MapFull, Snapshot, Store, StoreError,
                        keys, records)
from advm.durable.document import DurableDocument
from advm.durable.inputs import Divergence
from advm.store.log import encode as encode_entry
from advm.store.snapshots import encode as encode_snapshot
from advm.views.viewers import Viewers
from durable_kit import T0, open_store, play


@pytest.fixture
def played(tmp_path):
    """A tictactoe document with a snapshot part-way and a log tail after it."""
    store = open_store(tmp_path / "s")
    d = play(store, "tictactoe")
    d.doc.snapshot_now().result()
    d.doc.submit({"op": "send", "as": "otto", "channel": "rematch", "message": {"ready": True}},
                 T0 + 7_200_000).result()
    yield store
    store.close()


def poke(store, db, key, value):
    """Write bytes behind the store's back, as a failing disk or a bug might."""
    with store.env.env.begin(write=True) as txn:
        txn.put(key, value, db=getattr(store.env, db))


def test_a_corrupt_log_record_is_refused_naming_the_document(played):
    key = keys.seq_key(keys.doc_prefix("main"), played.last_seq("main"))
    with played.env.env.begin() as txn:
        value = bytearray(txn.get(key, db=played.env.log))
    value[-3] ^= 0x40
    poke(played, "log", key, bytes(value))
    with pytest.raises(CorruptRecord, match="document 'main'.*CRC"):
        DurableDocument.open(played, "main", viewers=Viewers)


def test_a_corrupt_snapshot_is_refused_naming_the_document(played):
    seq = played.snapshot_seqs("main")[-1]
    snap = played.snapshot("main", seq)
    bad = Snapshot(seq, snap.data[:-5] + b"xxxxx", snap.format, snap.time, snap.hash)
    poke(played, "snapshots", keys.seq_key(keys.doc_prefix("main"), seq), encode_snapshot(bad))
    # Read as a snapshot, its content hash gives it away; a wake checks the
    # record's CRC only (spec/store.md 3), which this forged record passes,
    # and the bytes then fail to restore.
    with pytest.raises(CorruptRecord, match="document 'main'.*hash"):
        played.snapshot("main", seq)
    with pytest.raises(CorruptRecord, match=f"document 'main': snapshot at seq {seq} cannot be restored"):
        DurableDocument.open(played, "main", viewers=Viewers)


def test_a_snapshot_that_is_not_a_runtime_is_refused(played):
    seq = played.snapshot_seqs("main")[-1]
    poke(played, "snapshots", keys.seq_key(keys.doc_prefix("main"), seq),
         encode_snapshot(Snapshot(seq, b"\xa1\x61a\x01", SNAPSHOT_VERSION)))
    with pytest.raises(CorruptRecord, match="document 'main'.*names no module"):
        DurableDocument.open(played, "main", viewers=Viewers)


def test_a_snapshot_of_another_runtime_format_is_incompatible(played):
    seq = played.snapshot_seqs("main")[-1]
    snap = played.snapshot("main", seq)
    poke(played, "snapshots", keys.seq_key(keys.doc_prefix("main"), seq),
         encode_snapshot(Snapshot(seq, snap.data, 99, snap.time)))
    with pytest.raises(IncompatibleStore, match="document 'main'.*format 99"):
        DurableDocument.open(played, "main", viewers=Viewers)


def test_a_missing_module_is_named(played):
    for digest in played.module_hashes():
        with played.env.env.begin(write=True) as txn:
            txn.delete(digest, db=played.env.modules)
    with pytest.raises(StoreError, match="document 'main' runs module [0-9a-f]{32}"):
        DurableDocument.open(played, "main", viewers=Viewers)


def test_a_changed_input_is_a_divergence_naming_its_seq(played):
    """A record rewritten with a valid checksum but other content: recovery
    replays it, the frames differ from what was logged, and it says where."""
    log = played.log("main")
    target = next(e for e in reversed(log) if e.kind == "send")
    changed = target._replace(payload={"ready": "not a bool"})
    poke(played, "log", keys.seq_key(keys.doc_prefix("main"), target.seq),
         encode_entry(changed))
    with pytest.raises(Divergence, match=f"document 'main' diverges at seq {target.seq}") as e:
        DurableDocument.open(played, "main", viewers=Viewers)
    assert e.value.seq == target.seq and e.value.doc == "main"


def test_an_unknown_entry_kind_is_refused(played):
    seq = played.last_seq("main")
    entry = played.log("main", after=seq - 1)[0]._replace(kind="teleport")
    poke(played, "log", keys.seq_key(keys.doc_prefix("main"), seq), encode_entry(entry))
    with pytest.raises(StoreError, match="document 'main': log entry .* 'teleport'"):
        DurableDocument.open(played, "main", viewers=Viewers)


def test_an_absent_document_is_named(played):
    with pytest.raises(StoreError, match="document 'nope' is not in the store"):
        DurableDocument.open(played, "nope", viewers=Viewers)


def test_a_full_map_fails_the_input_naming_the_document(tmp_path):
    from durable_kit import compiled

    module = compiled("""
@static { create { return true; } }
public string blob;
message M { string text; }
channel put(principal who, M m) { blob = blob + m.text; }
""")
    store = Store(tmp_path / "s", durability="relaxed", map_size=1 << 20, map_cap=1 << 20)
    try:
        doc, _ = DurableDocument.create(store, "fat", module, "ann", None, T0, viewers=Viewers)
        doc.every = 1  # every input carries a snapshot of the growing text
        chunk = "x" * 60_000
        with pytest.raises(MapFull, match="document 'fat'"):
            for n in range(200):
                doc.submit({"op": "send", "as": "ann", "channel": "put",
                            "message": {"text": chunk}}, T0 + n).result()
        with pytest.raises(MapFull):  # the runtime is ahead of the disk: refused from now on
            doc.submit({"op": "send", "as": "ann", "channel": "put", "message": {"text": ""}},
                       T0).result()
        small, _ = DurableDocument.create(store, "thin", module, "ann", None, T0, viewers=Viewers)
        assert small.submit({"op": "send", "as": "ann", "channel": "put",
                             "message": {"text": "ok"}}, T0).result() == []
        assert DurableDocument.open(store, "fat", viewers=Viewers).seq == store.last_seq("fat")
    finally:
        store.close()


def test_an_incompatible_store_format_is_refused(tmp_path):
    path = tmp_path / "s"
    with open_store(path) as store:
        play(store, "todo")
        with store.env.env.begin(write=True) as txn:
            txn.put(keys.META_FORMAT, records.pack(records.KIND_META, {"format": 999}),
                    db=store.env.meta)
    with pytest.raises(IncompatibleStore, match="store format 999"):
        Store(path)


def _deep(levels: int):
    value = 1
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize("message", [
    {"ready": "\udc80"},                         # cbor2 cannot encode a lone surrogate
    {"ready": True, "extra": {"\ud800": 1}},     # nor in an object's key
    {"ready": True, "extra": _deep(70)},         # past MAX_DEPTH (64)
    {"ready": True, "extra": _deep(500)},        # past what cbor2 reads back (400)
], ids=["surrogate", "surrogate-key", "deep", "deeper-than-cbor2"])
def test_an_input_the_log_could_not_hold_is_refused_before_it_runs(played, message):
    """Issue 10 point 3 at the store's own door: whatever the caller, an input
    whose payload could not be logged or read back gets `input`, and nothing
    is logged, so the document stays readable."""
    head = played.last_seq("main")
    doc = DurableDocument.open(played, "main", viewers=Viewers)
    frames = doc.submit({"op": "send", "as": "otto", "channel": "rematch", "message": message},
                        T0 + 9_000_000).result()
    assert [(f["to"], f["error"]["code"]) for f in frames] == [("otto@", "input")]
    doc.close()
    assert played.last_seq("main") == head
    again = DurableDocument.open(played, "main", viewers=Viewers)
    assert again.seq == head
