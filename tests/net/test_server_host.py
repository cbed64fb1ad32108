"""The router (net/router.py): documents loaded on demand, asleep when idle, woken
by their timers with nobody connected, many viewers per principal, bounded
queues, and clients coming back after a restart."""
from __future__ import annotations

import asyncio

import pytest

from advm.net.client import ClientError
from advm.net.documents import Shelf
from advm.net.router import Router, RouterError
from advm.runtime.living import LivingDocument
from advm.store import open_store
from advm.views.viewers import Viewers
from server_kit import Recorder, module, run, tictactoe_source

SLEEPER = """
@static {
  create {
    return true;
  }
}

public int fired;

@construct {
  transition #later in 2;
}

@connected {
  return true;
}

#later {
  fired = fired + 1;
}
"""

COUNTER = """
@static {
  create {
    return true;
  }
  invent {
    return @who.agent() == "inventor";
  }
}

message Bump {
  int by;
}

public int n;
public int leaves;

@connected {
  return true;
}

@disconnected {
  leaves++;
}

channel bump(Bump b) {
  n += b.by;
}

@delete {
  return @who.agent() == "owner";
}
"""


@pytest.mark.parametrize("backend", ["memory", "durable"])
def test_document_wakes_for_a_delayed_transition_with_nobody_connected(backend, tmp_path):
    async def scenario(kit):
        mod = module(SLEEPER)
        store = open_store(tmp_path / "store") if backend == "durable" else None
        router = Router(mod, store=store, idle_unload_s=0.1)
        assert router.backend == backend
        await router.start()
        try:
            await router.create("s", "alice@", None)
            due = router.next_wake()
            assert due is not None and due[1] == "s"
            # Idle, nobody connected: it is unloaded long before it is due.
            for _ in range(100):
                if not router.loaded():
                    break
                await asyncio.sleep(0.02)
            assert router.loaded() == [] and router.stats["unloads"] == 1
            assert router.stats["wakes"] == 0
            # It wakes at its due time, runs #later, and sleeps again. (Due in
            # 2 s, not less: on a loaded machine the first unload must be seen
            # before the wake, and the polls above can take that long.)
            for _ in range(400):
                if router.stats["wakes"] == 1 and not router.loaded() and router.stats["unloads"] == 2:
                    break
                await asyncio.sleep(0.02)
            assert router.stats["wakes"] == 1 and router.stats["unloads"] == 2
            assert router.next_wake() is None
            # What it did while nobody was there is in what it was saved as.
            if backend == "memory":
                asleep = LivingDocument.restore(mod, router.shelf.get("s"), viewers=Viewers)
                assert asleep.view("alice@")["fired"] == 1
                assert asleep.connected == []
            else:
                assert [e.kind for e in store.log("s")] == ["create", "advance"]
                assert store.timer("s") is None
                viewer = Recorder()
                await router.connect("s", "alice@", viewer)
                assert viewer.calls[0][1][0][0] == {"fired": 1}
        finally:
            await router.close()
            if store is not None:
                store.close()

    run(scenario)


def test_unloaded_document_comes_back_as_it_was():
    async def scenario(kit):
        router = Router(module(COUNTER), idle_unload_s=0.05)
        await router.start()
        try:
            await router.create("c", "alice@", None)
            viewer = Recorder()
            await router.connect("c", "alice@", viewer)
            await router.send("c", "alice@", "bump", {"by": 3})
            router.disconnect(viewer)
            for _ in range(100):
                if not router.loaded():
                    break
                await asyncio.sleep(0.02)
            assert router.loaded() == []
            again = Recorder()
            assert await router.connect("c", "alice@", again) == {"seq": 1}
            (kind, items, outstanding), = again.calls
            assert items[0][0] == {"n": 3, "leaves": 1} and outstanding == []
        finally:
            await router.close()

    run(scenario)


def test_one_principal_many_streams():
    async def scenario(kit):
        router = Router(module(COUNTER))
        await router.start()
        try:
            await router.create("c", "alice@", None)
            tab1, tab2 = Recorder(), Recorder()
            await router.connect("c", "alice@", tab1)
            await router.connect("c", "alice@", tab2)  # the second tab shares the viewer
            assert tab2.calls[0][0] == "reset" and tab2.calls[0][1] == {"n": 0, "leaves": 0}
            assert tab2.calls[0][2] == 1
            await router.send("c", "alice@", "bump", {"by": 2})
            assert tab1.calls[-1][:2] == ("deltas", [({"n": 2}, 2)])
            assert tab2.calls[-1][:2] == ("deltas", [({"n": 2}, 2)])
            router.disconnect(tab1)  # alice is still there: @disconnected does not run
            await router.send("c", "alice@", "bump", {"by": 1})
            assert tab2.calls[-1][:2] == ("deltas", [({"n": 3}, 3)])
            router.disconnect(tab2)
            bob = Recorder()
            await router.connect("c", "bob@", bob)
            assert bob.calls[0][1][0][0] == {"n": 3, "leaves": 1}
        finally:
            await router.close()

    run(scenario)


@pytest.mark.parametrize("backend", ["memory", "durable"])
def test_invent_delete_and_destroyed_streams(backend, tmp_path):
    async def scenario(kit):
        store = open_store(tmp_path / "store") if backend == "durable" else None
        router = Router(module(COUNTER), store=store, workers=1 if store else 0)
        await router.start()
        try:
            with pytest.raises(RouterError) as e:
                await router.connect("new", "bob@", Recorder())
            assert e.value.code == "not_found"
            inventor = Recorder()
            await router.connect("new", "inventor@", inventor)  # @static invent says yes
            watcher = Recorder()
            await router.connect("new", "bob@", watcher)
            with pytest.raises(RouterError) as e:
                await router.delete("new", "bob@")
            assert e.value.code == "delete_refused"
            await router.delete("new", "owner@")
            assert watcher.calls[-1][:2] == ("ended", "destroyed")
            assert inventor.calls[-1][:2] == ("ended", "destroyed")
            with pytest.raises(RouterError) as e:
                await router.connect("new", "bob@", Recorder())
            assert e.value.code == "not_found"
            assert "new" not in router.slots
            if store is not None:
                assert store.documents() == []
        finally:
            await router.close()
            if store is not None:
                store.close()

    run(scenario)


def test_queue_bound_per_document():
    async def scenario(kit):
        router = Router(module(COUNTER), queue_limit=4)
        await router.start()
        try:
            await router.create("c", "alice@", None)
            sends = [router.send("c", "alice@", "bump", {"by": 1}) for _ in range(10)]
            results = await asyncio.gather(*sends, return_exceptions=True)
            full = [r for r in results if isinstance(r, RouterError)]
            assert len(full) == 6 and {r.code for r in full} == {"queue_full"}
            viewer = Recorder()
            await router.connect("c", "alice@", viewer)
            assert viewer.calls[0][1][0][0]["n"] == 4
        finally:
            await router.close()

    run(scenario)


@pytest.mark.parametrize("backend", ["memory", "durable"])
def test_client_gets_its_view_and_asks_back_after_a_server_restart(backend, tmp_path):
    async def scenario(kit):
        source = tictactoe_source()
        if backend == "memory":
            shelf = Shelf()  # the memory backend's store outlives the router and server
            keep = {"shelf": shelf}
        else:
            keep = {"store": open_store(tmp_path / "store"), "workers": 1}
        async with kit.serve(source, **keep) as srv:
            assert srv.router.backend == backend
            alice = await kit.client(srv, "alice")
            bob = await kit.client(srv, "bob")
            await alice.create("g")
            ga, gb = await alice.open("g"), await bob.open("g")
            await ga.wait_for(lambda c: c.outstanding)
            await ga.answer(ga.outstanding[0], {"x": 1, "y": 1})
            await gb.wait_for(lambda c: c.outstanding)
            before = gb.view
            asks = gb.outstanding
            assert asks and asks[0]["kind"] == "decide" and len(asks[0]["options"]) == 9
        if backend == "durable":  # a real restart: the store is closed and opened again
            keep["store"].close()
            keep["store"] = open_store(tmp_path / "store")
        try:
            async with kit.serve(source, **keep) as srv:
                bob = await kit.client(srv, "bob")
                gb = await bob.open("g")
                assert gb.seq == 1
                assert gb.view == before
                assert gb.outstanding == asks
                await gb.answer(asks[0], {"x": 0, "y": 0})
                alice = await kit.client(srv, "alice")
                ga = await alice.open("g")
                assert ga.view["moves"] == 2
                with pytest.raises(ClientError) as e:
                    await gb.answer(asks[0], {"x": 0, "y": 0})
                assert e.value.reason in ("stale_ask", "unknown_ask")
        finally:
            if backend == "durable":
                keep["store"].close()

    run(scenario)


def test_answers_go_to_the_ask_they_name():
    async def scenario(kit):
        router = Router(module(tictactoe_source(), "tictactoe.adb"))
        await router.start()
        try:
            await router.create("g", "alice@", None)
            x, o = Recorder(), Recorder()
            await router.connect("g", "alice@", x)
            await router.connect("g", "bob@", o)
            (ask,) = x.last_outstanding()
            with pytest.raises(RouterError) as e:
                await router.answer("g", "bob@", ask["id"], {"x": 0, "y": 0})
            assert e.value.code == "wrong_principal"
            with pytest.raises(RouterError) as e:
                await router.answer("g", "alice@", ask["id"] + 50, {"x": 0, "y": 0})
            assert e.value.code == "unknown_ask"
            assert await router.answer("g", "alice@", ask["id"], {"x": 0, "y": 0}) == {"seq": 3}
            assert x.last_outstanding() == []
            assert [a["channel"] for a in o.last_outstanding()] == ["play"]
        finally:
            await router.close()

    run(scenario)


@pytest.mark.parametrize("workers", [0, 1])
def test_a_durable_input_is_seen_only_after_its_commit_landed(workers, tmp_path):
    """The output gate (8.8) on the callback path: the store's acknowledgement
    of each log append is held back; while it is, neither the viewers nor the
    sender hear of the input; once released, both do, in order."""
    async def scenario(kit):
        store = open_store(tmp_path / "store")
        held = []
        real = store.append_envelope

        def holding(doc, env, **kw):
            callback = kw.pop("callback", None)
            if callback is None:  # not the path under test
                return real(doc, env, **kw)

            def later(result, error):
                held.append(lambda: callback(result, error))

            return real(doc, env, callback=later, **kw)

        store.append_envelope = holding  # what the router (and its workers) call
        router = Router(module(COUNTER), store=store, workers=workers)
        await router.start()
        try:
            await router.create("g", "alice@", None)
            watcher = Recorder()
            await router.connect("g", "bob@", watcher)
            loop = asyncio.get_running_loop()
            while held:  # let what came before through
                loop.call_soon_threadsafe(held.pop(0))
            seen = len(watcher.calls)
            sent = router.send("g", "alice@", "bump", {"by": 5})
            deadline = loop.time() + 5
            while not held and loop.time() < deadline:
                await asyncio.sleep(0.01)
            assert held, "the input never reached the store"
            await asyncio.sleep(0.2)  # time enough for anything ungated to arrive
            assert len(watcher.calls) == seen and not sent.done()
            while held:
                held.pop(0)()
            assert await asyncio.wait_for(sent, 5) == {}  # alice is no viewer: no seq
            await asyncio.wait_for(watcher.event.wait(), 5)
            assert watcher.calls[-1][:2] == ("deltas", [({"n": 5}, 2)])
        finally:
            while held:
                held.pop(0)()
            await router.close()
            store.close()

    run(scenario)
