"""Scripted sessions: drive one living document from JSON lines, the way
people, programs and tests use a document without a server (spec/sessions.md).

    session = Session(module)
    for frame in session.feed('{"op":"create","as":"alice"}', 1):
        print(json.dumps(frame))

One input line becomes one call on the one runtime host (runtime/host.py
`RuntimeHost`) at the script's clock, and everything that call returns (the frames
clients receive) comes back in order. The host owns the clock, asks
`@static create` before a document exists, applies the inputs and lets time
pass; in memory the session keeps the snapshot taken after every input, and
on `restart` the runtime is thrown away and rebuilt from that snapshot alone
(on the store, from the store alone).

A script line that cannot be used (bad JSON, unknown op, a missing or
ill-typed field) becomes one error frame naming its line; the session goes on.
Errors of the document itself (an abort, a refused answer) are frames the
runtime makes, passed through unchanged apart from `to` (see `client_name`).
"""
from __future__ import annotations

import json
import math
from typing import Callable, Iterable

from .runtime.contracts import CONTEXT_LIMIT, as_input
from .runtime.host import MemoryBackend, NotFound, Refused, RuntimeHost
from .runtime.living import LivingDocument
from .views.viewers import Viewers
from .vm.docslots import as_principal

CLOCK_START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z
DEFAULT_KEY = "main"  # the one default document key (advm/commands/run.py)

# op -> (required fields, optional fields), besides "op" itself.
OPS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "create": (("as",), ("arg", "origin", "ip")),
    "connect": (("as",), ("viewer_state", "origin", "ip")),
    "disconnect": (("as",), ("origin", "ip")),
    "send": (("as", "channel", "message"), ("origin", "ip")),
    "answer": (("as", "ask", "message"), ()),
    "advance": (("seconds",), ()),
    "update": (("as", "viewer_state"), ()),
    "view": (("as",), ()),
    "delete": (("as",), ()),
    "restart": ((), ()),
    # A service call's outcome, as the server would deliver it (spec/runtime.md 8): the
    # script stands in for the service.
    "result": (("call", "result"), ()),
    # An HTTP request to a @web handler (spec/language.md 4.28), as the server would make it.
    "web": (("as", "method", "path"), ("message",)),
    # An upload's facts (spec/language.md 4.29) as the server would give them once the
    # bytes are stored: the script stands in for the file.
    "attach": (("as", "asset"), ()),
}


class ScriptError(Exception):
    """A script line the session cannot use; `code` is one of spec/sessions.md's."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def client_name(principal: str | None) -> str | None:
    """How a principal is written in output: as scripts write it. A bare agent
    ("bob") is the principal "bob@" with an empty authority; it goes out as
    "bob" so a script reads back the names it used."""
    if principal is None:
        return None
    return principal[:-1] if principal.endswith("@") and principal.count("@") == 1 else principal


def script_error(line: int, code: str, message: str) -> dict:
    return {"to": None, "error": {"code": code, "message": f"line {line}: {message}", "line": line}}


# ---------------------------------------------------------------- parsing


def _type_name(value) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "an array", dict: "an object"}[type(value)]


def parse_line(text: str) -> dict | None:
    """One script line as a checked input, or None for a blank line."""
    from .vm.docslots import agent_of
    from .vm.values import MAX_DEPTH, input_problem

    if not text.strip():
        return None
    try:
        item = json.loads(text)
    except json.JSONDecodeError as e:
        raise ScriptError("bad_json", f"not JSON: {e.msg} at column {e.colno}") from None
    except RecursionError:
        raise ScriptError("too_deep", f"the line nests deeper than {MAX_DEPTH} levels") from None
    if not isinstance(item, dict):
        raise ScriptError("bad_json", f"an input is a JSON object, not {_type_name(item)}")
    op = item.get("op")
    if "op" not in item:
        raise ScriptError("missing_field", 'the input has no "op"')
    if not isinstance(op, str) or op not in OPS:
        known = ", ".join(OPS)
        raise ScriptError("unknown_op", f"unknown op {json.dumps(op)} (known: {known})")
    required, optional = OPS[op]
    for name in required:
        if name not in item:
            raise ScriptError("missing_field", f'"{op}" needs "{name}"')
    for name in item:
        if name != "op" and name not in required and name not in optional:
            raise ScriptError("unknown_field", f'"{op}" takes no "{name}"')
        # What the store could not log or read back never reaches the document.
        problem = input_problem(item[name], MAX_DEPTH)
        if problem is not None:
            raise ScriptError("too_deep" if problem[0] == "too_deep" else "bad_field",
                              f'"{name}" {problem[1]}')
    if "as" in item:
        who = item["as"]
        if not isinstance(who, str) or not agent_of(who):
            raise ScriptError("bad_field", '"as" is a principal, "agent" or "agent@authority", '
                                           f"with a non-empty agent; got {json.dumps(who)}")
    for name in ("origin", "ip"):  # the connection's, read as @context (spec/sessions.md 2)
        if name in item and (not isinstance(item[name], str) or len(item[name]) > CONTEXT_LIMIT):
            raise ScriptError("bad_field", f'"{name}" is a string of at most {CONTEXT_LIMIT} characters, '
                                           f"not {json.dumps(item[name])[:80]}")
    if op == "send" and not isinstance(item["channel"], str):
        raise ScriptError("bad_field", f'"channel" is a string, not {_type_name(item["channel"])}')
    if op == "answer" and type(item["ask"]) is not int:
        raise ScriptError("bad_field", f'"ask" is an ask id (an integer), not {json.dumps(item["ask"])}')
    if op == "web":
        if item["method"] not in ("get", "put", "delete", "options"):
            raise ScriptError("bad_field", f'"method" is get, put, delete or options; got {json.dumps(item["method"])}')
        if not isinstance(item["path"], str) or not item["path"].startswith("/"):
            raise ScriptError("bad_field", f'"path" is a path starting with /, not {json.dumps(item["path"])}')
    if op == "advance":
        seconds = item["seconds"]
        if type(seconds) not in (int, float) or not math.isfinite(seconds) or seconds < 0:
            raise ScriptError("bad_field", '"seconds" is a number of seconds, 0 or more; '
                                           f"got {json.dumps(seconds)}")
    return item


# ---------------------------------------------------------------- the session


class Session:
    """One document driven by script inputs, on the one runtime host
    (runtime/host.py) with a memory backend. `viewers` is the Viewers factory
    the runtime takes (tests pass a reference implementation); `debug`
    receives the document's `@debug` lines as they are written.

    The host owns the script's clock, asks `@static create` (without a create
    policy nobody may create, spec/runtime.md 7), applies the inputs and lets
    time pass; the session checks script lines, turns host refusals into
    error frames, and after every input makes the document as it is what
    `restart` recovers (`RuntimeHost.checkpoint`)."""

    def __init__(self, module, key: str = DEFAULT_KEY, viewers=None,
                 debug: Callable[[str], None] | None = None):
        viewers = viewers or Viewers
        # Random seeded from the key, not from entropy: a script runs the same every time.
        self._setup(module, key, key, viewers, debug, MemoryBackend(module, viewers=viewers))

    def _setup(self, module, key: str, doc: str, viewers, debug, backend) -> None:
        self.module = module
        self.key = key  # the document's own key (@key, what Random's seed derives from)
        self.doc = doc  # the key the host knows it by
        self._viewers = viewers
        self._debug = debug
        self.host = RuntimeHost(module, backend, clock=CLOCK_START_MS)
        self.restarts = 0
        self.viewer_states: dict = {}  # principal -> the JSON of its last `update`
        self._blank = None  # an uncreated runtime, read before the document exists

    @classmethod
    def compile(cls, text: str, filename: str = "<input>", **kw) -> "Session":
        from .compiler.build import build_source

        return cls(build_source(text, filename), **kw)

    @property
    def clock(self) -> int:
        return self.host.clock

    @property
    def living(self):
        """The runtime of the session's document (an uncreated one before it exists)."""
        doc = self.host.loaded(self.doc)
        if doc is not None:
            return doc.living
        if self._blank is None:
            self._blank = LivingDocument(self.module, key=self.key, viewers=self._viewers)
        return self._blank

    @property
    def meta(self) -> dict:
        return self.living.meta

    # ------------------------------------------------------------ driving

    def feed(self, text: str, line: int) -> list[dict]:
        """The frames for one script line (its 1-based number names it in errors)."""
        try:
            item = parse_line(text)
        except ScriptError as e:
            return [script_error(line, e.code, e.message)]
        return [] if item is None else self.step(item)

    def run(self, lines: Iterable[str], emit: Callable[[dict], None]) -> None:
        for number, text in enumerate(lines, start=1):
            for frame in self.feed(text, number):
                emit(frame)

    def step(self, item: dict) -> list[dict]:
        """Run one checked input (as parse_line returns it)."""
        before = self.living
        before.failures.clear()
        debug_mark = len(before.engine.debug_lines)
        frames = getattr(self, f"_{item['op']}")(item)
        living = self.living
        if living is not before:  # a new runtime (created, restarted), whose lists are all new
            debug_mark = 0
        # Timers and @load run for nobody, so no client hears that they failed;
        # the script's reader should.
        frames += [{"to": None, "error": {"code": e.kind, "message": str(e)}} for _, e in living.failures]
        living.failures.clear()
        if self._debug is not None:
            for text in living.engine.debug_lines[debug_mark:]:
                self._debug(text)
        self.host.checkpoint(self.doc)  # what a restart recovers: the document as this input left it
        return [self._out(f) for f in frames]

    @staticmethod
    def _out(frame: dict) -> dict:
        if frame.get("to") is None:
            return frame
        return {**frame, "to": client_name(frame["to"])}

    # ------------------------------------------------------------ one op each

    def _submit(self, op: dict) -> list[dict]:
        """One input in the scripted shape, at the host's clock. Before the
        document exists the uncreated runtime refuses it (`not_created`)."""
        try:
            return self.host.submit(self.doc, op).result()
        except NotFound:
            return self.living.apply(as_input(op, self.clock))

    def _create(self, item):
        who = as_principal(item["as"])
        try:
            return self.host.create(self.doc, who, item.get("arg"), origin=item.get("origin", ""),
                                    ip=item.get("ip", ""))[1]
        except Refused as e:
            return [e.frame(who)]

    @staticmethod
    def _context(item, op: dict) -> dict:
        """`origin` and `ip` of a script line as the input's @context."""
        if "origin" in item or "ip" in item:
            op["context"] = {"origin": item.get("origin", ""), "ip": item.get("ip", "")}
        return op

    def _connect(self, item):
        frames = self._submit(self._context(item, {"op": "connect", "as": item["as"]}))
        if "viewer_state" not in item or not any(f.get("connected") is True for f in frames):
            return frames
        return frames + self._update(item)

    def _update(self, item):
        """The viewer's own state (`view` declarations, @viewer): not an input
        of the document (nothing is logged), only of its view."""
        who = as_principal(item["as"])
        try:
            frames = self.host.update_viewer(self.doc, who, item["viewer_state"])
        except Refused as e:
            return [e.frame(who)]
        self.viewer_states[who] = item["viewer_state"]
        return frames

    def _restate(self, frames: list) -> list:
        """After a restart the viewers reconnect with their own state too."""
        for who, state in self.viewer_states.items():
            if who in self.living.connected:
                frames += self.host.update_viewer(self.doc, who, state)
        return frames

    def _disconnect(self, item):
        self.viewer_states.pop(as_principal(item["as"]), None)  # a new connection starts at the defaults
        return self._submit(self._context(item, {"op": "disconnect", "as": item["as"]}))

    def _send(self, item):
        return self._submit(self._context(item, {"op": "send", "as": item["as"], "channel": item["channel"],
                                                 "message": item["message"]}))

    def _answer(self, item):
        return self._submit({"op": "answer", "as": item["as"], "ask": item["ask"],
                             "message": item["message"]})

    def _result(self, item):
        return self._submit({"op": "result", "call": item["call"], "result": item["result"]})

    def _attach(self, item):
        return self._submit({"op": "attach", "as": item["as"], "asset": item["asset"]})

    def _web(self, item):
        """A @web request: a put or delete is the document's input; a get or
        options only reads. The answer comes back as a frame to the sender:
        {"to": who, "web": {"status", "type", "body"}} (the body as text)."""
        who, method, path = as_principal(item["as"]), item["method"], item["path"]
        if method in ("get", "options"):
            answer, frames = self.living.web_read(who, method, path), []
        else:
            self.living.web_reply = None
            frames = self._submit({"op": "web", "as": item["as"], "method": method, "path": path,
                                   "message": item.get("message")})
            answer = self.living.web_reply
            if answer is None:  # refused before it ran: its error frame says why
                return frames
        status, headers, body = answer
        kind = next((v for k, v in headers if k == "Content-Type"), None)
        return frames + [{"to": who, "web": {"status": status, "type": kind,
                                             "body": body.decode("utf-8", "replace")}}]

    def _advance(self, item):
        """Let time pass as a host that stays up does (RuntimeHost.advance: every
        daily slot of a three-day advance runs, each at its own time)."""
        target = self.clock + round(item["seconds"] * 1000)
        if self.host.loaded(self.doc) is None:  # nothing exists to wake
            self.host.at(target)
            return []
        return self.host.advance(self.doc, target)

    def _delete(self, item):
        return self._submit({"op": "delete", "as": item["as"]})

    def _view(self, item):
        who = as_principal(item["as"])
        doc = self.living
        exists = doc.engine.created and not doc.destroyed
        return [{"to": who, "view": doc.view(who) if exists else None}]

    def _restart(self, item):
        """Drop the runtime; recover the document from what the backend holds
        alone (RuntimeHost.recover), as a host does after a crash. Connections do
        not survive a restart: every viewer reconnects and starts again from
        a full view and its open asks. The document does not see it happen
        (@connected and @disconnected do not run; @load does, as at every
        load)."""
        self.restarts += 1
        if self._recover() is None:
            self._blank = None
            return []
        return self._restate(self.host.reconnect(self.doc))

    def _recover(self):
        doc = self.host.recover(self.doc)
        if doc is not None:
            self._recovered(doc)
            self.host.at(doc.living.clock)  # a continued document keeps its clock
        return doc

    def _recovered(self, doc) -> None:
        """A recovered document may be checked before anything runs on it."""


class StoredSession(Session):
    """A session whose document lives in the durable store (durable/document.py),
    through the host's durable backend (net/documents.py DurableBackend):
    every input is logged before its frames come out, `restart` recovers the
    document from LMDB (newest snapshot plus the log after it), and a session
    opened on a store that already holds the document continues it.

    `doc` is the store key; `key` is the document's own key (`@key`, the
    Random seed) when this session creates it. A continued document keeps its
    code, its key and its clock; the session's clock starts at the later of
    CLOCK_START_MS and the document's clock."""

    def __init__(self, module, store, doc: str | None = None, key: str = DEFAULT_KEY,
                 viewers=None, debug: Callable[[str], None] | None = None):
        from .durable.document import DEFAULT_DOC
        from .net.documents import DurableBackend

        viewers = viewers or Viewers
        self.store = store
        backend = DurableBackend(module, store, viewers=viewers, seeds=None, runtime_key=key)
        self._setup(module, key, DEFAULT_DOC if doc is None else doc, viewers, debug, backend)
        self.resumed = backend.exists(self.doc)
        if self.resumed:
            self._recover()

    def _recovered(self, doc) -> None:
        from .store.errors import StoreError

        wanted = self.module.module_id()
        found = doc.module.module_id()
        if found != wanted:
            # The backend moved it to this code when it could (spec/runtime.md 9);
            # it stays on its own code when the new code cannot take its state.
            why = "; ".join(self.host.backend.refused.get(self.doc, ())) or "its block waits at an await"
            self.host.docs.pop(self.doc, None)
            raise StoreError(
                f"document {self.doc!r} in the store at {self.store.path} runs other code "
                f"(module {found}, from {doc.module.filename}) that this document (module "
                f"{wanted}) cannot take over: {why}. Choose another --doc or --store, or "
                f"change the code (advm deploy --check OLD NEW).", doc=self.doc)

    @property
    def durable(self):
        """The durable document, once it exists (durable/document.py)."""
        return self.host.loaded(self.doc)

    def resume(self) -> list[dict]:
        """A continued document's first frames: a new run is a restart, so its
        viewers reconnect as after `restart` (nothing for a new document)."""
        if self.host.loaded(self.doc) is None:
            return []
        return [self._out(f) for f in self.host.reconnect(self.doc)]

    def close(self) -> None:
        """A final snapshot, so the next run starts without replaying."""
        self.host.unload(self.doc)


__all__ = ["CLOCK_START_MS", "OPS", "ScriptError", "Session", "StoredSession", "client_name",
           "parse_line"]
