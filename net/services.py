"""Service calls over HTTP: the serving layer's side of spec/language.md 4.27
(spec/protocol.md 8.14).

A document never does I/O. After every input the shard reports the service
calls the document wants (`runtime.living.LivingDocument.service_calls`);
the router hands them to a `Dispatcher`, which makes each one once, off the
documents' threads, with one shared httpx client, and gives the outcome back
to the document as a `result` input (logged like any input, so replay and
recovery never call anyone).

Where a service lives is configuration, outside every document: a TOML file
(`advm run --services FILE`):

    [limits]                       # optional
    per_host = 8                   # calls in flight per host (scheme, host, port)
    timeout_ms = 10000             # each attempt
    attempts = 3                   # tries of an idempotent method

    [services.payments]
    base_url = "http://127.0.0.1:8001/api"
    timeout_ms = 5000              # overrides [limits] for this service
    headers = { "X-Shop" = "demo" }
    secrets = { Authorization = "env:PAYMENTS_TOKEN" }   # or a literal value

Secrets are header values the document never sees: not in its state, views,
log or errors (a failure's message never quotes a header, and any secret
text a service echoes back is replaced by "[secret]").

Each call is `POST {base_url}/{method}` with the request message as the JSON
body and the headers `Idempotency-Key` (hex, derived from the document's key
and the call's id: the same for every attempt and for the call made again
after a restart, so the service can recognise a call it has seen),
`Advm-Attempt` (1, 2, ... within this server's life), `Advm-Document`,
`Advm-Principal` (who called; `?@?` for @no_cache). A 2xx answer's JSON body
is the value; anything else is a failed result with a code: the HTTP status,
or 504 (timed out), 503 (unreachable), 502 (not JSON, or larger than
MAX_BODY_BYTES), 501 (the service is not configured). Only a method declared
`idempotent` is tried again (after a timeout, a connection failure, a 5xx, a
408 or a 429: backing off exponentially with jitter); any other failure is the
result. A replication operation is tried until acknowledged (any 2xx, its body
unread) or refused for good (runtime/replication.py `permanent`: a 4xx but
408 and 429), which the document records as failed.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import os
import random
import tomllib
from dataclasses import dataclass, field
from typing import Awaitable, Callable
from urllib.parse import urlsplit

import httpx

from ..runtime.replication import RETRIED_4XX, permanent
from .httpcall import failure, post_json
from .models import ModelConfig, ModelConfigError, complete

MAX_BODY_BYTES = 1 << 20  # a service's answer (runtime/services.py MAX_RESULT_BYTES)
MAX_SERVICES = 256
DEFAULT_TIMEOUT_MS = 10_000
DEFAULT_ATTEMPTS = 3
DEFAULT_PER_HOST = 8
MAX_ATTEMPTS = 10
MAX_TIMEOUT_MS = 600_000
MAX_PER_HOST = 1_000
BACKOFF_S = 0.05  # the first retry's base delay; doubled each attempt, with full jitter
MAX_BACKOFF_S = 5.0
SECRET = "[secret]"


class ConfigError(ValueError):
    """A services file that cannot be used (the message names the place, never a secret)."""


@dataclass
class Endpoint:
    name: str
    base_url: str
    headers: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)  # header -> value (never shown)
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    attempts: int = DEFAULT_ATTEMPTS

    @property
    def host(self) -> str:
        u = urlsplit(self.base_url)
        return f"{u.scheme}://{u.netloc}"

    def __repr__(self) -> str:  # never the secrets
        return f"Endpoint({self.name!r}, {self.base_url!r}, secrets={sorted(self.secrets)})"


@dataclass
class ServiceConfig:
    services: dict[str, Endpoint] = field(default_factory=dict)
    per_host: int = DEFAULT_PER_HOST
    models: ModelConfig | None = None  # the model of agents' sessions (net/models.py)

    @classmethod
    def load(cls, path, environ=None) -> "ServiceConfig":
        try:
            with open(path, "rb") as f:
                data = tomllib.load(f)
        except OSError as e:
            raise ConfigError(f"cannot read the services file {path}: {e.strerror}") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path} is not TOML: {e}") from None
        return cls.from_dict(data, str(path), os.environ if environ is None else environ)

    @classmethod
    def from_dict(cls, data: dict, where: str = "services", environ=None) -> "ServiceConfig":
        environ = os.environ if environ is None else environ
        limits = data.get("limits", {})
        if not isinstance(limits, dict):
            raise ConfigError(f"{where}: [limits] is a table")
        unknown = set(data) - {"limits", "services", "models"}
        if unknown:
            raise ConfigError(f"{where}: unknown section {sorted(unknown)[0]!r} "
                              "(there are limits, services and models)")
        per_host = _int(limits, "per_host", DEFAULT_PER_HOST, 1, MAX_PER_HOST, f"{where} [limits]")
        timeout = _int(limits, "timeout_ms", DEFAULT_TIMEOUT_MS, 1, MAX_TIMEOUT_MS, f"{where} [limits]")
        attempts = _int(limits, "attempts", DEFAULT_ATTEMPTS, 1, MAX_ATTEMPTS, f"{where} [limits]")
        services = data.get("services", {})
        if not isinstance(services, dict):
            raise ConfigError(f"{where}: [services] is a table of services")
        if len(services) > MAX_SERVICES:
            raise ConfigError(f"{where}: at most {MAX_SERVICES} services")
        out = cls(per_host=per_host)
        if "models" in data:
            try:
                out.models = ModelConfig.from_dict(data["models"], where, environ)
            except ModelConfigError as e:
                raise ConfigError(str(e)) from None
        for name, s in services.items():
            place = f"{where} [services.{name}]"
            if not isinstance(s, dict):
                raise ConfigError(f"{place} is a table")
            unknown = set(s) - {"base_url", "headers", "secrets", "timeout_ms", "attempts"}
            if unknown:
                raise ConfigError(f"{place}: unknown key {sorted(unknown)[0]!r}")
            base = s.get("base_url")
            if not isinstance(base, str) or urlsplit(base).scheme not in ("http", "https") \
                    or not urlsplit(base).netloc:
                raise ConfigError(f"{place}: base_url is an http:// or https:// URL")
            headers = _strings(s.get("headers", {}), f"{place} headers")
            secrets = {}
            for header, value in _strings(s.get("secrets", {}), f"{place} secrets").items():
                if value.startswith("env:"):
                    var = value[4:]
                    if var not in environ:
                        raise ConfigError(f"{place}: secret {header!r} reads the environment variable "
                                          f"{var}, which is not set")
                    value = environ[var]
                secrets[header] = value
            out.services[name] = Endpoint(
                name, base.rstrip("/"), headers, secrets,
                _int(s, "timeout_ms", timeout, 1, MAX_TIMEOUT_MS, place),
                _int(s, "attempts", attempts, 1, MAX_ATTEMPTS, place))
        return out

    @classmethod
    def from_flags(cls, flags: list[str], environ=None) -> "ServiceConfig":
        """`--service name=URL` flags (no headers, no secrets: those need the file)."""
        services = {}
        for flag in flags:
            name, eq, url = flag.partition("=")
            if not eq or not name:
                raise ConfigError(f"--service {flag!r}: write NAME=URL")
            services[name] = {"base_url": url}
        return cls.from_dict({"services": services}, "--service", environ)

    def merge(self, other: "ServiceConfig") -> "ServiceConfig":
        return ServiceConfig({**self.services, **other.services}, min(self.per_host, other.per_host),
                             other.models or self.models)


def _int(d: dict, key: str, default: int, low: int, high: int, place: str) -> int:
    v = d.get(key, default)
    if type(v) is not int or not low <= v <= high:
        raise ConfigError(f"{place}: {key} is an integer from {low} to {high}")
    return v


def _strings(d, place: str) -> dict[str, str]:
    if not isinstance(d, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in d.items()):
        raise ConfigError(f"{place}: a table of strings")
    return dict(d)


def idempotency_key(document: str, call) -> str:
    """The same for every attempt of one call of one document, and for the
    call made again after a restart (the call's id is in the document's state)."""
    raw = json.dumps([document, call], separators=(",", ":")).encode()
    return hashlib.blake2b(raw, digest_size=16).hexdigest()


REPLICATION_BACKOFF_S = 0.2  # before a replication operation's second attempt; doubled each failure
REPLICATION_MAX_BACKOFF_S = 60.0


def replication_backoff(attempts: int) -> float:
    """Seconds before the next attempt of a replication operation that failed
    `attempts` times: exponential, capped, with jitter (between half and all of it)."""
    d = min(REPLICATION_MAX_BACKOFF_S, REPLICATION_BACKOFF_S * 2 ** min(attempts - 1, 30))
    return random.uniform(d / 2, d)


class Dispatcher:
    """Makes the calls documents want, each once (per server life: a call is
    in flight until its result input is applied), and gives each outcome to
    `deliver(document, call, result)`, which submits the result input."""

    def __init__(self, config: ServiceConfig, deliver: Callable[[str, object, dict], Awaitable],
                 *, transport: httpx.AsyncBaseTransport | None = None):
        self.config = config
        self.deliver = deliver
        self._transport = transport
        self.client: httpx.AsyncClient | None = None
        self.inflight: dict[tuple[str, object], asyncio.Task] = {}
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._attempts: dict[tuple[str, object], int] = {}
        self.stats = {"calls": 0, "attempts": 0, "failed": 0, "delivered": 0}
        # Calls to documents of other spaces (spec/language.md 4.32): set by
        # net/spaces.py to net/docsend.py's deliver_call, bound to this space.
        self.documents = None
        self._secrets = [v for e in config.services.values() for v in e.secrets.values() if v]
        if config.models is not None and config.models.key:
            self._secrets.append(config.models.key)

    async def start(self) -> None:
        if not self.config.services and getattr(self.config, "models", None) is None:
            # Nothing configured to call (every call fails 501 without HTTP): no
            # client, whose TLS context costs about 0.6 MB per router, so per space.
            return
        limit = max(1, self.config.per_host) * max(1, len({e.host for e in self.config.services.values()}))
        self.client = httpx.AsyncClient(
            transport=self._transport, follow_redirects=False, trust_env=False,
            limits=httpx.Limits(max_connections=limit, max_keepalive_connections=limit))

    async def close(self) -> None:
        for task in list(self.inflight.values()):
            task.cancel()
        if self.inflight:
            await asyncio.gather(*self.inflight.values(), return_exceptions=True)
        self.inflight.clear()
        if self.client is not None:
            await self.client.aclose()
            self.client = None

    def want(self, document: str, calls: list[dict]) -> None:
        """The calls a document reported (every outstanding one, each time):
        start those not in flight already."""
        for c in calls:
            key = (document, c["call"])
            if key in self.inflight:
                continue
            self.stats["calls"] += 1
            self.inflight[key] = asyncio.get_running_loop().create_task(self._run(document, c))

    async def _run(self, document: str, c: dict) -> None:
        key = (document, c["call"])
        try:
            if c.get("replication"):
                await self._replicate(document, c)
                return
            result = await self.call(document, c)
            if result is None:  # the target is closing: the sender's next load makes the call again
                return
            try:
                await self.deliver(document, c["call"], result)
                self.stats["delivered"] += 1
            except Exception:  # the document is gone or the router is closing: its next load asks again
                pass
        finally:
            if self.inflight.get(key) is asyncio.current_task():
                del self.inflight[key]
            self._attempts.pop(key, None)

    async def _replicate(self, document: str, c: dict) -> None:
        """A replication operation (runtime/replication.py): tried until the
        service acknowledges it, each attempt's outcome delivered as the
        document's result input (a failure counts an attempt in its state),
        waiting between attempts backoff(attempts) (the count the state kept,
        so a restarted server goes on backing off where the last one was)."""
        attempts = c.get("attempts", 0)
        while True:
            if attempts:
                await asyncio.sleep(replication_backoff(attempts))
            result = await self.call(document, {**c, "idempotent": False})
            try:
                await self.deliver(document, c["call"], result)
                self.stats["delivered"] += 1
            except Exception:  # the document is gone or the router is closing: its next load asks again
                return
            if "error" not in result or permanent(result["error"]["code"]):
                return  # acknowledged, or refused for good (the document marked it failed)
            attempts += 1

    def _semaphore(self, host: str) -> asyncio.Semaphore:
        sem = self._hosts.get(host)
        if sem is None:
            sem = self._hosts[host] = asyncio.Semaphore(self.config.per_host)
        return sem

    async def call(self, document: str, c: dict) -> dict:
        """One call, with retries if its method is idempotent: the result input's
        `result` ({"value"} or {"error"})."""
        if c.get("space"):  # a document of another space (net/docsend.py)
            if self.documents is None:
                self.stats["failed"] += 1
                return failure(501, "no other space's documents are reachable here")
            return await self.documents(document, c)
        if c.get("agent"):  # a session's completion (runtime/agents.py, net/models.py)
            result = await complete(self.client, self.config.models, c)
            if "error" in result:
                self.stats["failed"] += 1
            return result
        endpoint = self.config.services.get(c["service"])
        if endpoint is None:
            self.stats["failed"] += 1
            return failure(501, f"service {c['service']!r} is not configured")
        tries = endpoint.attempts if c.get("idempotent") else 1
        delay = BACKOFF_S
        for attempt in range(1, tries + 1):
            result, retry = await self._attempt(document, c, endpoint)
            if not retry or attempt == tries:
                if "error" in result:
                    self.stats["failed"] += 1
                return result
            await asyncio.sleep(random.uniform(0, min(delay, MAX_BACKOFF_S)))
            delay *= 2
        raise AssertionError("unreachable")

    async def _attempt(self, document: str, c: dict, endpoint: Endpoint) -> tuple[dict, bool]:
        """(result, whether trying again could help)."""
        key = (document, c["call"])
        n = self._attempts[key] = self._attempts.get(key, 0) + 1
        self.stats["attempts"] += 1
        headers = {**endpoint.headers, **endpoint.secrets,
                   "Content-Type": "application/json",
                   "Idempotency-Key": idempotency_key(document, c["call"]),
                   "Advm-Attempt": str(n), "Advm-Document": document, "Advm-Principal": c["who"]}
        if c.get("replication"):
            headers["Advm-Replication"] = c["replication"]
        url = f"{endpoint.base_url}/{c['method']}"
        async with self._semaphore(endpoint.host):
            return await post_json(
                self.client, url, content=c["request"].encode(), headers=headers,
                timeout_ms=endpoint.timeout_ms, limit=MAX_BODY_BYTES, who=endpoint.name,
                too_large=f"the answer is larger than {MAX_BODY_BYTES} bytes",
                retried=lambda status: status >= 500 or status in RETRIED_4XX,
                redact=self._redact, ack_2xx=bool(c.get("replication")))  # any 2xx acknowledges

    def _redact(self, text: str) -> str:
        for s in self._secrets:
            text = text.replace(s, SECRET)
        return text


__all__ = ["ConfigError", "Dispatcher", "Endpoint", "ServiceConfig", "failure", "idempotency_key",
           "MAX_BODY_BYTES"]
