"""One simulated run: a generated document, a generated session over it, and
the invariants checked after every step (spec/simulation.md).

    problem = simulate(SeededDraw(seed), Config()).problem   # None: clean

The session runs twice at once, on the in-process runtime with its views:

- `mem`: advm/session.py `Session`, the document in memory;
- `sto`: `StoredSession`, the same inputs on the durable layer over an LMDB
  store in a temporary directory, crashed (its runtime dropped, no close, and
  recovered from the store alone) whenever the session says so.

After every step:

(a) privacy: every value a session sends is a unique marker (`MK<n>z`
    strings, `<year>-03-01` dates); no frame to a viewer (delta, first view,
    error, ask, view) carries a marker that the document's rules, evaluated
    by the generator's oracle on the state after the step, hide from it;
    an error frame carries none at all;
(b) each connected viewer's view rebuilt from its deltas (views/merge.py)
    equals a fresh view computed for it (also after a restart's catch-up);
(c) every accepted message appended its tag to the private journal exactly
    once and in order, in memory and on the store across crashes; the
    stored document's state hash equals the in-memory one;
(d) replaying the store's log (durable/replay.py, what `advm replay` runs)
    reproduces the state hash the live document had at sampled sequence
    numbers and at the end, and finds no divergence;
(g) nothing raises out of the runtime (an internal error), and every error
    frame has a documented code (spec/runtime.md 4).
"""
from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field

from docgen import PEOPLE, DocSpec, gen_doc
from draw import Draw

from advm.durable.noviews import state_hash
from advm.views.merge import ViewState
from advm.views.viewers import Viewers

MARKER = re.compile(r"MK\d+z|2[1-9]\d\d-03-01")
# spec/runtime.md 4, and the session's own (spec/sessions.md).
CODES = {"queue_full", "destroyed", "not_created", "already_created", "already_connected",
         "not_connected", "unknown_ask", "stale_ask", "wrong_principal", "invalid_answer",
         "no_open_ask", "input", "abort", "assert", "budget", "error", "delete_refused",
         "unknown_channel", "create_refused"}


class Problem(AssertionError):
    """An invariant broken: `law` is its letter (a, b, c, d, g)."""

    def __init__(self, law: str, message: str):
        super().__init__(f"({law}) {message}")
        self.law = law
        self.message = message


@dataclass
class Config:
    steps: int = 40
    durable: bool = True     # run `sto` too: (c) and (d)
    replays: int = 2         # sampled replays besides the final one
    store_dir: str | None = None  # keep the stored run's store there (default: a temporary one)


@dataclass
class Result:
    source: str
    trace: list[str] = field(default_factory=list)
    problem: Problem | None = None
    frames: int = 0
    marked: int = 0        # frames to viewers that carried a marker (checked by (a))
    replays: int = 0


class Marks:
    def __init__(self):
        self.n = 0

    def text(self) -> str:
        self.n += 1
        return f"MK{self.n}z"

    def date(self) -> str:
        self.n += 1
        return f"{2100 + self.n % 800}-03-01"


class Clients:
    """What each principal holds, as a client keeps it (views/merge.py)."""

    def __init__(self):
        self.states: dict[str, ViewState] = {}
        self.connected: dict[str, bool] = {}
        self.asks: dict[str, dict[int, dict]] = {}

    def take(self, frames: list[dict]) -> None:
        for f in frames:
            who = f.get("to")
            if who is None:
                continue
            if "connected" in f:
                self.connected[who] = f["connected"]
                self.asks[who] = {}
                if not f["connected"]:
                    self.states.pop(who, None)
            elif "ask" in f:
                self.asks.setdefault(who, {})[f["ask"]["id"]] = f["ask"]
            elif "ask_closed" in f:
                self.asks.get(who, {}).pop(f["ask_closed"], None)
            elif "delta" in f:
                state = self.states.setdefault(who, ViewState())
                if f["seq"] == 1:
                    state.reset()
                state.apply(f["delta"], f["seq"])


# ---------------------------------------------------------------- the session grammar


def gen_step(draw: Draw, spec: DocSpec, marks: Marks, mem) -> dict:
    """One input, drawn against the in-memory run as it is now."""
    who = draw.pick(PEOPLE)
    k = draw.int(0, 19)
    channels = spec.channels()
    if k <= 1:
        if spec.paged and draw.bool():
            return {"op": "connect", "as": who, "viewer_state": {"pg": draw.int(0, 4)}}
        return {"op": "connect", "as": who}
    if k == 16 and spec.paged:
        state = {"pg": draw.int(0, 4)} if draw.chance(90) else {"pg": marks.text()}
        return {"op": "update", "as": who, "viewer_state": state}
    if k == 2:
        return {"op": "disconnect", "as": who}
    if k <= 9:
        name = draw.pick(sorted(channels))
        return {"op": "send", "as": who, "channel": name, "message": message(draw, channels[name], marks)}
    if k <= 11:
        return answer(draw, spec, marks, mem, who)
    if k == 12:
        return {"op": "advance", "seconds": draw.pick([1, 30, 61, 3600, 86400])}
    if k == 13:
        return {"op": "view", "as": who}
    if k == 14:
        return {"op": "restart"}
    if k == 15:
        return {"op": "crash"}
    if k == 17 and draw.chance(10):  # only the creator may: @delete
        return {"op": "delete", "as": who}
    return bad_input(draw, spec, marks, who)


def message(draw: Draw, kind: str, marks: Marks) -> dict:
    m = {"tag": marks.text()}
    if kind == "SetS":
        m["v"] = marks.text()
    elif kind == "SetD":
        m["d"] = marks.date()
    elif kind == "AddR":
        m.update(a=marks.text(), b=marks.text(), h=draw.bool())
    elif kind == "EditR":
        m.update(id=draw.int(1, 4), a=marks.text())
    elif kind == "RowId":
        m["id"] = draw.int(1, 4)
    elif kind == "PutM":
        m.update(k=draw.int(0, 3), v=marks.text())
    return m


def answer(draw: Draw, spec: DocSpec, marks: Marks, mem, who: str) -> dict:
    asked = [p for p in PEOPLE if mem.living.asks_for(p)]
    if asked and draw.int(0, 3) > 0:
        who = draw.pick(asked)
    asks = mem.living.asks_for(who)
    if not asks:
        return {"op": "answer", "as": who, "ask": draw.int(1, 5), "message": {"v": marks.text()}}
    ask = draw.pick(asks)
    if ask["channel"] == "ans_ch":
        msg = {"v": marks.text()}
        if draw.chance(30):  # on the incomplete channel: answers the oldest ask there
            return {"op": "send", "as": who, "channel": "ans_ch", "message": msg}
    elif ask["channel"] == "pick_ch":
        msg = draw.pick(ask["options"]) if draw.chance(80) else {"n": 9}
    else:
        n = draw.int(0, 3)
        msg = [ask["options"][i] for i in range(n)]
    return {"op": "answer", "as": who, "ask": ask["id"], "message": msg}


def bad_input(draw: Draw, spec: DocSpec, marks: Marks, who: str) -> dict:
    channels = spec.channels()
    k = draw.int(0, 5)
    if k == 0 and spec.dates:  # a marker where a date goes (issue 21's leak)
        return {"op": "send", "as": who, "channel": f"set_{draw.pick(sorted(spec.dates))}",
                "message": {"tag": marks.text(), "d": marks.text()}}
    if k == 1:
        return {"op": "send", "as": who, "channel": "no_such", "message": {"tag": marks.text()}}
    if k == 2:
        name = draw.pick(sorted(channels))
        m = message(draw, channels[name], marks)
        m["extra"] = marks.text()
        return {"op": "send", "as": who, "channel": name, "message": m}
    if k == 3:
        name = draw.pick(sorted(channels))
        return {"op": "send", "as": who, "channel": name, "message": {"tag": 7, "v": marks.text()}}
    if k == 4 and spec.table is not None:
        return {"op": "send", "as": who, "channel": "edit_row",
                "message": {"tag": marks.text(), "id": 2 ** 40, "a": marks.text()}}
    return {"op": "answer", "as": who, "ask": draw.int(1, 9), "message": [marks.text()]}


# ---------------------------------------------------------------- checks


def state_of(spec: DocSpec, living) -> dict:
    doc = living.engine
    return {name: doc.field(name) for name in spec.fields()}


def markers(value) -> set[str]:
    return set(MARKER.findall(json.dumps(value)))


def check_privacy(spec: DocSpec, frames: list[dict], state: dict) -> None:
    cache: dict[str, set] = {}
    for f in frames:
        who = f.get("to")
        if who is None:
            continue
        found = markers(f)
        if not found:
            continue
        if "error" in f:
            raise Problem("a", f"an error frame to {who} carries {sorted(found)}: {f}")
        if who not in cache:
            cache[who] = set()
            for v in spec.allowed(state, who):
                cache[who] |= markers(v)
        hidden = found - cache[who]
        if hidden:
            raise Problem("a", f"{who} received {sorted(hidden)}, which its rules hide: {f}")


def check_no_markers(frames: list[dict]) -> None:
    """Once the document is deleted, no rule shows anyone anything."""
    for f in frames:
        if f.get("to") is not None and markers(f):
            raise Problem("a", f"a frame about the deleted document carries {sorted(markers(f))}: {f}")


def check_views(clients: Clients, living) -> None:
    for who, up in clients.connected.items():
        if up:
            fresh = living.view(who)
            held = clients.states[who].view if who in clients.states else None
            if held != fresh:
                raise Problem("b", f"{who}'s view from its deltas {held} is not its fresh view {fresh}")
            held_asks = sorted(clients.asks.get(who, {}))
            open_asks = sorted(a["id"] for a in living.asks_for(who))
            if held_asks != open_asks:
                raise Problem("b", f"{who} holds asks {held_asks} from its frames; open for it: {open_asks}")


def check_codes(frames: list[dict]) -> None:
    for f in frames:
        if "error" in f and f["error"].get("code") not in CODES and f.get("to") is not None:
            raise Problem("g", f"an error frame with an undocumented code: {f}")
        if f.get("to") is None and "error" in f and f["error"].get("code") == "internal":
            raise Problem("g", f"an internal error: {f}")


def without_seq(frames: list[dict]) -> list[dict]:
    """Frames as compared between the runs: a crash of the stored run starts
    its viewers' numbering again, nothing else."""
    return [{k: v for k, v in f.items() if k != "seq"} for f in frames]


def journal(state: dict) -> list[str]:
    return [row["tag"] for row in state["_journal"]]


# ---------------------------------------------------------------- a run


def compiled(text: str, filename: str = "sim.adb"):
    """(g), first half: the module of a program `check` accepts, or None when
    check refuses it; a program check accepts and compilation cannot build
    is a Problem."""
    from advm.compiler import compile_source
    from advm.compiler.build import build_module

    comp = compile_source(text, filename)
    if not comp.ok:
        return None
    try:
        return build_module(comp)
    except Exception as e:  # noqa: BLE001 - any failure here is the finding
        raise Problem("g", f"check accepts the program, compilation fails: {type(e).__name__}: {e}") from e


def simulate(draw: Draw, config: Config | None = None) -> Result:
    config = config or Config()
    spec = gen_doc(draw)
    result = Result(spec.source())
    tmp = None
    try:
        module = compiled(result.source)
        if module is None:
            raise Problem("gen", "check refuses a generated program (a bug of tests/sim/docgen.py)")
        if config.durable:
            tmp = config.store_dir or tempfile.mkdtemp(prefix="advm-sim-")
        _run(draw, spec, module, config, result, tmp)
    except Problem as p:
        result.problem = p
    finally:
        if tmp is not None and config.store_dir is None:
            shutil.rmtree(tmp, ignore_errors=True)
    return result


def _run(draw, spec, module, config, result, tmp) -> None:
    from advm.session import Session, StoredSession

    mem = Session(module)
    sto = store = None
    if tmp is not None:
        from advm.store import Store

        store = Store(tmp, durability="relaxed")
        sto = StoredSession(module, store)
    marks = Marks()
    clients = Clients()
    acked: list[str] = []
    hashes: dict[int, bytes] = {}
    opening = [{"op": "create", "as": PEOPLE[0]}, {"op": "connect", "as": PEOPLE[0]},
               {"op": "connect", "as": PEOPLE[1]}]
    items = opening + [None] * config.steps
    try:
        for number, item in enumerate(items, start=1):
            if item is None:
                item = gen_step(draw, spec, marks, mem)
            result.trace.append(json.dumps(item))
            where = f"step {number} {json.dumps(item)}"
            try:
                frames = _feed(mem, item, number)
                stored = _feed(sto, item, number) if sto is not None else None
            except Exception as e:  # noqa: BLE001 - whatever escapes the runtime is the finding
                raise Problem("g", f"{where}: {type(e).__name__}: {e}") from e
            result.frames += len(frames)
            result.marked += sum(1 for f in frames if f.get("to") is not None and MARKER.search(json.dumps(f)))
            if item["op"] == "send" and not any("error" in f and f.get("to") == item["as"] for f in frames) \
                    and spec.channels().get(item["channel"]) is not None:
                acked.append(item["message"]["tag"])
            if item["op"] == "delete" and mem.living.destroyed:
                try:
                    check_deleted(spec, mem, sto, frames, stored, marks, result)
                except Problem as p:
                    raise Problem(p.law, f"{where}: {p.message}") from None
                break
            state = state_of(spec, mem.living)
            try:
                check_codes(frames)
                check_privacy(spec, frames, state)
                try:
                    clients.take(frames)
                except Exception as e:  # noqa: BLE001 - a delta the client cannot apply
                    raise Problem("b", f"a client cannot apply its frames: {type(e).__name__}: {e}") from e
                check_views(clients, mem.living)
                if journal(state) != acked:
                    raise Problem("c", f"the journal {journal(state)} is not the accepted inputs {acked}")
                if sto is not None:
                    if item["op"] != "crash" and without_seq(stored) != without_seq(frames):
                        raise Problem("c", f"the stored run answered {stored}, the memory run {frames}")
                    check_codes(stored)
                    check_privacy(spec, stored, state_of(spec, sto.living))
                    got = journal(state_of(spec, sto.living))
                    if got != acked:
                        raise Problem("c", f"on the store the journal {got} is not the accepted inputs {acked}")
                    h_mem, h_sto = state_hash(mem.living.snapshot()), state_hash(sto.living.snapshot())
                    if h_mem != h_sto:
                        raise Problem("c", "the stored document's state differs from the one in memory")
                    doc = sto.durable
                    if doc is not None:
                        hashes[doc.seq] = h_sto
            except Problem as p:
                raise Problem(p.law, f"{where}: {p.message}") from None
        if store is not None and hashes and not mem.living.destroyed:
            check_replay(draw, store, sto, hashes, config, result)
    finally:
        if store is not None:
            store.close()


def check_deleted(spec, mem, sto, frames, stored, marks, result) -> None:
    """After a delete: the document is gone in memory and on the store, the
    frames saying so carry no value, and a message sent next is refused."""
    if sto is not None and not sto.living.destroyed:
        raise Problem("c", "deleted in memory, not on the store")
    for got in (frames, stored or []):
        check_codes(got)
        check_no_markers(got)
    item = {"op": "send", "as": PEOPLE[0], "channel": sorted(spec.channels())[0],
            "message": {"tag": marks.text()}}
    result.trace.append(json.dumps(item))
    for session in (mem, sto) if sto is not None else (mem,):
        after = _feed(session, item, 0)
        if not any("error" in f for f in after):
            raise Problem("c", f"the deleted document accepted a message: {after}")
        check_no_markers(after)


def _feed(session, item: dict, number: int) -> list[dict]:
    if item["op"] == "crash":
        if not hasattr(session, "store"):
            return []  # the memory run does not crash
        item = {"op": "restart"}
    return session.feed(json.dumps(item), number)


def check_replay(draw: Draw, store, sto, hashes: dict[int, bytes], config: Config,
                 result: Result) -> None:
    from advm.durable.replay import replay

    # a document with maximum_history keeps its log from a snapshot on
    # (spec/store.md 7): replay starts no earlier than that
    first = store.first_seq(sto.doc)
    seqs = sorted(s for s in hashes if s >= first - 1 and s > 0)
    if not seqs:
        return
    points = {seqs[-1]} | {draw.pick(seqs) for _ in range(config.replays)}
    for seq in sorted(points):
        try:
            r = replay(store, sto.doc, until=seq, live_viewers=Viewers)
        except Exception as e:  # noqa: BLE001 - a replay that cannot run is the finding
            raise Problem("d", f"replay to seq {seq} fails: {type(e).__name__}: {e}") from e
        result.replays += 1
        if not r.ok:
            raise Problem("d", f"replay to seq {seq} diverges: {r.divergence}")
        got = state_hash(r.living.snapshot())
        if got != hashes[seq]:
            raise Problem("d", f"replay to seq {seq} gives state {got.hex()[:16]}, "
                               f"the live document had {hashes[seq].hex()[:16]}")
