"""New code into living documents (issue 14; spec/runtime.md 9).

- `upgrade-vs-wake`: moving a 64 KB document (900 rows) to new code
  (runtime/upgrade.py `upgrade`: the values mapped by field name, a field
  added, int -> long in the rows, then the new runtime rebuilt) against
  waking the same document (LivingDocument.restore of its snapshot), both
  measured in this run. Goal (issue 14): the upgrade within 2x of a wake.
- `deploy-sleeping`: a host on the store holding N sleeping documents takes
  new code (RuntimeHost.deploy: the plan is proved and the backend switched;
  sleeping documents move lazily when they wake), and the whole server deploy
  (Router.deploy, what admin/deploy runs: the module decoded, the plan, each
  runner's check and switch). Goal: under a second for 10,000 documents. The
  wake that then moves one of them is `upgrade-vs-wake`.

Both sides of `upgrade-vs-wake` are measured the same way (pedantic rounds,
a freshly restored document each round, so neither runs on a cache the other
lacks). On a loaded machine time them in CPU time, not wall clock:

    python -m pytest bench/bench_upgrade.py --benchmark-enable --benchmark-timer=time.process_time
"""
from __future__ import annotations

import pytest

from advm.compiler.build import build_source
from advm.durable.document import DurableDocument
from advm.net.documents import DurableBackend
from advm.runtime.host import RuntimeHost
from advm.runtime.living import LivingDocument
from advm.runtime.upgrade import compare, upgrade
from advm.store import Store
from advm.views.viewers import Viewers

T0 = 1_767_225_600_000

V1 = """
@static { create { return true; } snapshot_every = 1000000; }
record Row {
  public int id;
  public string text;
  public int n;
  public double score;
}
message Fill { int count; string text; }
table<Row> _rows;
public int filled;
channel fill(principal who, Fill f) {
  for (int i = 0; i < f.count; i++) {
    _rows <- {text: f.text, n: i, score: i * 0.5};
    filled++;
  }
}
"""
V2 = V1.replace("public int n;", "public long n; public string tag = \"v2\";") \
    .replace("public int filled;", "public int filled;\npublic string note = \"new\";")


def _big(rows: int = 900):
    v1 = build_source(V1, "bulk.adb")
    living = LivingDocument(v1, key="big", viewers=Viewers)
    living.create("ann@", None, T0)
    living.send("ann@", "fill", {"count": rows, "text": "a row of about forty bytes of text."}, T0 + 1)
    return v1, living.snapshot()


@pytest.mark.benchmark(group="upgrade-vs-wake")
@pytest.mark.parametrize("how", ["wake", "upgrade"])
def test_upgrade_against_a_wake(benchmark, how):
    v1, data = _big()
    v2 = build_source(V2, "bulk2.adb")
    plan = compare(v1, v2)
    assert not plan.refused
    info = {"snapshot_bytes": len(data), "rows": 900}
    if how == "wake":
        def setup_wake():  # the same garbage as the upgrade's setup: a document restored and held
            held.append(LivingDocument.restore(v1, data, viewers=Viewers, load=False))
            return (v1, data), {"viewers": Viewers, "load": False}
        held: list = []
        result = benchmark.pedantic(LivingDocument.restore, setup=setup_wake, rounds=60, iterations=1)
        assert result.engine.field("filled") == 900
    else:
        def setup():
            return (LivingDocument.restore(v1, data, viewers=Viewers, load=False), v2, plan), \
                {"viewers": Viewers}
        moved, _ = benchmark.pedantic(upgrade, setup=setup, rounds=60, iterations=1)
        assert moved.engine.field("note") == "new" and len(moved.engine.field("_rows")) == 900
    benchmark.extra_info.update(info)


@pytest.mark.benchmark(group="deploy-sleeping")
@pytest.mark.parametrize("documents", [10_000])
def test_deploy_to_sleeping_documents(benchmark, tmp_path, documents):
    v1 = build_source(V1, "bulk.adb")
    v2 = build_source(V2, "bulk2.adb")
    with Store(tmp_path / "store", durability="relaxed") as store:
        for i in range(documents):
            DurableDocument.create(store, f"d{i}", v1, "ann@", None, T0, viewers=Viewers)
        def setup():  # a host running v1, as a server started with it
            return (RuntimeHost(v1, DurableBackend(v1, store), clock=T0), v2), {}

        benchmark.pedantic(RuntimeHost.deploy, setup=setup, rounds=5, iterations=1)
        # the deploy touched no document: each moves when it wakes
        host = RuntimeHost(v2, DurableBackend(v2, store), clock=T0)
        doc = host.open("d7")
        assert doc.module.module_id() == v2.module_id()
        benchmark.extra_info.update({"documents": documents})


@pytest.mark.benchmark(group="upgrade-vs-wake")
def test_upgrade_with_its_rows_unchanged(benchmark):
    """The same 64 KB document moved to code that adds a document field and
    a formula but leaves the row type as it was: the table is taken whole."""
    v1, data = _big()
    v2 = build_source(V1.replace("public int filled;", "public int filled;\npublic string note = \"new\";\n"
                                 "public formula half = filled / 2;"), "bulk3.adb")

    def setup():
        return (LivingDocument.restore(v1, data, viewers=Viewers, load=False), v2), {"viewers": Viewers}
    moved, _ = benchmark.pedantic(upgrade, setup=setup, rounds=30, iterations=1)
    assert moved.engine.field("note") == "new" and moved.engine.field("half") == 450


@pytest.mark.benchmark(group="deploy-sleeping")
@pytest.mark.parametrize("documents", [10_000])
def test_server_deploy_to_sleeping_documents(benchmark, tmp_path, documents):
    """The whole deploy on a running server (Router.deploy, as admin/deploy
    calls it; one runner thread) with N documents asleep on its store: it
    returns without touching any of them (they move when they wake)."""
    import asyncio

    from advm.net.router import Router

    v1 = build_source(V1, "bulk.adb")
    code = build_source(V2, "bulk2.adb").to_bytes()
    loop = asyncio.new_event_loop()
    routers = []
    with Store(tmp_path / "store", durability="relaxed") as store:
        for i in range(documents):
            DurableDocument.create(store, f"d{i}", v1, "ann@", None, T0, viewers=Viewers)

        def setup():  # a server started with v1, its documents all asleep
            router = Router(v1, store=store, workers=0)
            loop.run_until_complete(router.start())
            routers.append(router)
            return (router.deploy(code),), {}

        try:
            done = benchmark.pedantic(loop.run_until_complete, setup=setup, rounds=5, iterations=1)
            assert done["moved"] == [] and done["plan"]["added"] == ["note"]
        finally:
            for router in routers:
                loop.run_until_complete(router.close())
            loop.close()
        benchmark.extra_info.update({"documents": documents})
