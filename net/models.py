"""The model behind documents' agents: an OpenAI-compatible Chat Completions
API (spec/protocol.md 8.18, spec/language.md 4.31).

A session that processes wants a completion (runtime/agents.py `calls`: the
request built from its history); the router's Dispatcher (net/services.py)
hands such a call here, and the outcome goes back to the document as its
`result` input, logged like a service's, so a conversation replays without the
model. Where the model lives is configuration outside every document, the
`[models]` table of the services file (`advm run --services FILE`):

    [models]
    base_url = "https://api.openai.com/v1"   # POST {base_url}/chat/completions
    key = "env:OPENAI_API_KEY"               # the bearer token (or a literal); never shown
    timeout_ms = 60000                       # each attempt
    attempts = 3                             # tries after a timeout, 429 or 5xx
    map = { "gpt-4o" = "gpt-4o-mini" }       # a document's model name -> the model asked for
    default = "gpt-4o-mini"                  # for a document naming none

or `advm run --model-url URL` (its key, if any, from ADVM_MODEL_KEY). A call
without configuration fails at once (501), as an unconfigured service does.
"""
from __future__ import annotations

import asyncio
import json
import os
import random
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from .httpcall import failure, post_json

MAX_REPLY_BYTES = 1 << 20  # a completion's body; a larger one fails the ask (502)
DEFAULT_TIMEOUT_MS = 60_000
MAX_TIMEOUT_MS = 600_000
DEFAULT_ATTEMPTS = 3
MAX_ATTEMPTS = 10
BACKOFF_S = 0.05
KEY_ENV = "ADVM_MODEL_KEY"


class ModelConfigError(ValueError):
    """A [models] table that cannot be used (the message never holds the key)."""


@dataclass
class ModelConfig:
    base_url: str
    key: str = ""
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    attempts: int = DEFAULT_ATTEMPTS
    map: dict[str, str] = field(default_factory=dict)
    default: str = ""

    def __repr__(self) -> str:  # never the key
        return f"ModelConfig({self.base_url!r}, map={self.map!r})"

    @property
    def host(self) -> str:
        u = urlsplit(self.base_url)
        return f"{u.scheme}://{u.netloc}"

    def model(self, name: str) -> str:
        """The model asked for when a document names `name`."""
        return self.map.get(name) or name or self.default

    @classmethod
    def from_dict(cls, data, where: str = "models", environ=None) -> "ModelConfig":
        environ = os.environ if environ is None else environ
        if not isinstance(data, dict):
            raise ModelConfigError(f"{where}: [models] is a table")
        unknown = set(data) - {"base_url", "key", "timeout_ms", "attempts", "map", "default"}
        if unknown:
            raise ModelConfigError(f"{where} [models]: unknown key {sorted(unknown)[0]!r}")
        base = data.get("base_url")
        if not isinstance(base, str) or urlsplit(base).scheme not in ("http", "https") or not urlsplit(base).netloc:
            raise ModelConfigError(f"{where} [models]: base_url is an http:// or https:// URL")
        key = data.get("key", "")
        if not isinstance(key, str):
            raise ModelConfigError(f"{where} [models]: key is a string")
        if key.startswith("env:"):
            if key[4:] not in environ:
                raise ModelConfigError(f"{where} [models]: key reads the environment variable {key[4:]}, "
                                       "which is not set")
            key = environ[key[4:]]
        mapping = data.get("map", {})
        if not isinstance(mapping, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                    for k, v in mapping.items()):
            raise ModelConfigError(f"{where} [models]: map is a table of model names")
        default = data.get("default", "")
        if not isinstance(default, str):
            raise ModelConfigError(f"{where} [models]: default is a model name")
        return cls(base.rstrip("/"), key, _int(data, "timeout_ms", DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS, where),
                   _int(data, "attempts", DEFAULT_ATTEMPTS, MAX_ATTEMPTS, where), dict(mapping), default)

    @classmethod
    def from_url(cls, url: str, environ=None) -> "ModelConfig":
        environ = os.environ if environ is None else environ
        return cls.from_dict({"base_url": url, "key": environ.get(KEY_ENV, "")}, "--model-url", environ)


def _int(d: dict, key: str, default: int, high: int, where: str) -> int:
    v = d.get(key, default)
    if type(v) is not int or not 1 <= v <= high:
        raise ModelConfigError(f"{where} [models]: {key} is a whole number from 1 to {high}")
    return v


async def complete(client: httpx.AsyncClient, config: ModelConfig | None, c: dict) -> dict:
    """One completion for call `c` (runtime/agents.py `calls`): the result
    input's `result`, {"value": the reply's JSON} or {"error": {code, message}}.
    Tried again (backing off) after a timeout, a connection failure, 429 or a 5xx."""
    if config is None:
        return failure(501, "no model is configured (advm run --model-url, or [models] in --services)")
    body = json.loads(c["request"])
    body["model"] = config.model(body.get("model", ""))
    content = json.dumps(body, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json"}
    if config.key:
        headers["Authorization"] = f"Bearer {config.key}"
    delay = BACKOFF_S
    result = failure(503, "the model was not asked")
    for attempt in range(1, config.attempts + 1):
        result, retry = await _attempt(client, config, content, headers)
        if not retry or attempt == config.attempts:
            break
        await asyncio.sleep(random.uniform(0, delay))
        delay *= 2
    return result


async def _attempt(client, config: ModelConfig, content: bytes, headers: dict) -> tuple[dict, bool]:
    key = config.key
    return await post_json(
        client, f"{config.base_url}/chat/completions", content=content, headers=headers,
        timeout_ms=config.timeout_ms, limit=MAX_REPLY_BYTES, who="the model",
        too_large=f"the model's reply is larger than {MAX_REPLY_BYTES} bytes",
        retried=lambda status: status >= 500 or status == 429,
        redact=(lambda text: text.replace(key, "[secret]")) if key else str)


__all__ = ["MAX_REPLY_BYTES", "ModelConfig", "ModelConfigError", "complete"]
