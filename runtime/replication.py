"""Replication (spec/language.md 4.30, spec/protocol.md 8.14): each
`replication<svc:method> name = expr;` keeps a copy of a formula's value at a
service.

Everything here is document state, changed only by inputs, so replay and
recovery reproduce it exactly and never call anyone:

- after every input, each replicated value is read (as JSON) and hashed
  (SHA-256 of its canonical JSON, without the message fields flagged
  `@silent`, which Adama leaves out of a message's hash: a change to those
  alone sends nothing, though every operation carries them); when it differs from the last hash the
  service acknowledged and no operation is pending, one operation is issued:
  `create` (nothing acknowledged yet), `update`, or `delete` (the value is an
  empty maybe and a copy exists). Its id, op, hash and request text are fixed
  when it is issued: an operation is sent with one content only;
- the host makes the pending operations like service calls (they are in
  `LivingDocument.service_calls`, marked `replication`), and reports each
  attempt's outcome as a `result` input: a success acknowledges the hash (the
  operation is gone; if the value changed meanwhile, the next one is issued),
  a failure counts an attempt and keeps the operation (the host tries again,
  backing off exponentially with jitter, net/services.py);
- a failure the target says is final (`permanent(code)`: a 4xx other than
  408 and 429) ends the operation instead: it is kept as `failed` (shown by
  inspect), nothing retries it, and the same content is not issued again;
  a later value that differs is (with `acked` unchanged, so update or create
  as before);
- a result for an operation that is not pending (a duplicate, an old
  attempt's answer) changes nothing;
- once the document is deleted every value reads as absent
  (`refresh(GONE)`): each copy the service acknowledged gets its `delete`,
  after the operation in flight, if any, ends.
"""
from __future__ import annotations

import hashlib
import json

PREFIX = "~r/"  # a replication operation's call id: ~r/<name>/<number>
MAX_ERROR_CHARS = 200  # of the last failure's message, kept in the state
MAX_REQUEST_BYTES = 1 << 20  # an operation's request as JSON (a service call's limit); a larger value is not sent


# Codes of a failed attempt that are tried again: the target was too slow (408) or
# busy (429), or failed on its side (5xx, and advm's own 501 not configured, 502
# a bad answer, 503 unreachable, 504 timed out). Any other 4xx says the request
# itself is refused: trying it again would only be refused again.
RETRIED_4XX = (408, 429)


def permanent(code: int) -> bool:
    """Whether a failure with this code is final (not retried): 4xx but 408, 429."""
    return 400 <= code < 500 and code not in RETRIED_4XX


def GONE(name):  # noqa: N802 (a reader: the deleted document's values are all absent)
    return None


def content_hash(value) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def audible(value, mask):
    """`value` (JSON) without its `@silent` message fields, which Adama leaves out of
    a message's hash: `mask` is the compiler's (gen_doc.silent_mask), None for none."""
    if not mask or value is None:
        return value
    fields = mask.get("fields")
    if fields is not None and isinstance(value, dict):
        return {k: v if fields.get(k) is None else audible(v, fields[k])
                for k, v in value.items() if fields.get(k) is not True}
    each = mask.get("each")
    if each is not None and isinstance(value, list):
        return [audible(v, each) for v in value]
    if each is not None and isinstance(value, dict):
        return {k: audible(v, each) for k, v in value.items()}
    return value


class Replicas:
    """The replication state of one document: per replicated name,
    {"acked": hash or None, "ops": operations issued, "op": the pending
    operation or None, "too_large": the hash of a value not sent because its
    request is over MAX_REQUEST_BYTES, else None, "failed": the last operation
    the target refused for good (a permanent code), else None}; an operation
    is {"id", "op", "hash", "request", "attempts", "error"} (a failed one also
    has "code")."""

    def __init__(self, meta: dict):
        self.targets: dict[str, dict] = meta.get("replications") or {}
        self.state: dict[str, dict] = {n: {"acked": None, "ops": 0, "op": None, "too_large": None, "failed": None}
                                       for n in self.targets}

    def __bool__(self) -> bool:
        return bool(self.targets)

    def pending(self) -> list[tuple[str, dict]]:
        return [(n, s["op"]) for n, s in self.state.items() if s["op"] is not None]

    def refresh(self, read) -> None:
        """After an input: issue an operation for each value that changed
        (`read(name)` is the value as JSON)."""
        for name, s in self.state.items():
            if s["op"] is not None:
                continue  # one operation at a time; the next is decided when it is acknowledged
            try:
                value = read(name)
            except Exception:  # a formula that fails now (its error is the document's): nothing issued
                continue
            if value is None:
                if s["acked"] is None:
                    continue
                op, digest = "delete", None
            else:
                digest = content_hash(audible(value, self.targets[name].get("silent")))
                if digest == s["acked"]:
                    continue
                op = "create" if s["acked"] is None else "update"
            failed = s["failed"]
            if failed is not None and failed["hash"] == digest and failed["op"] == op:
                continue  # the target refused this very operation for good: not sent again
            request = json.dumps({"op": op, "name": name, "hash": digest, "value": value},
                                 separators=(",", ":"), ensure_ascii=False)
            if len(request.encode()) > MAX_REQUEST_BYTES:
                s["too_large"] = digest  # not sent; shown by inspect; the next value that fits is
                continue
            s["too_large"] = None
            s["ops"] += 1
            s["op"] = {"id": f"{PREFIX}{name}/{s['ops']}", "op": op, "hash": digest, "request": request,
                       "attempts": 0, "error": ""}

    def result(self, call: str, ok: bool, code: int = 0, message: str = "") -> bool:
        """An attempt's outcome; False when no such operation is pending."""
        name = call[len(PREFIX):].rpartition("/")[0]
        s = self.state.get(name)
        if s is None or s["op"] is None or s["op"]["id"] != call:
            return False
        if ok:
            s["acked"] = s["op"]["hash"]
            s["op"] = None
            s["failed"] = None  # the copy is in step again
        else:
            s["op"]["attempts"] += 1
            s["op"]["error"] = f"{code}: {message}"[:MAX_ERROR_CHARS]
            if permanent(code):  # refused for good: no more attempts (net/services.py stops too)
                s["failed"] = {**s["op"], "code": code}
                s["op"] = None
        return True

    def busy(self) -> bool:
        """Whether an operation is pending (a deleted document waits for its deletes)."""
        return any(s["op"] is not None for s in self.state.values())

    def calls(self) -> list[dict]:
        out = []
        for name, op in self.pending():
            t = self.targets[name]
            out.append({"call": op["id"], "service": t["service"], "method": t["method"], "who": "?@?",
                        "request": op["request"], "idempotent": True, "replication": op["op"],
                        "attempts": op["attempts"]})
        return out

    def status(self) -> list[dict]:
        """Each replicated value as `advm snapshot inspect` and admin/view show
        it: {name, service, method, acked, ops, too_large, pending, failed}
        (`pending` and `failed` {call, op, hash, attempts, error}, a failed
        one with its `code`; None when there is none)."""
        out = []
        for name, s in self.state.items():
            t, op, failed = self.targets[name], s["op"], s["failed"]
            out.append({"name": name, "service": t["service"], "method": t["method"], "acked": s["acked"],
                        "ops": s["ops"], "too_large": s["too_large"],
                        "failed": None if failed is None else {
                            "call": failed["id"], "op": failed["op"], "hash": failed["hash"],
                            "attempts": failed["attempts"], "code": failed["code"], "error": failed["error"]},
                        "pending": None if op is None else {"call": op["id"], "op": op["op"], "hash": op["hash"],
                                                            "attempts": op["attempts"], "error": op["error"]}})
        return out

    def to_values(self) -> dict:
        return {n: {"acked": s["acked"], "ops": s["ops"], "op": dict(s["op"]) if s["op"] else None,
                    **({"too_large": s["too_large"]} if s["too_large"] else {}),
                    **({"failed": dict(s["failed"])} if s["failed"] else {})}
                for n, s in self.state.items()}

    def load(self, data: dict | None) -> None:
        for n, s in (data or {}).items():
            if n in self.state:
                self.state[n] = {"acked": s["acked"], "ops": s["ops"], "op": dict(s["op"]) if s["op"] else None,
                                 "too_large": s.get("too_large"),
                                 "failed": dict(s["failed"]) if s.get("failed") else None}


__all__ = ["GONE", "Replicas", "content_hash", "permanent", "PREFIX", "RETRIED_4XX"]
