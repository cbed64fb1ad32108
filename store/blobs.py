"""Where uploaded files' bytes live (spec/store.md 14, language.md 4.29).

A blob store is content-addressed: a blob's id is the SHA-384 of its bytes
(hex), so the same file uploaded twice is stored once, and a document holds
only the asset's facts (id, name, type, size, md5, sha384), never bytes.
`BlobStore` is what the server needs; `FolderBlobStore` keeps blobs in a
folder (by default beside the LMDB store); a cloud object store implements
the same five methods.

Writes are streamed: `writer()` takes chunks as they arrive, refuses past its
limit, and `finish()` moves the file into place atomically (a crash leaves at
most a temporary file, which `collect` removes). `collect` is the garbage
collector: it deletes every blob no document references that is older than a
grace period (an upload not yet attached is young).
"""
from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path
from typing import Iterable, Iterator, Protocol

_ID = re.compile(r"[0-9a-f]{96}")
CHUNK = 64 * 1024


class BlobError(Exception):
    pass


class TooLarge(BlobError):
    """A blob past the writer's limit: nothing is kept."""


class BlobWriter(Protocol):
    def write(self, chunk: bytes) -> None: ...
    def finish(self) -> dict: ...
    def abort(self) -> None: ...


class BlobStore(Protocol):
    def writer(self, limit: int) -> BlobWriter: ...
    def read(self, blob_id: str) -> Iterator[bytes]: ...
    def size(self, blob_id: str) -> int | None: ...
    def ids(self) -> Iterator[tuple[str, float]]: ...  # (id, when it was stored, seconds since the epoch)
    def delete(self, blob_id: str) -> bool: ...


def valid_id(blob_id) -> bool:
    return isinstance(blob_id, str) and _ID.fullmatch(blob_id) is not None


class _FolderWriter:
    def __init__(self, store: "FolderBlobStore", limit: int):
        self.store, self.limit = store, limit
        self.sha, self.md5, self.size = hashlib.sha384(), hashlib.md5(), 0
        self.tmp = store.root / "tmp" / f"{os.getpid()}-{time.monotonic_ns()}-{id(self)}"
        self.tmp.parent.mkdir(parents=True, exist_ok=True)
        self.file = open(self.tmp, "wb")

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            self.abort()
            raise TooLarge(f"the file is larger than {self.limit} bytes")
        self.sha.update(chunk)
        self.md5.update(chunk)
        self.file.write(chunk)

    def finish(self) -> dict:
        """The blob's facts once it is in place: {id, size, md5, sha384}."""
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        blob_id = self.sha.hexdigest()
        target = self.store.path(blob_id)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.tmp, target)  # the same bytes again replace themselves
        return {"id": blob_id, "size": self.size, "md5": self.md5.hexdigest(), "sha384": blob_id}

    def abort(self) -> None:
        if not self.file.closed:
            self.file.close()
        try:
            self.tmp.unlink()
        except FileNotFoundError:
            pass


class FolderBlobStore:
    """Blobs as files `<root>/<id[:2]>/<id>`; uploads in progress in `<root>/tmp`."""

    def __init__(self, root):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, blob_id: str) -> Path:
        if not valid_id(blob_id):
            raise BlobError(f"not a blob id: {blob_id!r:.40}")
        return self.root / blob_id[:2] / blob_id

    def writer(self, limit: int) -> _FolderWriter:
        return _FolderWriter(self, limit)

    def put(self, data: bytes, limit: int | None = None) -> dict:
        w = self.writer(len(data) if limit is None else limit)
        w.write(data)
        return w.finish()

    def read(self, blob_id: str) -> Iterator[bytes]:
        with open(self.path(blob_id), "rb") as f:
            while True:
                chunk = f.read(CHUNK)
                if not chunk:
                    return
                yield chunk

    def size(self, blob_id: str) -> int | None:
        try:
            return self.path(blob_id).stat().st_size
        except (FileNotFoundError, BlobError):
            return None

    def ids(self) -> Iterator[tuple[str, float]]:
        for sub in sorted(self.root.iterdir()):
            if sub.name == "tmp" or not sub.is_dir():
                continue
            for f in sorted(sub.iterdir()):
                if valid_id(f.name):
                    yield f.name, f.stat().st_mtime

    def delete(self, blob_id: str) -> bool:
        try:
            self.path(blob_id).unlink()
            return True
        except FileNotFoundError:
            return False

    def stale_uploads(self, older_than: float) -> list[Path]:
        tmp = self.root / "tmp"
        if not tmp.is_dir():
            return []
        return [f for f in tmp.iterdir() if f.stat().st_mtime < older_than]


def referenced(values: Iterable) -> set[str]:
    """The blob ids that JSON values (documents' states) hold as assets:
    objects with an `id` and a `sha384` that are a blob id."""
    found: set[str] = set()
    stack = list(values)
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            i = v.get("sha384")
            if valid_id(i) and v.get("id") == i:
                found.add(i)
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return found


GRACE_SECONDS = 600.0  # an unreferenced blob younger than this is kept (its @attached may not have run)


def collect(blobs: BlobStore, keep: set[str], *, grace: float = GRACE_SECONDS, now: float | None = None) -> list[str]:
    """Delete every blob not in `keep` stored more than `grace` seconds ago
    (and uploads abandoned that long ago); returns the ids deleted."""
    now = time.time() if now is None else now
    gone = [i for i, stored in list(blobs.ids()) if i not in keep and stored < now - grace]
    for i in gone:
        blobs.delete(i)
    for f in getattr(blobs, "stale_uploads", lambda t: [])(now - grace):
        try:
            f.unlink()
        except FileNotFoundError:
            pass
    return gone


__all__ = ["BlobError", "BlobStore", "BlobWriter", "CHUNK", "FolderBlobStore", "GRACE_SECONDS", "TooLarge",
           "collect", "referenced", "valid_id"]
