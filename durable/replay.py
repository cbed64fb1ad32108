"""Rebuild a document from its log and prove it is the document the store holds.

    result = replay(store, "g1")                 # from seq 1 to the head
    result = replay(store, "g1", until=40)       # the document as it was at seq 40
    result.divergence                            # None, or the first seq that differs

Each logged entry is applied to a runtime exactly as a durable document
applied it (durable/inputs.py). Two checks run along the way:

- every entry's frames digest: the frames replay produces must decide what
  the logged input decided (errors, asks, connected answers), so the first
  differing input is found exactly;
- every stored snapshot on the way: the replayed runtime's state must hash
  like the stored snapshot's (`state_hash`; this also catches state no client
  can see).

Replay computes no views (durable/noviews.py `NoViewers`): views are derived
from the state the snapshots verify, and computing them was nearly all of
replay's time. The digest and the state hash leave views out for that reason.

A replay starts from seq 1 when the log is complete; when the store trimmed
the log (Retention(trim_log=True)) it starts from the oldest kept snapshot.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Callable

from ..store.errors import StoreError
from ..store.log import Entry
from ..store.snapshots import Snapshot
from . import inputs
from .document import base, resolver
from ..runtime.living import retelling
from .noviews import NoViewers, runtime_state_bytes, stored_state_bytes


@dataclass
class Step:
    """One replayed entry, as `advm replay` prints it."""

    seq: int
    time: int
    kind: str
    principal: str | None
    channel: str | None
    outcome: str          # what the sender got on replay
    logged: str | None    # what the log says it got (None: the entry has no outcome)
    matched: bool | None  # frames digest equal (None: nothing to compare)
    frames: int

    def to_json(self) -> dict:
        return {"seq": self.seq, "time": self.time, "kind": self.kind,
                "principal": self.principal, "channel": self.channel, "outcome": self.outcome,
                "logged_outcome": self.logged, "matched": self.matched, "frames": self.frames}


@dataclass
class Check:
    """A stored snapshot compared with the replayed state at its seq."""

    seq: int
    stored: str   # hex state hashes (noviews.state_hash: viewers left out)
    replayed: str
    # None: the state hashes decided. Else whether the exact replay of the
    # segment, views included, gave the stored snapshot's bytes (see _exact).
    exact: bool | None = None

    @property
    def ok(self) -> bool:
        return self.stored == self.replayed if self.exact is None else self.exact

    def to_json(self) -> dict:
        return {"seq": self.seq, "ok": self.ok, "stored": self.stored, "replayed": self.replayed,
                "exact": self.exact}


@dataclass
class Replay:
    doc: str
    start: int              # the state replay began from (0: nothing, else a snapshot's seq)
    head: int               # the last seq applied
    last: int               # where the stored log ends
    steps: int = 0
    checks: list[Check] = field(default_factory=list)
    divergence: inputs.Divergence | None = None
    living: object = None
    module: object = None

    @property
    def ok(self) -> bool:
        return self.divergence is None

    def to_json(self) -> dict:
        d = self.divergence
        return {"doc": self.doc, "start": self.start, "head": self.head, "last": self.last,
                "steps": self.steps, "ok": self.ok,
                "snapshots": [c.to_json() for c in self.checks],
                "divergence": None if d is None else {"seq": d.seq, "message": str(d)}}


def replay(store, doc: str, *, until: int | None = None, modules: dict | None = None,
           viewers=NoViewers, live_viewers=None, on_step: Callable[[Step], None] | None = None,
           chunk: int = 1024, check: str = "all") -> Replay:
    """Replay `doc`'s log from its beginning (or from its oldest snapshot when
    the log was trimmed) up to `until` (default: the end). Stops at the first
    divergence, which `Replay.divergence` names; raises StoreError when the
    document is absent or its records are damaged. `viewers` is the runtime's
    viewers factory: NoViewers (no views computed) unless the caller wants
    the viewers' state too. `live_viewers` is the factory the documents ran
    with live (views.viewers.Viewers; durability imports no views, so the
    caller hands it in): a kept snapshot whose hash differs is replayed again
    from the previous one with it, to decide whether only bytes no behaviour
    depends on differ (`Check.exact`); None leaves that undecided (`exact`
    None) and the difference is a divergence.

    `check`: "all" (the default) compares the state with every kept
    snapshot on the way. "newest" compares only with the newest one in
    range (each comparison encodes the whole document), and when that one
    differs replays again with "all" (without calling on_step) to name the
    first kept snapshot that differs; it does not notice an older kept
    snapshot that disagrees with the log while the newest agrees."""
    if check not in ("newest", "all"):
        raise ValueError(f"check is 'newest' or 'all', not {check!r}")
    if check == "all":
        return _replay(store, doc, until, modules, viewers, live_viewers, on_step, chunk, newest=False)
    result = _replay(store, doc, until, modules, viewers, live_viewers, on_step, chunk, newest=True)
    if result.checks and not result.checks[-1].ok:
        return _replay(store, doc, until, modules, viewers, live_viewers, None, chunk, newest=False)
    return result


def _replay(store, doc, until, modules, viewers, live_viewers, on_step, chunk, *, newest: bool) -> Replay:
    last = store.last_seq(doc)
    first = store.first_seq(doc)
    held = store.snapshot_seqs(doc)
    if not last and not held:
        raise StoreError(f"document {doc!r} is not in the store at {getattr(store, 'path', '?')}",
                         doc=doc)
    if until is not None and until < 0:
        raise ValueError("--until is a sequence number, 0 or more")
    stop = last if until is None else min(until, last)
    start_snap = None
    if first != 1:
        # No complete log: start from the oldest snapshot the log continues from.
        starts = [s for s in held if s <= stop and (not first or s >= first - 1)]
        if not starts:
            raise StoreError(f"document {doc!r}: its log starts at seq {first} and no kept "
                             f"snapshot at or before seq {stop} connects to it", doc=doc)
        start_snap = store.snapshot(doc, starts[0])
    start = start_snap.seq if start_snap is not None else 0
    to_check = {s for s in held if start < s <= stop}
    if newest and to_check:
        to_check = {max(to_check)}

    result = Replay(doc, start, start, last)
    living = module = None
    verified = start_snap  # the newest snapshot checked so far (None: the log's start)
    if start_snap is not None:
        living, module = base(store, doc, start_snap, None, modules, viewers=viewers)
    with retelling():  # once for the whole loop, not once an entry (inputs.apply)
        head, steps, living, module = _loop(
            store, doc, stop, start, to_check, living, module, verified, modules, viewers,
            live_viewers, on_step, chunk, newest, result)
    result.head = head
    result.steps = steps
    result.living = living
    result.module = module
    return result


def _loop(store, doc, stop, start, to_check, living, module, verified, modules, viewers,
          live_viewers, on_step, chunk, newest, result):
    head = start
    apply, matches = inputs.apply_retold, inputs.digest_matches
    resolve = resolver(store, doc, modules)
    steps = 0
    for entry in store.entries(doc, after=start, until=stop, chunk=chunk):
        if living is None:
            living, module = base(store, doc, None, entry, modules, viewers=viewers)
        living, frames = apply(living, entry, head, doc, viewers, resolve)
        module = living.engine.module
        head = entry.seq
        steps += 1
        matched = matches(entry, frames)
        if on_step is not None:
            on_step(_step(entry, frames, matched))
        if matched is False:
            try:
                inputs.check_frames(entry, frames, doc=doc)
            except inputs.Divergence as e:
                result.divergence = e
            break
        if head in to_check:
            stored = store.snapshot(doc, head)
            now = runtime_state_bytes(living)
            was = stored_state_bytes(stored.data, now)
            hashed = hashlib.sha256(was).hexdigest()
            # equal bytes hash alike: one sha256 for the usual case
            check = Check(head, hashed, hashed if now == was else hashlib.sha256(now).hexdigest())
            if not check.ok and not newest and live_viewers is not None:
                # (with newest only, the caller replays again checking all)
                check.exact = _exact(store, doc, verified, head, modules, live_viewers) == stored.data
            result.checks.append(check)
            if not check.ok:
                previous = verified.seq if verified is not None else start
                result.divergence = inputs.Divergence(
                    f"document {doc!r} diverges: the state replayed to seq {head} does not "
                    f"match its stored snapshot (hash {check.replayed[:16]} vs "
                    f"{check.stored[:16]}); every input's frames matched, so the difference "
                    f"is in state no client saw, after seq {previous}", doc=doc, seq=head)
                break
            verified = stored
            if check.exact:
                # Only bytes no behaviour depends on differed: go on from the
                # stored ones, so that they agree again.
                living = inputs.round_trip(living, stored.data, viewers=viewers)
    return head, steps, living, module


def _exact(store, doc: str, since: Snapshot | None, head: int, modules, viewers) -> bytes:
    """The runtime snapshot at `head` replayed exactly as the live runtime ran
    it, views included, from the stored snapshot `since` (None: from the log's
    start). A safety net for states that differ only where views could leave
    traces: a suspended block once captured registers its code had not written
    yet, and view formulas evaluated between inputs left values there. The
    machine now clears registers between calls (spec/snapshot.md 6), so this
    should not run; if it does, it costs one snapshot interval replayed
    with views, and decides exactly."""
    start = since.seq if since is not None else 0
    entries = store.log(doc, after=start, until=head)
    living, _ = base(store, doc, since, entries[0] if entries else None, modules, viewers=viewers)
    at = start
    for entry in entries:
        living, frames = inputs.apply(living, entry, at, doc=doc, viewers=viewers,
                                      resolve=resolver(store, doc, modules))
        inputs.check_frames(entry, frames, doc=doc)
        at = entry.seq
    return living.snapshot()


def _step(entry: Entry, frames: list, matched: bool | None) -> Step:
    who = entry.principal
    channel = entry.channel
    if entry.kind == "result":  # which call: its id, or a formula's invocation (cut)
        channel = f"call {entry.extra.get('call')}"[:60]
    return Step(entry.seq, entry.time, entry.kind, who, channel,
                inputs.outcome(frames, who), entry.extra.get("outcome"), matched, len(frames))


__all__ = ["Check", "Replay", "Step", "replay"]
