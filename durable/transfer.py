"""Moving a document between stores: it resumes on the other host exactly
where it was, a suspended await included.

An export is one CBOR map (header checked on import):

    format    "advm-export"
    version   2
    doc       the document key it was exported from
    module    {"code": bytes, "info": map}: the code it runs
    modules   [{"code", "info"}, ...]: the other code its kept log ran (create and
              upgrade entries, spec/runtime.md 9.5), so replay works on the
              destination; absent when there is none (exports before issue 14)
    snapshot  {"seq", "format", "time", "hash", "data"}: its newest snapshot
    log       [envelope, ...]: every kept log entry (history and tail), in order
    timer     its wake time, or null

The snapshot is the starting point; the log entries after it are the tail the
importing store replays on open, and the ones up to it keep `advm replay`
working on the destination. Importing never replaces a document: the key must
be free in the destination store.
"""
from __future__ import annotations

import cbor2

from ..store.errors import CorruptRecord, StoreError
from ..store.log import Entry
from ..store.snapshots import Snapshot, content_hash
from .document import module_id_of

EXPORT_FORMAT = "advm-export"
# 2: log entries' digests cover decided frames only (store format 2).
EXPORT_VERSION = 2
_ENVELOPE = frozenset({"seq", "time", "kind", "principal", "channel", "payload"})


def export_document(store, doc: str) -> bytes:
    """The document's snapshot, log, code and wake time as one CBOR value.
    A document that never had a snapshot (short-lived, never closed) has none;
    its log starts at its create entry and carries everything."""
    snap = store.snapshot(doc)
    entries = store.log(doc)
    if snap is None and not entries:
        raise StoreError(f"document {doc!r} is not in the store at {getattr(store, 'path', '?')}",
                         doc=doc)
    if snap is not None:
        module_id = module_id_of(doc, snap)
        digest = next((h for h in store.module_hashes() if h.hex()[:32] == module_id), None)
    else:
        digest = bytes(entries[0].extra.get("module", b""))
    found = store.module(digest) if digest else None
    if found is None:
        raise StoreError(f"document {doc!r}: its module is not in the store", doc=doc,
                         db="modules")
    code, info = found
    body = {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "doc": doc,
        "module": {"code": code, "info": info},
        "snapshot": None if snap is None else {
            "seq": snap.seq, "format": snap.format, "time": snap.time, "hash": snap.hash,
            "data": snap.data},
        "log": [e.envelope() for e in entries],
        "timer": store.timer(doc),
    }
    older = []
    for e in entries:
        named = e.extra.get("module") if e.kind in ("create", "upgrade") else None
        if named is not None and bytes(named) != digest and bytes(named) not in [h for h, _ in older]:
            got = store.module(bytes(named))
            if got is not None:
                older.append((bytes(named), {"code": got[0], "info": got[1]}))
    if older:
        body["modules"] = [m for _, m in older]
    return cbor2.dumps(body)


def read_export(data: bytes) -> dict:
    """Decode and check an export; CorruptRecord says what is wrong."""
    def bad(reason: str) -> CorruptRecord:
        return CorruptRecord(f"not a usable advm export: {reason}")

    try:
        body = cbor2.loads(data)
    except Exception as e:
        raise bad(f"undecodable CBOR ({e})") from None
    if not isinstance(body, dict) or body.get("format") != EXPORT_FORMAT:
        raise bad("no advm-export header")
    if body.get("version") != EXPORT_VERSION:
        raise bad(f"export version {body.get('version')!r}, this advm reads {EXPORT_VERSION}")
    snap = body.get("snapshot")
    if snap is not None and content_hash(snap.get("data", b"")) != snap.get("hash"):
        raise bad(f"the snapshot of document {body.get('doc')!r} does not match its hash")
    if not isinstance(body.get("log"), list) or not isinstance(body.get("module"), dict):
        raise bad("missing log or module")
    return body


def import_document(store, data: bytes, doc: str | None = None) -> tuple[str, int]:
    """Write an export into `store` under `doc` (default: its original key).
    Returns (key, last seq). The document's own identity (its key slot and
    Random stream) travels with it unchanged."""
    body = read_export(data)
    key = doc or body["doc"]
    if store.last_seq(key) or store.snapshot_seqs(key):
        raise StoreError(f"document {key!r} already exists in the store at "
                         f"{getattr(store, 'path', '?')}; import it under another key", doc=key)
    entries = [_entry(key, env) for env in body["log"]]
    for a, b in zip(entries, entries[1:]):
        if b.seq != a.seq + 1:
            raise CorruptRecord(f"export of document {key!r}: log jumps from {a.seq} to {b.seq}",
                                doc=key)
    raw = body["snapshot"]
    snap = None if raw is None else Snapshot(raw["seq"], raw["data"], raw["format"], raw.get("time"),
                                             raw["hash"])
    module = body["module"]
    store.put_module(module["code"], module.get("info") or None)
    for older in body.get("modules") or ():
        if not isinstance(older, dict) or not isinstance(older.get("code"), bytes):
            raise CorruptRecord(f"export of document {key!r}: a module of its history is not code", doc=key)
        store.put_module(older["code"], older.get("info") or None)
    timer = body.get("timer")
    if entries and entries[0].seq == 1:
        # A complete log: everything in one atomic commit.
        last = store.commit(key, entries, snapshot=snap, timer=timer).result()
    else:
        if snap is None:
            raise CorruptRecord(f"export of document {key!r} has neither a snapshot nor a log "
                                "from seq 1", doc=key)
        # A trimmed log continues from the snapshot: it goes first (a store
        # takes a snapshot ahead of the log only for a document it has
        # nothing of), then the tail after it.
        tail = [e for e in entries if e.seq > snap.seq]
        last = store.commit(key, snapshot=snap, timer=timer).result()
        if tail:
            last = store.commit(key, tail).result()
    return key, last


def _entry(doc: str, env) -> Entry:
    if not isinstance(env, dict) or not {"seq", "time", "kind"} <= env.keys():
        raise CorruptRecord(f"export of document {doc!r}: a log entry is not an envelope", doc=doc)
    extra = {k: v for k, v in env.items() if k not in _ENVELOPE}
    return Entry(env["seq"], env["time"], env["kind"], env.get("principal"), env.get("channel"),
                 env.get("payload"), extra)


__all__ = ["EXPORT_FORMAT", "EXPORT_VERSION", "export_document", "import_document", "read_export"]
