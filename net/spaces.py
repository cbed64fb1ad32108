"""Spaces: many programs on one server (spec/protocol.md 8.17).

    spaces = Spaces(make_router, store=store, registry=Registry(dir))
    spaces.add("chat", module)             # a router of its own, its documents apart
    await spaces.start()
    spaces.router("chat")                  # None for a space the server does not host
    await spaces.create("ledger", code)    # while serving: compiled, started, recorded
    await spaces.delete("ledger", with_documents=True)

A space is a name and a program. Each space has its own router (net/router.py:
its documents, runners, timers, deploys) over its own view of the store
(store/spaces.py `SpaceStore`: keys prefixed by the space), so a document's
identity is (space, key) and two spaces may each have a document `k`. A
request names its space with `space`; without one it goes to the space
named `default` (the only space of `advm run FILE`).

Each space has limits (`SpaceLimits`), enforced by its router's gate
(`Gate`): documents loaded, memory per runner, CPU seconds per second,
inputs in flight, client streams, and which authorities may use it. A space
past a limit is refused with `space_limit` (or `space_throttled` for CPU),
while other spaces, on their own runners, keep going.
"""
from __future__ import annotations

import asyncio
import functools
import hashlib
import queue
import threading
import time
import tomllib
from dataclasses import dataclass, field, fields, replace

from ..store.keys import DEFAULT_SPACE, space_problem
from ..store.spaces import MAX_SPACES, delete_space_documents, space_documents, spaces_in
from .docsend import deliver_call
from .router import RouterError
from .runners import ThreadRunner

CPU_WINDOW = 1.0  # seconds: a space's CPU budget is refilled over this window


@dataclass(frozen=True)
class SpaceLimits:
    """What one space may use (spec/protocol.md 8.17 lists the defaults)."""

    documents: int = 100_000       # documents loaded (or loading) at once
    memory_mb: float = 1000.0      # each of its runners' memory budget (router MEMORY_BUDGET)
    cpu: float | None = None       # seconds its runners may work per second of wall time (None: any)
    queued: int = 100_000          # inputs sent to its documents and not answered
    connections: int = 100_000     # client streams attached to its documents
    authorities: tuple = ()        # authorities whose principals may use it; () = any

    def to_json(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["authorities"] = list(self.authorities)
        return out

    @classmethod
    def from_json(cls, data: dict, base: "SpaceLimits | None" = None) -> "SpaceLimits":
        """Limits from a table (a limits file's, a registry record's); keys left
        out keep `base`'s. Raises ValueError naming a wrong key or value."""
        base = base or cls()
        if not isinstance(data, dict):
            raise ValueError("space limits are a table")
        known = {f.name: f for f in fields(cls)}
        changes = {}
        for name, value in data.items():
            if name not in known:
                raise ValueError(f"unknown space limit {name!r}; limits: {', '.join(known)}")
            if name == "authorities":
                if not isinstance(value, (list, tuple)) or not all(
                        isinstance(a, str) and a for a in value):
                    raise ValueError("authorities is a list of authority names")
                changes[name] = tuple(value)
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"space limit {name} is a number above 0, not {value!r}")
            changes[name] = float(value) if name in ("cpu", "memory_mb") else int(value)
        return replace(base, **changes)


def read_limits(path: str) -> tuple[SpaceLimits, dict[str, SpaceLimits]]:
    """A limits file (TOML): `[default]` for every space, `[space.NAME]` for
    one (keys of SpaceLimits). Returns (limits of every space, per space)."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ValueError(f"{path}: {e}") from None
    extra = set(data) - {"default", "space"}
    if extra:
        raise ValueError(f"{path}: unknown table {sorted(extra)[0]!r}; tables: [default], [space.NAME]")
    base = SpaceLimits.from_json(data.get("default", {}))
    per = {}
    for name, table in (data.get("space") or {}).items():
        problem = space_problem(name)
        if problem is not None:
            raise ValueError(f"{path}: space {name!r}: {problem}")
        per[name] = SpaceLimits.from_json(table, base)
    return base, per


class Gate:
    """One space's limits as its router checks them (Router.gate): `refuse`
    before an input is queued, `spent` once its reply came back."""

    __slots__ = ("space", "limits", "router", "allowance", "stamp", "busy", "refused", "cpu_used")

    def __init__(self, space: str, limits: SpaceLimits, router):
        self.space = space
        self.limits = limits
        self.router = router
        self.allowance = (limits.cpu or 0.0) * CPU_WINDOW
        self.stamp = time.monotonic()
        self.busy: dict = {}      # runner -> when its last reply came (its input's run started after)
        self.refused = 0          # inputs refused by this gate (metrics)
        self.cpu_used = 0.0       # seconds of its runners' time, counted from replies

    def refuse(self, slot, kind: str, who, sink, bounded: bool) -> RouterError | None:
        """Why this input may not be queued (a RouterError), or None. Runs
        for every input: the usual case (a loaded document, no CPU budget, no
        authority list) is a few comparisons."""
        lim = self.limits
        if lim.authorities and who is not None and kind != "disconnect":
            authority = who.rpartition("@")[2]
            if authority not in lim.authorities:
                return self._no("space_refused", f"space {self.space!r} admits principals of "
                                f"{', '.join(lim.authorities)} only, not @{authority}")
        if not bounded:
            return None
        router = self.router
        cpu = lim.cpu
        if cpu is not None:
            now = time.monotonic()
            self.allowance = min(cpu * CPU_WINDOW, self.allowance + (now - self.stamp) * cpu)
            self.stamp = now
            if self.allowance < 0:
                return self._no("space_throttled", f"space {self.space!r} used its CPU budget "
                                f"({cpu:g} s a second); try again shortly")
        runners = router.runners
        inflight = runners[0].inflight if len(runners) == 1 else sum(r.inflight for r in runners)
        if inflight >= lim.queued:
            return self._no("space_limit", f"space {self.space!r} has {lim.queued} inputs waiting")
        if sink is not None and kind in ("connect", "view") and len(router._attached) >= lim.connections:
            return self._no("space_limit", f"space {self.space!r} has {lim.connections} "
                            "connections, its limit")
        if not slot.loaded and not slot.queue:
            loaded = sum(1 for s in router.slots.values() if s.loaded or s.queue)
            if loaded >= lim.documents:
                return self._no("space_limit", f"space {self.space!r} has {lim.documents} "
                                "documents loaded, its limit")
        return None

    def _no(self, code: str, message: str) -> RouterError:
        self.refused += 1
        return RouterError(code, message)

    def spent(self, runner, start: float) -> None:
        """A reply came from `runner` for an input sent at `start` (perf_counter):
        the runner worked on it from then, or from its previous reply if later."""
        now = time.perf_counter()
        busy = self.busy
        last = busy.get(runner, 0.0)
        busy[runner] = now
        used = now - (start if start > last else last)
        self.cpu_used += used
        if self.limits.cpu is not None:
            self.allowance -= used


class SharedThread:
    """One thread running the documents of many spaces (`advm run --workers 0`
    with several spaces): each space keeps its router and its shard (its
    documents, its module), and their inputs run on this one thread in the
    order they were sent, as one space's would on its own thread. Costs no
    thread per space (about 70 KB resident each, bench/README.md), at the
    price of one queue for all: a long handler delays every space's next
    input (the instruction budget bounds it)."""

    def __init__(self):
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="advm-spaces", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            item = self.queue.get()
            if item is None:
                return
            runner, done, kind, key, payload, now = item
            fut = runner.shard.handle(kind, key, payload, now)
            fut.add_done_callback(lambda f, runner=runner, done=done: runner._loop.call_soon_threadsafe(
                runner._finish, done, f.result()))

    async def close(self) -> None:
        if self._thread is not None:
            self.queue.put(None)
            await asyncio.get_running_loop().run_in_executor(None, self._thread.join)
            self._thread = None


class PooledThreadRunner(ThreadRunner):
    """A space's runner on a SharedThread (Router.thread_runner)."""

    def __init__(self, module, backend, shared: SharedThread):
        super().__init__(module, backend)
        self.shared = shared

    async def start(self) -> None:
        from .shard import Shard

        self._loop = asyncio.get_running_loop()
        self.shard = Shard(self.module, self.backend)
        self.shared.start()

    def call(self, kind, key, payload, now, done):
        self.inflight += 1
        self.shared.queue.put((self, done, kind, key, payload, now))

    async def close(self) -> None:
        pass  # the thread serves the other spaces still (Spaces.close stops it)


def space_file_name(path) -> str:
    """The space a file serves under (`advm run a.adb b.adb`): its name
    without the suffix, lower-cased, other characters than [a-z0-9_-] as '-'."""
    import os

    stem = os.path.splitext(os.path.basename(os.fspath(path).rstrip("/")))[0].lower()
    name = "".join(c if c.isalnum() and c.isascii() or c in "_-" else "-" for c in stem)
    return name.lstrip("_-")[:32] or "space"


@dataclass
class Space:
    name: str
    router: object
    limits: SpaceLimits
    source: str | None = None        # the file it was made from
    recorded: bool = False           # kept in the store's registry (space create)
    extra: dict = field(default_factory=dict)


class Spaces:
    """The spaces one server hosts. `make_router(name, module, limits)`
    builds a space's router (advm/commands/serve.py gives the store view,
    workers and services); `registry` (store/spaces.py Registry) keeps the
    spaces made with `space/create` across restarts; `store` is the raw
    store (None: documents in memory)."""

    def __init__(self, make_router, *, store=None, registry=None, limits: SpaceLimits | None = None,
                 per_space: dict | None = None):
        self.make_router = make_router
        self.store = store
        self.registry = registry
        self.limits = limits or SpaceLimits()
        self.per_space = dict(per_space or {})
        self.spaces: dict[str, Space] = {}
        self.started = False
        self.metrics = None
        self.shared: SharedThread | None = None  # the thread of routers with workers=0, if shared
        self.on_default = None  # told the default space's router when it comes or goes (net/server.py)
        self._lock = asyncio.Lock()

    def limits_of(self, name: str, recorded: dict | None = None) -> SpaceLimits:
        base = self.per_space.get(name, self.limits)
        if recorded:
            base = SpaceLimits.from_json(recorded, base)
        return base

    def add(self, name: str, module, *, source=None, recorded=False, limits: dict | None = None) -> Space:
        problem = space_problem(name)
        if problem is not None:
            raise ValueError(f"space {name!r}: {problem}")
        if name in self.spaces:
            raise ValueError(f"space {name!r} is served twice")
        if len(self.spaces) >= MAX_SPACES:
            raise ValueError(f"a server hosts at most {MAX_SPACES} spaces")
        lim = self.limits_of(name, limits)
        router = self.make_router(name, module, lim)
        router.gate = Gate(name, lim, router)
        router.space = name
        router.services.documents = functools.partial(deliver_call, self, name)  # language.md 4.32
        if self.metrics is not None:
            router.metrics = self.metrics
        space = self.spaces[name] = Space(name, router, lim, source, recorded)
        if name == DEFAULT_SPACE and self.on_default is not None:
            self.on_default(router)
        return space

    def router(self, name: str):
        space = self.spaces.get(name)
        return None if space is None else space.router

    @property
    def default(self):
        return self.router(DEFAULT_SPACE)

    def names(self) -> list[str]:
        return sorted(self.spaces)

    def routers(self) -> list:
        return [self.spaces[n].router for n in self.names()]

    async def start(self) -> None:
        for space in list(self.spaces.values()):
            if not space.router.started:
                await space.router.start()
        self.started = True

    def share_thread(self, router) -> None:
        """Run `router`'s documents (workers=0) on this server's SharedThread."""
        if self.shared is None:
            self.shared = SharedThread()
        shared = self.shared
        router.thread_runner = lambda module, lane: PooledThreadRunner(module, lane, shared)

    async def close(self) -> None:
        await asyncio.gather(*(s.router.close() for s in self.spaces.values()),
                             return_exceptions=True)
        if self.shared is not None:
            await self.shared.close()

    # ---------------------------------------------------------------- while serving

    def documents(self, name: str) -> list[str]:
        router = self.router(name)
        if self.store is not None:
            return space_documents(self.store, name)
        return sorted(router.shelf.keys()) if router is not None else []

    def listing(self) -> list[dict]:
        rows = []
        counts = spaces_in(self.store) if self.store is not None else None
        for name in self.names():
            s = self.spaces[name]
            r = s.router
            docs = counts.get(name, 0) if counts is not None else len(r.shelf.keys())
            rows.append({"space": name, "module": r.module.module_id(), "filename": r.module.filename,
                         "documents": docs,
                         "loaded": sum(1 for x in r.slots.values() if x.loaded),
                         "connections": len(r._attached), "recorded": s.recorded,
                         "limits": s.limits.to_json(),
                         "refused": r.gate.refused if r.gate else 0,
                         "cpu_seconds": round(r.gate.cpu_used, 3) if r.gate else 0.0})
        return rows

    async def create(self, name: str, code: bytes, *, source: str | None = None,
                     limits: dict | None = None) -> dict:
        """A new space while serving: its module (.advc bytes) checked, its
        router started, and recorded in the registry so a restart serves it."""
        from ..vm.errors import ModuleFormatError
        from ..vm.module import Module

        problem = space_problem(name)
        if problem is not None:
            raise RouterError("bad_space", f"space {name!r}: {problem}")
        async with self._lock:
            if name in self.spaces:
                raise RouterError("space_exists", f"space {name!r} exists; deploy to it instead")
            try:
                module = Module.from_bytes(code)
            except ModuleFormatError as e:
                raise RouterError("bad_module", f"the module cannot be read: {e}") from None
            try:
                self.limits_of(name, limits)
            except ValueError as e:
                raise RouterError("bad_request", str(e)) from None
            record = {"code": hashlib.sha256(code).hexdigest(), "module": module.module_id(),
                      "source": source or module.filename, "limits": dict(limits or {})}
            if self.store is not None:
                await asyncio.wrap_future(self.store.put_module(code, {"space": name}))
            try:
                space = self.add(name, module, source=source, recorded=self.registry is not None,
                                 limits=limits)
            except ValueError as e:
                raise RouterError("bad_space", str(e)) from None
            try:
                await space.router.start()
            except BaseException:
                self.spaces.pop(name, None)
                if name == DEFAULT_SPACE and self.on_default is not None:
                    self.on_default(None)
                raise
            if self.registry is not None:
                self.registry.put(name, record)
            return {"space": name, "module": module.module_id()}

    async def delete(self, name: str, *, with_documents: bool = False) -> dict:
        """Stop serving space `name`; refused while it has documents unless
        `with_documents`, which deletes them all (one store delete each)."""
        async with self._lock:
            space = self.spaces.get(name)
            recorded = self.registry is not None and name in self.registry.read()
            if space is None and not recorded:
                raise RouterError("unknown_space", f"no space {name!r}")
            docs = self.documents(name) if self.store is not None else (
                list(space.router.shelf.keys()) if space else [])
            if docs and not with_documents:
                raise RouterError("space_not_empty", f"space {name!r} has {len(docs)} documents; "
                                  "delete them first, or pass with_documents")
            if space is not None:
                del self.spaces[name]
                if name == DEFAULT_SPACE and self.on_default is not None:
                    self.on_default(None)
                await space.router.close()
            deleted = 0
            if with_documents and self.store is not None:
                deleted = await asyncio.get_running_loop().run_in_executor(
                    None, delete_space_documents, self.store, name)
            elif with_documents:
                deleted = len(docs)
            if self.registry is not None:
                self.registry.remove(name)
            return {"space": name, "deleted": deleted}

    async def deploy(self, name: str, code: bytes, **options) -> dict:
        """New code for one space: its router's deploy (Router.deploy); no
        other space's documents are touched. Recorded for a restart."""
        from ..vm.module import Module

        router = self.router(name)
        if router is None:
            raise RouterError("unknown_space", f"no space {name!r}")
        refused = self.callers_refuse(name, code)
        if refused:
            raise RouterError("callers_refuse", "the new code breaks what documents send to each other "
                              "(spec/language.md 4.32): " + "; ".join(refused))
        got = await router.deploy(code, **options)
        if options.get("prefix") is None and options.get("percent") is None:
            if self.store is not None:
                await asyncio.wrap_future(self.store.put_module(code, {"space": name}))
            if self.registry is not None and name in self.registry.read():
                record = self.registry.read()[name]
                record["module"] = Module.from_bytes(code).module_id()
                record["code"] = hashlib.sha256(code).hexdigest()
                self.registry.put(name, record)
        return got

    def callers_refuse(self, name: str, code: bytes) -> list[str]:
        """language.md 4.32: what new code for space `name` no longer accepts
        of what the other spaces' documents send it, and what it sends that
        they no longer accept (runtime/upgrade.py callers_refuse)."""
        from ..runtime.upgrade import callers_refuse
        from ..vm.errors import ModuleFormatError
        from ..vm.module import Module

        try:
            meta = Module.from_bytes(code).meta
        except ModuleFormatError:
            return []  # the router's deploy says what is wrong with it
        others = {n: s.router.module.meta for n, s in self.spaces.items() if n != name}
        out = callers_refuse(name, meta, others)
        for other, their in sorted(others.items()):
            out += callers_refuse(other, their, {name: meta})
        return out


__all__ = ["CPU_WINDOW", "Gate", "PooledThreadRunner", "SharedThread", "Space", "SpaceLimits", "Spaces",
           "read_limits", "space_file_name"]


# ---------------------------------------------------------------- space/* methods (protocol.md 8.17)


def _spaces_of(sock):
    spaces = getattr(sock.server, "spaces", None)
    if spaces is None:
        from .admin import Refused

        raise Refused("no_spaces", "this server serves one program; it does not create or delete spaces")
    return spaces


def _name(req) -> str:
    from .admin import Refused

    name = req.get("space")
    problem = space_problem(name)
    if problem is not None:
        raise Refused("bad_space", f"\"space\" is required: {problem}")
    return name


def space_create(s, rid, req) -> None:
    """space/create {space, module, limits?}: a new space running `module` (a
    compiled module in base64); an admin's (net/admin.py `allowed`)."""
    import base64

    from .admin import Refused, allowed

    allowed(s, req)
    spaces = _spaces_of(s)
    name = _name(req)
    text = req.get("module")
    try:
        code = base64.b64decode(text, validate=True) if isinstance(text, str) and text else None
    except ValueError:
        code = None
    if code is None:
        raise Refused("bad_request", "\"module\" is required: a compiled module (advm compile) in base64")
    limits = req.get("limits")
    if limits is not None and not isinstance(limits, dict):
        raise Refused("bad_request", "\"limits\" is an object of space limits")
    source = req.get("source")
    s.answer(rid, asyncio.ensure_future(spaces.create(
        name, code, source=source if isinstance(source, str) else None, limits=limits)))


def space_delete(s, rid, req) -> None:
    """space/delete {space, with_documents?}: an admin's."""
    from .admin import Refused, allowed

    allowed(s, req)
    spaces = _spaces_of(s)
    name = _name(req)
    with_docs = req.get("with_documents", False)
    if type(with_docs) is not bool:
        raise Refused("bad_request", "\"with_documents\" is true or false")
    s.answer(rid, asyncio.ensure_future(spaces.delete(name, with_documents=with_docs)))


def space_list(s, rid, req) -> None:
    """space/list: every space with its module, documents and limits; an admin's."""
    from .admin import allowed

    allowed(s, req)
    spaces = _spaces_of(s)
    fut = asyncio.get_running_loop().create_future()
    fut.set_result({"spaces": spaces.listing()})
    s.answer(rid, fut)


class SpaceGauges:
    """Per-space gauges at /metrics (protocol.md 8.12): registered beside the
    server's own (net/metrics.py) by whoever builds the Spaces."""

    def __init__(self, spaces: "Spaces"):
        self.spaces = spaces

    def describe(self):
        return []

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        rows = {
            "advm_space_documents_loaded": "documents loaded, by space",
            "advm_space_viewers": "client streams attached to documents, by space",
            "advm_space_queue_depth": "inputs sent to documents and not answered, by space",
            "advm_space_inputs": "inputs sent to documents, by space (counter)",
            "advm_space_refusals": "inputs refused by the space's limits, by space (counter)",
            "advm_space_cpu_seconds": "seconds its runners spent on its inputs, by space (counter)",
        }
        fams = {k: GaugeMetricFamily(k, text, labels=["space"]) for k, text in rows.items()}
        for name in self.spaces.names():
            r = self.spaces.spaces[name].router
            slots = list(r.slots.values())
            gate = r.gate
            fams["advm_space_documents_loaded"].add_metric([name], sum(1 for x in slots if x.loaded))
            fams["advm_space_viewers"].add_metric([name], sum(len(v) for x in slots for v in x.sinks.values()))
            fams["advm_space_queue_depth"].add_metric([name], sum(len(x.queue) for x in slots))
            fams["advm_space_inputs"].add_metric([name], r.stats["inputs"])
            fams["advm_space_refusals"].add_metric([name], gate.refused if gate else 0)
            fams["advm_space_cpu_seconds"].add_metric([name], gate.cpu_used if gate else 0.0)
        yield from fams.values()


METHODS = {"space/create": space_create, "space/delete": space_delete, "space/list": space_list}
__all__ += ["METHODS", "SpaceGauges"]
