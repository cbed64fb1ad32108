"""Hypothesis strategies and helpers for the viewer stream (imported as
`deltakit`): plain views, edited views, and what the other end of a socket
reads. tests/views/test_delta.py and tests/net/test_browser.py share them."""
from __future__ import annotations

import json

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

PROPS = settings(
    deadline=None,
    derandomize=True,
    database=None,
    max_examples=120,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def wire(value):
    """What the other end reads: the value after a trip through JSON text."""
    return json.loads(json.dumps(value, allow_nan=False))


def same(a, b) -> bool:
    """Equal as JSON text: unlike ==, True differs from 1 and 1.0 from 1."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


# --- strategies: canonical plain views (what a client can be shown exactly) --

# Few distinct keys and values, so two independent draws overlap and diffs are
# partial; "@"-keys and digit keys exercise the escaping and the list keys.
keys = st.sampled_from(["a", "b", "c", "id", "0", "1", "@o", "@s", "@@x", "@", ""])
scalars = st.one_of(
    st.booleans(),
    st.integers(-3, 3),
    st.integers(-(2**63), 2**63),
    # -0.0 + 0.0 is 0.0: the stream treats the two zeros as one value (spec)
    st.floats(allow_nan=False, allow_infinity=False).map(lambda x: x + 0.0),
    st.sampled_from([0.0, 1.0, 0.5]),
    st.sampled_from(["", "x", "y", "été"]),
)


def tables(children):
    row = st.builds(
        lambda rid, rest: {**rest, "id": rid},
        st.integers(-2, 12),
        st.dictionaries(keys, children, max_size=3),
    )
    return st.lists(row, max_size=8, unique_by=lambda r: r["id"])


def extend(children):
    # `children` never draws None (scalars hold none): only list items may be
    # null, since a null member is the same as an absent one (spec)
    return st.one_of(
        st.lists(st.one_of(st.none(), children), max_size=5),
        st.dictionaries(keys, children, max_size=4),
        tables(children),
    )


values = st.recursive(scalars, extend, max_leaves=16)
views = st.dictionaries(keys, values, max_size=5)


def is_table(items) -> bool:
    ids = [row.get("id") if type(row) is dict else None for row in items]
    return bool(items) and all(type(i) is int for i in ids) and len(set(ids)) == len(ids)


@st.composite
def edited(draw, value):
    """`value` after a transaction: mostly kept, some members and rows
    changed, dropped, added or moved, now and then replaced outright."""
    if draw(st.integers(0, 11)) == 0:
        return draw(values)
    kind = type(value)
    if kind is dict:
        out = {}
        for key, item in value.items():
            if key == "id" and type(item) is int:
                out[key] = item  # a row keeps its identity
                continue
            fate = draw(st.integers(0, 5))
            if fate:
                out[key] = item if fate < 4 else draw(edited(item))
        if draw(st.integers(0, 3)) == 0:
            out[draw(keys.filter(lambda k: k != "id"))] = draw(values)
        return out
    if kind is list:
        table = is_table(value)
        items = [
            item if draw(st.booleans()) else draw(edited(item))
            for item in value
            if draw(st.integers(0, 4))
        ]
        if draw(st.integers(0, 3)) == 0:
            items = draw(st.permutations(items))
        if draw(st.booleans()):
            at = draw(st.integers(0, len(items)))
            if table:
                fresh = max([row["id"] for row in value], default=0) + 1
                new = {"id": fresh, "a": draw(scalars)}
            else:
                new = draw(st.one_of(st.none(), values))
            items.insert(at, new)
        return items
    return value if draw(st.integers(0, 2)) else draw(scalars)


def edited_view(view):
    # a view's root stays an object
    return edited(view).flatmap(lambda b: st.just(b) if type(b) is dict else views)


pairs = views.flatmap(lambda a: st.tuples(st.just(a), edited_view(a)))
