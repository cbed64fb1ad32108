"""What an `agent` declaration becomes (spec/language.md 4.31).

`agent Helper { ... }` is one record `Helper` plus the agent's own facts
(ast.AgentDecl). The record holds one conversation, the state a
`session<Helper>` field keeps and its viewers see:

* `status` ("idle" or "processing"), `ending` (how the last ask ended:
  "finished", "max_tool_rounds", "token_budget", "failed" or "stale"),
  `error` (why it failed), `rounds` and `tokens` (of the current or last ask),
  `asker` and `started` (who asked, when), `updated` (when the loop last moved),
  `asks` (how many asks so far),
  `in_flight` (the tools the model called and the document is running);
* `history`, a table of turns (`AgentTurn`: role "user", "assistant" or
  "tool", content, the tool a result is for, the calls an assistant turn made
  as JSON text, who asked);
* the agent's `mutable` fields, each with a private copy taken when an ask
  starts (`__saved_<name>`) that a failed ask writes back;
* the tools, as methods `name(In request) -> Out`, and the methods the runtime
  calls to move the conversation on (runtime/agents.py): `ask`, `__reply`,
  `__tool_result` and `__end`.

The text below is parsed by the parser like any record (compiler/parser.py
`visit_agent_decl`), so the checker and the code generator treat the
conversation as plain document state: transactions, privacy, deltas and
snapshots need nothing new.
"""
from __future__ import annotations

from . import ast

TURN_RECORD = "AgentTurn"
# The settings an agent may give (name -> the type of its literal).
SETTINGS = {
    "instructions": "string",
    "model": "string",
    "temperature": "double",
    "max_tokens": "int",
    "max_tool_rounds": "int",
    "token_budget": "int",
    "staleness_timeout": "int",
}
DEFAULT_STALENESS_S = 60
MAX_TOOL_DESCRIPTION = 1_000  # characters of a tool's @description
ENDINGS = ("finished", "max_tool_rounds", "token_budget", "failed", "stale")

ASK_MESSAGE = "AgentAsk"
MAX_ASK_CHARS = 10_000  # of the text a client asks with (the ask channel aborts past it)

ASK_TEXT = f"""message {ASK_MESSAGE} {{
  string text;
}}"""

TURN_TEXT = f"""record {TURN_RECORD} {{
  public int id;
  public string role;
  public string content;
  public string tool;
  public string call_id;
  public string calls;
  public principal who;
}}"""


def record_text(name: str, mutables: list[str]) -> str:
    """The record of agent `name` without its mutables and tools (the parser adds
    those from the declaration); `mutables` names the fields a failed ask resets."""
    save = "".join(f"    __saved_{m} = {m};\n" for m in mutables)
    restore = "".join(f"      {m} = __saved_{m};\n" for m in mutables)
    return f"""record {name} {{
  public string status = "idle";
  public string ending;
  public string error;
  public int rounds;
  public int tokens;
  public int asks;
  public principal asker;
  public long started;
  public long updated;
  public string in_flight;
  public table<{TURN_RECORD}> history;

  method ask(principal who, string text) -> bool {{
    if (status == "processing") {{
      return false;
    }}
    history <- {{role: "user", content: text, who: who}};
{save}    status = "processing";
    ending = "";
    error = "";
    rounds = 0;
    tokens = 0;
    in_flight = "";
    asker = who;
    asks++;
    started = Time.now();
    updated = started;
    return true;
  }}

  method __reply(string content, string calls, string names, int used) {{
    history <- {{role: "assistant", content: content, calls: calls}};
    tokens += used;
    in_flight = names;
    updated = Time.now();
    if (calls != "") {{
      rounds++;
    }}
  }}

  method __tool_result(string call_id, string tool, string content, string rest) {{
    history <- {{role: "tool", content: content, tool: tool, call_id: call_id}};
    in_flight = rest;
  }}

  method __end(string how, string why) {{
    if (how == "failed" || how == "stale") {{
{restore}    }}
    status = "idle";
    ending = how;
    error = why;
    in_flight = "";
  }}
}}"""


def setting_value(e, want: str) -> bool:
    """Whether `e` is a literal of the setting's type (an int literal is also a double)."""
    if want == "string":
        return isinstance(e, ast.StringLit)
    if want == "int":
        return isinstance(e, ast.IntLit) and not e.is_long
    return isinstance(e, (ast.DoubleLit, ast.IntLit))


def agent_tool(agent, fn):
    """The tool of `agent` (an ast.AgentDecl, or None) whose method is `fn` (a FuncInfo), or None."""
    if agent is None:
        return None
    for tool in agent.tools:
        if tool.method is fn.decl:
            return tool
    return None


def settings_of(agent) -> dict:
    """The agent's settings as plain values (the checker made sure each is a literal)."""
    out = {}
    for st in agent.settings:
        if st.name in SETTINGS and hasattr(st.value, "value"):
            out[st.name] = st.value.value
    return out


def ask_channel(field: str) -> str:
    """The channel a client asks session `field` through (protocol `agent/ask`)."""
    return f"__ask_{field}"


def ask_channel_text(field: str, privacy: str, names: list[str]) -> str | None:
    """The channel of a session a client may see: public, or viewer_is<f> (its
    principal). Others (private, use_policy) take asks from document code only."""
    if privacy == "public":
        admits = ""
    elif privacy == "viewer_is" and len(names) == 1:
        admits = f"who != {names[0]} || "
    else:
        return None
    return f"""channel {ask_channel(field)}(principal who, {ASK_MESSAGE} m) {{
  if ({admits}m.text.length() > {MAX_ASK_CHARS} || !{field}.ask(who, m.text)) {{
    abort;
  }}
}}"""
