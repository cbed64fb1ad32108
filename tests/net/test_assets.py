"""Assets through the real server (issue 13 point 4; language.md 4.29,
spec/protocol.md 8.15, store/blobs.py): uploads over HTTP, streamed into the
content-addressed blob store and gated by @can_attach, given to @attached;
served back by a @web get returning {asset: a}; unreferenced blobs collected;
a log of attach inputs replayed."""
from __future__ import annotations

import asyncio
import hashlib
import os
import time
from pathlib import Path

import httpx
import pytest

from advm.durable.document import DurableDocument
from advm.durable.noviews import state_hash
from advm.durable.replay import replay
from advm.net.web import WebLimits, collect_assets
from advm.store.blobs import FolderBlobStore, TooLarge, collect, referenced
from advm.views.viewers import Viewers
from durable_kit import T0, open_store
from server_kit import Kit, bearer, http_served, module, run

GALLERY = (Path(__file__).resolve().parents[2] / "examples" / "gallery.adb").read_text()
PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(200_000)


def served(kit: Kit, blobs, limits: WebLimits | None = None, store=None, **router_kw):
    return http_served(kit, GALLERY, store=store, router_kw=router_kw, blobs=blobs,
                       web_limits=limits)


async def upload(http, h, data, name="cat.png", kind="image/png", key="album"):
    return await http.put(f"/~attach/{key}?name={name}", content=data, headers={**h, "Content-Type": kind})


def test_upload_download_round_trip_gated_by_can_attach(tmp_path):
    blobs = FolderBlobStore(tmp_path / "blobs")

    async def scenario(kit):
        async with served(kit, blobs) as (srv, http):
            ann = await kit.client(srv, "ann@x")
            await ann.create("album")
            conn = await ann.open("album")
            h = bearer(kit, "ann@x")
            r = await upload(http, h, PNG)
            assert r.status_code == 403  # not a member yet: @can_attach says no
            assert list(blobs.ids()) == []  # and no byte was kept
            await conn.send("join", {"name": "Ann"})
            async def chunks():  # streamed, without a length
                for i in range(0, len(PNG), 50_000):
                    yield PNG[i:i + 50_000]
            r = await http.put("/~attach/album?name=cat.png", content=chunks(),
                               headers={**h, "Content-Type": "image/png"})
            assert r.status_code == 201
            facts = r.json()
            assert facts["id"] == hashlib.sha384(PNG).hexdigest() == facts["sha384"]
            assert facts["md5"] == hashlib.md5(PNG).hexdigest() and facts["size"] == len(PNG)
            assert facts["name"] == "cat.png" and facts["type"] == "image/png"
            await conn.wait_for(lambda c: c.view.get("count") == 1)
            assert conn.view["photos"][0]["file"] == facts and conn.view["bytes"] == str(len(PNG))
            r = await http.get("/~d/album/photo/1", headers=h)
            assert r.status_code == 200 and r.content == PNG
            assert r.headers["content-type"] == "image/png" and r.headers["cache-control"] == "max-age=3600"
            assert "x-advm-asset" not in r.headers
            r = await http.get("/~d/album/cover")
            assert r.status_code == 200 and r.content == PNG
            # @attached refuses what is not an image: 409, nothing referenced
            r = await upload(http, h, b"just text", name="a.txt", kind="text/plain")
            assert r.status_code == 409
            assert conn.view["count"] == 1
            # the same bytes again are stored once
            r = await upload(http, h, PNG, name="again.png")
            assert r.status_code == 201
            await conn.wait_for(lambda c: c.view.get("count") == 2)
            assert sorted(i for i, _ in blobs.ids()) == sorted({facts["id"], hashlib.sha384(b"just text").hexdigest()})
            assert (await http.get("/~d/album/photo/9")).status_code == 404

    run(scenario)


def test_uploads_downloads_and_collection_through_a_worker_process(tmp_path):
    blobs = FolderBlobStore(tmp_path / "blobs")

    async def scenario(kit):
        async with served(kit, blobs, workers=1) as (srv, http):
            ann = await kit.client(srv, "ann@x")
            await ann.create("album")
            await (await ann.open("album")).send("join", {"name": "Ann"})
            h = bearer(kit, "ann@x")
            blob = (await upload(http, h, PNG)).json()["id"]
            r = await http.get("/~d/album/photo/1", headers=h)
            assert r.status_code == 200 and r.content == PNG
            assert await collect_assets(srv.router, blobs, grace=0) == []
            assert (await http.delete("/~d/album/photo/1", headers=h)).status_code == 200
            assert await collect_assets(srv.router, blobs, grace=0) == [blob]

    run(scenario, 60)


def test_limits_of_uploads(tmp_path):
    blobs = FolderBlobStore(tmp_path / "blobs")
    limits = WebLimits(max_asset=100_000)

    async def scenario(kit):
        async with served(kit, blobs, limits) as (srv, http):
            ann = await kit.client(srv, "ann@x")
            await ann.create("album")
            await (await ann.open("album")).send("join", {"name": "Ann"})
            h = bearer(kit, "ann@x")
            assert (await upload(http, h, PNG[:90_000])).status_code == 201
            assert (await upload(http, h, PNG)).status_code == 413  # Content-Length says so
            async def chunks():
                for i in range(0, 150_000, 30_000):
                    yield PNG[i:i + 30_000]
            r = await http.put("/~attach/album?name=big.png", content=chunks(),
                               headers={**h, "Content-Type": "image/png"})
            assert r.status_code == 413  # crossed while streaming: the partial file is gone
            assert len(list(blobs.ids())) == 1 and not any((blobs.root / "tmp").iterdir())
            r = await http.put("/~attach/album?name=" + "n" * 1100, content=b"x", headers=h)
            assert r.status_code == 400
            assert (await http.put("/~attach/album?name=a", content=b"x")).status_code == 403  # a guest
            assert (await http.put("/~attach/nobody?name=a", content=b"x", headers=h)).status_code == 404

    run(scenario)


def test_the_collector_deletes_only_unreferenced_blobs(tmp_path):
    blobs = FolderBlobStore(tmp_path / "blobs")

    async def scenario(kit):
        async with served(kit, blobs) as (srv, http):
            ann = await kit.client(srv, "ann@x")
            await ann.create("album")
            await ann.create("other")
            for key in ("album", "other"):
                await (await ann.open(key)).send("join", {"name": "Ann"})
            h = bearer(kit, "ann@x")
            cat = (await upload(http, h, PNG)).json()["id"]
            dog = (await upload(http, h, b"\xff\xd8dog" * 1000, name="dog.jpg", kind="image/jpeg")).json()["id"]
            same = (await upload(http, h, PNG, key="other")).json()["id"]  # another document holds it too
            refused = (await upload(http, h, b"text", kind="text/plain")).status_code
            assert refused == 409 and same == cat
            stray = blobs.put(b"uploaded, never attached")["id"]
            # young blobs are kept, referenced or not (their @attached may not have run)
            assert await collect_assets(srv.router, blobs) == []
            assert len(list(blobs.ids())) == 4
            gone = await collect_assets(srv.router, blobs, grace=0)
            assert sorted(gone) == sorted([stray, hashlib.sha384(b"text").hexdigest()])
            # deleting the photo leaves dog unreferenced; cat is still held by 'other'
            assert (await http.delete("/~d/album/photo/2", headers=h)).status_code == 200
            assert (await http.delete("/~d/album/photo/1", headers=h)).status_code == 200
            gone = await collect_assets(srv.router, blobs, grace=0)
            assert gone == [dog]
            assert sorted(i for i, _ in blobs.ids()) == [cat]
            r = await http.get("/~d/other/photo/1", headers=h)
            assert r.status_code == 200 and r.content == PNG

    run(scenario)


def test_blob_store_writer_and_collect(tmp_path):
    blobs = FolderBlobStore(tmp_path)
    w = blobs.writer(10)
    w.write(b"12345")
    with pytest.raises(TooLarge):
        w.write(b"678901")
    assert list(blobs.ids()) == [] and not any((tmp_path / "tmp").iterdir())
    a = blobs.put(b"abc")
    assert b"".join(blobs.read(a["id"])) == b"abc" and blobs.size(a["id"]) == 3
    assert referenced([{"x": [{"id": a["id"], "sha384": a["id"]}]}, {"id": "nope", "sha384": "nope"}]) == {a["id"]}
    now = time.time()
    assert collect(blobs, set(), grace=60, now=now) == []
    assert collect(blobs, {a["id"]}, grace=0, now=now + 1) == []
    assert collect(blobs, set(), grace=0, now=now + 1) == [a["id"]]
    assert blobs.size(a["id"]) is None


def test_replay_of_attach_inputs(tmp_path):
    store = open_store(tmp_path / "db")
    m = module(GALLERY)
    try:
        doc, _ = DurableDocument.create(store, "album", m, "ann@x", None, T0, viewers=Viewers)
        doc.submit({"op": "send", "who": "ann@x", "channel": "join", "message": {"name": "Ann"}}, T0 + 1).result()
        blobs = FolderBlobStore(tmp_path / "blobs")
        outcomes = []
        for i, (data, kind) in enumerate([(PNG, "image/png"), (b"txt", "text/plain"), (b"\xff\xd8", "image/jpeg")]):
            asset = {**blobs.put(data), "name": f"f{i}", "type": kind}
            frames = doc.submit({"op": "attach", "who": "ann@x", "asset": asset}, T0 + 10 + i).result()
            outcomes.append([f["error"]["code"] for f in frames if "error" in f])
        frames = doc.submit({"op": "attach", "who": "bob@x", "asset": asset}, T0 + 20).result()
        outcomes.append([f["error"]["code"] for f in frames if "error" in f])
        assert outcomes == [[], ["abort"], [], ["attach_refused"]]
        assert doc.living.engine.fields()["count"] == 2
        live = state_hash(doc.living.snapshot())
        doc.close()
        result = replay(store, "album")
        assert result.ok, result.divergence
        assert state_hash(result.living.snapshot()) == live
    finally:
        store.close()


def test_advm_run_keeps_uploads_beside_its_store_across_a_restart(tmp_path):
    import signal
    import subprocess
    import sys

    from advm.net.client import Client
    from advm.net.tokens import Tokens

    store = tmp_path / "store"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("ADVM_STORE", None)
    example = Path(__file__).resolve().parents[2] / "examples" / "gallery.adb"

    def start():
        proc = subprocess.Popen([sys.executable, "-m", "advm", "run", str(example), "--port", "0",
                                 "--store", str(store), "--workers", "0"], env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        first = proc.stdout.readline()
        assert "serving" in first, first + proc.stderr.read()
        return proc, first.split(" at ", 1)[1].split(" ", 1)[0].rstrip("/"), first.split("(WebSocket ", 1)[1].split(")")[0]

    def stop(proc):
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
        assert proc.returncode == 0

    async def first_run(url, ws):
        token = Tokens.from_store_dir(str(store)).mint("ann@x", ttl=600)
        c = await Client.connect(ws, token)
        try:
            await c.create("album")
            await (await c.open("album")).send("join", {"name": "Ann"})
        finally:
            await c.close()
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            r = await http.put("/~attach/album?name=cat.png", content=PNG,
                               headers={"Authorization": "Bearer " + token, "Content-Type": "image/png"})
            assert r.status_code == 201
            return r.json()["id"]

    async def second_run(url):
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            r = await http.get("/~d/album/photo/1")
            assert r.status_code == 200 and r.content == PNG

    proc, url, ws = start()
    try:
        blob = asyncio.run(first_run(url, ws))
    finally:
        stop(proc)
    assert (store / "blobs" / blob[:2] / blob).read_bytes() == PNG
    proc, url, ws = start()
    try:
        asyncio.run(second_run(url))
    finally:
        stop(proc)


def test_upload_over_the_websocket(tmp_path):
    import base64

    from advm.net.client import ClientError

    blobs = FolderBlobStore(tmp_path / "blobs")
    limits = WebLimits(max_asset=150_000)

    async def scenario(kit):
        async with served(kit, blobs, limits) as (srv, http):
            ann = await kit.client(srv, "ann@x")
            await ann.create("album")
            conn = await ann.open("album")
            who = {"identity": ann.identity}

            async def start(name="cat.png", kind="image/png"):
                return (await ann.request("attachment/start", key="album", name=name, type=kind, **who))["upload"]

            with pytest.raises(ClientError) as e:
                await start()
            assert e.value.reason == "attach_refused"  # not a member yet
            await conn.send("join", {"name": "Ann"})
            data = PNG[:120_000]
            up = await start()
            for i in range(0, len(data), 40_000):
                got = await ann.request("attachment/append", upload=up,
                                        data=base64.b64encode(data[i:i + 40_000]).decode(), **who)
            assert got == {"size": len(data)}
            asset = (await ann.request("attachment/finish", upload=up, **who))["asset"]
            assert asset["id"] == hashlib.sha384(data).hexdigest() and asset["name"] == "cat.png"
            await conn.wait_for(lambda c: c.view.get("count") == 1)
            r = await http.get("/~d/album/photo/1")
            assert r.status_code == 200 and r.content == data
            # past the limit while appending: refused, the upload is gone
            up = await start("big.png")
            with pytest.raises(ClientError) as e:
                for i in range(4):
                    await ann.request("attachment/append", upload=up,
                                      data=base64.b64encode(PNG[i * 40_000:(i + 1) * 40_000]).decode(), **who)
            assert e.value.reason == "too_large"
            with pytest.raises(ClientError) as e:
                await ann.request("attachment/finish", upload=up, **who)
            assert e.value.reason == "unknown_upload"
            # @attached refuses a text file: the finish fails with abort
            up = await start("a.txt", "text/plain")
            await ann.request("attachment/append", upload=up, data=base64.b64encode(b"hi").decode(), **who)
            with pytest.raises(ClientError) as e:
                await ann.request("attachment/finish", upload=up, **who)
            assert e.value.reason == "abort"
            with pytest.raises(ClientError) as e:
                await ann.request("attachment/append", upload=up, data="!!", **who)
            assert e.value.reason == "unknown_upload"
            ups = [await start(f"{i}.png") for i in range(4)]
            with pytest.raises(ClientError) as e:
                await start("5.png")
            assert e.value.reason == "too_many_uploads" and len(ups) == 4
            with pytest.raises(ClientError) as e:
                await ann.request("attachment/append", upload=ups[0], data="not base64!", **who)
            assert e.value.reason == "bad_request"
            await ann.close()  # the open uploads are thrown away
            await asyncio.sleep(0.2)
            assert not any((blobs.root / "tmp").iterdir())

    run(scenario)
