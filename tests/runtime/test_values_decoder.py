"""vm/values.decoder (a message type walked once, then only checked and built).
from_json is the same decoder made for one value, through the document's
other struct maker (`_new_struct`); both must give the same values and the
same error text: the runtime decodes every message with it, and replays
compare frames (error messages included) byte for byte."""
from __future__ import annotations

import random

import pytest

from advm.compiler.build import build_source
from advm.runtime.engine import Engine
from advm.views.viewers import Viewers
from advm.vm.values import BadValue, decoder, from_json, to_json

SOURCE = """
enum Suit { Hearts, Spades, Clubs:7, Diamonds }
message Point { int x; int y = 3; }
message Late { int n = 2 + 3; string tag = "t"; }
message Rich {
  int i;
  long l;
  bool b;
  double d;
  string s;
  principal p;
  Suit suit;
  maybe<int> mi;
  maybe<Point> mp;
  int[] xs;
  Point[] pts;
  Point at;
  Late late;
  datetime when;
  timespan span;
}
public int got;
channel rich(principal who, Rich r) { got++; }
channel points(principal who, Point[] ps) { got++; }
channel late(principal who, Late m) { got++; }
"""

# Messages cannot hold maps, but decoder() takes any descriptor from_json does.
DESCS = [["message", "Rich"], ["list", ["message", "Point"]], ["message", "Late"], ["message", "Point"],
         ["maybe", ["message", "Point"]], ["map", "long", "double"], "dynamic", ["table", "Point"],
         ["map", "int", "string"], ["map", "string", ["message", "Point"]], ["map", ["enum", "Suit"], "int"]]
MAPS = [(["map", "int", "string"], {"1": "a", "-2": "b"}),
        (["map", "string", ["message", "Point"]], {"k": {"x": 1}}),
        (["map", ["enum", "Suit"], "int"], {"Spades": 1, "7": 2})]


@pytest.fixture(scope="module")
def doc():
    d = Engine(build_source(SOURCE, "rich.adb"))
    d.create("ann@", None, now=1)
    return d


SCALARS = [0, 1, -1, 7, 2 ** 31 - 1, 2 ** 31, -2 ** 31, -2 ** 31 - 1, 2 ** 63, 1.5, float("nan"), True, False,
           None, "", "x", "Clubs", "Nope", "7", " 3", "ann@", {"agent": "bo", "authority": "a"}, {"agent": 3},
           [], [1, "2"], {}, {"x": 1}, {"zz": 1}]


def random_json(rng: random.Random, depth: int = 0):
    if depth > 2 or rng.random() < 0.5:
        return rng.choice(SCALARS)
    if rng.random() < 0.5:
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(3))]
    keys = ["i", "l", "b", "d", "s", "p", "suit", "mi", "mp", "xs", "pts", "at", "late", "Spades", "-2",
            "k",
            "when", "span", "x", "y", "n", "tag", "1", "Clubs", "bogus"]
    return {rng.choice(keys): random_json(rng, depth + 1) for _ in range(rng.randrange(4))}


def valid_rich(rng: random.Random) -> dict:
    point = lambda: {"x": rng.randrange(-5, 5), "y": rng.randrange(100)}  # noqa: E731
    out = {"i": rng.randrange(-2 ** 31, 2 ** 31), "l": rng.randrange(-2 ** 63, 2 ** 63),
           "b": rng.random() < .5,
           "d": rng.choice([1, 2.5, -0.0]), "s": "hi", "p": rng.choice(["ann@", "bob", {"agent": "c"}]),
           "suit": rng.choice(["Hearts", "Clubs", 7, 1]), "mi": rng.choice([None, 4]),
           "mp": rng.choice([None, point()]), "xs": [rng.randrange(9) for _ in range(rng.randrange(4))],
           "pts": [point() for _ in range(rng.randrange(3))], "at": point(), "late": {"tag": "u"},
           "when": "2026-01-01T00:00:00.000+00:00", "span": 1.25}
    return {k: v for k, v in out.items() if rng.random() < 0.8}


def outcome(fn, data, desc, meta):
    try:
        value = fn(data)
    except BadValue as e:
        return "refused", str(e)
    except Exception as e:  # the same failure, whatever it is
        return "raised", type(e).__name__, str(e)
    plain = to_json(value, desc, meta) if desc not in ("dynamic",) else value
    return "ok", repr(plain)


def both(doc, desc, data):
    meta = doc.meta
    dec = decoder(desc, meta, doc._struct_maker)
    old = outcome(lambda x: from_json(x, desc, meta, doc._new_struct, "message on 'c'"), data, desc, meta)
    new = outcome(lambda x: dec(x, "message on 'c'"), data, desc, meta)
    return old, new


def test_valid_messages_decode_to_the_same_values(doc):
    rng = random.Random(5)
    for _ in range(300):
        data = valid_rich(rng)
        old, new = both(doc, ["message", "Rich"], data)
        assert old == new
        assert old[0] == "ok", old
    for desc, data in MAPS:
        old, new = both(doc, desc, data)
        assert old == new and old[0] == "ok", old


def test_random_json_is_accepted_or_refused_alike(doc):
    rng = random.Random(11)
    kinds = set()
    for n in range(3000):
        desc = DESCS[n % len(DESCS)]
        data = random_json(rng)
        if n % 3 == 0 and desc == ["message", "Rich"]:  # mostly right, one thing wrong
            data = valid_rich(rng)
            data[rng.choice(list(data) or ["i"])] = random_json(rng)
        old, new = both(doc, desc, data)
        assert old == new, (desc, data)
        kinds.add(old[0])
    assert kinds >= {"ok", "refused"}


def test_error_text_names_the_nested_place(doc):
    dec = decoder(["message", "Rich"], doc.meta, doc._struct_maker)
    with pytest.raises(BadValue) as e:
        dec({"pts": [{"x": 1}, {"x": "no"}]}, "message on 'rich'")
    assert str(e.value) == "message on 'rich'.pts[1].x: expected int, got a string"
    with pytest.raises(BadValue) as e:  # an unknown name wins over a bad value before it
        dec({"i": "bad", "zz": 1}, "m")
    assert str(e.value) == "m: Rich has no field 'zz'"
    assert not doc.meta["messages"]["Point"]["new"]  # checked while decoding, not before
    with pytest.raises(BadValue) as e:
        decoder(["message", "Point"], doc.meta, doc._struct_maker)({"x": "bad", "q": 1}, "m")
    assert str(e.value) == "m: Point has no field 'q'"
    with pytest.raises(BadValue) as e:
        decoder(["map", "string", ["message", "Point"]], doc.meta, doc._struct_maker)({"k": {"y": None}}, "m")
    assert str(e.value) == "m[k].y: expected int, got null"


def test_computed_defaults_and_fresh_containers(doc):
    dec = decoder(["message", "Rich"], doc.meta, doc._struct_maker)
    a, b = dec({}, "m"), dec({}, "m")
    late = doc.meta["messages"]["Late"]
    assert late["new"]  # `2 + 3` is computed by code, not copied
    assert to_json(dec({"late": {}}, "m"), ["message", "Rich"], doc.meta)["late"] == {"n": 5, "tag": "t"}
    slot = {f["name"]: f["slot"] for f in doc.meta["messages"]["Rich"]["fields"]}
    assert a.f[slot["xs"]] == [] and a.f[slot["xs"]] is not b.f[slot["xs"]]  # no shared default list


def test_the_runtime_refuses_bad_messages_with_the_same_frames(doc):
    from advm.runtime.living import LivingDocument

    living = LivingDocument(doc.module, key="k", viewers=Viewers)
    living.create("ann@", None, 10)
    frames = living.send("ann@", "rich", {"i": "x"}, 11)
    assert frames == [{"to": "ann@", "error": {"code": "input",
                                               "message": "message on 'rich'.i: expected int, got a string"}}]
    assert living.send("ann", "points", [{"x": 1}, {"y": 2}], 12) == []
    assert living.send("ann", "late", None, 13) == []
    assert living.engine.field("got") == 2
