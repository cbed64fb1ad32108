"""vm/text.py: Adama's collaborative text (spec/language.md 3.13.1) as JSON values."""
from advm.vm import text


def test_set_keeps_each_line_once_in_order():
    t = text.of("a\nb\na")
    assert t["order"] == {"0": "0", "1": "1", "2": "0"}
    assert t["fragments"] == {"0": "a", "1": "b"}
    assert text.get(t) == "a\nb\na"
    assert text.get(text.EMPTY) == ""


def test_change_sets_keep_drop_and_insert_lines():
    assert text.apply_change("hello\nworld", {"changes": [5, [0, " there"], 6]}) == "hello there\nworld"
    assert text.apply_change("abc", {"changes": [[1, "x", "y"], 2]}) == "x\nybc"
    # what the items do not reach is dropped, as in Adama's Operand.apply
    assert text.apply_change("abcdef", {"changes": [2]}) == "ab"
    assert text.apply_change("abc", '{"changes": [1, [2, "Z"]]}') == "aZ"
    assert text.apply_change("abc", 7) == "abc" and text.apply_change("abc", "not json") == "abc"


def test_append_follows_the_sequence_and_never_changes_its_argument():
    t = text.of("ab")
    assert text.append(t, 1, {"changes": [2]}) is None  # edit 0 is missing
    u = text.append(t, 0, {"changes": [2, [0, "c"]]})
    assert t["changes"] == {} and u["changes"] == {"0": {"changes": [2, [0, "c"]]}}
    assert text.append(u, 0, {"changes": [3]}) is None  # edit 0 is taken
    v = text.append(u, 1, [{"changes": [[1, "A"], 2]}, {"changes": [3, [0, "!"]]}])  # edits 1 and 2
    assert sorted(v["changes"]) == ["0", "1", "2"]
    assert text.get(v) == "Abc!"


def test_compact_folds_the_first_edits_into_the_lines():
    t = text.append(text.append(text.of("ab"), 0, {"changes": [2, [0, "c"]]}), 1, {"changes": [[1, "A"], 2]})
    half = text.compact(t, 0.5)
    assert half["seq"] == 1 and sorted(half["changes"]) == ["1"]
    assert text.base_text(half) == "abc" and text.get(half) == text.get(t) == "Abc"
    assert text.compact(t, 1.0)["changes"] == {} and text.get(text.compact(t, 1.0)) == "Abc"
    none = text.compact(t, 0.0)
    assert none["seq"] == 0 and sorted(none["changes"]) == ["0", "1"] and text.get(none) == "Abc"
    assert text.get(text.compact(t, float("nan"))) == "Abc"
