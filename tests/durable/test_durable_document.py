"""DurableDocument (durable/document.py, spec/store.md 11.4): the output gate,
what is logged, snapshots every N inputs, recovery (awaits, transitions, cron,
asks come back exactly) and @load as a logged event."""
from __future__ import annotations

import concurrent.futures as cf
import random
import threading

import pytest

from advm.runtime.contracts import as_input
from advm.store import Store
from advm.durable.document import DEFAULT_SNAPSHOT_EVERY, DurableDocument, snapshot_every
from advm.durable.replay import replay
from advm.views.viewers import Viewers
from durable_kit import APPS, T0, Driver, compiled, example, open_store, play, script

HOUR = 3_600_000


@pytest.fixture(autouse=True)
def _both_backends(make_store, monkeypatch):
    """Every test here runs on LMDB and on PostgreSQL: this module's
    open_store opens the backend under test (tests/conftest.py make_store)."""
    def opener(path, **options):
        options.setdefault("durability", "relaxed")
        return make_store(path, **options)

    monkeypatch.setitem(globals(), "open_store", opener)


def test_each_example_session_logged_replays_to_the_same_runtime(tmp_path):
    for name in APPS:
        with open_store(tmp_path / name) as store:
            d = play(store, name)
            live = d.doc.living.snapshot()
            result = replay(store, "main", viewers=Viewers)  # views too: byte for byte
            assert result.ok, (name, result.divergence)
            assert result.head == store.last_seq("main") == d.doc.seq
            assert result.living.snapshot() == live, name
            # Without views: the same state (a suspended block's dead registers
            # may differ, spec/store.md 14, so compare what the state holds).
            fast, now = replay(store, "main").living, d.doc.living
            assert fast.engine.fields() == now.engine.fields(), name
            assert fast.engine.state == now.engine.state, name
            assert fast.next_due() == now.next_due() and fast.connected == now.connected, name
            assert all(fast.asks_for(w) == now.asks_for(w) for w in now.connected), name
            recovered = DurableDocument.open(store, "main", viewers=Viewers)
            assert recovered.living.snapshot() == live, name


def test_frames_equal_the_in_memory_runtime(tmp_path):
    """Logging changes nothing a client sees (no restarts in these sessions)."""
    from advm.session import Session

    for name in ("tictactoe", "chat", "todo", "auction"):
        session = Session(example(name))
        with open_store(tmp_path / name) as store:
            d = Driver(store, "document", example(name))
            for item in script(name):
                want = [f for f in session.step(item) if f["to"] is not None]
                got = [{**f, "to": f["to"][:-1] if f["to"].endswith("@") else f["to"]}
                       for f in d.step(item) if f.get("to") is not None]
                assert got == want, (name, item)


# ---------------------------------------------------------------- the output gate


class HeldStore:
    """A store whose commits wait until the test lets them through."""

    def __init__(self, store):
        self.store = store
        self.held: list[tuple[cf.Future, cf.Future]] = []
        self.hold = True

    def commit(self, *args, **kw):
        return self._held(self.store.commit(*args, **kw))

    def append_envelope(self, *args, **kw):  # the durable document's usual input
        return self._held(self.store.append_envelope(*args, **kw))

    def _held(self, inner):
        if not self.hold:
            return inner
        outer = cf.Future()
        self.held.append((inner, outer))
        return outer

    def release(self):
        for inner, outer in self.held:
            try:
                outer.set_result(inner.result())
            except Exception as e:
                outer.set_exception(e)
        self.held = []

    def __getattr__(self, name):
        return getattr(self.store, name)


def test_frames_are_released_only_after_the_commit(tmp_path):
    module = example("tictactoe")
    with open_store(tmp_path / "s") as store:
        held = HeldStore(store)
        held.hold = False
        doc, _ = DurableDocument.create(held, "g", module, "xena", None, T0, viewers=Viewers)
        held.hold = True
        first = doc.submit({"op": "connect", "as": "xena"}, T0)
        second = doc.submit({"op": "connect", "as": "otto"}, T0)  # pipelined behind it
        refused = doc.submit({"op": "connect", "as": "otto"}, T0)  # not logged: already connected
        assert not first.done() and not second.done()
        # An unlogged refusal still waits: it tells of inputs not yet durable.
        assert not refused.done()
        viewed = []
        reader = threading.Thread(target=lambda: viewed.append(doc.view("otto")))
        reader.start()
        reader.join(0.2)
        assert reader.is_alive() and not viewed, "a read must not show what is not durable"
        held.release()
        reader.join(5)
        assert [f["to"] for f in first.result()][:1] == ["xena@"]
        assert any(f.get("ask") for f in second.result())
        assert refused.result()[0]["error"]["code"] == "already_connected"
        assert viewed and viewed[0]["player_o"] == {"agent": "otto", "authority": ""}
        assert store.last_seq("g") == 3


def test_a_failed_commit_fails_the_document_until_it_is_reopened(tmp_path):
    from advm.store import StoreError

    with open_store(tmp_path / "s") as store:
        doc, _ = DurableDocument.create(store, "g", example("tictactoe"), "xena", None, T0, viewers=Viewers)

        class Broken(HeldStore):
            def commit(self, *a, **kw):
                fut = cf.Future()
                fut.set_exception(StoreError("disk on fire", doc="g"))
                return fut

            append_envelope = commit

        doc.store = Broken(store)
        fut = doc.submit({"op": "connect", "as": "xena"}, T0)
        with pytest.raises(StoreError, match="disk on fire"):
            fut.result()
        with pytest.raises(StoreError, match="disk on fire"):
            doc.submit({"op": "connect", "as": "otto"}, T0).result()
        again = DurableDocument.open(store, "g", viewers=Viewers)  # what is durable: the create alone
        assert again.seq == 1 and again.living.connected == []


# ---------------------------------------------------------------- what is logged


def test_inputs_refused_before_any_code_ran_are_not_logged(tmp_path):
    with open_store(tmp_path / "s") as store:
        d = Driver(store, "g", example("tictactoe"))
        d.run([{"op": "create", "as": "xena"}, {"op": "connect", "as": "xena"},
               {"op": "connect", "as": "otto"}])
        doc = d.doc
        head, state = doc.seq, doc.living.snapshot()
        refusals = [
            {"op": "connect", "as": "otto"},                                  # already_connected
            {"op": "disconnect", "as": "nobody"},                             # not_connected
            {"op": "answer", "as": "otto", "ask": 1, "message": {"x": 0, "y": 0}},  # wrong_principal
            {"op": "answer", "as": "xena", "ask": 99, "message": {"x": 0, "y": 0}},  # unknown_ask
            {"op": "answer", "as": "xena", "ask": 1, "message": {"x": 7, "y": 7}},  # invalid_answer
            {"op": "send", "as": "otto", "channel": "play", "message": {"x": 0, "y": 0}},  # no_open_ask
            {"op": "create", "as": "otto"},                                   # already_created
            {"op": "teleport", "as": "otto"},                                 # unknown input
        ]
        for op in refusals:
            frames = doc.submit(op, T0).result()
            assert len(frames) == 1 and "error" in frames[0], op
        assert doc.seq == head and store.last_seq("g") == head
        assert doc.living.snapshot() == state


def test_an_aborted_transaction_is_logged_with_its_outcome(tmp_path):
    """Code that ran and aborted changed nothing a client sees, but it is
    logged (see the next test for why)."""
    with open_store(tmp_path / "s") as store:
        d = play(store, "chat")
        aborted = [e for e in store.log("main") if e.extra.get("outcome") == "abort"]
        assert aborted and all(e.kind == "send" for e in aborted)
        assert replay(store, "main").ok


LEAKY = """
@static { create { return true; } }
private principal owner;
public int n;
message M { int k; }
message S { string text; }
channel<M> q;
@construct { owner = @who; }
channel bad(principal who, S s) {
  string a1 = s.text + "1"; string a2 = a1 + "2"; string a3 = a2 + "3"; string a4 = a3 + "4";
  string a5 = a4 + "5"; string a6 = a5 + "6"; string a7 = a6 + "7";
  if (n >= 0) { abort; }
}
channel go(principal who, M m) { transition #s; }
#s {
  M m = q.fetch(owner).await();
  string x1 = "a"; string x2 = x1 + "b"; string x3 = x2 + "c"; string x4 = x3 + "d";
  string x5 = x4 + "e"; string x6 = x5 + "f";
  n = m.k + x6.length();
}
"""


def test_aborted_inputs_are_logged_and_leave_no_trace_in_snapshots(tmp_path):
    """A rolled-back handler used to leave values in machine registers that
    a block suspending later captured (so replay had to run it to verify by
    hash). The machine now clears registers between calls: the snapshot is
    the same with or without the aborted input. It is still logged (code
    ran; spec/store.md 11.2) and replay verifies."""
    from advm.runtime.living import LivingDocument

    module = compiled(LEAKY)

    def live(with_abort: bool) -> bytes:
        d = LivingDocument(module, key="k", viewers=Viewers)
        d.create("ann", None, T0)
        if with_abort:
            assert d.send("ann", "bad", {"text": "z"}, T0)[0]["error"]["code"] == "abort"
        d.send("ann", "go", {"k": 1}, T0)
        return d.snapshot()

    assert live(True) == live(False)  # no dead bytes left behind
    with open_store(tmp_path / "s") as store:
        d = Driver(store, "k", module)
        d.run([{"op": "create", "as": "ann"},
               {"op": "send", "as": "ann", "channel": "bad", "message": {"text": "z"}},
               {"op": "send", "as": "ann", "channel": "go", "message": {"k": 1}}])
        d.doc.close()
        assert [e.extra["outcome"] for e in store.log("k")] == ["ok", "abort", "ok"]
        result = replay(store, "k")
        assert result.ok and [c.ok for c in result.checks] == [True]
        assert [c.exact for c in result.checks] == [None]  # no fallback needed


def test_a_snapshot_taken_live_equals_one_restored_from_its_bytes(tmp_path):
    """Why the runtime goes on after a snapshot without rebuilding from its
    bytes (spec/store.md 12): a restored runtime snapshots the same, also
    mid-await, and so do both after the same further inputs."""
    from advm.runtime.living import LivingDocument

    def timed(items):
        now = T0
        for item in items:
            if item["op"] == "restart":
                continue
            if item["op"] == "advance":
                now += round(item["seconds"] * 1000)
                item = {"op": "advance"}
            yield as_input(item, now)

    for name in APPS:
        module = example(name)
        items = list(timed(script(name)))
        for cut in (len(items) // 3, len(items) // 2, len(items) - 1):
            d = LivingDocument(module, key="document", viewers=Viewers)
            for item in items[:cut]:
                d.apply(item)
            again = LivingDocument.restore(module, d.snapshot(), viewers=Viewers, load=False)
            assert again.snapshot() == d.snapshot(), (name, cut)
            for item in items[cut:]:
                assert again.apply(item) == d.apply(item), (name, cut)
            assert again.snapshot() == d.snapshot(), (name, cut)


def test_log_entries_carry_time_principal_channel_and_payload(tmp_path):
    with open_store(tmp_path / "s") as store:
        play(store, "tictactoe")
        log = store.log("main")
        first = log[0]
        assert first.kind == "create" and first.principal == "xena@" and first.time == T0
        assert len(first.extra["module"]) == 32 and first.extra["key"] == "main"
        answers = [e for e in log if e.kind == "answer"]
        assert answers[0].payload == {"x": 1, "y": 1} and answers[0].extra["ask"] == 1
        assert all(len(e.extra["digest"]) == 9 and e.extra["digest"][0] == 2 for e in log)
        times = [e.time for e in log]
        assert times == sorted(times)


# ---------------------------------------------------------------- snapshots


SNAP_EVERY = """
@static { create { return true; } snapshot_every = 3; }
public int n;
message M { int k; }
channel add(principal who, M m) { n = n + m.k; }
"""


def test_a_snapshot_every_n_inputs_from_static_snapshot_every(tmp_path):
    module = compiled(SNAP_EVERY)
    assert snapshot_every(module) == 3
    assert snapshot_every(example("chat")) == DEFAULT_SNAPSHOT_EVERY == 100
    from advm.store import KEEP_ALL

    with open_store(tmp_path / "s", retention=KEEP_ALL) as store:
        doc, _ = DurableDocument.create(store, "c", module, "ann", None, T0, viewers=Viewers)
        for k in range(10):
            doc.submit({"op": "send", "as": "ann", "channel": "add", "message": {"k": k}},
                       T0 + k).result()
        assert store.snapshot_seqs("c") == [3, 6, 9]
        assert [e.seq for e in store.log("c") if e.extra.get("snap")] == [3, 6, 9]
        doc.close()
        assert store.snapshot_seqs("c") == [3, 6, 9, 11]
        rec = store.load("c")
        assert rec.seq == 11 and rec.entries == []
        assert DurableDocument.open(store, "c", viewers=Viewers).living.engine.fields()["n"] == 45
        result = replay(store, "c")
        assert result.ok and [c.seq for c in result.checks] == [3, 6, 9, 11]


def test_the_checker_accepts_snapshot_every(tmp_path):
    from advm.compiler import compile_source

    assert compile_source(SNAP_EVERY, "d.adb").ok
    bad = compile_source(SNAP_EVERY.replace("snapshot_every = 3", "snapshot_every = 0"), "d.adb")
    assert [d.code for d in bad.diagnostics] == ["E0504"]


# ---------------------------------------------------------------- recovery


def test_recovery_brings_back_awaits_transitions_and_asks(tmp_path):
    """The approval workflow waits on its manager with #escalate pending: a
    host that crashes (nothing closed) comes back exactly there."""
    path = tmp_path / "s"
    store = open_store(path)
    d = Driver(store, "a", example("approval"))
    d.run(script("approval")[:5])  # created, three connects, a day passes
    live = d.doc.living
    want = (live.snapshot(), live.pending, live.asks_for("mia@corp"), live.next_due(),
            live.engine.waiting)
    assert live.pending is not None and live.engine.waiting is not None
    store.close()  # the process is gone; the document was never closed

    with open_store(path) as store:
        doc = DurableDocument.open(store, "a", viewers=Viewers)
        got = doc.living
        assert (got.snapshot(), got.pending, got.asks_for("mia@corp"), got.next_due(),
                got.engine.waiting) == want
        assert store.timer("a") == want[3]
        ask = got.asks_for("mia@corp")[0]["id"]
        frames = doc.submit({"op": "answer", "as": "mia@corp", "ask": ask,
                             "message": {"approve": True, "comment": "fine"}}, T0 + 86_400_000).result()
        assert {"to": "mia@corp", "ask_closed": ask} in frames
        assert doc.living.engine.state == "waitForDirector"
        assert replay(store, "a").ok


def test_a_pending_transition_fires_after_recovery(tmp_path):
    path = tmp_path / "s"
    store = open_store(path)
    d = Driver(store, "a", example("approval"))
    d.run(script("approval")[:4])
    due = d.doc.next_due()
    store.close()
    with open_store(path) as store:
        doc = DurableDocument.open(store, "a", viewers=Viewers)
        assert doc.next_due() == due
        doc.submit({"op": "advance"}, due).result()
        fields = doc.living.engine.fields(formulas=False)
        assert fields["status"] == "Escalated" and doc.living.engine.state == "waitForDirector"
        assert store.timer("a") == doc.next_due()


def test_cron_bookkeeping_survives_recovery(tmp_path):
    path = tmp_path / "s"
    store = open_store(path)
    d = Driver(store, "c", example("cron_cleanup"))
    d.run(script("cron_cleanup")[:3])
    crons = d.doc.living.crons.to_values()
    due = d.doc.next_due()
    store.close()
    with open_store(path) as store:
        doc = DurableDocument.open(store, "c", viewers=Viewers)
        assert doc.living.crons.to_values() == crons and doc.next_due() == due
        assert store.timer("c") == due


def test_random_restarts_and_snapshot_rates_replay_exactly(tmp_path):
    """Crashes anywhere (no close), snapshots every 1..5 inputs, pipelined or
    not: recovery and replay always give the runtime that ran."""
    runs = 0
    for seed in range(3):
        for name in APPS:
            rng = random.Random(seed * 100 + len(name))
            items = script(name)
            mixed = [items[0]]
            for item in items[1:]:
                if rng.random() < 0.3:
                    mixed.append({"op": "restart"})
                mixed.append(item)
            with open_store(tmp_path / f"{name}{seed}") as store:
                d = Driver(store, "document", example(name), every=rng.choice([1, 2, 3, 5]),
                           wait=bool(seed % 2))
                d.run(mixed)
                d.settle()
                assert replay(store, "document").ok, (name, seed)  # without views
                result = replay(store, "document", viewers=Viewers)  # views too: byte for byte
                assert result.ok, (name, seed, result.divergence)
                assert result.living.snapshot() == d.doc.living.snapshot(), (name, seed)
                runs += 1
    assert runs == 3 * len(APPS)


LOADING = """
@static { create { return true; } }
public int loads;
public int said;
private principal owner;
message M { int n; }
channel<M> ask_me;
@construct { owner = @who; transition #loop; }
@connected { return true; }
@load { loads = loads + 1; @debug("loaded"); }
channel say(principal who, M m) { if (m.n < 0) { abort; } said = said + m.n; }
#loop {
  M m = ask_me.fetch(owner).await();
  said = said + m.n * 100;
  transition #loop in 60;
}
"""


def test_load_runs_at_every_open_and_is_logged(tmp_path):
    module = compiled(LOADING)
    with open_store(tmp_path / "s") as store:
        d = Driver(store, "l", module, every=2)
        ops = [{"op": "create", "as": "ann"}, {"op": "connect", "as": "ann"}]
        rng = random.Random(7)
        for _ in range(30):
            r = rng.random()
            if r < 0.25:
                ops.append({"op": "restart"})
            elif r < 0.5:
                ops.append({"op": "send", "as": "ann", "channel": "say",
                            "message": {"n": rng.randint(-1, 3)}})
            elif r < 0.75:
                ops.append({"op": "advance", "seconds": 61})
            else:
                ops.append({"op": "send", "as": "ann", "channel": "ask_me", "message": {"n": 1}})
        d.run(ops)
        restarts = sum(op["op"] == "restart" for op in ops)
        d.doc.close()
        loads = [e for e in store.log("l") if e.kind == "load"]
        # Two restarts in a row: the first one's @load was never committed
        # (nothing came after it), so the second recovery does not have it.
        assert len(loads) == d.doc.living.engine.fields()["loads"]
        assert 0 < len(loads) <= restarts
        assert replay(store, "l").ok
        result = replay(store, "l", viewers=Viewers)
        assert result.ok and result.living.snapshot() == d.doc.living.snapshot()


def test_load_event_waits_for_the_next_commit(tmp_path):
    """@load's effect is not durable until an input (or a read, or close)
    commits it; a crash before then loses it along with everything it showed."""
    module = compiled(LOADING)
    path = tmp_path / "s"
    store = open_store(path)
    doc, _ = DurableDocument.create(store, "l", module, "ann", None, T0, viewers=Viewers)
    doc.close()
    reopened = DurableDocument.open(store, "l", viewers=Viewers)
    assert reopened.living.engine.fields()["loads"] == 1
    assert store.last_seq("l") == 1  # not yet logged
    assert reopened.view("ann")["loads"] == 1  # a read makes it durable first
    assert [e.kind for e in store.log("l")] == ["create", "load"]
    store.close()


def test_done_callbacks_instead_of_futures(tmp_path):
    """submit(op, now, done): no future; done(frames, None) once durable, in
    order, and reads still wait for every commit in flight."""
    module = compiled("""
@static { create { return true; } }
public int n;
message Add { int k; }
channel add(principal who, Add a) { n += a.k; }
""")
    store = open_store(tmp_path / "s")
    doc, _ = DurableDocument.create(store, "c", module, "ann", None, T0, viewers=Viewers)
    got, seen = [], threading.Event()

    def done(frames, error):
        got.append((store.committer._thread is threading.current_thread(), frames, error))
        if len(got) == 20:
            seen.set()

    for k in range(20):
        assert doc.submit({"op": "send", "as": "ann", "channel": "add", "message": {"k": k}},
                          T0 + k, done) is None
    assert doc.view("ann")["n"] == sum(range(20))  # waits for the commits in flight
    assert seen.wait(5)
    assert all(on_committer and frames == [] and error is None for on_committer, frames, error in got)
    assert store.last_seq("c") == 21
    # A refusal needs no commit: answered at once, in the caller's thread.
    refused = []
    doc.submit({"op": "disconnect", "as": "ann"}, T0 + 30, lambda f, e: refused.append((f, e)))
    assert refused and refused[0][0][0]["error"]["code"] == "not_connected"
    # A failed commit is an error for done, and for every input after it.
    store.close()
    failed = []
    doc.submit({"op": "send", "as": "ann", "channel": "add", "message": {"k": 1}}, T0 + 40,
               lambda f, e: failed.append(e))
    doc.submit({"op": "send", "as": "ann", "channel": "add", "message": {"k": 1}}, T0 + 41,
               lambda f, e: failed.append(e))
    from advm.store import StoreError

    assert doc.error is not None and isinstance(doc.error, StoreError) and doc.error.doc == "c"
    assert failed == [doc.error, doc.error]
