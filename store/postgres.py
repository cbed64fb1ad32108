"""The store on PostgreSQL: the same documents' logs, snapshots, wake times and
modules as the LMDB store, in tables of one PostgreSQL schema, so that hosts
on several machines can share them (spec/store.md part three).

The records are the LMDB store's own bytes (store/records.py: header, CRC,
CBOR), kept in `bytea` columns, and read back through the same checks. A
document key is kept as its UTF-8 bytes (`bytea`: a space's key holds NUL,
which `text` cannot, and bytes sort as LMDB's keys do).

Writes go through the same group committer as LMDB's (store/commit.py):
one thread, one connection, every queued operation applied in order inside
one PostgreSQL transaction, futures resolved only after COMMIT returned: the
output gate. Reads take a connection from a psycopg_pool pool and run in one
REPEATABLE READ transaction each.

Exactly one writer per document (spec/store.md 20.4): a store opened with an
`owner` (a serving host) takes a document's lease before it loads it, which
raises the document's epoch; every commit of the document locks its row and
is refused with LeaseLost unless the row still names this owner at the epoch
this store took. A host that stops renewing (it died, or was paused) loses
its leases after `lease` seconds, and another host may take them.
"""
from __future__ import annotations

import re
import threading
import urllib.parse
from contextlib import contextmanager
from typing import Iterator

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from . import commit as commit_mod
from . import keys, log, modules, retention, snapshots
from .commit import KEEP, GroupCommitter
from .env import Durability
from .errors import (CorruptRecord, IncompatibleStore, LeaseLost, StoreClosed,
                     StoreError)
from .log import Entry
from .retention import Retention
from .snapshots import Snapshot
from .store import Recovery
from .writes import StoreWrites

SCHEMES = ("postgresql://", "postgres://")
DEFAULT_SCHEMA = "advm"
DEFAULT_LEASE_S = 10.0
PG_MAX = (1 << 63) - 1
_KNOWN_MAX = 1 << 16  # rows the committer remembers between batches  # bigint: sequence numbers and times above it are refused
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}\Z")
_LOCK_ID = 0x6164766D  # "advm": serialises migrations of one database

# Versioned migrations: MIGRATIONS[n] takes a schema from version n - 1 to n.
# advm_migrations records each version applied; a store newer than
# SCHEMA_VERSION is refused, an older one is brought up to date when opened
# for writing (spec/store.md 20.2).
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE docs (doc bytea PRIMARY KEY, last_seq bigint NOT NULL DEFAULT 0,
                              snap_seq bigint)""",
        """CREATE TABLE log (doc bytea NOT NULL, seq bigint NOT NULL, rec bytea NOT NULL,
                             PRIMARY KEY (doc, seq))""",
        """CREATE TABLE snapshots (doc bytea NOT NULL, seq bigint NOT NULL, rec bytea NOT NULL,
                                   PRIMARY KEY (doc, seq))""",
        "CREATE TABLE timers (doc bytea PRIMARY KEY, due bigint NOT NULL)",
        "CREATE INDEX timers_due ON timers (due, doc)",
        "CREATE TABLE modules (digest bytea PRIMARY KEY, rec bytea NOT NULL)",
    ),
    2: (
        # leases (issue 18 point 3): who may write the document, at which epoch
        """ALTER TABLE docs ADD COLUMN owner text, ADD COLUMN epoch bigint NOT NULL DEFAULT 0,
                            ADD COLUMN lease_until timestamptz""",
        "CREATE INDEX docs_owner ON docs (owner) WHERE owner IS NOT NULL",
    ),
}
SCHEMA_VERSION = max(MIGRATIONS)


def is_url(path) -> bool:
    return isinstance(path, str) and path.startswith(SCHEMES)


def parse_url(url: str) -> tuple[str, str, float | None]:
    """(libpq conninfo, schema, lease seconds or None) of a store URL: a
    PostgreSQL URL whose query may also say `schema=NAME` (default advm) and
    `lease=SECONDS`; every other query parameter goes to libpq."""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    schema, lease, rest = DEFAULT_SCHEMA, None, []
    for name, value in query:
        if name == "schema":
            schema = value
        elif name == "lease":
            try:
                lease = float(value)
            except ValueError:
                lease = -1.0
            if not 0.1 <= lease <= 3600:
                raise StoreError(f"store URL: lease={value!r}: a lease is 0.1 to 3600 seconds")
        else:
            rest.append((name, value))
    if not _SCHEMA_NAME.match(schema):
        raise StoreError(f"store URL: schema={schema!r}: a schema name is lower-case letters, "
                         "digits and '_', at most 63, not starting with a digit")
    conninfo = urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(rest)))
    return conninfo, schema, lease


def shown(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urllib.parse.urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def migrate(conn: psycopg.Connection, schema: str, upto: int = SCHEMA_VERSION) -> int:
    """Create the schema or bring it to version `upto`, in one transaction
    under an advisory lock (two hosts opening a new database at once apply
    each migration once). Returns the version found before."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_ID,))
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))
        conn.execute("""CREATE TABLE IF NOT EXISTS advm_migrations (
                            version int PRIMARY KEY,
                            applied_at timestamptz NOT NULL DEFAULT now())""")
        found = conn.execute("SELECT coalesce(max(version), 0) FROM advm_migrations").fetchone()[0]
        if found > SCHEMA_VERSION:
            raise IncompatibleStore(
                f"PostgreSQL schema {schema!r} is at version {found}; this advm knows versions "
                f"up to {SCHEMA_VERSION} (a newer advm wrote it)")
        for version in range(found + 1, upto + 1):
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            conn.execute("INSERT INTO advm_migrations (version) VALUES (%s)", (version,))
    return found


def schema_version(conn: psycopg.Connection, schema: str) -> int | None:
    """The schema's version, or None when it holds no advm store."""
    row = conn.execute("SELECT to_regclass(%s)", (f"{schema}.advm_migrations",)).fetchone()
    if row[0] is None:
        return None
    return conn.execute(sql.SQL("SELECT coalesce(max(version), 0) FROM {}.advm_migrations")
                        .format(sql.Identifier(schema))).fetchone()[0]


class PgStore(StoreWrites):
    """A store in PostgreSQL schema `schema` of the database `url` names.
    `owner` (a serving host's name) turns leases on: see the module's
    docstring. `lease` is how long a lease lasts without renewal (seconds)."""

    def __init__(self, url: str, *, durability: Durability | str = Durability.SYNCED,
                 readonly: bool = False, retention: Retention = Retention(),
                 window: float = 0.0, max_batch: int = 4096, owner: str | None = None,
                 lease: float | None = None, pool_size: int = 4):
        self.url = url
        self.conninfo, self.schema, url_lease = parse_url(url)
        self.path = shown(url)
        self.durability = Durability(durability)
        self.readonly = readonly
        self.retention = retention
        self.owner = owner
        self.lease_ms = int(1000 * (lease or url_lease or DEFAULT_LEASE_S))
        self.closed = False
        self._held: dict[bytes, int] = {}  # doc -> the epoch of the lease taken
        self._options = f"-c search_path={self.schema}"
        self.committer = None
        self._renewer = None
        self._stop = threading.Event()
        try:
            probe = psycopg.connect(self.conninfo, autocommit=True, connect_timeout=10)
        except psycopg.Error as e:
            raise StoreError(f"cannot connect to the PostgreSQL store at {self.path}: "
                             f"{str(e).strip()}") from None
        try:
            if readonly:
                found = schema_version(probe, self.schema)
                if found is None:
                    raise StoreError(f"no store at {self.path} (schema {self.schema!r} holds "
                                     "no advm tables)")
                if found != SCHEMA_VERSION:
                    raise IncompatibleStore(
                        f"PostgreSQL schema {self.schema!r} is at version {found}; this advm "
                        f"reads version {SCHEMA_VERSION}" + (
                            " (open it once for writing to migrate it)" if found < SCHEMA_VERSION
                            else ""))
            else:
                migrate(probe, self.schema)
        finally:
            probe.close()
        self.pool = ConnectionPool(self.conninfo, min_size=1, max_size=pool_size, open=True,
                                   kwargs={"options": self._options, "autocommit": True},
                                   name=f"advm-store:{self.path}")
        if not readonly:
            self.committer = PgCommitter(self, policy=retention, window=window,
                                         max_batch=max_batch)
            if owner is not None:
                self._renewer = threading.Thread(target=self._renew, daemon=True,
                                                 name=f"advm-lease:{self.path}")
                self._renewer.start()

    # -- connections ---------------------------------------------------------------

    def connect(self) -> psycopg.Connection:
        """A connection of its own with the store's schema on its search path."""
        return psycopg.connect(self.conninfo, options=self._options, autocommit=True)

    @contextmanager
    def _read(self) -> Iterator[psycopg.Cursor]:
        if self.closed:
            raise StoreClosed(f"store at {self.path} is closed")
        with self.pool.connection() as conn:
            with conn.transaction():
                cur = conn.cursor(binary=True)
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                yield cur

    # -- leases ----------------------------------------------------------------------

    def _take(self, doc: str, raw: bytes) -> int:
        """Take the document's lease (a new epoch) unless another owner's is live."""
        with self.pool.connection() as conn:
            row = conn.execute(
                """INSERT INTO docs AS d (doc, owner, epoch, lease_until)
                   VALUES (%s, %s, 1, clock_timestamp() + %s * interval '1 millisecond')
                   ON CONFLICT (doc) DO UPDATE
                   SET owner = EXCLUDED.owner, epoch = d.epoch + 1,
                       lease_until = EXCLUDED.lease_until
                   WHERE d.owner IS NULL OR d.owner = EXCLUDED.owner OR d.lease_until IS NULL
                         OR d.lease_until < clock_timestamp()
                   RETURNING epoch""", (raw, self.owner, self.lease_ms)).fetchone()
            if row is None:
                held = conn.execute("SELECT owner, epoch, lease_until FROM docs WHERE doc = %s",
                                    (raw,)).fetchone()
                raise LeaseLost(f"document {doc!r} is held by host {held[0]!r} (epoch {held[1]}) "
                                f"until {held[2]:%H:%M:%S}; it can be loaded here once that lease "
                                "ends", doc=doc)
        self._held[raw] = row[0]
        if self.committer is not None:
            self.committer.known.pop(raw, None)  # the row changed: read it again
        return row[0]

    def epoch(self, doc: str) -> int | None:
        """The epoch of the lease this store took on the document, or None."""
        return self._held.get(keys.doc_bytes(doc))

    def _renew(self) -> None:
        conn = None
        while not self._stop.wait(self.lease_ms / 3000):
            try:
                if conn is None or conn.closed:
                    conn = self.connect()
                conn.execute("""UPDATE docs SET lease_until = clock_timestamp()
                                                + %s * interval '1 millisecond'
                                WHERE owner = %s""", (self.lease_ms, self.owner))
            except psycopg.Error:
                conn = None  # the next round reconnects; a lease not renewed in time is lost
        if conn is not None:
            conn.close()

    # -- reads -----------------------------------------------------------------------

    def load(self, doc: str) -> Recovery:
        """The newest snapshot and the log after it (the LMDB store's load);
        with an owner, taken after the document's lease."""
        raw = keys.doc_bytes(doc)
        if self.owner is not None:
            if self.closed:
                raise StoreClosed(f"store at {self.path} is closed")
            self._take(doc, raw)
        with self._read() as cur:
            snap = self._latest(cur, doc, raw, verify=False)  # CRC only, as LMDB's load
            seq = snap.seq if snap is not None else 0
            entries = self._entries(cur, doc, raw, seq, None, None)
        return Recovery(snap, seq, entries)

    def _latest(self, cur, doc: str, raw: bytes, *, verify: bool = True) -> Snapshot | None:
        row = cur.execute("SELECT seq, rec FROM snapshots WHERE doc = %s ORDER BY seq DESC "
                          "LIMIT 1", (raw,)).fetchone()
        if row is None:
            return None
        return snapshots.decode(doc, keys.snapshot_key(doc, row[0]), row[1], verify=verify)

    def _entries(self, cur, doc: str, raw: bytes, after: int, until: int | None,
                 limit: int | None) -> list[Entry]:
        query = "SELECT seq, rec FROM log WHERE doc = %s AND seq > %s"
        params: list = [raw, after]
        if until is not None:
            query += " AND seq <= %s"
            params.append(min(until, PG_MAX))
        query += " ORDER BY seq"
        if limit is not None:
            query += " LIMIT %s"
            params.append(limit)
        out: list[Entry] = []
        expect = after + 1
        quick, HEAD = log._quick, log._HEAD
        for seq, rec in cur.execute(query, params):
            if seq != expect:
                raise CorruptRecord(f"log of document {doc!r} has a hole: seq {expect} is "
                                    f"missing (next present is {seq})", doc=doc, db=log.DB,
                                    key=keys.log_key(doc, seq))
            entry = quick(rec, seq) if len(rec) > HEAD else None
            out.append(entry if entry is not None
                       else log.decode(doc, keys.log_key(doc, seq), rec))
            expect = seq + 1
        return out

    def log(self, doc: str, *, after: int = 0, until: int | None = None,
            limit: int | None = None) -> list[Entry]:
        raw = keys.doc_bytes(doc)
        with self._read() as cur:
            first = cur.execute("SELECT min(seq) FROM log WHERE doc = %s", (raw,)).fetchone()[0]
            start = max(after, first - 1) if first else after
            return self._entries(cur, doc, raw, start, until, limit)

    def entries(self, doc: str, *, after: int = 0, until: int | None = None,
                chunk: int = 1024) -> Iterator[Entry]:
        while True:
            batch = self.log(doc, after=after, until=until, limit=chunk)
            yield from batch
            if len(batch) < chunk:
                return
            after = batch[-1].seq

    def last_seq(self, doc: str) -> int:
        raw = keys.doc_bytes(doc)
        with self._read() as cur:
            row = cur.execute("SELECT last_seq FROM docs WHERE doc = %s", (raw,)).fetchone()
        return row[0] if row is not None else 0

    def first_seq(self, doc: str) -> int:
        raw = keys.doc_bytes(doc)
        with self._read() as cur:
            return cur.execute("SELECT min(seq) FROM log WHERE doc = %s",
                               (raw,)).fetchone()[0] or 0

    def snapshot(self, doc: str, seq: int | None = None, *, verify: bool = True) -> Snapshot | None:
        raw = keys.doc_bytes(doc)
        with self._read() as cur:
            if seq is None:
                return self._latest(cur, doc, raw, verify=verify)
            if not 0 <= seq <= PG_MAX:
                return None
            row = cur.execute("SELECT rec FROM snapshots WHERE doc = %s AND seq = %s",
                              (raw, seq)).fetchone()
        if row is None:
            return None
        return snapshots.decode(doc, keys.snapshot_key(doc, seq), row[0], verify=verify)

    def snapshot_seqs(self, doc: str) -> list[int]:
        raw = keys.doc_bytes(doc)
        with self._read() as cur:
            return [r[0] for r in cur.execute(
                "SELECT seq FROM snapshots WHERE doc = %s ORDER BY seq", (raw,))]

    def documents(self) -> list[str]:
        with self._read() as cur:
            rows = cur.execute("SELECT doc FROM docs WHERE last_seq > 0 OR snap_seq IS NOT NULL "
                               "ORDER BY doc").fetchall()
        return [bytes(r[0]).decode("utf-8") for r in rows]

    def timer(self, doc: str) -> int | None:
        raw = keys.doc_bytes(doc)
        with self._read() as cur:
            row = cur.execute("SELECT due FROM timers WHERE doc = %s", (raw,)).fetchone()
        return None if row is None else row[0]

    def due(self, now: int, limit: int | None = None) -> list[tuple[int, str]]:
        query = "SELECT due, doc FROM timers WHERE due <= %s ORDER BY due, doc"
        params: list = [min(now, PG_MAX)]
        if limit is not None:
            query += " LIMIT %s"
            params.append(limit)
        with self._read() as cur:
            return [(due, bytes(doc).decode("utf-8")) for due, doc in cur.execute(query, params)]

    def next_due(self) -> tuple[int, str] | None:
        with self._read() as cur:
            row = cur.execute("SELECT due, doc FROM timers ORDER BY due, doc LIMIT 1").fetchone()
        return None if row is None else (row[0], bytes(row[1]).decode("utf-8"))

    def module(self, digest: bytes) -> tuple[bytes, dict] | None:
        key = keys.module_key(digest)
        with self._read() as cur:
            row = cur.execute("SELECT rec FROM modules WHERE digest = %s", (key,)).fetchone()
        return None if row is None else modules.decode(key, row[0])

    def module_hashes(self) -> list[bytes]:
        with self._read() as cur:
            return [bytes(r[0]) for r in cur.execute("SELECT digest FROM modules ORDER BY digest")]

    def info(self) -> dict:
        with self._read() as cur:
            counts = {name: cur.execute(sql.SQL("SELECT count(*) FROM {}").format(
                sql.Identifier(name))).fetchone()[0]
                for name in ("log", "snapshots", "timers", "modules")}
        out = {"path": self.path, "backend": "postgresql", "schema": self.schema,
               "schema_version": SCHEMA_VERSION, "durability": self.durability.value,
               "records": counts}
        if self.owner is not None:
            out["owner"] = self.owner
            out["lease_s"] = self.lease_ms / 1000
        if self.committer is not None:
            out["commits"] = self.committer.stats()
        return out

    # -- lifetime --------------------------------------------------------------------

    def close(self) -> None:
        """Finish every write handed in, give this host's leases back (another
        host may take its documents at once), and close the connections."""
        if self.closed:
            return
        try:
            if self.committer is not None:
                self.committer.close()
            if self._renewer is not None:
                self._stop.set()
                self._renewer.join()
                try:
                    with self.pool.connection() as conn:
                        conn.execute("UPDATE docs SET owner = NULL, lease_until = NULL "
                                     "WHERE owner = %s", (self.owner,))
                except psycopg.Error:
                    pass  # the leases then end when they expire
        finally:
            self.closed = True
            self.pool.close()

    def __enter__(self) -> "PgStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Head:
    """A document's row of `docs` as a batch sees it; `orig` is (last_seq,
    owner, epoch) as read, which the batch's conditional update expects."""

    __slots__ = ("last", "snap", "owner", "epoch", "live", "exists", "changed", "orig")

    def __init__(self, last=0, snap=None, owner=None, epoch=0, live=False, exists=False):
        self.last, self.snap, self.owner, self.epoch = last, snap, owner, epoch
        self.live, self.exists, self.changed = live, exists, False
        self.orig = (last, owner, epoch)

    def copy(self) -> "_Head":
        return _Head(self.last, self.snap, self.owner, self.epoch, self.live, self.exists)


class _Stale(Exception):
    """A row changed since the batch read it (another writer, a lease taken):
    the batch is rolled back and applied again from rows read under lock."""


class PgBatch:
    """One PostgreSQL transaction's worth of operations. The documents' rows
    come from the committer's memory of its last commits (`known`) or are
    read once; log rows are gathered and inserted with one statement; timers
    and rows are written once at the end, each row by an update conditional
    on what was read (its log end, owner and epoch), so a row another writer
    changed meanwhile (a lease taken over) makes the batch _Stale rather than
    commit. With `lock` the rows are read FOR UPDATE instead: nothing can
    change under the batch (its second attempt)."""

    def __init__(self, store: PgStore, cur, ops, known: dict, lock: bool):
        self.store = store
        self.cur = cur
        self.heads: dict[bytes, _Head] = {}
        self.rows: tuple[list, list, list] = ([], [], [])
        self.timers: dict[bytes, int | None] = {}
        docs = {op.prefix[:-1] for op in ops if getattr(op, "prefix", None) is not None}
        missing = []
        for raw in docs:
            h = None if lock else known.get(raw)
            if h is None:
                missing.append(raw)
            else:
                self.heads[raw] = h.copy()
        if missing:
            for doc, last, snap, owner, epoch, live in cur.execute(
                    """SELECT doc, last_seq, snap_seq, owner, epoch,
                              lease_until IS NOT NULL AND lease_until > clock_timestamp()
                       FROM docs WHERE doc = ANY(%b) ORDER BY doc"""
                    + (" FOR UPDATE" if lock else ""), (missing,)):
                self.heads[bytes(doc)] = _Head(last, snap, owner, epoch, live, True)

    def check(self, doc: str, raw: bytes) -> _Head:
        """The document's row, or LeaseLost when this writer may not write it
        (leases, spec/store.md 20.4). Checks only: own() takes it."""
        h = self.heads.get(raw)
        if h is None:
            h = self.heads[raw] = _Head()
        store = self.store
        if store.owner is None:
            if h.owner is not None and h.live:
                raise LeaseLost(f"document {doc!r} is held by host {h.owner!r} (epoch "
                                f"{h.epoch}); stop it, or wait until its lease ends", doc=doc)
            return h
        held = store._held.get(raw)
        if not h.exists and h.epoch == 0 and held is None:
            return h  # a new document: this host creates it (own() takes epoch 1)
        if h.owner != store.owner or h.epoch != held:
            raise LeaseLost(
                f"document {doc!r}: this host's lease (epoch {held}) is gone; "
                + (f"host {h.owner!r} holds it at epoch {h.epoch}" if h.owner
                   else f"it is at epoch {h.epoch}") + "; the write is refused", doc=doc)
        return h

    def own(self, raw: bytes, h: _Head) -> None:
        """Write the document's row with this batch (after every check passed):
        a tool's write raises the epoch, fencing out whoever held it."""
        store = self.store
        if store.owner is None:
            if h.owner is not None or not h.changed:
                h.owner, h.live = None, False
                h.epoch += 1
        elif not h.exists and h.epoch == 0 and store._held.get(raw) is None:
            store._held[raw] = 1
            h.epoch, h.owner = 1, store.owner
        h.changed = True

    def head(self, doc: str, raw: bytes) -> _Head:
        h = self.check(doc, raw)
        self.own(raw, h)
        return h

    def flush(self) -> None:
        docs, seqs, recs = self.rows
        if docs:
            self.cur.execute("INSERT INTO log (doc, seq, rec) SELECT * FROM "
                             "unnest(%b::bytea[], %b::bigint[], %b::bytea[])", (docs, seqs, recs))
            self.rows = ([], [], [])

    def trim(self, doc: bytes, policy, history) -> tuple[int, int]:
        self.flush()
        cur = self.cur
        held = [r[0] for r in cur.execute("SELECT seq FROM snapshots WHERE doc = %s ORDER BY seq",
                                          (doc,))]
        gone, cut = retention.plan(policy, held, history)
        if gone:
            cur.execute("DELETE FROM snapshots WHERE doc = %s AND seq = ANY(%b)", (doc, gone))
        removed = 0
        if cut:
            removed = cur.execute("DELETE FROM log WHERE doc = %s AND seq <= %s RETURNING 1",
                                  (doc, cut)).fetchall()
            removed = len(removed)
        return len(gone), removed

    def apply(self, op):
        if isinstance(op, commit_mod.Change):
            return self.change(op)
        if isinstance(op, commit_mod.DeleteDoc):
            raw = op.prefix[:-1]
            h = self.head(op.doc, raw)
            self.flush()
            cur = self.cur
            removed = len(cur.execute("DELETE FROM log WHERE doc = %s RETURNING 1",
                                      (raw,)).fetchall())
            removed += len(cur.execute("DELETE FROM snapshots WHERE doc = %s RETURNING 1",
                                       (raw,)).fetchall())
            self.timers[raw] = None
            h.last, h.snap = 0, None
            return removed
        if isinstance(op, commit_mod.TrimDoc):
            raw = op.prefix[:-1]
            self.head(op.doc, raw)
            return self.trim(raw, op.policy, op.history)
        if isinstance(op, commit_mod.PutModule):
            self.cur.execute("INSERT INTO modules (digest, rec) VALUES (%s, %s) "
                             "ON CONFLICT (digest) DO NOTHING", (op.digest, op.value))
            return op.digest
        if isinstance(op, commit_mod.Barrier):
            return None
        raise StoreError(f"the PostgreSQL store cannot apply {type(op).__name__}")

    def change(self, op):
        doc, raw = op.doc, op.prefix[:-1]
        h = self.check(doc, raw)  # the lease first: a fenced host learns why
        new_last = commit_mod.checked_last(doc, h.last, op.entries, op.snapshot, h.snap)
        if new_last > PG_MAX:
            raise StoreError(f"document {doc!r}: seq {new_last} is past PostgreSQL's bigint",
                             doc=doc)
        if op.timer is not KEEP and op.timer is not None and op.timer > PG_MAX:
            raise StoreError(f"document {doc!r}: wake time {op.timer} is past PostgreSQL's "
                             "bigint", doc=doc)
        self.own(raw, h)  # every check passed: now write
        docs, seqs, recs = self.rows
        for seq, value in op.entries:
            docs.append(raw)
            seqs.append(seq)
            recs.append(value)
        if op.snapshot is not None:
            self.flush()
            self.cur.execute("INSERT INTO snapshots (doc, seq, rec) VALUES (%s, %s, %s) "
                             "ON CONFLICT (doc, seq) DO UPDATE SET rec = EXCLUDED.rec",
                             (raw, op.snapshot[0], op.snapshot[1]))
            h.snap = op.snapshot[0]
            self.trim(raw, self.store.retention, op.history)
        if op.timer is not KEEP:
            self.timers[raw] = op.timer
        h.last = new_last
        return new_last

    def finish(self) -> None:
        cur = self.cur
        if self.timers:
            clear = [d for d, due in self.timers.items() if due is None]
            put = [(d, due) for d, due in self.timers.items() if due is not None]
            if clear:
                cur.execute("DELETE FROM timers WHERE doc = ANY(%b)", (clear,))
            if put:
                cur.execute("""INSERT INTO timers (doc, due)
                               SELECT * FROM unnest(%b::bytea[], %b::bigint[])
                               ON CONFLICT (doc) DO UPDATE SET due = EXCLUDED.due""",
                            ([d for d, _ in put], [due for _, due in put]))
        old = [(d, h) for d, h in self.heads.items() if h.changed and h.exists]
        new = [(d, h) for d, h in self.heads.items() if h.changed and not h.exists]
        if old:
            # An update waits for a row another transaction holds (a lease
            # being taken) and then re-checks its WHERE against the row as
            # committed: a takeover that committed first leaves the row
            # unmatched, and the batch is _Stale (spec/store.md 20.4).
            # The gathered log rows go in the same statement (one round trip).
            docs, seqs, recs = self.rows
            self.rows = ([], [], [])
            done = cur.execute(
                """WITH ins AS (INSERT INTO log (doc, seq, rec)
                                SELECT * FROM unnest(%b::bytea[], %b::bigint[], %b::bytea[]))
                   UPDATE docs AS d
                   SET last_seq = t.last, snap_seq = t.snap, owner = t.owner, epoch = t.epoch,
                       lease_until = CASE WHEN t.owner IS NULL THEN NULL ELSE d.lease_until END
                   FROM unnest(%b::bytea[], %b::bigint[], %b::bigint[], %b::text[], %b::bigint[],
                               %b::bigint[], %b::text[], %b::bigint[])
                        AS t(doc, last, snap, owner, epoch, was_last, was_owner, was_epoch)
                   WHERE d.doc = t.doc AND d.last_seq = t.was_last
                         AND d.owner IS NOT DISTINCT FROM t.was_owner AND d.epoch = t.was_epoch
                   RETURNING d.doc""",
                (docs, seqs, recs,
                 [d for d, _ in old], [h.last for _, h in old], [h.snap for _, h in old],
                 [h.owner for _, h in old], [h.epoch for _, h in old],
                 [h.orig[0] for _, h in old], [h.orig[1] for _, h in old],
                 [h.orig[2] for _, h in old])).fetchall()
            if len(done) != len(old):
                raise _Stale()
        self.flush()
        if new:
            done = cur.execute(
                """INSERT INTO docs (doc, last_seq, snap_seq, owner, epoch, lease_until)
                   SELECT doc, last, snap, owner, epoch,
                          CASE WHEN owner IS NULL THEN NULL
                               ELSE clock_timestamp() + %s * interval '1 millisecond' END
                   FROM unnest(%b::bytea[], %b::bigint[], %b::bigint[], %b::text[], %b::bigint[])
                        AS t(doc, last, snap, owner, epoch)
                   ON CONFLICT (doc) DO NOTHING RETURNING doc""",
                (self.store.lease_ms, [d for d, _ in new], [h.last for _, h in new],
                 [h.snap for _, h in new], [h.owner for _, h in new],
                 [h.epoch for _, h in new])).fetchall()
            if len(done) != len(new):
                raise _Stale()  # another writer created the document meanwhile

    def remember(self, known: dict) -> None:
        """After COMMIT: the rows as this batch left them, for the next batches
        (not another owner's, whose lease may end meanwhile)."""
        if len(known) > _KNOWN_MAX:
            known.clear()
        owner = self.store.owner
        for raw, h in self.heads.items():
            if h.owner is None or h.owner == owner:
                h.exists = True
                h.orig = (h.last, h.owner, h.epoch)
                h.changed = False
                known[raw] = h


class PgCommitter(GroupCommitter):
    """The LMDB committer's thread and queue, committing into PostgreSQL:
    one connection, one transaction per batch, futures resolved after COMMIT."""

    def __init__(self, store: PgStore, **options):
        self.store = store
        self.known: dict[bytes, _Head] = {}  # rows as this committer's last commits left them
        self.conn = store.connect()
        if store.durability is Durability.RELAXED:
            self.conn.execute("SET synchronous_commit = off")
        if store.owner is not None:
            # a host paused inside a transaction would hold its documents' rows
            # locked, and the host taking them over would wait: the server ends
            # such a session (and its transaction) after one lease
            self.conn.execute(sql.SQL("SET idle_in_transaction_session_timeout = {}").format(
                sql.Literal(store.lease_ms)))
        super().__init__(store, **options)

    def _commit(self, batch) -> None:
        live = [op for op in batch if commit_mod._claim(op)]
        if not live:
            return
        if self._broken is not None:
            commit_mod._resolve(live, [self._broken] * len(live))
            return
        for attempt in (0, 1):
            try:
                with self.conn.transaction():
                    cur = self.conn.cursor(binary=True)
                    work = PgBatch(self.store, cur, live, self.known, lock=attempt == 1)
                    results = [_apply(work, op) for op in live]
                    work.finish()
                work.remember(self.known)
            except (_Stale, psycopg.errors.IntegrityError, psycopg.errors.SerializationFailure,
                    psycopg.errors.DeadlockDetected) as exc:
                # a row changed since it was read, or another writer created a
                # document this batch also created: the second attempt reads
                # the rows under lock and refuses what no longer fits
                self.known.clear()
                if attempt == 0:
                    continue
                results = [StoreError(f"{_who(op)}: the write conflicted with another "
                                      f"writer: {str(exc).strip() or 'a row changed'}",
                                      doc=op.doc) for op in live]
            except psycopg.OperationalError as exc:
                self.known.clear()
                self._broken = StoreError(
                    f"store at {self.store.path} failed ({str(exc).strip()}); nothing after the "
                    "last acknowledged commit is durable. Restart to recover from the database.")
                results = [self._broken] * len(live)
            except Exception as exc:  # a bug in an operation: fail this batch only
                self.known.clear()
                results = [StoreError(f"internal error committing {_who(op)}: {exc!r}",
                                      doc=op.doc) for op in live]
            break
        self.batches += 1
        self.ops += len(live)
        self.largest_batch = max(self.largest_batch, len(live))
        commit_mod._resolve(live, results)

    def close(self) -> None:
        super().close()
        self.conn.close()


def _apply(batch: PgBatch, op):
    try:
        return batch.apply(op)
    except StoreError as err:
        return err


_who = commit_mod._who

__all__ = ["MIGRATIONS", "PgStore", "SCHEMA_VERSION", "is_url", "migrate", "parse_url"]
