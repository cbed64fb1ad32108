"""One value-depth limit and valid text on every input path, so that whatever a
document accepts loads again (issue 10 points 3 and 7; spec/protocol.md 8.6,
spec/sessions.md 2 and 6).

The property: a value the runtime accepts and acknowledges on the durable
store comes back the same after a restart (the snapshot plus the log) and
after `advm replay`; a value it refuses leaves nothing behind.
"""
from __future__ import annotations

import json
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from advm.session import ScriptError, parse_line
from advm.durable.document import DurableDocument
from advm.durable.replay import replay
from advm.vm.values import MAX_DEPTH
from advm.views.viewers import Viewers
from durable_kit import T0, compiled, open_store

DOC = """
@static {
  create {
    return true;
  }
}

message Put {
  dynamic extra;
  string text;
}

message Node {
  int v;
  maybe<Node> next;
}

record R {
  public int n;
  public maybe<R> next;
}

message Grow {
  int n;
}

public dynamic extra;
public string text;
public int chained;
public maybe<R> chain;

@connected {
  return true;
}

channel put(Put p) {
  extra = p.extra;
  text = p.text;
}

channel node(Node n) {
  chained = n.v;
}

channel grow(Grow g) {
  for (int i = 0; i < g.n; i++) {
    R r;
    r.n = i;
    r.next = chain;
    chain = @maybe(r);
  }
}
"""

LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-10, 10), st.sampled_from(
    ["", "text", "é", "\U0001F600", "x\udc80", "\ud800"]))


@st.composite
def nested_values(draw):
    """A JSON value whose depth is spread around the limit, with a string
    that may hold a lone surrogate at its bottom."""
    value = draw(LEAVES)
    for _ in range(draw(st.integers(0, MAX_DEPTH + 6))):
        if draw(st.booleans()):
            value = [value]
        else:
            value = {draw(st.sampled_from(["k", "é", "\udc80"])): value}
    return value


def _depth(value) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(x) for x in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(x) for x in value.values()), default=0)
    return 0


def _valid_text(value) -> bool:
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _reopened_field(store, name: str):
    doc = DurableDocument.open(store, "d", viewers=Viewers)
    try:
        return doc.living.engine.field(name)
    finally:
        doc.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=nested_values())
def test_whatever_is_acknowledged_reads_back_after_a_restart_and_a_replay(value):
    module = compiled(DOC)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(tmp)
        try:
            doc, _ = DurableDocument.create(store, "d", module, "alice@", None, T0, viewers=Viewers)
            frames = doc.submit({"op": "send", "as": "alice@", "channel": "put",
                                 "message": {"extra": value, "text": "set"}}, T0 + 1).result(30)
            errors = [f["error"] for f in frames if "error" in f]
            # The message object is the first level: `extra` may hold MAX_DEPTH - 1.
            fits = _depth(value) <= MAX_DEPTH - 1 and _valid_text(value)
            assert (not errors) == fits, (errors, _depth(value))
            if errors:
                assert errors[0]["code"] == "input" and ".extra" in errors[0]["message"]
            # a crash: no close, no final snapshot; the store alone has it
            assert _reopened_field(store, "extra") == (value if fits else None)
            assert _reopened_field(store, "text") == ("set" if fits else "")
            result = replay(store, "d")
            assert result.ok and result.living.engine.field("extra") == (value if fits else None)
        finally:
            store.close()


def test_recursive_message_types_nest_no_deeper_than_the_limit():
    module = compiled(DOC)

    def chain(levels: int) -> dict:
        node = {"v": levels}
        for i in range(levels - 1):
            node = {"v": i, "next": node}
        return node

    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(tmp)
        try:
            doc, _ = DurableDocument.create(store, "d", module, "alice@", None, T0, viewers=Viewers)
            assert doc.submit({"op": "send", "as": "alice@", "channel": "node",
                               "message": chain(MAX_DEPTH)}, T0 + 1).result(30) == []
            refused = doc.submit({"op": "send", "as": "alice@", "channel": "node",
                                  "message": chain(MAX_DEPTH + 1)}, T0 + 2).result(30)
            assert [f["error"]["code"] for f in refused] == ["input"]
            assert "nests deeper than 64" in refused[0]["error"]["message"]
            doc.close()
            assert _reopened_field(store, "chained") == MAX_DEPTH - 2  # the outermost node's v
        finally:
            store.close()


def test_structures_code_builds_deep_read_back_too():
    # Code can nest records without a message: a chain 800 deep (Python's own
    # recursion stops code near 1,000) is kept by the snapshot codec, which
    # does not use cbor2's nesting, so a restart and a replay read it back.
    module = compiled(DOC)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(tmp)
        try:
            doc, _ = DurableDocument.create(store, "d", module, "alice@", None, T0, viewers=Viewers)
            doc.every = 1  # a snapshot after every input
            assert doc.submit({"op": "send", "as": "alice@", "channel": "grow",
                               "message": {"n": 800}}, T0 + 1).result(30) == []
            doc.close()
            reopened = DurableDocument.open(store, "d", viewers=Viewers)
            document = reopened.living.engine
            slot = {f["name"]: f["slot"] for f in document.meta["records"]["R"]["fields"]}["next"]
            depth, node = 0, document.value("chain")  # machine values: JSON would recurse
            while node is not None:
                depth, node = depth + 1, node.f[slot]
            assert depth == 800
            reopened.close()
            assert replay(store, "d").ok
        finally:
            store.close()


@pytest.mark.parametrize("line, code", [
    ('{"op": "send", "as": "a", "channel": "put", "message": {"extra": ' + "[" * 64 + "]" * 64 + "}}",
     "too_deep"),
    ('{"op": "send", "as": "a", "channel": "put", "message": ' + "[" * 5000 + "]" * 5000 + "}",
     "too_deep"),
    ('{"op": "send", "as": "a", "channel": "put", "message": {"text": "\\udc80"}}', "bad_field"),
    ('{"op": "create", "as": "a", "arg": {"\\udc80": 1}}', "bad_field"),
    ('{"op": "send", "as": "a\\ud800", "channel": "put", "message": {}}', "bad_field"),
    ('{"op": "send", "as": "a", "channel": "p\\ud800", "message": {}}', "bad_field"),
])
def test_script_lines_are_refused_before_the_document_sees_them(line, code):
    with pytest.raises(ScriptError) as e:
        parse_line(line)
    assert e.value.code == code


def test_a_script_line_at_the_limit_is_taken():
    extra = []
    for _ in range(MAX_DEPTH - 2):  # with the message object and the innermost []: 64 levels
        extra = [extra]
    line = json.dumps({"op": "send", "as": "a", "channel": "put", "message": {"extra": extra}})
    assert parse_line(line)["message"] == {"extra": extra}


START = """
@static {
  create {
    return true;
  }
}

message Start {
  dynamic x;
}

public dynamic x;

@construct (Start s) {
  x = s.x;
}
"""


@pytest.mark.parametrize("levels, code, says", [
    (MAX_DEPTH - 1, 0, None),
    (MAX_DEPTH, 1, "message.x: nests deeper than 64 levels"),
    (5000, 2, "--arg nests too deep"),
])
def test_once_arg_has_the_same_limit(cli, tmp_path, levels, code, says):
    src = tmp_path / "start.adb"
    src.write_text(START)
    arg = '{"x": ' + "[" * levels + "]" * levels + "}"  # the object is the first level
    r = cli("run", src, "--once", "--arg", arg, "--json" if code == 0 else "--as=a")
    assert r.code == code, r.err
    if says is not None:
        assert says in r.err
    else:
        x = json.loads(r.out)["fields"]["x"]
        for _ in range(levels - 1):
            x = x[0]
        assert x == []


CHARS = """
@static {
  create {
    return true;
  }
}

message Go {
  int c;
}

public string s;

channel go(Go g) {
  s = String.charOf(g.c);
}
"""


@pytest.mark.parametrize("code, text", [(0x2603, "\u2603"), (0x1F600, "\U0001F600"), (0xDC80, ""),
                                        (0xD800, ""), (0x110000, "")])
def test_code_cannot_make_text_the_store_cannot_hold(code, text):
    # String.charOf of half a surrogate pair was a lone surrogate: acknowledged,
    # then every snapshot of the document failed to encode.
    module = compiled(CHARS)
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(tmp)
        try:
            doc, _ = DurableDocument.create(store, "d", module, "alice@", None, T0, viewers=Viewers)
            doc.every = 1  # a snapshot with every input
            assert doc.submit({"op": "send", "as": "alice@", "channel": "go",
                               "message": {"c": code}}, T0 + 1).result(30) == []
            doc.close()
            assert _reopened_field(store, "s") == text
        finally:
            store.close()
