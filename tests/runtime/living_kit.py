"""Helpers for the tests/test_living_*.py files (no tests of its own).

`PlainViewers` stands in for views/viewers.Viewers where a test wants the runtime
without the views engineer's optimisations: it renders every viewer's view
from scratch with the reference renderer (views/privacy.render_view) and diffs
whole views. It follows the viewers interface (spec/runtime.md 6) exactly, so the
same tests run against the real Viewers once it exists (`viewers_factory`).
"""
from __future__ import annotations

import copy

from advm.compiler.build import build_source
from advm.runtime.living import LivingDocument
from advm.views.delta import diff, encode_view
from advm.views.privacy import render_view

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z, the scripted sessions' clock
SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR


class PlainViewers:
    def __init__(self, engine):
        self.engine = engine
        self.sent: dict[str, dict] = {}
        self.seq: dict[str, int] = {}

    def _render(self, who: str) -> dict:
        return encode_view(render_view(self.engine, who))

    def connect(self, who: str) -> list[dict]:
        view = self._render(who)
        self.sent[who] = view
        self.seq[who] = 1
        return [{"to": who, "delta": copy.deepcopy(view), "seq": 1}]

    def disconnect(self, who: str) -> None:
        self.sent.pop(who, None)
        self.seq.pop(who, None)

    def after_commit(self) -> list[dict]:
        frames = []
        for who, old in list(self.sent.items()):
            new = self._render(who)
            patch = diff(old, new)
            if patch is not None:
                self.sent[who] = new
                self.seq[who] += 1
                frames.append({"to": who, "delta": patch, "seq": self.seq[who]})
        return frames

    def plain_view(self, who: str) -> dict:
        return render_view(self.engine, who)

    def state(self) -> dict:
        return {"viewers": [[w, self.seq[w], self.sent[w]] for w in self.sent]}

    def load(self, state: dict) -> None:
        for who, seq, view in state["viewers"]:
            self.sent[who] = view
            self.seq[who] = seq


def viewers_factory():
    """The real Viewers when views/viewers.py exists, else the stand-in."""
    try:
        from advm.views.viewers import Viewers
    except ImportError:
        return PlainViewers
    return Viewers


def living(text: str, key: str = "main", viewers=None, filename: str = "t.adb") -> LivingDocument:
    return LivingDocument(build_source(text, filename), key=key, viewers=viewers or viewers_factory())


def restore(doc: LivingDocument, viewers=None) -> LivingDocument:
    return LivingDocument.restore(doc.engine.module, doc.snapshot(), viewers=viewers or viewers_factory())


def to(frames: list[dict], who: str, kind: str | None = None) -> list[dict]:
    """Frames addressed to `who` (principal text or bare agent), optionally of one kind."""
    who = who if "@" in who else who + "@"
    return [f for f in frames if f["to"] == who and (kind is None or kind in f)]


def asks(frames: list[dict], who: str) -> list[dict]:
    return [f["ask"] for f in to(frames, who, "ask")]


def errors(frames: list[dict], who: str | None = None) -> list[dict]:
    return [f["error"] for f in frames if "error" in f and (who is None or f in to(frames, who))]


def fingerprint(doc: LivingDocument) -> bytes:
    """The snapshot with the logging epoch zeroed: the epoch only ever grows
    (tables key their undo entries on it), so a refused input moves it while
    changing nothing anyone can observe."""
    import cbor2

    from advm.vm.docslots import EPOCH
    from advm.vm.snapshot import dumps_values, loads_values

    body = cbor2.loads(doc.snapshot())
    state = loads_values(body["document"])
    state["doc"].f[EPOCH] = 0
    body["document"] = dumps_values(state)
    return cbor2.dumps(body)
