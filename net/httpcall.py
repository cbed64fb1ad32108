"""One POST to the outside world whose answer is JSON: the shared attempt of
service calls (net/services.py) and model calls (net/models.py). Whatever goes
wrong becomes a result, {"error": {code, message}}, with whether trying again
could help; the answer's body is read up to a limit, never past it."""
from __future__ import annotations

import json
from typing import Callable

import httpx

# An error's message keeps at most this many characters of the answer's body.
MAX_MESSAGE_CHARS = 200


def failure(code: int, message: str) -> dict:
    return {"error": {"code": code, "message": message}}


async def post_json(client: httpx.AsyncClient, url: str, *, content: bytes, headers: dict,
                    timeout_ms: int, limit: int, who: str, too_large: str,
                    retried: Callable[[int], bool], redact: Callable[[str], str] = str,
                    ack_2xx: bool = False) -> tuple[dict, bool]:
    """(result, whether trying again could help) of POSTing `content` to `url`:
    {"value": the answer's JSON}, or {"value": None} for any 2xx when `ack_2xx`
    (the body is not read); 502 past `limit` bytes (`too_large`) or for a 2xx
    that is not JSON, 504 past `timeout_ms`, 503 unreachable, else the answer's
    status with the start of its body (through `redact`), retried when
    `retried(status)`. `who` names the other side in messages."""
    try:
        async with client.stream("POST", url, content=content, headers=headers,
                                 timeout=timeout_ms / 1000) as resp:
            if ack_2xx and 200 <= resp.status_code < 300:
                return {"value": None}, False
            body = bytearray()
            async for chunk in resp.aiter_bytes():
                body += chunk
                if len(body) > limit:
                    return failure(502, too_large), False
            status = resp.status_code
    except httpx.TimeoutException:
        return failure(504, f"{who} did not answer within {timeout_ms} ms"), True
    except httpx.HTTPError as e:
        return failure(503, f"{who} is unreachable ({type(e).__name__})"), True
    if 200 <= status < 300:
        try:
            return {"value": json.loads(bytes(body))}, False
        except ValueError:
            return failure(502, f"{who} answered {status} with a body that is not JSON"), False
    text = bytes(body[:MAX_MESSAGE_CHARS * 4]).decode("utf-8", "replace")[:MAX_MESSAGE_CHARS]
    return failure(status, redact(f"{who} answered {status}: {text}".rstrip(": "))), retried(status)


__all__ = ["MAX_MESSAGE_CHARS", "failure", "post_json"]
