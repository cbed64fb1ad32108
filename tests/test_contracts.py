"""The typed contracts (runtime/contracts.py, store/interface.py) describe the
code as it is: every frame the example sessions produce has one of the
declared shapes, the viewers, documents and backends implement their
protocols, and the store has exactly the declared calls."""
from __future__ import annotations

import inspect
import typing

import pytest
from durable_kit import APPS, T0, example, open_store, script

from advm.net import worker
from advm.net.documents import DurableBackend, MemoryBackend, MemoryDocument, Shelf
from advm.runtime import contracts as C
from advm.runtime.document import Document
from advm.runtime.living import LivingDocument
from advm.store import Store, interface
from advm.durable.document import DurableDocument
from advm.durable.noviews import NoViewers
from advm.views.viewers import Viewers

SHAPES = {"delta": C.DeltaFrame, "connected": C.ConnectedFrame, "ask": C.AskFrame,
          "ask_closed": C.AskClosedFrame, "error": C.ErrorFrame}


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
        frames += living.submit(item)
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
    document = Document(example("chat"), key="document")
    for made in (Viewers(document), NoViewers(document)):
        assert isinstance(made, C.Viewers), type(made).__name__


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


def test_the_worker_forwards_the_declared_writes():
    """The worker's store proxy forwards writes as futures and callbacks by
    these lists; they are the store interface's."""
    assert worker.FUTURE_METHODS == interface.WRITES
    assert worker.CALLBACK_METHODS == interface.CALLBACK_WRITES
