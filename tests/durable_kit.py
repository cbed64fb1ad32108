"""Helpers for the durable-document tests (durable/document.py, durable/replay.py):
compile examples once, drive a DurableDocument with a scripted session's
inputs, and compare runtimes by their snapshots."""
from __future__ import annotations

import functools
import json
from pathlib import Path

from advm.session import CLOCK_START_MS, DEFAULT_KEY, parse_line
from advm.store import Store
from advm.durable.document import DurableDocument
from advm.runtime.host import RuntimeHost
from advm.views.viewers import Viewers

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SESSIONS = EXAMPLES / "sessions"
T0 = CLOCK_START_MS
APPS = ["approval", "auction", "cardgame", "chat", "cron_cleanup", "tictactoe", "todo"]


@functools.lru_cache(maxsize=None)
def example(name: str):
    from advm.compiler.build import build_source

    path = EXAMPLES / f"{name}.adb"
    return build_source(path.read_text(), str(path))


@functools.lru_cache(maxsize=None)
def compiled(text: str, filename: str = "doc.adb"):
    from advm.compiler.build import build_source

    return build_source(text, filename)


def script(name: str) -> list[dict]:
    """The example session's checked inputs, `view` lines dropped."""
    items = [parse_line(line) for line in (SESSIONS / f"{name}.jsonl").read_text().splitlines()]
    return [i for i in items if i is not None and i["op"] != "view"]


def open_store(path, **kw) -> Store:
    kw.setdefault("durability", "relaxed")
    return Store(path, **kw)


class Driver:
    """Plays scripted-session inputs on a durable document, as `advm run
    --script` does on a living one: the same clock, the same wake-ups during
    an `advance` (the one host's, runtime/host.py RuntimeHost.pass_time; the driver
    is what it wakes). `restart` drops the runtime (no close: as after a
    crash) and recovers it from the store."""

    def __init__(self, store, key: str, module, *, viewers=Viewers, wait: bool = True,
                 every: int | None = None):
        self.store = store
        self.every = every  # overrides the module's snapshot_every
        self.key = key
        self.module = module
        self.viewers = viewers
        self.wait = wait
        self.host = RuntimeHost(module, None, clock=T0)
        self.doc: DurableDocument | None = None
        self.futures = []

    def step(self, item: dict) -> list:
        op = item["op"]
        if op == "create":
            self.doc, frames = DurableDocument.create(self.store, self.key, self.module,
                                                      item["as"], item.get("arg"), self.clock,
                                                      viewers=self.viewers)
            self._tune()
            return frames
        if op == "restart":
            self.settle()
            self.doc = DurableDocument.open(self.store, self.key, viewers=self.viewers)
            self._tune()
            return []
        if op == "advance":
            return self.host.pass_time(self, self.clock + round(item["seconds"] * 1000))
        return self._submit(item)

    @property
    def clock(self) -> int:
        return self.host.clock

    # what RuntimeHost.pass_time wakes (runtime/host.py Timed)

    def next_due(self) -> int | None:
        return self.doc.next_due()

    @property
    def capped(self) -> bool:
        return self.doc.living.capped

    def wake(self, at: int) -> list:
        return self._submit({"op": "advance"})

    def _tune(self) -> None:
        if self.every is not None:
            self.doc.every = self.every

    def _submit(self, op: dict) -> list:
        fut = self.doc.submit(op, self.clock)
        if self.wait:
            return fut.result(timeout=30)
        self.futures.append(fut)
        return []

    def run(self, items) -> list:
        out = []
        for item in items:
            out += self.step(item)
        return out

    def settle(self) -> list:
        frames = []
        for fut in self.futures:
            frames += fut.result(timeout=30)
        self.futures = []
        return frames


def play(store, name: str, key: str | None = None, **kw) -> Driver:
    d = Driver(store, key or DEFAULT_KEY, example(name), **kw)
    d.run(script(name))
    d.settle()
    return d


def dumps(frames) -> str:
    return json.dumps(frames, sort_keys=True)
