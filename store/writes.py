"""The store's writes, one implementation for every backend: each call
checks its arguments and encodes its records in the caller's thread, then
hands one operation (store/commit.py) to the backend's group committer, which
applies it inside a batch's transaction and resolves its future once the
batch is durable (spec/store.md 4). A backend supplies `committer` (None when
read-only), `retention` and `path`."""
from __future__ import annotations

from typing import Iterable

from . import commit as commit_mod
from . import keys, log, modules, snapshots
from .commit import KEEP, GroupCommitter
from .errors import StoreError
from .log import Entry
from .retention import Retention
from .snapshots import Snapshot


class StoreWrites:
    committer: GroupCommitter | None
    retention: Retention

    def commit(self, doc: str, entries: Iterable[Entry] = (), *,
               snapshot: Snapshot | None = None, timer=KEEP, history: int | None = None,
               value=commit_mod._OWN, fail=None):
        """Log `entries` (consecutive seqs continuing the document's log),
        optionally store a snapshot and set (due time) or clear (None) the
        document's wake time, all in one atomic step. Returns a
        concurrent.futures.Future of the document's last seq (or of `value`,
        when given), resolved once durable; `fail` maps an error to the
        exception the future gets (on the committer thread). `history` is
        the document's maximum_history (section 7), applied with a snapshot.
        Bad arguments raise here, in the caller."""
        return self._writer().write(self._change(doc, entries, snapshot, timer, history),
                                     value, fail)

    def commit_async(self, doc: str, entries: Iterable[Entry] = (), *,
                     snapshot: Snapshot | None = None, timer=KEEP, history: int | None = None,
                     value=commit_mod._OWN, fail=None):
        """commit() for asyncio code: returns an asyncio.Future of the running loop."""
        return self._writer().write_async(self._change(doc, entries, snapshot, timer, history),
                                           value, fail)

    def append_envelope(self, doc: str, env: dict | bytes, *, seq: int | None = None, timer=KEEP,
                        value=commit_mod._OWN, fail=None, callback=None):
        """commit() of one entry given as its envelope map (inputs.envelope),
        or as its record already packed (bytes, as durable/inputs.py record()
        packs them) with its `seq`: a durable document's hot path, encoded
        once, straight into the committer's operation. The envelope must be
        well formed (seq and time ints, kind text; a record's seq the one it
        holds, which every read checks); the committer still checks the seq
        follows the log. With `callback`, no future: callback(result, error)
        on the committer thread."""
        if timer is not KEEP and timer is not None and (
                type(timer) is not int or not 0 <= timer <= keys.TIME_MAX):
            raise ValueError(f"timer must be None or a due time in ms, got {timer!r}")
        if type(env) is bytes:
            if type(seq) is not int or not 1 <= seq <= keys.SEQ_MAX:
                raise ValueError(f"a packed record needs its seq, got {seq!r}")
            entry = (seq, env)
        else:
            entry = (env["seq"], log.pack_envelope(env))
        op = commit_mod.Change(doc, keys.doc_prefix(doc), [entry], None, timer)
        if callback is not None:
            return self._writer().write_callback(op, callback, value, fail)
        return self._writer().write(op, value, fail)

    def barrier(self, value=None):
        """A future that resolves (with `value`) once everything written
        before it is durable."""
        return self._writer().write(commit_mod.Barrier(), value)

    def append(self, doc: str, entry: Entry):
        return self.commit(doc, (entry,))

    def append_async(self, doc: str, entry: Entry):
        return self.commit_async(doc, (entry,))

    def schedule(self, doc: str, due: int | None):
        """Set the document's wake time (ms), or clear it with None."""
        return self.commit(doc, timer=due)

    def delete(self, doc: str):
        """Remove the document's log, snapshots and timer. Future of the record count."""
        return self._writer().write(commit_mod.DeleteDoc(doc, keys.doc_prefix(doc)))

    def trim(self, doc: str, policy: Retention | None = None, *, history: int | None = None):
        """Apply a retention policy (and a document's maximum_history) now.
        Future of (snapshots, entries) removed."""
        return self._writer().write(
            commit_mod.TrimDoc(doc, keys.doc_prefix(doc), policy or self.retention, history))

    def put_module(self, code: bytes, info: dict | None = None):
        """Store compiled code by its sha256. Future of the 32-byte digest."""
        code = bytes(code)
        op = commit_mod.PutModule(modules.module_hash(code), modules.encode(code, info))
        return self._writer().write(op)

    def _writer(self) -> GroupCommitter:
        if self.committer is None:
            raise StoreError(f"store at {self.path} is open read-only")
        return self.committer

    @staticmethod
    def _change(doc, entries, snapshot, timer, history=None) -> commit_mod.Change:
        prefix = keys.doc_prefix(doc)
        encoded = []
        prev = None
        encode = log.encode
        for entry in entries:
            if prev is not None and entry.seq != prev + 1:
                raise ValueError(f"document {doc!r}: entries in one commit must have "
                                 f"consecutive seqs, got {prev} then {entry.seq}")
            encoded.append((entry.seq, encode(entry)))
            prev = entry.seq
        snap = None
        if snapshot is not None:
            if not isinstance(snapshot, Snapshot):
                raise TypeError(f"snapshot must be a store Snapshot, not {type(snapshot).__name__}")
            snap = (snapshot.seq, snapshots.encode(snapshot))
        if timer is not KEEP and timer is not None:
            if type(timer) is not int or not 0 <= timer <= keys.TIME_MAX:
                raise ValueError(f"timer must be None or a due time in ms, got {timer!r}")
        if not encoded and snap is None and timer is KEEP:
            raise ValueError(f"document {doc!r}: a commit needs entries, a snapshot or a timer")
        if history is not None and (type(history) is not int or history < 1):
            raise ValueError(f"maximum_history must be None or an int >= 1, got {history!r}")
        return commit_mod.Change(doc, prefix, encoded, snap, timer, history)
