"""JSON Schemas (draft 2020-12) of the values a document takes from JSON,
from the type descriptors in a module's meta (vm/values.py lists them).

A schema describes what `values.decoder` accepts for the type, so a value
valid under it decodes (spec/protocol.md 8.16): an MCP client reads a
channel's message type as a tool's `inputSchema` (net/mcp.py), and a model
reads an agent tool's input the same way. The schema is a little narrower
than the decoder where the decoder is lenient: enums are given by name (the
decoder also takes their numbers), and what it cannot say is left to the
decoder: no value nests deeper than values.MAX_DEPTH, and a message's
`@parsed` blocks may still refuse one.

Missing message fields take their defaults, so no field is `required`; a
field the message does not have is refused (`additionalProperties: false`).
A message used inside another is a `$ref` into `$defs` (a message inside
itself is how a typed value nests).
"""
from __future__ import annotations

from .values import INT_RANGE, LONG_RANGE

DIALECT = "https://json-schema.org/draft/2020-12/schema"

_PRIMITIVES = {
    "int": {"type": "integer", "minimum": INT_RANGE[0], "maximum": INT_RANGE[1]},
    "long": {"type": "integer", "minimum": LONG_RANGE[0], "maximum": LONG_RANGE[1]},
    "bool": {"type": "boolean"},
    "double": {"type": "number"},
    "timespan": {"type": "number", "description": "seconds"},
    "string": {"type": "string"},
    "dynamic": {},
    "date": {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$", "format": "date"},
    "time": {"type": "string", "pattern": r"^([01]\d|2[0-3]):[0-5]\d$", "description": "HH:MM"},
    "datetime": {"type": "string", "format": "date-time",
                 "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})?$"},
    "principal": {"anyOf": [
        {"type": "string", "description": "agent@authority"},
        {"type": "object", "properties": {"agent": {"type": "string"}, "authority": {"type": "string"}},
         "required": ["agent"], "additionalProperties": True},
    ]},
}


class _Builder:
    """One schema's `$defs`, filled as messages and records are met."""

    def __init__(self, meta: dict, root: tuple[str, str] | None = None):
        self.meta = meta
        self.root = root
        self.defs: dict[str, dict] = {}

    def ref(self, kind: str, name: str) -> dict:
        if (kind, name) == self.root:
            return {"$ref": "#"}
        key = name if kind == "message" else f"record.{name}"
        if key not in self.defs:
            self.defs[key] = {}  # reserved first: a type inside itself ends here
            self.defs[key] = self.struct(kind, name)
        return {"$ref": f"#/$defs/{key}"}

    def struct(self, kind: str, name: str) -> dict:
        info = self.meta["records" if kind == "record" else "messages"][name]
        return {"type": "object", "title": name,
                "properties": {f["name"]: self.of(f["type"]) for f in info["fields"]},
                "additionalProperties": False}

    def of(self, desc) -> dict:
        if isinstance(desc, str):
            if desc == "label":
                return {"enum": ["", *self.meta.get("states", {})]}
            return dict(_PRIMITIVES.get(desc, {"type": "string"}))
        head = desc[0]
        if head == "enum":
            return {"enum": list(self.meta["enums"][desc[1]]["values"]), "title": desc[1]}
        if head in ("record", "message"):
            return self.ref(head, desc[1])
        if head == "maybe":
            return {"anyOf": [self.of(desc[1]), {"type": "null"}]}
        if head == "list":
            return {"type": "array", "items": self.of(desc[1])}
        if head == "map":
            out = {"type": "object", "additionalProperties": self.of(desc[2])}
            key = desc[1]
            if key in ("int", "long"):
                out["propertyNames"] = {"pattern": r"^-?\d+$"}
            elif isinstance(key, list) and key[0] == "enum":
                out["propertyNames"] = {"enum": list(self.meta["enums"][key[1]]["values"])}
            return out
        return {"not": {}, "description": f"values of type {desc} cannot come from JSON"}


def type_schema(meta: dict, desc) -> dict:
    """The JSON Schema of type descriptor `desc` of module `meta`, standing alone."""
    b = _Builder(meta)
    out = {"$schema": DIALECT, **b.of(desc)}
    if b.defs:
        out["$defs"] = b.defs
    return out


def message_schema(meta: dict, name: str, array: bool = False) -> dict:
    """The JSON Schema of message `name` of module `meta`, standing alone: an
    object (the message itself at the root, the messages it holds under
    `$defs`). `array`: the input of a `channel<M[]>`, an object whose
    `messages` field holds the array (a tool's input must be an object)."""
    if array:
        b = _Builder(meta)
        out = {"$schema": DIALECT, "type": "object",
               "properties": {"messages": {"type": "array", "items": b.ref("message", name)}},
               "required": ["messages"], "additionalProperties": False}
    else:
        b = _Builder(meta, ("message", name))
        out = {"$schema": DIALECT, **b.struct("message", name)}
    if b.defs:
        out["$defs"] = b.defs
    return out


__all__ = ["DIALECT", "message_schema", "type_schema"]
