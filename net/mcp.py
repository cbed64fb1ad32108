"""The MCP server at `/~mcp` (spec/protocol.md 8.16): documents as tools,
resources and prompts for AI clients.

JSON-RPC 2.0 over a WebSocket at `/~mcp` (seed 004), and the standard MCP
Streamable HTTP transport at the same path: POST a JSON-RPC message (or a
batch), the answer is JSON; `initialize` answers with an `Mcp-Session-Id`
header that every later request names; GET opens the session's event stream
(SSE: `notifications/resources/updated`); DELETE ends the session.

An MCP session is a client of the documents like a WebSocket of the viewer
protocol, as one principal (the identity token of `Authorization: Bearer`,
or a guest where the server takes anonymous clients):

- it connects to the documents (the router's `connect`, so `@connected`
  decides and the principal's stream of deltas keeps its view current), at
  most `max_documents` of them;
- resources are those documents' views, as the viewer protocol gives them
  to that principal (privacy-filtered: nothing else is read);
- tools are the channels it may send on: every complete channel of a
  document it is connected to, and an incomplete channel while one of its
  asks there is open; `tools/call` is a `connection/send` as the principal,
  and what the document refuses is a tool error (`isError`), not a protocol
  error;
- prompts are the program's agents' instructions (`meta["agents"]`) unless
  an agent says `exposed: false`.

Message types become input schemas through vm/schemas.py. Results are built
with the official `mcp_types` models.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote, unquote

import h11

from ..views.merge import DeltaError, ViewState
from ..vm.schemas import message_schema
from ..vm.values import input_problem
from .router import RouterError, check_key
from .tokens import ANONYMOUS, TokenError, anonymous_principal
from .web import WebExchange, _Answer

log = logging.getLogger("advm.mcp")

MCP_PATH = "/~mcp"
URI_PREFIX = "advm://document/"  # a document's resource: advm://document/<key, percent-encoded>
SERVER_INFO = {"name": "advm", "version": "0.1.0"}

# JSON-RPC 2.0 error codes, and MCP's for a resource that is not there
PARSE_ERROR, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, INTERNAL_ERROR = (
    -32700, -32600, -32601, -32602, -32603)
LIMIT_ERROR = -32000       # a limit of spec/protocol.md 8.16 was crossed
NOT_INITIALIZED = -32001   # a request other than initialize or ping before initialize
RESOURCE_NOT_FOUND = -32002


@dataclass
class McpLimits:
    max_request: int = 64 * 1024     # bytes of one POST body or WebSocket message
    max_batch: int = 16              # messages in one JSON-RPC batch
    max_sessions: int = 8            # open sessions of one principal
    max_subscriptions: int = 32      # resources one session is subscribed to
    max_documents: int = 32          # documents one session connects to
    max_pending: int = 64            # messages of one WebSocket waiting to be answered
    idle_timeout: float = 600.0      # seconds an HTTP session lives without a request
    answer_timeout: float = 30.0     # seconds a document may take to answer


class McpError(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def _types():
    """The MCP SDK's types (mcp_types), imported on the first MCP request: it
    brings pydantic, about a second of a server's start under load otherwise."""
    import mcp_types

    return mcp_types


def _dump(model) -> dict:
    return model.model_dump(by_alias=True, exclude_none=True, mode="json")


def error(rid, code: int, message: str) -> dict:
    return {"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}}


def result(rid, value: dict) -> dict:
    return {"jsonrpc": "2.0", "id": rid, "result": value}


# ---------------------------------------------------------------- names


_PLAIN = re.compile(r"[A-Za-z0-9-]")


def key_name(key: str) -> str:
    """A document key as a tool-name part: letters, digits and `-` as they
    are, every other character as `_` and its code point in hex and `_`."""
    return "".join(c if _PLAIN.fullmatch(c) else f"_{ord(c):x}_" for c in key)


def name_key(text: str) -> str:
    return re.sub(r"_([0-9a-f]{1,6})_", lambda m: chr(int(m.group(1), 16)), text)


def tool_name(key: str, channel: str) -> str:
    return f"{key_name(key)}.{channel}"


def resource_uri(key: str) -> str:
    return URI_PREFIX + quote(key, safe="")


def agent_prompts(meta: dict, views) -> dict[str, dict]:
    """The program's agents (meta["agents"], compiler/gen_doc.py) a principal
    is shown as prompts: those with `instructions` whose conversation, a
    `session<Agent>` field (meta["sessions"]), is in one of `views` (the
    principal's views of its documents): a document exposes an agent by
    showing its session, and its privacy rules decide to whom. Without
    meta["sessions"] (agents given by hand), every agent but one that says
    `exposed: false`."""
    sessions = meta.get("sessions")
    out = {}
    for name, info in (meta.get("agents") or {}).items():
        if not (isinstance(info, dict) and isinstance(info.get("instructions"), str)) or info.get("exposed") is False:
            continue
        if sessions is not None:
            fields = [f for f, agent in sessions.items() if agent == name]
            if not any(isinstance(v, dict) and f in v for v in views for f in fields):
                continue
        out[name] = info
    return out


# ---------------------------------------------------------------- a document's view


class DocView:
    """The router's Sink for one document of a session: the principal's view,
    kept current by its deltas (views/merge.py, as any client keeps it)."""

    __slots__ = ("session", "router", "key", "state", "asks", "open", "ended_as", "__weakref__", "_router_state")

    def __init__(self, session: "McpSession", key: str):
        self.session = session
        self.router = session.router
        self.key = key
        self.state = ViewState()
        self.asks: list = []
        self.open = True
        self.ended_as: tuple[str, str] | None = None

    def deltas(self, items, outstanding) -> None:
        try:
            for patch, seq in items:
                self.state.apply(json.loads(patch), seq)
        except DeltaError:
            self.state.reset()
            self.session.router.resync(self)
        if outstanding is not None:
            self.asks = list(outstanding)
        self.session.changed(self.key)

    def reset(self, data, seq, outstanding) -> None:
        self.state.reset()
        self.state.apply(data, seq)
        self.asks = list(outstanding or [])
        self.session.changed(self.key)

    def notify(self, error) -> None:
        pass  # an error the document addressed to nobody's request: nothing to answer

    def ended(self, code: str, message: str) -> None:
        self.open = False
        self.ended_as = (code, message)
        if self.session.docs.get(self.key) is self:
            del self.session.docs[self.key]
        self.session.changed(self.key)


# ---------------------------------------------------------------- sessions


class McpSession:
    """One MCP session: a principal, the documents it connected to, its
    subscriptions, and where its notifications go."""

    def __init__(self, hub: "McpHub", sid: str, who: str, anonymous: bool, context: dict, router=None):
        self.hub = hub
        self.token: str | None = None  # what it was opened with (None: a guest)
        self.router = router  # its space's (spec/protocol.md 8.17): `?space=` of its URL, else the default
        self.id = sid
        self.who = who
        self.anonymous = anonymous
        self.context = context
        self.docs: dict[str, DocView] = {}
        self.tried: set[str] = set()
        self.connecting: dict[str, asyncio.Future] = {}  # key -> its connection being made
        self.subscriptions: set[str] = set()
        self.initialized = False
        self.closed = False
        self.used = time.monotonic()
        self.listener = None   # fn(message dict): the WebSocket, or the SSE stream's queue
        self.tools: dict[str, tuple[str, str]] = {}

    # -- notifications

    def changed(self, key: str) -> None:
        if key in self.subscriptions and self.listener is not None:
            self.listener({"jsonrpc": "2.0", "method": "notifications/resources/updated",
                           "params": {"uri": resource_uri(key)}})

    # -- documents

    async def _connect(self, key: str) -> DocView | None:
        """The session's connection to `key`, made once: requests that need it
        at the same time (HTTP requests of a session may overlap) share it."""
        if key in self.docs:
            return self.docs[key]
        pending = self.connecting.get(key)
        if pending is None:
            pending = self.connecting[key] = asyncio.ensure_future(self._join(key))
            pending.add_done_callback(lambda _f: self.connecting.pop(key, None))
        return await asyncio.shield(pending)

    async def _join(self, key: str) -> DocView | None:
        self.tried.add(key)
        view = DocView(self, key)
        router = self.router
        try:
            fut = router.connect(key, self.who, view, self.context)
            await asyncio.wait_for(asyncio.shield(fut), self.hub.limits.answer_timeout)
        except (RouterError, asyncio.TimeoutError):
            router.disconnect(view)
            return None
        if self.closed or not view.open:
            router.disconnect(view)
            return None
        self.docs[key] = view
        watch = self.hub.server.watch_token
        if watch is not None and self.token is not None:  # an authority's revocation ends it (8.5)
            watch(view, self.token)
        return view

    async def documents(self) -> dict[str, DocView]:
        """Connect to the documents not tried yet, in key order, while fewer
        than max_documents were tried; the ones that let the principal in."""
        room = self.hub.limits.max_documents - len(self.tried)
        if room > 0:
            todo = [k for k in keys_of(self.router) if k not in self.tried][:room]
            await asyncio.gather(*(self._connect(k) for k in todo))
        return {k: v for k, v in sorted(self.docs.items()) if v.open}

    async def document(self, key: str) -> DocView | None:
        view = self.docs.get(key)
        if view is not None and view.open:
            return view
        if key in self.tried and key not in self.docs:
            self.tried.discard(key)  # asked for by name: ask the document again
        if len(self.tried) >= self.hub.limits.max_documents:
            raise McpError(LIMIT_ERROR, f"a session connects to at most {self.hub.limits.max_documents} documents")
        try:
            check_key(key)
        except RouterError:
            return None
        return await self._connect(key)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for view in list(self.docs.values()):
            view.open = False
            self.router.disconnect(view)
        self.docs.clear()
        listener, self.listener = self.listener, None
        if listener is not None:
            listener(None)  # the end: an event stream ends with it

    # -- JSON-RPC

    async def process(self, data) -> dict | list | None:
        """The answer to one WebSocket message or POST body (bytes or text):
        a response, a list of them (a batch), or None (notifications only)."""
        self.used = time.monotonic()
        lim = self.hub.limits
        if len(data) > lim.max_request:
            return error(None, LIMIT_ERROR, f"a request is at most {lim.max_request} bytes")
        try:
            msg = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            return error(None, PARSE_ERROR, "the request is not JSON")
        problem = input_problem(msg)
        if problem is not None:
            return error(None, INVALID_REQUEST, f"the request {problem[1]}")
        if isinstance(msg, list):
            if not msg:
                return error(None, INVALID_REQUEST, "an empty batch")
            if len(msg) > lim.max_batch:
                return error(None, LIMIT_ERROR, f"a batch holds at most {lim.max_batch} messages")
            answers = [await self.one(m) for m in msg]
            answers = [a for a in answers if a is not None]
            return answers or None
        return await self.one(msg)

    async def one(self, msg) -> dict | None:
        if not isinstance(msg, dict):
            return error(None, INVALID_REQUEST, "a JSON-RPC message is an object")
        rid = msg.get("id")
        has_id = "id" in msg
        if has_id and (rid is None or type(rid) not in (int, str)):
            return error(None, INVALID_REQUEST, "`id` is a string or an integer")
        if msg.get("jsonrpc") != "2.0":
            return error(rid if has_id else None, INVALID_REQUEST, '`jsonrpc` must be "2.0"')
        method = msg.get("method")
        if method is None and has_id and ("result" in msg or "error" in msg):
            return None  # a client's answer: the server asks nothing, so it is dropped
        if not isinstance(method, str):
            return error(rid if has_id else None, INVALID_REQUEST, "`method` is a string")
        params = msg.get("params", {})
        if params is None:
            params = {}
        if not isinstance(params, dict):
            return None if not has_id else error(rid, INVALID_PARAMS, "`params` is an object")
        if not has_id:  # a notification: never answered
            if method == "notifications/initialized":
                self.initialized = True
            return None
        handler = METHODS.get(method)
        if handler is None:
            return error(rid, METHOD_NOT_FOUND, f"no method {method!r}")
        if method not in ("initialize", "ping") and not self.initialized and not self.hub.lenient:
            return error(rid, NOT_INITIALIZED, "initialize first")
        try:
            return result(rid, await handler(self, params))
        except McpError as e:
            return error(rid, e.code, e.message)
        except Exception as e:  # a bug must not take the session down
            log.error("MCP %s failed: %r", method, e, exc_info=e)
            return error(rid, INTERNAL_ERROR, "internal error in the server (the server's log has it)")


# ---------------------------------------------------------------- methods


def _string_param(params: dict, name: str) -> str:
    value = params.get(name)
    if not isinstance(value, str):
        raise McpError(INVALID_PARAMS, f"`{name}` is a string")
    return value


async def m_initialize(s: McpSession, params: dict) -> dict:
    mt = _types()
    from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION

    asked = params.get("protocolVersion")
    version = asked if asked in HANDSHAKE_PROTOCOL_VERSIONS else LATEST_HANDSHAKE_VERSION
    s.initialized = True  # the initialized notification follows; requests may come before it over HTTP
    caps = mt.ServerCapabilities(tools=mt.ToolsCapability(list_changed=False),
                                 resources=mt.ResourcesCapability(subscribe=True, list_changed=False),
                                 prompts=mt.PromptsCapability(list_changed=False))
    return _dump(mt.InitializeResult(
        protocol_version=version, capabilities=caps, server_info=mt.Implementation(**SERVER_INFO),
        instructions=(f"Documents of this advm server as {s.who} sees them: each document's view is a "
                      "resource, each channel you may send on is a tool.")))


async def m_ping(s: McpSession, params: dict) -> dict:
    return {}


async def m_tools_list(s: McpSession, params: dict) -> dict:
    mt = _types()
    meta = s.router.module.meta
    asks = {channel: field for field, channel in (meta.get("session_asks") or {}).items()}
    tools, names = [], {}
    for key, view in (await s.documents()).items():
        open_asks = {a.get("channel") for a in view.asks}
        for channel, info in sorted(meta["channels"].items()):
            if info["message"] is None or not (info["complete"] or channel in open_asks):
                continue
            name = tool_name(key, channel)
            names[name] = (key, channel)
            how = "a list of messages" if info["array"] else "a message"
            what = "" if info["complete"] else " (it answers the document's open ask)"
            description = f"Send {how} {info['message']} on channel {channel} of document {key}{what}."
            if channel in asks:  # a session's ask channel (compiler/agents.py ask_channel)
                field = asks[channel]
                description = (f"Ask the agent {meta['sessions'].get(field, '')} of document {key} "
                               f"(its conversation is the field {field}): {{\"text\": your message}}.")
            tools.append(mt.Tool(
                name=name, title=f"{channel} on {key}",
                description=description,
                input_schema=message_schema(meta, info["message"], array=bool(info["array"]))))
    s.tools = names
    return _dump(mt.ListToolsResult(tools=tools))


def _tool_error(text: str) -> dict:
    mt = _types()
    return _dump(mt.CallToolResult(content=[mt.TextContent(type="text", text=text)], is_error=True))


async def m_tools_call(s: McpSession, params: dict) -> dict:
    mt = _types()
    name = _string_param(params, "name")
    args = params.get("arguments") or {}
    if not isinstance(args, dict):
        raise McpError(INVALID_PARAMS, "`arguments` is an object")
    target = s.tools.get(name)
    if target is None:
        key_part, dot, channel = name.rpartition(".")
        target = (name_key(key_part), channel) if dot else None
    meta = s.router.module.meta
    info = meta["channels"].get(target[1]) if target else None
    if info is None or info["message"] is None:
        raise McpError(INVALID_PARAMS, f"no tool {name!r}")
    key, channel = target
    view = await s.document(key)
    if view is None:
        raise McpError(INVALID_PARAMS, f"no tool {name!r}: document {key!r} is not open to you")
    if not info["complete"] and channel not in {a.get("channel") for a in view.asks}:
        raise McpError(INVALID_PARAMS, f"no tool {name!r}: you have no open ask on channel {channel}")
    message = args
    if info["array"]:
        message = args.get("messages")
        if not isinstance(message, list) or set(args) - {"messages"}:
            return _tool_error("input: the arguments are {\"messages\": [...]}")
    router = s.router
    context = s.context if meta.get("reads_context") else None
    try:
        got = await asyncio.wait_for(asyncio.shield(router.send(key, s.who, channel, message, context=context)),
                                     s.hub.limits.answer_timeout)
    except RouterError as e:
        return _tool_error(f"{e.code}: {e.message}")
    except asyncio.TimeoutError:
        return _tool_error("timeout: the document did not answer in time")
    out = {"sent": True}
    if isinstance(got, dict):
        out.update({k: v for k, v in got.items() if k in ("seq", "viewstate")})
    return _dump(mt.CallToolResult(content=[mt.TextContent(type="text", text=json.dumps(out))],
                                   structured_content=out, is_error=False))


async def m_resources_list(s: McpSession, params: dict) -> dict:
    mt = _types()
    out = [mt.Resource(name=key, uri=resource_uri(key), mime_type="application/json",
                       description=f"document {key} as {s.who} sees it")
           for key in await s.documents()]
    return _dump(mt.ListResourcesResult(resources=out))


async def _resource(s: McpSession, params: dict) -> tuple[str, DocView]:
    uri = _string_param(params, "uri")
    if not uri.startswith(URI_PREFIX):
        raise McpError(RESOURCE_NOT_FOUND, f"no resource {uri!r} (documents are {URI_PREFIX}<key>)")
    key = unquote(uri[len(URI_PREFIX):])
    view = await s.document(key)
    if view is None:
        raise McpError(RESOURCE_NOT_FOUND, f"no resource {uri!r}: document {key!r} is not open to you")
    return uri, view


async def m_resources_read(s: McpSession, params: dict) -> dict:
    mt = _types()
    uri, view = await _resource(s, params)
    text = json.dumps(view.state.view, ensure_ascii=False, separators=(",", ":"))
    return _dump(mt.ReadResourceResult(contents=[mt.TextResourceContents(uri=uri, mime_type="application/json",
                                                                         text=text)]))


async def m_resources_subscribe(s: McpSession, params: dict) -> dict:
    uri, view = await _resource(s, params)
    if view.key not in s.subscriptions and len(s.subscriptions) >= s.hub.limits.max_subscriptions:
        raise McpError(LIMIT_ERROR, f"a session holds at most {s.hub.limits.max_subscriptions} subscriptions")
    s.subscriptions.add(view.key)
    return {}


async def m_resources_unsubscribe(s: McpSession, params: dict) -> dict:
    uri = _string_param(params, "uri")
    s.subscriptions.discard(unquote(uri[len(URI_PREFIX):]) if uri.startswith(URI_PREFIX) else uri)
    return {}


async def m_resource_templates(s: McpSession, params: dict) -> dict:
    return {"resourceTemplates": []}


async def m_prompts_list(s: McpSession, params: dict) -> dict:
    mt = _types()
    views = [v.state.view for v in (await s.documents()).values()]
    prompts = [mt.Prompt(name=name, description=info.get("description") or f"the instructions of agent {name}")
               for name, info in sorted(agent_prompts(s.router.module.meta, views).items())]
    return _dump(mt.ListPromptsResult(prompts=prompts))


async def m_prompts_get(s: McpSession, params: dict) -> dict:
    mt = _types()
    name = _string_param(params, "name")
    views = [v.state.view for v in (await s.documents()).values()]
    info = agent_prompts(s.router.module.meta, views).get(name)
    if info is None:
        raise McpError(INVALID_PARAMS, f"no prompt {name!r}")
    return _dump(mt.GetPromptResult(
        description=info.get("description") or f"the instructions of agent {name}",
        messages=[mt.PromptMessage(role="user", content=mt.TextContent(type="text", text=info["instructions"]))]))


METHODS = {
    "initialize": m_initialize,
    "ping": m_ping,
    "tools/list": m_tools_list,
    "tools/call": m_tools_call,
    "resources/list": m_resources_list,
    "resources/read": m_resources_read,
    "resources/subscribe": m_resources_subscribe,
    "resources/unsubscribe": m_resources_unsubscribe,
    "resources/templates/list": m_resource_templates,
    "prompts/list": m_prompts_list,
    "prompts/get": m_prompts_get,
}


# ---------------------------------------------------------------- the hub


class McpHub:
    """The server's MCP sessions, by id and per principal."""

    def __init__(self, server, limits: McpLimits | None = None):
        self.server = server
        self.limits = limits or McpLimits()
        self.sessions: dict[str, McpSession] = {}
        self.sockets: set = set()  # McpSocket
        self.lenient = False  # True: requests before initialize are served (not by default)

    def sweep(self, keep: str | None = None) -> None:
        """End the sessions idle past idle_timeout (but `keep`, the one a request names)."""
        cutoff = time.monotonic() - self.limits.idle_timeout
        for sid, s in list(self.sessions.items()):
            if sid != keep and s.listener is None and s.used < cutoff:
                self.close(s)

    def router(self, space):
        """The router of `space` (a `?space=` of the URL; None: the default space), or McpError."""
        router = self.server.router if space is None else self.server.space_router(space)
        if router is None:
            raise McpError(INVALID_PARAMS, self.server.no_space(space) + " (/~mcp?space=NAME)")
        return router

    def open(self, who: str, anonymous: bool, context: dict, router, token: str | None = None) -> McpSession:
        self.sweep()
        held = sum(1 for s in self.sessions.values() if s.who == who)
        if held >= self.limits.max_sessions:
            raise McpError(LIMIT_ERROR, f"a principal holds at most {self.limits.max_sessions} MCP sessions "
                                        "(end one with DELETE, or close its WebSocket)")
        sid = secrets.token_urlsafe(24)
        s = self.sessions[sid] = McpSession(self, sid, who, anonymous, context, router)
        s.token = token
        return s

    def close(self, s: McpSession) -> None:
        self.sessions.pop(s.id, None)
        s.close()

    async def shutdown(self) -> None:
        """The server stops: every session ends (event streams end), every
        MCP WebSocket closes."""
        for s in list(self.sessions.values()):
            self.close(s)
        for sock in list(self.sockets):
            try:
                await sock.ws.close(1001, "server shutting down")
            except Exception:
                pass


def principal_of(server, authorization: str | None, identity=None) -> tuple[str, bool, str | None]:
    """(principal, anonymous, token) of an `Authorization` header (or, on a
    WebSocket, initialize's `identity`), or _Answer 401."""
    if authorization is None and isinstance(identity, str) and identity != ANONYMOUS:
        authorization = "Bearer " + identity
    if authorization is None:
        if not server.allow_anonymous:
            raise _Answer(401, "this server does not accept anonymous clients: send Authorization: Bearer <token>",
                          [("WWW-Authenticate", "Bearer")])
        return anonymous_principal(), True, None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _Answer(401, "Authorization is `Bearer <token>`", [("WWW-Authenticate", "Bearer")])
    try:
        return server.tokens.verify(token.strip()), False, token.strip()
    except TokenError as e:
        raise _Answer(401, e.message, [("WWW-Authenticate", "Bearer")]) from None


def hub_of(server) -> McpHub:
    hub = getattr(server, "mcp", None)
    if hub is None:
        hub = server.mcp = McpHub(server, getattr(server, "mcp_limits", None))
    return hub


# ---------------------------------------------------------------- Streamable HTTP


def _json_answer(status: int, value, headers=()) -> tuple:
    body = b"" if value is None else json.dumps(value, separators=(",", ":")).encode("utf-8")
    kind = [("Content-Type", "application/json")] if value is not None else []
    return status, [*kind, ("Cache-Control", "no-store"), *headers], body


def _is_initialize(data: bytes) -> bool:
    try:
        msg = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(msg, dict) and msg.get("method") == "initialize" and "id" in msg


class McpExchange(WebExchange):
    """One HTTP request to /~mcp (net/server.py hands it over like a @web one)."""

    async def _serve(self) -> tuple:
        lim = self.limits
        request = await self._event(time.monotonic() + lim.head_timeout)
        if not isinstance(request, h11.Request):
            raise _Answer(400, "the request is not valid HTTP/1.1")
        self.request = request
        hub = hub_of(self.server)
        target = request.target.decode("ascii", "replace")
        path = target.split("?", 1)[0]
        self.space = _space_of(target)
        if path != MCP_PATH:
            raise _Answer(404, f"not found (the MCP endpoint is {MCP_PATH})")
        if not self.server.web_rate.allow(self.ip):
            raise _Answer(429, "too many requests from this address; slow down", [("Retry-After", "1")])
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.headers}
        origin = headers.get("origin")
        if origin is not None and origin not in self.server.allow_origins + self.server.own_origins:
            raise _Answer(403, "this origin may not use the MCP endpoint (advm run --allow-origin)")
        method = request.method.decode("ascii", "replace")
        sid = headers.get("mcp-session-id")
        hub.sweep(keep=sid)
        if method == "POST":
            return await self._post(hub, headers, sid)
        if method == "DELETE":
            session = self._session(hub, headers, sid)
            hub.close(session)
            return _json_answer(200, None)
        if method == "GET":
            session = self._session(hub, headers, sid)
            if "text/event-stream" not in headers.get("accept", ""):
                raise _Answer(406, "GET /~mcp opens the session's event stream: Accept: text/event-stream")
            await self._events(session)
            return None
        raise _Answer(405, "the MCP endpoint takes POST, GET and DELETE", [("Allow", "GET, POST, DELETE")])

    async def run(self) -> None:
        try:
            answer = await self._serve()
        except _Answer as a:
            answer = _json_answer(a.status, error(None, INVALID_REQUEST if a.status < 500 else INTERNAL_ERROR,
                                                  a.message), a.headers)
        except McpError as e:
            answer = _json_answer(400 if e.code != LIMIT_ERROR else 429, error(None, e.code, e.message))
        except ConnectionError:
            return
        except Exception as e:  # a bug must not take the server down
            log.error("MCP request failed: %r", e, exc_info=e)
            answer = _json_answer(500, error(None, INTERNAL_ERROR, "the request failed"))
        if answer is not None:
            await self._send(*answer)

    def _session(self, hub: McpHub, headers: dict, sid) -> McpSession:
        if sid is None:
            raise _Answer(400, "Mcp-Session-Id is required (initialize gives one)")
        session = hub.sessions.get(sid)
        if session is None:
            raise _Answer(404, "no such MCP session (it ended, or the server restarted): initialize again")
        auth = headers.get("authorization")
        if auth is not None or not session.anonymous:
            who = principal_of(self.server, auth)[0]
            if who != session.who:
                raise _Answer(403, "this MCP session belongs to another principal")
        session.used = time.monotonic()
        return session

    async def _read(self, headers: dict) -> bytes:
        lim = hub_of(self.server).limits
        length = headers.get("content-length")
        too_big = f"a request is at most {lim.max_request} bytes"
        if length is not None and length.isdigit() and int(length) > lim.max_request:
            raise McpError(LIMIT_ERROR, too_big)
        chunks, size = [], 0
        deadline = time.monotonic() + self.limits.body_timeout
        while True:
            event = await self._event(deadline)
            if isinstance(event, h11.EndOfMessage):
                return b"".join(chunks)
            if isinstance(event, h11.Data):
                size += len(event.data)
                if size > lim.max_request:
                    raise McpError(LIMIT_ERROR, too_big)
                chunks.append(event.data)
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("the client went away")

    async def _post(self, hub: McpHub, headers: dict, sid) -> tuple:
        data = await self._read(headers)
        extra = []
        if sid is None and _is_initialize(data):
            who, anonymous, token = principal_of(self.server, headers.get("authorization"))
            session = hub.open(who, anonymous, {"origin": headers.get("origin", ""), "ip": self.ip},
                               hub.router(self.space), token)
            extra.append(("Mcp-Session-Id", session.id))
        else:
            session = self._session(hub, headers, sid)
        answer = await session.process(data)
        if answer is None:
            return _json_answer(202, None, extra)
        status = 200
        if isinstance(answer, dict) and "error" in answer and answer.get("id") is None:
            # the body as a whole was refused (not JSON, too large, a bad batch)
            status = 429 if answer["error"]["code"] == LIMIT_ERROR else 400
        return _json_answer(status, answer, extra)

    async def _events(self, session: McpSession) -> None:
        """The session's event stream until the client goes away or the
        session ends: each notification one SSE `message` event."""
        queue: asyncio.Queue = asyncio.Queue(maxsize=256)

        def listener(msg):
            if msg is None or not queue.full():
                queue.put_nowait(msg)
        session.listener = listener
        out = self.conn.send(h11.Response(status_code=200, reason=b"", headers=[
            ("Content-Type", "text/event-stream"), ("Cache-Control", "no-store")]))
        self.transport.write(out)
        try:
            while not self.closed and not session.closed and session.listener is listener:
                try:
                    msg = await asyncio.wait_for(queue.get(), 15.0)
                    if msg is None:
                        break
                    chunk = f"event: message\ndata: {json.dumps(msg, separators=(',', ':'))}\n\n"
                except asyncio.TimeoutError:
                    chunk = ": keepalive\n\n"
                self.transport.write(self.conn.send(h11.Data(data=chunk.encode("utf-8"))))
                session.used = time.monotonic()
            if not self.closed:
                self.transport.write(self.conn.send(h11.EndOfMessage()))
        finally:
            if session.listener is listener:
                session.listener = None


# ---------------------------------------------------------------- WebSocket


class McpSocket:
    """JSON-RPC 2.0 over one WebSocket at /~mcp: one session, for the socket's life."""

    def __init__(self, server, ws):
        self.server = server
        self.ws = ws
        self.hub = hub_of(server)
        self.queue: asyncio.Queue = asyncio.Queue()
        self.session: McpSession | None = None
        try:
            self.headers = ws.request.headers
        except AttributeError:
            self.headers = {}
        try:
            peer = ws.remote_address
            self.ip = peer[0] if peer else ""
        except (AttributeError, TypeError, IndexError):
            self.ip = ""

    def frame(self, is_text: bool, data: bytes) -> None:
        if self.queue.qsize() >= self.hub.limits.max_pending:
            self._send(error(None, LIMIT_ERROR, f"at most {self.hub.limits.max_pending} messages wait "
                                                 "to be answered on one socket"))
            return
        self.queue.put_nowait(data)

    def _send(self, value) -> None:
        if value is None:  # the session ended: the socket closes on its own
            return
        text = json.dumps(value, separators=(",", ":"))
        asyncio.ensure_future(self._write(text))

    async def _write(self, text: str) -> None:
        try:
            await self.ws.send(text)
        except Exception:  # the socket closed: nothing to tell
            pass

    async def run(self) -> None:
        ws = self.ws
        ws.sock = self
        early, ws.early = ws.early, []
        for _opcode, data in early:
            self.frame(True, data)
        worker = asyncio.ensure_future(self._serve())
        self.hub.sockets.add(self)
        try:
            await ws.wait_closed()
        finally:
            self.hub.sockets.discard(self)
            worker.cancel()
            if self.session is not None:
                self.hub.close(self.session)

    async def _serve(self) -> None:
        while True:
            data = await self.queue.get()
            try:
                answer = await self._answer(data)
            except Exception as e:  # a bug must not take the socket down
                log.error("MCP message failed: %r", e, exc_info=e)
                answer = error(None, INTERNAL_ERROR, "internal error in the server")
            if answer is not None:
                await self._write(json.dumps(answer, separators=(",", ":")))

    async def _answer(self, data: bytes):
        if self.session is None:
            if len(data) <= self.hub.limits.max_request and _is_initialize(data):
                msg = json.loads(data)
                params = msg.get("params") if isinstance(msg.get("params"), dict) else {}
                try:
                    who, anonymous, token = principal_of(self.server, self.headers.get("Authorization"),
                                                  params.get("identity"))
                    router = self.hub.router(_space_of(getattr(getattr(self.ws, "request", None), "path", "")))
                    self.session = self.hub.open(who, anonymous, {"origin": self.headers.get("Origin", "") or "",
                                                                  "ip": self.ip}, router, token)
                except _Answer as a:
                    return error(msg["id"], INVALID_REQUEST, a.message)
                except McpError as e:
                    return error(msg["id"], e.code, e.message)
                self.session.listener = self._send
            else:
                probe = McpSession(self.hub, "", "", True, {})  # answers errors and ping, holds nothing
                return await probe.process(data)
        if self.session.token is not None:
            try:  # checked again with every message: revoked or expired, the session ends
                self.server.tokens.verify(self.session.token)
            except TokenError as e:
                self.hub.close(self.session)
                asyncio.ensure_future(self.ws.close(1008, e.code))
                return error(None, INVALID_REQUEST, f"{e.code}: {e.message}")
        return await self.session.process(data)


def keys_of(router) -> list[str]:
    """Every document of a router's space: loaded ones and the store's (or the shelf's)."""
    keys = set(router.slots)
    shelf = router._doc_store()
    if shelf is not None:
        keys.update(shelf.documents() if hasattr(shelf, "documents") else shelf.keys())
    return sorted(keys)


def _space_of(target: str) -> str | None:
    """The `space` of a URL's query (the last one given), or None."""
    query = target.split("?", 1)[1] if "?" in target else ""
    found = [v for k, v in parse_qsl(query, keep_blank_values=True) if k == "space"]
    return found[-1] if found else None


def is_mcp_upgrade_head(head: bytes) -> bool:
    return re.search(rb"(?im)^upgrade:[ \t]*websocket[ \t]*\r?$", head) is not None


__all__ = ["MCP_PATH", "McpExchange", "McpHub", "McpLimits", "McpSession", "McpSocket", "agent_prompts",
           "is_mcp_upgrade_head", "key_name", "name_key", "resource_uri", "tool_name"]
