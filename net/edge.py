"""What a request's values must be before any of it leaves the server process
(spec/protocol.md 8.6 and 8.7).

A request is handed to a worker (pickled), logged (CBOR) and read back at
every wake and replay. Two things JSON allows would break that far from the
socket, for the one document and, in a worker's batch, for others: values
nested deeper than the readers take (cbor2 refuses past 400 levels, pickle
and Python's recursion give out near 1,000), and strings holding a lone
surrogate (`"\\udc80"` is legal JSON; UTF-8, so the store, cannot carry it).
Both are refused here, as a failure of the one request.

Checking costs nothing for the usual request: a request cannot nest deeper
than it has brackets, and a lone surrogate only comes from a `\\ud800`-
`\\udfff` escape in the text, so the parsed value is walked only when the
text could hold one or the other.
"""
from __future__ import annotations

import re

from ..vm.values import MAX_DEPTH, input_problem

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")

# The reason a lone surrogate gets, by the request field that held it.
_TEXT_REASONS = {"key": "bad_key", "message": "input", "arg": "input"}


def request_problem(text: str, req: dict):
    """(reason, message) refusing request `req`, parsed from `text`, or None."""
    deep = text.count("{") + text.count("[") > MAX_DEPTH
    if not deep and _SURROGATE_ESCAPE.search(text) is None:
        return None
    for name, value in req.items():
        problem = input_problem(value, MAX_DEPTH)
        if problem is None:
            continue
        code, what = problem
        field = name if name.isascii() and name.isprintable() and len(name) <= 32 else "a field"
        if code == "too_deep":
            return "too_deep", f"\"{field}\" {what}"
        return _TEXT_REASONS.get(name, "bad_request"), f"\"{field}\" {what}"
    return None


__all__ = ["request_problem"]
