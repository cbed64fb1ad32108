"""Inputs as log entries, and log entries applied to a runtime.

A durable document and `advm replay` must do exactly the same thing with a
logged input, or replay would not reproduce the document; this module is that
one shared definition (spec/store.md sections 11.3, 12 and 13).

An entry's kind is the runtime input's `op` (create, connect, disconnect,
send, answer, advance, delete, destroy), or one of two events that are not
client inputs but change what the runtime holds:

- `load`: the document was loaded from storage and `@load` ran.
- `reconnect`: a scripted session's restart re-attached its viewers without
  running `@connected` (spec/sessions.md section 5); `payload` lists them.

Extra envelope fields:

- `outcome`: "ok", or the error code the sender got.
- `digest`: a version byte (2) and 8 bytes of BLAKE2b over the frames the
  input decided (canonical CBOR of every frame but view deltas: errors, asks,
  connected answers; error frames without their text). Format-3 stores wrote
  8 bytes with the texts in; `digest_matches` reads both.
  Replay recomputes it, so the first input whose outcome differs is found
  exactly, not only at the next snapshot. View deltas are left out: they are
  a function of the state, which snapshots verify, and replay does not
  compute views (durable/noviews.py).
- `snap`: a snapshot was taken after this entry (the runtime goes on as it
  is: snapshots are canonical, spec/store.md 12).
- `from`: before this entry the runtime was rebuilt from the snapshot at that
  seq (a wake, a restart, an import); replay rebuilds there too (`apply`).
- `module`, `key` (create only): the code's sha256 and the key the document
  was created under.
- `seed` (create only, when the host drew one): Random's initial state, 64
  hex digits of entropy (runtime/engine.py fresh_seed). Without it (scripted
  sessions, documents created before issue 10) the seed derives from `key`.
"""
from __future__ import annotations

import hashlib

import cbor2

from ..runtime.contracts import as_input
from ..runtime.engine import gc_paused
from ..runtime.living import LivingDocument, error_frame, retelling
from ..runtime.upgrade import compare
from ..runtime.upgrade import upgrade as upgrade_to
from ..store.errors import StoreError
from ..store.log import Entry, pack_envelope, pack_input
from ..vm.docslots import as_principal
from ..vm.values import MAX_DEPTH, input_problem, valid_text

INPUT_KINDS = ("create", "connect", "disconnect", "send", "answer", "advance", "delete", "destroy", "result",
               "web", "attach")
LOAD = "load"
RECONNECT = "reconnect"
UPGRADE = "upgrade"  # new code (runtime/upgrade.py): extra {"module": sha256 of the new module}
EVENT_KINDS = (LOAD, RECONNECT, UPGRADE)


class Divergence(StoreError):
    """Replaying a document's log did not give what the log or a snapshot says
    happened: the code or the runtime is not deterministic, or a record was
    changed without breaking its checksum. `seq` is the first input at which
    it showed."""

    def __init__(self, message: str, *, doc: str | None, seq: int):
        super().__init__(message, doc=doc)
        self.seq = seq


def unloggable(item: dict) -> list | None:
    """The frames refusing an input whose payload the log could not hold or
    read back (a lone surrogate cbor2 cannot encode, nesting past MAX_DEPTH
    that cbor2 refuses to decode past 400), or None. The protocol and script
    edges refuse these first (net/edge.py, advm/session.py); this is the
    store's own guard for every other caller, so an acknowledged input can
    always be read back (issue 10 point 3). Nothing runs, nothing is logged.
    The error names where the value went wrong, as the runtime's decoder does
    (`message.extra[0]: ...`), never the value."""
    for name in ("message", "arg", "result"):
        payload = item.get(name)
        if payload is None or type(payload) is int or type(payload) is str and valid_text(payload):
            continue
        if type(payload) is dict and _flat_ascii(payload):  # the usual message: nothing to walk
            continue
        if input_problem(payload, MAX_DEPTH) is not None:
            where, text = _where_unloggable(payload, name, MAX_DEPTH)
            return [error_frame(principal_of(item), "input", f"{where}: {text}")]
    return None


def _flat_ascii(value: dict) -> bool:
    """Whether an object certainly logs: one level deep, ASCII text keys,
    and values that are numbers, booleans, null or ASCII text (False: the
    whole check decides)."""
    for k, x in value.items():
        if type(k) is not str or not k.isascii():
            return False
        t = type(x)
        if t is str:
            if not x.isascii():
                return False
        elif t is not int and t is not float and t is not bool and x is not None:
            return False
    return True


def _where_unloggable(value, where: str, room: int) -> tuple[str, str]:
    """The path to the first part of `value` input_problem refuses, and why."""
    if type(value) is str:
        return where, "text that is not valid Unicode (a lone surrogate)"
    if room <= 0:
        return where, f"nests deeper than {MAX_DEPTH} levels of arrays and objects"
    items = value.items() if type(value) is dict else enumerate(value)
    for k, x in items:
        here = f"{where}[{k}]" if type(k) is int else f"{where}.{k if valid_text(k) else '?'}"
        if type(k) is str and not valid_text(k):
            return here, "a key that is not valid Unicode (a lone surrogate)"
        if (type(x) in (dict, list) or type(x) is str) and input_problem(x, room - 1) is not None:
            return _where_unloggable(x, here, room - 1)
    return where, f"nests deeper than {MAX_DEPTH} levels of arrays and objects"


def principal_of(item: dict):
    who = item.get("who")
    return as_principal(who) if isinstance(who, str) else None


# A digest is a version byte and 8 bytes of BLAKE2b (spec/store.md 11.3).
# Version 2 leaves each error frame's text out: what an input decided is the
# error's code (and who got it), not its wording, so a clearer message in a
# later advm replays an old log unchanged. Store format 3 wrote bare 8-byte
# digests with the texts in (`_legacy_digest`); they still verify.
DIGEST_VERSION = b"\x02"


def _decided(frames: list) -> list:
    kept = []
    for f in frames:
        if "delta" in f:
            continue
        error = f.get("error")
        if isinstance(error, dict) and "message" in error:
            f = dict(f, error={k: v for k, v in error.items() if k != "message"})
        kept.append(f)
    return kept


def _digest(decided: list) -> bytes:
    return DIGEST_VERSION + hashlib.blake2b(cbor2.dumps(decided, canonical=True),
                                            digest_size=8).digest()


def _legacy_digest(frames: list) -> bytes:
    kept = [f for f in frames if "delta" not in f]
    return hashlib.blake2b(cbor2.dumps(kept, canonical=True), digest_size=8).digest()


_NOTHING_DECIDED = _digest([])


# Digests of decided frames by their repr: the same few frames recur (a
# connect's answer, an abort's error to the same sender), and canonical CBOR
# plus BLAKE2b costs about 10 us where the repr costs 1. Frames are plain
# JSON-like values, for which equal reprs mean equal values, hence equal
# canonical bytes; a repr that differs for equal values only misses.
_DIGESTS: dict[str, bytes] = {}
_DIGESTS_MAX = 512


def frames_digest(frames: list) -> bytes:
    """The digest of what an input decided: its frames without view deltas
    and without error texts."""
    if not frames:
        return _NOTHING_DECIDED
    kept = [f for f in frames if "delta" not in f]
    if not kept:
        return _NOTHING_DECIDED
    key = repr(kept)
    found = _DIGESTS.get(key)
    if found is None:
        found = _digest(_decided(kept))
        if len(_DIGESTS) >= _DIGESTS_MAX:
            _DIGESTS.clear()
        _DIGESTS[key] = found
    return found


def digest_matches(entry: Entry, frames: list) -> bool | None:
    """Whether replayed `frames` are what `entry` logged (None: it logged no
    digest). A format-3 entry's digest has the error texts of the advm that
    wrote it: when the frames differ from it only where an error was sent and
    the sender's outcome is the same, the difference is taken to be the
    wording of the error, which later versions changed (spec/store.md 11.3)."""
    want = entry.extra.get("digest")
    if want is None:
        return None
    if not frames:  # most entries: nothing decided, logged as such
        if want == _NOTHING_DECIDED:
            return True
    want = bytes(want)
    if len(want) != 8:
        return frames_digest(frames) == want
    if _legacy_digest(frames) == want:
        return True
    return (any("error" in f for f in frames)
            and outcome(frames, entry.principal) == entry.extra.get("outcome", "ok"))


def outcome(frames: list, who) -> str:
    """What the sender got: "ok", or the code of its error frame."""
    if who is not None:
        for f in frames:
            if f.get("to") == who and "error" in f:
                return f["error"].get("code", "error")
    return "ok"


def envelope(seq: int, item: dict, frames: list, extra: dict | None = None) -> dict:
    """The log envelope (spec/store.md 3, 11.3) of a runtime input that ran
    and produced `frames`: the one definition, built as the map that is
    encoded (a durable document's hot path encodes it directly)."""
    kind = item["op"]
    who = item.get("who")
    if who is not None:
        who = as_principal(who) if isinstance(who, str) else None
    env = {"seq": seq, "time": item["now"], "kind": kind}
    if who is not None:
        env["principal"] = who
    if kind == "send":
        channel, payload = item.get("channel"), item.get("message")
        if channel is not None:
            env["channel"] = channel
        if payload is not None:
            env["payload"] = payload
    elif kind == "result":  # a service call's result (runtime/services.py): the call in `call`
        if item.get("result") is not None:
            env["payload"] = item["result"]
    elif kind == "attach":  # an upload's facts (its bytes are in the blob store)
        env["payload"] = item.get("asset")
    elif kind == "web":  # a @web put or delete: the method and path in `channel`, the body in `payload`
        env["channel"] = f"{item.get('method')} {item.get('path')}"
        if item.get("message") is not None:
            env["payload"] = item["message"]
        for part in ("parameters", "headers"):  # @parameters, @headers (runtime/web.py), when any
            if item.get(part):
                env[part] = item[part]
    elif kind == "answer" or kind == "create":
        payload = item.get("message" if kind == "answer" else "arg")
        if payload is not None:
            env["payload"] = payload
        if kind == "create" and item.get("seed") is not None:
            env["seed"] = item["seed"]
    if item.get("context") is not None:  # @context of connect, disconnect, send (runtime.md 2)
        env["context"] = item["context"]
    if item.get("sender") is not None:  # a document's create or message: [document, call] (language.md 4.32)
        env["sender"] = item["sender"]
    env["outcome"] = outcome(frames, who) if frames else "ok"
    env["digest"] = frames_digest(frames) if frames else _NOTHING_DECIDED
    if extra:
        env.update(extra)
    if kind == "answer":
        env["ask"] = item.get("ask")
    elif kind == "result":
        env["call"] = item.get("call")
    return env


# Kinds whose envelope is only the positional fields (no ask, call, seed or
# module): their record can be packed straight from the input.
_PLAIN_KINDS = frozenset({"send", "connect", "disconnect", "advance", "delete", "destroy"})


def record(seq: int, item: dict, frames: list) -> bytes:
    """The log record of a runtime input that ran and produced `frames`:
    the bytes of log.pack_envelope(envelope(seq, item, frames)), packed
    without building the envelope's map when the input is a plain one."""
    kind = item["op"]
    if kind not in _PLAIN_KINDS or "context" in item or "sender" in item:
        return pack_envelope(envelope(seq, item, frames))
    who = item.get("who")
    if who is not None:
        who = as_principal(who) if isinstance(who, str) else None
    if frames:
        outcome_, digest = outcome(frames, who), frames_digest(frames)
        if type(outcome_) is not str:
            return pack_envelope(envelope(seq, item, frames))
    else:
        outcome_, digest = "ok", _NOTHING_DECIDED
    if kind == "send":
        return pack_input(seq, item["now"], kind, who, item.get("channel"), item.get("message"),
                          outcome_, digest)
    return pack_input(seq, item["now"], kind, who, None, None, outcome_, digest)


def to_entry(seq: int, item: dict, frames: list, extra: dict | None = None) -> Entry:
    """The log entry for a runtime input that ran and produced `frames`."""
    return from_envelope(envelope(seq, item, frames, extra))


def from_envelope(env: dict) -> Entry:
    extra = {k: v for k, v in env.items() if k not in _ENVELOPE}
    return Entry(env["seq"], env["time"], env["kind"], env.get("principal"), env.get("channel"),
                 env.get("payload"), extra)


_ENVELOPE = frozenset({"seq", "time", "kind", "principal", "channel", "payload"})


def event_entry(seq: int, kind: str, time: int, payload=None, extra: dict | None = None) -> Entry:
    return Entry(seq, time, kind, None, None, payload, dict(extra or {}))


def from_entry(entry: Entry) -> dict:
    """The runtime input a logged entry records."""
    item = {"op": entry.kind, "now": entry.time}
    if entry.principal is not None:
        item["who"] = entry.principal
    if entry.extra.get("context") is not None:
        item["context"] = entry.extra["context"]
    if entry.extra.get("sender") is not None:
        item["sender"] = list(entry.extra["sender"])
    kind = entry.kind
    if kind == "send":
        item["channel"] = entry.channel
        item["message"] = entry.payload
    elif kind == "answer":
        item["ask"] = entry.extra.get("ask")
        item["message"] = entry.payload
    elif kind == "result":
        item["call"] = entry.extra.get("call")
        item["result"] = entry.payload
    elif kind == "attach":
        item["asset"] = entry.payload
    elif kind == "web":
        method, _, path = (entry.channel or "").partition(" ")
        item["method"], item["path"], item["message"] = method, path, entry.payload
        for part in ("parameters", "headers"):
            if entry.extra.get(part):
                item[part] = entry.extra[part]
    elif kind == "create":
        item["arg"] = entry.payload
        seed = entry.extra.get("seed")
        if seed is not None:  # absent before issue 10: the key-derived seed
            item["seed"] = seed
    return item


def round_trip(living, data: bytes | None = None, *, load: bool = False, viewers=None):
    """The runtime rebuilt from its own snapshot (`data`, when the caller took
    it already), as after a wake (`from` entries) or with @load (`load`).
    `viewers`: the viewers factory to rebuild it with (None: the one it was made
    with, `LivingDocument.viewers_factory`)."""
    # Rebuilding a large graph with the cyclic collector on runs full
    # collections over it again and again (measured: half the wake time of a
    # 1 MB document); nothing here makes cyclic garbage worth collecting early.
    with gc_paused():
        if data is None:
            data = living.snapshot()
        return LivingDocument.restore(living.engine.module, data, viewers=viewers or living.viewers_factory, load=load)


def reconnect(living) -> list[dict]:
    """Re-attach every viewer the runtime lists as connected, in connection
    order, without running @connected: each gets connected, its full view and
    its open asks. Only scripted sessions do this at a restart (a server drops
    connections instead); the log records it as a `reconnect` event."""
    return living.reconnect()  # the runtime's, as a memory host's restart does (runtime/host.py)


def apply(living, entry: Entry, head: int, *, doc: str | None = None, viewers=None, resolve=None):
    """Run one logged entry on a runtime whose state includes inputs up to
    seq `head` (entry.seq == head + 1). Returns (runtime, frames): the runtime
    may be a new object (rebuilt from bytes where the log says so, or on new
    code at an `upgrade` event: `resolve(sha256)` gives that module)."""
    with retelling():
        return apply_retold(living, entry, head, doc, viewers, resolve)


def apply_retold(living, entry: Entry, head: int, doc=None, viewers=None, resolve=None):
    """apply() for a caller that holds `with retelling():` already (replay
    holds it once for its whole loop)."""
    extra = entry.extra
    kind = entry.kind
    if kind == "send" and "from" not in extra and "context" not in extra and "sender" not in extra:
        # Nearly every entry: the runtime's send() is apply() of the input
        # from_entry() would build, without building it.
        return living, living.send(entry.principal, entry.channel, entry.payload, entry.time)
    if extra.get("from") == head and head:
        living = round_trip(living, viewers=viewers)
    if kind == "send":
        return living, living.apply(from_entry(entry))
    if kind == LOAD:
        # @load's frames wait in the outbox for the next input, as they did live.
        return round_trip(living, load=True, viewers=viewers), []
    if kind == RECONNECT:
        return living, reconnect(living)
    if kind == UPGRADE:
        if resolve is None:
            raise StoreError(f"document {doc!r}: log entry {entry.seq} moves it to new code, and "
                             "no module store was given to find it", doc=doc)
        module = resolve(bytes(entry.extra["module"]))
        renames = entry.extra.get("renames")
        plan = compare(living.engine.module, module, dict(renames)) if renames else None
        return upgrade_to(living, module, plan, viewers=viewers or living.viewers_factory,
                          restart_blocked=bool(entry.extra.get("restart")))
    if kind not in INPUT_KINDS:
        raise StoreError(f"document {doc!r}: log entry {entry.seq} has kind {entry.kind!r}, "
                         "which this advm does not know (written by a newer version?)", doc=doc)
    return living, living.apply(from_entry(entry))


def check_frames(entry: Entry, frames: list, *, doc: str | None) -> None:
    """Raise Divergence when replayed frames are not the ones logged."""
    if digest_matches(entry, frames) is not False:
        return
    who = entry.principal
    got = outcome(frames, who)
    was = entry.extra.get("outcome", "?")
    detail = f"outcome {was!r} then, {got!r} now" if got != was else "different frames, same outcome"
    raise Divergence(f"document {doc!r} diverges at seq {entry.seq} ({entry.kind}"
                     f"{' ' + entry.channel if entry.channel else ''}): replay gives {detail}",
                     doc=doc, seq=entry.seq)


__all__ = ["Divergence", "EVENT_KINDS", "INPUT_KINDS", "LOAD", "RECONNECT", "UPGRADE", "apply", "apply_retold", "check_frames", "digest_matches",
           "envelope", "event_entry", "frames_digest", "from_entry", "from_envelope", "outcome", "principal_of",
           "reconnect", "round_trip", "to_entry", "unloggable"]
