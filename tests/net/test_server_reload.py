"""A document dropped and loaded again after a failure (issue 10.7): its
viewers' streams end with a reason instead of going silent, a new stream of
the same principal is accepted, and the input its sender was told failed is
not in the document."""
from __future__ import annotations

import pytest

from advm.net.router import Router, RouterError
from advm.store import StoreError, open_store
from server_kit import Recorder, module, run

LINES = """
@static {
  create {
    return true;
  }
}

record Line {
  public int id;
  public string text;
}

message Say {
  string text;
}

table<Line> _lines;
public formula lines = iterate _lines order by id;

@connected {
  return true;
}

channel say(Say s) {
  _lines <- {text: s.text};
}
"""


class FailingStore:
    """The store, except that an input whose message says "boom" cannot be
    made durable (as when the disk is full)."""

    def __init__(self, store):
        self._store = store

    def __getattr__(self, name):
        return getattr(self._store, name)

    def append_envelope(self, doc, env, **kw):
        # a durable document hands its input's record packed (bytes)
        if (b"boom" in env) if type(env) is bytes else env.get("payload") == {"text": "boom"}:
            error = StoreError("the disk is full", doc=doc)
            fail, callback = kw.get("fail"), kw.get("callback")
            callback(None, fail(error) if fail is not None else error)
            return None
        return self._store.append_envelope(doc, env, **kw)


def texts(view) -> list[str]:
    lines = view["lines"]
    return [lines[str(i)]["text"] for i in lines["@o"]]


def test_a_store_failure_ends_the_streams_and_a_new_stream_is_accepted(tmp_path):
    async def scenario(kit):
        store = open_store(tmp_path / "store", durability="relaxed")
        router = Router(module(LINES), store=FailingStore(store), workers=0)
        await router.start()
        try:
            await router.create("d", "alice@", None)
            alice, bob = Recorder(), Recorder()
            await router.connect("d", "alice@", alice)
            await router.connect("d", "bob@", bob)
            await router.send("d", "alice@", "say", {"text": "one"})
            with pytest.raises(RouterError) as e:
                await router.send("d", "alice@", "say", {"text": "boom"})
            assert e.value.code == "store"
            # Neither stream is left open and silent.
            for viewer in (alice, bob):
                assert viewer.calls[-1][:2] == ("ended", "reloaded")
            # A new stream of the same principal is a first stream again.
            again = Recorder()
            assert await router.connect("d", "alice@", again) == {"seq": 1}
            assert texts(again.calls[0][1][0][0]) == ["one"]  # no "boom"
            await router.send("d", "alice@", "say", {"text": "two"})
            assert texts(host_view(again)) == ["one", "two"]
        finally:
            await router.close()
            store.close()

    run(scenario)


def host_view(viewer: Recorder) -> dict:
    """The view a Recorder holds, with every delta merged in."""
    from advm.views.merge import ViewState

    state = ViewState()
    for call in viewer.calls:
        if call[0] == "deltas":
            for patch, _ in call[1]:
                state.apply(patch)
        elif call[0] == "reset":
            state.reset()
            state.apply(call[1])
    return state.encoded


def test_a_second_stream_asked_before_the_reload_joins_the_reloaded_document(tmp_path):
    async def scenario(kit):
        store = open_store(tmp_path / "store", durability="relaxed")
        router = Router(module(LINES), store=FailingStore(store), workers=0)
        await router.start()
        try:
            await router.create("d", "alice@", None)
            first = Recorder()
            await router.connect("d", "alice@", first)
            # Queued in this order: the failing input, then a second stream
            # of alice, which the document (reloaded by then) does not list.
            failing = router.send("d", "alice@", "say", {"text": "boom"})
            second = Recorder()
            joining = router.connect("d", "alice@", second)
            with pytest.raises(RouterError):
                await failing
            assert first.calls[-1][:2] == ("ended", "reloaded")
            assert (await joining)["seq"] >= 1
            await router.send("d", "alice@", "say", {"text": "after"})
            assert texts(host_view(second))[-1] == "after"
        finally:
            await router.close()
            store.close()

    run(scenario)
