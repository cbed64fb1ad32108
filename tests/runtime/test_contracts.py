"""The typed contracts (runtime/contracts.py, store/interface.py,
net/messages.py) describe the code as it is: every frame the example
sessions produce has one of the declared shapes, the viewers, documents and
backends implement their protocols, the store has exactly the declared
calls, and a worker may make exactly those on the router's store."""
from __future__ import annotations

import concurrent.futures as cf
import inspect
import typing

import pytest
from durable_kit import APPS, T0, example, open_store, script

from advm.net import messages, worker
from advm.net.documents import DurableBackend, MemoryBackend, MemoryDocument, Shelf
from advm.net.runners import ProcessRunner
from advm.net.shard import Shard
from advm.runtime import contracts as C
from advm.runtime.engine import Engine
from advm.runtime.living import LivingDocument
from advm.store import Store, interface
from advm.durable import inputs as inputs_codec
from advm.durable.document import DurableDocument
from advm.durable.noviews import NoViewers
from advm.views.viewers import Viewers
from advm.vm.docslots import as_principal

SHAPES = {"delta": C.DeltaFrame, "connected": C.ConnectedFrame, "ask": C.AskFrame,
          "ask_closed": C.AskClosedFrame, "error": C.ErrorFrame, "viewstate": C.ViewStateFrame}


def fits(value: dict, shape) -> bool:
    """`value` has the TypedDict's required keys and no others than its own."""
    keys = set(value)
    return shape.__required_keys__ <= keys <= shape.__required_keys__ | shape.__optional_keys__


def session_frames(name: str):
    """(inputs, frames) of an example's scripted session run on a runtime."""
    module = example(name)
    living = LivingDocument(module, key="document", viewers=Viewers)
    now = T0
    inputs, frames = [], []
    for op in script(name):
        if op["op"] == "restart":
            continue
        if op["op"] == "advance":
            now += round(op["seconds"] * 1000)
            op = {"op": "advance"}
        item = C.as_input(op, now)
        inputs.append(item)
        frames += living.apply(item)
    return inputs, frames


@pytest.mark.parametrize("name", APPS)
def test_every_frame_and_input_of_the_examples_has_a_declared_shape(name):
    inputs, frames = session_frames(name)
    assert frames
    for item in inputs:
        assert item["op"] in C.OPS and type(item["now"]) is int
        assert fits(item, C.Input), item
    for frame in frames:
        kind = C.frame_kind(frame)
        assert fits(frame, SHAPES[kind]), frame
        if kind == "ask":
            assert fits(frame["ask"], C.AskInfo), frame
            assert frame["ask"]["kind"] in typing.get_args(C.AskKind)
        if kind == "error":
            assert fits(frame["error"], C.ErrorInfo), frame


@pytest.mark.parametrize("name", APPS)
def test_a_logged_input_reads_back_as_the_same_input(name):
    """The log entry is the runtime's Input in the store's field names
    (spec/store.md 11.3): to_entry and from_entry are the one conversion
    each way, and give every input of the examples back (the principal
    normalised, as the runtime reads it)."""
    inputs, _ = session_frames(name)
    for seq, item in enumerate(inputs, 1):
        back = inputs_codec.from_entry(inputs_codec.to_entry(seq, item, []))
        want = {k: v for k, v in item.items() if v is not None}
        if "who" in want:
            want["who"] = as_principal(want["who"])
        assert {k: v for k, v in back.items() if v is not None} == want
        assert fits(back, C.Input), back


def test_the_server_hands_documents_the_runtime_input(monkeypatch):
    """From the socket to the log an input has one shape: the router's request
    payload holds the runtime Input's fields (net/messages.py Payload), the
    shard hands the document the Input without its time (no scripted `as`),
    and the log entry is that Input under the store's names (above)."""
    module = example("chat")
    shard = Shard(module, MemoryBackend(module, Shelf()))
    handed = []
    submit_to = shard.host.submit_to

    def spy(doc, op, now, done=None):
        handed.append(dict(op))
        return submit_to(doc, op, now, done)

    monkeypatch.setattr(shard.host, "submit_to", spy)
    requests = [("create", {"who": "ada@lab", "arg": None}), ("connect", {"who": "ada@lab"}),
                ("send", {"who": "ada@lab", "channel": "say", "message": {"text": "hi"}}),
                ("disconnect", {"who": "ada@lab"}), ("delete", {"who": "ada@lab"})]
    for kind, payload in requests:
        assert "error" not in shard.handle(kind, "c1", payload, T0).result(), kind
    assert [op["op"] for op in handed] == ["connect", "send", "disconnect", "delete"]
    for op in handed:
        assert "as" not in op and op["who"] == "ada@lab", op
        assert fits(dict(op, now=T0), C.Input), op


def test_frame_kind_refuses_what_is_not_a_frame():
    with pytest.raises(ValueError):
        C.frame_kind({"to": "ann@", "hello": 1})


def test_as_input_is_the_runtime_shape_of_a_scripted_input():
    op = {"op": "send", "as": "bob", "channel": "say", "message": {"text": "hi"}, "now": 5}
    item = C.as_input(op, 7)
    assert item == {"op": "send", "who": "bob", "channel": "say", "message": {"text": "hi"}, "now": 7}
    assert "as" in op and op["now"] == 5  # the caller's dict is left as it was
    assert C.as_input({"op": "advance"}, 9) == {"op": "advance", "now": 9}
    with pytest.raises(TypeError):
        C.as_input(["send"], 1)


def test_the_viewers_implement_the_viewers_interface():
    engine = Engine(example("chat"), key="document")
    for made in (Viewers(engine), NoViewers(engine)):
        assert isinstance(made, C.Viewers), type(made).__name__


def test_the_servers_streams_are_the_routers_sinks():
    from server_kit import Recorder

    from advm.net.router import Sink
    from advm.net.server import Stream

    assert public_methods(Sink) == {"deltas", "reset", "notify", "ended"}
    for cls in (Stream, Recorder):  # the server's, and the tests' own
        assert public_methods(Sink) <= public_methods(cls), cls.__name__
        for name in public_methods(Sink):
            declared = inspect.signature(getattr(Sink, name)).parameters
            assert list(inspect.signature(getattr(cls, name)).parameters) == list(declared), name
    assert "_router_state" in Stream.__slots__  # where the router keeps its bookkeeping


def test_both_backends_and_their_documents_implement_the_host_protocols(tmp_path):
    module = example("chat")
    memory = MemoryBackend(module, Shelf())
    doc, frames = memory.create("m1", "ada@", None, T0)
    assert isinstance(memory, C.Backend) and isinstance(doc, C.HostedDocument)
    assert isinstance(doc, MemoryDocument)
    store = open_store(tmp_path / "store")
    try:
        durable = DurableBackend(module, store)
        ddoc, frames = durable.create("d1", "ada@", None, T0)
        assert isinstance(durable, C.Backend) and isinstance(ddoc, C.HostedDocument)
        assert isinstance(ddoc, DurableDocument)
        ddoc.close()
    finally:
        store.close()


def public_methods(cls) -> set[str]:
    return {name for name, value in inspect.getmembers(cls)
            if not name.startswith("_") and callable(value)}


def test_the_store_has_exactly_the_declared_calls(tmp_path):
    declared = interface.WRITES | interface.READS
    assert interface.CALLBACK_WRITES <= interface.WRITES
    assert not interface.WRITES & interface.READS
    # commit_async and append_async are asyncio spellings of two writes;
    # close ends the store's life and is the owner's alone
    assert public_methods(Store) - {"commit_async", "append_async", "close"} == declared
    assert public_methods(interface.DocumentStore) == declared
    store = open_store(tmp_path / "store")
    try:
        assert isinstance(store, interface.DocumentStore)
    finally:
        store.close()


def test_a_worker_may_make_exactly_the_store_interface_calls():
    """The calls a worker may make (net/messages.py) are the backend's store
    interface, each answered as the interface says."""
    durable = messages.store_calls("durable")
    assert set(durable) == interface.WRITES | interface.READS
    assert {n for n, how in durable.items() if how == messages.CALLBACK} == interface.CALLBACK_WRITES
    assert {n for n, how in durable.items() if how == messages.FUTURE} == (
        interface.WRITES - interface.CALLBACK_WRITES)
    assert {n for n, how in durable.items() if how == messages.WAIT} == interface.READS
    memory = messages.store_calls("memory")
    assert set(memory) == public_methods(messages.ShelfStore) == public_methods(Shelf)
    assert isinstance(Shelf(), messages.ShelfStore)
    with pytest.raises(ValueError):
        messages.store_calls("paper")


class _Link:
    """A worker's link that records the store calls instead of sending them."""

    def __init__(self):
        self.sent = []

    def call(self, name, args, kwargs):
        self.sent.append((name, args, kwargs))
        done = cf.Future()
        done.set_result(None)
        return done

    def call_back(self, name, args, kwargs, answer):
        self.sent.append((name, args, kwargs))
        answer(True, 7)


@pytest.mark.parametrize("backend, protocol", [("durable", interface.DocumentStore),
                                               ("memory", messages.ShelfStore)])
def test_the_workers_store_proxy_has_one_method_per_declared_call(backend, protocol):
    link = _Link()
    remote = worker.remote_store(link, backend, {"path": "/nowhere"})
    assert isinstance(remote, protocol)
    assert public_methods(type(remote)) == set(messages.store_calls(backend))
    with pytest.raises(AttributeError):
        remote.close  # the store's owner closes it, never a worker
    with pytest.raises(AttributeError):
        remote.__getattr__  # nothing is forwarded by name


def test_the_proxy_forwards_a_call_as_declared():
    link = _Link()
    remote = worker.remote_store(link, "durable", {})
    assert remote.last_seq("d1") is None  # WAIT: the answer is the result
    got = []
    assert remote.append_envelope("d1", {"seq": 1}, value="frames",
                                  callback=lambda result, exc: got.append((result, exc))) is None
    assert got == [("frames", None)]  # CALLBACK: the worker's own `value`, applied here
    assert link.sent == [("last_seq", ("d1",), {}), ("append_envelope", ("d1", {"seq": 1}), {"callback": True})]


def test_the_host_runs_only_a_declared_store_call(tmp_path):
    """A worker naming a call the interface does not declare (or an attribute
    of the store that is not a call of it) gets an error; nothing runs."""
    shelf = Shelf()
    shelf.put("k", b"snapshot")
    runner = ProcessRunner(b"", "memory", shelf)
    answers = []
    runner._store_answer = lambda cid, ok, value: answers.append((cid, ok, value))
    for cid, name in enumerate(["__init__", "_lock", "nope", "close"]):
        runner._store_call(cid, name, (), {})
    assert [ok for _, ok, _ in answers] == [False] * 4
    assert all("not a call of the memory store interface" in text for _, _, text in answers)
    assert shelf.get("k") == b"snapshot"


def test_a_worker_cannot_close_the_routers_store(tmp_path):
    """`close` is a method of the LMDB store but no call of its interface:
    the store's owner closes it, and a worker asking to is refused."""
    store = open_store(tmp_path / "store")
    try:
        runner = ProcessRunner(b"", "durable", store)
        answers = []
        runner._store_answer = lambda cid, ok, value: answers.append((cid, ok, value))
        runner._store_call(1, "close", (), {})
        assert answers == [(1, False, "'close' is not a call of the durable store interface (net/messages.py)")]
        assert store.last_seq("d1") == 0  # still open
    finally:
        store.close()


def test_every_message_starts_with_its_declared_tag():
    built = [messages.init(b"", "memory", {}), messages.stop(), messages.batch([]),
             messages.request(1, "send", "d", {"who": "ann@"}, 5), messages.reply(1, {}),
             messages.ready("id", "/advm"), messages.failed("why"), messages.store_call(2, "get", ("d",), {}),
             messages.store_reply(2, True, None)]
    tags = [messages.INIT, messages.STOP, messages.BATCH, messages.REQUEST, messages.REPLY, messages.READY,
            messages.FAILED, messages.STORE_CALL, messages.STORE_REPLY]
    assert [m[0] for m in built] == tags and len(set(tags)) == len(tags)
    assert all(type(m) is tuple for m in built)  # plain tuples: what pickles cheapest
    assert set(typing.get_args(messages.RequestKind)) == set(messages.REQUEST_KINDS)
