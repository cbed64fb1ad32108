"""`advm run doc.adb --script` on the durable store (issue 5 point 7): the
store is the default (./.advm, document 'main'), `restart` recovers from
LMDB, and a second run continues the same document."""
from __future__ import annotations

import json

from advm.cli import ExitCode
from advm.session import Session, StoredSession
from advm.store import Store
from advm.durable.document import DEFAULT_DOC, DurableDocument
from advm.durable.replay import replay
from advm.views.viewers import Viewers
from durable_kit import ROOT, T0, example, script

TODO = ROOT / "examples" / "todo.adb"


def lines(*items) -> str:
    return "".join(json.dumps(i) + "\n" for i in items)


def frames_of(out: str) -> list[dict]:
    return [json.loads(row) for row in out.splitlines()]


def test_the_store_is_the_default_and_a_second_run_continues(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = tmp_path / "one.jsonl"
    first.write_text(lines({"op": "create", "as": "alice@home"},
                           {"op": "connect", "as": "alice@home"},
                           {"op": "send", "as": "alice@home", "channel": "create",
                            "message": {"text": "buy milk"}}))
    r = cli("run", TODO, "--script", first)
    assert r.code == ExitCode.OK and r.err == ""
    assert (tmp_path / ".advm" / "data.mdb").exists()
    second = tmp_path / "two.jsonl"
    second.write_text(lines({"op": "create", "as": "alice@home"},
                            {"op": "send", "as": "alice@home", "channel": "create",
                             "message": {"text": "fix the bike"}},
                            {"op": "view", "as": "alice@home"}))
    r = cli("run", TODO, "--script", second)
    assert r.code == ExitCode.OK, r.err
    out = frames_of(r.out)
    # A new run is a restart: alice, still listed as connected, reconnects first.
    assert out[0] == {"to": "alice@home", "connected": True} and out[1]["seq"] == 1
    # The host refuses it before the document runs anything (runtime/host.py, spec/runtime.md 7).
    assert {"to": "alice@home", "error": {"code": "already_created",
                                          "message": "document 'main' already exists"}} in out
    view = out[-1]["view"]
    assert [t["text"] for t in view["todos"]] == ["buy milk", "fix the bike"]
    with Store(tmp_path / ".advm", readonly=True) as store:
        assert store.documents() == [DEFAULT_DOC]
        result = replay(store, DEFAULT_DOC)
        assert result.ok and result.checks  # each run ends with a snapshot


def test_doc_keeps_documents_apart_and_memory_leaves_no_store(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    script_file = tmp_path / "s.jsonl"
    script_file.write_text(lines({"op": "create", "as": "alice@home"},
                                 {"op": "view", "as": "alice@home"}))
    for doc in ("a", "b"):
        r = cli("run", TODO, "--script", script_file, "--doc", doc, "--store", tmp_path / "st")
        assert r.code == ExitCode.OK and frames_of(r.out)[-1]["view"] is not None
    with Store(tmp_path / "st", readonly=True) as store:
        assert store.documents() == ["a", "b"]
    r = cli("run", TODO, "--script", script_file, "--memory")
    assert r.code == ExitCode.OK and not (tmp_path / ".advm").exists()
    r = cli("run", TODO, "--doc", "a")
    assert r.code == ExitCode.USAGE and "--doc" in r.err


def test_other_code_in_the_store_is_refused(cli, tmp_path):
    script_file = tmp_path / "s.jsonl"
    script_file.write_text(lines({"op": "create", "as": "alice@home"}))
    store = tmp_path / "st"
    assert cli("run", TODO, "--script", script_file, "--store", store).code == ExitCode.OK
    r = cli("run", ROOT / "examples" / "chat.adb", "--script", script_file, "--store", store)
    assert r.code == ExitCode.FAILURE
    assert "document 'main'" in r.err and "runs other code" in r.err


def test_restart_really_recovers_from_the_store(tmp_path):
    """An input that only the store knows (logged by another writer) is
    there after `restart`: the session rebuilt its document from LMDB."""
    module = example("todo")
    with Store(tmp_path / "st", durability="relaxed") as store:
        session = StoredSession(module, store)
        session.step({"op": "create", "as": "alice@home"})
        session.step({"op": "connect", "as": "alice@home"})
        behind = DurableDocument.open(store, DEFAULT_DOC, viewers=Viewers)
        frames = behind.submit({"op": "send", "as": "alice@home", "channel": "create",
                                "message": {"text": "written elsewhere"}}, T0).result()
        assert not [f for f in frames if "error" in f]
        assert session.step({"op": "view", "as": "alice@home"})[0]["view"]["todos"] == []
        frames = session.step({"op": "restart"})
        assert frames[0] == {"to": "alice@home", "connected": True}
        todos = session.step({"op": "view", "as": "alice@home"})[0]["view"]["todos"]
        assert [t["text"] for t in todos] == ["written elsewhere"]
        assert [e.kind for e in store.log(DEFAULT_DOC)][-1] == "reconnect"
        session.close()
        assert replay(store, DEFAULT_DOC).ok


def test_stored_sessions_print_what_memory_sessions_print(tmp_path):
    """Every example, restarts included, frame for frame."""
    for name in ("approval", "cardgame", "cron_cleanup", "tictactoe"):
        memory = Session(example(name))
        with Store(tmp_path / name, durability="relaxed") as store:
            stored = StoredSession(example(name), store)
            for item in script(name):
                assert stored.step(item) == memory.step(item), (name, item)
            stored.close()
            assert replay(store, DEFAULT_DOC).ok


def test_debug_lines_and_timer_failures_survive_snapshot_points(tmp_path):
    module_text = """
@static { create { return true; } snapshot_every = 1; }
public int n;
message M { int k; }
channel add(principal who, M m) { n = n + m.k; @debug("n is {0}", n); }
"""
    from durable_kit import compiled

    seen = []
    with Store(tmp_path / "st", durability="relaxed") as store:
        session = StoredSession(compiled(module_text), store, debug=seen.append)
        session.step({"op": "create", "as": "ann"})
        for k in (1, 2):
            session.step({"op": "send", "as": "ann", "channel": "add", "message": {"k": k}})
        session.close()
    assert seen == ["n is 1", "n is 3"]
