"""New code into live documents (issue 14; spec/runtime.md 9): the plan two
modules prove, documents moved with viewers connected (a delta, not a reset),
an open ask (the activation finishes on its code, then the document moves),
refused deploys that change nothing, replay across versions, the CLI, and
SIGKILL during a deploy."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from advm.compiler.build import build_source
from advm.durable.document import DurableDocument
from advm.durable.noviews import state_hash
from advm.durable.replay import replay
from advm.runtime.host import MemoryBackend, RuntimeHost
from advm.runtime.living import LivingDocument
from advm.runtime.upgrade import UpgradeRefused, compare, upgrade
from advm.store import open_store
from advm.views.merge import ViewState
from advm.views.viewers import Viewers

V1 = """
@static { create { return true; } }
@connected { return true; }
enum Color { Red, Green }
record Item { public int id; public string name; public int qty; }
public int count;
public string title = "t";
public Color c;
table<Item> items;
public formula all = iterate items;
message Add { string name; int qty; }
channel add(Add a) { items <- {name: a.name, qty: a.qty}; count++; }
channel paint(Add a) { c = Color::Green; }
"""

# a field added (with an initialiser), one removed, int -> long in the
# document and in a record, an enum value added, a formula added
V2 = V1.replace("enum Color { Red, Green }", "enum Color { Red, Green, Blue }") \
    .replace("public int qty; }", "public long qty; public string note = \"n\"; }") \
    .replace("public int count;", "public long count;\npublic string added = \"new\";") \
    .replace('public string title = "t";\n', "") \
    .replace("public formula all = iterate items;", "public formula all = iterate items;\n"
             "public formula total = count * 2;")

# a string field made an int: refused
NARROW = V1.replace('public string title = "t";', "public int title;")

# @load fills a new field from an old one (the migration hook)
V2_LOAD = V1 + "\npublic int doubled;\n@load { doubled = count * 2; }\n"

APPROVAL_V1 = """
@static { create { return true; } }
@connected { return true; }
message Decision { bool approve; }
channel<Decision> decide;
public int asked;
public principal boss;
public string result = "pending";
@construct { boss = @who; transition #wait; }
#wait {
  asked = asked + 1;
  Decision d = decide.fetch(boss).await();
  result = d.approve ? "yes" : "no";
}
"""
# the state block after the await changed, a field added
APPROVAL_V2 = APPROVAL_V1.replace('result = d.approve ? "yes" : "no";', 'result = d.approve ? "YES" : "NO";') \
    .replace("public int asked;", "public int asked;\npublic string version = \"two\";")
# a channel removed while an ask is open on it
APPROVAL_NO_CHANNEL = """
@static { create { return true; } }
@connected { return true; }
public int asked;
public principal boss;
public string result = "pending";
"""

T0 = 1_767_225_600_000


def mod(src: str, name: str = "doc.adb"):
    return build_source(textwrap.dedent(src), name)


def merged(frames: list, who: str, state: ViewState | None = None) -> ViewState:
    state = state or ViewState()
    for f in frames:
        if f.get("to") == who and "delta" in f:
            state.apply(f["delta"])
    return state


# ---------------------------------------------------------------- the plan


def test_the_plan_lists_what_moves_and_how():
    plan = compare(mod(V1), mod(V2))
    assert not plan.refused, plan.report()
    assert plan.added == ["added"] and plan.removed == ["title"]
    assert "count: int -> long" in plan.widened and "record Item.qty: int -> long" in plan.widened
    assert plan.records == ["record Item: added ['note'], dropped -"]
    assert plan.report().endswith("compatible")


def test_narrowing_an_enum_losing_a_name_and_a_changed_message_are_refused():
    plan = compare(mod(V2), mod(V1))
    text = plan.report()
    assert "count: long cannot become int" in text
    assert "record Item.qty: long cannot become int" in text
    assert "enum Color loses ['Blue']" in text
    assert compare(mod(V1), mod(NARROW)).refused == [
        "title: string cannot become int (only int -> long, int -> double, long -> double and T -> maybe<T> "
        "widen; keep the old field and add a new one, filled by @load)"]
    other = V1.replace("channel paint(Add a)", "message Paint { int x; }\nchannel paint(Paint a)")
    assert any("channel paint: its message changes from Add to Paint" in r
               for r in compare(mod(V1), mod(other)).refused)


def test_widening_to_maybe_and_double_keeps_the_value():
    old = mod("public int a = 3; public int b = 4; public int c = 5;")
    new = mod("public maybe<int> a; public double b; public long c;")
    plan = compare(old, new)
    assert not plan.refused
    living = LivingDocument(old, key="w", viewers=Viewers)
    living.create("x@", None, T0)
    moved, _ = upgrade(living, new, plan, viewers=Viewers)
    assert moved.engine.fields() == {"a": 3, "b": 4.0, "c": 5}
    assert type(moved.engine.value("b")) is float


def test_a_different_program_is_not_a_new_version():
    plan = compare(mod(V1), mod(APPROVAL_V1))
    assert any("keeps none of the document's fields" in r for r in plan.refused)


# ---------------------------------------------------------------- one document


def test_viewers_get_a_delta_not_a_reset_and_the_state_carries_over():
    living = LivingDocument(mod(V1), key="g", viewers=Viewers)
    living.create("a@", None, T0)
    frames = living.connect("a@", T0 + 1)
    living_view = merged(frames, "a@")
    living_view = merged(living.send("a@", "add", {"name": "x", "qty": 3}, T0 + 2), "a@", living_view)
    living_view = merged(living.send("a@", "paint", {"name": "", "qty": 0}, T0 + 3), "a@", living_view)
    moved, frames = upgrade(living, mod(V2), viewers=Viewers)
    deltas = [f for f in frames if f.get("to") == "a@"]
    assert len(deltas) == 1 and deltas[0]["seq"] == 4  # the next in the stream, no reset
    assert deltas[0]["delta"]["title"] is None and deltas[0]["delta"]["added"] == "new"
    merged(frames, "a@", living_view)
    assert "title" not in living_view.encoded and living_view.encoded["added"] == "new"
    assert living_view.encoded["count"] == "1"  # a long now: as text on the wire
    assert moved.engine.fields(formulas=False) == {
        "count": 1, "c": "Green", "added": "new",
        "items": [{"id": 1, "name": "x", "qty": 3, "note": "n"}]}
    # the table keeps its id counter, its rows their owner: inserts and deletes go on
    moved.send("a@", "add", {"name": "y", "qty": 4}, T0 + 4)
    assert [r["id"] for r in moved.engine.field("items")] == [1, 2]
    again = LivingDocument.restore(mod(V2), moved.snapshot(), viewers=Viewers)
    assert again.engine.fields() == moved.engine.fields()


def test_load_is_the_migration_hook():
    living = LivingDocument(mod(V1), key="g", viewers=Viewers)
    living.create("a@", None, T0)
    living.send("a@", "add", {"name": "x", "qty": 1}, T0 + 1)
    living.send("a@", "add", {"name": "y", "qty": 1}, T0 + 2)
    moved, _ = upgrade(living, mod(V2_LOAD), viewers=Viewers)
    assert moved.engine.field("doubled") == 4


# ---------------------------------------------------------------- hosts


def test_a_refused_deploy_leaves_the_old_code_running():
    host = RuntimeHost(mod(V2), MemoryBackend(mod(V2), viewers=Viewers), clock=T0)
    host.create("g", "a@", None)
    host.submit("g", {"op": "send", "as": "a@", "channel": "add", "message": {"name": "x", "qty": 1}}).result()
    with pytest.raises(UpgradeRefused) as e:
        host.deploy(mod(V1))
    assert "count: long cannot become int" in str(e.value)
    assert host.module.module_id() == mod(V2).module_id()
    doc = host.open("g")
    assert doc.living.engine.module.module_id() == mod(V2).module_id()
    host.submit("g", {"op": "send", "as": "a@", "channel": "add", "message": {"name": "y", "qty": 1}}).result()
    assert doc.living.engine.field("count") == 2


def test_a_memory_host_moves_loaded_and_sleeping_documents():
    host = RuntimeHost(mod(V1), MemoryBackend(mod(V1), viewers=Viewers), clock=T0)
    for key in ("awake", "asleep"):
        host.create(key, "a@", None)
        host.submit(key, {"op": "send", "as": "a@", "channel": "add", "message": {"name": key, "qty": 1}}).result()
    host.unload("asleep")
    out = host.deploy(mod(V2))
    assert out["awake"][0] == "moved"
    for key in ("awake", "asleep"):
        doc = host.open(key)
        assert doc.living.engine.field("added") == "new"
        assert doc.living.engine.field("items")[0]["name"] == key


def _approval(store, key: str = "w"):
    doc, _ = DurableDocument.create(store, key, mod(APPROVAL_V1), "boss@", None, T0, viewers=Viewers)
    return doc


def test_an_open_ask_finishes_on_its_code_then_the_document_moves(tmp_path):
    store = open_store(tmp_path / "st", durability="relaxed")
    try:
        doc = _approval(store)
        connect = doc.submit({"op": "connect", "as": "boss@"}, T0 + 1).result()
        ask = next(f["ask"] for f in connect if "ask" in f)
        assert doc.upgrade(mod(APPROVAL_V2)).result() == []  # deferred: the block waits
        assert doc.module.module_id() == mod(APPROVAL_V1).module_id() and doc.target is not None
        frames = doc.submit({"op": "answer", "as": "boss@", "ask": ask["id"],
                             "message": {"approve": True}}, T0 + 2).result()
        # the activation finished on v1 ("yes", not "YES"), then the document moved
        assert doc.module.module_id() == mod(APPROVAL_V2).module_id()
        assert doc.living.engine.fields(formulas=False) == {"asked": 1, "result": "yes", "version": "two",
                                                              "boss": {"agent": "boss", "authority": ""}}
        view = merged(connect + frames, "boss@")
        assert view.encoded["version"] == "two" and view.encoded["result"] == "yes"
        doc.close()
        result = replay(store, "w")
        assert result.ok and result.module.module_id() == mod(APPROVAL_V2).module_id()
        assert [c.ok for c in result.checks] and all(c.ok for c in result.checks)
    finally:
        store.close()


def test_a_removed_channel_with_an_open_ask_is_refused_and_nothing_changes(tmp_path):
    store = open_store(tmp_path / "st", durability="relaxed")
    try:
        doc = _approval(store)
        doc.submit({"op": "connect", "as": "boss@"}, T0 + 1).result()
        seq = doc.seq
        with pytest.raises(UpgradeRefused) as e:
            doc.upgrade(mod(APPROVAL_NO_CHANNEL))
        assert "open on channel decide, which the new code removes" in str(e.value)
        assert doc.seq == seq and doc.target is None
        assert doc.module.module_id() == mod(APPROVAL_V1).module_id()
    finally:
        store.close()


def test_replay_across_versions_verifies_every_snapshot(tmp_path):
    store = open_store(tmp_path / "st", durability="relaxed")
    try:
        doc, _ = DurableDocument.create(store, "g", mod(V1), "a@", None, T0, viewers=Viewers)
        doc.submit({"op": "connect", "as": "a@"}, T0 + 1).result()
        doc.submit({"op": "send", "as": "a@", "channel": "add", "message": {"name": "x", "qty": 2}}, T0 + 2).result()
        frames = doc.upgrade(mod(V2)).result()
        assert frames and frames[0]["delta"]["added"] == "new"
        doc.submit({"op": "send", "as": "a@", "channel": "add", "message": {"name": "y", "qty": 5}}, T0 + 3).result()
        live = doc.living.snapshot()
        doc.close()
        result = replay(store, "g")
        assert result.ok, result.divergence
        assert len(result.checks) >= 2 and all(c.ok for c in result.checks)
        assert state_hash(result.living.snapshot()) == state_hash(live)  # views aside, bit for bit
        kinds = [e.kind for e in store.log("g", after=0, until=store.last_seq("g"))]
        assert kinds == ["create", "connect", "send", "upgrade", "send"]
        reopened = DurableDocument.open(store, "g", viewers=Viewers)
        assert reopened.module.module_id() == mod(V2).module_id()
        assert reopened.living.engine.field("count") == 2
    finally:
        store.close()


# ---------------------------------------------------------------- the CLI


def test_cli_check_deploy_status_and_run_with_new_code(cli, tmp_path):
    v1, v2, narrow = tmp_path / "v1.adb", tmp_path / "v2.adb", tmp_path / "narrow.adb"
    v1.write_text(V1)
    v2.write_text(V2)
    narrow.write_text(NARROW)
    r = cli("deploy", "--check", v1, v2)
    assert r.code == 0 and "fields added (take their defaults): added" in r.out
    r = cli("deploy", "--check", v1, narrow, "--json")
    assert r.code == 1 and json.loads(r.out)["plan"]["refused"]
    script = tmp_path / "s.jsonl"
    script.write_text('{"op":"create","as":"a@"}\n'
                      '{"op":"send","as":"a@","channel":"add","message":{"name":"x","qty":2}}\n')
    st = tmp_path / "st"
    assert cli("run", v1, "--script", script, "--store", st).code == 0
    r = cli("deploy", narrow, "--store", st)
    assert r.code == 1 and "nothing changed" in r.err and "title: string cannot become int" in r.err
    r = cli("deploy", "--status", "--store", st, "--json")
    assert [d["module"] for d in json.loads(r.out)["documents"]] == [mod(V1, str(v1)).module_id()]
    r = cli("deploy", v2, "--store", st)
    assert r.code == 0 and "1 moved" in r.out
    r = cli("deploy", "--status", "--store", st, "--json")
    assert [d["module"] for d in json.loads(r.out)["documents"]] == [mod(V2, str(v2)).module_id()]
    assert cli("replay", "--log", "--store", st).code == 0
    r = cli("snapshot", "inspect", "--store", st, "--json")
    history = json.loads(r.out)["modules"]
    assert [(m["seq"], m["module"]) for m in history] == [
        (1, mod(V1, str(v1)).module_id()), (3, mod(V2, str(v2)).module_id())]
    assert history[1]["filename"] == str(v2)
    # a script of v2 on v1's store upgrades the document instead of refusing it
    st2 = tmp_path / "st2"
    assert cli("run", v1, "--script", script, "--store", st2).code == 0
    more = tmp_path / "more.jsonl"
    more.write_text('{"op":"view","as":"a@"}\n')
    r = cli("run", v2, "--script", more, "--store", st2)
    assert r.code == 0 and json.loads(r.out.splitlines()[-1])["view"]["added"] == "new"


# ---------------------------------------------------------------- SIGKILL during a deploy

KILLED = """
import sys, time
from advm.durable.document import DurableDocument
from advm.store import open_store
from advm.views.viewers import Viewers
from advm.vm.module import Module
store = open_store(sys.argv[1])
v2 = Module.from_bytes(open(sys.argv[2], "rb").read())
print("ready", flush=True)
for key in sorted(store.documents()):
    doc = DurableDocument.open(store, key, viewers=Viewers)
    doc.upgrade(v2).result()
    doc.close()
    print("moved", key, flush=True)
"""

# Kill points (issue 14: 50): point i kills the deploy after i % 8 documents moved, i // 8 ms
# later, so the kill lands between documents and, a few ms on, inside the next one's move (its
# open, mapping or commit). CI runs the first 6 (about 20 s on the loaded 2-core machine: each
# point starts a Python process); ADVM_SOAK=1 runs all 50 (see the test's docstring).
KILL_POINTS = 50
KILLS = KILL_POINTS if os.environ.get("ADVM_SOAK") == "1" else 6


@pytest.mark.parametrize("point", range(KILLS))
def test_sigkill_during_a_deploy_leaves_each_document_on_one_version(tmp_path, point):
    """SIGKILL `advm deploy`'s work (DurableDocument.upgrade, document by
    document) at kill point `point`: afterwards every document is on exactly
    one of the two versions, each acknowledged input is there, and every log
    replays. All 50 points, run by hand on 2026-12-07 at 20:50 UTC (2 cores, load 12-14):
        ADVM_SOAK=1 python -m pytest tests/runtime/test_upgrade.py -k sigkill -p no:cacheprovider -q
    printed "50 passed, 20 deselected in 312.51s" (22.3 s user CPU, 2.4 s system; an earlier run
    at 20:40, load 8: 50 passed in 179 s)."""
    import time

    kill_after, delay_ms = point % 8, point // 8
    st = tmp_path / "st"
    (tmp_path / "v2.advc").write_bytes(mod(V2, "v2.adb").to_bytes())
    store = open_store(st)
    acked = {}
    for i in range(8):
        key = f"d{i}"
        doc, _ = DurableDocument.create(store, key, mod(V1), "a@", None, T0, viewers=Viewers)
        for j in range(i + 1):
            doc.submit({"op": "send", "as": "a@", "channel": "add",
                        "message": {"name": f"n{j}", "qty": j}}, T0 + j + 1).result()
        acked[key] = i + 1
        doc.close()
    store.close()
    moved = 0
    with subprocess.Popen([sys.executable, "-c", KILLED, str(st), str(tmp_path / "v2.advc")],
                          stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout.readline().strip() == "ready"
        while moved < kill_after:
            if not proc.stdout.readline():
                break
            moved += 1
        time.sleep(delay_ms / 1000)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    store = open_store(st)
    try:
        ids = {mod(V1).module_id(), mod(V2, "v2.adb").module_id()}
        on_v2 = []
        for key, count in acked.items():
            doc = DurableDocument.open(store, key, viewers=Viewers)
            assert doc.module.module_id() in ids
            if doc.module.module_id() != mod(V1).module_id():
                on_v2.append(key)
            assert doc.living.engine.field("count") == count  # no acknowledged input lost
            doc.close()
            assert replay(store, key).ok
        # one document at a time, each all or nothing, in key order
        assert moved <= len(on_v2) and on_v2 == sorted(acked)[:len(on_v2)]
    finally:
        store.close()


def test_a_canary_moves_a_subset_then_all(cli, tmp_path):
    from advm.commands.deploy import canary

    keys = [f"k{i}" for i in range(200)]
    ten, thirty = canary(keys, None, 10), canary(keys, None, 30)
    assert set(ten) <= set(thirty) and 0 < len(ten) < len(thirty) < 200  # raising only adds
    assert canary(keys, None, 0) == [] and canary(keys, None, 100) == keys
    assert canary(keys + ["eu-1"], "eu-", None) == ["eu-1"]
    v1, v2 = tmp_path / "v1.adb", tmp_path / "v2.adb"
    v1.write_text(V1)
    v2.write_text(V2)
    st = tmp_path / "st"
    store = open_store(st)
    for key in ("eu-1", "eu-2", "us-1"):
        doc, _ = DurableDocument.create(store, key, mod(V1, str(v1)), "a@", None, T0, viewers=Viewers)
        doc.close()
    store.close()
    r = cli("deploy", v2, "--store", st, "--prefix", "eu-")
    assert r.code == 0 and "2 moved" in r.out
    rows = json.loads(cli("deploy", "--status", "--store", st, "--json").out)["documents"]
    new = mod(V2, str(v2)).module_id()
    assert {d["doc"]: d["module"] == new for d in rows} == {"eu-1": True, "eu-2": True, "us-1": False}
    r = cli("deploy", v2, "--store", st)
    assert r.code == 0 and "1 moved" in r.out and "2 already on it" in r.out
    assert cli("deploy", v2, "--store", st, "--percent", "101").code == 2


def test_an_export_carries_the_code_of_every_version_for_replay(tmp_path):
    from advm.durable.transfer import export_document, import_document

    with open_store(tmp_path / "a", durability="relaxed") as a:
        doc, _ = DurableDocument.create(a, "g", mod(V1), "a@", None, T0, viewers=Viewers)
        doc.submit({"op": "send", "as": "a@", "channel": "add", "message": {"name": "x", "qty": 2}}, T0 + 1).result()
        doc.upgrade(mod(V2)).result()
        doc.close()
        data = export_document(a, "g")
    with open_store(tmp_path / "b", durability="relaxed") as b:
        import_document(b, data)
        assert mod(V1).module_id() in {h.hex()[:32] for h in b.module_hashes()}
        result = replay(b, "g")
        assert result.ok and result.module.module_id() == mod(V2).module_id()


# the state block unchanged; a field added after the others, a formula added
APPROVAL_V3 = APPROVAL_V1.replace('public string result = "pending";',
                                  'public string result = "pending";\npublic string version = "three";\n'
                                  'public formula both = asked + 1;')


def test_frames_move_when_the_suspended_code_is_the_same(tmp_path):
    from advm.runtime.upgrade import movable_frames

    store = open_store(tmp_path / "st", durability="relaxed")
    try:
        doc = _approval(store)
        connect = doc.submit({"op": "connect", "as": "boss@"}, T0 + 1).result()
        ask = next(f["ask"] for f in connect if "ask" in f)
        cont = doc.living.engine.cont
        assert movable_frames(mod(APPROVAL_V1), mod(APPROVAL_V3), cont) is None
        assert "not the same code" in movable_frames(mod(APPROVAL_V1), mod(APPROVAL_V2), cont)
        frames = doc.upgrade(mod(APPROVAL_V3)).result()
        # moved at once, the block still waiting (now in v3's code), its ask still open
        assert doc.module.module_id() == mod(APPROVAL_V3).module_id() and doc.target is None
        assert merged(connect + frames, "boss@").encoded["version"] == "three"
        assert [a["id"] for a in doc.living.asks_for("boss@")] == [ask["id"]]
        frames = doc.submit({"op": "answer", "as": "boss@", "ask": ask["id"],
                             "message": {"approve": False}}, T0 + 2).result()
        assert doc.living.engine.fields(formulas=False)["result"] == "no"
        assert doc.living.engine.field("both") == 2
        doc.close()
        result = replay(store, "w")
        assert result.ok and all(c.ok for c in result.checks)
        assert result.living.engine.field("version") == "three"
    finally:
        store.close()


ROWS_V1 = """
@static { create { return true; } }
@connected { return true; }
record R { public int id; public int v; }
message Pick { int v; }
channel<Pick> pick;
table<R> rows;
public formula all = iterate rows;
public principal boss;
@construct { boss = @who; rows <- {v: 1}; rows <- {v: 2}; transition #hold; }
#hold {
  list<R> mine = iterate rows where v == 2;
  if (mine[0] as row) {
    Pick p = pick.fetch(boss).await();
    row.v = p.v;
  }
}
"""
ROWS_V2 = ROWS_V1.replace("public principal boss;", "public principal boss;\npublic int extra = 5;")


def test_a_moved_frame_still_holds_the_very_row_of_its_table():
    living = LivingDocument(mod(ROWS_V1), key="r", viewers=Viewers)
    living.create("boss@", None, T0)
    frames = living.connect("boss@", T0 + 1)
    ask = next(f["ask"] for f in frames if "ask" in f)
    moved, _ = upgrade(living, mod(ROWS_V2), viewers=Viewers)
    assert moved.engine.cont is not None and moved.engine.field("extra") == 5
    moved.answer("boss@", ask["id"], {"v": 9}, T0 + 2)
    assert [r["v"] for r in moved.engine.field("all")] == [1, 9]  # the row in the table changed


def test_deploy_at_rest_defers_a_changed_waiting_block_and_moves_an_unchanged_one(cli, tmp_path):
    st = tmp_path / "st"
    with open_store(st) as store:
        doc, _ = DurableDocument.create(store, "w", mod(APPROVAL_V1, str(tmp_path / "v1.adb")),
                                        "boss@", None, T0, viewers=Viewers)
        doc.submit({"op": "connect", "as": "boss@"}, T0 + 1).result()
        doc.close()
    (tmp_path / "v2.adb").write_text(APPROVAL_V2)
    (tmp_path / "v3.adb").write_text(APPROVAL_V3)
    r = cli("deploy", tmp_path / "v2.adb", "--store", st)
    assert r.code == 0 and "0 moved, 1 deferred" in r.out and "deferred: w" in r.out
    r = cli("deploy", tmp_path / "v3.adb", "--store", st)
    assert r.code == 0 and "1 moved, 0 deferred" in r.out
    assert cli("replay", "--log", "--store", st, "--doc", "w").code == 0


def test_a_table_whose_row_type_did_not_change_is_taken_whole_and_keeps_working():
    v1 = mod(V1)
    same_rows = mod(V1.replace("public int count;", "public int count;\npublic int later = 3;"))
    living = LivingDocument(v1, key="g", viewers=Viewers)
    living.create("a@", None, T0)
    living.send("a@", "add", {"name": "x", "qty": 1}, T0 + 1)
    moved, _ = upgrade(living, same_rows, viewers=Viewers)
    assert moved.engine.value("items") is living.engine.value("items")
    moved.send("a@", "add", {"name": "y", "qty": 2}, T0 + 2)
    assert [r["name"] for r in moved.engine.field("items")] == ["x", "y"]
    again = LivingDocument.restore(same_rows, moved.snapshot(), viewers=Viewers)
    assert again.engine.fields() == moved.engine.fields()


RENAMED = V1.replace('public string title = "t";', 'public string heading = "h";')


def test_a_declared_rename_carries_the_value_and_replays(cli, tmp_path):
    plan = compare(mod(V1), mod(RENAMED), {"title": "heading"})
    assert not plan.refused and plan.renamed == {"title": "heading"}
    assert plan.added == [] and plan.removed == []
    assert "field renamed (declared): title -> heading" in plan.report()
    undeclared = compare(mod(V1), mod(RENAMED))
    assert undeclared.added == ["heading"] and undeclared.removed == ["title"]  # never guessed
    bad = compare(mod(V1), mod(RENAMED), {"nope": "heading"})
    assert bad.refused == ["rename nope -> heading: the old code has no field nope, or the new code keeps it"]
    v1, v2 = tmp_path / "v1.adb", tmp_path / "v2.adb"
    v1.write_text(V1.replace('public string title = "t";', 'public string title = "kept";'))
    v2.write_text(RENAMED)
    st = tmp_path / "st"
    script = tmp_path / "s.jsonl"
    script.write_text('{"op":"create","as":"a@"}\n')
    assert cli("run", v1, "--script", script, "--store", st).code == 0
    r = cli("deploy", "--check", v1, v2, "--rename", "title=heading")
    assert r.code == 0 and "title -> heading" in r.out
    assert cli("deploy", v2, "--store", st, "--rename", "title=heading").code == 0
    with open_store(st) as store:
        doc = DurableDocument.open(store, "main", viewers=Viewers)
        assert doc.living.engine.field("heading") == "kept"
        assert replay(store, "main").ok
    assert cli("deploy", v2, "--store", st, "--rename", "title").code == 2


# the new code declares its renames (`@was`, language.md 4.1): a document field and a record field,
# each widened as well
WAS_V2 = V1.replace('public string title = "t";', 'public string heading = "h" @was(title);') \
    .replace("public int qty; }", "public long amount @was(qty); }") \
    .replace("items <- {name: a.name, qty: a.qty}", "items <- {name: a.name, amount: a.qty}")


def test_renames_declared_in_the_code_move_values_are_logged_and_replay(cli, tmp_path):
    plan = compare(mod(V1), mod(WAS_V2))
    assert not plan.refused and plan.renamed == {"title": "heading"}
    assert plan.record_renames == {"Item": {"qty": "amount"}} and plan.added == [] and plan.removed == []
    assert "record field renamed (declared): Item.qty -> Item.amount" in plan.report()
    assert "record Item.qty -> amount: int -> long" in plan.widened
    # a document already on the new name ignores the annotation (it is history)
    assert compare(mod(WAS_V2), mod(WAS_V2 + "\npublic int more;\n")).renamed == {}
    # a --rename that contradicts the code's declaration is refused
    assert compare(mod(V1), mod(WAS_V2), {"title": "count"}).refused
    v1, v2 = tmp_path / "v1.adb", tmp_path / "v2.adb"
    v1.write_text(V1.replace('public string title = "t";', 'public string title = "kept";'))
    v2.write_text(WAS_V2)
    script = tmp_path / "s.jsonl"
    script.write_text('{"op":"create","as":"a@"}\n'
                      '{"op":"send","as":"a@","channel":"add","message":{"name":"x","qty":7}}\n')
    st = tmp_path / "st"
    assert cli("run", v1, "--script", script, "--store", st).code == 0
    r = cli("deploy", "--check", v1, v2)
    assert r.code == 0 and "field renamed (declared): title -> heading" in r.out
    r = cli("deploy", v2, "--store", st)
    assert r.code == 0 and "1 moved" in r.out and "renamed title -> heading" in r.out \
        and "renamed Item.qty -> Item.amount" in r.out, r.out
    with open_store(st) as store:
        doc = DurableDocument.open(store, "main", viewers=Viewers)
        assert doc.living.engine.field("heading") == "kept"
        assert [(row["name"], row["amount"]) for row in doc.living.engine.field("items")] == [("x", 7)]
        doc.close()
        assert replay(store, "main").ok
    r = cli("snapshot", "inspect", "--store", st, "--json")
    history = json.loads(r.out)["modules"]
    assert "renames" not in history[0]
    assert history[1]["renames"] == {"fields": {"title": "heading"}, "records": {"Item": {"qty": "amount"}}}
    r = cli("snapshot", "inspect", "--store", st)
    assert "renamed title -> heading, Item.qty -> Item.amount" in r.out
    assert cli("replay", "--log", "--store", st).code == 0
    # a sleeping document woken by new code (advm run v2 on v1's store) records them the same way
    st2 = tmp_path / "st2"
    assert cli("run", v1, "--script", script, "--store", st2).code == 0
    view = tmp_path / "view.jsonl"
    view.write_text('{"op":"view","as":"a@"}\n')
    r = cli("run", v2, "--script", view, "--store", st2)
    assert r.code == 0 and json.loads(r.out.splitlines()[-1])["view"]["heading"] == "kept"
    history = json.loads(cli("snapshot", "inspect", "--store", st2, "--json").out)["modules"]
    assert history[-1]["renames"]["fields"] == {"title": "heading"}


def test_a_removed_channel_with_a_queued_input_is_refused_and_nothing_changes():
    """Issue 14: "a removed channel with a queued input: refused with a clear
    report, nothing changes" (runtime/upgrade.py _blockers)."""
    from advm.runtime.upgrade import blockers

    no_paint = mod(V1.replace("channel paint(Add a) { c = Color::Green; }", ""), "no_paint.adb")
    living = LivingDocument(mod(V1), key="g", viewers=Viewers)
    living.create("a@", None, T0)
    living.enqueue({"op": "send", "as": "a@", "channel": "paint", "message": {"name": "x", "qty": 1},
                    "now": T0 + 1})
    plan = compare(mod(V1), no_paint)
    assert plan.channels_removed == ["paint"] and not plan.refused  # refused only for a document using it
    why = "an input on channel paint is queued, which the new code removes"
    assert blockers(living, no_paint, plan) == [why]
    with pytest.raises(UpgradeRefused) as e:
        upgrade(living, no_paint, plan, viewers=Viewers)
    assert e.value.reasons == [why]
    assert living.engine.module.module_id() == mod(V1).module_id()
    living.pump()  # the old code still takes it
    assert living.engine.field("c") == "Green"
