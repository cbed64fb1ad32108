"""Write clients/js/test/vectors.json: delta-merge vectors from the Python
reference (advm.views.delta encodes and diffs, advm.views.merge applies), which the
JavaScript client must reproduce (delta.test.js) and the Python client keeps
reproducing (tests/net/test_js_client.py).

    python clients/js/test/make_vectors.py

Each vector is (before, patch, after, view): the encoded view a client holds,
the frame's patch, the encoded view after it and the plain view after it. The
views are drawn from a fixed seed, so the file only changes when this script
or the encoding does. `refused` lists patches both clients refuse.
"""
from __future__ import annotations

import json
import random
from pathlib import Path

from advm.views import apply_delta, diff, encode_view, materialize

OUT = Path(__file__).with_name("vectors.json")
SEED = 17
CHAINS = 50  # each a first view and four edits
KEYS = ["a", "b", "c", "id", "0", "1", "@o", "@s", "@@x", "@", "", "__proto__", "constructor"]
STRINGS = ["", "x", "y", "été", "\u2603", "a\"b"]


def scalar(rng: random.Random):
    kind = rng.randrange(6)
    if kind == 0:
        return rng.random() < 0.5
    if kind == 1:
        return rng.randint(-3, 3)
    if kind == 2:
        return rng.choice([2**53 + 1, -(2**62), 2**63 - 1])
    if kind == 3:
        return rng.choice([0.5, 1.0, -2.25, 1e300, 3.14159])
    return rng.choice(STRINGS)


def value(rng: random.Random, depth: int):
    if depth >= 3 or rng.random() < 0.55:
        return scalar(rng)
    kind = rng.randrange(3)
    if kind == 0:  # a value list, with holes
        return [None if rng.random() < 0.15 else value(rng, depth + 1) for _ in range(rng.randrange(5))]
    if kind == 1:
        return {rng.choice(KEYS): value(rng, depth + 1) for _ in range(rng.randrange(4))}
    return table(rng, depth)


def row(rng: random.Random, rid: int, depth: int) -> dict:
    fields = {rng.choice(KEYS[:3]): value(rng, depth + 1) for _ in range(rng.randrange(3))}
    return {**fields, "id": rid}


def table(rng: random.Random, depth: int) -> list:
    ids = rng.sample(range(-2, 40), rng.randrange(1, 12))
    return [row(rng, rid, depth) for rid in ids]


def is_table(v) -> bool:
    return (isinstance(v, list) and bool(v) and all(isinstance(r, dict) and type(r.get("id")) is int
                                                   for r in v))


def edit(rng: random.Random, v, depth: int):
    """The next version of a value: most of it kept, some of it changed."""
    roll = rng.random()
    if roll < 0.1 and depth >= 0:  # a view stays an object
        return value(rng, depth)  # replaced, possibly by another kind
    if is_table(v):
        rows = [dict(r) for r in v if rng.random() > 0.2]  # deletions
        for r in rows:
            if rng.random() < 0.3:
                r.update(row(rng, r["id"], depth))
        if rng.random() < 0.4 and len(rows) > 1:  # a move
            rows.insert(rng.randrange(len(rows)), rows.pop(rng.randrange(len(rows))))
        used = {r["id"] for r in rows}
        for _ in range(rng.randrange(3)):  # insertions anywhere
            rid = rng.randrange(40, 80)
            if rid not in used:
                used.add(rid)
                rows.insert(rng.randrange(len(rows) + 1), row(rng, rid, depth))
        return rows
    if isinstance(v, list):
        items = [edit(rng, x, depth + 1) if x is not None and rng.random() < 0.3 else x for x in v]
        if items and rng.random() < 0.3:
            del items[rng.randrange(len(items)):]
        if rng.random() < 0.3:
            items.append(value(rng, depth + 1))
        return items
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            r = rng.random()
            if r < 0.15:
                continue
            out[k] = edit(rng, x, depth + 1) if r < 0.5 else x
        if rng.random() < 0.4:
            out[rng.choice(KEYS)] = value(rng, depth + 1)
        return out
    return scalar(rng) if roll < 0.5 else v


def wire(v):
    return json.loads(json.dumps(v, allow_nan=False))


WORKED = [  # spec/protocol.md section 5
    {"title": "Groceries", "tags": ["home", "weekly"],
     "items": [{"id": 1, "text": "milk", "done": False}, {"id": 2, "text": "eggs", "done": False},
               {"id": 3, "text": "bread", "done": True}, {"id": 4, "text": "tea", "done": False}]},
]


def chains(rng: random.Random):
    for _ in range(CHAINS):
        view = {rng.choice(KEYS): value(rng, 0) for _ in range(rng.randrange(1, 6))}
        views = [view]
        for _ in range(4):
            views.append(edit(rng, views[-1], -1))
        yield views


def worked_example():
    v0 = WORKED[0]
    items = [dict(r) for r in v0["items"]]
    v1 = {**v0, "items": [items[0], {**items[1], "done": True}, *items[2:]]}
    v2 = {**v1, "items": v1["items"] + [{"id": 5, "text": "jam", "done": False}]}
    v3 = {**v2, "items": v2["items"][1:]}
    v4 = {**v3, "items": [v3["items"][-1], *v3["items"][:-1]]}
    v5 = {"tags": ["home"], "items": v4["items"]}
    v6 = {"tags": ["home"], "items": []}
    return [v0, v1, v2, v3, v4, v5, v6]


REFUSED = [  # (plain view, patch, what the error says), as tests/net/test_browser.py pins
    ({"t": [{"id": 1}, {"id": 2}]}, {"t": {"@o": [[0, 5]]}}, "does not fit the prior order (2 rows)"),
    ({}, {"t": {"@o": [[0, 0]]}}, "no prior order"),
    ({"t": [{"id": 1}, {"id": 2}]}, {"t": {"2": None}}, "disagree"),
    ({"t": [{"id": 1}]}, {"t": {"@o": [1, 1]}}, "disagree"),
    ({"t": [{"id": 1}]}, {"t": {"@o": "1"}}, "must be an array"),
    ({"t": [{"id": 1}]}, {"t": {"@o": [[0]]}}, "row ids and [start, end] ranges"),
    ({"t": [{"id": 1}]}, {"t": {"@o": [[0, "1"]]}}, "row ids and [start, end] ranges"),
    ({"t": [{"id": 1}]}, {"t": {"@o": ["1"]}}, "row ids and [start, end] ranges"),
    ({"t": [{"id": 1}, {"id": 2}]}, {"t": {"3": {"id": 3}}}, "disagree"),
]


def vectors() -> dict:
    rng = random.Random(SEED)
    out = []
    for views in [worked_example(), *chains(rng)]:
        before = {}
        for view in views:
            after = encode_view(wire(view))
            patch = diff(before, after)
            if patch is not None:
                held = wire(before)
                apply_delta(held, wire(patch))
                assert held == wire(after), (before, patch, after)
                out.append({"before": wire(before), "patch": wire(patch), "after": wire(after),
                            "view": wire(materialize(after))})
            before = after
    refused = [{"before": wire(encode_view(v)), "patch": p, "error": e} for v, p, e in REFUSED]
    return {"about": "made by clients/js/test/make_vectors.py from advm.views (delta and merge)",
            "vectors": out, "refused": refused}


def text() -> str:
    return json.dumps(vectors(), ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"


if __name__ == "__main__":
    OUT.write_text(text(), encoding="utf-8")
    print(f"{OUT}: {len(vectors()['vectors'])} vectors")
