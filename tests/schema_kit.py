"""A hypothesis strategy drawing JSON values valid under the schemas that
vm/schemas.py writes (the subset of JSON Schema it uses): tests/vm/
test_schemas.py checks it against `jsonschema`, the MCP tests draw tool
arguments and constructor messages with it."""
from __future__ import annotations

import re

from hypothesis import strategies as st


def from_schema(schema: dict, root: dict, depth: int = 0):
    if "$ref" in schema:
        ref = schema["$ref"]
        target = root if ref == "#" else root["$defs"][ref.split("/")[-1]]
        if depth > 3:  # cut recursion: every message field is optional
            return st.just({})
        return from_schema(target, root, depth + 1)
    if "anyOf" in schema:
        return st.one_of([from_schema(s, root, depth) for s in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "integer":
        return st.integers(schema["minimum"], schema["maximum"])
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "string":
        if "pattern" in schema:
            if schema.get("format") == "date":
                return st.dates().map(lambda d: d.isoformat())
            if schema.get("format") == "date-time":
                return st.datetimes(timezones=st.just(None)).map(lambda d: d.isoformat(timespec="milliseconds") + "Z")
            return st.from_regex(re.compile(schema["pattern"], re.ASCII), fullmatch=True)
        return st.text(st.characters(exclude_categories=("Cs",)), max_size=8)
    if kind == "array":
        return st.lists(from_schema(schema["items"], root, depth + 1), max_size=3)
    if kind == "object":
        if "properties" in schema:
            props = {k: from_schema(v, root, depth + 1) for k, v in schema["properties"].items()}
            required = schema.get("required", [])
            return st.fixed_dictionaries({k: props[k] for k in required},
                                         optional={k: v for k, v in props.items() if k not in required})
        keys = st.text(max_size=4)
        if "propertyNames" in schema:
            names = schema["propertyNames"]
            keys = st.sampled_from(names["enum"]) if "enum" in names else st.integers(-99, 99).map(str)
        return st.dictionaries(keys, from_schema(schema["additionalProperties"], root, depth + 1), max_size=3)
    assert schema == {}, schema  # dynamic: any JSON
    return st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=4),
                        lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner,
                                                                                      max_size=2), max_leaves=4)


__all__ = ["from_schema"]
