"""A wake makes no views (issue 12 point 5): a runtime restored from a snapshot
makes its viewers' parts (tracker, formulas, renderer) on first use, not in
Viewers.load, and what its viewers are sent next is what the runtime it was
saved from sends for the same input."""
from __future__ import annotations

from advm.durable.document import DurableDocument
from advm.runtime.living import LivingDocument
from advm.store import Store
from advm.views.viewers import Viewers
from durable_kit import T0, example


def _chat(store):
    doc, _ = DurableDocument.create(store, "room", example("chat"), "ada@lab", None, T0,
                                    viewers=Viewers)
    for who in ("ada@lab", "bo@lab"):
        doc.submit({"op": "connect", "as": who}, T0 + 1).result()
    for n in range(3):
        doc.submit({"op": "send", "as": "bo@lab", "channel": "say",
                    "message": {"text": f"line {n}"}}, T0 + 10 + n).result()
    return doc


def test_restore_makes_the_viewers_parts_on_first_use_with_the_same_frames(tmp_path):
    with Store(tmp_path / "s", durability="relaxed") as store:
        doc = _chat(store)
        live = doc.living
        woken = LivingDocument.restore(live.engine.module, live.snapshot(), viewers=Viewers,
                                       load=False)
        assert "tracker" not in woken.viewers.__dict__  # nothing made by the wake
        assert sorted(woken.viewers.viewers) == sorted(live.viewers.viewers)
        item = {"op": "send", "who": "ada@lab", "channel": "say",
                "message": {"text": "after the wake"}, "now": T0 + 100}
        want = live.apply(dict(item))
        got = woken.apply(dict(item))
        assert "tracker" in woken.viewers.__dict__  # made by the first input
        assert got == want and any("delta" in f for f in got)
        assert woken.view("bo@lab") == live.view("bo@lab")
        doc.close()


def test_a_durable_open_with_no_log_tail_makes_no_views(tmp_path):
    with Store(tmp_path / "s", durability="relaxed") as store:
        doc = _chat(store)
        doc.close()  # closing snapshots: the log after the newest snapshot is empty
        assert store.load("room").entries == []
        again = DurableDocument.open(store, "room", viewers=Viewers)
        assert "tracker" not in again.living.viewers.__dict__
        frames = again.submit({"op": "send", "as": "ada@lab", "channel": "say",
                               "message": {"text": "hello"}}, T0 + 200).result()
        assert any(f.get("to") == "bo@lab" and "delta" in f for f in frames)
        again.close()
