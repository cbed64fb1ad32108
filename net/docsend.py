"""Documents that create and send to documents on one server (spec/language.md
4.32, spec/runtime.md 2): the serving side.

A document's `space.create(key, arg)` and `space.channel(key, msg)` are
service calls (runtime/services.py): recorded in the sender's state when its
transaction commits, listed by `service_calls()` one at a time per target
document (the next once this one's result is logged), made by the sender's
router's Dispatcher (net/services.py), which hands a call marked `space` to
`deliver_call` here instead of HTTP. The outcome returns to the sender as its
logged `result` input, like any call's.

Each call goes to the target's router as the sender's principal,
`<key>@doc:<space>` (the authority `doc:<space>`: no token names it, since an
authority's name holds no ':'), with `sender` = ["<space>/<key>", call number].
The receiver keeps, per sender, the number of the last call it ran, in its
state, written in the same transaction as the call's effects
(runtime/living.py `inbox`): the same number again is a `duplicate` and runs
nothing. So a call made again after any crash (the sender's state still lists
it until its result is logged) runs once. A create made again finds the
document there (`already_created`) and asks it, with the probe channel
`~created`, whether that call made it: a duplicate is the creation's success.

Outcomes: the result's value `{space, key}` when the call ran (or ran before),
else a failure whose code says why: 404 no such space or document, 403 the
receiver's @static create policy or @connected refused, 409 the receiver refused (its code
aborted, the key is taken, an unknown channel), 400 a malformed message, 429
the receiver hears from too many documents. A busy or closing receiver
(queue full, space limits, shutting down) is tried again with backoff, so the
order of one sender's calls to one document holds.
"""
from __future__ import annotations

import asyncio
import json
import random

from .router import RouterError

AUTHORITY = "doc:"  # a document's principal: <key>@doc:<space>
PROBE = "~created"
RETRY_CODES = frozenset({"queue_full", "space_limit", "space_throttled", "throttled", "memory_full",
                         "worker_failed", "store", "cancelled", "internal"})
CODES = {"not_found": 404, "not_created": 404, "unknown_space": 404, "create_refused": 403,
         "connect_refused": 403,
         "bad_key": 400, "input": 400, "bad_message": 400, "too_many_senders": 429}
BACKOFF_S = 0.02
MAX_BACKOFF_S = 2.0


def principal_of(space: str, key: str) -> str:
    return f"{key}@{AUTHORITY}{space}"


def _failure(code: int, message: str) -> dict:
    return {"error": {"code": code, "message": message[:200]}}


async def deliver_call(spaces, space: str, key: str, c: dict) -> dict:
    """Make call `c` of document `key` of space `space`: the result input's
    `result` ({"value": {space, key}} or {"error": {code, message}})."""
    target = spaces.router(c["service"])
    if target is None:
        return _failure(404, f"no space {c['service']!r} is served here")
    who = principal_of(space, key)
    sender = [f"{space}/{key}", c["call"]]
    to = c["who"]
    try:
        message = json.loads(c["request"])
    except ValueError:
        return _failure(400, "the call's message is not JSON")
    delay = BACKOFF_S
    while True:
        try:
            if c["method"] == "create":
                try:
                    await target.create(to, who, message, {"sender": sender})
                except RouterError as e:
                    if e.code != "already_created":
                        raise
                    await target.send(to, who, PROBE, None, context={"sender": sender})
            else:
                await target.send(to, who, c["method"], message, context={"sender": sender})
            return {"value": {"space": c["service"], "key": to}}
        except RouterError as e:
            if e.code == "duplicate":
                return {"value": {"space": c["service"], "key": to}}
            if e.code == "shutting_down":
                return None  # the sender's next load makes the call again
            if e.code in RETRY_CODES:
                await asyncio.sleep(random.uniform(delay / 2, delay))
                delay = min(MAX_BACKOFF_S, delay * 2)
                continue
            return _failure(CODES.get(e.code, 409), f"{e.code}: {e.message}")


__all__ = ["AUTHORITY", "PROBE", "deliver_call", "principal_of"]
