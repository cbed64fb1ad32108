"""What replay leaves out: the viewers' views, which are derived from state.

A viewer's delta is a function of the document's state (and of what that
viewer was sent before), and computing it is most of what a chat line costs
(every line re-renders the last fifty for every member). Replay's job is to
reproduce the state and what each input decided, so it runs the runtime with
`NoViewers`: no view is computed, no delta frame is made. Two things make
that safe to verify:

- the frames digest a log entry carries covers only decided frames (errors,
  asks, connected answers: `decided`), never view deltas;
- a replayed snapshot is compared with the stored one by `state_hash`, which
  leaves out the viewers' bookkeeping (who was sent what, at which delta seq)
  and delta frames waiting in the outbox.

spec/store.md sections 11.3 and 14.
"""
from __future__ import annotations

import hashlib

import cbor2

from ..vm._restore import item_end
from ..vm.docslots import as_principal

NO_VIEWS = "advm-no-views"


class NoViewsError(RuntimeError):
    """A view was asked of a runtime made with NoViewers."""


def decided(frames: list) -> list:
    """The frames an input decided: everything but view deltas."""
    return [f for f in frames if "delta" not in f]


class NoViewers:
    """A viewers object (views/viewers.py `Viewers`'s contract) that computes no
    views. It remembers who is attached, so a document replayed with it can
    still say who was watching; their views were not replayed."""

    def __init__(self, engine):
        self.engine = engine
        self.viewers: dict[str, None] = {}

    def connect(self, who: str) -> list[dict]:
        self.viewers[as_principal(who)] = None
        return []

    def disconnect(self, who: str) -> None:
        self.viewers.pop(as_principal(who), None)

    def connected(self) -> list[str]:
        return list(self.viewers)

    def after_commit(self) -> list[dict]:
        return []

    def plain_view(self, who: str) -> dict:
        # Durability imports no views (spec/README.md, the layers): a runtime
        # that must show a view is made with views.viewers.Viewers by its caller.
        raise NoViewsError("this runtime computes no views (durable/noviews.py NoViewers, as replay "
                           "runs); rebuild it with a views factory (views.viewers.Viewers) to see one")

    def state(self) -> dict:
        return {"version": NO_VIEWS, "viewers": [{"who": w, "seq": None} for w in self.viewers]}

    def load(self, state) -> None:
        # Any viewer state (a stored snapshot's, or our own): keep only who.
        try:
            self.viewers = {v["who"]: None for v in state["viewers"]}
        except (KeyError, TypeError):
            self.viewers = {}


def state_hash(data: bytes) -> bytes:
    """sha256 of a runtime snapshot (runtime/living.py) without what views derive:
    the `viewers` part and any view delta waiting in the `outbox`. Equal for
    a live runtime and a replay without views when their states agree."""
    return hashlib.sha256(state_bytes(data)).digest()


def state_bytes(data: bytes) -> bytes:
    """What state_hash hashes: the snapshot without its viewers' part and view deltas."""
    return _state(cbor2.loads(data))


def stored_state_bytes(data: bytes, expect: bytes) -> bytes:
    """state_bytes(data), which is `expect` when the stored snapshot's entries
    other than its viewers' part are byte for byte the ones `expect` (the
    replayed runtime's state bytes, cbor2's own encoding) holds: then they
    decode to the same values, which encode to `expect` again. Read without
    decoding the viewers' part (its many small maps were most of a replay
    check's reading); anything else is read the long way."""
    if _without_viewers(data) == expect:
        return expect
    return state_bytes(data)


def _without_viewers(data: bytes) -> bytes | None:
    # The top-level map's entries, sliced by vm/_restore.pyx item_end, the
    # viewers' entry left out; None unless it is a small map whose outbox is empty.
    if not data or data[0] >> 5 != 5 or data[0] & 31 >= 24:
        return None
    count = data[0] & 31
    parts = []
    pos = 1
    for _ in range(count):
        key_end = item_end(data, pos)
        end = item_end(data, key_end) if key_end > 0 else -1
        if end < 0:
            return None
        key = data[pos:key_end]
        if key == b"gviewers":
            count -= 1
        elif key == b"foutbox" and data[key_end:end] != b"\x80":
            return None
        else:
            parts.append(data[pos:end])
        pos = end
    if pos != len(data):
        return None
    return bytes([0xA0 | count]) + b"".join(parts)


def runtime_state_bytes(living) -> bytes:
    """state_bytes(living.snapshot()), from the snapshot's map as the runtime
    makes it: the viewers' part is not written, and the snapshot is not read
    back (the map's values are plain CBOR data, which encode alike before
    and after a round trip)."""
    return _state(living.snapshot_body())


def runtime_state_hash(living) -> bytes:
    """state_hash(living.snapshot())."""
    return hashlib.sha256(runtime_state_bytes(living)).digest()


def _state(body) -> bytes:
    if isinstance(body, dict):
        body.pop("viewers", None)
        outbox = body.get("outbox")
        if isinstance(outbox, list):
            body["outbox"] = [f for f in outbox if not (isinstance(f, dict) and "delta" in f)]
    return cbor2.dumps(body)


__all__ = ["NO_VIEWS", "NoViewers", "NoViewsError", "decided", "runtime_state_bytes", "runtime_state_hash",
           "state_bytes", "state_hash", "stored_state_bytes"]
