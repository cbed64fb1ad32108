"""A shard: the documents one execution lane runs, one input at a time.

The router sends it requests `(kind, key, payload, now)` in order; each
returns a concurrent future of a reply dict:

    {"frames": [...], "deltas": [...], "due": ms, "error": [code, message],
     "destroyed": True, "loaded": True, "dropped": True, ...}

with every key that would hold its default (no frames, no deltas, no due
time, no error, False) left out: read them with `.get`.

`dropped`: the shard let go of the document after a failure (Shard._drop):
every stream of it has ended.

Frames are the runtime's (spec/runtime.md 3), except that delta frames
travel apart, as `"deltas": [(to, patch as JSON text, seq), ...]` in order.

Replies for one document are released in request order, and (with a durable
backend) only once the request's input is durable, so the router can pipeline
many requests without waiting and still forward frames as they come.

A shard may be driven by several threads (a worker's lanes, net/lanes.py),
each document by one at a time: what documents share is safe to use from
any thread (the static gate, the collector and the runaway records each
have a lock; the documents dict and the reply chains are touched one key
at a time). Future callbacks run on the store's or the reader's thread.
"""
from __future__ import annotations

import concurrent.futures as cf
import gc
import threading

from ..runtime.host import NotFound, Refused, Resolved, RuntimeHost
from ..runtime.memory import MEASURE_EVERY, measure
from ..store.blobs import referenced
from ..store.errors import StoreError
from ..vm.stdlib import DEBUG_LINES_DROPPED, DEBUG_MAX_LINES
from .documents import Later
from .jsontext import encode as _encode

INPUT_KINDS = ("connect", "disconnect", "send", "answer", "advance", "delete")

# Runaway documents (spec/protocol.md 8.6): a document whose inputs exhausted
# their instruction budget RUNAWAY_LIMIT times within RUNAWAY_WINDOW_MS is
# throttled for THROTTLE_MS after the last one: its inputs that would run its
# code are refused with `throttled`, without running.
RUNAWAY_LIMIT = 2
RUNAWAY_WINDOW_MS = 60_000
THROTTLE_MS = 60_000




def split_deltas(frames) -> tuple[list, list]:
    """The runtime's frames as (other frames, deltas), each delta a tuple
    (to, patch as JSON text, seq).

    Encoding here puts the work on the runner (a worker process) rather than
    on the server's event loop, and tuples of text pickle far cheaper than
    dicts. The views give each viewer its own top-level patch but share every
    changed member's encoding between viewers, so a patch is known by its
    members (scalars by value, objects and arrays by identity) and each
    distinct one is encoded once; equal patches then share one text object,
    which the server uses to build each distinct frame once (net/server.py)."""
    others: list = []
    deltas: list = []
    seen: dict = {}
    last = None
    last_text = None
    for f in frames:
        patch = f.get("delta")
        if patch is None:
            others.append(f)
            continue
        # Fan-out sends one change to many viewers in a row: the same patch
        # object, or one whose members are the previous patch's own objects,
        # needs no key at all.
        if patch is last or last is not None and _same_members(patch, last):
            deltas.append((f["to"], last_text, f["seq"]))
            continue
        key = tuple([(k, id(v)) if type(v) in (dict, list) else (k, type(v), v)
                     for k, v in patch.items()])
        text = seen.get(key)
        if text is None:
            text = seen[key] = _encode(patch)
        last, last_text = patch, text
        deltas.append((f["to"], text, f["seq"]))
    return others, deltas


_ABSENT = object()


def _same_members(patch: dict, last: dict) -> bool:
    if len(patch) != len(last):
        return False
    get = patch.get
    for k, v in last.items():
        if get(k, _ABSENT) is not v:
            return False
    return True


def reply(frames=(), error=None, due=None, destroyed=False, **extra) -> dict:
    """A reply with only what is not the default: no frames, no deltas, no
    error, no due time, not destroyed, not loaded are absent keys (the router
    reads them with `.get`). Most replies cross a process boundary; the
    usual one is just its deltas and `loaded`, and every absent key is less
    to pickle and unpickle."""
    others, deltas = split_deltas(frames)
    out = extra
    if others:
        out["frames"] = others
    if deltas:
        out["deltas"] = deltas
    if error is not None:
        out["error"] = error
    if due is not None:
        out["due"] = due
    if destroyed:
        out["destroyed"] = True
    return out


def failed(code: str, message: str) -> dict:
    return reply(error=[code, message])


def _done(value) -> Resolved:
    return Resolved(value)


def _throttle_text(key: str, until: int, now: int) -> str:
    return (f"document {key!r} keeps exhausting its instruction budget: it runs no input "
            f"for another {-(-(until - now) // 1000)} s")


def _sender_error(frames, who):
    for f in frames:
        if f.get("to") == who and "error" in f:
            return [f["error"]["code"], f["error"]["message"]]
    return None


class Collector:
    """Frees the documents a shard lets go, with full collections of the
    cyclic garbage collector at a pace proportional to what was let go.

    Why the shard does it: an unloaded document is one large reference cycle
    (rows refer to their tables, the machine to its document, the views to
    both), which only the cyclic collector frees. But the automatic
    collector never starts in a process that runs transactions: the runtime
    pauses it around each one and then moves the survivors to the oldest
    generation with gc.freeze()/unfreeze() (runtime/engine.py promote_young),
    and in CPython 3.11 gc.freeze() also sets every generation's allocation
    count to zero, so the count that would start a collection never reaches
    its threshold. (What a transaction drops is freed by reference counting.)
    Left alone, every load of a document kept its whole memory for good.

    The rule, CPython's own for its oldest generation: a full collection once
    the documents unloaded since the last one reach a quarter of those still
    loaded (and at least one). A collection scans what is alive; this way it
    runs after a quarter of that has been let go, so its cost per unloaded
    document stays bounded however many documents a shard holds, and the
    garbage waiting for it stays under a quarter of the live documents."""

    __slots__ = ("unloaded", "collections", "_lock")

    def __init__(self):
        self.unloaded = 0     # documents let go since the last collection
        self.collections = 0
        self._lock = threading.Lock()

    def let_go(self) -> None:
        with self._lock:
            self.unloaded += 1

    def due(self, loaded: int) -> bool:
        return self.unloaded > 0 and self.unloaded * 4 >= loaded

    def collect(self) -> None:
        """A full collection, unless another thread just ran one. Safe while
        other lanes are in the middle of a transaction: a collection frees
        only what nothing reaches."""
        with self._lock:
            if self.unloaded == 0:
                return
            self.unloaded = 0
            self.collections += 1
        gc.collect()


class Shard:
    """The requests of one execution lane, on the one runtime host
    (runtime/host.py): the host creates, invents, loads and unloads the
    documents and applies their inputs; the shard adds what serving needs
    (replies in request order, deltas encoded, runaway documents throttled,
    memory collected)."""

    def __init__(self, module, backend):
        self.module = module
        self.backend = backend
        self.host = RuntimeHost(module, backend)
        self.docs = self.host.docs  # the loaded documents, by key
        self._tails: dict[str, Later] = {}
        self._lock = threading.Lock()
        self._handlers = {kind: getattr(self, "_" + kind) for kind in (
            "create", "connect", "disconnect", "send", "answer", "advance", "delete", "view",
            "update", "close", "result", "web", "debug", "deploy", "upgrade", "authorize")}
        # Whether the backend's documents take `submit(op, now, done=)`.
        self._callbacks = getattr(backend, "callbacks", False)
        self.collector = Collector()
        self._runaways: dict[str, list[int]] = {}  # key -> when its budget ran out lately (ms)
        self._throttled: dict[str, int] = {}        # key -> until when it runs no code (ms)
        self._runaway_lock = threading.Lock()
        # @debug subscribers (spec/protocol.md 8.3 document/debug): key -> how
        # many the router holds. Only these documents keep their lines.
        self._debugging: dict[str, int] = {}
        # Memory estimates (spec/runtime.md 7.1): key -> [requests since the
        # document was loaded, id of the document loaded].
        self._sizes: dict[str, list[int]] = {}

    # ------------------------------------------------------------ entry point

    def handle(self, kind: str, key: str, payload: dict, now: int) -> cf.Future:
        try:
            fut = self._handlers[kind](key, payload, now)
        except NotFound:
            fut = _done(failed("not_found", f"no document {key!r}"))
        except StoreError as e:  # an earlier input could not be made durable (a view waits on it)
            value = failed("store", f"{type(e).__name__}: {e}")
            if self._drop(key):
                value["dropped"] = True
            fut = _done(value)
        except Exception as e:  # a bug: forget the document, keep serving
            value = failed("internal", f"{type(e).__name__}: {e}")
            if self._drop(key):
                value["dropped"] = True
            fut = _done(value)
        if self.collector.due(len(self.docs)):
            self.collector.collect()
        # Whether this shard holds the document once the request ran: the router
        # frees its bookkeeping for documents nobody holds.
        loaded = key in self.docs
        if loaded:
            size = self._measure(key)
        else:
            self._sizes.pop(key, None)
            size = None
        return self._in_order(key, fut, loaded, size)

    def _measure(self, key: str) -> int | None:
        """Document `key`'s memory estimate (runtime/memory.py) when it is due
        to be measured: once loaded (or created), after its 1st, 2nd, 4th ...
        128th request (a new document often grows at once), then every
        MEASURE_EVERY requests; None in between (the router keeps the last one)."""
        doc = self.docs[key]
        entry = self._sizes.get(key)
        if entry is None or entry[1] != id(doc):
            self._sizes[key] = [0, id(doc)]
        else:
            n = entry[0] = entry[0] + 1
            if n % MEASURE_EVERY and n & (n - 1):
                return None
        try:
            return measure(doc.living)
        except Exception:  # a document that cannot be encoded now keeps its last estimate
            return None

    def _in_order(self, key: str, inner, loaded: bool, size: int | None = None):
        """`inner`'s reply, released only after every earlier reply for `key`."""

        def value_of(f):
            exc = f.exception()
            value = failed("internal", repr(exc)) if exc is not None else f.result()
            if loaded:
                value["loaded"] = True
                if size is not None:
                    value["bytes"] = size
            return value

        with self._lock:
            prev = self._tails.get(key)
            if inner.done() and (prev is None or prev.done()):
                # Nothing earlier is held back and this is ready: release it
                # now, and nothing later needs to wait for it.
                if prev is not None:
                    del self._tails[key]
                return Resolved(value_of(inner))
            out = Later()
            self._tails[key] = out

        def release(f):
            out.set_result(value_of(f))

        if prev is None or prev.done():
            inner.add_done_callback(release)
        else:
            prev.add_done_callback(lambda _: inner.add_done_callback(release))

        def forget(f):
            with self._lock:
                if self._tails.get(key) is f:
                    del self._tails[key]

        out.add_done_callback(forget)
        return out

    # ------------------------------------------------------------ documents

    def _drop(self, key: str) -> bool:
        """Forget document `key` after a failure (RuntimeHost.drop); whether it was
        loaded (its viewers' streams must then end: `dropped` in the reply)."""
        if not self.host.drop(key):
            return False
        self.collector.let_go()
        return True

    def _reply(self, key: str, frames, **kw) -> dict:
        """reply(), for an input that ran (and, durable, is durable). If its
        frames cannot be encoded, the input still happened: the sender hears
        so, and every viewer, who missed a delta, starts again (the
        document is dropped and its streams end)."""
        try:
            return reply(frames, **kw)
        except Exception:
            out = reply([f for f in frames if "delta" not in f], **kw)
            self._drop(key)
            out["dropped"] = True
            return out

    def _listen(self, key: str, doc) -> None:
        """Before an input: the document keeps its @debug lines only while someone subscribes."""
        doc.living.engine.listening = key in self._debugging

    def _after_input(self, key, doc, fut, now, **extra):
        lines = doc.living.engine.debug_lines
        if lines:  # what this input printed, for the subscribers (at most DEBUG_MAX_LINES)
            if key in self._debugging:
                extra["debug"] = lines[:DEBUG_MAX_LINES] if len(lines) <= DEBUG_MAX_LINES \
                    else lines[:DEBUG_MAX_LINES] + [DEBUG_LINES_DROPPED]
            doc.living.engine.debug_lines = []
        due = doc.next_due()
        calls = doc.living.service_calls()
        if calls:  # made by the host once this input is durable (net/services.py)
            extra["calls"] = calls
        destroyed = doc.living.destroyed
        if destroyed and not doc.living.deleting:  # kept while its copies' deletes go out (language.md 4.30)
            if self.host.remove(key):  # runs on this thread, never in a commit callback
                self.collector.let_go()
        if type(fut) is Resolved:  # in memory: done already
            frames = fut.result()
            self._note_runaway(key, frames, now)
            return Resolved(self._reply(key, frames, due=due, destroyed=destroyed, **extra))
        out = Later()

        def finish(f):
            try:
                frames = f.result()
                self._note_runaway(key, frames, now)
            except Exception as e:  # the input could not be made durable
                value = failed("store", f"{type(e).__name__}: {e}")
                # The document it ran on is gone (it reloads from the store):
                # so are the viewers' streams of it. Unless it went already
                # and what is loaded now is its reload (an input queued on it
                # failed late): that one and its streams stay (netsim seed 95).
                # Nothing loaded any more (an earlier input's failure dropped
                # this same document): the reply still says `dropped`.
                loaded = self.docs.get(key)
                if loaded is doc:
                    self.docs.pop(key, None)
                    self.collector.let_go()
                if loaded is doc or loaded is None:
                    value["dropped"] = True
                out.set_result(value)
                return
            out.set_result(self._reply(key, frames, due=due, destroyed=destroyed, **extra))

        fut.add_done_callback(finish)
        return out

    # ------------------------------------------------------------ requests

    def _deploy(self, key, p, now):
        """New code for this shard (spec/runtime.md 9; Router.deploy): with
        `check`, only whether the plan and every loaded document allow it;
        else the host switches (new documents, sleeping ones as they wake)
        and the reply lists the loaded documents, each moved by an `upgrade`
        request in its own input order."""
        from ..runtime.upgrade import UpgradeRefused
        from ..vm.module import Module

        module = Module.from_bytes(p["code"])
        try:
            canary = p.get("canary")
            if p.get("check"):
                self.host.refusals(module, canary)
                return _done(reply(keys=[]))
            keys = list(self.host.deploy(module, move=False, canary=canary))
        except UpgradeRefused as e:
            return _done(failed("deploy_refused", "; ".join(e.reasons)))
        self._target = module  # what `upgrade` requests move documents to
        self._restart_blocked = bool(p.get("restart_blocked"))
        return _done(reply(keys=keys))

    def _upgrade(self, key, p, now):
        doc = self.docs.get(key)
        if doc is None:  # asleep: it moves when it wakes
            return _done(reply())
        from ..runtime.upgrade import UpgradeRefused
        try:
            moved = doc.upgrade(getattr(self, "_target", self.host.module),
                                restart_blocked=getattr(self, "_restart_blocked", False))
        except UpgradeRefused:  # it changed since the check: it stays on its code
            return _done(reply())
        return self._after_input(key, doc, moved, now)

    def _create(self, key, p, now):
        who = p["who"]
        try:
            doc, frames = self.host.create(key, who, p.get("arg"), now, origin=p.get("origin", ""),
                                           ip=p.get("ip", ""), sender=p.get("sender"))
        except Refused as e:
            return _done(failed(e.code, e.message))
        doc.living.engine.debug_lines = []  # nobody can listen to a document before it exists
        error = _sender_error(frames, who)
        if error is not None or not doc.living.engine.created:
            return _done(reply(frames, error=error))
        calls = doc.living.service_calls()  # @construct's calls, a replication's create (net/services.py)
        return _done(reply(frames, due=doc.next_due(), **({"calls": calls} if calls else {})))

    def _connect(self, key, p, now):
        who = p["who"]
        until = self.throttled(key, now)
        if until is not None:
            return _done(failed("throttled", _throttle_text(key, until, now)))
        invented = []
        if not self.host.exists(key):
            # spec 4.23: connecting to a missing key may create it, if `invent` says so.
            doc, frames = self.host.invent(key, who, now, origin=p.get("origin", ""), ip=p.get("ip", ""))
            error = _sender_error(frames, who)
            if error is not None or not doc.living.engine.created:
                return _done(reply(frames, error=error))
            invented = frames
        doc = self.host.open(key)
        self._listen(key, doc)
        item = {"op": "connect", "who": who}
        if p.get("origin") or p.get("ip"):  # the socket's, read as @context in @connected
            item["context"] = {"origin": p.get("origin", ""), "ip": p.get("ip", "")}
        fut = self.host.submit_to(doc, item, now)
        if invented:
            inner = fut
            fut = cf.Future()
            inner.add_done_callback(lambda f: fut.set_result(invented + f.result())
                                    if not f.exception() else fut.set_exception(f.exception()))
        return self._after_input(key, doc, fut, now)

    # ------------------------------------------------------------ runaways

    def _note_runaway(self, key: str, frames, now: int) -> None:
        """Count an input that exhausted its budget (its frames say `budget`);
        the RUNAWAY_LIMIT-th within the window throttles the document. May
        run on any lane or on the store's committer thread: the records are
        changed under a lock, and read (throttled, suspect) by whole-value
        dict reads."""
        for f in frames:
            error = f.get("error")
            if error is not None and error.get("code") == "budget":
                break
        else:
            return
        with self._runaway_lock:
            if len(self._runaways) + len(self._throttled) > 1024:  # forget what is over
                self._runaways = {k: v for k, v in self._runaways.items()
                                  if v[-1] > now - RUNAWAY_WINDOW_MS}
                self._throttled = {k: t for k, t in self._throttled.items() if t > now}
            recent = [t for t in self._runaways.get(key, ()) if t > now - RUNAWAY_WINDOW_MS]
            recent.append(now)
            self._runaways[key] = recent
            if len(recent) >= RUNAWAY_LIMIT:
                self._throttled[key] = now + THROTTLE_MS
                self._runaways.pop(key, None)

    def suspect(self, key: str) -> bool:
        """Whether document `key` exhausted its budget lately (its next input
        may run for a whole budget too)."""
        return key in self._runaways

    def throttled(self, key: str, now: int) -> int | None:
        """Until when (ms) document `key` runs no code, or None."""
        until = self._throttled.get(key)
        if until is not None and now >= until:
            self._throttled.pop(key, None)
            return None
        return until

    def _input(self, key, op, now):
        until = self.throttled(key, now)
        if until is not None and op["op"] != "disconnect":
            if op["op"] == "advance":  # its timer fires once the throttle ends
                return _done(reply(due=until))
            return _done(failed("throttled", _throttle_text(key, until, now)))
        doc = self.host.open(key)
        self._listen(key, doc)
        if op["op"] == "web":  # the handler's answer, taken as it runs (runtime/living.py)
            doc.living.web_reply = None
            if not self._callbacks:
                fut = self.host.submit_to(doc, op, now)
                return self._after_input(key, doc, fut, now, web=doc.living.web_reply)
            landed = Later()
            self.host.submit_to(doc, op, now, done=lambda frames, exc: landed.set_result(frames) if exc is None
                            else landed.set_exception(exc))
            return self._after_input(key, doc, landed, now, web=doc.living.web_reply)
        if not self._callbacks:
            return self._after_input(key, doc, self.host.submit_to(doc, op, now), now)
        # A durable document answers through a callback once the input is
        # durable (durable/document.py): no concurrent future on the way.
        landed = Later()
        self.host.submit_to(doc, op, now, done=lambda frames, exc: landed.set_result(frames) if exc is None
                        else landed.set_exception(exc))
        return self._after_input(key, doc, landed, now)

    def _disconnect(self, key, p, now):
        if key not in self.docs:  # unloaded: nobody is connected to it
            return _done(reply())
        return self._input(key, {"op": "disconnect", "who": p["who"]}, now)

    def _send(self, key, p, now):
        item = {"op": "send", "who": p["who"], "channel": p["channel"], "message": p.get("message")}
        if "sender" in p:  # a document's message (spec/language.md 4.32): deduplicated by the receiver
            item["sender"] = p["sender"]
        if "origin" in p or "ip" in p:  # read as @context (net/server.py sends it when the code does)
            item["context"] = {"origin": p.get("origin", ""), "ip": p.get("ip", "")}
        return self._input(key, item, now)

    def _answer(self, key, p, now):
        return self._input(key, {"op": "answer", "who": p["who"], "ask": p["ask"],
                                 "message": p.get("message")}, now)

    def _advance(self, key, p, now):
        return self._input(key, {"op": "advance"}, now)

    def _result(self, key, p, now):
        """A service call's result (net/services.py): an input without a principal."""
        return self._input(key, {"op": "result", "call": p["call"], "result": p["result"]}, now)

    def _web(self, key, p, now):
        """A @web request (net/web.py): get and options read the document
        without an input; put and delete are its `web` input."""
        method = p["method"]
        if method == "can_attach":  # asked before an upload's bytes are taken (net/web.py)
            doc = self.host.open(key)
            ok = doc.living.can_attach(p["who"])
            return _done(reply(web=(200 if ok else 403, [], b"")))
        if method == "assets":  # the asset collector asks which blobs the state holds (net/web.py)
            doc = self.host.open(key)
            ids = sorted(referenced([doc.living.engine.fields(formulas=False)]))
            return _done(reply(web=(200, [], ids)))
        if method == "attach":  # the upload's facts: the document's attach input
            return self._input(key, {"op": "attach", "who": p["who"], "asset": p.get("message")}, now)
        if method in ("get", "options"):
            doc = self.host.open(key)
            return _done(reply(web=doc.living.web_read(p["who"], method, p["path"], p.get("parameters"),
                                                       p.get("headers"))))
        op = {"op": "web", "who": p["who"], "method": method, "path": p["path"], "message": p.get("message")}
        for part in ("parameters", "headers"):  # @parameters, @headers (runtime/web.py)
            if p.get(part):
                op[part] = p[part]
        return self._input(key, op, now)

    def _delete(self, key, p, now):
        return self._input(key, {"op": "delete", "who": p["who"]}, now)

    def _authorize(self, key, p, now):
        """Sign-in (spec/protocol.md 8.3 `document/authorize`): the agent the
        document's @authorize or @authorization answers. Not an input: it only
        reads, nothing is logged."""
        if not self.host.exists(key):
            return _done(failed("not_found", f"document {key!r} does not exist"))
        agent = self.host.open(key).living.authorize(p.get("username"), p.get("password"), p.get("message"))
        if agent is None:
            return _done(failed("authorize_refused", "the document did not sign these credentials in"))
        return _done(reply(agent=agent))

    def _view(self, key, p, now):
        """A viewer's whole plain view and open asks, without an input: for a
        second connection of the same principal, and to resynchronise a
        client whose pending deltas were dropped."""
        doc = self.host.open(key)
        who = p["who"]
        return _done(reply(view=doc.view(who), asks=doc.asks_for(who),
                           connected=who in doc.living.connected, due=doc.next_due()))

    def _update(self, key, p, now):
        """A connected viewer's own state (spec/language.md 4.9.1): not an
        input of the document (nothing runs in it, nothing is logged); its
        bubbles are computed again and its patch comes back as a delta."""
        try:
            frames = self.host.update_viewer(key, p["who"], p.get("state"))
        except Refused as e:  # not_connected, input (the one path: runtime/host.py)
            return _done(failed(e.code, e.message))
        return _done(reply(frames, due=self.docs[key].next_due()))

    def _debug(self, key, p, now):
        """A @debug subscriber comes (`on`) or goes. One comes only if the
        document exists and its `@static debug` policy lets `who` in (asked
        for each subscriber; without the policy nobody may)."""
        if not p.get("on"):
            left = self._debugging.get(key, 0) - 1
            if left > 0:
                self._debugging[key] = left
            else:
                self._debugging.pop(key, None)
            return _done(reply())
        doc = self.host.open(key)  # NotFound: not_found
        who = p["who"]
        if not self.host.gate.allows("debug", who, p.get("origin", ""), p.get("ip", "")):
            if "debug" not in self.host.gate.policies:
                return _done(failed("debug_refused", f"document {key!r} has no @static debug policy, "
                                    f"so nobody may read its @debug lines; {who} was refused"))
            return _done(failed("debug_refused", f"@static debug returned false for {who} "
                                f"on document {key!r}"))
        self._debugging[key] = self._debugging.get(key, 0) + 1
        return _done(reply(due=doc.next_due()))

    def _close(self, key, p, now):
        if self.host.unload(key):
            self.collector.let_go()
        return _done(reply())


__all__ = ["INPUT_KINDS", "RUNAWAY_LIMIT", "RUNAWAY_WINDOW_MS", "Shard", "THROTTLE_MS", "failed",
           "reply"]
