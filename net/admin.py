"""The admin/* methods: what the dev console (net/static) shows of a server's
documents, for an operator rather than a document's own clients
(spec/protocol.md 8.11 is the contract).

    admin/documents                      every document: loaded or sleeping, state, timer, asks, viewers
    admin/log {key, after, limit}        the document's logged inputs after seq `after`
    admin/view {key, principal, seq}     the view `principal` would see at `seq` (a preview)
    admin/debug {key, seq}               the @debug lines its inputs printed up to `seq`
    admin/deploy {module}                new code for the running server (base64 .advc)
    admin/modules {after, limit}         which module each document runs, loaded or sleeping

Who may call them (`allowed`): a request whose identity is a token minted
with the admin claim (`advm token NAME --admin`); or any request on a server
that mints development tokens (`advm run` listening on a loopback address)
from its own page or a client that is not a browser. Everything else is
refused with `admin_refused`.

What is read comes from the store, never from a running document: the log,
and replay (durable/replay.py) up to a seq, with no views and no effects. A
replayed document never runs @load, @connected or a timer of its own, so
looking never changes what it is. Replays run on a thread so that the event
loop keeps serving; a server keeping documents in memory only (`--memory`)
has no log, and answers those methods with `no_store`.
"""
from __future__ import annotations

import asyncio
import base64

from .router import RouterError, check_key
from .tokens import ANONYMOUS, TokenError

LOG_LIMIT = 1000        # entries of one admin/log answer at most
LIST_LIMIT = 1000       # documents of one admin/documents answer at most
PREVIEW = ("a preview: the view this principal would see, rendered from the document as "
           "replayed from its log; nobody connected and the document did not run @connected")


class Refused(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def allowed(sock, req: dict) -> str:
    """The principal an admin request speaks for, or Refused(admin_refused)."""
    server = sock.server
    identity = req.get("identity")
    if isinstance(identity, str) and identity != ANONYMOUS:
        try:
            principal, admin = server.tokens.claims(identity)
        except TokenError as e:
            raise Refused(e.code, e.message) from None
        if admin:
            return principal
    else:
        principal = None
    if server.dev_tokens and (not sock.origin or sock.origin in server.own_origins):
        return principal or f"console@{ANONYMOUS}"
    if principal is None:
        raise Refused("admin_refused", "admin methods need a token minted with --admin "
                      "(advm token NAME --admin) on this server")
    raise Refused("admin_refused", f"{principal} is not an admin: admin methods need a token "
                  "minted with --admin (advm token NAME --admin)")


# ---------------------------------------------------------------- reading


def _json_safe(value):
    """A logged value as JSON: CBOR byte strings become base64 text."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2 ** 53:
        return str(value)
    return value


def _store(router):
    if router.backend != "durable" or router.store is None:
        raise RouterError("no_store", "this server keeps documents in memory only (--memory): "
                        "it has no log to read or replay")
    return router.store


def _known(store, key: str) -> None:
    if not store.last_seq(key) and not store.snapshot_seqs(key):
        raise RouterError("not_found", f"document {key!r} is not in the store")


def entry_json(entry) -> dict:
    extra = entry.extra or {}
    out = {"seq": entry.seq, "time": entry.time, "kind": entry.kind,
           "principal": entry.principal, "channel": entry.channel,
           "input": _json_safe(entry.payload), "outcome": extra.get("outcome")}
    if "ask" in extra:
        out["ask"] = extra["ask"]
    return out


def read_log(router, key: str, after: int, limit: int) -> dict:
    store = _store(router)
    _known(store, key)
    last = store.last_seq(key)
    entries = store.log(key, after=after, until=min(last, after + limit))
    return {"key": key, "first": store.first_seq(key), "last": last,
            "entries": [entry_json(e) for e in entries]}


def _replayed(router, key: str, seq):
    """The document as it was at `seq` (None: its last), replayed from the log."""
    from ..store.errors import StoreError
    from ..durable.replay import replay
    from ..views.viewers import Viewers

    store = _store(router)
    _known(store, key)
    try:
        result = replay(store, key, until=seq, modules={router.module.module_id(): router.module},
                        check="newest", live_viewers=Viewers)
    except StoreError as e:
        raise RouterError("store", str(e)) from None
    if result.living is None:
        raise RouterError("not_found", f"document {key!r} has no input at or before seq {seq}")
    return result


def merge_patch(old, new):
    """The RFC 7396 merge patch from `old` to `new` (lists replaced whole), or
    None when they are equal."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return None if old == new else new
    patch = {}
    for k in old:
        if k not in new:
            patch[k] = None
    for k, v in new.items():
        if k not in old:
            patch[k] = v
        elif old[k] != v:
            sub = merge_patch(old[k], v) if isinstance(v, dict) and isinstance(old[k], dict) else v
            patch[k] = sub
    return patch or None


def _render(living, who: str):
    from ..views.privacy import render_view

    doc = living.engine
    if not doc.created or living.destroyed:
        return None
    return render_view(doc, who)


def preview(router, key: str, who: str, seq) -> dict:
    result = _replayed(router, key, seq)
    living = result.living
    doc = living.engine
    view = _render(living, who)
    before = None
    if result.head > 1:
        earlier = _replayed(router, key, result.head - 1)
        before = _render(earlier.living, who)
    if view is None:
        delta = None if before is None else {}
    else:
        delta = merge_patch(before or {}, view) if before is not None else view
    asks = [a for a in living.asks_for(who)] if doc.created and not living.destroyed else []
    return {"key": key, "seq": result.head, "last": result.last, "principal": who,
            "preview": True, "note": PREVIEW, "view": view, "delta": delta,
            "outstanding": _json_safe(asks), "state": doc.state or None,
            "created": doc.created, "destroyed": living.destroyed,
            "next_due": living.next_due(), "debug": list(doc.debug_lines),
            # replication<svc:method> values (language.md 4.30), as advm snapshot inspect shows them
            **({"replication": living.replicas.status()} if living.replicas else {})}


def debug_lines(router, key: str, seq) -> dict:
    result = _replayed(router, key, seq)
    return {"key": key, "seq": result.head, "last": result.last,
            "lines": list(result.living.engine.debug_lines)}


def _describe(router, key: str) -> dict:
    """State, timer and asks of a stored document, from its newest snapshot
    and the log after it (what loading it would rebuild, without @load)."""
    from ..durable.document import rebuild
    from ..durable.noviews import NoViewers

    store = router.store
    rec = store.load(key)
    living, _ = rebuild(store, key, rec.snapshot, rec.entries,
                        {router.module.module_id(): router.module}, viewers=NoViewers, check=False)
    doc = living.engine
    seq = rec.entries[-1].seq if rec.entries else rec.seq
    asks = [{"id": a.id, "to": a.who, "channel": a.channel, "kind": a.kind}
            for a in sorted(doc.asks.asks.values(), key=lambda a: a.id) if not a.answered]
    pending = living.pending
    return {"state": doc.state or None, "seq": seq, "next_due": living.next_due(),
            "pending": None if pending is None else pending.label,
            "asks": asks, "destroyed": living.destroyed, "created": doc.created}


def live(router) -> dict:
    """What the router knows of each document it has a slot for, read on the
    event loop (the router's tables are the loop's alone)."""
    out = {}
    for key, slot in list(router.slots.items()):
        out[key] = {"loaded": bool(slot.loaded),
                    "viewers": {who: len(vs) for who, vs in slot.sinks.items() if vs},
                    "queue": len(slot.queue), "timer": router._due.get(key),
                    "bytes": slot.bytes if slot.loaded else None}  # its memory estimate (runtime/memory.py)
    return out


def documents(router, known: dict) -> dict:
    """Every document: `known` (from live(), for documents with a slot) and
    the store's (or the shelf's), each described from the store. On a thread."""
    durable = router.backend == "durable" and router.store is not None
    keys = set(known)
    if durable:
        keys.update(router.store.documents())
    else:
        keys.update(router.shelf.keys())
    out = []
    for key in sorted(keys)[:LIST_LIMIT]:
        slot = known.get(key) or {"loaded": False, "viewers": {}, "queue": 0, "timer": None, "bytes": None}
        row = {"key": key, "loaded": slot["loaded"], "sleeping": not slot["loaded"],
               "viewers": slot["viewers"], "queue": slot["queue"], "timer": slot["timer"],
               "bytes": slot["bytes"],
               "state": None, "pending": None, "seq": None, "asks": None}
        if durable:
            try:
                row.update(_describe(router, key))
            except Exception as e:  # a damaged document is listed, with why
                row["problem"] = f"{type(e).__name__}: {e}"
            due = row.pop("next_due", None)
            if due is not None:
                row["timer"] = due
        out.append(row)
    return {"backend": "durable" if durable else "memory", "documents": out,
            "more": len(keys) > LIST_LIMIT, "space": getattr(router, "space", "default")}


# ---------------------------------------------------------------- methods


def _key(req) -> str:
    key = req.get("key")
    try:
        return check_key(key)
    except RouterError as e:
        raise Refused(e.code, e.message) from None


def _seq(req, name="seq"):
    seq = req.get(name)
    if seq is not None and (type(seq) is not int or seq < 0):
        raise Refused("bad_request", f"\"{name}\" is a sequence number, 0 or more")
    return seq


def _threaded(sock, rid, fn, *args) -> None:
    fut = asyncio.get_running_loop().run_in_executor(None, fn, *args)
    sock.answer(rid, fut)


def admin_documents(s, rid, req) -> None:
    allowed(s, req)
    _threaded(s, rid, documents, s.router, live(s.router))


def admin_log(s, rid, req) -> None:
    allowed(s, req)
    key = _key(req)
    after = _seq(req, "after") or 0
    limit = req.get("limit", 100)
    if type(limit) is not int or not 1 <= limit <= LOG_LIMIT:
        raise Refused("bad_request", f"\"limit\" is 1 to {LOG_LIMIT} entries")
    _threaded(s, rid, read_log, s.router, key, after, limit)


def admin_deploy(s, rid, req) -> None:
    """admin/deploy {module}: new code, the server staying up (Router.deploy;
    spec/runtime.md 9.1). `module` is a compiled module (.advc) in base64; the
    whole request must fit the server's request limit (Limits.max_frame)."""
    allowed(s, req)
    text = req.get("module")
    try:
        code = base64.b64decode(text, validate=True) if isinstance(text, str) and text else None
    except ValueError:
        code = None
    if code is None:
        raise Refused("bad_request", "\"module\" is required: a compiled module (advm compile) in base64")
    restart = req.get("restart_blocked", False)
    if type(restart) is not bool:
        raise Refused("bad_request", "\"restart_blocked\" is true or false")
    prefix, percent = req.get("prefix"), req.get("percent")
    if prefix is not None and not isinstance(prefix, str):
        raise Refused("bad_request", "\"prefix\" is text: the canary's key prefix")
    if percent is not None and (type(percent) is not int or not 0 <= percent <= 100):
        raise Refused("bad_request", "\"percent\" is 0 to 100: the canary's share of documents")
    s.answer(rid, asyncio.ensure_future(deploy(s.router, code, restart, prefix, percent,
                                               spaces=getattr(s.server, "spaces", None))))


def modules(router, known: dict, after: str | None, limit: int) -> dict:
    """admin/modules (`advm deploy --status --server`; spec/runtime.md 9.1):
    which module each document runs, loaded (`known`, from live()) or
    sleeping, read from the store without waking any (every upgrade commits
    with a snapshot, so the store names a loaded document's code as well).
    Keys in order after `after`, `limit` at most; `more` when some are left.
    On a thread."""
    durable = router.backend == "durable" and router.store is not None
    current = router.module.module_id()
    canary = None
    for runner in router.runners:
        for c in getattr(runner, "canaries", None) or ():
            canary = {"prefix": c["canary"][0], "percent": c["canary"][1]}
    keys = set(known) | set(router.store.documents() if durable else router.shelf.keys())
    keys = sorted(k for k in keys if after is None or k > after)
    page = keys[:limit]
    if durable:
        from ..durable.inspect import stored_modules

        rows = stored_modules(router.store, [k for k in page if router.store.last_seq(k) > 0])
    else:  # memory moves every shelved document at the deploy (spec/runtime.md 9.1)
        rows = [{"doc": k, "module": current, "filename": router.module.filename, "seq": None} for k in page]
    for row in rows:
        row["loaded"] = bool(known.get(row["doc"], {}).get("loaded"))
    return {"module": current, "filename": router.module.filename, "canary": canary,
            "backend": "durable" if durable else "memory", "documents": rows, "more": len(keys) > limit}


def admin_modules(s, rid, req) -> None:
    allowed(s, req)
    after = req.get("after")
    if after is not None and not isinstance(after, str):
        raise Refused("bad_request", "\"after\" is a document key: the list goes on after it")
    limit = req.get("limit", LIST_LIMIT)
    if type(limit) is not int or not 1 <= limit <= LIST_LIMIT:
        raise Refused("bad_request", f"\"limit\" is 1 to {LIST_LIMIT} documents")
    _threaded(s, rid, modules, s.router, live(s.router), after, limit)


async def deploy(router, code: bytes, restart_blocked: bool = False, prefix=None, percent=None, *,
                 spaces=None) -> dict:
    """Router.deploy; through `spaces` (net/spaces.py) when the router is a
    space's, which also records the new code for a restart."""
    from ..vm.errors import ModuleFormatError

    try:
        if spaces is not None and spaces.router(router.space) is router:
            return await spaces.deploy(router.space, code, restart_blocked=restart_blocked,
                                       prefix=prefix, percent=percent)
        return await router.deploy(code, restart_blocked=restart_blocked, prefix=prefix, percent=percent)
    except ModuleFormatError as e:
        raise RouterError("bad_module", f"the module cannot be read: {e}") from None


def admin_view(s, rid, req) -> None:
    allowed(s, req)
    key = _key(req)
    who = req.get("principal")
    if not isinstance(who, str) or not who:
        raise Refused("bad_request", "\"principal\" is required: whom to preview the view for, "
                      "agent@authority")
    if "@" not in who:
        who += "@"
    _threaded(s, rid, preview, s.router, key, who, _seq(req))


def admin_debug(s, rid, req) -> None:
    allowed(s, req)
    _threaded(s, rid, debug_lines, s.router, _key(req), _seq(req))


METHODS = {
    "admin/documents": admin_documents,
    "admin/log": admin_log,
    "admin/view": admin_view,
    "admin/debug": admin_debug,
    "admin/deploy": admin_deploy,
    "admin/modules": admin_modules,
}


def guarded(handler, refused):
    """`handler` with this module's refusals turned into the server's (`refused`)."""
    def run(s, rid, req):
        try:
            handler(s, rid, req)
        except Refused as e:
            raise refused(e.code, e.message) from None

    return run


__all__ = ["METHODS", "allowed", "documents", "guarded", "merge_patch", "preview", "read_log"]
