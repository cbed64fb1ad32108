"""The output gate under pipelined durable inputs (spec/store.md 4 and 11.4,
issue 12 point 4): a document runs its next input while the previous one's
commit is in flight; each input's reply is released only once its own log
entry is durable; a commit that fails fails every reply held behind it, and
the document comes back as the store holds it (the last committed state).

`FaultyStore` stands between a durable document and a real store: it holds
every acknowledgement until the test releases it, and fails the commits the
test names before they reach the store (as a flush that failed would).
"""
from __future__ import annotations

import concurrent.futures as cf
import threading

import pytest

from advm.durable.document import DurableDocument
from advm.net.documents import DurableBackend
from advm.net.shard import Shard
from advm.store import StoreError
from advm.views.viewers import Viewers
from durable_kit import compiled, open_store

T0 = 1_767_225_600_000

COUNTER = """
@static { create { return true; } }
public int n;
public int last;
message Add { int k; }
channel add(principal who, Add a) { n += a.k; last = a.k; }
"""


@pytest.fixture(autouse=True)
def _both_backends(make_store, monkeypatch):
    """Every test here runs on LMDB and on PostgreSQL: this module's
    open_store opens the backend under test (tests/conftest.py make_store)."""
    def opener(path, **options):
        options.setdefault("durability", "relaxed")
        return make_store(path, **options)

    monkeypatch.setitem(globals(), "open_store", opener)


class FaultyStore:
    """A real store behind a gate the test controls. Every write (commit or
    append_envelope) is numbered from 1 in the order it is handed in; a
    number in `fail_at` never reaches the store and fails with an injected
    StoreError (mapped through the caller's `fail`, as the committer does);
    the others are committed by the store at once, but their
    acknowledgements wait for `release()` while `hold` is set."""

    def __init__(self, store, fail_at=()):
        self.store = store
        self.fail_at = set(fail_at)
        self.hold = False
        self.writes = 0
        self._held: list = []
        self._last: cf.Future | None = None
        self._lock = threading.Lock()

    def commit(self, doc, entries=(), **kw):
        return self._write(doc, kw, lambda **k: self.store.commit(doc, entries, **k))

    def append_envelope(self, doc, env, **kw):
        return self._write(doc, kw, lambda **k: self.store.append_envelope(doc, env, **k))

    def _write(self, doc, kw, call):
        callback = kw.pop("callback", None)
        with self._lock:
            self.writes += 1
            number = self.writes
        if number in self.fail_at:
            inner = cf.Future()
            err = StoreError(f"injected: write {number} of {doc!r} failed", doc=doc)
            fail = kw.get("fail")
            inner.set_exception(fail(err) if fail is not None else err)
        else:
            inner = call(**kw)
        outer = cf.Future()
        if callback is not None:
            outer.add_done_callback(
                lambda f: callback(None, f.exception()) if f.exception() is not None
                else callback(f.result(), None))
        with self._lock:
            before, self._last = self._last, outer
            if self.hold:
                self._held.append((before, inner, outer))
                return None if callback is not None else outer
        _pass(before, inner, outer)
        return None if callback is not None else outer

    def release(self) -> None:
        with self._lock:
            held, self._held = self._held, []
        for before, inner, outer in held:
            _pass(before, inner, outer)

    def __getattr__(self, name):
        return getattr(self.store, name)


def _pass(before: cf.Future | None, inner: cf.Future, outer: cf.Future) -> None:
    """`inner`'s outcome to `outer`, after `before` (the write handed in
    before it): acknowledgements come in order, as the committer's do."""
    def landed(f):
        if f.exception() is not None:
            outer.set_exception(f.exception())
        else:
            outer.set_result(f.result())

    if before is None:
        inner.add_done_callback(landed)
    else:
        before.add_done_callback(lambda _: inner.add_done_callback(landed))


def add(k: int, who: str = "ann") -> dict:
    return {"op": "send", "as": who, "channel": "add", "message": {"k": k}}


def wait(fut: cf.Future):
    landed = threading.Event()
    fut.add_done_callback(lambda _: landed.set())
    assert landed.wait(30)
    return fut


# ---------------------------------------------------------------- never before the commit


@pytest.mark.parametrize("ack", ["future", "callback"])
def test_a_reply_is_released_only_once_its_own_entry_is_durable(tmp_path, ack):
    """Three documents, twenty inputs each, all pipelined (none waits for
    the one before). When a reply is released, the store already holds that
    input's log entry: read back in the releasing thread, before the reply
    goes anywhere. While the acknowledgements are held, nothing is released."""
    module = compiled(COUNTER)
    with open_store(tmp_path / "s") as store:
        gate = FaultyStore(store)
        docs = {key: DurableDocument.create(gate, key, module, "ann", None, T0, viewers=Viewers)[0]
                for key in ("a", "b", "c")}
        gate.hold = True
        released = []  # (key, seq of the input, seq durable when released)
        lock = threading.Lock()
        every = threading.Event()  # a future's callbacks may run after its waiters woke
        futures = []
        for i in range(20):
            for key, doc in docs.items():
                seq = doc.seq + 1 + len(doc._pending)

                def done(frames, error, key=key, seq=seq):
                    assert error is None
                    durable = store.last_seq(key)
                    with lock:
                        released.append((key, seq, durable))
                        if len(released) == 60:
                            every.set()

                if ack == "callback":
                    assert doc.submit(add(i), T0 + i, done) is None
                else:
                    fut = doc.submit(add(i), T0 + i)
                    fut.add_done_callback(lambda f, done=done: done(f.result(), f.exception()))
                    futures.append(fut)
        # Every input ran (the runtime is ahead of what was acknowledged) ...
        assert all(doc.living.engine.fields(formulas=False)["n"] == sum(range(20))
                   for doc in docs.values())
        # ... and nothing was released while the acknowledgements are held.
        assert released == [] and not any(f.done() for f in futures)
        gate.release()
        for doc in docs.values():
            doc._settle()
        assert every.wait(30) and len(released) == 60
        for key, seq, durable in released:
            assert durable >= seq, f"{key}: reply of seq {seq} released with the log at {durable}"
        # Released in order, per document.
        for key in docs:
            seqs = [seq for k, seq, _ in released if k == key]
            assert seqs == sorted(seqs) == list(range(2, 22))


def test_a_shard_releases_durable_replies_only_after_their_commits(tmp_path):
    """The server's path (net/shard.py over the durable backend): replies of
    pipelined inputs stay held while their commits are, then come out in
    request order, each after its entry is in the store."""
    module = compiled(COUNTER)
    store = open_store(tmp_path / "s")
    gate = FaultyStore(store)
    shard = Shard(module, DurableBackend(module, gate))
    assert "error" not in wait(shard.handle("create", "k", {"who": "ann@"}, T0)).result()
    gate.hold = True
    replies = [shard.handle("send", "k", {"who": "ann@", "channel": "add", "message": {"k": i}},
                            T0 + i) for i in range(1, 11)]
    store.barrier().result()
    assert store.last_seq("k") == 11  # committed by the store, not yet acknowledged
    assert not any(r.done() for r in replies)
    order = []
    for n, r in enumerate(replies):
        r.add_done_callback(lambda f, n=n: order.append(n))
    gate.release()
    for r in replies:
        assert "error" not in wait(r).result()
    assert order == list(range(10))
    # Not held: each reply, when released, finds its own entry in the store.
    gate.hold = False
    seen = []
    every = threading.Event()  # a reply's callbacks may still run after wait() saw it set

    def note(seq):
        seen.append((seq, store.last_seq("k")))
        if len(seen) == 30:
            every.set()

    replies = [shard.handle("send", "k", {"who": "ann@", "channel": "add", "message": {"k": i}},
                            T0 + i) for i in range(11, 41)]
    for seq, r in enumerate(replies, start=12):
        r.add_done_callback(lambda f, seq=seq: note(seq))
    for r in replies:
        assert "error" not in wait(r).result()
    assert every.wait(30)
    assert [seq for seq, _ in seen] == list(range(12, 42))
    assert all(durable >= seq for seq, durable in seen), seen
    store.close()


# ---------------------------------------------------------------- a failed commit


@pytest.mark.parametrize("ack", ["future", "callback"])
def test_a_failed_commit_fails_every_reply_held_behind_it(tmp_path, ack):
    """Six inputs in flight; the second one's commit fails. The first is
    acknowledged; the second and every one after it fail with the same
    error, although their own writes reached the store (which refuses them:
    the log would skip the failed entry). Nothing after the failure is
    durable, and the document reopens at the last committed state."""
    module = compiled(COUNTER)
    with open_store(tmp_path / "s") as store:
        gate = FaultyStore(store, fail_at={3})  # 1: the create, 2: the first add
        doc, _ = DurableDocument.create(gate, "g", module, "ann", None, T0, viewers=Viewers)
        assert gate.writes == 1
        gate.hold = True
        outcomes: list = [None] * 6
        for i in range(6):
            def done(frames, error, i=i):
                outcomes[i] = ("ok", frames) if error is None else ("failed", error)

            if ack == "callback":
                doc.submit(add(10 + i), T0 + i, done)
            else:
                doc.submit(add(10 + i), T0 + i).add_done_callback(
                    lambda f, done=done: done(None if f.exception() else f.result(), f.exception()))
        assert outcomes == [None] * 6  # held: nothing released yet
        gate.release()
        with pytest.raises(StoreError, match="injected: write 3"):
            doc._settle()
        assert outcomes[0] == ("ok", [])
        errors = [o[1] for o in outcomes[1:]]
        assert all(kind == "failed" for kind, _ in outcomes[1:])
        assert all(e is doc.error for e in errors), "one error, the first failure's, for all"
        assert "injected: write 3" in str(doc.error)
        # Later inputs are refused with it until the document is reopened.
        with pytest.raises(StoreError, match="injected"):
            doc.submit(add(99), T0 + 50).result()
        assert store.last_seq("g") == 2  # create and the first add
        again = DurableDocument.open(store, "g", viewers=Viewers)
        assert again.living.engine.fields(formulas=False) == {"n": 10, "last": 10}
        assert again.seq == 2


def test_a_failed_commit_rolls_the_served_document_back(tmp_path):
    """Through the shard: the replies held behind the failed commit all fail
    (`store`, and `dropped`: the viewers' streams end); the next request runs
    on the document as the store holds it, not on the inputs that failed."""
    module = compiled(COUNTER)
    store = open_store(tmp_path / "s")
    gate = FaultyStore(store)
    shard = Shard(module, DurableBackend(module, gate))
    assert "error" not in wait(shard.handle("create", "k", {"who": "ann@"}, T0)).result()
    first = gate.writes  # the create's commit
    gate.fail_at = {first + 3}
    gate.hold = True
    replies = [shard.handle("send", "k", {"who": "ann@", "channel": "add", "message": {"k": k}},
                            T0 + k) for k in (1, 2, 4, 8, 16)]
    assert not any(r.done() for r in replies)
    gate.hold = False
    gate.release()
    got = [wait(r).result() for r in replies]
    assert ["error" in g for g in got] == [False, False, True, True, True]
    for g in got[2:]:
        assert g["error"][0] == "store" and g.get("dropped") is True
        assert "injected" in g["error"][1]
    assert "k" not in shard.docs  # dropped: its next request loads it from the store
    assert store.last_seq("k") == 3
    view = wait(shard.handle("view", "k", {"who": "ann@"}, T0 + 40)).result()
    assert view["view"]["n"] == 3 and view["view"]["last"] == 2
    after = wait(shard.handle("send", "k", {"who": "ann@", "channel": "add", "message": {"k": 5}},
                              T0 + 41)).result()
    assert "error" not in after
    view = wait(shard.handle("view", "k", {"who": "ann@"}, T0 + 42)).result()
    assert view["view"]["n"] == 8 and store.last_seq("k") == 4
    store.close()


# ---------------------------------------------------------------- the packed record


def test_the_packed_record_is_the_envelope_packed(tmp_path, monkeypatch):
    """inputs.record (the hot path: no envelope map) gives the bytes of
    log.pack_envelope(inputs.envelope(...)) for every input of every example
    session as a durable document logs it, and for shapes the sessions lack."""
    from advm.durable import inputs
    from advm.store.log import pack_envelope
    from durable_kit import APPS, play

    real = inputs.record
    seen = []

    def checked(seq, item, frames):
        got = real(seq, item, frames)
        assert got == pack_envelope(inputs.envelope(seq, item, frames)), (seq, item, frames)
        seen.append(item["op"])
        return got

    monkeypatch.setattr(inputs, "record", checked)
    for name in APPS:
        with open_store(tmp_path / name) as store:
            play(store, name)
    assert {"send", "connect", "disconnect"} <= set(seen), set(seen)
    error = {"to": "ann@", "error": {"code": "input", "message": "no"}}
    odd = {"to": "ann@", "error": {"code": 7, "message": "a code that is not text"}}
    for item in ({"op": "send", "who": "ann", "channel": "c", "now": 5},
                 {"op": "send", "who": None, "channel": None, "message": [1, "x"], "now": 5},
                 {"op": "send", "who": 12, "channel": "c", "message": {"a": None}, "now": 5},
                 {"op": "advance", "now": 9}, {"op": "destroy", "now": 9},
                 {"op": "delete", "who": "bo@x", "now": 9},
                 {"op": "answer", "who": "ann", "ask": 3, "message": 1, "now": 9},
                 {"op": "result", "call": 2, "result": {"ok": 1}, "now": 9},
                 {"op": "create", "who": "ann", "arg": None, "seed": "s", "now": 9}):
        for frames in ([], [error], [odd], [{"to": "ann@", "delta": {"n": 1}}]):
            assert real(4, item, frames) == pack_envelope(inputs.envelope(4, item, frames))


def test_a_packed_record_without_its_seq_is_refused_at_the_call(tmp_path):
    from advm.durable import inputs

    item = {"op": "send", "who": "ann", "channel": "add", "message": {"k": 1}, "now": T0}
    with open_store(tmp_path / "s") as store:
        for seq in (None, 0, "1", 1 << 64):
            with pytest.raises(ValueError, match="needs its seq"):
                store.append_envelope("d", inputs.record(1, item, []), seq=seq)
        assert store.append_envelope("d", inputs.record(1, item, []), seq=1).result() == 1
        [entry] = store.log("d")
        assert (entry.seq, entry.kind, entry.payload) == (1, "send", {"k": 1})


def test_a_flat_message_takes_the_short_check_with_the_same_answers():
    """inputs.unloggable's shortcut for one-level objects of ASCII text,
    numbers, booleans and null answers as the whole walk does; anything
    else (a lone surrogate in a key or a value, nesting, a non-text key)
    still goes through the whole walk (a key that is not text is not
    short-checked either)."""
    from advm.durable import inputs
    from advm.vm.values import MAX_DEPTH, input_problem

    cases = [{"k": 1}, {"text": "hi", "n": 2.5, "ok": True, "none": None}, {},
             {"text": "caf\u00e9"}, {"caf\u00e9": 1}, {"bad": "\udc80"}, {"\ud800": 1},
             {"nested": {"a": "\udc80"}}, {"list": [1, 2]}]
    for message in cases:
        item = {"op": "send", "who": "ann", "channel": "c", "message": message, "now": T0}
        refused = inputs.unloggable(item)
        assert (refused is not None) == (input_problem(message, MAX_DEPTH) is not None), message
        if refused is not None:
            assert refused[0]["error"]["code"] == "input"
    assert inputs._flat_ascii({"k": 1, "t": "x", "f": 0.5, "b": False, "n": None})
    for message in cases[3:] + [{3: "x"}]:
        assert not inputs._flat_ascii(message), message
