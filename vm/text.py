"""Adama's collaborative `text` (spec/language.md 3.13.1) as the document holds it.

A text is the JSON object Adama writes for one, and the one viewers receive:

    {"fragments": {key: line, ...}, "order": {"0": key, "1": key, ...},
     "changes": {"seq": change, ...}, "seq": n}

`fragments` and `order` are the text as it was last set (its lines in order, each line stored
once under a key); `changes` are the edits clients sent since, numbered from `seq` without gaps.
An edit is a CodeMirror change set as JSON, `{"changes": [...]}`: a number keeps that many
characters of the text before it, an array `[n, "line", "line", ...]` drops n characters and
inserts its lines joined by newlines; what the items do not reach is dropped. The text now is
the lines joined by newlines with every change applied in order.

Values are never changed in place: every function returns a new object (the document writes it
back into its field, so the write is logged and undone like any other).
"""
from __future__ import annotations

import json

EMPTY = {"fragments": {}, "order": {}, "changes": {}, "seq": 0}


def _parts(t) -> tuple[dict, dict, dict, int]:
    if not isinstance(t, dict):
        return {}, {}, {}, 0
    seq = t.get("seq", 0)
    return (t.get("fragments") or {}, t.get("order") or {}, t.get("changes") or {},
            seq if type(seq) is int else 0)


def apply_change(text: str, change) -> str:
    """`text` after one change set (a dict, or its JSON text); anything else leaves it as it is."""
    if isinstance(change, str):
        try:
            change = json.loads(change)
        except ValueError:
            return text
    items = change.get("changes") if isinstance(change, dict) else None
    if not isinstance(items, list):
        return text
    out, at = [], 0
    for item in items:
        if isinstance(item, list):
            if item and type(item[0]) is int:
                at += max(item[0], 0)
            out.append("\n".join(x for x in item[1:] if isinstance(x, str)))
        elif type(item) is int:
            out.append(text[at:at + max(item, 0)])
            at += max(item, 0)
    return "".join(out)


def base_text(t) -> str:
    fragments, order, _, _ = _parts(t)
    return "\n".join(fragments.get(order.get(str(k), ""), "") for k in range(len(order)))


def get(t) -> str:
    """The text now: its lines with every change from `seq` on applied."""
    _, _, changes, seq = _parts(t)
    value = base_text(t)
    while str(seq) in changes:
        value = apply_change(value, changes[str(seq)])
        seq += 1
    return value


def of(s: str) -> dict:
    """A text set to `s`: its lines, no changes, seq 0 (Adama's `set`)."""
    fragments, order, keys = {}, {}, {}
    for i, line in enumerate(s.split("\n")):
        key = keys.get(line)
        if key is None:
            key = keys[line] = format(len(keys), "x")
            fragments[key] = line
        order[str(i)] = key
    return {"fragments": fragments, "order": order, "changes": {}, "seq": 0}


def append(t, seq: int, change):
    """The text with `change` as edit number `seq` (an array of changes: one number each, from
    seq on), or None when it does not follow: `seq` is taken, or the edit before it is missing."""
    fragments, order, changes, base = _parts(t)
    if str(seq) in changes or not (seq == base or str(seq - 1) in changes):
        return None
    new = dict(changes)
    if isinstance(change, list):
        for off, one in enumerate(change):
            new[str(seq + off)] = one
    else:
        new[str(seq)] = change
    return {"fragments": fragments, "order": order, "changes": new, "seq": base}


def compact(t, ratio: float):
    """The text with the first `ratio` of its edits (rounded down) folded into its lines (Adama's
    `compact`): the same text now, fewer edits kept, `seq` moved past the folded ones."""
    fragments, order, changes, seq = _parts(t)
    todo = int(ratio * len(changes)) if ratio == ratio else 0  # NaN folds nothing
    value = base_text(t)
    kept = dict(changes)
    while todo > 0 and str(seq) in kept:
        value = apply_change(value, kept.pop(str(seq)))
        seq += 1
        todo -= 1
    out = of(value)
    out["changes"], out["seq"] = kept, seq
    return out


TEXT = {
    "text.get/0": (get, False),
    "text.of/1": (of, False),
    "text.append/2": (append, False),
    "text.compact/1": (compact, False),
    "text.applied": (lambda v: v is not None, False),
}

__all__ = ["EMPTY", "TEXT", "append", "apply_change", "base_text", "compact", "get", "of"]
