"""The admin/* methods (spec/protocol.md 8.11) over the socket: what each
answers about a served, durable document, and who is refused."""
from __future__ import annotations

from pathlib import Path

import pytest

from advm.net.admin import merge_patch
from advm.net.client import ClientError
from advm.store import open_store
from server_kit import run

SOURCE = (Path(__file__).resolve().parents[1] / "fixtures" / "console.adb").read_text()


async def _traffic(kit, srv):
    alice = await kit.client(srv, "alice")
    await alice.create("d1")
    doc = await alice.open("d1")
    await doc.send("say", {"text": "one"})
    await doc.send("say", {"text": "two"})
    return alice, doc


def _serve(kit, tmp_path, **kw):
    return kit.serve(SOURCE, store=open_store(tmp_path / "store"), **kw)


def test_admin_token_reads_documents_log_view_and_debug(tmp_path):
    async def scenario(kit):
        async with _serve(kit, tmp_path) as srv:
            alice, _ = await _traffic(kit, srv)
            admin = kit.tokens.mint("ops", ttl=600, admin=True)
            c = await kit.client(srv, identity=admin)

            listed = await c.request("admin/documents", identity=admin)
            assert listed["backend"] == "durable"
            (row,) = listed["documents"]
            assert row["key"] == "d1" and row["loaded"] is True and row["sleeping"] is False
            assert row["state"] == "waiting" and row["pending"] == "later"
            assert row["viewers"] == {"alice@": 1}
            assert isinstance(row["timer"], int)
            assert row["bytes"] == srv.router.slots["d1"].bytes > 0  # its memory estimate
            assert row["asks"] == []

            log = await c.request("admin/log", key="d1", identity=admin)
            kinds = [(e["seq"], e["kind"], e["channel"]) for e in log["entries"]]
            assert kinds[0] == (1, "create", None)
            says = [e for e in log["entries"] if e["channel"] == "say"]
            assert [e["input"] for e in says] == [{"text": "one"}, {"text": "two"}]
            assert all(e["principal"] == "alice@" for e in says)
            assert log["last"] == log["entries"][-1]["seq"]
            later = await c.request("admin/log", key="d1", after=says[0]["seq"], limit=1,
                                    identity=admin)
            assert [e["seq"] for e in later["entries"]] == [says[0]["seq"] + 1]

            # Time travel: the document at the first say, as alice and as bob see it.
            seq = says[0]["seq"]
            as_alice = await c.request("admin/view", key="d1", principal="alice@", seq=seq,
                                       identity=admin)
            assert as_alice["preview"] is True and as_alice["seq"] == seq
            assert as_alice["view"]["count"] == 1 and as_alice["view"]["note"] == "secret one"
            assert as_alice["delta"]["count"] == 1
            as_bob = await c.request("admin/view", key="d1", principal="bob", seq=seq,
                                     identity=admin)
            assert as_bob["principal"] == "bob@"
            assert "note" not in as_bob["view"] and as_bob["view"]["count"] == 1
            now = await c.request("admin/view", key="d1", principal="alice@", identity=admin)
            assert now["seq"] == log["last"] and now["view"]["last"] == "two"

            debug = await c.request("admin/debug", key="d1", identity=admin)
            assert debug["lines"] == ["said one as number 1", "said two as number 2"]
            early = await c.request("admin/debug", key="d1", seq=seq, identity=admin)
            assert early["lines"] == ["said one as number 1"]

            with pytest.raises(ClientError) as e:
                await c.request("admin/log", key="nope", identity=admin)
            assert e.value.reason == "not_found"
            with pytest.raises(ClientError) as e:
                await c.request("admin/view", key="d1", identity=admin)
            assert e.value.reason == "bad_request"

    run(scenario)


@pytest.mark.parametrize("method, params", [
    ("admin/documents", {}),
    ("admin/log", {"key": "d1"}),
    ("admin/view", {"key": "d1", "principal": "alice@"}),
    ("admin/debug", {"key": "d1"}),
])
def test_refused_without_an_admin_token_off_loopback(tmp_path, method, params):
    """A server that mints no dev tokens (advm run on a non-loopback address)
    answers admin methods only to admin tokens."""
    async def scenario(kit):
        async with _serve(kit, tmp_path, dev_tokens=False) as srv:
            alice, _ = await _traffic(kit, srv)
            token = kit.tokens.mint("alice", ttl=600)
            with pytest.raises(ClientError) as e:
                await alice.request(method, identity=token, **params)
            assert e.value.reason == "admin_refused"
            assert "alice@ is not an admin" in e.value.message
            with pytest.raises(ClientError) as e:
                await alice.request(method, identity="anonymous", **params)
            assert e.value.reason == "admin_refused"

    run(scenario)


def test_loopback_dev_server_lets_its_page_and_tools_in_not_other_origins(tmp_path):
    async def scenario(kit):
        async with _serve(kit, tmp_path, dev_tokens=True) as srv:
            await _traffic(kit, srv)
            tool = await kit.client(srv)  # no Origin header: not a browser
            listed = await tool.request("admin/documents", identity="anonymous")
            assert [d["key"] for d in listed["documents"]] == ["d1"]
            srv.allow_origins.append("http://elsewhere.test")
            srv._origins.append("http://elsewhere.test")
            from websockets.asyncio.client import connect
            from server_kit import raw

            async with connect(srv.ws_url, origin="http://elsewhere.test") as ws:
                reply = await raw(ws, {"id": 1, "method": "admin/documents",
                                       "identity": "anonymous"})
                assert reply["reason"] == "admin_refused"
            async with connect(srv.ws_url, origin=srv.own_origins[0]) as ws:
                reply = await raw(ws, {"id": 1, "method": "admin/documents",
                                       "identity": "anonymous"})
                assert reply["response"]["documents"][0]["key"] == "d1"

    run(scenario)


def test_memory_server_lists_documents_and_has_no_log(tmp_path):
    async def scenario(kit):
        async with kit.serve(SOURCE) as srv:
            await _traffic(kit, srv)
            admin = kit.tokens.mint("ops", ttl=600, admin=True)
            c = await kit.client(srv, identity=admin)
            listed = await c.request("admin/documents", identity=admin)
            assert listed["backend"] == "memory"
            assert [(d["key"], d["loaded"]) for d in listed["documents"]] == [("d1", True)]
            with pytest.raises(ClientError) as e:
                await c.request("admin/log", key="d1", identity=admin)
            assert e.value.reason == "no_store"

    run(scenario)


def test_forged_admin_claim_is_refused(tmp_path):
    from advm.net.tokens import Tokens

    other = Tokens(b"another-key-0123456789abcdef!!!!").mint("ops", admin=True)

    async def scenario(kit):
        async with _serve(kit, tmp_path) as srv:
            c = await kit.client(srv, identity="anonymous")
            with pytest.raises(ClientError) as e:
                await c.request("admin/documents", identity=other)
            assert e.value.reason == "bad_token"

    run(scenario)


def test_merge_patch():
    assert merge_patch({"a": 1, "b": {"c": 2, "d": 3}}, {"a": 1, "b": {"c": 4}, "e": [1]}) == {
        "b": {"c": 4, "d": None}, "e": [1]}
    assert merge_patch({"a": 1}, {"a": 1}) is None


def test_advm_token_admin_flag(cli, tmp_path):
    import json

    from advm.net.tokens import Tokens

    r = cli("token", "ops", "--admin", "--store", tmp_path, "--json")
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert out["admin"] is True
    tokens = Tokens.from_store_dir(tmp_path)
    assert tokens.claims(out["token"]) == ("ops@", True)
    plain = cli("token", "ops", "--store", tmp_path).out.strip()
    assert tokens.claims(plain) == ("ops@", False)


def test_admin_log_limit_is_bounded(tmp_path):
    """admin/log's `limit` is 1 to LOG_LIMIT entries (spec/protocol.md 8.11):
    past it, or not an int, is `bad_request`, never a read of the whole log."""
    from advm.net.admin import LOG_LIMIT

    async def scenario(kit):
        async with _serve(kit, tmp_path) as srv:
            await _traffic(kit, srv)
            admin = kit.tokens.mint("ops", ttl=600, admin=True)
            c = await kit.client(srv, identity=admin)
            for limit in (LOG_LIMIT + 1, 0, -1, "10", 2.5):
                with pytest.raises(ClientError) as e:
                    await c.request("admin/log", key="d1", limit=limit, identity=admin)
                assert e.value.reason == "bad_request", limit
            most = await c.request("admin/log", key="d1", limit=LOG_LIMIT, identity=admin)
            assert most["entries"] and len(most["entries"]) <= LOG_LIMIT

    run(scenario)
