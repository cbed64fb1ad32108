"""Spaces in one store (spec/store.md 2.1): each space's documents under
their own key prefix, and the list of spaces a server hosts.

    view = SpaceStore(store, "chat")      # the store as space chat's documents see it
    view.load("room1")                    # is store.load("\\x00chat\\x00room1")
    registry = Registry(directory)        # DIR/spaces.json: name -> module, limits, authorities

A `SpaceStore` has the store's interface (store/interface.py) for one
space's documents: every call that names a document names it within the
space, and `documents()`, `due()` and `next_due()` list that space's alone.
The default space's view is the store itself but for those listings, so a
store written before spaces opens unchanged: all its documents belong to
the default space.
"""
from __future__ import annotations

import json
import os
import threading

from .keys import DEFAULT_SPACE, space_doc, space_of, space_problem, split_space_doc

REGISTRY_FILE = "spaces.json"
MAX_SPACES = 1000  # spaces one store (one server) holds


class SpaceStore:
    """The store as one space's documents see it."""

    def __init__(self, store, space: str):
        problem = space_problem(space)
        if problem is not None:
            raise ValueError(f"space {space!r}: {problem}")
        self.store = store
        self.space = space

    def __getattr__(self, name):  # modules, barrier, info, path, committer ...
        return getattr(self.store, name)

    def _doc(self, key: str) -> str:
        return space_doc(self.space, key)

    def commit(self, doc, *args, **kwargs):
        return self.store.commit(self._doc(doc), *args, **kwargs)

    def commit_async(self, doc, *args, **kwargs):
        return self.store.commit_async(self._doc(doc), *args, **kwargs)

    def append_envelope(self, doc, *args, **kwargs):
        return self.store.append_envelope(self._doc(doc), *args, **kwargs)

    def append(self, doc, *args, **kwargs):
        return self.store.append(self._doc(doc), *args, **kwargs)

    def append_async(self, doc, *args, **kwargs):
        return self.store.append_async(self._doc(doc), *args, **kwargs)

    def schedule(self, doc, *args, **kwargs):
        return self.store.schedule(self._doc(doc), *args, **kwargs)

    def delete(self, doc):
        return self.store.delete(self._doc(doc))

    def trim(self, doc, *args, **kwargs):
        return self.store.trim(self._doc(doc), *args, **kwargs)

    def load(self, doc):
        return self.store.load(self._doc(doc))

    def log(self, doc, **kwargs):
        return self.store.log(self._doc(doc), **kwargs)

    def entries(self, doc, **kwargs):
        return self.store.entries(self._doc(doc), **kwargs)

    def last_seq(self, doc):
        return self.store.last_seq(self._doc(doc))

    def first_seq(self, doc):
        return self.store.first_seq(self._doc(doc))

    def snapshot(self, doc, *args, **kwargs):
        return self.store.snapshot(self._doc(doc), *args, **kwargs)

    def snapshot_seqs(self, doc):
        return self.store.snapshot_seqs(self._doc(doc))

    def timer(self, doc):
        return self.store.timer(self._doc(doc))

    def documents(self) -> list[str]:
        return space_documents(self.store, self.space)

    def due(self, now: int, limit: int | None = None) -> list[tuple[int, str]]:
        mine = [(due, key) for due, (space, key) in
                ((d, split_space_doc(doc)) for d, doc in self.store.due(now)) if space == self.space]
        return mine if limit is None else mine[:limit]

    def next_due(self):
        got = self.due(2 ** 62, 1)
        return got[0] if got else None


def space_documents(store, space: str) -> list[str]:
    """The keys of every document of `space` in `store`, sorted."""
    out = []
    for doc in store.documents():
        s, key = split_space_doc(doc)
        if s == space:
            out.append(key)
    return out


def spaces_in(store) -> dict[str, int]:
    """Every space with a document in `store` and how many it has."""
    counts: dict[str, int] = {}
    for doc in store.documents():
        s = space_of(doc)
        counts[s] = counts.get(s, 0) + 1
    return counts


def delete_space_documents(store, space: str) -> int:
    """Delete every document of `space` (one store delete each, all waited for)."""
    keys = space_documents(store, space)
    futures = [store.delete(space_doc(space, key)) for key in keys]
    for f in futures:
        f.result()
    return len(keys)


class Registry:
    """The spaces a store's server hosts, in DIR/spaces.json: for each name,
    the sha256 of its module (whose code is in the store's `modules`
    database), the file it came from, its limits and its allowed
    authorities. Written whole to a temporary file and renamed, so a crash
    leaves the old list or the new one."""

    def __init__(self, directory):
        self.path = os.path.join(os.fspath(directory), REGISTRY_FILE)
        self._lock = threading.Lock()

    def read(self) -> dict[str, dict]:
        try:
            with open(self.path, encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as e:
            raise ValueError(f"{self.path}: not a list of spaces ({e})") from None
        spaces = data.get("spaces") if isinstance(data, dict) else None
        if not isinstance(spaces, dict):
            raise ValueError(f"{self.path}: not a list of spaces (no \"spaces\" object)")
        return spaces

    def write(self, spaces: dict[str, dict]) -> None:
        tmp = self.path + ".tmp"
        with self._lock:
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump({"spaces": spaces}, f, indent=1, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)

    def put(self, name: str, record: dict) -> None:
        problem = space_problem(name)
        if problem is not None:
            raise ValueError(f"space {name!r}: {problem}")
        spaces = self.read()
        if name not in spaces and len(spaces) >= MAX_SPACES:
            raise ValueError(f"a store holds at most {MAX_SPACES} spaces")
        spaces[name] = record
        self.write(spaces)

    def remove(self, name: str) -> bool:
        spaces = self.read()
        if spaces.pop(name, None) is None:
            return False
        self.write(spaces)
        return True


__all__ = ["DEFAULT_SPACE", "MAX_SPACES", "REGISTRY_FILE", "Registry", "SpaceStore",
           "delete_space_documents", "space_doc", "space_documents", "spaces_in", "split_space_doc"]
