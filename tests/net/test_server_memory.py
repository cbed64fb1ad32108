"""A document that unloads gives its memory back (issue 23): loaded and
unloaded again and again, it leaves nothing behind, on a thread of the
server process and in a worker process alike."""
from __future__ import annotations

import asyncio
import gc
import weakref

from advm.net.router import Router
from advm.store import open_store
from server_kit import LINES, Recorder, module, run


IDLE = 0.05  # seconds before a document nobody watches unloads


async def filled(router: Router, key: str, lines: int) -> None:
    await router.create(key, "alice@", None)
    await router.send(key, "alice@", "fill", {"n": lines})


async def unloaded(router: Router, key: str) -> None:
    while key in router.loaded():
        await asyncio.sleep(0.01)


async def visit(router: Router, key: str) -> None:
    """Open a stream on `key`, end it, and wait until the document unloads."""
    viewer = Recorder()
    await router.connect(key, "alice@", viewer)
    router.disconnect(viewer)
    await unloaded(router, key)


def machines() -> int:
    return sum(1 for o in gc.get_objects() if type(o).__name__ == "Machine")


def test_an_unloaded_document_is_freed_at_once(tmp_path):
    async def scenario(kit):
        store = open_store(tmp_path / "store", durability="relaxed")
        router = Router(module(LINES), store=store, workers=0, idle_unload_s=IDLE)
        await router.start()
        try:
            await filled(router, "d", 500)
            await unloaded(router, "d")
            before = machines()
            shard = router.runners[0].shard
            for _ in range(5):
                viewer = Recorder()
                await router.connect("d", "alice@", viewer)
                doc = shard.docs["d"]
                refs = [weakref.ref(o) for o in (doc, doc.living, doc.living.engine)]
                assert machines() == before + 1
                del doc
                router.disconnect(viewer)
                await unloaded(router, "d")
                # The durable document, its runtime and its VM document, and
                # the machine (which takes no weak reference: counted).
                assert [r() for r in refs] == [None, None, None]
                assert machines() == before
            assert shard.collector.collections >= 5
        finally:
            await router.close()
            store.close()

    run(scenario, deadline=60)


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for process {pid}")


def test_a_worker_reloading_a_document_keeps_its_memory_flat(tmp_path):
    async def scenario(kit):
        store = open_store(tmp_path / "store", durability="relaxed")
        router = Router(module(LINES), store=store, workers=1, idle_unload_s=IDLE)
        await router.start()
        try:
            pid = router.runners[0].pid
            empty = rss_kb(pid)
            await filled(router, "d", 6000)
            one_load = rss_kb(pid) - empty  # what holding the document costs
            await unloaded(router, "d")
            await visit(router, "d")  # the first reload settles the worker's own allocations
            after = [rss_kb(pid)]
            for _ in range(20):
                await visit(router, "d")
                after.append(rss_kb(pid))
            # Before the shard collected unloaded documents, every load kept
            # its whole memory (one_load per cycle, for good). The allocator's
            # arenas settle over the first reloads (seen: +0.5 MB over about
            # 15 cycles, then flat for 60), so the bound is on the later ones.
            assert one_load > 1000, one_load
            assert after[-1] - after[8] < one_load / 2, (one_load, after)
        finally:
            await router.close()
            store.close()

    run(scenario, deadline=90)
