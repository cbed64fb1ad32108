"""Service calls inside a document (spec/language.md 4.27, spec/runtime.md 8).

`svc.m(who, msg)` calls the host function the instruction set declares as
SERVICE (vm/host.py); the document binds it to `Services.call`. It never does
any I/O: the document only *records* what it wants, and a result only ever
enters it as a logged input (`{"op": "result", ...}`), so replay and recovery
reproduce the document without calling anyone.

Two kinds of call:

- **In code that may change the document** (a channel, a state block, a
  procedure...), a call is an ask of kind `service` in the document's AskBook
  (runtime/asks.py): opened in the transaction (a rollback forgets it), merged
  with an identical call of the same transaction unless `@no_cache`, awaited
  like a fetch (durably: the waiting code is data). When the transaction
  commits, the call joins `AskBook.calls`, the calls the host must make, kept
  in the snapshot until their result input arrives, whether or not anything
  awaits them. The call's id (the ask's) is what the host's idempotency key
  derives from.
- **In a document formula**, the call is an *invocation*
  (service, method, who, message as JSON). Its result, once it arrived, is in
  `AskBook.cache` (snapshot state, at most `MAX_CACHED` invocations, the
  oldest going first); until then the formula sees a result in flight and the
  invocation is in `wanted` (not state: what the last evaluations asked for),
  which the host sends. The result input stores it and every formula is
  evaluated again (the viewers get the delta).

A result value (what `result<T>` holds) is a map: `state` (0 in flight,
1 done, 2 failed), `code`, `message`, `value` (the output message or None)
and, for a call code may await, the ask's `id`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from ..vm.values import decoder, to_json
from .asks import SERVICE, AnswerError

MAX_CACHED = 1_000  # formula invocations whose results a document keeps
MAX_WANTED = 1_000  # formula invocations asked for and not yet answered; past it a call fails (429)
MAX_CALLS = 1_000  # calls of code without their results, per document; past it a call fails (429)
# A document with a call still without its result is due again this long after
# its clock, so a host that restarted wakes it and makes the call again.
CALL_RECHECK_MS = 10_000
MAX_REQUEST_BYTES = 1 << 20  # a call's message as JSON; a larger one fails at once (code 413)
MAX_RESULT_BYTES = 1 << 20  # a result's value as JSON (net/services.py refuses larger bodies)
MAX_MESSAGE_CHARS = 500  # a failure's message is cut to this
IN_FLIGHT, DONE, FAILED = 0, 1, 2


def result_value(state: int, value=None, code: int = 0, message: str = "", call_id=None) -> dict:
    out = {"state": state, "code": code, "message": message, "value": value}
    if call_id is not None:
        out["id"] = call_id
    return out


def invocation_key(service: str, method: str, who: str, request: str) -> str:
    return json.dumps([service, method, who, request], separators=(",", ":"))


@dataclass
class Outcome:
    """A service's answer as the result input carries it (JSON): either
    `value` (the output message) or a failure `code` and `message`."""

    ok: bool
    value: object = None
    code: int = 0
    message: str = ""

    @classmethod
    def from_json(cls, data) -> "Outcome":
        if not isinstance(data, dict):
            raise AnswerError("input", "a result is {\"value\": ...} or {\"error\": {\"code\", \"message\"}}")
        if "error" in data:
            err = data["error"]
            if not isinstance(err, dict) or type(err.get("code")) is not int \
                    or not isinstance(err.get("message", ""), str):
                raise AnswerError("input", "a failed result's error is {\"code\": int, \"message\": string}")
            return cls(False, None, err["code"], err.get("message", "")[:MAX_MESSAGE_CHARS])
        if "value" not in data:
            raise AnswerError("input", "a result is {\"value\": ...} or {\"error\": {\"code\", \"message\"}}")
        return cls(True, data["value"])


class Services:
    """The document's side of its service calls (the module docstring)."""

    def __init__(self, engine):
        self.engine = engine
        self.meta = engine.meta
        self.services = self.meta.get("services") or {}
        self._decoders: dict[str, object] = {}
        self._maps: dict[int, dict] = {}  # the open transaction's calls: id -> the map code holds

    # ------------------------------------------------------------ the host function

    def call(self, m, spec, who: str, msg) -> dict:
        service, method, no_cache, formula = spec[:4]
        info = self.services[service][method]
        if len(spec) > 4 and spec[4]:
            # language.md 4.32: a document of space `service` to create or send to;
            # `who` is its key. Every such call is a call of its own (never merged).
            no_cache = True
            if type(who) is not str or not who:
                return result_value(FAILED, None, 400, "a document's key is a non-empty string")
        if info["input"] is None:
            request = "null"
        else:
            request = json.dumps(to_json(msg, ["message", info["input"]], self.meta), separators=(",", ":"),
                                 ensure_ascii=False)
        book = self.engine.asks
        if formula:
            key = invocation_key(service, method, who, request)
            got = book.cache.get(key)
            if got is not None:
                return got
            if len(request) > MAX_REQUEST_BYTES:
                return result_value(FAILED, None, 413, "the request is larger than a service call may send")
            if key not in book.wanted:
                if len(book.wanted) >= MAX_WANTED:
                    return result_value(FAILED, None, 429, "too many formula calls are waiting for their results")
                book.wanted[key] = (service, method, who, request)
            return result_value(IN_FLIGHT)
        if len(request) > MAX_REQUEST_BYTES:
            return result_value(FAILED, None, 413, "the request is larger than a service call may send")
        if len(book.calls) + len(book.fresh) >= MAX_CALLS:
            return result_value(FAILED, None, 429, "too many calls are waiting for their results")
        channel = f"{service}.{method}"
        fresh = {a.id for a in book.fresh}
        if len(self._maps) > len(fresh):
            self._maps = {i: r for i, r in self._maps.items() if i in fresh}
        if not no_cache:
            for ask in book.fresh:  # an identical call of this transaction: the same call
                if ask.kind == SERVICE and ask.channel == channel and ask.who == who \
                        and ask.options[0] == request and not ask.limit and ask.id in self._maps:
                    return self._maps[ask.id]
        # limit 1 marks a @no_cache call (never merged)
        future = book.open(m, (channel, SERVICE), who, [request], 1 if no_cache else 0)
        out = self._maps[future["id"]] = result_value(IN_FLIGHT, call_id=future["id"])
        return out

    # ------------------------------------------------------------ results (between transactions)

    def output_value(self, service: str, method: str, outcome: Outcome) -> dict:
        """The result map for an outcome; a value that does not fit the output
        message makes a failed result (code 502), never a refused input."""
        if not outcome.ok:
            return result_value(FAILED, None, outcome.code, outcome.message)
        name = self.services[service][method]["output"]
        dec = self._decoders.get(name)
        if dec is None:
            dec = self._decoders[name] = decoder(["message", name], self.meta, self.engine._struct_maker)
        try:
            value = dec(trim(outcome.value if outcome.value is not None else {}, ["message", name], self.meta),
                        f"result of {service}.{method}")
        except ValueError as e:
            return result_value(FAILED, None, 502, f"the service's answer does not fit {name}: {e}"[:MAX_MESSAGE_CHARS])
        return result_value(DONE, value)

    def pending(self) -> list[dict]:
        """The calls the host must make: every committed call without its
        result, then every invocation formulas asked for (in the order asked)."""
        book = self.engine.asks
        out = []
        spaces = self.meta.get("spaces") or {}
        targets: set = set()
        for call_id, (channel, who, request) in book.calls.items():
            service, _, method = channel.partition(".")
            if service in spaces:
                # language.md 4.32: one call at a time per target document, in the
                # order made; the next goes once this one's result is logged.
                if (service, who) in targets:
                    continue
                targets.add((service, who))
                out.append({**self._call_json(call_id, service, method, who, request), "space": True})
                continue
            out.append(self._call_json(call_id, service, method, who, request))
        for key, (service, method, who, request) in book.wanted.items():
            if key not in book.cache:
                out.append(self._call_json(key, service, method, who, request))
        return out

    def _call_json(self, call_id, service, method, who, request) -> dict:
        info = self.services.get(service, {}).get(method, {})
        return {"call": call_id, "service": service, "method": method, "who": who, "request": request,
                "idempotent": bool(info.get("idempotent"))}


def trim(data, desc, meta):
    """A service's answer without the fields its message does not declare
    (services answer with more than a document reads); what is left must fit."""
    if isinstance(desc, str) or not isinstance(data, (dict, list)):
        return data
    head = desc[0]
    if head == "message" and isinstance(data, dict):
        fields = {f["name"]: f["type"] for f in meta["messages"][desc[1]]["fields"]}
        return {k: trim(v, fields[k], meta) for k, v in data.items() if k in fields}
    if head in ("maybe", "list") and data is not None:
        return [trim(x, desc[1], meta) for x in data] if head == "list" and isinstance(data, list) \
            else trim(data, desc[1], meta)
    if head == "map" and isinstance(data, dict):
        return {k: trim(v, desc[2], meta) for k, v in data.items()}
    return data


def parse_invocation(key: str, services: dict):
    """(service, method, who, request) of an invocation key the document's
    services know, else None."""
    try:
        got = json.loads(key)
    except ValueError:
        return None
    if not (isinstance(got, list) and len(got) == 4 and all(isinstance(x, str) for x in got)):
        return None
    if got[1] not in services.get(got[0], {}):
        return None
    return tuple(got)


__all__ = ["Services", "Outcome", "result_value", "invocation_key", "parse_invocation", "MAX_CACHED",
           "IN_FLIGHT", "DONE", "FAILED"]
