"""Identity: who a WebSocket client is, from a signed token.

A token is `advm1.<payload>.<signature>`: the payload is base64url JSON
`{"sub": principal, "iat": seconds, "exp": seconds | null}` and the signature
is HMAC-SHA256 of `advm1.<payload>` under the server's secret key. The key is
kept in the store directory (`token.key`, 32 random bytes, readable by its
owner only), so `advm token alice` and the server that checks the token agree
without configuration, and deleting the file revokes every token at once.

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
from pathlib import Path

from ..vm.docslots import NO_ONE

PREFIX = "advm1"
KEY_FILE = "token.key"
KEY_BYTES = 32
ANONYMOUS = "anonymous"
MAX_TOKEN = 4096  # bytes; a longer identity is refused before any work


class TokenError(Exception):
    """A token that cannot be used; `code` is the protocol's failure reason."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


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
    if len(key) < 16:
        raise TokenError("bad_key", f"{path}: the key is too short; delete it to make a new one")
    return key


# The grammar of a principal a token may name (spec/protocol.md 8.5):
#   principal := agent ["@" authority]     (a bare agent has the empty authority)
#   agent     := name                      (1 to 128 characters)
#   authority := "" | name                 (0 to 128 characters)
#   name      := [A-Za-z0-9] [A-Za-z0-9._+-]*
# Everything else is refused: the runtime's `@no_one` ("?@?", the value of
# every unset principal field, which a token must never match), the empty
# agent, spaces, control characters, a second "@". The authority
# `anonymous` is reserved for the guests the server makes itself.
_NAME = r"[A-Za-z0-9][A-Za-z0-9._+\-]{0,127}"
PRINCIPAL = re.compile(rf"(?P<agent>{_NAME})(?:@(?P<authority>(?:{_NAME})?))?", re.ASCII)
GRAMMAR = ("agent@authority or a bare agent: the agent 1 to 128 of A-Z a-z 0-9 . _ + -, "
           "starting with a letter or digit; the authority empty or the same")


def check_principal(principal: str) -> str:
    """A principal a token may name, in its full form `agent@authority`, or
    TokenError("bad_principal") saying what is wrong (the grammar above)."""
    if not isinstance(principal, str) or not principal:
        raise TokenError("bad_principal", f"a principal is {GRAMMAR}")
    m = PRINCIPAL.fullmatch(principal)
    if m is None:
        what = "the runtime's @no_one" if principal == NO_ONE else repr(principal[:140])
        raise TokenError("bad_principal", f"{what} is not a principal a token may name: "
                         f"expected {GRAMMAR}")
    agent, authority = m.group("agent"), m.group("authority") or ""
    if authority == ANONYMOUS:
        raise TokenError("bad_principal", "anonymous principals are made by the server, not signed")
    return f"{agent}@{authority}"


class Tokens:
    """Mints and checks tokens with one key. `clock` gives seconds (tests
    replace it to see expiry without waiting)."""

    def __init__(self, key: bytes, clock=time.time):
        self._key = key
        self._clock = clock

    @classmethod
    def from_store_dir(cls, directory: str | os.PathLike, **kw) -> "Tokens":
        return cls(load_key(directory), **kw)

    def _sign(self, head: bytes) -> str:
        return _b64(hmac.new(self._key, head, hashlib.sha256).digest())

    def mint(self, principal: str, ttl: float | None = None, *, admin: bool = False) -> str:
        """A token for `principal`, valid for `ttl` seconds (None: no expiry).
        `admin`: it also opens the server's admin/* methods (spec/protocol.md 8.11)."""
        principal = check_principal(principal)
        now = int(self._clock())
        body = {"sub": principal, "iat": now, "exp": None if ttl is None else now + int(ttl)}
        if admin:
            body["adm"] = True
        payload = _b64(json.dumps(body, separators=(",", ":")).encode("utf-8"))
        head = f"{PREFIX}.{payload}"
        return f"{head}.{self._sign(head.encode('ascii'))}"

    def verify(self, token) -> str:
        """The principal a token names, or TokenError (bad_token, expired_token)."""
        return self.claims(token)[0]

    def claims(self, token) -> tuple[str, bool]:
        """(principal, admin) of a token, or TokenError as verify()."""
        if not isinstance(token, str) or len(token) > MAX_TOKEN:
            raise TokenError("bad_token", "an identity is a token string")
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != PREFIX:
            raise TokenError("bad_token", "not an advm token (expected advm1.<payload>.<signature>)")
        head = f"{parts[0]}.{parts[1]}"
        try:
            good = hmac.compare_digest(self._sign(head.encode("ascii")), parts[2])
        except (UnicodeEncodeError, TypeError):
            good = False
        if not good:
            raise TokenError("bad_token", "the token's signature does not match this host's key")
        try:
            body = json.loads(_unb64(parts[1]))
            principal, exp = body["sub"], body.get("exp")
            admin = body.get("adm") is True
        except (ValueError, KeyError, TypeError, AttributeError):
            raise TokenError("bad_token", "the token's payload is not readable") from None
        if exp is not None and (type(exp) is not int or self._clock() >= exp):
            raise TokenError("expired_token", "the token has expired; ask for a new one")
        try:
            return check_principal(principal), admin
        except TokenError as e:
            raise TokenError("bad_token", e.message) from None


def anonymous_principal() -> str:
    """A fresh visitor: unique, unguessable, and recognisably anonymous."""
    return f"guest-{secrets.token_hex(6)}@{ANONYMOUS}"


__all__ = ["ANONYMOUS", "KEY_FILE", "TokenError", "Tokens", "anonymous_principal",
           "GRAMMAR", "check_principal", "load_key"]
