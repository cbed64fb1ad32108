"""A running server takes new code (issue 14 point 1; spec/runtime.md 9.1):
Router.deploy with viewers connected (a delta, not a reset), with an open ask
(the activation finishes on its code, then the document moves), a refused
deploy that leaves the old code serving; in memory, on the store and with a
worker process."""
from __future__ import annotations

import pytest

from advm.net.router import Router, RouterError
from advm.store import open_store
from server_kit import Recorder, module, run
from test_upgrade import APPROVAL_V1, APPROVAL_V2, NARROW, V1, V2, merged  # noqa: F401


def view_of(viewer: Recorder) -> dict:
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


@pytest.mark.parametrize("durable, workers", [(True, 0), (False, 0), (True, 1)])
def test_viewers_get_the_new_fields_as_a_delta(tmp_path, durable, workers):
    async def scenario(kit):
        store = open_store(tmp_path / "st", durability="relaxed") if durable else None
        router = Router(module(V1), store=store, workers=workers)
        await router.start()
        try:
            await router.create("g", "a@", None)
            await router.create("other", "a@", None)
            alice = Recorder()
            await router.connect("g", "a@", alice)
            await router.send("g", "a@", "add", {"name": "x", "qty": 2})
            before = len(alice.calls)
            out = await router.deploy(module(V2).to_bytes())
            assert out["module"] == module(V2).module_id() and "g" in out["moved"]
            new = alice.calls[before:]
            assert new and all(c[0] == "deltas" for c in new)  # no reset, no end
            view = view_of(alice)
            assert view["added"] == "new" and "title" not in view and view["count"] == "1"
            await router.send("g", "a@", "add", {"name": "y", "qty": 3})
            assert view_of(alice)["total"] == "4"
            # a document created after the deploy runs the new code
            await router.create("fresh", "a@", None)
            bob = Recorder()
            await router.connect("fresh", "b@", bob)
            assert view_of(bob)["added"] == "new"
            carol = Recorder()
            await router.connect("other", "c@", carol)
            assert view_of(carol)["added"] == "new"
        finally:
            await router.close()
            if store is not None:
                store.close()

    run(scenario)


def test_a_refused_deploy_leaves_the_old_code_serving(tmp_path):
    async def scenario(kit):
        store = open_store(tmp_path / "st", durability="relaxed")
        router = Router(module(V1), store=store, workers=0)
        await router.start()
        try:
            await router.create("g", "a@", None)
            alice = Recorder()
            await router.connect("g", "a@", alice)
            with pytest.raises(RouterError) as e:
                await router.deploy(module(NARROW).to_bytes())
            assert e.value.code == "deploy_refused" and "title: string cannot become int" in str(e.value)
            assert router.module.module_id() == module(V1).module_id()
            await router.send("g", "a@", "add", {"name": "x", "qty": 2})
            assert view_of(alice)["title"] == "t" and view_of(alice)["count"] == 1
        finally:
            await router.close()
            store.close()

    run(scenario)


def test_an_open_ask_is_answered_on_the_old_code_then_the_document_moves(tmp_path):
    async def scenario(kit):
        store = open_store(tmp_path / "st", durability="relaxed")
        router = Router(module(APPROVAL_V1), store=store, workers=0)
        await router.start()
        try:
            await router.create("w", "boss@", None)
            boss = Recorder()
            await router.connect("w", "boss@", boss)
            ask = boss.last_outstanding()[0]
            await router.deploy(module(APPROVAL_V2).to_bytes())
            assert "version" not in view_of(boss)  # still v1: its block waits
            await router.answer("w", "boss@", ask["id"], {"approve": True})
            view = view_of(boss)
            assert view["result"] == "yes" and view["version"] == "two"
        finally:
            await router.close()
            store.close()
        from advm.durable.replay import replay
        with open_store(tmp_path / "st", durability="relaxed") as again:
            result = replay(again, "w")
            assert result.ok and result.module.module_id() == module(APPROVAL_V2).module_id()

    run(scenario)


def test_admin_deploy_through_a_real_server(tmp_path):
    """admin/deploy on the wire: an admin token deploys v2 while alice's
    stream stays open; she gets the new field as a delta. Without the admin
    claim, or with bytes that are not a module, nothing changes."""
    import base64

    from test_upgrade import V1 as SOURCE

    async def scenario(kit):
        async with kit.serve(SOURCE, store=open_store(tmp_path / "st")) as srv:
            alice = await kit.client(srv, "alice")
            await alice.create("g", None)
            stream = await alice.open("g")
            await stream.send("add", {"name": "x", "qty": 2})
            admin = kit.tokens.mint("ops", ttl=600, admin=True)
            ops = await kit.client(srv, identity=admin)
            code = base64.b64encode(module(V2).to_bytes()).decode("ascii")
            with pytest.raises(Exception) as e:
                await alice.request("admin/deploy", module=code)
            assert "admin" in str(e.value)
            with pytest.raises(Exception) as e:
                await ops.request("admin/deploy", module=base64.b64encode(b"not a module").decode(),
                                  identity=admin)
            assert "cannot be read" in str(e.value)
            for bad in ({"module": "not base64!"}, {"module": ""}, {"module": code, "percent": 101},
                        {"module": code, "prefix": 7}, {"module": code, "restart_blocked": "yes"}):
                with pytest.raises(Exception) as e:
                    await ops.request("admin/deploy", identity=admin, **bad)
                assert "bad_request" in str(e.value), bad
            done = await ops.request("admin/deploy", module=code, identity=admin)
            assert {k: done[k] for k in ("module", "moved")} == {"module": module(V2).module_id(), "moved": ["g"]}
            assert done["plan"]["added"] == ["added"] and done["plan"]["removed"] == ["title"]
            view = await stream.wait_for(lambda c: "added" in c.view)
            assert view["added"] == "new" and "title" not in view and view["count"] == "1"

    run(scenario)


def test_advm_deploy_server_moves_a_running_document(tmp_path):
    import asyncio
    import sys

    from test_upgrade import V1 as SOURCE

    (tmp_path / "v2.adb").write_text(V2)
    (tmp_path / "narrow.adb").write_text(NARROW)

    async def deploy(srv, token, path):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "advm", "deploy", str(path), "--server", srv.ws_url, "--token", token,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        return proc.returncode, out.decode(), err.decode()

    async def scenario(kit):
        async with kit.serve(SOURCE, store=open_store(tmp_path / "st")) as srv:
            alice = await kit.client(srv, "alice")
            await alice.create("g", None)
            stream = await alice.open("g")
            admin = kit.tokens.mint("ops", ttl=600, admin=True)
            code, out, err = await deploy(srv, admin, tmp_path / "narrow.adb")
            assert code == 1 and "title: string cannot become int" in err, err
            code, out, err = await deploy(srv, admin, tmp_path / "v2.adb")
            assert code == 0 and "1 loaded documents moved" in out, err
            view = await stream.wait_for(lambda c: "added" in c.view)
            assert view["added"] == "new"

    run(scenario, deadline=60)


def _tictactoe_v2() -> str:
    from pathlib import Path

    src = (Path(__file__).resolve().parents[2] / "examples" / "tictactoe.adb").read_text()
    # a field added, a message field added, a formula added
    return src.replace("public int games;", "public int games;\npublic string edition = \"v2\";") \
        .replace("message Play {\n  int x;\n  int y;\n}", "message Play {\n  int x;\n  int y;\n  string note;\n}") \
        .replace("public formula board = iterate _board order by y, x;",
                 "public formula board = iterate _board order by y, x;\npublic formula free = 9 - moves;")


@pytest.mark.parametrize("restart", [True, False])
def test_a_tictactoe_game_in_the_middle_takes_new_code(tmp_path, restart):
    """Two players mid-game, both viewing. With --restart-blocked the turn's
    ask closes and #turn is entered again on v2 (a new ask, the same
    player); without it, every turn ends by entering the next, so the game
    stays on v1 (deferred) and the board goes on. Replay verifies either."""
    from pathlib import Path

    v1 = (Path(__file__).resolve().parents[2] / "examples" / "tictactoe.adb").read_text()
    v2 = _tictactoe_v2()

    async def scenario(kit):
        store = open_store(tmp_path / "st", durability="relaxed")
        router = Router(module(v1, "tictactoe.adb"), store=store, workers=0)
        await router.start()
        try:
            await router.create("g", "x@", None)
            x, o = Recorder(), Recorder()
            await router.connect("g", "x@", x)
            await router.connect("g", "o@", o)
            await router.answer("g", "x@", x.last_outstanding()[0]["id"], {"x": 0, "y": 0})
            ask = o.last_outstanding()[0]
            before = len(o.calls)
            await router.deploy(module(v2, "tictactoe.adb").to_bytes(), restart_blocked=restart)
            assert all(c[0] == "deltas" for c in o.calls[before:])  # no reset, no end
            if restart:
                assert view_of(x)["edition"] == "v2" and view_of(o)["free"] == 8
                again = o.last_outstanding()
                assert len(again) == 1 and again[0]["id"] != ask["id"]
                await router.answer("g", "o@", again[0]["id"], {"x": 1, "y": 1, "note": ""})
                assert view_of(x)["free"] == 7
            else:
                assert "edition" not in view_of(x)
                await router.answer("g", "o@", ask["id"], {"x": 1, "y": 1})
                assert "edition" not in view_of(x) and view_of(x)["moves"] == 2
        finally:
            await router.close()
            store.close()
        from advm.durable.replay import replay
        with open_store(tmp_path / "st", durability="relaxed") as again:
            result = replay(again, "g")
            assert result.ok and all(c.ok for c in result.checks)
            assert (result.module.module_id() == module(v2, "tictactoe.adb").module_id()) == restart

    run(scenario)


def test_a_canary_on_a_running_server_then_everyone(tmp_path):
    async def scenario(kit):
        store = open_store(tmp_path / "st", durability="relaxed")
        router = Router(module(V1), store=store, workers=0)
        await router.start()
        try:
            viewers = {}
            for key in ("eu-1", "us-1", "eu-2"):
                await router.create(key, "a@", None)
            for key in ("eu-1", "us-1"):
                viewers[key] = Recorder()
                await router.connect(key, "a@", viewers[key])
            out = await router.deploy(module(V2).to_bytes(), prefix="eu-")
            assert "us-1" not in out["moved"] and "eu-1" in out["moved"]
            assert view_of(viewers["eu-1"])["added"] == "new"
            assert "added" not in view_of(viewers["us-1"])
            assert router.module.module_id() == module(V1).module_id()  # new documents: old code
            with pytest.raises(RouterError):
                await router.deploy(module(NARROW).to_bytes(), prefix="us-")
            out = await router.deploy(module(V2).to_bytes())
            assert "us-1" in out["moved"]
            assert view_of(viewers["us-1"])["added"] == "new"
            assert router.module.module_id() == module(V2).module_id()
        finally:
            await router.close()
            store.close()

    run(scenario)


def test_a_worker_that_replaces_a_dead_one_runs_the_deployed_code(tmp_path):
    import asyncio
    import os
    import signal

    async def scenario(kit):
        store = open_store(tmp_path / "st")
        router = Router(module(V1), store=store, workers=1)
        await router.start()
        try:
            await router.create("g", "a@", None)
            await router.deploy(module(V2).to_bytes())
            dead = router.runners[0]
            os.kill(dead.pid, signal.SIGKILL)
            for _ in range(200):
                if router.runners[0] is not dead and not router.runners[0].dead:
                    break
                await asyncio.sleep(0.05)
            assert router.runners[0] is not dead
            await router.create("fresh", "a@", None)
            for key in ("g", "fresh"):
                viewer = Recorder()
                await router.connect(key, "b@", viewer)
                assert view_of(viewer)["added"] == "new", key
        finally:
            await router.close()
            store.close()

    run(scenario, deadline=60)


def test_declared_renames_and_deploy_status_on_a_running_server(tmp_path):
    """A server deploy carries the renames its module declares (`@was`): the
    loaded document's viewer sees the old value under the new name, a
    sleeping one moves the same way when it wakes, each upgrade event records
    them, and `advm deploy --status --server` lists each document's module,
    loaded or sleeping (admin/modules)."""
    import asyncio
    import json
    import sys

    from advm.durable.document import DurableDocument
    from advm.durable.inspect import module_history
    from advm.views.viewers import Viewers
    from test_upgrade import WAS_V2

    (tmp_path / "v2.adb").write_text(WAS_V2)
    st = tmp_path / "st"
    with open_store(st) as store:  # a document asleep on the store before the server starts
        doc, _ = DurableDocument.create(store, "sleeper", module(V1), "a@", None, 1_767_225_600_000,
                                        viewers=Viewers)
        doc.close()
    v1_id, v2_id = module(V1).module_id(), module(WAS_V2, str(tmp_path / "v2.adb")).module_id()

    async def advm(*args):
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "advm", *map(str, args), stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        return proc.returncode, out.decode(), err.decode()

    async def scenario(kit):
        store = open_store(st)
        async with kit.serve(V1, store=store) as srv:
            alice = await kit.client(srv, "alice")
            await alice.create("g", None)
            stream = await alice.open("g")
            await stream.send("add", {"name": "x", "qty": 7})
            admin = kit.tokens.mint("ops", ttl=600, admin=True)
            code, out, err = await advm("deploy", "--status", "--server", srv.ws_url, "--token", admin, "--json")
            assert code == 0, err
            found = json.loads(out)
            assert found["module"] == v1_id and found["canary"] is None
            assert {r["doc"]: (r["module"], r["loaded"]) for r in found["documents"]} == {
                "g": (v1_id, True), "sleeper": (v1_id, False)}
            code, out, err = await advm("deploy", tmp_path / "v2.adb", "--server", srv.ws_url, "--token", admin)
            assert code == 0 and "renamed title -> heading" in out and "renamed Item.qty -> Item.amount" in out, err
            view = await stream.wait_for(lambda c: "heading" in c.view)
            assert view["heading"] == "t" and "title" not in view
            assert [(i["name"], i["amount"]) for i in view["all"]] == [("x", "7")]
            code, out, err = await advm("deploy", "--status", "--server", srv.ws_url, "--token", admin)
            assert code == 0 and f"server runs {v2_id}" in out, err
            lines = {line.split()[0]: line for line in out.splitlines()[1:]}
            assert v2_id in lines["g"] and "loaded" in lines["g"]
            assert v1_id in lines["sleeper"] and "sleeping" in lines["sleeper"]  # it moves when it wakes
            sleeper = await alice.open("sleeper")
            view = await sleeper.wait_for(lambda c: "heading" in c.view)
            assert view["heading"] == "t"
            # paging: one document an answer
            ops = await kit.client(srv, identity=admin)
            first = await ops.request("admin/modules", identity=admin, limit=1)
            assert [r["doc"] for r in first["documents"]] == ["g"] and first["more"]
            rest = await ops.request("admin/modules", identity=admin, after="g", limit=1)
            assert [(r["doc"], r["module"]) for r in rest["documents"]] == [("sleeper", v2_id)] and not rest["more"]
            for bad in ({"limit": 0}, {"limit": 1001}, {"after": 3}):
                with pytest.raises(Exception) as e:
                    await ops.request("admin/modules", identity=admin, **bad)
                assert "bad_request" in str(e.value), bad
            with pytest.raises(Exception) as e:
                await alice.request("admin/modules")
            assert "admin" in str(e.value)
            code, out, err = await advm("deploy", tmp_path / "v2.adb", "--server", srv.ws_url, "--token", admin,
                                        "--rename", "title=heading")
            assert code == 2 and "@was" in err
        try:
            for key in ("g", "sleeper"):
                history = module_history(store, key)
                assert [m["module"] for m in history] == [v1_id, v2_id]
                assert history[1]["renames"] == {"fields": {"title": "heading"}, "records": {"Item": {"qty": "amount"}}}
        finally:
            store.close()

    run(scenario, deadline=90)
