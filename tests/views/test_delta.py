"""The viewer stream's pure part (advm.views.delta, advm.views.merge): encoding a
view, diffing two encoded views into a merge patch, and rebuilding the plain
view from patches. spec/protocol.md is the contract these tests pin.

Property tests are bounded and derandomized, so every run sees the same inputs.
"""
from __future__ import annotations

import copy
import json

import pytest
from deltakit import PROPS, edited_view, pairs, same, values, views, wire
from hypothesis import given, settings
from hypothesis import strategies as st

from advm.views import ViewState, apply_delta, diff, encode_view, materialize
from advm.views.delta import compress_order
from advm.views.merge import DeltaError

# --- the central properties ------------------------------------------------


@PROPS
@given(views)
def test_encoding_round_trips(a):
    encoded = encode_view(a)
    assert same(materialize(encoded), a)
    assert same(materialize(wire(encoded)), a)


@PROPS
@given(st.one_of(pairs, st.tuples(views, views)))
def test_a_patch_turns_one_view_into_the_next(ab):
    a, b = ab
    old, new = encode_view(a), encode_view(b)
    patch = diff(old, new)
    if patch is None:
        assert same(a, b)
        return
    client = apply_delta(wire(old), wire(patch))
    assert same(materialize(client), b)
    assert same(client, new)  # the client's encoded copy is the server's exactly


@PROPS
@given(views)
def test_no_change_sends_nothing(a):
    assert diff(encode_view(a), encode_view(a)) is None
    assert diff(encode_view(a), encode_view(copy.deepcopy(a))) is None


@settings(PROPS, max_examples=60)
@given(views, st.data())
def test_a_stream_of_patches_tracks_every_view(first, data):
    history = [first]
    for _ in range(data.draw(st.integers(1, 5))):
        history.append(data.draw(edited_view(history[-1])))
    client = ViewState()
    client.apply(wire(encode_view(history[0])), seq=1)
    server = encode_view(history[0])
    for seq, plain in enumerate(history[1:], start=2):
        new = encode_view(plain)
        patch = diff(server, new)
        if patch is not None:
            client.apply(wire(patch), seq=seq)
        server = new
        assert same(client.view, plain)


@PROPS
@given(views, st.data())
def test_applying_in_process_leaves_the_server_views_alone(a, data):
    # In one process (scripted sessions) a patch shares subtrees with the
    # server's new view; the client must copy them, or the next patch merged
    # into its copy would rewrite the server's view behind its back.
    b = data.draw(edited_view(a))
    c = data.draw(edited_view(b))
    va, vb, vc = encode_view(a), encode_view(b), encode_view(c)
    kept = copy.deepcopy(vb)
    client = encode_view(a)
    for old, new in ((va, vb), (vb, vc)):
        patch = diff(old, new)
        if patch is not None:
            apply_delta(client, patch)
    assert same(vb, kept)
    assert same(materialize(client), c)


# --- tables: one row changed, reordered, deleted, inserted -----------------


def shop(n=1000):
    return {
        "title": "shop",
        "items": [
            {"id": i, "name": f"item {i}", "qty": i % 7, "price": i * 0.25, "done": False}
            for i in range(1, n + 1)
        ],
    }


def patched(view, patch):
    return materialize(apply_delta(wire(encode_view(view)), wire(patch)))


def test_changing_one_row_of_a_thousand_sends_only_that_row():
    a = shop()
    b = copy.deepcopy(a)
    b["items"][500]["qty"] = 99
    patch = diff(encode_view(a), encode_view(b))
    assert patch == {"items": {"501": {"qty": 99}}}
    text = json.dumps(patch, separators=(",", ":"))
    assert len(text) <= 32, text  # the whole view is ~60 KB
    assert '"@o"' not in text
    assert patched(a, patch) == b


def test_reordering_sends_an_order_array_of_ranges():
    a = shop()
    b = copy.deepcopy(a)
    b["items"].append(b["items"].pop(0))  # first row moves to the end
    patch = diff(encode_view(a), encode_view(b))
    # rows 2..1000 sat at positions 1..999 of the old order
    assert patch == {"items": {"@o": [[1, 999], 1]}}
    assert patched(a, patch) == b


def test_deleting_a_row_sends_null_for_it_and_an_order_array():
    a = shop()
    b = copy.deepcopy(a)
    del b["items"][4]  # id 5
    patch = diff(encode_view(a), encode_view(b))
    assert patch == {"items": {"5": None, "@o": [[0, 3], [5, 999]]}}
    assert patched(a, patch) == b


def test_inserting_a_row_sends_the_row_and_an_order_array():
    a = shop()
    b = copy.deepcopy(a)
    row = {"id": 1001, "name": "new", "qty": 1, "price": 2.5, "done": True}
    b["items"].insert(0, row)
    patch = diff(encode_view(a), encode_view(b))
    assert patch == {"items": {"1001": row, "@o": [1001, [0, 999]]}}
    assert patched(a, patch) == b


def test_short_runs_of_kept_rows_are_sent_as_ids():
    assert compress_order([1, 2, 3, 4], [2, 1, 4, 3]) == [2, 1, 4, 3]
    assert compress_order([1, 2, 3, 4], [9, 1, 2, 3]) == [9, [0, 2]]
    assert compress_order([1, 2, 3, 4, 5], [1, 2, 4, 5]) == [1, 2, 4, 5]
    assert compress_order([], [3, 1]) == [3, 1]


@PROPS
@given(st.data())
def test_an_order_array_rebuilds_any_new_order(data):
    old = data.draw(st.lists(st.integers(0, 60), unique=True, max_size=40))
    kept = data.draw(st.lists(st.sampled_from(old), unique=True) if old else st.just([]))
    fresh = data.draw(st.lists(st.integers(61, 90), unique=True, max_size=5))
    new = data.draw(st.permutations(kept + fresh))
    # shift a sorted block so long runs appear as well as shuffles
    if data.draw(st.booleans()):
        new = sorted(kept) + fresh
    a = {"t": [{"id": i} for i in old]}
    b = {"t": [{"id": i} for i in new]}
    patch = diff(encode_view(a), encode_view(b))
    if patch is None:
        assert old == new
        return
    assert patched(a, patch) == b
    if old != new and new:  # an empty list is a value list ("@s": 0)
        order = patch["t"]["@o"]
        assert len(order) <= len(new)


@st.composite
def reordered(draw, order):
    """`order` after a transaction on a table: a few rows dropped, a block
    moved, rows added, so that long runs of kept rows survive."""
    order = [rid for rid in order if draw(st.integers(0, 9))]
    if len(order) > 2 and draw(st.booleans()):
        start = draw(st.integers(0, len(order) - 1))
        end = draw(st.integers(start, len(order) - 1))
        block, rest = order[start : end + 1], order[:start] + order[end + 1 :]
        at = draw(st.integers(0, len(rest)))
        order = rest[:at] + block + rest[at:]
    fresh = max(order, default=0) + 1
    for rid in range(fresh, fresh + draw(st.integers(0, 3))):
        order.insert(draw(st.integers(0, len(order))), rid)
    return order


@settings(PROPS, max_examples=80)
@given(st.integers(0, 40), st.data())
def test_order_arrays_chain_across_frames(size, data):
    # each "@o" names positions in the order the client holds after the
    # previous frame, so a client that misapplied one frame fails the next
    server = encode_view({"t": [{"id": rid, "v": rid} for rid in range(size)]})
    client = ViewState()
    client.apply(wire(server), seq=0)
    order = list(range(size))
    for seq in range(1, 6):
        order = data.draw(reordered(order))
        new = encode_view({"t": [{"id": rid, "v": rid} for rid in order]})
        patch = diff(server, new)
        if patch is not None:
            client.apply(wire(patch), seq=seq)
        server = new
        assert [row["id"] for row in client.view["t"]] == order
        assert same(client.encoded, server)


def test_a_row_that_only_changes_inside_keeps_its_order_quiet():
    a = {"t": [{"id": 1, "v": {"deep": [1, 2]}}, {"id": 2, "v": {}}]}
    b = {"t": [{"id": 1, "v": {"deep": [1, 3]}}, {"id": 2, "v": {}}]}
    assert diff(encode_view(a), encode_view(b)) == {"t": {"1": {"v": {"deep": {"1": 3}}}}}


# --- value lists, nulls, doubles, escaping, kinds --------------------------


def test_value_lists_are_keyed_by_index_with_their_size():
    assert encode_view({"l": [5, 6]}) == {"l": {"0": 5, "1": 6, "@s": 2}}
    a, b = {"l": [5, 6, 7]}, {"l": [5, 8]}
    patch = diff(encode_view(a), encode_view(b))
    assert patch == {"l": {"1": 8, "2": None, "@s": 2}}
    assert patched(a, patch) == b
    grow = diff(encode_view(b), encode_view(a))
    assert grow == {"l": {"1": 6, "2": 7, "@s": 3}}


def test_null_members_are_absent_and_null_items_are_holes():
    assert encode_view({"a": None, "b": 1}) == {"b": 1}
    assert encode_view({"l": [None, 1, None]}) == {"l": {"1": 1, "@s": 3}}
    assert materialize(encode_view({"l": [None, 1, None]})) == {"l": [None, 1, None]}
    patch = diff(encode_view({"a": 1}), encode_view({"a": None}))
    assert patch == {"a": None}


def test_non_finite_doubles_travel_as_null():
    nan, inf = float("nan"), float("inf")
    assert encode_view({"x": nan, "y": -inf, "z": 1.5}) == {"z": 1.5}
    assert materialize(encode_view({"l": [1.0, nan, inf]})) == {"l": [1.0, None, None]}
    patch = diff(encode_view({"x": 2.0}), encode_view({"x": nan}))
    assert patch == {"x": None}
    json.dumps(patch, allow_nan=False)  # the wire never carries NaN


def test_a_change_of_json_type_is_sent_even_when_python_calls_it_equal():
    assert diff(encode_view({"a": 1}), encode_view({"a": True})) == {"a": True}
    assert diff(encode_view({"a": 0}), encode_view({"a": False})) == {"a": False}
    assert diff(encode_view({"a": 1}), encode_view({"a": 1.0})) == {"a": 1.0}
    assert diff(encode_view({"l": [1]}), encode_view({"l": [True]})) == {"l": {"0": True}}


def test_keys_starting_with_at_are_escaped():
    plain = {"@o": 1, "@s": {"@@": 2}, "@": 3, "o": 4}
    encoded = encode_view(plain)
    assert encoded == {"@@o": 1, "@@s": {"@@@": 2}, "@@": 3, "o": 4}
    assert materialize(encoded) == plain


def test_a_list_is_a_table_only_when_every_item_has_a_distinct_integer_id():
    assert "@o" in encode_view({"t": [{"id": 2}, {"id": 1}]})["t"]
    for not_table in (
        [{"id": 1}, {"id": 1}],  # repeated id
        [{"id": True}],  # a bool is not an id
        [{"id": "1"}],
        [{"id": 1}, 2],
        [{"x": 1}],
        [],
    ):
        assert "@s" in encode_view({"t": not_table})["t"], not_table


def test_a_list_that_changes_kind_is_rewritten_cleanly():
    empty, table, values_ = {"t": []}, {"t": [{"id": 7}]}, {"t": [1, 2]}
    for a, b in [(empty, table), (table, empty), (table, values_), (values_, table)]:
        patch = diff(encode_view(a), encode_view(b))
        assert patched(a, patch) == b, (a, b, patch)
    assert diff(encode_view(empty), encode_view(table)) == {
        "t": {"@s": None, "7": {"id": 7}, "@o": [7]}
    }


def test_first_frame_is_the_whole_encoded_view():
    plain = shop(3)
    assert diff({}, encode_view(plain)) == encode_view(plain)
    assert diff({}, {}) is None


# --- RFC 7396 merge rules (its Appendix A cases, nested where the root is not
#     an object, since a view's root always is) ---------------------------------

RFC7396 = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    ({"r": ["a", "b"]}, {"r": ["c", "d"]}, {"r": ["c", "d"]}),
    ({"r": {"a": "b"}}, {"r": ["c"]}, {"r": ["c"]}),
    ({"r": {"a": "foo"}}, {"r": None}, {}),
    ({"r": {"a": "foo"}}, {"r": "bar"}, {"r": "bar"}),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ({"r": [1, 2]}, {"r": {"a": "b", "c": None}}, {"r": {"a": "b"}}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize("target, patch, result", RFC7396)
def test_apply_follows_rfc_7396(target, patch, result):
    assert apply_delta(copy.deepcopy(target), patch) == result


# --- the client refuses patches that do not fit ----------------------------


def test_a_range_outside_the_prior_order_is_refused():
    client = encode_view({"t": [{"id": 1}, {"id": 2}]})
    with pytest.raises(DeltaError, match="range"):
        apply_delta(client, {"t": {"@o": [[0, 5]]}})
    with pytest.raises(DeltaError, match="range"):
        apply_delta({}, {"t": {"@o": [[0, 0]]}})


def test_a_row_deleted_without_a_new_order_is_refused():
    client = encode_view({"t": [{"id": 1}, {"id": 2}]})
    with pytest.raises(DeltaError, match="disagree"):
        apply_delta(client, {"t": {"2": None}})
    with pytest.raises(DeltaError, match="disagree"):
        apply_delta(encode_view({"t": [{"id": 1}]}), {"t": {"@o": [1, 1]}})


def test_malformed_order_steps_are_refused():
    client = encode_view({"t": [{"id": 1}]})
    for bad in ("1", [[0]], [[0, "1"]], ["1"], [1.0]):
        with pytest.raises(DeltaError):
            apply_delta(copy.deepcopy(client), {"t": {"@o": bad}})


def test_view_state_checks_sequence_and_caches_the_view():
    state = ViewState()
    state.apply(diff({}, encode_view({"n": 1})), seq=3)
    first = state.view
    assert first == {"n": 1} and state.view is first
    state.apply({"n": 2}, seq=7)  # gaps are normal
    assert state.view == {"n": 2} and state.seq == 7
    with pytest.raises(DeltaError, match="seq 7 after seq 7"):
        state.apply({"n": 3}, seq=7)
    state.reset()
    assert state.view == {} and state.seq is None


def test_encode_refuses_what_json_cannot_hold():
    with pytest.raises(TypeError):
        encode_view([1])
    with pytest.raises(TypeError):
        encode_view({"a": {1, 2}})
    with pytest.raises(TypeError):
        encode_view({"a": {1: 2}})
    with pytest.raises(TypeError):
        diff({}, [])


def test_the_worked_example_in_the_protocol_spec():
    # spec/protocol.md section 5, frame by frame
    v = {
        "title": "Groceries",
        "tags": ["home", "weekly"],
        "items": [
            {"id": 1, "text": "milk", "done": False},
            {"id": 2, "text": "eggs", "done": False},
            {"id": 3, "text": "bread", "done": True},
            {"id": 4, "text": "tea", "done": False},
        ],
    }
    client = ViewState()
    client.apply(wire(diff({}, encode_view(v))), seq=1)
    assert client.encoded["items"]["@o"] == [1, 2, 3, 4]
    frames = []
    edits = [
        lambda v: v["items"][1].update(done=True),
        lambda v: v["items"].append({"id": 5, "text": "jam", "done": False}),
        lambda v: v["items"].pop(0),
        lambda v: v["items"].insert(0, v["items"].pop()),
        lambda v: v.update(tags=["home"], title=None),
        lambda v: v.update(items=[]),
    ]
    for seq, edit in enumerate(edits, start=2):
        after = copy.deepcopy(v)
        edit(after)
        frames.append(diff(encode_view(v), encode_view(after)))
        client.apply(wire(frames[-1]), seq=seq)
        v = after
    assert frames == [
        {"items": {"2": {"done": True}}},
        {"items": {"5": {"id": 5, "text": "jam", "done": False}, "@o": [[0, 3], 5]}},
        {"items": {"@o": [[1, 4]], "1": None}},
        {"items": {"@o": [5, [0, 2]]}},
        {"tags": {"@s": 1, "1": None}, "title": None},
        {"items": {"@s": 0, "5": None, "2": None, "3": None, "4": None, "@o": None}},
    ]
    assert client.view == {"tags": ["home"], "items": []}
