"""Authorities: who else may sign the tokens a server accepts (spec/protocol.md 8.5).

An authority is a NAME with public keys: one PEM key, a JWKS (RFC 7517) read
from a file, or a JWKS URL. A JWT whose `iss` is the authority's issuer (its
`--issuer`, else its NAME) is checked with the key its header's `kid` names
and, when it verifies, speaks for the principal `sub@NAME`. The table is kept
in the store directory beside the built-in key (`authorities.json`, written
whole and renamed into place under a lock), so `advm authority add` on a
running server's store takes effect without a restart: the server re-reads
the file when it changed (looked at at most once per `table_ttl` seconds, and
at once for an issuer it does not know).

A JWKS URL is fetched with a timeout and cached; a token whose `kid` the
cached set lacks makes the server fetch it again while the token waits, a set
older than `max_age` on a thread beside it, at most once per `refresh_interval` seconds per authority (each failure
in a row doubles that wait, up to `max_age`); a failed fetch keeps the last
good set. The set fetched by `advm authority add` is
stored with the table, so a restart during the provider's outage still
verifies its tokens.

Revocation: `advm authority revoke NAME --jti X` refuses one token; `--subject
S --before T` every token of S issued (iat) before T (or without iat). NAME
`advm` revokes the built-in key's tokens (S then is the full principal).
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import jwt

from .tokens import ANONYMOUS, BUILTIN_ISSUER, TokenError

log = logging.getLogger("advm.authorities")
FILE = "authorities.json"
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
MAX_AUTHORITIES = 64
MAX_KEYS = 32  # keys in one authority's set
MAX_KEY_TEXT = 64 * 1024  # bytes of a PEM file, a JWKS file or a fetched JWKS
MAX_REVOKED = 10_000  # revoked jti plus revoked subjects, per authority
FETCH_TIMEOUT = 3.0  # seconds for one JWKS fetch
REFRESH_INTERVAL = 30.0  # at most one fetch per authority this often
MAX_AGE = 600.0  # a fetched set older than this is fetched again on the next token
TABLE_TTL = 1.0  # the table file is looked at at most this often
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+\-]{0,127}", re.ASCII)


class AuthorityError(Exception):
    """A table, key or set that cannot be used; the message says why."""


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise AuthorityError(f"{str(name)[:140]!r} is not an authority name: 1 to 128 of "
                             "A-Z a-z 0-9 . _ + -, starting with a letter or digit")
    if name in (BUILTIN_ISSUER, ANONYMOUS) or name.startswith("doc."):
        raise AuthorityError(f"{name!r} is reserved: {BUILTIN_ISSUER!r} is the built-in key's, "
                             f"{ANONYMOUS!r} the guests', doc.KEY a document's own")
    return name


def _key_of(jwk: dict):
    """(kid, algorithm, public key) of one JWK, or AuthorityError."""
    if not isinstance(jwk, dict):
        raise AuthorityError("a key is a JSON object (a JWK)")
    if jwk.get("kty") == "oct":
        raise AuthorityError("a symmetric (oct) key cannot be registered: an authority shares a public key only")
    if "d" in jwk:
        raise AuthorityError("that is a private key: register its public half")
    try:
        k = jwt.PyJWK(jwk)
    except jwt.PyJWTError as e:
        raise AuthorityError(f"a key cannot be read: {e}") from None
    alg = k.algorithm_name
    if alg not in ALGORITHMS:
        raise AuthorityError(f"a key's algorithm {alg!r} is not one of {', '.join(ALGORITHMS)}")
    kid = jwk.get("kid")
    if kid is not None and not isinstance(kid, str):
        raise AuthorityError("a key's kid is a string")
    return kid, alg, k.key


def parse_jwks(data) -> list[dict]:
    """The usable keys of a JWKS document (signature keys; `use: enc` skipped)."""
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list):
        raise AuthorityError('a JWKS is a JSON object {"keys": [JWK, ...]}')
    keys = [k for k in data["keys"] if not (isinstance(k, dict) and k.get("use") == "enc")]
    if not keys:
        raise AuthorityError("the JWKS has no signature keys")
    if len(keys) > MAX_KEYS:
        raise AuthorityError(f"the JWKS has {len(keys)} keys; at most {MAX_KEYS}")
    for k in keys:
        _key_of(k)
    return keys


def pem_to_jwk(text: bytes) -> dict:
    """A public key in PEM as a JWK (RSA, EC P-256/384/521, Ed25519)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    if len(text) > MAX_KEY_TEXT:
        raise AuthorityError(f"the PEM file is {len(text)} bytes; at most {MAX_KEY_TEXT}")
    if b"PRIVATE KEY" in text:
        raise AuthorityError("that is a private key: register its public half")
    try:
        key = serialization.load_pem_public_key(text)
    except ValueError as e:
        raise AuthorityError(f"not a PEM public key: {e}") from None
    from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

    if isinstance(key, rsa.RSAPublicKey):
        jwk = RSAAlgorithm.to_jwk(key, as_dict=True)
    elif isinstance(key, ec.EllipticCurvePublicKey):
        jwk = ECAlgorithm.to_jwk(key, as_dict=True)
    elif isinstance(key, ed25519.Ed25519PublicKey):
        jwk = OKPAlgorithm.to_jwk(key, as_dict=True)
    else:
        raise AuthorityError(f"a {type(key).__name__} cannot sign RS256, ES256 or EdDSA tokens")
    _key_of(jwk)
    return jwk


def fetch_jwks(url: str, timeout: float = FETCH_TIMEOUT) -> list[dict]:
    """The keys at a JWKS URL, or AuthorityError (unreachable, too big, not a JWKS)."""
    import httpx

    try:
        with httpx.stream("GET", url, timeout=timeout, follow_redirects=False) as r:
            if r.status_code != 200:
                raise AuthorityError(f"{url} answered {r.status_code}")
            body = b""
            for chunk in r.iter_bytes():
                body += chunk
                if len(body) > MAX_KEY_TEXT:
                    raise AuthorityError(f"{url}: the JWKS is larger than {MAX_KEY_TEXT} bytes")
    except (httpx.HTTPError, httpx.InvalidURL) as e:
        raise AuthorityError(f"{url}: {type(e).__name__}: {e}") from None
    try:
        data = json.loads(body)
    except ValueError:
        raise AuthorityError(f"{url}: not JSON") from None
    return parse_jwks(data)


@dataclass
class Authority:
    name: str
    issuer: str
    audience: str | None
    jwks_url: str | None
    keys: list  # [(kid, alg, key)]
    revoked_jti: frozenset = frozenset()
    revoked_subjects: dict = field(default_factory=dict)  # sub -> seconds: tokens issued before refused

    def revoked(self, payload: dict) -> str | None:
        jti = payload.get("jti")
        if isinstance(jti, str) and jti in self.revoked_jti:
            return f"this token (jti {jti[:64]!r}) was revoked by authority {self.name}"
        sub = payload.get("sub")
        who = sub if self.name == BUILTIN_ISSUER else f"{sub}@{self.name}"
        before = self.revoked_subjects.get(payload.get("sub"))
        if before is not None:
            iat = payload.get("iat")
            if not isinstance(iat, (int, float)) or iat < before:
                return f"{who}'s tokens issued before {int(before)} were revoked"
        return None


def _authority(name: str, entry: dict, keys: list[dict]) -> Authority:
    return Authority(name=name, issuer=entry.get("issuer") or name, audience=entry.get("audience"),
                     jwks_url=entry.get("jwks_url"), keys=[_key_of(k) for k in keys],
                     revoked_jti=frozenset(entry.get("revoked_jti", ())),
                     revoked_subjects=dict(entry.get("revoked_subjects", {})))


class Authorities:
    """The server's view of the table in `directory`, re-read when it changes."""

    def __init__(self, directory: str | os.PathLike, *, clock=time.time, table_ttl: float = TABLE_TTL,
                 refresh_interval: float = REFRESH_INTERVAL, max_age: float = MAX_AGE,
                 fetch_timeout: float = FETCH_TIMEOUT):
        self.path = Path(directory) / FILE
        self._clock = clock
        self.table_ttl, self.refresh_interval = table_ttl, refresh_interval
        self.max_age, self.fetch_timeout = max_age, fetch_timeout
        self._seen = None  # the file's (inode, mtime_ns, size) last read
        self._looked = float("-inf")
        self._by_issuer: dict[str, Authority] = {}
        self._entries: dict = {}
        self._builtin = _authority(BUILTIN_ISSUER, {}, [])
        self._fetched: dict[str, tuple[str, list[dict], float]] = {}  # name -> (url, keys, when)
        self._tried: dict[str, float] = {}  # name -> last fetch attempt
        self._fails: dict[str, int] = {}  # name -> failed fetches in a row
        self.background = None  # the last thread fetching a stale set

    def _reload(self, force: bool = False) -> None:
        now = self._clock()
        if not force and now - self._looked < self.table_ttl:
            return
        self._looked = now
        try:
            st = os.stat(self.path)
            seen = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            seen = None
        if seen == self._seen:
            return
        try:
            table = read_table(self.path) if seen is not None else {"authorities": {}}
            by_issuer = {}
            for name, entry in table["authorities"].items():
                got = self._fetched.get(name)
                keys = got[1] if got is not None and got[0] == entry.get("jwks_url") else entry.get("keys", [])
                a = _authority(name, entry, keys)
                by_issuer[a.issuer] = a
            builtin = _authority(BUILTIN_ISSUER, table.get("builtin", {}), [])
        except (AuthorityError, AttributeError, TypeError, ValueError) as e:
            # A table edited by hand into something unusable: the last good one
            # stays until the file changes again.
            log.error("%s: %s; the last good authority table stays", self.path, e)
            self._seen = seen
            return
        self._seen, self._by_issuer, self._entries = seen, by_issuer, table["authorities"]
        self._builtin = builtin

    def builtin(self) -> Authority:
        """The built-in key's revocations (`advm authority revoke advm ...`)."""
        self._reload()
        return self._builtin

    def generation(self):
        """Changes whenever the table file does (looked at at most once per table_ttl)."""
        self._reload()
        return self._seen

    def for_issuer(self, issuer) -> Authority | None:
        if not isinstance(issuer, str):
            return None
        self._reload()
        found = self._by_issuer.get(issuer)
        if found is None:
            self._reload(force=True)
            found = self._by_issuer.get(issuer)
        return found

    def _may_fetch(self, a: Authority) -> bool:
        """Whether a's JWKS may be fetched now (and, if so, the attempt counted).
        Each failure in a row doubles the wait before the next one (up to
        max_age), so a provider that does not answer costs the server at most
        one timeout that often."""
        now = self._clock()
        wait = min(self.refresh_interval * 2 ** min(self._fails.get(a.name, 0), 16), self.max_age)
        if a.jwks_url is None or now - self._tried.get(a.name, float("-inf")) < wait:
            return False
        self._tried[a.name] = now
        return True

    def _refresh_later(self, a: Authority) -> None:
        """A stale set is fetched again on a thread: the token at hand is checked
        with the set there is, and the next ones with the new set."""
        if self._may_fetch(a):
            self.background = threading.Thread(target=self._fetch, args=(a,), daemon=True,
                                               name=f"jwks-{a.name}")
            self.background.start()

    def _refresh(self, a: Authority) -> Authority:
        """Fetch a's JWKS again, while the token waits, if the rate allows; the
        last good set on failure."""
        return self._fetch(a) if self._may_fetch(a) else a

    def _fetch(self, a: Authority) -> Authority:
        now = self._clock()
        try:
            keys = fetch_jwks(a.jwks_url, self.fetch_timeout)
        except AuthorityError:
            self._fails[a.name] = self._fails.get(a.name, 0) + 1
            return a  # the last good set stays
        self._fails.pop(a.name, None)
        self._fetched[a.name] = (a.jwks_url, keys, now)
        fresh = _authority(a.name, self._entries.get(a.name, {}), keys)
        self._by_issuer[fresh.issuer] = fresh
        return fresh

    def key_for(self, a: Authority, header: dict):
        """(key, algorithm) for a token's header, or TokenError(bad_token)."""
        kid = header.get("kid")
        got = self._fetched.get(a.name)
        if a.jwks_url is not None:
            if got is None:  # not fetched by this process yet: the stored set may be old
                a = self._refresh(a)
            elif self._clock() - got[2] > self.max_age:
                self._refresh_later(a)
        for _ in range(2):
            match = [k for k in a.keys if k[0] == kid] or [k for k in a.keys if k[0] is None]
            if match:
                _, alg, key = match[0]
                return key, alg
            fresh = self._refresh(a)
            if fresh is a:
                break
            a = fresh
        raise TokenError("bad_token", f"authority {a.name} has no key {str(kid)[:64]!r}")


# ---------------------------------------------------------------- the table file (advm authority)


def read_table(path: Path) -> dict:
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return {"authorities": {}}
    except ValueError:
        raise AuthorityError(f"{path}: not JSON; fix or delete it") from None
    if not isinstance(data, dict) or not isinstance(data.get("authorities"), dict):
        raise AuthorityError(f"{path}: not an authority table")
    return data


@contextlib.contextmanager
def editing(directory: str | os.PathLike):
    """The table, to change in place; written whole and renamed into place."""
    path = Path(directory) / FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        table = read_table(path)
        yield table
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w") as f:
            json.dump(table, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)


def add(directory, name: str, *, keys: list[dict], jwks_url: str | None = None,
        issuer: str | None = None, audience: str | None = None) -> dict:
    check_name(name)
    with editing(directory) as table:
        if name not in table["authorities"] and len(table["authorities"]) >= MAX_AUTHORITIES:
            raise AuthorityError(f"there are {MAX_AUTHORITIES} authorities already; remove one first")
        iss = issuer or name
        for other, e in table["authorities"].items():
            if other != name and (e.get("issuer") or other) == iss:
                raise AuthorityError(f"authority {other} already has issuer {iss!r}")
        old = table["authorities"].get(name, {})
        entry = {"issuer": issuer, "audience": audience, "jwks_url": jwks_url, "keys": keys,
                 "revoked_jti": old.get("revoked_jti", []), "revoked_subjects": old.get("revoked_subjects", {})}
        table["authorities"][name] = entry
    return entry


def remove(directory, name: str) -> None:
    with editing(directory) as table:
        if table["authorities"].pop(name, None) is None:
            raise AuthorityError(f"no authority {name!r}")


def revoke(directory, name: str, *, jti: str | None = None, subject: str | None = None,
           before: float | None = None) -> dict:
    with editing(directory) as table:
        # the built-in key's tokens (advm token, identity/mint, document/authorize) by their full principal
        entry = table.setdefault("builtin", {}) if name == BUILTIN_ISSUER else table["authorities"].get(name)
        if entry is None:
            raise AuthorityError(f"no authority {name!r}")
        jtis, subjects = entry.setdefault("revoked_jti", []), entry.setdefault("revoked_subjects", {})
        if len(jtis) + len(subjects) >= MAX_REVOKED:
            raise AuthorityError(f"authority {name} has {MAX_REVOKED} revocations already")
        if jti is not None and jti not in jtis:
            jtis.append(jti)
        if subject is not None:
            subjects[subject] = max(float(before), subjects.get(subject, float("-inf")))
    return entry


def listing(directory) -> list[dict]:
    table = read_table(Path(directory) / FILE)
    return [{"name": n, "issuer": e.get("issuer") or n, "audience": e.get("audience"),
             "jwks_url": e.get("jwks_url"), "kids": [k.get("kid") for k in e.get("keys", [])],
             "revoked_jti": len(e.get("revoked_jti", [])), "revoked_subjects": len(e.get("revoked_subjects", {}))}
            for n, e in sorted(table["authorities"].items())]


__all__ = ["ALGORITHMS", "Authorities", "Authority", "AuthorityError", "FILE", "add", "check_name",
           "fetch_jwks", "listing", "parse_jwks", "pem_to_jwk", "read_table", "remove", "revoke"]
