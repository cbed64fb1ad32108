"""What only the PostgreSQL store has (store/postgres.py, spec/store.md part
three): the same calls as LMDB's, versioned schema migrations, the URL's
limits, leases with epochs (one writer per document), and documents moved
between the two backends. The behaviour both share is tested once for both
(the tests taking `make_store`)."""
from __future__ import annotations

import time

import psycopg
import pytest

from advm.cli import ExitCode
from advm.store import (Entry, IncompatibleStore, LeaseLost, SequenceConflict, Snapshot, Store,
                        StoreError, interface, open_store)
from advm.store.log import encode
from advm.store.postgres import MIGRATIONS, SCHEMA_VERSION, PgStore, migrate, parse_url, shown

T0 = 1_767_225_600_000


def entry(seq):
    return Entry(seq, T0 + seq, "send", "alice", "say", {"n": seq})


def public_methods(cls) -> set[str]:
    return {n for n in dir(cls) if not n.startswith("_") and callable(getattr(cls, n))}


def test_the_same_calls_as_the_lmdb_store(pg_server):
    assert public_methods(PgStore) - {"connect", "epoch"} == public_methods(Store)
    with open_store(pg_server.url()) as store:
        assert isinstance(store, PgStore) and isinstance(store, interface.DocumentStore)
        assert store.info()["schema_version"] == SCHEMA_VERSION


def test_a_schema_is_migrated_one_version_at_a_time(pg_server):
    url = pg_server.url("migrating")
    conninfo, schema, _ = parse_url(url)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        assert migrate(conn, schema, upto=1) == 0  # a store as the first version wrote it
        conn.execute("INSERT INTO migrating.docs (doc, last_seq) VALUES ('d', 1)")
        conn.execute("INSERT INTO migrating.log VALUES ('d', 1, %s)",
                     (encode(entry(1)),))
    with pytest.raises(IncompatibleStore, match="version 1; this advm reads version 2 .*migrate"):
        PgStore(url, readonly=True)
    with PgStore(url, durability="relaxed") as store:  # opened for writing: migrated
        assert store.log("d") == [entry(1)]
        assert store.append("d", entry(2)).result() == 2
    with psycopg.connect(conninfo, autocommit=True) as conn:
        versions = [r[0] for r in conn.execute(
            "SELECT version FROM migrating.advm_migrations ORDER BY version")]
        assert versions == list(MIGRATIONS) == [1, 2]
        conn.execute("INSERT INTO migrating.advm_migrations (version) VALUES (3)")
    for readonly in (True, False):
        with pytest.raises(IncompatibleStore, match="version 3; this advm"):
            PgStore(url, readonly=readonly)


def test_url_limits(pg_server):
    assert parse_url(pg_server.base + "?schema=abc&lease=0.1&sslmode=disable")[1:] == ("abc", 0.1)
    assert "sslmode=disable" in parse_url(pg_server.base + "?sslmode=disable&lease=3600")[0]
    for bad in ("lease=0.09", "lease=3601", "lease=soon"):
        with pytest.raises(StoreError, match="a lease is 0.1 to 3600 seconds"):
            parse_url(f"{pg_server.base}?{bad}")
    for bad in ("Upper", "9lives", "a" * 64, "semi;colon"):
        with pytest.raises(StoreError, match="a schema name is"):
            parse_url(f"{pg_server.base}?schema={bad}")
    parse_url(f"{pg_server.base}?schema={'a' * 63}")
    assert shown("postgresql://ann:secret@db:5432/x") == "postgresql://ann:***@db:5432/x"
    with pytest.raises(StoreError, match="cannot connect to the PostgreSQL store"):
        PgStore(f"postgresql://postgres@127.0.0.1:{pg_server.port}/nosuchdb")


def test_sequence_numbers_stop_at_bigint(pg_server):
    with PgStore(pg_server.url(), durability="relaxed") as store:
        big = (1 << 63) - 1
        assert store.commit("d", snapshot=Snapshot(big, b"x")).result() == big
        with pytest.raises(StoreError, match="past PostgreSQL's bigint"):
            store.commit("e", snapshot=Snapshot(big + 1, b"x")).result()
        with pytest.raises(StoreError, match="past PostgreSQL's bigint"):
            store.schedule("e", big + 1).result()
        assert store.snapshot("e", big + 1) is None and store.due(big + 5) == []


def _stop_renewing(store: PgStore) -> None:
    """What a dead host does: nothing; its leases run out."""
    store._stop.set()
    store._renewer.join()


def test_one_writer_per_document_by_lease_and_epoch(pg_server):
    url = pg_server.url(lease=0.5)
    a = PgStore(url, durability="relaxed", owner="host-a")
    b = PgStore(url, durability="relaxed", owner="host-b")
    tool = PgStore(url, durability="relaxed")
    try:
        assert a.load("doc") == (None, 0, [])  # a new document: its lease taken first
        assert a.epoch("doc") == 1
        a.commit("doc", [entry(1), entry(2)]).result()
        time.sleep(0.8)  # past one lease: a's renewals keep it
        with pytest.raises(LeaseLost, match="'doc' is held by host 'host-a' .epoch 1."):
            b.load("doc")
        with pytest.raises(LeaseLost, match="held by host 'host-a'"):
            tool.append("doc", entry(3)).result()  # tools are refused while a host holds it
        # a host creating a document takes its lease with its first commit
        b.commit("other", [entry(1)]).result()
        assert b.epoch("other") == 1
        with pytest.raises(LeaseLost):
            a.append("other", entry(2)).result()  # never loaded here: not a's to write
        _stop_renewing(a)
        time.sleep(0.8)
        rec = b.load("doc")  # a's lease ran out: b takes it at a new epoch
        assert b.epoch("doc") == 2 and [e.seq for e in rec.entries] == [1, 2]
        with pytest.raises(LeaseLost, match="this host's lease .epoch 1. is gone; host 'host-b' "
                                            "holds it at epoch 2"):
            a.append("doc", entry(3)).result()
        assert b.append("doc", entry(3)).result() == 3
        assert [e.seq for e in a.log("doc")] == [1, 2, 3]  # reads need no lease
    finally:
        for s in (a, b, tool):
            s.close()
    # closing gave b's leases back: a tool writes at once, and fences b out
    with PgStore(url, durability="relaxed") as tool:
        assert tool.append("doc", entry(4)).result() == 4


def test_a_refused_lease_write_leaves_its_batch_alone(pg_server):
    url = pg_server.url(lease=5)
    with PgStore(url, durability="relaxed", owner="a", window=0.05) as a, \
            PgStore(url, durability="relaxed", owner="b") as b:
        b.commit("theirs", [entry(1)]).result()
        a.load("mine")
        good = a.commit("mine", [entry(1)], timer=T0)
        refused = a.commit("theirs", [entry(2)])
        also = a.commit("mine", [entry(2)])
        assert good.result() == 1 and also.result() == 2
        with pytest.raises(LeaseLost):
            refused.result()
        assert isinstance(refused.exception(), SequenceConflict)
        assert [e.seq for e in b.log("theirs")] == [1] and a.due(T0) == [(T0, "mine")]


def test_an_export_moves_between_the_backends(cli, pg_server, tmp_path):
    from durable_kit import Driver, example, script

    lmdb_dir = tmp_path / "lmdb"
    with Store(lmdb_dir, durability="relaxed") as store:
        d = Driver(store, "main", example("approval"), every=3)
        d.run(script("approval")[:5])
        d.doc.close()
        live = d.doc.living.snapshot()
    url = pg_server.url()
    assert cli("snapshot", "export", "--store", lmdb_dir, "-o", tmp_path / "a.advx").code == 0
    r = cli("snapshot", "import", tmp_path / "a.advx", "--store", url, "--doc", "moved")
    assert r.code == ExitCode.OK, r.err
    r = cli("replay", "--store", url, "--doc", "moved", "--quiet")
    assert r.code == ExitCode.OK, r.err
    # and back into another LMDB store
    assert cli("snapshot", "export", "--store", url, "--doc", "moved",
               "-o", tmp_path / "b.advx").code == 0
    back = tmp_path / "back"
    assert cli("snapshot", "import", tmp_path / "b.advx", "--store", back).code == 0
    from advm.durable.document import DurableDocument
    from advm.views.viewers import Viewers

    with Store(back, durability="relaxed") as store:
        assert DurableDocument.open(store, "moved", viewers=Viewers).living.snapshot() == live


def test_a_token_for_a_postgresql_store_is_signed_with_the_local_key(cli, pg_server, tmp_path,
                                                                      monkeypatch):
    from advm.net.tokens import Tokens

    monkeypatch.chdir(tmp_path)
    r = cli("token", "alice", "--store", pg_server.url())
    assert r.code == ExitCode.OK, r.err
    assert Tokens.from_store_dir(tmp_path / ".advm").verify(r.out.strip()) == "alice@"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".advm"]  # no folder named after the URL
