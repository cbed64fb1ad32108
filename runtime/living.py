"""LivingDocument: one document running by itself (issue 4; contract in
spec/runtime.md).

It owns what happens *between* transactions: the queue of inputs, the clock,
the pending transition, the @cron jobs, who is connected, the lifecycle, and
turning every committed transaction into the frames clients receive (viewer
deltas, asks, errors). One transaction at a time goes through runtime/engine.py,
which owns asks, awaits and rollback.

    living = LivingDocument(module, key="g1", viewers=Viewers)  # a compiled vm.module.Module
    frames = living.create("alice", None, now)
    frames += living.connect("bob", now)
    frames += living.answer("bob", 7, {"x": 1, "y": 2}, now)
    frames += living.advance(now + 3_600_000)

Every input carries its time (ms since the epoch) and, except `advance`, its
principal; nothing reads the wall clock, so the same inputs give the same
frames on any machine, and `snapshot()`/`restore()` anywhere in between
changes nothing that follows (spec/snapshot.md).
"""
from __future__ import annotations

import logging
import threading
from collections import deque

import cbor2

from ..vm.docslots import CONTEXT, DESTROY, KEY, NEXT, NEXT_IN, NO_ONE, NOW, ZONE, as_principal
from ..vm.errors import SnapshotError
from ..vm.snapshot import dumps_values, loads_values
from ..vm.stdlib import values_equal
from ..vm.values import to_json
from .agents import AGENT_CALL, Agents
from .asks import CHOOSE, DECIDE, FETCH, AnswerError, match_answer
from .contracts import context_of
from .engine import Engine, TransactionError
from .schedule import Crons, Pending, due_after
from .replication import GONE, PREFIX as REPLICATION, Replicas
from .services import CALL_RECHECK_MS, MAX_CACHED, Outcome, parse_invocation
from .web import WebError, request_values, response, route

QUEUE_LIMIT = 256  # inputs waiting to be processed (the seeds' number)
# The one cap on transitions chained at one instant (spec/runtime.md 2 and 7):
# at most this many run in a row per input, the rest waits for the next input,
# so a state that transitions to itself forever cannot hang a host. Every
# host drives documents through runtime/host.py, which honours it too.
MAX_IMMEDIATE = 1000
SNAPSHOT_FORMAT = "advm-living"
SNAPSHOT_VERSION = 2  # 2: document values in the inline codec (vm/_restore.pyx)


log = logging.getLogger("advm.document")
_retelling = threading.local()


class retelling:
    """`with retelling():` inputs running again from a log (a recovery, `advm
    replay`). What their errors withheld from clients was logged when they
    first ran, so it is not logged again."""

    __slots__ = ("was",)

    def __enter__(self):
        self.was = getattr(_retelling, "on", False)
        _retelling.on = True

    def __exit__(self, *exc):
        _retelling.on = self.was


def error_frame(who, code: str, message: str) -> dict:
    return {"to": who, "error": {"code": code, "message": message}}


class LivingDocument:
    def __init__(self, module, key: str = "main", seed: int | None = None, *, viewers):
        """`viewers`: the factory of the object that computes views
        (spec/runtime.md 6), handed in by the host: views.viewers.Viewers,
        durable.noviews.NoViewers for replay, a test's own."""
        self._setup(Engine(module, key=key, seed=seed), viewers)

    def _setup(self, engine: Engine, viewers) -> None:
        self.engine = engine
        self.meta = engine.meta
        self.viewers_factory = viewers  # what a rebuild of this runtime makes its viewers with
        self.viewers = viewers(engine)
        self.queue: deque = deque()
        self.pending: Pending | None = None
        self.crons: Crons | None = None  # planned when the document is created
        self.frequency = self.meta["static"]["properties"].get("frequency")  # ms, or None
        self.connected: list[str] = []
        self.destroyed = False
        # language.md 4.32: per sending document ("space/key"), the number of its
        # last call this document ran (a create or a message): a call sent again
        # with that number or less is a duplicate and runs nothing.
        self.inbox: dict[str, int] = {}
        self.outbox: list[dict] = []  # frames made outside any input (@load at restore)
        # Timer runs that failed: nobody sent them, so nobody got an error frame.
        # (label, error): the state a failed transition was entering, else the
        # state the document was in.
        self.failures: list[tuple[str, TransactionError]] = []
        self.last_error: TransactionError | None = None  # the last transaction that rolled back
        self.transitions = 0  # state transitions this runtime ran (not kept in snapshots)
        self._verdict = False
        self.web_reply = None  # (status, headers, body) of the last web input (LivingDocument.web)
        self._burst, self._instant = 0, None
        self.replicas = Replicas(self.meta)  # replication<svc:method> values (spec/language.md 4.30)
        self.agents = Agents(self)  # session<A> fields' tool loops (spec/language.md 4.31)

    # ------------------------------------------------------------ inputs (contract)

    def create(self, who: str, arg, now: int, seed: str | None = None, sender=None) -> list[dict]:
        """`seed` (document.fresh_seed()): Random's state from entropy, as a
        server creates documents; None keeps the key-derived seed. `sender`:
        [document, call number] of a document creating this one (4.32)."""
        item = {"op": "create", "who": who, "arg": arg, "now": now}
        if seed is not None:
            item["seed"] = seed
        if sender is not None:
            item["sender"] = sender
        return self.apply(item)

    def connect(self, who: str, now: int) -> list[dict]:
        return self.apply({"op": "connect", "who": who, "now": now})

    def disconnect(self, who: str, now: int) -> list[dict]:
        return self.apply({"op": "disconnect", "who": who, "now": now})

    def send(self, who: str, channel: str, message, now: int) -> list[dict]:
        """apply() of {op: send, who, channel, message, now}, the same frames
        and state, without building the input when nothing waits ahead of it
        (replay runs nearly every logged entry through here)."""
        if not self.queue and not self.outbox and not self.replicas:
            frames = self._fast_send(who, channel, message, now)
            if frames is not None:
                return frames + self.pump() if self.queue else frames
        return self.apply({"op": "send", "who": who, "channel": channel, "message": message, "now": now})

    def answer(self, who: str, ask_id, message, now: int) -> list[dict]:
        return self.apply({"op": "answer", "who": who, "ask": ask_id, "message": message, "now": now})

    def advance(self, now: int) -> list[dict]:
        return self.apply({"op": "advance", "now": now})

    def delete(self, who: str, now: int) -> tuple[bool, list[dict]]:
        """Ask @delete whether `who` may delete the document; if so it is destroyed.
        Returns (allowed, frames)."""
        self._verdict = False
        frames = self.apply({"op": "delete", "who": who, "now": now})
        return self._verdict, frames

    def destroy(self, now: int) -> list[dict]:
        """Document.destroy() from the host: the document ends now."""
        return self.apply({"op": "destroy", "now": now})

    def web(self, who: str, method: str, path: str, message, now: int, parameters: dict | None = None,
            headers: dict | None = None) -> tuple[tuple, list[dict]]:
        """An HTTP request to a @web handler (language.md 4.28): ((status,
        headers, body), frames). get and options only read: they are no input
        (nothing logged, the clock stays). put and delete are the input
        {op: web, who, method, path, message, now, parameters, headers}: one
        transaction, logged. `parameters` and `headers` (runtime/web.py
        parse_query, request_headers) are @parameters and @headers."""
        if method in ("get", "options"):
            return self.web_read(who, method, path, parameters, headers), []
        self.web_reply = None
        item = {"op": "web", "who": who, "method": method, "path": path, "message": message, "now": now}
        if parameters:
            item["parameters"] = parameters
        if headers:
            item["headers"] = headers
        frames = self.apply(item)
        reply = self.web_reply
        if reply is None:  # refused before it ran (queue full, destroyed, not created)
            reply = _web_refusal(frames, who)
        return reply, frames

    def can_attach(self, who: str) -> bool:
        """Whether @can_attach lets `who` upload a file now (language.md 4.29),
        asked without an input (it only reads): False without @can_attach."""
        if self.destroyed or not self.engine.created or "can_attach" not in self.meta["handlers"]:
            return False
        principal = as_principal(who) if isinstance(who, str) else who
        try:
            return bool(self.engine.read(self.meta["handlers"]["can_attach"]["fn"], (), principal))
        except TransactionError:
            return False

    def authorize(self, username=None, password=None, message=None) -> str | None:
        """Sign-in (language.md 4.20.1): the agent name `@authorize (username,
        password)` answers, or with `message` `@authorization (M m)`; None when
        the handler aborts or answers "", the document has no such handler or
        does not exist, or the message does not fit. Asked without an input: it
        only reads, and nothing of it is kept."""
        if self.destroyed or not self.engine.created:
            return None
        handlers = self.meta["handlers"]
        if message is not None:
            h = handlers.get("authorization")
            if h is None or h.get("message") is None:
                return None
            try:
                args = (self.engine.message(h["message"], message),)
            except ValueError:
                return None
        else:
            h = handlers.get("authorize")
            if h is None or not isinstance(username, str) or not isinstance(password, str):
                return None
            args = (username, password)
        try:
            agent = self.engine.read(h["fn"], args, NO_ONE)
        except TransactionError:
            return None
        return agent if isinstance(agent, str) and agent else None

    def attach(self, who: str, asset: dict, now: int) -> list[dict]:
        """The input {op: attach, who, asset, now}: an uploaded file's facts
        (runtime/web.py; its bytes are in the blob store) given to @attached."""
        return self.apply({"op": "attach", "who": who, "asset": asset, "now": now})

    def web_read(self, who: str, method: str, path: str, parameters: dict | None = None,
                 headers: dict | None = None) -> tuple:
        """A get or options request: (status, headers, body)."""
        if self.destroyed or not self.engine.created:
            return _web_error(404, "the document does not exist")
        try:
            entry, args = route(self.meta.get("web") or [], method, path)
            args += request_values(parameters, headers)  # @parameters, @headers
        except WebError as e:
            return _web_error(e.status, e.message)
        principal = as_principal(who) if isinstance(who, str) else who
        try:
            value = self.engine.web(entry["fn"], tuple(args), principal, None, read=True)
        except TransactionError as e:
            return _web_error(500, f"@web {method} failed: {self._told(e, principal)}")
        return response(value, method)

    def apply(self, item: dict) -> list[dict]:
        """Queue one input and process everything queued, in order."""
        if not self.queue and not self.outbox and type(item) is dict:
            # Nothing waits ahead of it: run it without the trip through the queue.
            out = self._process(item)
            return out + self.pump() if self.queue else out
        return self.enqueue(item) + self.pump()

    def enqueue(self, item: dict) -> list[dict]:
        """Queue one input without running it (a host that receives faster than
        it runs); a full queue refuses it with an error frame to its sender."""
        if len(self.queue) >= QUEUE_LIMIT:
            return [error_frame(self._who(item), "queue_full",
                                f"the document has {QUEUE_LIMIT} inputs waiting; try again later")]
        self.queue.append(dict(item))
        return []

    def pump(self) -> list[dict]:
        out, self.outbox = self.outbox, []
        while self.queue:
            out += self._process(self.queue.popleft())
        return out

    # ------------------------------------------------------------ reading (contract)

    def view(self, who: str) -> dict:
        return self.viewers.plain_view(as_principal(who))

    def asks_for(self, who: str) -> list[dict]:
        return [self._ask_json(a) for a in self.engine.asks.open_for(as_principal(who))]

    def service_calls(self) -> list[dict]:
        """The service calls the host must make (runtime/services.py `pending`):
        each {"call", "service", "method", "who", "request" (JSON text),
        "idempotent"}; its result comes back as a `result` input."""
        calls = self.engine.services.pending()
        if self.agents and not self.destroyed:
            calls = calls + self.agents.calls()  # completions sessions wait for (runtime/agents.py)
        return calls + self.replicas.calls() if self.replicas else calls

    def next_due(self) -> int | None:
        """When something is due next (ms), for hosts that let documents sleep."""
        if self.deleting:  # woken to make its copies' deletes again after a restart
            return self.clock + CALL_RECHECK_MS
        if self.destroyed or not self.engine.created:
            return None
        due = self.crons.next_due() if self.crons is not None else None
        if self.pending is not None and (due is None or self.pending.due < due):
            due = self.pending.due
        if self.agents:  # a processing session goes stale then (runtime/agents.py)
            stale = self.agents.wake()
            if stale is not None and (due is None or stale < due):
                due = stale
        if self.engine.asks.calls or (self.replicas and self.replicas.pending()) or \
                (self.agents and stale is not None):
            # A call (or a replication operation) without its result: wake to make it again if the host that
            # made it is gone (a restart), runtime/services.py CALL_RECHECK_MS.
            again = self.clock + CALL_RECHECK_MS
            if due is None or again < due:
                due = again
        if self.frequency:  # @static frequency: woken at least that often (spec/language.md 4.23)
            again = self.clock + self.frequency
            if due is None or again < due:
                due = again
        return due

    @property
    def clock(self) -> int:
        return self.engine.machine.doc.f[NOW]

    @property
    def capped(self) -> bool:
        """Whether the last input stopped at MAX_IMMEDIATE transitions in a row:
        something is due at or before the document's time that has not run
        (every input runs all that is due otherwise). The next input runs it."""
        due = self.next_due()
        return due is not None and due <= self.clock

    def reconnect(self) -> list[dict]:
        """Re-attach every viewer the runtime lists as connected, in connection
        order, without running @connected: each gets `connected`, its full view
        and its open asks, after what @load made viewers see. What a scripted
        session's restart does (spec/sessions.md 5; a server lets them go
        instead, runtime/host.py RuntimeHost.open)."""
        frames = self.pump()
        for who in list(self.connected):
            frames.append({"to": who, "connected": True})
            frames += self.viewers.connect(who)
            frames += [{"to": who, "ask": ask} for ask in self.asks_for(who)]
        return frames

    # ------------------------------------------------------------ one input

    @staticmethod
    def _who(item: dict):
        who = item.get("who")
        return as_principal(who) if isinstance(who, str) else None

    def _process(self, item: dict) -> list[dict]:
        context = item.get("context")
        if context is not None:  # @context of @connected, @disconnected and channels (runtime.md 2)
            f = self.engine.machine.doc.f
            f[CONTEXT] = context_of(context)
            try:
                out = self._process_input(item)
            finally:
                f[CONTEXT] = None  # held by no snapshot
        else:
            out = self._process_input(item)
        if self.replicas and self.engine.created:
            # After every input, each replicated value that changed issues its
            # operation (runtime/replication.py): document state, so replay agrees.
            # A deleted document's values are all gone: each copy gets its delete.
            self.replicas.refresh(GONE if self.destroyed else self.engine.field)
        if self.agents and self.engine.created and not self.destroyed:
            out += self.agents.refresh()  # stale sessions end (runtime/agents.py)
        return out

    def _answered_waiting(self):
        """The fetch the waiting body awaits, when chan.enqueue answered it; else None."""
        waiting = self.engine.waiting
        ask = self.engine.asks.asks.get(waiting.get("id")) if isinstance(waiting, dict) else None
        return ask if ask is not None and ask.answered and ask.kind == FETCH else None

    def _take_enqueued(self) -> list[dict]:
        """The awaited fetch got its answer from chan.enqueue (runtime/asks.py):
        the waiting body resumes with it, as it would with an `answer` input
        (language.md 5.22); if it refuses it, the ask is open again."""
        doc, out = self.engine, []
        while not self.destroyed and doc.cont is not None:
            ask = self._answered_waiting()
            if ask is None:
                break
            committed, _, frames = self._transact(ask.who, lambda a=ask: doc.resume(a.answer, now=doc.now),
                                                  f"the message queued for you on {ask.channel} was refused: ")
            out += frames
            if not committed:
                doc.asks.refuse(ask.id)
                out += self._ask_frames()
                break
        return out

    @property
    def deleting(self) -> bool:
        """Deleted, with replication operations still to make (the deletes of
        its copies, spec/language.md 4.30): its host keeps it (and its log)
        until they end, then removes it."""
        return self.destroyed and bool(self.replicas) and self.replicas.busy()

    def _process_input(self, item: dict) -> list[dict]:
        if item.get("op") == "send" and "sender" not in item:
            frames = self._fast_send(item.get("who"), item.get("channel"), item.get("message"),
                                     item.get("now"))
            if frames is not None:
                return frames
        op, who = item.get("op"), self._who(item)
        handler = getattr(self, f"_do_{op}", None) if isinstance(op, str) else None
        if handler is None:
            return [error_frame(who, "input", f"unknown input {op!r}")]
        now = item.get("now")
        if type(now) is not int:
            return [error_frame(who, "input", "every input needs its time, `now`, in ms")]
        if self.destroyed:
            if self.deleting and who is None and now > self.clock:
                self.engine.doc.f[NOW] = now  # its copies' deletes go on in time (the recheck wake moves)
            call = item.get("call")
            if op == "result" and self.deleting and type(call) is str and call.startswith(REPLICATION):
                return self._do_result(item, who, now)  # a copy's delete (or the operation it waits for)
            return [] if who is None else [error_frame(who, "destroyed", "the document was destroyed")]
        if op != "create" and not self.engine.created:
            return [] if who is None else [error_frame(who, "not_created", "the document does not exist yet")]
        self._burst, self._instant = 0, None  # the MAX_IMMEDIATE count is per input
        # What was due before this input happens before it (document time is one line).
        out = self._run_due(now) if self.engine.created else []
        if self.destroyed:
            return out + ([] if who is None else [error_frame(who, "destroyed", "the document was destroyed")])
        out += handler(item, who, max(self.clock, now))
        if self.engine.cont is not None and self.engine.asks.asks:
            out += self._take_enqueued()  # chan.enqueue answered the awaited fetch
        out += self._run_due(self.clock)  # transitions this input scheduled
        return out

    def _fast_send(self, who, channel, message, now) -> list[dict] | None:
        """A message on a complete channel in the common case, with only the
        work that case needs; None (having done nothing) when the general path
        must run it. The common case: the document exists and lives and
        nothing is due at or before the input. Then _process would run no
        timer before it, and (unless the transaction schedules a transition,
        ends the document or changes its time zone, which go through the
        general code) none after it either, and of _committed only the
        viewers and the asks can have anything to say."""
        if type(now) is not int or type(who) is not str or type(channel) is not str or self.destroyed:
            return None
        doc = self.engine
        if not doc.created:
            return None
        entry = doc._channels.get(channel) or doc.channel(channel)
        if entry is None or entry[1] is None:  # unknown, or answers asks: general path
            return None
        f = doc.machine.doc.f
        clock = f[NOW]
        at = now if now > clock else clock
        crons, pending = self.crons, self.pending
        if crons is None or crons.earliest <= at or (pending is not None and pending.due <= at):
            return None
        who = who if "@" in who else as_principal(who)
        try:
            msg = entry[2](message if message is not None else {}, entry[3])
        except ValueError as e:
            return [error_frame(who, "input", str(e))] + self._ask_frames()
        try:
            doc.event(entry[1], (msg,), who, at)
        except TransactionError as e:
            return [error_frame(who, e.kind, self._told(e, who))] + self._ask_frames()
        told = doc.take_viewstate()
        if told or f[NEXT] or f[NEXT_IN] or f[DESTROY] or doc.refused or f[ZONE] != crons.zone \
                or (doc.cont is not None and self._answered_waiting() is not None):  # chan.enqueue
            self._burst, self._instant = 0, None
            frames = self._committed()
            if told:  # ViewState: after the message's own frames (deltas and asks)
                frames += self._viewstate_frames(who, told)
            if doc.cont is not None and doc.asks.asks:
                frames += self._take_enqueued()
            return frames + self._run_due(self.clock)
        # _committed, for a transaction that left nothing else to do
        frames = self.viewers.after_commit()
        asks = doc.asks
        if asks.asks or asks.shown:
            frames += self._ask_frames()
        return frames

    def _do_create(self, item, who, now):
        if self.engine.created:
            return [error_frame(who, "already_created", "the document already exists")]
        seed = item.get("seed")
        if seed is not None:
            self.engine.reseed(seed)
        sender = _sender(item.get("sender"))
        _, _, frames = self._transact(who, lambda: self.engine.create(who, item.get("arg"), now=now))
        if sender is not None and self.engine.created:
            self.inbox[sender[0]] = sender[1]
        return frames

    def _do_connect(self, item, who, now):
        if who in self.connected:
            return [error_frame(who, "already_connected", f"{who} is already connected")]
        if "connected" not in self.meta["handlers"]:  # spec 4.20: without @connected nobody connects
            return [{"to": who, "connected": False}]
        ok, accepted, frames = self._transact(who, lambda: self.engine.handler("connected", who, now))
        if not ok or not accepted or self.destroyed:
            return frames + ([] if self.destroyed else [{"to": who, "connected": False}])
        self.connected.append(who)
        frames.append({"to": who, "connected": True})
        frames += self.viewers.connect(who)
        # A client learns what it is being asked when it arrives, whenever the ask was made.
        frames += [{"to": who, "ask": self._ask_json(a)} for a in self.engine.asks.open_for(who)]
        return frames

    def _do_disconnect(self, item, who, now):
        if who not in self.connected:
            return [error_frame(who, "not_connected", f"{who} is not connected")]
        self.connected.remove(who)
        self.viewers.disconnect(who)
        frames = [{"to": who, "connected": False}]
        if "disconnected" in self.meta["handlers"]:
            frames += self._transact(who, lambda: self.engine.handler("disconnected", who, now))[2]
        return frames

    def _do_send(self, item, who, now):
        channel = item.get("channel")
        if "sender" in item:
            return self._document_send(item, who, channel, now)
        ch = self.meta["channels"].get(channel) if isinstance(channel, str) else None
        if ch is not None and not ch["complete"]:
            # spec 4.16: a message on an incomplete channel answers its sender's open ask there.
            ask = self.engine.asks.oldest_open(who, channel)
            if ask is None:
                return [error_frame(who, "no_open_ask", f"nobody asked {who} anything on '{channel}'")]
            return self._answer(who, ask.id, item.get("message"), now)
        frames = self._transact(who, lambda: self.engine.send(who, channel, item.get("message"), now=now))[2]
        told = self.engine.take_viewstate()
        return frames + self._viewstate_frames(who, told) if told else frames

    def _document_send(self, item, who, channel, now):
        """A message from another document (language.md 4.32): run once per
        [sender, number]; a number it ran already is a `duplicate` (nothing
        runs); the probe channel `~created` asks whether that number created
        this document (then it is a duplicate, else `already_created`). A
        sender's first message asks @connected first, once (refused:
        `connect_refused`); the sender does not join the viewers."""
        sender = _sender(item.get("sender"))
        if sender is None:
            return [error_frame(who, "input", "a document's message names its sender: [document, number]")]
        name, seq = sender
        if self.inbox.get(name, -1) >= seq:
            return [error_frame(who, "duplicate", f"call {seq} of {name} ran already")]
        if channel == "~created":
            return [error_frame(who, "already_created", "the document already exists")]
        ch = self.meta["channels"].get(channel) if isinstance(channel, str) else None
        if ch is None or not ch["complete"]:
            return [error_frame(who, "unknown_channel", f"the document has no channel {channel!r} to send to")]
        frames = []
        if name not in self.inbox:
            if len(self.inbox) >= MAX_SENDERS:
                return [error_frame(who, "too_many_senders",
                                    f"a document hears from at most {MAX_SENDERS:,} documents")]
            if "connected" in self.meta["handlers"]:
                # A sender's first message: @connected decides whether it may send at
                # all (it runs once per sender; 0 keeps that it did, numbers start at 1).
                ok, accepted, frames = self._transact(who, lambda: self.engine.handler("connected", who, now))
                if not ok or not accepted:
                    return frames + [error_frame(who, "connect_refused", "@connected refused this document")]
                self.inbox[name] = 0
        committed, _, more = self._transact(who, lambda: self.engine.send(who, channel, item.get("message"),
                                                                            now=now))
        if committed:
            self.inbox[name] = seq
        return frames + more

    def _viewstate_frames(self, who, told: list) -> list[dict]:
        """ViewState (spec/runtime.md 3): what a committed message told its sender,
        in the order its code said it; nothing once the message ended the document."""
        if self.destroyed:
            return []
        return [{"to": who, "viewstate": t} for t in told]

    def _do_answer(self, item, who, now):
        return self._answer(who, item.get("ask"), item.get("message"), now)

    def _do_advance(self, item, who, now):
        self.engine.doc.f[NOW] = now  # document time moves even when nothing was due
        # Views that read Time (bubbles, formulas) change with the clock alone.
        return self.viewers.after_commit()

    def _do_delete(self, item, who, now):
        if "delete" not in self.meta["handlers"]:
            return [error_frame(who, "delete_refused", "the document has no @delete: deletion is refused")]
        try:
            allowed = self.engine.ask_delete(who, now=now)
        except TransactionError as e:
            return [error_frame(who, e.kind, f"@delete failed: {self._told(e, who)}")]
        if not allowed:
            return [error_frame(who, "delete_refused", "@delete refused the deletion")]
        self._verdict = True
        self.engine.destroy()
        return self._end()

    def _do_destroy(self, item, who, now):
        self.engine.destroy()
        return self._end()

    def _do_result(self, item, who, now):
        """A service call's result (runtime/services.py, spec/runtime.md 8):
        `call` is the call's id (code's calls) or its invocation (a formula's),
        `result` {"value": message} or {"error": {"code", "message"}}. A result
        for no outstanding call (a duplicate) changes nothing."""
        doc = self.engine
        book = doc.asks
        call = item.get("call")
        try:
            outcome = Outcome.from_json(item.get("result"))
        except AnswerError as e:
            return [error_frame(who, e.code, e.message)]
        if type(call) is str and call.startswith(AGENT_CALL):
            # A model's reply to a session's completion (runtime/agents.py): the loop moves on.
            frames = self.agents.result(call, outcome, now)
            if frames is None:
                return [error_frame(who, "unknown_call", f"no session waits for the reply {call!r}")]
            return frames
        if type(call) is str and call.startswith(REPLICATION):
            # A replication operation's attempt (runtime/replication.py): its state only.
            if not self.replicas.result(call, outcome.ok, outcome.code, outcome.message):
                return [error_frame(who, "unknown_call", f"no replication operation {call!r} is pending")]
            return []
        if type(call) is str:
            got = parse_invocation(call, doc.services.services)
            if got is None or call in book.cache:
                return [error_frame(who, "unknown_call", "no formula is waiting for this call's result")]
            book.wanted.pop(call, None)
            book.cache[call] = doc.services.output_value(got[0], got[1], outcome)
            while len(book.cache) > MAX_CACHED:
                del book.cache[next(iter(book.cache))]
            invalidate = getattr(self.viewers, "invalidate", None)
            if invalidate is not None:  # formulas read the cache: every one is evaluated again
                invalidate()
            return self.viewers.after_commit()
        entry = book.calls.pop(call, None) if type(call) is int else None
        if entry is None:
            return [error_frame(who, "unknown_call", f"there is no call {call!r} waiting for its result")]
        service, _, method = entry[0].partition(".")
        result = doc.services.output_value(service, method, outcome)
        ask = book.asks.get(call)
        if ask is None:  # nothing awaits it any more (a call made and not awaited)
            return []
        waiting = doc.waiting
        if waiting is not None and waiting.get("id") == call:
            return self._transact(who, lambda: doc.resume(result, now=now), "")[2]
        book.store(ask, result)  # the code has not reached its await yet
        return []

    def _do_attach(self, item, who, now):
        """An upload: @can_attach is asked again, now, then @attached (a) runs
        as one transaction (an abort refuses the file: the document keeps no
        reference, and the blob goes at the next collection)."""
        asset = item.get("asset")
        if not _asset_ok(asset):
            return [error_frame(who, "input", "an attach input carries an asset: id, name, type, size, md5, sha384")]
        if "attached" not in self.meta["handlers"] or not self.can_attach(who):
            return [error_frame(who, "attach_refused", "@can_attach does not let you attach files here")]
        doc = self.engine
        fn = self.meta["handlers"]["attached"]["fn"]
        value = {k: asset[k] for k in _ASSET_KEYS}
        return self._transact(who, lambda: doc.transaction(fn, value, who=who, now=now), "@attached: ")[2]

    def _do_web(self, item, who, now):
        """A put or delete to a @web handler: routed, its message read, run as
        one transaction (an abort: 409 and nothing changed). The reply waits
        in `web_reply` for LivingDocument.web; replay ignores it."""
        method, path = item.get("method"), item.get("path")
        if method not in ("put", "delete") or not isinstance(path, str):
            self.web_reply = _web_error(400, "a web input is a put or a delete with a path")
            return [error_frame(who, "input", "a web input is a put or a delete with a path")]
        try:
            entry, args = route(self.meta.get("web") or [], method, path)
        except WebError as e:
            self.web_reply = _web_error(e.status, e.message)
            return []
        doc = self.engine
        if entry["message"] is not None:
            body = item.get("message")
            if body is not None and not isinstance(body, dict):
                self.web_reply = _web_error(400, "the request's body is not an object")
                return []
            if body:  # a webhook's sender adds what it likes: fields the message lacks are dropped
                known = {f["name"] for f in self.meta["messages"][entry["message"]]["fields"]}
                body = {k: v for k, v in body.items() if k in known}
            try:
                args.append(doc.message(entry["message"], body))
            except ValueError as e:
                self.web_reply = _web_error(400, f"the request's body does not fit {entry['message']}: {e}")
                return []
        try:
            args += request_values(item.get("parameters"), item.get("headers"))  # @parameters, @headers
        except WebError as e:
            self.web_reply = _web_error(e.status, e.message)
            return []
        ok, value, frames = self._transact(who, lambda: doc.web(entry["fn"], tuple(args), who, now, read=False))
        if ok:
            self.web_reply = response(value, method)
            return frames
        e = self.last_error
        status = 409 if e.kind == "abort" else 400 if e.kind == "input" else 500
        self.web_reply = _web_error(status, f"@web {method} {path}: {self._told(e, who)}")
        return frames  # the error frame too: the log's outcome says what happened

    # ------------------------------------------------------------ answers

    def _answer(self, who: str, ask_id, message, now: int) -> list[dict]:
        """Check an answer completely before anything runs; a refused one changes nothing."""
        doc = self.engine
        try:
            ask = doc.asks.lookup(ask_id, who)
            value = match_answer(ask, doc.channel_value(ask.channel, message), values_equal)
        except AnswerError as e:
            return [error_frame(who, e.code, e.message)]
        except TransactionError as e:
            return [error_frame(who, "invalid_answer", f"ask {ask_id}: {e.message}")]
        waiting = doc.waiting
        if waiting is not None and waiting.get("id") == ask.id:
            # spec 8.4: if the code refuses the answer, the ask stays open and nothing changes.
            return self._transact(who, lambda: doc.resume(value, now=now),
                                  f"your answer to ask {ask.id} was refused: ")[2]
        # The code has not reached this await yet (it waits on another one):
        # the answer is kept and delivered when it does (spec 5.22).
        doc.asks.store(ask, value)
        return self._ask_frames()

    def _ask_json(self, ask) -> dict:
        out = {"id": ask.id, "channel": ask.channel, "kind": ask.kind}
        if ask.kind in (DECIDE, CHOOSE):
            message = self.meta["channels"][ask.channel]["message"]
            out["options"] = [to_json(o, ["message", message], self.meta) for o in ask.options]
        if ask.kind == CHOOSE:
            out["limit"] = ask.limit
        return out

    def _ask_frames(self) -> list[dict]:
        frames = []
        for kind, ask_id, who, ask in self.engine.asks.sync():
            if kind == "closed":
                frames.append({"to": who, "ask_closed": ask_id})
            else:
                frames.append({"to": who, "ask": self._ask_json(ask)})
        return frames

    # ------------------------------------------------------------ transactions

    def _transact(self, who, run, context: str = "",
                  label: str | None = None) -> tuple[bool, object, list[dict]]:
        """Run one document transaction: (committed, its value, frames).
        `label`: the state a transition enters (what `failures` names)."""
        try:
            result = run()
        except TransactionError as e:
            self.last_error = e
            if who is None:
                self.failures.append((self.engine.state if label is None else label, e))
                del self.failures[:-100]
                self._told(e, who)
                frames = []
            else:
                frames = [error_frame(who, e.kind, context + self._told(e, who))]
            # A state that was entered cancelled the code waiting before it, even if it then failed.
            return False, None, frames + self._ask_frames()
        return True, result, self._committed()

    def _told(self, e: TransactionError, who) -> str:
        """What a client is told of `e` (TransactionError.public: no value the
        document holds, no server path); when that leaves something out, the
        whole error goes to the log, which is the server's."""
        if e.withholds and not getattr(_retelling, "on", False):
            log.warning("document %s: %s failed for %s: %s", self.engine.doc.f[KEY],
                        e.kind, who or "nobody", e)
        return e.public()

    def _committed(self) -> list[dict]:
        """Everything a committed transaction means outside the document."""
        doc = self.engine
        frames = [error_frame(ask.who, err.kind,
                              f"your answer to ask {ask.id} was refused: {self._told(err, ask.who)}")
                  for ask, err in doc.refused]
        doc.refused = []
        nxt = doc.take_pending()
        if nxt is not None:  # spec 6.9: the last transition scheduled wins
            self.pending = Pending(nxt[0], due_after(doc.now, nxt[1]))
        zone = doc.machine.doc.f[ZONE]
        if self.crons is None:
            self.crons = Crons(self.meta["crons"], zone, doc.now)
        elif zone != self.crons.zone:
            self.crons.rezone(zone, doc.now)
        if doc.destroyed:
            return frames + self._end()
        frames += self.viewers.after_commit()
        return frames + self._ask_frames()

    def _end(self) -> list[dict]:
        """The document is destroyed: asks are withdrawn and viewers let go."""
        self.engine.cancel()
        self.engine.asks.clear()
        frames = self._ask_frames()
        for who in self.connected:
            self.viewers.disconnect(who)
            frames.append({"to": who, "connected": False})
        self.connected = []
        self.pending = None
        self.destroyed = True
        return frames

    # ------------------------------------------------------------ document time

    def _next_timer(self, until: int):
        """The earliest of the pending transition and the due cron jobs, at or
        before `until`: ("state", label, time) or ("cron", job, slot)."""
        best = None
        if self.pending is not None and self.pending.due <= until:
            best = ("state", self.pending.label, self.pending.due)
        due = self.crons.first_due(until) if self.crons else None
        if due is not None and (best is None or due[1] < best[2]):
            best = ("cron", due[0], due[1])
        return best

    def _run_due(self, until: int) -> list[dict]:
        """Run every timer due at or before `until`, in time order, each at its
        own time. Transitions chained at one instant are capped per input
        (MAX_IMMEDIATE) so a state that transitions to itself forever cannot
        hang the host; the rest waits for the next input."""
        frames: list[dict] = []
        while not self.destroyed:
            timer = self._next_timer(until)
            if timer is None:
                break
            kind, what, due = timer
            at = max(self.clock, due)
            if kind == "state":
                self._burst = self._burst + 1 if at == self._instant else 1
                self._instant = at
                if self._burst > MAX_IMMEDIATE:
                    break
                self.pending = None
                self.transitions += 1
                frames += self._transact(None, lambda: self.engine.run_state(what, now=at), label=what)[2]
            else:
                self.crons.take(what, due)
                frames += self._transact(None, lambda: self.engine.cron(what.name, now=at))[2]
        return frames

    # ------------------------------------------------------------ snapshots (spec/snapshot.md)

    def snapshot(self) -> bytes:
        """The whole runtime between inputs, as CBOR."""
        return cbor2.dumps(self.snapshot_body())

    def snapshot_body(self) -> dict:
        """The map snapshot() encodes (its document's values already bytes)."""
        doc = self.engine
        return {
            "format": SNAPSHOT_FORMAT,
            "version": SNAPSHOT_VERSION,
            "module": doc.machine.module_id,
            "clock": doc.now,
            "document": dumps_values(doc.export()),
            "pending": [self.pending.label, self.pending.due] if self.pending else None,
            "cron": self.crons.to_values() if self.crons else None,
            "connected": list(self.connected),
            "viewers": self.viewers.state(),
            "queue": list(self.queue),
            "outbox": list(self.outbox),
            "destroyed": self.destroyed,
            **({"replication": self.replicas.to_values()} if self.replicas else {}),
            **({"inbox": dict(self.inbox)} if self.inbox else {}),
        }

    @classmethod
    def restore(cls, module, data: bytes, *, viewers, load: bool = True) -> "LivingDocument":
        """The runtime `snapshot()` captured; then @load runs (spec 4.19), and
        what it makes viewers see goes out with the next input's frames.
        `load=False` skips @load: a durable host rebuilding a document from a
        snapshot plus its log runs @load once at the end (and logs it), since
        the snapshot's moment was not itself a load (durable/document.py)."""
        try:
            body = cbor2.loads(data)
        except Exception as e:  # every cbor2 failure means the same thing here
            raise SnapshotError(f"corrupt snapshot: bad CBOR ({e})") from None
        if not isinstance(body, dict) or body.get("format") != SNAPSHOT_FORMAT:
            raise SnapshotError("not an advm living-document snapshot")
        if body.get("version") != SNAPSHOT_VERSION:
            raise SnapshotError(f"snapshot version {body.get('version')}, this advm reads {SNAPSHOT_VERSION}")
        if body.get("module") != module.module_id():
            raise SnapshotError("snapshot was taken on a different module (code changed)")
        self = cls.__new__(cls)
        try:
            self._setup(Engine.from_export(module, loads_values(body["document"])), viewers)
            self.viewers.load(body["viewers"])
            self.pending = Pending(*body["pending"]) if body["pending"] else None
            if body["cron"] is not None:
                self.crons = Crons(self.meta["crons"], body["cron"]["zone"], self.clock)
                self.crons.load(body["cron"])
            self.connected = list(body["connected"])
            self.queue = deque(body["queue"])
            self.outbox = list(body["outbox"])
            self.destroyed = bool(body["destroyed"])
            self.replicas.load(body.get("replication"))
            self.inbox = {str(k): int(v) for k, v in (body.get("inbox") or {}).items()}
        except SnapshotError:
            raise
        except (KeyError, TypeError, ValueError, IndexError) as e:
            raise SnapshotError(f"corrupt snapshot: {type(e).__name__}: {e}") from e
        if load and self.engine.created and not self.destroyed and "load" in self.meta["handlers"]:
            self.outbox += self._transact(None, lambda: self.engine.handler("load", NO_ONE))[2]
        return self

    def migrate_load(self) -> list[dict]:
        """@load as the migration hook after an upgrade (runtime/upgrade.py):
        one transaction; its frames (the viewers' deltas included) are returned."""
        return self._transact(None, lambda: self.engine.handler("load", NO_ONE))[2]


_ASSET_KEYS = ("id", "name", "type", "size", "md5", "sha384")
MAX_SENDERS = 100_000  # documents one document keeps a call number for (language.md 4.32)
MAX_SENDER_CHARS = 600  # "space/key" of a sender


def _sender(value):
    """(document, call number) of an input's `sender`, or None when malformed."""
    if isinstance(value, (list, tuple)) and len(value) == 2 and isinstance(value[0], str) \
            and 0 < len(value[0]) <= MAX_SENDER_CHARS and type(value[1]) is int:
        return value[0], value[1]
    return None


def _asset_ok(asset) -> bool:
    return (isinstance(asset, dict) and all(k in asset for k in _ASSET_KEYS)
            and all(type(asset[k]) is str for k in ("id", "name", "type", "md5", "sha384"))
            and type(asset["size"]) is int and asset["size"] >= 0 and asset["id"] == asset["sha384"]
            and len(asset["id"]) == 96 and len(asset["name"]) <= 1024 and len(asset["type"]) <= 256)


def _web_error(status: int, message: str) -> tuple:
    return status, [("Content-Type", "text/plain; charset=utf-8"), ("Cache-Control", "no-store")], \
        (message + "\n").encode("utf-8")


def _web_refusal(frames: list, who) -> tuple:
    """The HTTP answer of a web input refused before it ran, from its error frame."""
    for f in frames:
        err = f.get("error") if isinstance(f, dict) else None
        if err is not None and f.get("to") == (as_principal(who) if isinstance(who, str) else who):
            code = err.get("code") if isinstance(err, dict) else None
            status = {"queue_full": 503, "destroyed": 404, "not_created": 404}.get(code, 400)
            return _web_error(status, str(err.get("message", code)) if isinstance(err, dict) else str(err))
    return _web_error(503, "the request did not run")


__all__ = ["LivingDocument", "QUEUE_LIMIT", "error_frame", "retelling"]
