"""vm/schemas.py: a message type's JSON Schema describes what the decoder
takes, so a value valid under the schema decodes (spec/protocol.md 8.16).

Checked on every example document's messages and on one that holds every
kind of field: values drawn from the schema (a small strategy below that
reads the schema) are valid under `jsonschema` and decode; values drawn near
the schema (wrong types, unknown fields) decode whenever `jsonschema` says
they are valid."""
from __future__ import annotations

from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advm.compiler.build import build_source
from advm.runtime.engine import Engine, TransactionError
from advm.vm.schemas import message_schema, type_schema
from schema_kit import from_schema

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.adb"))

EVERY_KIND = """
enum Suit { Hearts, Spades }
message Inner { int n; maybe<Inner> next; }
message Every {
  int i; long l; bool b; double d; string s; principal who; date day; time at; datetime when;
  Suit suit; maybe<int> mi; list<string> ls; map<int, string> mis; map<string, Inner> msi;
  Inner inner; list<Inner> inners; dynamic any; timespan span;
}
message Self { int depth; list<Self> children; }
@connected { return true; }
channel every(Every e) { }
channel many(Every[] es) { }
channel itself(Self s) { }
"""


def _decodes(doc, channel, value) -> bool:
    """Whether the document takes `value` as a message on `channel` (the
    decoder a send goes through, @parsed blocks included)."""
    try:
        doc.channel_value(channel, value)
        return True
    except TransactionError:
        return False


def _documents():
    docs = [("every-kind", build_source(EVERY_KIND, "every.adb"))]
    for path in EXAMPLES:
        docs.append((path.name, build_source(path.read_text(), path.name)))
    return [(name, Engine(module, key="k")) for name, module in docs]


DOCS = _documents()
CASES = [(name, doc, ch, info) for name, doc in DOCS for ch, info in doc.meta["channels"].items()
         if info["message"] is not None]


def test_the_cases_cover_every_example_and_the_kinds():
    assert {c[0] for c in CASES} >= {"every-kind", "tictactoe.adb", "chat.adb"}
    assert len(CASES) >= 20


def _schema(doc, info):
    return message_schema(doc.meta, info["message"], array=bool(info["array"]))


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}:{c[2]}" for c in CASES])
def test_the_schema_is_a_valid_schema_of_an_object(case):
    _, doc, _, info = case
    schema = _schema(doc, info)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object" and schema["additionalProperties"] is False


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_values_drawn_from_the_schema_validate_and_decode(data):
    _, doc, channel, info = data.draw(st.sampled_from(CASES))
    schema = _schema(doc, info)
    value = data.draw(from_schema(schema, schema))
    jsonschema.validate(value, schema, cls=jsonschema.Draft202012Validator)
    assert _decodes(doc, channel, value["messages"] if info["array"] else value), value


NEAR = st.recursive(
    st.none() | st.booleans() | st.integers(-2**64, 2**64) | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["", "x", "2026-01-01", "09:30", "2026-01-01T09:30:00Z", "Hearts", "a@b", "13:99", "1"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["i", "n", "s", "next", "inner", "1", "x", "agent", "messages", "depth", "children"]),
        inner, max_size=4), max_leaves=8)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_whatever_the_schema_accepts_decodes(data):
    _, doc, channel, info = data.draw(st.sampled_from(CASES))
    schema = _schema(doc, info)
    fields = [f["name"] for f in doc.meta["messages"][info["message"]]["fields"]]
    value = data.draw(st.dictionaries(st.sampled_from(fields or ["x"]), NEAR, max_size=4) | NEAR)
    if info["array"]:
        value = {"messages": value} if data.draw(st.booleans()) else value
    if jsonschema.Draft202012Validator(schema).is_valid(value):
        assert _decodes(doc, channel, value["messages"] if info["array"] else value), value


def test_a_message_inside_itself_refers_to_the_root_and_others_to_defs():
    meta = DOCS[0][1].meta
    own = message_schema(meta, "Self")
    assert own["properties"]["children"] == {"type": "array", "items": {"$ref": "#"}}
    every = message_schema(meta, "Every")
    assert every["properties"]["inner"] == {"$ref": "#/$defs/Inner"}
    assert every["$defs"]["Inner"]["properties"]["next"]["anyOf"][0] == {"$ref": "#/$defs/Inner"}
    assert every["properties"]["suit"]["enum"] == ["Hearts", "Spades"]
    assert type_schema(meta, ["list", "int"])["items"]["maximum"] == 2**31 - 1
