"""Documents across a Ray cluster (issue 18 points 2, 5 and 6; spec/protocol.md 8.20).

    advm run FILE --store postgresql://... --cluster RAY_ADDRESS

joins a Ray cluster and puts a document host there: a Ray actor (`Host`,
placed by Ray's scheduler) that runs this server's router and WebSocket front
end on its node, its documents in the PostgreSQL store. The command itself
runs a gateway (`Gateway`): a WebSocket endpoint speaking the same protocol,
that sends each request to the host owning its document and each of the
host's frames back to the client, unchanged.

Who owns a document is the store's lease (spec/store.md 20.4): the `owner`
of its row in `docs`, while the lease is live. Hosts are the named actors
`advm-host:*` of the Ray namespace `advm`; Ray says which are alive (an actor
whose node died is gone from the list), so membership, failure detection and
placement are Ray's. A document no live host owns goes to the live host with
the fewest documents; when its former owner died, the gateway waits for the
lease to run out first (the new host's load would be refused before). When a
host dies, every client socket that had a stream on it is closed (1012,
`host_lost`): the client reconnects, opens its streams again and gets a reset
(the whole view), from the document's new host, which recovered it from
snapshot plus log with its timers.

Ray is imported only here, by the commands that take `--cluster`.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import tempfile
import time

from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

from ..store.keys import space_doc

log = logging.getLogger("advm.cluster")

NAMESPACE = "advm"  # the Ray namespace of advm's actors
HOST_PREFIX = "advm-host:"
REFRESH_S = 1.0  # how often a gateway reads the list of hosts
DEAD_HOST_S = 10.0  # a host whose socket failed is not chosen again for this long
MAX_FRAME = 1 << 20  # a gateway's largest client frame (the server's hard_frame)
PLACED_S = 5.0  # a placement is counted this long before a refresh (its create may be slow)
MAX_WAIT_S = 60.0  # the longest a request waits for a dead host's lease to run out
# Requests that name a document by "key"; those that name an open stream by
# "connection" go where the stream is.
STREAMS = frozenset(("connection/create", "document/debug"))


def need_ray():
    """The ray module, or ImportError naming the extra."""
    try:
        import ray
    except ImportError:
        raise ImportError("--cluster needs Ray: pip install 'advm[cluster]'") from None
    return ray


# -- the host actor --------------------------------------------------------------------


class HostCore:
    """What a Host actor does, apart from Ray: one router and server on this
    node, documents in the PostgreSQL store under a lease owner of its own."""

    def __init__(self, module_bytes: bytes, store_url: str, key: bytes, *, bind: str,
                 idle_unload_s: float = 120.0, memory_mb: float = 0.0, name: str = "",
                 full_mb: float = 0.0):
        self.module_bytes = module_bytes
        self.store_url = store_url
        self.key = key
        self.bind = bind
        self.idle_unload_s = idle_unload_s
        self.memory_mb = memory_mb
        self.name = name
        self.full_mb = full_mb  # past this resident size, no new documents come here (0: none)
        self.node = None  # the Ray node id it runs on
        self.server = None
        self.store = None
        self.router = None
        self._dir = None

    async def start(self) -> dict:
        import secrets
        import socket

        from ..store.postgres import PgStore
        from ..store.spaces import SpaceStore
        from ..vm.module import Module
        from .metrics import Metrics
        from .router import Router
        from .server import Server, is_loopback
        from .tokens import KEY_FILE, Tokens

        self._dir = tempfile.TemporaryDirectory(prefix="advm-host-")
        with open(os.path.join(self._dir.name, KEY_FILE), "wb") as f:
            f.write(self.key)
        owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.store = await asyncio.to_thread(PgStore, self.store_url, owner=owner)
        module = Module.from_bytes(self.module_bytes)
        self.router = Router(module, store=SpaceStore(self.store, "default"), workers=0,
                             idle_unload_s=self.idle_unload_s,
                             memory_budget=int(self.memory_mb * 1_000_000) or None)
        tokens = Tokens.from_store_dir(self._dir.name, require_exp=not is_loopback(self.bind))
        self.server = Server(self.router, tokens, bind=self.bind, port=0,
                             dev_tokens=is_loopback(self.bind))
        self.server.metrics = Metrics(self.router, self.server)
        self.router.metrics = self.server.metrics
        await self.server.start()
        return self.info()

    def info(self) -> dict:
        import resource

        usage = resource.getrusage(resource.RUSAGE_SELF)
        rss = resident_mb()
        return {"rss_now_mb": rss, "full": bool(self.full_mb) and rss > self.full_mb,
                "name": self.name, "owner": self.store.owner, "ws_url": self.server.ws_url,
                "metrics": f"{self.server.url}metrics", "documents": len(self.router.loaded()),
"cpu_s": usage.ru_utime + usage.ru_stime,
                "rss_mb": usage.ru_maxrss / 1024, "pid": os.getpid(), "node": self.node}

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.close()
            self.server = None
        if self.store is not None:
            await asyncio.to_thread(self.store.close)  # gives its leases back
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None


def resident_mb() -> float:
    """This process's resident memory now, in MB (Linux /proc; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def host_actor(ray, *, num_cpus: float = 1.0):
    """The Ray actor class of a document host (made here so that importing
    this module does not import Ray)."""

    class Host:
        def __init__(self, *args, **kwargs):
            if not kwargs.get("bind"):  # this node's address, where other nodes reach it
                kwargs["bind"] = ray.util.get_node_ip_address()
            self.core = HostCore(*args, **kwargs)
            self.core.node = ray.get_runtime_context().get_node_id()

        async def start(self) -> dict:
            return await self.core.start()

        async def info(self) -> dict:
            return self.core.info()

        async def stop(self) -> None:
            await self.core.stop()

    return ray.remote(num_cpus=num_cpus, max_restarts=0)(Host)


def start_hosts(ray, count: int, module_bytes: bytes, store_url: str, key: bytes, *,
                num_cpus: float = 1.0, idle_unload_s: float = 120.0, memory_mb: float = 0.0,
                bind: str | None = None, full_mb: float = 0.0) -> list:
    """`count` host actors placed by Ray (SPREAD: across nodes), started;
    [(handle, info)]. Each listens on its node's address (or `bind`)."""
    import uuid

    cls = host_actor(ray, num_cpus=num_cpus)
    handles = []
    for _ in range(count):
        name = HOST_PREFIX + uuid.uuid4().hex[:12]
        handles.append(cls.options(name=name, namespace=NAMESPACE, scheduling_strategy="SPREAD")
                       .remote(module_bytes, store_url, key, bind=bind,
                               idle_unload_s=idle_unload_s, memory_mb=memory_mb, name=name,
                               full_mb=full_mb))
    infos = ray.get([h.start.remote() for h in handles])
    return list(zip(handles, infos))


def list_hosts(ray) -> list[str]:
    return sorted(a["name"] if isinstance(a, dict) else a
                  for a in ray.util.list_named_actors(all_namespaces=True)
                  if (a.get("namespace") == NAMESPACE if isinstance(a, dict) else True)
                  and (a["name"] if isinstance(a, dict) else a).startswith(HOST_PREFIX))


# -- the gateway --------------------------------------------------------------------------


class Directory:
    """The live hosts (from Ray) and documents' owners (from the store's
    leases), as a gateway sees them."""

    def __init__(self, ray, store_url: str):
        from ..store.postgres import parse_url

        self.ray = ray
        self.store_url = store_url
        self.conninfo, self.schema, _ = parse_url(store_url)
        self.hosts: dict[str, dict] = {}  # owner -> info (ws_url, documents, name)
        self.by_name: dict[str, str] = {}  # actor name -> owner
        self.dead: dict[str, float] = {}  # owner -> monotonic time its socket failed
        # (when, owner) of recent placements: counted until a refresh that began well
        # after them has read the store (their documents' rows are in its counts)
        self.placed: list[tuple[float, str]] = []
        self.leased: dict[str, int] = {}  # documents each owner's row names, at the last refresh
        self._conn = None
        self._lock = asyncio.Lock()
        self._task = None
        self._fresh = asyncio.Event()

    async def start(self) -> None:
        await self.refresh()
        self._task = asyncio.create_task(self._refresher())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def _refresher(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_S)
            try:
                await self.refresh()
            except Exception as e:  # Ray briefly unreachable: the next pass tries again
                log.warning("host list refresh failed: %r", e)

    async def refresh(self) -> None:
        ray = self.ray
        began = time.monotonic()
        names = await asyncio.to_thread(list_hosts, ray)
        infos = {}

        async def ask(name):
            try:
                handle = await asyncio.to_thread(ray.get_actor, name, namespace=NAMESPACE)
                infos[name] = await asyncio.wait_for(handle.info.remote(), 5.0)
            except Exception:  # dead or not started yet: not a live host
                pass

        await asyncio.gather(*(ask(n) for n in names))
        hosts = {}
        by_name = {}
        for name, info in infos.items():
            hosts[info["owner"]] = info
            by_name[name] = info["owner"]
        leased = dict(await self._query(
            "SELECT owner, count(*) FROM docs WHERE owner IS NOT NULL GROUP BY owner", ()))
        if set(hosts) != set(self.hosts):
            print(f"advm: cluster gateway: {len(hosts)} hosts live", file=sys.stderr, flush=True)
        self.hosts, self.by_name, self.leased = hosts, by_name, leased
        self.counted(began)

    def counted(self, began: float) -> None:
        """The store was read by a refresh that began at `began` (monotonic):
        placements well before it are in its counts, so they are dropped."""
        self.placed = [(t, o) for t, o in self.placed if t > began - PLACED_S]
        now = time.monotonic()
        self.dead = {o: t for o, t in self.dead.items() if now - t < DEAD_HOST_S}

    def live(self) -> list[str]:
        return [o for o in self.hosts if o not in self.dead]

    def any_host(self) -> str | None:
        live = self.live()
        return live[0] if live else None

    def mark_dead(self, owner: str) -> None:
        self.dead[owner] = time.monotonic()

    async def _query(self, sql: str, args: tuple):
        import psycopg

        async with self._lock:
            for attempt in (0, 1):
                try:
                    if self._conn is None:
                        self._conn = await psycopg.AsyncConnection.connect(
                            self.conninfo, autocommit=True, options=f"-c search_path={self.schema}")
                    cur = await self._conn.execute(sql, args)
                    return await cur.fetchall()
                except psycopg.OperationalError:
                    self._conn = None
                    if attempt:
                        raise

    async def owner_of(self, space: str, key: str) -> str | None:
        """The live host that owns (or is to own) document `key` of `space`;
        None when no host is live."""
        raw = space_doc(space, key).encode("utf-8")
        deadline = time.monotonic() + MAX_WAIT_S
        while True:
            rows = await self._query(
                "SELECT owner, EXTRACT(EPOCH FROM (lease_until - now())) FROM docs WHERE doc = %s",
                (raw,))
            owner, left = rows[0] if rows else (None, None)
            live = self.live()
            if owner in live:
                return owner
            if owner is not None and left is not None and float(left) > 0:
                if owner not in self.dead:  # perhaps a host started since the last refresh
                    await self.refresh()
                    if owner in self.live():
                        return owner
                # Its host is gone: wait for the lease to run out, then place it.
                if time.monotonic() > deadline:
                    return None
                await asyncio.sleep(min(float(left) + 0.05, 1.0))
                continue
            return self.place()

    def place(self) -> str | None:
        """The live host owning the fewest documents, of those not past their
        memory threshold (point 5); None when there is none."""
        best, best_n = None, None
        for owner in self.live():
            if self.hosts[owner].get("full"):  # past its memory threshold: nothing new
                continue
            n = self.leased.get(owner, 0) + sum(1 for _, o in self.placed if o == owner)
            if best_n is None or n < best_n:
                best, best_n = owner, n
        if best is not None:
            self.placed.append((time.monotonic(), best))
        return best


class _Session:
    """One client socket on the gateway: an upstream socket per host it uses."""

    def __init__(self, gateway: "Gateway", ws):
        self.gw = gateway
        self.ws = ws
        self.ups: dict[str, object] = {}  # owner -> upstream socket
        self.readers: dict[str, asyncio.Task] = {}
        self.streams: dict = {}  # request id of an open stream -> owner
        self.opening: dict[str, asyncio.Future] = {}
        self.closed = False
        self.order = asyncio.Lock()  # requests go upstream in their arrival order

    async def run(self) -> None:
        try:
            async for text in self.ws:
                if isinstance(text, bytes):
                    await self.ws.close(1003, "text frames only")
                    return
                await self.handle(text)
        except ConnectionClosed:
            pass
        finally:
            self.closed = True
            for t in self.readers.values():
                t.cancel()
            for up in list(self.ups.values()):
                try:
                    await up.close()
                except Exception:
                    pass

    async def handle(self, text: str) -> None:
        try:
            req = json.loads(text)
        except ValueError:
            req = None
        for _ in range(3):  # a host that cannot be reached is marked dead: ask again
            owner = await self.route(req)
            if owner is None:
                rid = req.get("id") if isinstance(req, dict) else None
                await self.ws.send(json.dumps({"failure": rid, "reason": "unavailable",
                                               "message": "no document host is live in the cluster"}))
                return
            up = await self.upstream(owner)
            if up is not None:
                break
        else:
            await self.lost(owner)
            return
        try:
            await up.send(text)
        except ConnectionClosed:
            await self.lost(owner)

    async def route(self, req) -> str | None:
        owner = None
        if isinstance(req, dict):
            key = req.get("key")
            if isinstance(key, str):
                space = req.get("space")
                try:
                    owner = await self.gw.directory.owner_of(
                        space if isinstance(space, str) else "default", key)
                except ValueError:  # a bad space name or key: any host says why
                    owner = None
                if owner is not None and req.get("method") in STREAMS:
                    self.streams[req.get("id")] = owner
            elif "connection" in req:
                owner = self.streams.get(req.get("connection"))
        if owner is None:
            owner = self.gw.directory.any_host()
        return owner

    async def upstream(self, owner: str):
        up = self.ups.get(owner)
        if up is not None:
            return up
        info = self.gw.directory.hosts.get(owner)
        try:
            up = await ws_connect(info["ws_url"], max_size=None, compression=None,
                                  open_timeout=5, ping_interval=None)
        except (OSError, asyncio.TimeoutError, ConnectionClosed, TypeError) as e:
            log.warning("host %s unreachable: %r", owner, e)
            self.gw.directory.mark_dead(owner)
            return None
        self.ups[owner] = up
        self.readers[owner] = asyncio.create_task(self.pump(owner, up))
        return up

    async def pump(self, owner: str, up) -> None:
        try:
            async for frame in up:
                await self.ws.send(frame)
        except ConnectionClosed:
            pass
        if not self.closed:
            await self.lost(owner)

    async def lost(self, owner: str) -> None:
        """The host is gone: the client reconnects and opens its streams again."""
        if self.closed:
            return
        self.closed = True
        self.gw.directory.mark_dead(owner)
        self.gw.lost += 1
        try:
            await self.ws.close(1012, "host_lost")
        except Exception:
            pass


class Gateway:
    """A WebSocket endpoint for the cluster's documents (see the module)."""

    def __init__(self, directory: Directory, *, bind: str = "127.0.0.1", port: int = 8080):
        self.directory = directory
        self.bind = bind
        self.port = port
        self._server = None
        self.sessions: set[_Session] = set()
        self.lost = 0  # client sockets closed because their host died

    @property
    def ws_url(self) -> str:
        from .server import ENDPOINT

        return f"ws://{self.bind}:{self.port}{ENDPOINT}"

    async def start(self) -> None:
        await self.directory.start()
        self._server = await serve(self._handle, self.bind, self.port, max_size=MAX_FRAME,
                                   compression=None, max_queue=64)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, ws) -> None:
        s = _Session(self, ws)
        self.sessions.add(s)
        try:
            await s.run()
        finally:
            self.sessions.discard(s)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        await self.directory.close()


# -- status ---------------------------------------------------------------------------------


def status(ray, store_url: str) -> dict:
    """Hosts (from Ray), documents per host and leases, due timers (from the store)."""
    import psycopg

    from ..store.keys import split_space_doc
    from ..store.postgres import parse_url

    hosts = []
    for name in list_hosts(ray):
        try:
            info = ray.get(ray.get_actor(name, namespace=NAMESPACE).info.remote(), timeout=10)
        except Exception as e:
            info = {"name": name, "error": type(e).__name__}
        hosts.append(info)
    conninfo, schema, _ = parse_url(store_url)
    with psycopg.connect(conninfo, autocommit=True, options=f"-c search_path={schema}") as c:
        leases = c.execute(
            """SELECT owner, count(*), max(epoch), min(lease_until - now()) FROM docs
               WHERE owner IS NOT NULL AND lease_until > now() GROUP BY owner ORDER BY owner"""
        ).fetchall()
        total = c.execute("SELECT count(*) FROM docs").fetchone()[0]
        due = c.execute("SELECT due, doc FROM timers ORDER BY due, doc LIMIT 10").fetchall()
        timers = c.execute("SELECT count(*) FROM timers").fetchone()[0]
        now_ms = time.time_ns() // 1_000_000
        overdue = c.execute("SELECT count(*) FROM timers WHERE due <= %s", (now_ms,)).fetchone()[0]
    return {
        "hosts": hosts,
        "leases": [{"owner": o, "documents": n, "max_epoch": e,
                    "renew_in_s": round(left.total_seconds(), 3)} for o, n, e, left in leases],
        "documents": total,
        "timers": {"count": timers, "overdue": overdue,
                   "next": [{"due_ms": d, "doc": "/".join(split_space_doc(bytes(k).decode()))}
                            for d, k in due]},
    }


__all__ = ["Directory", "Gateway", "HostCore", "NAMESPACE", "host_actor", "list_hosts",
           "start_hosts", "status"]
