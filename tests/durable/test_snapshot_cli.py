"""`advm snapshot inspect|export|import` (durable/inspect.py, durable/transfer.py):
a stored document as a person wants it, and a document moved between stores
that resumes mid-await. Each test runs on LMDB and on PostgreSQL (`make_store`,
tests/conftest.py; `make_store.where(path)` is what --store names)."""
from __future__ import annotations

import json

import pytest

from advm.cli import ExitCode
from advm.store import KEEP_ALL, StoreError
from advm.durable.document import DurableDocument
from advm.durable.replay import replay
from advm.durable.transfer import export_document, import_document, read_export
from advm.runtime.memory import estimate
from advm.views.viewers import Viewers
from durable_kit import T0, Driver, example, script

DAY = 86_400_000


def approval_waiting(make_store, path, *, close=True):
    """The approval workflow as document 'main', waiting on its manager with
    #escalate pending (the first five script inputs)."""
    with make_store(path, durability="relaxed", retention=KEEP_ALL) as store:
        d = Driver(store, "main", example("approval"), every=3)
        d.run(script("approval")[:5])
        if close:
            d.doc.close()
        return d.doc.living.snapshot()


def test_inspect_shows_what_a_person_wants_to_know(make_store, cli, tmp_path):
    path = tmp_path / "store"
    approval_waiting(make_store, path)
    r = cli("snapshot", "inspect", "--store", make_store.where(path))
    assert r.code == ExitCode.OK, r.err
    text = r.out
    assert "document 'main' at seq 5" in text
    assert "state #waitForManager" in text
    assert 'title              "laptop"' in text
    assert "_history           0 rows of Step" in text
    # The suspended frame: function, source line (the file is found), what it awaits from whom.
    assert "state.waitForManager at " in text and "approval.adb:" in text
    assert "Decision d = manager_decision.fetch(manager).await();" in text
    assert "awaits fetch on 'manager_decision' from mia@corp (ask 1)" in text
    assert "transition #escalate at 2026-01-06T00:00:00.000Z" in text
    assert "rng        " in text and "bytes      " in text
    assert "rita@corp          delta seq" in text
    assert "queued inputs  0" in text
    assert "snapshot at seq 5, 0 logged input(s) after it replayed" in text


def test_inspect_json(make_store, cli, tmp_path):
    path = tmp_path / "store"
    approval_waiting(make_store, path)
    r = cli("snapshot", "inspect", "--store", make_store.where(path), "--json")
    assert r.code == ExitCode.OK, r.err
    d = json.loads(r.out)
    assert d["key"] == "main" and d["seq"] == 5 and d["state"] == "waitForManager"
    assert d["fields"]["amount"] == 25000 and d["tables"]["_history"]["rows"] == 0
    frame = d["waiting"]["frames"][0]
    assert frame["function"] == "state.waitForManager" and frame["line"] > 0
    assert d["waiting"]["awaits"] == {"ask": 1, "channel": "manager_decision", "kind": "fetch",
                                      "from": "mia@corp", "options": None, "answered": False}
    assert d["asks"] == [{"id": 1, "to": "mia@corp", "channel": "manager_decision",
                          "kind": "fetch", "options": None, "status": "open"}]
    assert d["pending"]["state"] == "escalate" and d["next_due"] == d["pending"]["due"]
    assert d["log"]["wake"] == d["next_due"]
    assert len(d["rng"]) == 4 and all(0 <= w < 2 ** 64 for w in d["rng"])
    assert d["connected"] == ["rita@corp", "mia@corp"]
    assert d["bytes"]["snapshot"] > d["bytes"]["document"] > 0
    assert d["bytes"]["memory"] == estimate(d["bytes"]["snapshot"])  # loaded, estimated
    assert d["queue"] == [] and d["outbox"] == 0


def test_inspect_brings_an_unclosed_document_up_to_date(make_store, cli, tmp_path):
    path = tmp_path / "store"
    live = approval_waiting(make_store, path, close=False)
    d = json.loads(cli("snapshot", "inspect", "--store", make_store.where(path), "--json").out)
    assert d["source"] == {"snapshot": 3, "replayed": 2} and d["seq"] == 5
    import hashlib

    assert d["hash"] == hashlib.sha256(live).hexdigest()


def test_inspect_a_kept_snapshot_as_stored(make_store, cli, tmp_path):
    path = tmp_path / "store"
    approval_waiting(make_store, path)
    d = json.loads(cli("snapshot", "inspect", "--store", make_store.where(path), "--seq", "3", "--json").out)
    assert d["seq"] == 3 and d["state"] == "waitForManager" and d["source"]["snapshot"] == 3
    r = cli("snapshot", "inspect", "--store", make_store.where(path), "--seq", "4")
    assert r.code == ExitCode.USAGE and "kept: 3, 5" in r.err


def test_inspect_cron_and_a_document_with_no_await(make_store, cli, tmp_path):
    path = tmp_path / "store"
    with make_store(path, durability="relaxed") as store:
        d = Driver(store, "main", example("cron_cleanup"))
        d.run(script("cron_cleanup"))
        d.doc.close()
    r = cli("snapshot", "inspect", "--store", make_store.where(path))
    assert r.code == ExitCode.OK
    assert "cron cleanup (daily 3 0, Europe/Paris): next " in r.out
    assert "suspended  (nothing is waiting)" in r.out


def test_export_and_import_resume_mid_await_in_another_store(make_store, cli, tmp_path):
    source = tmp_path / "a"
    live = approval_waiting(make_store, source)
    bundle = tmp_path / "main.advx"
    r = cli("snapshot", "export", "--store", make_store.where(source), "-o", bundle)
    assert r.code == ExitCode.OK, r.err
    r = cli("snapshot", "import", bundle, "--store", make_store.where(tmp_path / "b"), "--doc", "moved")
    assert r.code == ExitCode.OK, r.err
    assert "moved: imported (exported as 'main')" in r.err
    with make_store(tmp_path / "b", durability="relaxed") as other:
        assert other.timer("moved") is not None
        doc = DurableDocument.open(other, "moved", viewers=Viewers)
        assert doc.living.snapshot() == live
        ask = doc.living.asks_for("mia@corp")[0]["id"]
        frames = doc.submit({"op": "answer", "as": "mia@corp", "ask": ask,
                             "message": {"approve": False, "comment": "too dear"}},
                            T0 + 2 * DAY).result()
        assert {"to": "mia@corp", "ask_closed": ask} in frames
        assert doc.living.engine.fields(formulas=False)["status"] == "Rejected"
        doc.close()
        result = replay(other, "moved")  # the whole history came along
        assert result.ok and result.start == 0


def test_import_refuses_a_key_that_exists(make_store, cli, tmp_path):
    source = tmp_path / "a"
    approval_waiting(make_store, source)
    bundle = tmp_path / "main.advx"
    assert cli("snapshot", "export", "--store", make_store.where(source), "-o", bundle).code == ExitCode.OK
    r = cli("snapshot", "import", bundle, "--store", make_store.where(source))
    assert r.code == ExitCode.FAILURE and "document 'main' already exists" in r.err


def test_a_trimmed_document_moves_as_its_snapshot_and_tail(make_store, tmp_path):
    from advm.store import Retention

    with make_store(tmp_path / "a", durability="relaxed",
                    retention=Retention(snapshots=1, trim_log=True)) as store:
        d = Driver(store, "main", example("tictactoe"), every=4)
        d.run(script("tictactoe"))
        live = d.doc.living.snapshot()
        assert store.first_seq("main") > 1 and store.load("main").entries
        data = export_document(store, "main")
    with make_store(tmp_path / "b", durability="relaxed") as other:
        key, last = import_document(other, data)
        assert key == "main" and last == d.doc.seq
        assert DurableDocument.open(other, "main", viewers=Viewers).living.snapshot() == live
        assert replay(other, "main").ok


def test_a_damaged_export_is_refused(make_store, cli, tmp_path):
    bad = tmp_path / "bad.advx"
    bad.write_bytes(b"\xa1\x66format\x63xyz")
    r = cli("snapshot", "import", bad, "--store", make_store.where(tmp_path / "b"))
    assert r.code == ExitCode.FAILURE and "not a usable advm export" in r.err
    with pytest.raises(StoreError, match="undecodable CBOR"):
        read_export(b"\xff\xff")


def test_usage_errors(make_store, cli, tmp_path):
    path = tmp_path / "store"
    approval_waiting(make_store, path)
    assert cli("snapshot", "export", "--store", make_store.where(path)).code == ExitCode.USAGE
    assert cli("snapshot", "inspect", "x.advx", "--store", make_store.where(path)).code == ExitCode.USAGE
    r = cli("snapshot", "inspect", "--store", make_store.where(path), "--doc", "other")
    assert r.code == ExitCode.USAGE and "holds 'main'" in r.err
