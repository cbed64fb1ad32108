"""Code modules by content hash: the compiled document a log was written
against, so a store can replay its documents without the original source.

The key is sha256 of the code bytes; reading verifies it, so a module can
never be swapped for different code under the same name.
"""
from __future__ import annotations

import hashlib
from typing import Any

from . import keys, records

DB = "modules"


def module_hash(code: bytes) -> bytes:
    return hashlib.sha256(code).digest()


def encode(code: bytes, info: dict[str, Any] | None) -> bytes:
    body: dict[str, Any] = {"code": bytes(code)}
    if info:
        body["info"] = dict(info)
    return records.pack(records.KIND_MODULE, body)


def get(txn, db, digest: bytes) -> tuple[bytes, dict] | None:
    """(code, info) of the module with this hash, or None."""
    key = keys.module_key(digest)
    raw = txn.get(key, db=db)
    return None if raw is None else decode(key, raw)


def decode(key: bytes, raw) -> tuple[bytes, dict]:
    """(code, info) of a stored module record; its code must match the hash it is kept under."""
    label = f"module {key.hex()[:16]}"
    rec = records.unpack(records.KIND_MODULE, raw, doc=label, db=DB, key=key)
    code = records.field(rec, "code", bytes, doc=label, db=DB, key=key)
    if module_hash(code) != key:
        raise records.corrupt("code does not match its hash", label, DB, key)
    info = rec.get("info") or {}
    return code, info


def hashes(txn, db) -> list[bytes]:
    return [bytes(k) for k in txn.cursor(db).iternext(keys=True, values=False)]
