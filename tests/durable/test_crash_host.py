"""SIGKILL a host that drives durable documents, at random moments (issue 5).

Each cycle forks a child host: it opens the store, recovers its documents
(DurableDocument.open: newest snapshot + log tail), and drives them with
scripted load through the group committer: tokens added through a channel,
answers to the document's awaited asks, time advancing past delayed
transitions, a few inputs that abort or are refused. It prints one line per
acknowledged input (after the input's future resolved, i.e. after its commit
was durable), then is killed with SIGKILL while busy. The parent then checks
each document:

1. every acknowledged token is in the recovered state, and every acknowledged
   answer is counted;
2. nothing that is not in the log is visible: the state's tokens are exactly
   the tokens of the logged, committed `add` inputs, and every delta a client
   was sent is covered by the recovered viewer's sequence number;
3. the recovered state equals a replay of the whole log from seq 1 (with
   views, byte for byte), and both replays (with views and, as `advm replay`
   runs, without) verify every kept snapshot;
4. awaits and timers continue: the recovered runtime (in memory, nothing is
   written) takes an answer to its open ask and resumes mid-state, and
   advancing past its next due time runs the pending transition.

Children are forked from the test process (no interpreter start-up per
cycle); the store is closed in the parent before every fork. Stores are
renewed every EPOCH kills so replays from seq 1 stay short. ADVM_SOAK=1
runs a much longer version.
"""
from __future__ import annotations

import os
import random
import select
import signal
import time

from advm.store import Store
from advm.durable.document import DurableDocument
from advm.durable.inputs import outcome
from advm.durable.replay import replay
from advm.vm.values import MAX_DEPTH
from advm.views.viewers import Viewers
from durable_kit import T0, compiled

SOAK = os.environ.get("ADVM_SOAK") == "1"
KILLS = 2000 if SOAK else 200
EPOCH = 20 if SOAK else 5         # kills per store
MAX_DELAY = 0.25 if SOAK else 0.04  # seconds a child runs before it is killed
DOCS = ("alpha", "beta", "gamma")
OWNER = "owner@test"
OTHER = "watcher@test"
TICK_S = 5

SOURCE = """
@static {
  create { return true; }
  snapshot_every = 7;
}
record Item {
  public int id;
  public int token;
}
record Note {
  public int id;
  public int token;
  public string text;
  public dynamic blob;
}
message Add { int token; }
message Reply { int v; }
message Jot { int token; string text; dynamic blob; }
table<Item> _items;
table<Note> _notes;
private principal owner;
public int count;
public long sum;
public int answers;
public int ticks;
channel<Reply> question;

@construct {
  owner = @who;
  transition #ask;
}
@connected {
  return true;
}
channel add(principal who, Add a) {
  if (a.token < 0) {
    abort;
  }
  _items <- {token: a.token};
  count++;
  sum += a.token;
}
channel jot(principal who, Jot j) {
  _notes <- {token: j.token, text: j.text, blob: j.blob};
}
#ask {
  Reply r = question.fetch(owner).await();
  if (r.v < 0) {
    abort;
  }
  answers = answers + r.v;
  transition #tick in 5;
}
#tick {
  ticks++;
  transition #ask;
}
"""


def module():
    return compiled(SOURCE, "crash.adb")


# ---------------------------------------------------------------- the child host


def child(path: str, out_fd: int, seed: int, first_token: int) -> None:
    """The host under load. Never returns: it is killed (or exits on error)."""
    rng = random.Random(seed)
    lines: list[bytes] = []

    def say(text: str) -> None:
        os.write(out_fd, (text + "\n").encode())

    try:
        store = Store(path, durability="synced")
        mod = module()
        docs = {}
        for key in DOCS:
            if store.last_seq(key) or store.snapshot_seqs(key):
                docs[key] = DurableDocument.open(store, key, viewers=Viewers)
        clock = max([d.living.clock for d in docs.values()] + [T0]) + 1000
        for key in DOCS:
            if key not in docs:
                doc, _ = DurableDocument.create(store, key, mod, OWNER, None, clock, viewers=Viewers)
                docs[key] = doc
                for who in (OWNER, OTHER):
                    doc.submit({"op": "connect", "as": who}, clock).result()
        say("ready")
        token = first_token
        while True:
            key = rng.choice(DOCS)
            doc = docs[key]
            clock += rng.randint(1, 3000)
            r = rng.random()
            if r < 0.6:
                token += 1
                op = {"op": "send", "as": OTHER, "channel": "add", "message": {"token": token}}
                note = f"add {token}"
            elif r < 0.75:
                asks = doc.living.asks_for(OWNER)  # in memory: ids are known at once
                if not asks:
                    continue
                v = rng.randint(1, 9)
                op = {"op": "answer", "as": OWNER, "ask": asks[0]["id"], "message": {"v": v}}
                note = f"answer {v}"
            elif r < 0.85:
                clock += TICK_S * 1000
                op, note = {"op": "advance"}, "advance"
            elif r < 0.88:
                op = {"op": "send", "as": OTHER, "channel": "add", "message": {"token": -1}}
                note = "abort"
            elif r < 0.94:
                token += 1
                op, note = jot(rng, token)
            else:
                op = {"op": "answer", "as": OWNER, "ask": 999999, "message": {"v": 1}}
                note = "refused"
            fut = doc.submit(op, clock)

            def acked(f, key=key, note=note) -> None:  # committer thread: tiny
                if f.exception() is None:
                    frames = f.result()
                    top = max((fr["seq"] for fr in frames
                               if fr.get("to") == OTHER and "delta" in fr), default=0)
                    got = outcome(frames, OTHER)
                    if note.startswith("jot") and got != "ok" or note == "refused-jot" and got != "input":
                        say(f"error {key} {note} got {got}")
                    say(f"ack {key} {note} {top}")

            fut.add_done_callback(acked)
            if rng.random() < 0.3:
                fut.result()  # sometimes wait, so kills land in every phase
    except BaseException as e:  # a failure must reach the parent, not vanish
        say(f"error {type(e).__name__}: {e}")
        os._exit(3)


def nested(depth: int, leaf):
    """A JSON value `depth` levels of arrays and objects deep around `leaf`."""
    for level in range(depth):
        leaf = [leaf] if level % 2 else {"k": leaf}
    return leaf


# Texts that must be kept exactly: past the BMP, combining marks, a BOM, NUL.
ODD_TEXTS = ["🙂 名前", "e\u0301", "\ufeffbom", "nul\x00inside", "\U0010FFFF"]


def jot(rng: random.Random, token: int) -> tuple[dict, str]:
    """A `jot` input from the issue 10 edge cases: nested dynamic values up to
    the depth limit and odd but valid texts (acknowledged and kept), or a lone
    surrogate or a value past the depth limit (refused, never logged)."""
    kind = rng.random()
    text, blob, note = rng.choice(ODD_TEXTS), nested(rng.randint(0, MAX_DEPTH - 2), token), "jot"
    if kind < 0.15:
        text, note = "bad\udc80text", "refused-jot"
    elif kind < 0.3:
        blob, note = nested(MAX_DEPTH + rng.randint(1, 400), token), "refused-jot"
    elif kind < 0.4:
        blob = {"s": "ok", "bad": "\ud800"}
        note = "refused-jot"
    message = {"token": token, "text": text, "blob": blob}
    return {"op": "send", "as": OTHER, "channel": "jot", "message": message}, \
        (f"jot {token}" if note == "jot" else note)


def run_child(path, seed: int, first_token: int, rng: random.Random) -> list[str]:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read_fd)
        try:
            child(str(path), write_fd, seed, first_token)
        finally:
            os._exit(4)
    os.close(write_fd)
    data = b""
    deadline = time.monotonic() + 20
    # Wait for "ready" (recovery done), then let it work a random while.
    while b"ready\n" not in data and b"error" not in data and time.monotonic() < deadline:
        ready, _, _ = select.select([read_fd], [], [], 1.0)
        if ready:
            chunk = os.read(read_fd, 65536)
            if not chunk:
                break
            data += chunk
    time.sleep(rng.uniform(0.0, MAX_DELAY))
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    while True:
        chunk = os.read(read_fd, 65536)
        if not chunk:
            break
        data += chunk
    os.close(read_fd)
    text = data.decode()
    assert "error" not in text, text[text.index("error"):][:2000]
    assert "ready" in text, "the child never finished recovering"
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    return [line for line in text.splitlines() if line.startswith("ack ")]


# ---------------------------------------------------------------- checks


class Ledger:
    """What the children were acknowledged, per document."""

    def __init__(self):
        self.tokens = {k: set() for k in DOCS}
        self.jots = {k: set() for k in DOCS}
        self.answers = {k: 0 for k in DOCS}
        self.delta_seq = {k: 0 for k in DOCS}

    def take(self, lines: list[str]) -> int:
        for line in lines:
            _, key, what, *rest = line.split()
            top = int(rest[-1])
            if what == "add":
                self.tokens[key].add(int(rest[0]))
            elif what == "jot":
                self.jots[key].add(int(rest[0]))
            elif what == "answer":
                self.answers[key] += int(rest[0])
            self.delta_seq[key] = max(self.delta_seq[key], top)
        return len(lines)


def tokens_of(living) -> set[int]:
    return {row["token"] for row in living.engine.fields(formulas=False)["_items"]}


def check(path, ledger: Ledger) -> None:
    with Store(path, durability="relaxed") as store:
        for key in DOCS:
            if not store.last_seq(key):
                assert not ledger.tokens[key]
                continue
            doc = DurableDocument.open(store, key, viewers=Viewers)
            living = doc.living
            fields = living.engine.fields(formulas=False)
            have = tokens_of(living)
            # 1. nothing acknowledged is lost
            lost = ledger.tokens[key] - have
            assert not lost, f"{key}: acknowledged tokens missing after recovery: {sorted(lost)[:10]}"
            assert fields["answers"] >= ledger.answers[key], key
            # 2. nothing that is not in the log is visible
            logged = {e.payload["token"] for e in store.log(key)
                      if e.kind == "send" and e.channel == "add" and e.extra.get("outcome") == "ok"}
            assert have == logged, f"{key}: state and log disagree on tokens"
            seqs = {v["who"]: v["seq"] for v in living.viewers.state()["viewers"]}
            assert seqs.get(OTHER, 0) >= ledger.delta_seq[key], key
            check_jots(store, key, fields, ledger)
            # 3. the state is a replay of the log, and the snapshots agree
            fast = replay(store, key)  # as `advm replay` runs: no views, states compared
            assert fast.ok and fast.head == doc.seq, str(fast.divergence)
            result = replay(store, key, viewers=Viewers)  # views too: byte for byte
            assert result.ok, str(result.divergence)
            assert result.head == doc.seq
            assert result.living.snapshot() == living.snapshot(), f"{key}: recovery != replay"
            continue_in_memory(key, living)


def check_jots(store, key: str, fields: dict, ledger: Ledger) -> None:
    """Edge inputs: every acknowledged jot is kept exactly, and no refused
    one (a lone surrogate, a value past the depth limit) reached the log."""
    kept = {row["token"]: row for row in fields["_notes"]}
    lost = ledger.jots[key] - set(kept)
    assert not lost, f"{key}: acknowledged jots missing after recovery: {sorted(lost)[:10]}"
    for token, row in kept.items():
        assert row["text"] in ODD_TEXTS, (key, token, row["text"])
        depth, blob = 0, row["blob"]
        while blob != token:
            blob = blob["k"] if isinstance(blob, dict) else blob[0]
            depth += 1
        assert depth < MAX_DEPTH, (key, token, depth)
    for e in store.log(key):
        if e.kind == "send" and e.channel == "jot":
            assert e.extra.get("outcome") == "ok", (key, e.seq, e.extra.get("outcome"))
            assert e.payload["token"] in kept, (key, e.seq)


def continue_in_memory(key: str, living) -> None:
    """4. the recovered document goes on: its await takes an answer, its timer fires."""
    before = living.engine.fields(formulas=False)
    asks = living.asks_for(OWNER)
    if asks:
        assert living.engine.state == "ask" and living.engine.waiting is not None
        living.answer(OWNER, asks[0]["id"], {"v": 5}, living.clock + 1)
        after = living.engine.fields(formulas=False)
        assert after["answers"] == before["answers"] + 5, key
        assert living.pending is not None and living.pending.label == "tick", key
    due = living.next_due()
    if living.pending is not None:
        assert due is not None
        ticks = living.engine.fields(formulas=False)["ticks"]
        living.advance(due)
        assert living.engine.fields(formulas=False)["ticks"] == ticks + 1, key
        assert living.asks_for(OWNER), f"{key}: #tick should ask again"


# ---------------------------------------------------------------- the test


def test_sigkill_at_random_moments_loses_nothing_acknowledged(tmp_path):
    rng = random.Random(5150)
    module()  # compiled once here: every forked child inherits it
    kills = acks = 0
    started = time.monotonic()
    store_no = 0
    while kills < KILLS:
        path = tmp_path / f"store{store_no}"
        store_no += 1
        ledger = Ledger()
        for _ in range(min(EPOCH, KILLS - kills)):
            lines = run_child(path, rng.randrange(1 << 30), kills * 1_000_000, rng)
            acks += ledger.take(lines)
            kills += 1
            check(path, ledger)
    elapsed = time.monotonic() - started
    assert acks > KILLS, f"only {acks} inputs were acknowledged in {kills} runs"
    print(f"{kills} kills, {acks} acknowledged inputs, {elapsed:.1f} s")
