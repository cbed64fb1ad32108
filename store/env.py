"""Opening the LMDB environment: one per host directory, five named databases,
the durability mode, the store format check and the map-size growth policy.

LMDB lets a map grow only while no transaction of this process is open
(mdb_env_set_mapsize), and the library does not check that for us. Readers
therefore pass a shared gate and growth takes it exclusively; the committer
thread is the only writer, and it grows the map between its own transactions.
"""
from __future__ import annotations

import enum
import os
import struct
import threading
from contextlib import contextmanager
from pathlib import Path

import lmdb

from . import keys, records
from .errors import DamagedStore, IncompatibleStore, StoreClosed, StoreError

# Version of the key layout and record formats as a whole. Bump it when a
# reader of the old layout would misread the new one; a store with any other
# value refuses to open (meta DB, key "format").
# 2: a log entry's frames digest covers only decided frames, not view deltas
#    (spec/store.md 11.3); a format-1 log would diverge on replay. No format-1
#    store was ever released, so there is no migration.
# 3: a log envelope is a positional CBOR array, not a map (spec/store.md 3);
#    a format-2 reader would find no fields in it. No format-2 store was
#    released either.
# 4: a digest is a version byte and 8 bytes, with error texts left out
#    (spec/store.md 11.3). A format-3 store opens: its entries keep their
#    8-byte digests and verify by the old rule (durable/inputs.py
#    digest_matches), and opening it to write records format 4, since a
#    format-3 advm would not read the new digests.
STORE_FORMAT = 4
READABLE_FORMATS = (3, 4)

DEFAULT_DIR = ".advm"
MIB = 1 << 20
DEFAULT_MAP_SIZE = 64 * MIB
DEFAULT_MAP_CAP = 1 << 40  # 1 TiB of address space; disk use follows actual data
PAGE = 4096


class Durability(str, enum.Enum):
    """What an acknowledged commit survives.

    SYNCED: every group commit is flushed (fdatasync of data and meta pages)
    before any caller is acknowledged. Loses nothing acknowledged, through
    process crash, OS crash or power loss (if the disk honours flushes).

    RELAXED: commits reach the OS page cache but are not flushed (MDB_NOSYNC).
    A killed process loses nothing; an OS crash or power loss can lose the
    most recent acknowledged commits (the store stays consistent: it comes
    back as of some earlier commit). For tests and benchmarks.
    """

    SYNCED = "synced"
    RELAXED = "relaxed"


class _Gate:
    """Many readers or one map resize, never both."""

    def __init__(self):
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._resizing = False

    @contextmanager
    def shared(self):
        with self._cond:
            while self._resizing:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def exclusive(self):
        with self._cond:
            while self._resizing:
                self._cond.wait()
            self._resizing = True
            while self._readers:
                self._cond.wait()
        try:
            yield
        finally:
            with self._cond:
                self._resizing = False
                self._cond.notify_all()


class StoreEnv:
    """The open environment and its database handles."""

    def __init__(self, path: str | os.PathLike = DEFAULT_DIR, *,
                 durability: Durability | str = Durability.SYNCED,
                 map_size: int = DEFAULT_MAP_SIZE, map_cap: int = DEFAULT_MAP_CAP,
                 readonly: bool = False):
        self.path = Path(path)
        self.durability = Durability(durability)
        self.readonly = readonly
        self.map_cap = max(map_cap, map_size)
        self._gate = _Gate()
        self.closed = False
        synced = self.durability is Durability.SYNCED
        if not readonly:
            try:
                self.path.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"cannot create store directory {self.path}: "
                                 f"{exc.strerror}") from None
        elif not (self.path / "data.mdb").exists():
            raise StoreError(f"no store at {self.path} (no data.mdb)")
        check_files(self.path)
        try:
            self.env = lmdb.open(
                str(self.path), map_size=_round(map_size), max_dbs=len(keys.ALL_DBS) + 1,
                # metasync off: the meta page is flushed by our own fdatasync
                # after each commit (sync_meta), not by LMDB's O_DSYNC write of
                # it; the same promise (data, then meta, both on disk before
                # anyone is told), measured up to 2x the synced commits a
                # second on a busy disk (bench/README.md, issue 12 point 4).
                sync=synced, metasync=False, readonly=readonly,
                # Cold reads of a document measured ~20x faster without
                # readahead: a document is a few scattered pages, not a scan.
                readahead=False, lock=True, max_readers=512)
        except lmdb.Error as exc:
            raise StoreError(f"cannot open store at {self.path}: {exc}") from None
        self.flush_meta = synced and not readonly
        try:
            self._adopt_map_size(map_size)
            self._open_dbs()
            self._check_format()
            self.sync_meta()
        except BaseException:
            self.env.close()
            raise

    # -- opening -----------------------------------------------------------

    def _adopt_map_size(self, wanted: int) -> None:
        if self.readonly:
            return
        # An existing store may have grown past `wanted`; size 0 adopts the
        # size recorded in the file instead of shrinking to the used pages.
        self.env.set_mapsize(0)
        if self.map_size < wanted:
            self.env.set_mapsize(_round(wanted))

    def _open_dbs(self) -> None:
        handles = {}
        try:
            for name in keys.ALL_DBS:
                handles[name] = self.env.open_db(name, create=not self.readonly)
        except lmdb.NotFoundError:
            raise IncompatibleStore(
                f"store at {self.path} has no {name.decode()!r} database: "
                "not an advm store, or written by an incompatible version") from None
        except lmdb.Error as exc:
            raise StoreError(f"cannot open databases of store at {self.path}: {exc}") from None
        self.snapshots = handles[keys.DB_SNAPSHOTS]
        self.log = handles[keys.DB_LOG]
        self.timers = handles[keys.DB_TIMERS]
        self.modules = handles[keys.DB_MODULES]
        self.meta = handles[keys.DB_META]

    def _check_format(self) -> None:
        with self.env.begin(write=not self.readonly) as txn:
            raw = txn.get(keys.META_FORMAT, db=self.meta)
            if raw is None:
                if any(txn.stat(db)["entries"] for db in
                       (self.snapshots, self.log, self.timers, self.modules)):
                    raise IncompatibleStore(
                        f"store at {self.path} holds data but no format record: "
                        "not written by advm, or damaged")
                if self.readonly:
                    return
                txn.put(keys.META_FORMAT,
                        records.pack(records.KIND_META, {"format": STORE_FORMAT}), db=self.meta)
                return
            record = records.unpack(records.KIND_META, raw, doc=None, db="meta",
                                    key=keys.META_FORMAT)
            found = records.field(record, "format", int, doc=None, db="meta",
                                  key=keys.META_FORMAT)
        if found not in READABLE_FORMATS:
            raise IncompatibleStore(
                f"store at {self.path} was written with store format {found}; "
                f"this advm reads formats {READABLE_FORMATS[0]} to {STORE_FORMAT}. Export its "
                "documents with the advm that wrote it, or point --store at another directory.")
        if found != STORE_FORMAT and not self.readonly:
            with self.env.begin(write=True) as txn:
                txn.put(keys.META_FORMAT,
                        records.pack(records.KIND_META, {"format": STORE_FORMAT}), db=self.meta)

    # -- transactions --------------------------------------------------------

    @contextmanager
    def read(self):
        """A read transaction whose values are zero-copy buffers, valid only inside."""
        if self.closed:
            raise StoreClosed(f"store at {self.path} is closed")
        for attempt in (0, 1):
            with self._gate.shared():
                try:
                    txn = self.env.begin(buffers=True)
                except lmdb.MapResizedError:
                    if attempt:
                        raise
                    txn = None
                if txn is not None:
                    try:
                        yield txn
                    finally:
                        txn.abort()
                    return
            # Another process grew the map: adopt its size, then read again.
            with self._gate.exclusive():
                self.env.set_mapsize(0)

    def begin_write(self):
        """The committer's write transaction (only the committer thread calls this)."""
        try:
            return self.env.begin(write=True, buffers=True)
        except lmdb.MapResizedError:
            with self._gate.exclusive():
                self.env.set_mapsize(0)
            return self.env.begin(write=True, buffers=True)

    # -- map size ---------------------------------------------------------------

    @property
    def map_size(self) -> int:
        return self.env.info()["map_size"]

    def grow(self, needed: int) -> bool:
        """Enlarge the map to fit `needed` more bytes: at least double, at most
        the cap. False when already at the cap. Call with no write txn open."""
        current = self.map_size
        if current >= self.map_cap:
            return False
        target = min(self.map_cap, max(current * 2, current + 2 * needed))
        with self._gate.exclusive():
            self.env.set_mapsize(_round(target))
        return True

    def sync(self) -> None:
        if not self.readonly:
            self.env.sync(True)

    def sync_meta(self) -> None:
        """After a commit on a synced store: flush the meta page LMDB wrote
        without a flush (metasync off; the commit itself flushed the data
        pages first). Until this returns, the commit is not durable and must
        not be acknowledged. A relaxed store does nothing. Raises lmdb.Error."""
        if self.flush_meta:
            self.env.sync(True)

    def close(self) -> None:
        with self._gate.exclusive():
            if not self.closed:
                self.closed = True
                self.env.close()


# LMDB's meta pages (lmdb.h, mdb.c; data format version 1, 64-bit builds):
# pages 0 and 1 of data.mdb, each a page header (pgno u64, pad u16, flags
# u16, lower u16, upper u16) and an MDB_meta: magic u32, version u32, address
# u64, mapsize u64, two MDB_db of 48 bytes (the first one's leading u32 is
# the page size), last_pg u64, txnid u64. LMDB keeps no checksum: the magic,
# version and flags are what it checks itself.
_META_HEAD = struct.Struct("<QHHHH")
_META = struct.Struct("<IIQQ")
_PSIZE = struct.Struct("<I")
_TAIL = struct.Struct("<QQ")
_MAGIC, _DATA_VERSION, _P_META = 0xBEEFC0DE, 1, 0x08
_MIN_PAGE, _MAX_PAGE = 512, 0x10000


def check_files(path: str | os.PathLike) -> None:
    """Refuse a data.mdb that LMDB would map and then crash on: both meta
    pages must be LMDB's (magic, version, flags, page size), and the file
    must hold every page the newer meta page says is in use (a file cut
    short is a SIGBUS at the first read of a missing page, in the server,
    `replay` or `snapshot inspect`). DamagedStore names the file and what is
    wrong. A missing or empty data.mdb is a new store (LMDB makes it).

    The meta pages are read before the file's size: a writer in another
    process writes its pages before the meta page that uses them, so a
    store being written to never looks short."""
    data = Path(path) / "data.mdb"
    try:
        with open(data, "rb") as f:
            head = f.read(2 * _MAX_PAGE)
            metas = []
            psize = _MIN_PAGE
            for i in (0, 1):
                off = i * psize
                if len(head) < off + _TAIL.size + 136:
                    if not head:
                        return
                    raise DamagedStore(f"damaged store: {data} is {len(head)} bytes, too short "
                                       f"for LMDB's two meta pages (cut short?)")
                pgno, _, flags, _, _ = _META_HEAD.unpack_from(head, off)
                magic, version, _, mapsize = _META.unpack_from(head, off + 16)
                (psize,) = _PSIZE.unpack_from(head, off + 40)
                last_pg, txnid = _TAIL.unpack_from(head, off + 136)
                if magic != _MAGIC or not flags & _P_META or pgno != i:
                    raise DamagedStore(f"damaged store: {data}: meta page {i} is not an LMDB "
                                       f"meta page (magic {magic:#x}, flags {flags:#x}); "
                                       "restore the directory from a backup or export")
                if version != _DATA_VERSION:
                    raise DamagedStore(f"damaged store: {data}: meta page {i} has LMDB data "
                                       f"version {version}, this build reads {_DATA_VERSION}")
                if psize < _MIN_PAGE or psize > _MAX_PAGE or psize & (psize - 1):
                    raise DamagedStore(f"damaged store: {data}: meta page {i} gives page size "
                                       f"{psize}, not a power of two from {_MIN_PAGE} to {_MAX_PAGE}")
                metas.append((txnid, last_pg, mapsize, psize, i))
            if metas[0][3] != metas[1][3]:
                raise DamagedStore(f"damaged store: {data}: its meta pages disagree on the page "
                                   f"size ({metas[0][3]} and {metas[1][3]})")
            txnid, last_pg, mapsize, psize, which = max(metas)
            size = os.fstat(f.fileno()).st_size
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StoreError(f"cannot read {data}: {exc.strerror or exc}") from None
    need = (last_pg + 1) * psize
    if need > mapsize:
        raise DamagedStore(f"damaged store: {data}: meta page {which} (transaction {txnid}) uses "
                           f"pages up to {last_pg}, beyond its map size of {mapsize} bytes")
    if size < need:
        raise DamagedStore(f"damaged store: {data} is {size} bytes but its last commit "
                           f"(transaction {txnid}, meta page {which}) uses {need} bytes "
                           f"({last_pg + 1} pages of {psize}): the file was cut short; "
                           "restore the directory from a backup or export")


def _round(size: int) -> int:
    return max(PAGE, -(-int(size) // PAGE) * PAGE)
