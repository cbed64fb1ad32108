"""`advm types DOC --lang ts|py`: a document's client-facing types as
TypeScript declarations or a typed Python module (spec/protocol.md 8.19), so a
client written against one version of a document fails to type-check against
an incompatible one.

From a module's meta (the compiler's reflection, as `space/reflect` reads it):

- what may be sent: each channel with a handler and its message (an array for
  `channel<M[]>`), each channel the document asks on (what an answer carries),
  and the constructor's message. These come from the JSON Schemas of
  vm/schemas.py (what the decoder takes), so a value the types accept is one
  the document decodes; every message field is optional, as a missing field
  takes its default;
- what a viewer sees: the document's fields and formulas a viewer may be shown,
  bubbles, and the records, messages and enums inside them, as the plain view
  holds them (spec/protocol.md 9.2: a long is a string, a principal an object,
  null is absence). A member is required only when it is `public`, never null
  (not a maybe, not a double, which is absent when NaN) and not computed (a
  formula that fails is absent); the rest are optional.

Both outputs are deterministic and stand alone (no import but typing for
Python). Types are in name order (a module file keeps its tables sorted, so an
`.advc` gives what its `.adb` gives); view members in view order.
"""
from __future__ import annotations

import json
import keyword
import re

from ..vm.schemas import message_schema

PRIMITIVE_VIEW_TS = {"int": "number", "long": "string", "double": "number", "timespan": "number", "bool": "boolean",
                     "string": "string", "date": "string", "datetime": "string", "time": "string", "label": "string",
                     "principal": "Principal", "dynamic": "Json"}
PRIMITIVE_VIEW_PY = {"int": "int", "long": "str", "double": "float", "timespan": "float", "bool": "bool",
                     "string": "str", "date": "str", "datetime": "str", "time": "str", "label": "str",
                     "principal": "Principal", "dynamic": "Any"}
NULLABLE = ("double", "timespan")  # NaN and the infinities are absent from a view


def type_prefix(stem: str) -> str:
    """`board_game` -> `BoardGame`: the prefix of a document's View, Channels, Asks, Connection."""
    parts = [p for p in re.split(r"[^0-9A-Za-z]+", stem) if p]
    name = "".join(p[:1].upper() + p[1:] for p in parts) or "Document"
    return name if name[0].isalpha() else "D" + name


class _Reflection:
    """What the two renderers share: the messages a client sends, in order, and
    the records, messages and enums the view shows."""

    def __init__(self, meta: dict):
        self.meta = meta
        channels = dict(sorted(meta.get("channels", {}).items()))
        self.channels = {n: c for n, c in channels.items() if c["complete"]}
        self.asks = {n: c for n, c in channels.items() if not c["complete"]}
        self.constructor = (meta.get("handlers", {}).get("construct") or {}).get("message")
        self.sent: dict[str, dict] = {}  # message name -> its schema (vm/schemas.py)
        for c in channels.values():
            self.send_schema(c["message"])
        if self.constructor is not None:
            self.send_schema(self.constructor)
        self.sent = dict(sorted(self.sent.items()))
        self.view_structs: dict[tuple[str, str], None] = {}  # ("record"|"message", name)
        self.view_enums: dict[str, None] = {}
        for m in self.view_members():
            self.walk(m["type"])
        self.view_structs = dict.fromkeys(sorted(self.view_structs))
        self.view_enums = dict.fromkeys(sorted(self.view_enums))

    def send_schema(self, name: str) -> None:
        if name in self.sent:
            return
        schema = message_schema(self.meta, name)
        self.sent[name] = schema
        for sub in schema.get("$defs", {}):
            if sub not in self.sent:
                self.send_schema(sub)

    def view_members(self) -> list[dict]:
        """The document's members a viewer may be shown, in view order (protocol.md 9.1)."""
        out = []
        for f in self.meta["document"]["fields"]:
            if f["privacy"] != "private":
                out.append({"name": f["name"], "type": f["type"], "privacy": f["privacy"], "computed": False})
        formulas = self.meta.get("formulas", {})
        order = [n for n in self.meta.get("formula_order", formulas) if n in formulas]
        for bubbles in (False, True):
            for n in order:
                fo = formulas[n]
                if bool(fo.get("bubble")) == bubbles and (bubbles or fo["privacy"] != "private"):
                    out.append({"name": n, "type": fo["type"], "privacy": fo["privacy"], "computed": True})
        return out

    def struct_fields(self, kind: str, name: str) -> list[dict]:
        info = self.meta["records" if kind == "record" else "messages"][name]
        fields = []
        for f in info["fields"]:
            if kind == "record" and f["privacy"] == "private" and f["name"] != "id":
                continue
            fields.append({"name": f["name"], "type": f["type"], "computed": False,
                           "privacy": "public" if kind == "message" or f["name"] == "id" else f["privacy"]})
        if kind == "record":  # a record's formulas and bubbles show as its members
            for n, fo in sorted((self.meta["records"][name].get("formulas") or {}).items()):
                if fo.get("bubble") or fo.get("privacy") != "private":
                    fields.append({"name": n, "type": fo["type"], "privacy": fo.get("privacy", "public"),
                                   "computed": True})
        return fields

    def walk(self, desc) -> None:
        if isinstance(desc, str):
            return
        head = desc[0]
        if head == "enum":
            self.view_enums.setdefault(desc[1])
        elif head in ("record", "message", "table"):
            kind = "message" if head == "message" else "record"
            if (kind, desc[1]) not in self.view_structs:
                self.view_structs[(kind, desc[1])] = None
                for f in self.struct_fields(kind, desc[1]):
                    self.walk(f["type"])
        elif head in ("maybe", "list", "future", "result"):
            self.walk(desc[1])
        elif head == "map":
            self.walk(desc[1])
            self.walk(desc[2])
        elif head == "anon":
            for _, inner in desc[1]:
                self.walk(inner)

    @staticmethod
    def required(member: dict) -> bool:
        t = member["type"]
        nullable = t in NULLABLE or (isinstance(t, list) and t[0] in ("maybe", "record"))
        return member["privacy"] == "public" and not member["computed"] and not nullable

    def view_name(self, kind: str, name: str) -> str:
        # a message both sent and shown is one type on the sending side and one in the view
        return f"{name}View" if kind == "message" and name in self.sent else name


def _ts_string(s: str) -> str:
    return json.dumps(s)


def _ts_key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z_$][\w$]*", name) else _ts_string(name)


class _TypeScript:
    def __init__(self, r: _Reflection, prefix: str):
        self.r, self.prefix = r, prefix

    # ---- the sending side, from the schemas
    def schema(self, s: dict, root: str) -> str:
        if "$ref" in s:
            ref = s["$ref"]
            return root if ref == "#" else ref.rsplit("/", 1)[1]
        if "enum" in s:
            return " | ".join(json.dumps(v) for v in s["enum"]) or "never"
        if "anyOf" in s:
            return " | ".join(self.schema(x, root) for x in s["anyOf"])
        if "not" in s:
            return "never"
        t = s.get("type")
        if t == "integer":
            return "number | bigint" if s.get("maximum", 0) > 2 ** 53 else "number"
        if t == "number":
            return "number"
        if t == "boolean":
            return "boolean"
        if t == "string":
            return "string"
        if t == "null":
            return "null"
        if t == "array":
            return f"Array<{self.schema(s['items'], root)}>"
        if t == "object":
            if "properties" in s:
                inner = "; ".join(f"{_ts_key(k)}?: {self.schema(v, root)}" for k, v in s["properties"].items())
                return "{ " + inner + (" }" if inner else "}")
            return f"{{ [key: string]: {self.schema(s.get('additionalProperties', {}), root)} }}"
        return "Json"

    # ---- the view side, from the descriptors
    def view(self, desc) -> str:
        if isinstance(desc, str):
            return PRIMITIVE_VIEW_TS.get(desc, "Json")
        head = desc[0]
        if head == "enum":
            return desc[1]
        if head in ("record", "message"):
            return self.r.view_name(head, desc[1])
        if head == "table":
            return f"Array<{desc[1]}>"
        if head == "maybe":
            return self.view(desc[1])
        if head == "list":
            return f"Array<{self.view(desc[1])}>"
        if head == "map":
            return f"{{ [key: string]: {self.view(desc[2])} }}"
        if head == "anon":
            return "{ " + "; ".join(f"{_ts_key(n)}: {self.view(t)}" for n, t in desc[1]) + " }"
        return "Json"

    def members(self, members: list[dict]) -> list[str]:
        return [f"  {_ts_key(m['name'])}{'' if self.r.required(m) else '?'}: {self.view(m['type'])};"
                for m in members]

    def render(self, source: str) -> str:
        r, p = self.r, self.prefix
        out = [f"// Generated by `advm types {source} --lang ts` from the document's reflection; do not edit.",
               "// Use: client.open<View, Channels, Asks>(key) of @advm/client (spec/protocol.md 8.19).",
               "",
               "export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };",
               "export interface Principal { agent: string; authority: string; }",
               ""]
        out.append("// ---- what a client sends: messages (every field optional: a missing one takes its default)")
        for name, schema in r.sent.items():
            out.append(f"export interface {name} {{")
            for k, v in schema.get("properties", {}).items():
                out.append(f"  {_ts_key(k)}?: {self.schema(v, name)};")
            out.append("}")
        out.append("")
        out.append(f"/** channel -> the message it takes */\nexport interface {p}Channels {{")
        for n, c in r.channels.items():
            out.append(f"  {_ts_key(n)}: {c['message']}{'[]' if c['array'] else ''};")
        out.append("}")
        out.append(f"/** channel the document asks on -> what an answer carries */\nexport interface {p}Asks {{")
        for n, c in r.asks.items():
            out.append(f"  {_ts_key(n)}: {c['message']}{'[]' if c['array'] else ''};")
        out.append("}")
        out.append(f"/** the constructor's message (`create`'s argument) */\nexport type {p}Constructor = "
                   f"{r.constructor or 'null'};")
        out.append("")
        out.append("// ---- what a viewer sees")
        for name in r.view_enums:
            values = list(r.meta["enums"][name]["values"])
            out.append(f"export type {name} = {' | '.join(json.dumps(v) for v in values) or 'never'};")
        for kind, name in r.view_structs:
            out.append(f"export interface {r.view_name(kind, name)} {{")
            out += self.members(r.struct_fields(kind, name))
            out.append("}")
        out.append(f"export interface {p}View {{")
        out += self.members(r.view_members())
        out.append("}")
        return "\n".join(out) + "\n"


def _py_name(name: str) -> str:
    return name + "_" if keyword.iskeyword(name) else name


class _Python:
    def __init__(self, r: _Reflection, prefix: str):
        self.r, self.prefix = r, prefix

    def schema(self, s: dict, root: str) -> str:
        if "$ref" in s:
            ref = s["$ref"]
            return f'"{root if ref == "#" else ref.rsplit("/", 1)[1]}"'
        if "enum" in s:
            return f"Literal[{', '.join(json.dumps(v) for v in s['enum'])}]" if s["enum"] else "NoReturn"
        if "anyOf" in s:
            return " | ".join(self.schema(x, root) for x in s["anyOf"])
        if "not" in s:
            return "NoReturn"
        t = s.get("type")
        simple = {"integer": "int", "number": "float", "boolean": "bool", "string": "str", "null": "None"}
        if t in simple:
            return simple[t]
        if t == "array":
            return f"list[{self.schema(s['items'], root)}]"
        if t == "object":
            if "properties" in s:
                return "dict[str, Any]"
            return f"dict[str, {self.schema(s.get('additionalProperties', {}), root)}]"
        return "Any"

    def view(self, desc) -> str:
        if isinstance(desc, str):
            return PRIMITIVE_VIEW_PY.get(desc, "Any")
        head = desc[0]
        if head == "enum":
            return f'"{desc[1]}"'
        if head in ("record", "message"):
            return f'"{self.r.view_name(head, desc[1])}"'
        if head == "table":
            return f'list["{desc[1]}"]'
        if head == "maybe":
            return self.view(desc[1])
        if head == "list":
            return f"list[{self.view(desc[1])}]"
        if head == "map":
            return f"dict[str, {self.view(desc[2])}]"
        return "Any"

    def typed_dict(self, name: str, members: list[dict]) -> list[str]:
        if not members or any(not m["name"].isidentifier() or keyword.iskeyword(m["name"]) for m in members):
            fields = ", ".join(f"{json.dumps(m['name'])}: {self.member(m)}" for m in members)
            return [f"{name} = TypedDict({json.dumps(name)}, {{{fields}}})"]
        return [f"class {name}(TypedDict):"] + [f"    {m['name']}: {self.member(m)}" for m in members]

    def member(self, m: dict) -> str:
        t = self.view(m["type"])
        return t if self.r.required(m) else f"NotRequired[{t}]"

    def render(self, source: str) -> str:
        r, p = self.r, self.prefix
        out = [f"# Generated by `advm types {source} --lang py` from the document's reflection; do not edit.",
               f"# Use: connection = typed(await client.open(key)); mypy then checks sends, answers and",
               "# view reads against this version of the document (spec/protocol.md 8.19).",
               "from __future__ import annotations",
               "",
               "from typing import Any, Literal, NoReturn, NotRequired, Protocol, TypedDict, cast, overload",
               "",
               "",
               "class Principal(TypedDict):",
               "    agent: str",
               "    authority: str",
               "",
               "",
               "# ---- what a client sends: messages (every field optional: a missing one takes its default)"]
        for name, schema in r.sent.items():
            members = [{"name": k, "schema": v} for k, v in schema.get("properties", {}).items()]
            if members and all(m["name"].isidentifier() and not keyword.iskeyword(m["name"]) for m in members):
                out.append(f"class {name}(TypedDict, total=False):")
                out += [f"    {m['name']}: {self.schema(m['schema'], name)}" for m in members]
            else:
                fields = ", ".join(f"{json.dumps(m['name'])}: {self.schema(m['schema'], name)}" for m in members)
                out.append(f"{name} = TypedDict({json.dumps(name)}, {{{fields}}}, total=False)")
            out += ["", ""]
        out.append("# ---- what a viewer sees")
        for name in r.view_enums:
            values = list(r.meta["enums"][name]["values"])
            out += [f"{name} = Literal[{', '.join(json.dumps(v) for v in values)}]" if values else f"{name} = NoReturn",
                    "", ""]
        for kind, name in r.view_structs:
            out += self.typed_dict(r.view_name(kind, name), r.struct_fields(kind, name)) + ["", ""]
        out += self.typed_dict(f"{p}View", r.view_members()) + ["", ""]
        channels = [(n, f"list[{c['message']}]" if c["array"] else c["message"]) for n, c in r.channels.items()]
        answers = sorted({f"list[{c['message']}]" if c["array"] else c["message"] for c in r.asks.values()})
        out.append(f"class {p}Connection(Protocol):")
        out.append(f'    """A connection to this document (advm.net.client.Connection), typed."""')
        out += ["", "    @property", f"    def view(self) -> {p}View: ...", ""]
        over = len(channels) > 1
        for n, m in channels:
            if over:
                out.append("    @overload")
            out.append(f"    async def send(self, channel: Literal[{json.dumps(n)}], message: {m}) -> dict[str, Any]: ...")
            out.append("")
        if not channels:
            out += ["    async def send(self, channel: NoReturn, message: NoReturn) -> dict[str, Any]: ...", ""]
        answer = " | ".join(answers) if answers else "NoReturn"
        out += [f"    async def answer(self, ask: dict[str, Any] | int, message: {answer}) -> dict[str, Any]: ...",
                "", ""]
        out += [f"def typed(connection: object) -> {p}Connection:",
                f'    """`connection` (what Client.open gives) as a {p}Connection."""',
                f"    return cast({p}Connection, connection)", ""]
        return "\n".join(out)


def typescript(meta: dict, prefix: str, source: str = "DOC") -> str:
    return _TypeScript(_Reflection(meta), prefix).render(source)


def python(meta: dict, prefix: str, source: str = "DOC") -> str:
    return _Python(_Reflection(meta), prefix).render(source)


__all__ = ["python", "type_prefix", "typescript"]
