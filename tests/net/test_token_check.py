"""The built-in key's tokens are checked by net/tokens.py itself (HS256,
`Tokens._builtin`), not by PyJWT (whose per-character base64url checks cost
about 1 ms a token, most of a reconnect's work on the event loop). These
tokens are made here with PyJWT and by hand, signed with the right key, so
that only the check under test can refuse them; PyJWT's own verdict is the
oracle for the ones it accepts."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json

import jwt
import pytest

from advm.net.tokens import TokenError, Tokens

KEY = b"k" * 32


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def signed(header, payload, key: bytes = KEY) -> str:
    """A token of exactly this header and payload (any JSON), HMAC-SHA256 signed."""
    head = b64(json.dumps(header).encode()) if not isinstance(header, bytes) else b64(header)
    body = b64(json.dumps(payload).encode()) if not isinstance(payload, bytes) else b64(payload)
    sig = hmac.new(key, f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64(sig)}"


def refused(token: str, tokens: Tokens | None = None) -> str:
    with pytest.raises(TokenError) as e:
        (tokens or Tokens(KEY)).verify(token)
    assert e.value.code == "bad_token"
    return e.value.message


def test_the_check_agrees_with_pyjwt_on_good_tokens():
    t = Tokens(KEY)
    for token in (t.mint("alice"), t.mint("bob@users", ttl=60), t.mint("root", admin=True),
                  jwt.encode({"sub": "cy@lab", "iat": 1, "extra": [1, {"x": None}]}, KEY, algorithm="HS256"),
                  jwt.encode({"sub": "dee", "iss": "advm"}, KEY, algorithm="HS256")):
        fresh = Tokens(KEY)
        principal, admin, payload = fresh.check(token)
        oracle = jwt.decode(token, KEY, algorithms=["HS256"], options={"verify_exp": False})
        assert payload == oracle
        assert principal == (oracle["sub"] if "@" in oracle["sub"] else oracle["sub"] + "@")
        assert admin is (oracle.get("adm") is True)


@pytest.mark.parametrize("header", [
    {"alg": "none", "typ": "JWT"},
    {"alg": "HS512", "typ": "JWT"},
    {"alg": "RS256", "typ": "JWT"},
    {"typ": "JWT"},
    {"alg": ["HS256"]},
])
def test_only_hs256_under_the_key(header):
    assert "alg" in refused(signed(header, {"sub": "alice"}))


@pytest.mark.parametrize("header, payload", [
    (b"not json", {"sub": "alice"}),
    ({"alg": "HS256"}, b"not json"),
    ([1, 2], {"sub": "alice"}),
    ({"alg": "HS256"}, ["sub", "alice"]),
    ({"alg": "HS256"}, "alice"),
    ({"alg": "HS256"}, b"\xff\xfe"),
])
def test_a_header_or_payload_that_is_not_an_object(header, payload):
    assert "not readable" in refused(signed(header, payload))


def test_claims_and_times():
    assert "no sub" in refused(signed({"alg": "HS256"}, {"iat": 1}))
    assert "no sub" in refused(signed({"alg": "HS256"}, {"sub": None}))
    refused(signed({"alg": "HS256"}, {"sub": 7}))
    refused(signed({"alg": "HS256"}, {"sub": "x@anonymous"}))
    strict = Tokens(KEY, require_exp=True)
    assert "no exp" in refused(signed({"alg": "HS256"}, {"sub": "alice"}), strict)
    assert strict.verify(signed({"alg": "HS256"}, {"sub": "alice", "exp": 2 ** 40})) == "alice@"
    with pytest.raises(TokenError) as e:
        Tokens(KEY).verify(signed({"alg": "HS256"}, {"sub": "alice", "exp": 5}))
    assert e.value.code == "expired_token"
    assert "nbf" in refused(signed({"alg": "HS256"}, {"sub": "alice", "nbf": 2 ** 40}))


def test_the_signature_is_over_both_parts_under_this_key():
    good = signed({"alg": "HS256"}, {"sub": "alice"})
    head, body, sig = good.split(".")
    other = signed({"alg": "HS256"}, {"sub": "mallory"}).split(".")[1]
    assert "does not match" in refused(f"{head}.{other}.{sig}")
    assert "does not match" in refused(signed({"alg": "HS256"}, {"sub": "alice"}, key=b"j" * 32))
    assert "does not match" in refused(f"{head}.{body}.{b64(b'x' * 32)}")
    assert Tokens(KEY).verify(good) == "alice@"


def test_minted_tokens_are_what_pyjwt_makes():
    """Tokens.mint writes the token itself; it is PyJWT's, byte for byte."""
    t = Tokens(KEY)
    for token in (t.mint("alice"), t.mint("bob@users", ttl=60), t.mint("root", admin=True)):
        payload = jwt.decode(token, KEY, algorithms=["HS256"], options={"verify_exp": False})
        assert jwt.encode(payload, KEY, algorithm="HS256") == token
        assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
