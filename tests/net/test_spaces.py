"""Spaces (spec/protocol.md 8.17, README "Spaces"): several programs on one
server, each its own router and documents, selected by a request's `space`.

The in-process scenarios build the server as `advm run` does (a Spaces of
routers over SpaceStore views of one store); the CLI ones run `advm run` with
three programs (a chat, a game and a ledger), kill it with SIGKILL and start it
again on the same store."""
from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from advm.net.client import Client, ClientError
from advm.net.router import Router
from advm.net.server import Server
from advm.net.spaces import SpaceLimits, Spaces, read_limits, space_file_name
from advm.net.tokens import Tokens
from advm.store import open_store
from advm.store.keys import space_doc
from advm.store.spaces import Registry, SpaceStore
from server_kit import COUNTER, EXAMPLES, module, run

ROOT = Path(__file__).resolve().parents[2]
LEDGER = (ROOT / "tests" / "fixtures" / "spaces" / "ledger.adb").read_text()
CHAT = (EXAMPLES / "chat.adb").read_text()
GAME = (EXAMPLES / "tictactoe.adb").read_text()
LEDGER_V2 = LEDGER.replace("public int transfers = 0;", "public int transfers = 0;\npublic int audits = 0;")
TOKENS = Tokens(b"advm-test-key-0123456789abcdef!!")


@contextlib.asynccontextmanager
async def serving(tmp_path, programs: dict, *, limits: dict | None = None, dev_tokens=False,
                  memory=False, shared=False):
    """A server hosting `programs` (space -> source) over one store in tmp_path;
    `shared`: every space's documents on one thread (as `advm run --workers 0`)."""
    store = None if memory else open_store(tmp_path / "store")

    def make_router(name, mod, lim):
        router = Router(mod, store=SpaceStore(store, name) if store is not None else None, workers=0,
                        memory_budget=int(lim.memory_mb * 1_000_000))  # as advm run builds it
        if shared:
            spaces.share_thread(router)
        return router

    spaces = Spaces(make_router, store=store, registry=Registry(tmp_path / "store") if store else None,
                    per_space={k: SpaceLimits.from_json(v) for k, v in (limits or {}).items()})
    for name, source in programs.items():
        spaces.add(name, module(source, f"{name}.adb"), source=f"{name}.adb")
    srv = Server(None, TOKENS, port=0, spaces=spaces, dev_tokens=dev_tokens)
    await srv.start()
    clients = []

    async def client(who, space=None, identity=None):
        c = await Client.connect(srv.ws_url, identity or TOKENS.mint(who, ttl=600), space=space)
        clients.append(c)
        return c

    try:
        yield srv, client, store
    finally:
        for c in clients:
            await c.close()
        await srv.close()
        if store is not None:
            store.close()


def test_same_key_in_three_spaces_are_three_documents_used_by_their_own_clients(tmp_path):
    async def scenario(kit):
        async with serving(tmp_path, {"chat": CHAT, "game": GAME, "ledger": LEDGER}) as (srv, client, store):
            chat = await client("alice", "chat")
            game_a, game_b = await client("alice", "game"), await client("bob", "game")
            ledger = await client("carol", "ledger")
            for c in (chat, game_a, ledger):
                await c.create("k1")
            room = await chat.open("k1")
            await room.send("say", {"text": "hello"})
            x, o = await game_a.open("k1"), await game_b.open("k1")
            books = await ledger.open("k1")
            await books.send("open", {"name": "a", "cents": 100})
            await books.send("open", {"name": "b", "cents": 0})
            await books.send("transfer", {"from": "a", "to": "b", "cents": 30})
            with pytest.raises(ClientError) as refused:  # below zero: aborted
                await books.send("transfer", {"from": "b", "to": "a", "cents": 31})
            assert refused.value.reason == "abort"
            await room.wait_for(lambda c: c.view.get("total_lines") == 1)
            await books.wait_for(lambda c: c.view.get("transfers") == 1)
            assert [(a["name"], a["cents"]) for a in books.view["accounts"]] == [("a", 70), ("b", 30)]
            assert x.view["player_x"]["agent"] == "alice" and o.view["player_o"]["agent"] == "bob"
            assert "accounts" not in room.view and "board" not in books.view
            # One store, three documents k1, each under its space's prefix.
            assert sorted(store.documents()) == sorted(space_doc(s, "k1") for s in ("chat", "game", "ledger"))
            assert SpaceStore(store, "ledger").documents() == ["k1"]
            assert SpaceStore(store, "default").documents() == []
            # No default space here: a request without `space` is refused, as is an unknown one.
            plain = await client("alice")
            with pytest.raises(ClientError) as none:
                await plain.create("k2")
            assert none.value.reason == "unknown_space" and "chat, game, ledger" in str(none.value)
            with pytest.raises(ClientError) as unknown:
                await plain.request("document/create", key="k2", space="lobby", identity=TOKENS.mint("a"))
            assert unknown.value.reason == "unknown_space"
            reflected = await chat.request("space/reflect", space="ledger", identity=TOKENS.mint("a"))
            assert "transfer" in json.dumps(reflected)

    run(scenario, 60)


def test_deploy_one_space_while_the_others_serve_then_delete_one(tmp_path):
    async def scenario(kit):
        programs = {"chat": CHAT, "game": GAME, "ledger": LEDGER}
        async with serving(tmp_path, programs, shared=True) as (srv, client, store):
            assert srv.spaces.shared is not None
            admin = TOKENS.mint("ops", ttl=600, admin=True)
            chat, game, ledger = [await client("alice", s) for s in ("chat", "game", "ledger")]
            for c in (chat, game, ledger):
                await c.create("k1")
            room, books = await chat.open("k1"), await ledger.open("k1")
            await game.open("k1")
            await books.send("open", {"name": "a", "cents": 5})
            before = {s: srv.spaces.router(s).module.module_id() for s in programs}
            ops = await client("ops", identity=admin)
            code = base64.b64encode(module(LEDGER_V2, "ledger.adb").to_bytes()).decode()
            # The chat keeps serving while the ledger deploys.
            says = [asyncio.ensure_future(room.send("say", {"text": f"line {i}"})) for i in range(20)]
            done = await ops.request("admin/deploy", identity=admin, space="ledger", module=code)
            await asyncio.gather(*says)
            assert done["moved"] == ["k1"]
            await books.wait_for(lambda c: c.view.get("audits") == 0)
            assert books.view["accounts"][0]["cents"] == 5
            after = {s: srv.spaces.router(s).module.module_id() for s in programs}
            assert after["ledger"] != before["ledger"]
            assert after["chat"] == before["chat"] and after["game"] == before["game"]
            docs = await ops.request("admin/documents", identity=admin, space="game")
            assert docs["space"] == "game" and [d["key"] for d in docs["documents"]] == ["k1"]
            listed = await ops.request("admin/modules", identity=admin, space="chat")
            assert [r["module"] for r in listed["documents"]] == [before["chat"]]
            await room.wait_for(lambda c: c.view.get("total_lines") == 20)

            # Delete the game: refused while it has a document, then with them.
            with pytest.raises(ClientError) as full:
                await ops.request("space/delete", identity=admin, space="game")
            assert full.value.reason == "space_not_empty"
            gone = await ops.request("space/delete", identity=admin, space="game", with_documents=True)
            assert gone == {"space": "game", "deleted": 1}
            assert sorted(store.documents()) == [space_doc("chat", "k1"), space_doc("ledger", "k1")]
            with pytest.raises(ClientError) as unknown:
                await game.create("k2")
            assert unknown.value.reason == "unknown_space"
            listed = await ops.request("space/list", identity=admin)
            assert [r["space"] for r in listed["spaces"]] == ["chat", "ledger"]
            await room.send("say", {"text": "still here"})

            # A new space while serving, recorded for the next start.
            counter = base64.b64encode(module(COUNTER).to_bytes()).decode()
            made = await ops.request("space/create", identity=admin, space="counter", module=counter)
            assert made["space"] == "counter"
            assert "counter" in Registry(tmp_path / "store").read()
            c = await client("dan", "counter")
            await c.create("k1")
            view = await c.open("k1")
            await view.send("bump", {"by": 3})
            await view.wait_for(lambda v: v.view.get("n") == 3)
            with pytest.raises(ClientError) as twice:
                await ops.request("space/create", identity=admin, space="counter", module=counter)
            assert twice.value.reason == "space_exists"

    run(scenario, 60)


def test_space_methods_need_an_admin_identity_off_loopback(tmp_path):
    async def scenario(kit):
        async with serving(tmp_path, {"default": COUNTER}) as (srv, client, store):
            alice = await client("alice")
            code = base64.b64encode(module(COUNTER).to_bytes()).decode()
            for method, params in (("space/create", {"space": "x", "module": code}),
                                   ("space/delete", {"space": "default"}),
                                   ("space/list", {}),
                                   ("admin/deploy", {"module": code})):
                with pytest.raises(ClientError) as refused:
                    await alice.request(method, identity=TOKENS.mint("alice"), **params)
                assert refused.value.reason == "admin_refused", method
            # Today's clients (no `space`) use the default space.
            await alice.create("c")
            v = await alice.open("c")
            await v.send("bump", {"by": 1})
            assert store.documents() == ["c"]
            # The default space deleted and made again while serving: requests without `space` follow.
            admin = TOKENS.mint("ops", ttl=600, admin=True)
            ops = await client("ops", identity=admin)
            await ops.request("space/delete", identity=admin, space="default", with_documents=True)
            with pytest.raises(ClientError) as none:
                await alice.create("d")
            assert none.value.reason == "unknown_space"
            await ops.request("space/create", identity=admin, space="default", module=code)
            await alice.create("d")
            assert store.documents() == ["d"]

    run(scenario)


def test_limits_refuse_a_space_past_them_and_not_its_neighbour(tmp_path):
    limits = {"small": {"connections": 1, "documents": 2, "authorities": ["corp"]},
              "slow": {"cpu": 0.01}, "tiny": {"memory_mb": 0.0001}, "narrow": {"queued": 1}}
    async def scenario(kit):
        programs = {"small": COUNTER, "slow": COUNTER, "big": COUNTER, "tiny": COUNTER, "narrow": COUNTER}
        async with serving(tmp_path, programs, limits=limits, memory=True) as (srv, client, _):
            outsider = await client("eve", "small")
            with pytest.raises(ClientError) as who:
                await outsider.create("a")
            assert who.value.reason == "space_refused" and "corp" in str(who.value)
            small = await client("ann@corp", "small")
            await small.create("a")
            await small.create("b")
            with pytest.raises(ClientError) as docs:  # two loaded, its limit
                await small.create("c")
            assert docs.value.reason == "space_limit" and "documents" in str(docs.value)
            await small.open("a")
            with pytest.raises(ClientError) as conns:
                await small.open("b")
            assert conns.value.reason == "space_limit" and "connections" in str(conns.value)
            # A space past its CPU budget is throttled; its neighbour is not.
            slow, big = await client("ann", "slow"), await client("ann", "big")
            view = None
            for _ in range(20):  # its budget refills at 10 ms a second: retried until let in
                try:
                    if view is None:
                        await slow.create("s")
                        view = True
                    view = await slow.open("s")
                    break
                except ClientError as e:
                    assert e.reason == "space_throttled"
                    await asyncio.sleep(0.5)
            reasons, sent = set(), 0
            for _ in range(300):  # each at least tens of microseconds: past 10 ms a second (and under the socket's burst)
                try:
                    await view.send("bump", {"by": 1})
                    sent += 1
                except ClientError as e:
                    reasons.add(e.reason)
            assert reasons == {"space_throttled"} and sent < 300
            await big.create("b")
            fast = await big.open("b")
            for _ in range(50):
                await fast.send("bump", {"by": 1})
            await fast.wait_for(lambda v: v.view.get("n") == 50)
            # A space past its memory (100 bytes a runner here): a second document is refused.
            tiny = await client("ann", "tiny")
            await tiny.create("t1")
            held = await tiny.open("t1")  # loaded and watched: not idle, never unloaded
            await held.send("bump", {"by": 1})
            with pytest.raises(ClientError) as full:
                await tiny.create("t2")
            assert full.value.reason == "memory_full"
            await big.create("b2")  # the neighbour's budget is its own
            # One input in flight at most: sent together, the others are refused.
            narrow = await client("ann", "narrow")
            await narrow.create("n1")
            line = await narrow.open("n1")
            sent = await asyncio.gather(*(line.send("bump", {"by": 1}) for _ in range(10)),
                                        return_exceptions=True)
            refused = [e.reason for e in sent if isinstance(e, ClientError)]
            assert refused and set(refused) == {"space_limit"} and len(refused) < 10
            rows = {r["space"]: r for r in srv.spaces.listing()}
            assert rows["slow"]["refused"] > 0 and rows["big"]["refused"] == 0
            assert rows["small"]["limits"]["connections"] == 1

    run(scenario, 60)


def test_limits_file_and_names(tmp_path):
    f = tmp_path / "limits.toml"
    f.write_text('[default]\nconnections = 50\n[space.chat]\ncpu = 0.5\nauthorities = ["corp"]\n')
    base, per = read_limits(str(f))
    assert base.connections == 50 and base.cpu is None
    assert per["chat"].cpu == 0.5 and per["chat"].connections == 50 and per["chat"].authorities == ("corp",)
    f.write_text("[default]\nsockets = 5\n")
    with pytest.raises(ValueError, match="unknown space limit 'sockets'"):
        read_limits(str(f))
    f.write_text("[space.Chat]\ncpu = 1\n")
    with pytest.raises(ValueError, match="lower-case"):
        read_limits(str(f))
    with pytest.raises(ValueError, match="above 0"):
        SpaceLimits.from_json({"cpu": 0})
    assert space_file_name("examples/Tic Tac.adb") == "tic-tac"
    assert space_file_name("/x/ledger.advc") == "ledger"


# ---------------------------------------------------------------- advm run, SIGKILL, restart


class Served:
    def __init__(self, *args, cwd):
        self.proc = subprocess.Popen([sys.executable, "-m", "advm", *map(str, args)], cwd=cwd,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.lines = []
        line = self.proc.stdout.readline()
        assert "serving" in line, line + self.proc.stderr.read()
        self.lines.append(line)
        self.ws_url = line.split("WebSocket ")[1].strip().rstrip(")")

    def more(self, n: int) -> list[str]:
        for _ in range(n):
            self.lines.append(self.proc.stdout.readline())
        return self.lines

    def kill(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.communicate()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_advm_run_three_programs_survive_sigkill_and_restart(tmp_path):
    folder = tmp_path / "apps"
    folder.mkdir()
    (folder / "chat.adb").write_text(CHAT)
    (folder / "game.adb").write_text(GAME)
    (folder / "ledger.adb").write_text(LEDGER)
    store = tmp_path / "store"
    port = _free_port()
    args = ("run", folder, "--port", port, "--store", store, "--workers", "1")
    server = Served(*args, cwd=tmp_path)
    try:
        lines = server.more(2)
        assert [line.split(" as space ")[1].split()[0] for line in lines] == ["chat", "game", "ledger"]
        tokens = Tokens.from_store_dir(store)
        alice, bob = tokens.mint("alice"), tokens.mint("bob")

        async def use():
            chat = await Client.connect(server.ws_url, alice, space="chat")
            game_a = await Client.connect(server.ws_url, alice, space="game")
            game_b = await Client.connect(server.ws_url, bob, space="game")
            ledger = await Client.connect(server.ws_url, bob, space="ledger")
            try:
                for c in (chat, game_a, ledger):
                    await c.create("main")
                room = await chat.open("main")
                await room.send("say", {"text": "before the kill"})
                x, o = await game_a.open("main"), await game_b.open("main")
                await x.wait_for(lambda c: any(a["channel"] == "play" for a in c.outstanding), 10)
                ask = next(a for a in x.outstanding if a["channel"] == "play")
                await x.answer(ask, {"x": 1, "y": 1})
                books = await ledger.open("main")
                await books.send("open", {"name": "a", "cents": 9})
            finally:
                for c in (chat, game_a, game_b, ledger):
                    await c.close()

        asyncio.run(asyncio.wait_for(use(), 60))
    finally:
        server.kill()  # SIGKILL: no clean shutdown
    assert server.proc.returncode == -signal.SIGKILL

    server = Served(*args, cwd=tmp_path)
    try:
        async def check():
            seen = {}
            for space, who in (("chat", alice), ("game", alice), ("ledger", bob)):
                async with await Client.connect(server.ws_url, who, space=space) as c:
                    seen[space] = (await c.open("main")).view
            return seen

        seen = asyncio.run(asyncio.wait_for(check(), 60))
        assert seen["chat"]["total_lines"] == 1
        assert seen["game"]["moves"] == 1
        assert seen["ledger"]["accounts"][0]["cents"] == 9
        # @web requests reach the default space only, and this server has none.
        import urllib.error
        import urllib.request

        with pytest.raises(urllib.error.HTTPError) as web:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/~d/main/page", timeout=10)
        assert web.value.code == 404 and b"no default space" in web.value.read()
    finally:
        server.kill()


def test_space_commands_at_rest_then_served_without_a_file(tmp_path):
    store = tmp_path / "store"
    ledger = tmp_path / "ledger.adb"
    ledger.write_text(LEDGER)

    def advm(*args, ok=True):
        done = subprocess.run([sys.executable, "-m", "advm", *map(str, args)], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)
        assert (done.returncode == 0) == ok, done.stdout + done.stderr
        return done

    advm("space", "create", "books", ledger, "--store", store)
    assert "exists" in advm("space", "create", "books", ledger, "--store", store, ok=False).stderr
    assert "lower-case" in advm("space", "create", "Books", ledger, "--store", store, ok=False).stderr
    server = Served("run", "--store", store, "--port", _free_port(), "--workers", "0", cwd=tmp_path)
    try:
        assert " as space books " in server.lines[0]
        token = Tokens.from_store_dir(store).mint("bob")

        async def use():
            async with await Client.connect(server.ws_url, token, space="books") as c:
                await c.create("b1")
                v = await c.open("b1")
                await v.send("open", {"name": "x", "cents": 1})

        asyncio.run(asyncio.wait_for(use(), 30))
    finally:
        server.kill()
    listed = json.loads(advm("space", "list", "--store", store, "--json").stdout)
    assert [(r["space"], r["documents"]) for r in listed["spaces"]] == [("books", 1)]
    # Deploying the space at rest moves its documents and no other's.
    v2 = tmp_path / "ledger2.adb"
    v2.write_text(LEDGER_V2)
    moved = json.loads(advm("deploy", v2, "--store", store, "--space", "books", "--json").stdout)
    assert moved["moved"] == ["b1"]
    inspected = json.loads(advm("snapshot", "inspect", "--store", store, "--space", "books", "--doc", "b1",
                                "--json").stdout)
    assert inspected["space"] == "books" and inspected["key"] == "b1"
    assert "no document 'b1'" in advm("snapshot", "inspect", "--store", store, "--doc", "b1", ok=False).stderr
    # A space exported as a unit, deleted, and imported into another space.
    advm("snapshot", "export", "--store", store, "--space", "books", "-o", tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["b1.advx"]
    assert "has 1 documents" in advm("space", "delete", "books", "--store", store, ok=False).stderr
    advm("space", "delete", "books", "--store", store, "--with-documents")
    assert json.loads(advm("space", "list", "--store", store, "--json").stdout)["spaces"] == []
    assert "nothing to serve" in advm("run", "--store", store, "--port", "0", ok=False).stderr
    advm("snapshot", "import", tmp_path / "out" / "b1.advx", "--store", store, "--space", "archive")
    listed = json.loads(advm("space", "list", "--store", store, "--json").stdout)["spaces"]
    assert [(r["space"], r["documents"], r["recorded"]) for r in listed] == [("archive", 1, False)]
    again = json.loads(advm("snapshot", "inspect", "--store", store, "--space", "archive", "--doc", "b1",
                            "--json").stdout)
    assert again["space"] == "archive" and again["log"]["last"] == inspected["log"]["last"]


def test_space_commands_against_a_running_server_and_limits_file(tmp_path):
    store = tmp_path / "store"
    (tmp_path / "counter.adb").write_text(COUNTER)
    (tmp_path / "ledger.adb").write_text(LEDGER)
    (tmp_path / "ledger2.adb").write_text(LEDGER_V2)
    (tmp_path / "limits.toml").write_text('[space.ledger]\nauthorities = ["corp"]\n')

    def advm(*args, ok=True):
        done = subprocess.run([sys.executable, "-m", "advm", *map(str, args)], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)
        assert (done.returncode == 0) == ok, done.stdout + done.stderr
        return done

    server = Served("run", "counter.adb", "--store", store, "--port", _free_port(), "--workers", "0",
                    "--space-limits", "limits.toml", cwd=tmp_path)
    try:
        tokens = Tokens.from_store_dir(store)
        admin = tokens.mint("ops", admin=True)
        url = server.ws_url
        made = json.loads(advm("space", "create", "ledger", "ledger.adb", "--server", url, "--token", admin,
                               "--json").stdout)
        assert made["space"] == "ledger"
        # (A server on loopback lets any non-browser client use the admin methods, 8.11; one
        # elsewhere needs the admin token: test_space_methods_need_an_admin_identity_off_loopback.)
        assert "space_exists" in advm("space", "create", "ledger", "ledger.adb", "--server", url,
                                      "--token", admin, ok=False).stderr

        async def use():
            async with await Client.connect(url, tokens.mint("ann@corp"), space="ledger") as c:
                await c.create("b1")
                v = await c.open("b1")
                await v.send("open", {"name": "x", "cents": 4})
            async with await Client.connect(url, tokens.mint("bob"), space="ledger") as c:
                with pytest.raises(ClientError) as refused:  # the limits file: corp only
                    await c.create("b2")
                assert refused.value.reason == "space_refused"
            async with await Client.connect(url, tokens.mint("bob")) as c:  # the default space
                await c.create("c1")

        asyncio.run(asyncio.wait_for(use(), 30))
        listed = json.loads(advm("space", "list", "--server", url, "--token", admin, "--json").stdout)
        rows = {r["space"]: r for r in listed["spaces"]}
        assert rows["ledger"]["documents"] == 1 and rows["default"]["documents"] == 1
        assert rows["ledger"]["limits"]["authorities"] == ["corp"]
        moved = json.loads(advm("deploy", "ledger2.adb", "--space", "ledger", "--server", url, "--token", admin,
                                "--json").stdout)
        assert moved["moved"] == ["b1"]  # loaded still (its idle time has not passed)
        status = json.loads(advm("deploy", "--status", "--space", "ledger", "--server", url, "--token", admin,
                                 "--json").stdout)
        assert status["module"] == moved["module"]
        assert "space_not_empty" in advm("space", "delete", "ledger", "--server", url, "--token", admin,
                                         ok=False).stderr
        gone = json.loads(advm("space", "delete", "ledger", "--with-documents", "--server", url, "--token", admin,
                               "--json").stdout)
        assert gone["deleted"] == 1
        metrics = __import__("urllib.request").request.urlopen(url.replace("ws://", "http://").replace(
            "/~s", "/metrics"), timeout=10).read().decode()
        assert 'advm_space_inputs{space="default"}' in metrics
        assert 'advm_space_documents_loaded{space="default"}' in metrics
    finally:
        server.kill()


def test_names_and_the_number_of_spaces_are_bounded(tmp_path):
    from advm.store.keys import MAX_SPACE, space_problem
    from advm.store.spaces import MAX_SPACES

    assert space_problem("a" * MAX_SPACE) is None
    assert "1 to 32" in space_problem("a" * (MAX_SPACE + 1))
    assert space_problem("-x") is not None and space_problem("") is not None
    with pytest.raises(Exception, match="space"):
        space_doc("Chat", "k")
    # A registry holds at most MAX_SPACES: the next is refused, a rewrite of one that exists is not.
    registry = Registry(tmp_path)
    registry.write({f"s{i}": {} for i in range(MAX_SPACES)})
    with pytest.raises(ValueError, match=f"at most {MAX_SPACES}"):
        registry.put("one-more", {})
    registry.put("s0", {"source": "x"})

    from types import SimpleNamespace

    spaces = Spaces(lambda name, module, limits: SimpleNamespace(services=SimpleNamespace()))
    for i in range(MAX_SPACES):
        spaces.add(f"s{i}", None)
    with pytest.raises(ValueError, match=f"at most {MAX_SPACES}"):
        spaces.add("one-more", None)
