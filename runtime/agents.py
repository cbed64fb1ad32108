"""The agent loop inside a document (spec/language.md 4.31, spec/runtime.md 10).

A `session<A>` field is a record (compiler/agents.py) whose `status` is
"processing" while an ask runs. The runtime never does I/O: while a session
processes, `calls()` lists the completion it wants (an OpenAI-compatible Chat
Completions request, built from the session's history and the agent's
settings), the host makes it (net/services.py Dispatcher, net/models.py), and
the reply comes back as a `result` input for the call `~a/<field>/<ask>/<turns>`,
logged like any input: replay and recovery apply the same reply, never calling
the model. The call's id is derived from the session's state, so a restarted
host that finds the session still processing asks for the same completion again.

Applying a reply (`result`): one transaction appends the assistant turn; each
tool call then runs its tool (a method of the record) as a transaction of its
own, as the asker, and one more appends its result; the ask ends (`__end`) when
the reply called no tool ("finished"), the ask's tokens passed `token_budget`,
`max_tool_rounds` rounds ran, or the reply failed ("failed"). A session still
processing `staleness_timeout` seconds after its last step is ended "stale" by
the next input at or after that time (`refresh`). All of it is document state,
so every step reaches the viewers as deltas.
"""
from __future__ import annotations

import json

from ..vm.schemas import message_schema
from ..vm.table import rows as table_rows, size as table_size
from ..vm.values import to_json
from .engine import TransactionError

AGENT_CALL = "~a/"
DEFAULT_STALENESS_S = 60
MAX_REQUEST_BYTES = 1 << 20  # a completion request as JSON; past it the ask fails (413)
MAX_TOOL_CALLS = 32  # tool calls in one reply; more and the ask fails
MAX_CONTENT_CHARS = 100_000  # of a reply's text, and of a tool's result, kept in the history (cut past it)
MAX_ERROR_CHARS = 500  # of the `error` a failed ask records
FAILED, FINISHED, ROUNDS, BUDGET, STALE = "failed", "finished", "max_tool_rounds", "token_budget", "stale"


class ReplyError(ValueError):
    """A model's reply that is not a chat completion this loop can use."""


def parse_reply(value) -> tuple[str, list[dict], int]:
    """(text, tool calls [{id, name, arguments}], tokens used) of a Chat
    Completions reply (the JSON body), or ReplyError."""
    if not isinstance(value, dict):
        raise ReplyError("the reply is not a JSON object")
    choices = value.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise ReplyError("the reply has no choices")
    msg = choices[0].get("message")
    if not isinstance(msg, dict):
        raise ReplyError("the reply's first choice has no message")
    text = msg.get("content") or ""
    if not isinstance(text, str):
        raise ReplyError("the reply's content is not text")
    calls = []
    raw = msg.get("tool_calls") or []
    if not isinstance(raw, list):
        raise ReplyError("the reply's tool_calls is not a list")
    if len(raw) > MAX_TOOL_CALLS:
        raise ReplyError(f"the reply calls {len(raw)} tools, more than {MAX_TOOL_CALLS}")
    for c in raw:
        fn = c.get("function") if isinstance(c, dict) else None
        if not isinstance(fn, dict) or not isinstance(c.get("id"), str) or not isinstance(fn.get("name"), str):
            raise ReplyError("a tool call has no id or no function name")
        args = fn.get("arguments", "{}")
        if not isinstance(args, str):
            args = json.dumps(args)
        calls.append({"id": c["id"][:200], "name": fn["name"][:200], "arguments": args})
    usage = value.get("usage")
    used = usage.get("total_tokens", 0) if isinstance(usage, dict) else 0
    if type(used) is not int or used < 0:
        raise ReplyError("the reply's usage.total_tokens is not a count")
    return text[:MAX_CONTENT_CHARS], calls, min(used, 2**31 - 1)


class Agents:
    """The sessions of one document and the completions they want."""

    def __init__(self, living):
        self.living = living
        meta = living.meta
        self.agents: dict = meta.get("agents", {})
        self.meta = meta
        fields = {f["name"]: f for f in meta["document"]["fields"]}
        # field -> (agent name, document slot, {member: slot}, history type)
        self.sessions: dict[str, tuple] = {}
        for name, agent in meta.get("sessions", {}).items():
            rec = meta["records"][agent]
            slots = {f["name"]: f["slot"] for f in rec["fields"]}
            history = next(f["type"] for f in rec["fields"] if f["name"] == "history")
            self.sessions[name] = (agent, fields[name]["slot"], slots, history)
        self._tools: dict = {}  # agent -> the request's "tools" (built once)
        turn = {f["name"]: f["slot"] for f in meta["records"]["AgentTurn"]["fields"]} if self.sessions else {}
        self._turn = tuple(turn.get(n) for n in ("role", "content", "calls", "call_id"))
        self._requests: dict[str, tuple[str, str]] = {}  # field -> (call id, request as JSON text)

    def __bool__(self) -> bool:
        return bool(self.sessions)

    # ------------------------------------------------------------ reading a session

    def _record(self, field: str):
        return self.living.engine.doc.f[self.sessions[field][1]]

    def _get(self, field: str, member: str):
        return self._record(field).f[self.sessions[field][2][member]]

    def _turns(self, field: str):
        """The session's turns as (role, content, calls, call_id), in order (read from the rows)."""
        role, content, calls, call_id = self._turn
        table = self._record(field).f[self.sessions[field][2]["history"]]
        for row in table_rows(table):
            f = row.f
            yield f[role], f[content], f[calls], f[call_id]

    def processing(self, field: str) -> bool:
        return self._get(field, "status") == "processing"

    def call_id(self, field: str) -> str:
        """The completion the session wants now: its ask and how many turns it has."""
        table = self._record(field).f[self.sessions[field][2]["history"]]
        return f"{AGENT_CALL}{field}/{self._get(field, 'asks')}/{table_size(table)}"

    def settings(self, field: str) -> dict:
        return self.agents[self.sessions[field][0]]["settings"]

    # ------------------------------------------------------------ the completions wanted

    def tools(self, agent: str) -> list[dict]:
        out = self._tools.get(agent)
        if out is None:
            out = self._tools[agent] = [
                {"type": "function", "function": {"name": name, "description": t["description"],
                                                  "parameters": message_schema(self.meta, t["input"])}}
                for name, t in self.agents[agent]["tools"].items()]
        return out

    def request(self, field: str) -> dict:
        """The Chat Completions request of the session's next step."""
        agent = self.sessions[field][0]
        st = self.agents[agent]["settings"]
        messages = []
        if st.get("instructions"):
            messages.append({"role": "system", "content": st["instructions"]})
        for role, content, calls, call_id in self._turns(field):
            if role == "user":
                messages.append({"role": "user", "content": content})
            elif role == "assistant":
                m = {"role": "assistant", "content": content or None}
                if calls:
                    m["tool_calls"] = [{"id": c["id"], "type": "function",
                                        "function": {"name": c["name"], "arguments": c["arguments"]}}
                                       for c in json.loads(calls)]
                messages.append(m)
            else:
                messages.append({"role": "tool", "tool_call_id": call_id, "content": content})
        body = {"model": st.get("model", ""), "messages": messages}
        tools = self.tools(agent)
        if tools:
            body["tools"] = tools
        if "temperature" in st:
            body["temperature"] = st["temperature"]
        if "max_tokens" in st:
            body["max_tokens"] = st["max_tokens"]
        return body

    def request_text(self, field: str) -> tuple[str, str]:
        """(call id, the request as JSON text) of the session's next step, built
        once per step (the call id names the step)."""
        call = self.call_id(field)
        kept = self._requests.get(field)
        if kept is None or kept[0] != call:
            kept = self._requests[field] = (call, json.dumps(self.request(field), separators=(",", ":")))
        return kept

    def calls(self) -> list[dict]:
        """The completions the host must ask for: {call, agent: true, model,
        who, request (JSON text)}; each reply comes back as a `result` input."""
        out = []
        for field in self.sessions:
            if not self.processing(field):
                continue
            call, text = self.request_text(field)
            out.append({"call": call, "agent": True, "model": self.settings(field).get("model", ""),
                        "who": self._get(field, "asker") or "", "request": text})
        return out

    def wake(self) -> int | None:
        """When the earliest processing session goes stale (ms, document time)."""
        due = None
        for field in self.sessions:
            if self.processing(field):
                at = self._get(field, "updated") + self.staleness(field)
                due = at if due is None or at < due else due
        return due

    def staleness(self, field: str) -> int:
        return int(self.settings(field).get("staleness_timeout", DEFAULT_STALENESS_S)) * 1000

    # ------------------------------------------------------------ moving a session on

    def refresh(self) -> list[dict]:
        """After every input: a session processing past its staleness timeout
        (by the document's clock) ends "stale"; one whose next request is too
        large ends "failed"."""
        frames = []
        clock = self.living.clock
        for field in self.sessions:
            if not self.processing(field):
                continue
            if clock >= self._get(field, "updated") + self.staleness(field):
                frames += self.end(field, STALE, "no reply within the staleness timeout")
            elif len(self.request_text(field)[1].encode()) > MAX_REQUEST_BYTES:
                frames += self.end(field, FAILED, f"the conversation is larger than {MAX_REQUEST_BYTES} bytes "
                                   "as a request (413)")
        return frames

    def end(self, field: str, how: str, why: str = "") -> list[dict]:
        agent = self.sessions[field][0]
        engine = self.living.engine
        return self.living._transact(None, lambda: engine.transaction(
            f"method.{agent}.__end", self._record(field), how, why[:MAX_ERROR_CHARS], now=self.living.clock))[2]

    def result(self, call: str, outcome, now: int) -> list[dict] | None:
        """Apply the reply to call `call` (an outcome of runtime/services.py);
        None when no session waits for it (the caller says unknown_call)."""
        field = call[len(AGENT_CALL):].split("/", 1)[0]
        if field not in self.sessions or not self.processing(field) or self.call_id(field) != call:
            return None
        if not outcome.ok:
            return self.end(field, FAILED, f"the model call failed ({outcome.code}): {outcome.message}")
        try:
            text, calls, used = parse_reply(outcome.value)
        except ReplyError as e:
            return self.end(field, FAILED, f"the model's reply is not a chat completion: {e} (502)")
        agent_name, _, _, _ = self.sessions[field]
        agent = self.agents[agent_name]
        living, engine = self.living, self.living.engine
        asker = self._get(field, "asker")
        method = f"method.{agent_name}."
        names = ",".join(c["name"] for c in calls)
        calls_text = json.dumps(calls, separators=(",", ":")) if calls else ""
        committed, _, frames = living._transact(None, lambda: engine.transaction(
            method + "__reply", self._record(field), text, calls_text, names, used, now=now))
        if not committed:
            return frames + self.end(field, FAILED, "the reply could not be recorded")
        budget = agent["settings"].get("token_budget", 0)
        if budget and self._get(field, "tokens") > budget:
            return frames + self.end(field, BUDGET, "")
        if not calls:
            return frames + self.end(field, FINISHED, "")
        for i, c in enumerate(calls):
            content, more = self.run_tool(agent, field, c, asker, now)
            frames += more
            rest = ",".join(x["name"] for x in calls[i + 1:])
            frames += living._transact(None, lambda c=c, content=content, rest=rest: engine.transaction(
                method + "__tool_result", self._record(field), c["id"], c["name"], content, rest, now=now))[2]
        if self._get(field, "rounds") >= agent["settings"]["max_tool_rounds"]:
            frames += self.end(field, ROUNDS, "")
        return frames

    def run_tool(self, agent: dict, field: str, c: dict, asker, now: int) -> tuple[str, list]:
        """Run one tool call as its own transaction: (the result's text for the model, frames)."""
        tool = agent["tools"].get(c["name"])
        if tool is None:
            return _error(f"there is no tool {c['name']!r}"), []
        engine = self.living.engine
        try:
            args = json.loads(c["arguments"] or "{}")
            request = engine.message(tool["input"], args)
        except ValueError as e:
            return _error(f"the arguments do not fit {tool['input']}: {e}"), []
        who = asker if isinstance(asker, str) and asker else None
        committed, value, frames = self.living._transact(None, lambda: engine.transaction(
            tool["fn"], self._record(field), request, now=now, **({"who": who} if who else {})))
        if not committed:
            err = self.living.last_error
            return _error(f"the tool failed: {err.public() if isinstance(err, TransactionError) else 'error'}"), frames
        out = to_json(value, ["message", tool["output"]], self.meta)
        return json.dumps(out, separators=(",", ":"))[:MAX_CONTENT_CHARS], frames


def _error(text: str) -> str:
    return json.dumps({"error": text[:MAX_ERROR_CHARS]})


__all__ = ["AGENT_CALL", "Agents", "MAX_REQUEST_BYTES", "MAX_TOOL_CALLS", "ReplyError", "parse_reply"]
