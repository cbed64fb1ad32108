"""Identity: who a WebSocket client is, from a signed token.

A token is a JWT (RFC 7519), made with PyJWT. The server's own tokens are
HS256 under its secret key, with claims `{"sub": principal, "iat": s, "jti":
id, "exp": s (absent: no expiry, loopback servers only), "adm": true (admin
tokens)}` and no `iss`. The key is kept in the store directory (`token.key`,
32 random bytes, readable by its owner only), so `advm token alice` and the
server that checks the token agree without configuration, and deleting the
file revokes every such token at once. They are checked here (`_builtin`:
HS256 under the key, the claims), a fifth of PyJWT's cost; PyJWT checks the
tokens of authorities.

A token whose `iss` names a registered authority (`advm authority add`,
net/authorities.py) is checked with that authority's public keys (RS256,
ES256, EdDSA: each key verifies its own algorithm only) and names
`sub@NAME`. The `advm1.` tokens of earlier versions are refused with a
message that says how to get a new one.

Anonymous principals are never in tokens: a client that says `anonymous` is
given a fresh `guest-...@anonymous` principal by the server, and the
document's own policies (`@static create`/`invent`, `@connected`) decide what
such a visitor may do (they can test `@who.isAnonymous()`).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import time
import weakref
from pathlib import Path

import jwt

from ..vm.docslots import NO_ONE, agent_of, as_principal, authority_of

OLD_PREFIX = "advm1"
BUILTIN_ISSUER = "advm"  # the built-in key's tokens carry no iss, or this one
BUILTIN_ALG = "HS256"
KEY_FILE = "token.key"
KEY_BYTES = 32
ANONYMOUS = "anonymous"
MAX_TOKEN = 4096  # characters; a longer identity is refused before any work
SEEN = 1024  # verified tokens remembered (Tokens.check), the oldest forgotten first
LEEWAY = 60  # seconds of clock skew allowed on exp and nbf of an authority's tokens
_B64 = re.compile(r"[A-Za-z0-9_-]*", re.ASCII)


class TokenError(Exception):
    """A token that cannot be used; `code` is the protocol's failure reason."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_HEADER = _b64(b'{"alg":"HS256","typ":"JWT"}')  # the built-in key's tokens' header, as PyJWT writes it


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _json_part(text: str) -> dict | None:
    """A token's header or payload (base64url, already checked): the JSON
    object it holds, or None (not UTF-8 JSON, or not an object, as PyJWT
    refuses them)."""
    if len(text) % 4 == 1:
        return None
    try:
        value = json.loads(_unb64(text))
    except ValueError:  # binascii.Error and UnicodeDecodeError included
        return None
    return value if type(value) is dict else None


def load_key(directory: str | os.PathLike, create: bool = True) -> bytes:
    """The server's signing key from `directory/token.key`, made on first use."""
    path = Path(directory) / KEY_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        if not create:
            raise
        path.parent.mkdir(parents=True, exist_ok=True)
        raw = secrets.token_hex(KEY_BYTES).encode("ascii")
        # O_EXCL: when two processes race to make the key, one wins and the
        # other reads the winner's key instead of overwriting it.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return load_key(directory, create=False)
        with os.fdopen(fd, "wb") as f:
            f.write(raw + b"\n")
        return bytes.fromhex(raw.decode("ascii"))
    try:
        key = bytes.fromhex(raw.decode("ascii").strip())
    except ValueError:
        raise TokenError("bad_key", f"{path}: not a hex key; delete it to make a new one") from None
    if len(key) < KEY_BYTES:
        raise TokenError("bad_key", f"{path}: the key is shorter than {KEY_BYTES} bytes; delete it to make a new one")
    return key


# The grammar of a principal a token may name (spec/protocol.md 8.5):
#   principal := agent ["@" authority]     (a bare agent has the empty authority)
#   agent     := name                      (1 to 128 characters)
#   authority := "" | name                 (0 to 128 characters)
#   name      := [A-Za-z0-9] [A-Za-z0-9._+-]*
# Everything else is refused: the runtime's `@no_one` ("?@?", the value of
# every unset principal field, which a token must never match), the empty
# agent, spaces, control characters, an "@" in the agent. (The `sub` of an
# authority's token is read more widely: `subject_problem` below.) The authority
# `anonymous` is reserved for the guests the server makes itself.
_NAME = r"[A-Za-z0-9][A-Za-z0-9._+\-]{0,127}"
PRINCIPAL = re.compile(_NAME, re.ASCII)  # an agent, or a non-empty authority
GRAMMAR = ("agent@authority or a bare agent: the agent 1 to 128 of A-Z a-z 0-9 . _ + -, "
           "starting with a letter or digit; the authority empty or the same")


def check_principal(principal: str) -> str:
    """A principal a token may name, in its full form `agent@authority`, or
    TokenError("bad_principal") saying what is wrong (the grammar above). It is
    split as everywhere else (vm/docslots.py `as_principal`): the authority is
    what follows the last `@`, a text without `@` is a bare agent."""
    if not isinstance(principal, str) or not principal:
        raise TokenError("bad_principal", f"a principal is {GRAMMAR}")
    full = as_principal(principal)
    agent, authority = agent_of(full), authority_of(full)
    if (len(principal) > 2 * 128 + 1 or not PRINCIPAL.fullmatch(agent)
            or (authority and not PRINCIPAL.fullmatch(authority))):
        what = "the runtime's @no_one" if principal == NO_ONE else repr(principal[:140])
        raise TokenError("bad_principal", f"{what} is not a principal a token may name: "
                         f"expected {GRAMMAR}")
    if authority == ANONYMOUS:
        raise TokenError("bad_principal", "anonymous principals are made by the server, not signed")
    return full


# The `sub` of an authority's token (an identity provider's user id) is the
# agent as the provider wrote it: `auth0|507f...`, `ann@example.com`, a UUID,
# Google's digits. Any 1 to MAX_SUBJECT characters that are printable and not
# white space (no control, format, separator, private-use, unassigned or lone
# surrogate code points); `@` is allowed, since the principal `sub@NAME` is
# split at its last `@` and NAME (the authority grammar) has none.
MAX_SUBJECT = 256


def subject_problem(sub) -> str | None:
    """Why an authority token's `sub` cannot be an agent, or None."""
    if not isinstance(sub, str) or not sub:
        return "the token's sub must be a non-empty string"
    if len(sub) > MAX_SUBJECT:
        return f"the token's sub is longer than {MAX_SUBJECT} characters"
    for c in sub:
        if not c.isprintable() or c.isspace():
            return (f"the token's sub holds {c!r} (U+{ord(c):04X}): an agent is 1 to {MAX_SUBJECT} "
                    "printable characters without white space")
    return None


class Tokens:
    """Mints and checks JWTs (RFC 7519, checked with PyJWT). The built-in key
    signs HS256 tokens without `iss` (or with `iss: "advm"`); a token whose
    `iss` names a registered authority (net/authorities.py) is checked with that
    authority's public keys and names `sub@NAME`.

    `clock` gives seconds (tests replace it to see expiry without waiting);
    `require_exp`: a token without `exp` is refused (a server that listens
    beyond loopback, spec/protocol.md 8.5); `authorities`: the table of
    registered authorities, or None for the built-in key alone."""

    def __init__(self, key: bytes, clock=time.time, *, require_exp: bool = False, authorities=None):
        if len(key) < KEY_BYTES:
            raise TokenError("bad_key", f"the signing key is {len(key)} bytes; HS256 needs {KEY_BYTES}")
        self._key = key
        self._clock = clock
        self.require_exp = require_exp
        self.authorities = authorities
        self._watched = weakref.WeakKeyDictionary()  # open stream -> its authority token's claims
        self._generation = None  # the authority table revoked_streams() last looked at
        self._seen: dict = {}  # token -> (principal, admin, payload, authority or None), verified

    @classmethod
    def from_store_dir(cls, directory: str | os.PathLike, **kw) -> "Tokens":
        from .authorities import Authorities

        kw.setdefault("authorities", Authorities(directory, clock=kw.get("clock", time.time)))
        return cls(load_key(directory), **kw)

    def mint(self, principal: str, ttl: float | None = None, *, admin: bool = False) -> str:
        """A token for `principal`, valid for `ttl` seconds (None: no `exp`,
        accepted on loopback servers only). `admin`: it also opens the server's
        admin/* methods (spec/protocol.md 8.11)."""
        principal = check_principal(principal)
        now = int(self._clock())
        body = {"sub": principal, "iat": now, "jti": secrets.token_urlsafe(12)}
        if ttl is not None:
            body["exp"] = now + int(ttl)
        if admin:
            body["adm"] = True
        # What jwt.encode(body, key, algorithm="HS256") makes, byte for byte
        # (tests/net/test_token_check.py), at a quarter of its cost.
        signed = f"{_HEADER}.{_b64(json.dumps(body, separators=(',', ':')).encode())}"
        return f"{signed}.{_b64(hmac.new(self._key, signed.encode('ascii'), hashlib.sha256).digest())}"

    def verify(self, token) -> str:
        """The principal a token names, or TokenError (bad_token, expired_token,
        revoked_token)."""
        return self.claims(token)[0]

    def claims(self, token) -> tuple[str, bool]:
        """(principal, admin) of a token, or TokenError as verify()."""
        return self.check(token)[:2]

    def check(self, token) -> tuple[str, bool, dict]:
        """(principal, admin, payload) of a token, or TokenError. A token seen
        before is not decoded again (a request names its identity each time):
        its times and revocation are checked again, and an authority's token
        is checked whole again once the table or the authority's keys changed."""
        hit = self._seen.get(token) if type(token) is str else None
        if hit is not None:
            principal, admin, payload, authority, builtin = hit
            if self._authority_of(payload, builtin) is authority:
                self._times(payload, 0 if builtin else LEEWAY)
                reason = None if authority is None else authority.revoked(payload)
                if reason is not None:
                    raise TokenError("revoked_token", reason)
                return principal, admin, payload
            del self._seen[token]
        found = self._check(token)
        if len(self._seen) >= SEEN:
            self._seen.pop(next(iter(self._seen)))
        self._seen[token] = found
        return found[:3]

    def _authority_of(self, payload: dict, builtin: bool):
        """What checks a token's revocation now: the table's built-in entry, or
        the authority of its iss (None: no table, or no such authority)."""
        if self.authorities is None:
            return None
        return self.authorities.builtin() if builtin else self.authorities.for_issuer(payload.get("iss"))

    def _check(self, token) -> tuple[str, bool, dict, object, bool]:
        if not isinstance(token, str) or not token:
            raise TokenError("bad_token", "an identity is a token string")
        if len(token) > MAX_TOKEN:
            raise TokenError("bad_token", f"the token is {len(token)} characters; at most {MAX_TOKEN}")
        if token.startswith(OLD_PREFIX + "."):
            raise TokenError("bad_token", "advm1 tokens are no longer accepted: tokens are JWTs now; "
                             "get a new one with `advm token NAME` (or identity/mint on a development server)")
        parts = token.split(".")
        if len(parts) != 3 or not all(_B64.fullmatch(p) for p in parts) or not parts[2]:
            raise TokenError("bad_token", "not a JWT (expected header.payload.signature, base64url)")
        # One signature, one spelling: the last character's unused bits must be
        # zero, so a token cannot be altered into another string that verifies.
        if _b64(_unb64(parts[2])) != parts[2]:
            raise TokenError("bad_token", "the token's signature is not canonical base64url")
        header, unverified = _json_part(parts[0]), _json_part(parts[1])
        if header is None or unverified is None:
            raise TokenError("bad_token", "the token's header or payload is not readable")
        issuer = unverified.get("iss")
        if issuer is None or issuer == BUILTIN_ISSUER:
            payload = self._builtin(parts, header, unverified)
            try:
                principal = check_principal(payload.get("sub"))
            except TokenError as e:
                raise TokenError("bad_token", e.message) from None
            authority = self._authority_of(payload, True)
            reason = None if authority is None else authority.revoked(payload)
            if reason is not None:
                raise TokenError("revoked_token", reason)
            return principal, payload.get("adm") is True, payload, authority, True
        if self.authorities is None:
            raise TokenError("bad_token", f"no authority is registered for issuer {str(issuer)[:140]!r}")
        authority = self.authorities.for_issuer(issuer)
        if authority is None:
            raise TokenError("bad_token", f"no authority is registered for issuer {str(issuer)[:140]!r} "
                             "(advm authority add NAME ... --issuer I)")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenError("bad_token", "the token's header or payload is not readable") from None
        key, alg = self.authorities.key_for(authority, header)
        payload = self._decode(token, key, [alg], header, leeway=LEEWAY, audience=authority.audience,
                               issuer=issuer)
        sub = payload.get("sub")
        problem = subject_problem(sub)
        if problem is not None:
            raise TokenError("bad_token", problem)
        principal = f"{sub}@{authority.name}"  # NAME: the authority grammar, never anonymous
        reason = authority.revoked(payload)
        if reason is not None:
            raise TokenError("revoked_token", reason)
        return principal, False, payload, authority, False

    def watch(self, stream, identity) -> None:
        """Remember the claims of the token a stream was opened with (just
        verified, so remembered by check()), so that revoked_streams() can end it."""
        hit = self._seen.get(identity) if type(identity) is str else None
        if hit is not None and hit[3] is not None:
            self._watched[stream] = (hit[2], hit[4])

    def revoked_streams(self) -> list:
        """[(stream, reason)] of the watched open streams whose token the
        authority table now refuses (revoked, or its authority removed); each
        is forgotten once named. Looks only when the table changed."""
        if self.authorities is None or not self._watched:
            return []
        generation = self.authorities.generation()
        if generation == self._generation:
            return []
        self._generation = generation
        out = []
        for stream, (payload, builtin) in list(self._watched.items()):
            if not getattr(stream, "open", True):
                self._watched.pop(stream, None)
                continue
            a = self._authority_of(payload, builtin)
            reason = (f"the authority of issuer {str(payload.get('iss'))[:140]!r} was removed"
                      if a is None else a.revoked(payload))
            if reason is not None:
                self._watched.pop(stream, None)
                out.append((stream, reason))
        return out

    def _builtin(self, parts: list, header: dict, payload: dict) -> dict:
        """The payload of a token of the built-in key, its HS256 signature and
        claims checked here rather than by PyJWT, whose pure-Python checks of
        each base64url character made a token's first check cost about 1 ms,
        most of what a reconnect costs the event loop (bench/README.md, issue
        23). Checked as `_decode` has PyJWT check them: the header's alg is
        HS256 (the one accepted), the signature is HMAC-SHA256 under the key
        over `header.payload` (compared in constant time), `sub` is present
        (and `exp` where required), then the times. The parts are base64url
        (`_check`); the header and payload are JSON objects (`_json_part`)."""
        alg = header.get("alg")
        if alg != BUILTIN_ALG:
            raise TokenError("bad_token", f"the token's alg {str(alg)[:20]!r} is not accepted here "
                             f"(this key verifies {BUILTIN_ALG})")
        signed = f"{parts[0]}.{parts[1]}".encode("ascii")
        if not hmac.compare_digest(hmac.new(self._key, signed, hashlib.sha256).digest(), _unb64(parts[2])):
            raise TokenError("bad_token", "the token's signature does not match the key")
        for claim in (("sub", "exp") if self.require_exp else ("sub",)):
            if payload.get(claim) is None:
                if claim == "exp":
                    raise TokenError("bad_token", "the token has no exp: this server takes only tokens "
                                     "that expire (advm token NAME --ttl SECONDS)")
                raise TokenError("bad_token", f"the token has no {claim}")
        self._times(payload, 0)
        return payload

    def _decode(self, token: str, key, algorithms: list, header: dict, *, leeway: int,
                audience=None, issuer=None) -> dict:
        alg = header.get("alg")
        if alg not in algorithms:
            raise TokenError("bad_token", f"the token's alg {str(alg)[:20]!r} is not accepted here "
                             f"(this key verifies {', '.join(algorithms)})")
        required = ["sub", "exp"] if self.require_exp else ["sub"]
        options = {"verify_exp": False, "verify_nbf": False, "verify_iat": False,
                   "verify_aud": audience is not None, "verify_iss": issuer is not None,
                   "require": required, "enforce_minimum_key_length": True}
        try:
            payload = jwt.decode(token, key, algorithms=algorithms, options=options,
                                 audience=audience, issuer=issuer)
        except jwt.MissingRequiredClaimError as e:
            if e.claim == "exp":
                raise TokenError("bad_token", "the token has no exp: this server takes only tokens "
                                 "that expire (advm token NAME --ttl SECONDS)") from None
            raise TokenError("bad_token", f"the token has no {e.claim}") from None
        except jwt.InvalidAudienceError:
            raise TokenError("bad_token", "the token's aud is not this authority's audience") from None
        except jwt.InvalidIssuerError:
            raise TokenError("bad_token", "the token's iss is not this authority's issuer") from None
        except jwt.InvalidSignatureError:
            raise TokenError("bad_token", "the token's signature does not match the key") from None
        except jwt.PyJWTError as e:
            raise TokenError("bad_token", f"the token cannot be checked: {str(e)[:200]}") from None
        self._times(payload, leeway)
        return payload

    def _times(self, payload: dict, leeway: int) -> None:
        now = self._clock()
        exp, nbf = payload.get("exp"), payload.get("nbf")
        if exp is not None and (type(exp) is not int or now >= exp + leeway):
            raise TokenError("expired_token", "the token has expired; ask for a new one")
        if nbf is not None and (type(nbf) is not int or now < nbf - leeway):
            raise TokenError("bad_token", "the token is not valid yet (nbf)")


def anonymous_principal() -> str:
    """A fresh visitor: unique, unguessable, and recognisably anonymous."""
    return f"guest-{secrets.token_hex(6)}@{ANONYMOUS}"


__all__ = ["ANONYMOUS", "BUILTIN_ISSUER", "KEY_FILE", "LEEWAY", "MAX_TOKEN", "TokenError", "Tokens", "anonymous_principal",
           "GRAMMAR", "MAX_SUBJECT", "check_principal", "load_key", "subject_problem"]
