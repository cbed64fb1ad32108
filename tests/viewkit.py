"""Helpers for the views tests (imported as `viewkit`): clients that apply the
frames a Viewers instance sends, and the reference they are compared with."""
from __future__ import annotations

from pathlib import Path

from advm.net import ViewState, encode_view
from advm.vm.privacy import render_view

DOCS = Path(__file__).resolve().parent / "views_docs"


def source(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


class Clients:
    """One reference client per principal, fed every frame (checks seq order)."""

    def __init__(self):
        self.states: dict[str, ViewState] = {}
        self.frames: list[dict] = []

    def feed(self, frames: list[dict]) -> list[dict]:
        for frame in frames:
            assert set(frame) == {"to", "delta", "seq"}, frame
            assert frame["delta"], f"an empty patch was sent: {frame}"
            state = self.states.setdefault(frame["to"], ViewState())
            if frame["seq"] == 1:
                state.reset()
            state.apply(frame["delta"], frame["seq"])
            self.frames.append(frame)
        return frames

    def view(self, who: str) -> dict:
        return self.states[who].view

    def encoded(self, who: str) -> dict:
        return self.states[who].encoded


def assert_current(document, clients: Clients, who: str, schema=None) -> None:
    """What the client rebuilt is exactly the reference view, in both forms."""
    reference = render_view(document, who, schema)
    assert clients.view(who) == reference
    assert clients.encoded(who) == encode_view(reference)


__all__ = ["Clients", "DOCS", "assert_current", "source"]
