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
           "state_bytes", "state_hash"]
