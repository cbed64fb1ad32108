"""Server side of the viewer stream: encode a viewer's plain view, and diff two
encoded views into the JSON merge patch (RFC 7396) that goes on the wire.

A plain view is JSON as Python builds it (dict, list, str, int, float, bool,
None). The *encoded* view is the same data reshaped so that a merge patch can
touch one row without resending its table (spec/protocol.md, "Encoded view"):

- a list whose items are all objects with distinct integer "id"s is a table:
  an object keyed by str(id), plus the ids in order under "@o";
- any other list is a value list: an object keyed by str(index), plus its
  length under "@s";
- a member whose value is null, or a double that is NaN or infinite, is left
  out (a merge patch can only say "null" to mean "gone");
- an object key that starts with "@" gets one more "@" in front, so "@o" and
  "@s" can never be a user's key.

Encoded views hold no None anywhere, so `diff` can use None for "nothing
changed" at every level and `null` in a patch always means "delete".
"""
from __future__ import annotations

from itertools import compress
from math import isfinite
from operator import is_not

ORDER = "@o"
SIZE = "@s"
ESCAPE = "@"

# A range [start, end] costs about as many bytes as two ids, so shorter runs
# of kept rows are sent as ids (Adama makes the same trade).
MIN_RUN = 3

_ABSENT = object()

# Objects with more members than this (tables, big maps) are scanned for
# changed members in C before the Python loop sees them.
_SCAN = 16


def encode_view(plain: dict) -> dict:
    """The encoded form of a viewer's plain view (a fresh tree, shares nothing)."""
    if type(plain) is not dict:
        raise TypeError(f"a view is a JSON object, not {type(plain).__name__}")
    return _encode_object(plain)


def _encode(value):
    kind = type(value)
    if kind is dict:
        return _encode_object(value)
    if kind is list:
        return _encode_list(value)
    if kind is float:
        return value if isfinite(value) else None
    if value is None or kind is str or kind is int or kind is bool:
        return value
    raise TypeError(f"a view holds JSON values only, not {kind.__name__}")


def _encode_object(obj: dict) -> dict:
    out = {}
    for key, value in obj.items():
        if type(key) is not str:
            raise TypeError(f"a view's object keys are strings, not {type(key).__name__}")
        encoded = _encode(value)
        if encoded is not None:
            out[ESCAPE + key if key[:1] == ESCAPE else key] = encoded
    return out


def _encode_list(items: list) -> dict:
    rows = _encode_table(items) if items else None
    if rows is not None:
        return rows
    out = {}
    for index, item in enumerate(items):
        encoded = _encode(item)
        if encoded is not None:
            out[str(index)] = encoded
    out[SIZE] = len(items)
    return out


def _encode_table(items: list) -> dict | None:
    """Rows keyed by id and their order, or None when `items` is not a table."""
    rows = {}
    order = []
    for row in items:
        if type(row) is not dict:
            return None
        rid = row.get("id")
        key = str(rid)
        # bool is an int to Python but not an id; a repeated id cannot be a key
        if type(rid) is not int or key in rows:
            return None
        rows[key] = _encode_object(row)
        order.append(rid)
    rows[ORDER] = order
    return rows


def diff(old: dict, new: dict, members=None) -> dict | None:
    """The merge patch that turns encoded view `old` into encoded view `new`,
    or None when a viewer would see no change.

    Linear in the size of `new`, and it skips any subtree that `old` and `new`
    share by identity, so a producer that reuses unchanged encoded subtrees
    pays only for what changed. The patch may share subtrees with `new`:
    treat both as read-only.

    `members(key, before, now)`, when given, makes the patch of a top-level
    member whose old and new values are two different objects, and must
    return what `diff(before, now)` would: a fan-out uses it to work out the
    patch of a member once for every viewer that holds the same pair of
    objects (views/viewers.py). Every other rule is this function's alone.
    """
    if type(old) is not dict or type(new) is not dict:
        raise TypeError("diff compares two encoded views (JSON objects)")
    return diff_objects(old, new, members)


def diff_objects(old: dict, new: dict, members=None) -> dict | None:
    """`diff` without the argument check, for a caller that holds two encoded
    objects already (the fan-out calls it once per viewer)."""
    patch = None
    added = 0
    get = old.get
    if len(new) > _SCAN:
        # The filter runs in C: keys whose value is the very object `old`
        # holds never reach the loop body, so a diff over shared subtrees
        # costs little more than a scan. An absent key reads as None, which
        # no encoded value is, so new keys pass the filter too. Small objects
        # (rows) skip it: most of their values are fresh objects anyway.
        keys = compress(new, map(is_not, map(get, new), new.values()))
    else:
        keys = new
    for key in keys:
        now = new[key]
        before = get(key, _ABSENT)
        if before is now:
            continue
        if before is _ABSENT:
            added += 1
            change = now
        else:
            kind = type(now)
            if kind is not type(before):
                # True must not equal 1, nor 1.0 equal 1: the client has to
                # see the JSON the view holds, not a lookalike
                change = now
            elif kind is dict:
                change = diff_objects(before, now) if members is None else members(key, before, now)
                if change is None:
                    continue
            elif kind is list:
                # only a table's order is a list in an encoded view
                if before == now:
                    continue
                change = compress_order(before, now)
            elif before == now:
                continue
            else:
                change = now
        if patch is None:
            patch = {}
        patch[key] = change
    if len(new) - added != len(old):
        if patch is None:
            patch = {}
        for key in old:
            if key not in new:
                patch[key] = None
    return patch


def compress_order(old: list, new: list) -> list:
    """The "@o" instructions that rebuild order `new` from order `old`: each
    item is a row id, or [start, end], the rows at positions start..end
    (inclusive) of `old`, for a run of at least MIN_RUN rows kept together."""
    if not old:
        return list(new)
    position = {rid: at for at, rid in enumerate(old)}
    where = position.get
    out = []
    count = len(new)
    k = 0
    while k < count:
        start = where(new[k])
        if start is None:
            out.append(new[k])
            k += 1
            continue
        end = start
        j = k + 1
        while j < count and where(new[j]) == end + 1:
            end += 1
            j += 1
        if j - k >= MIN_RUN:
            out.append([start, end])
        else:
            out.extend(new[k:j])
        k = j
    return out
