"""Signed identity tokens (net/tokens.py) and `advm token`."""
from __future__ import annotations

import json
import os
import stat

import pytest

from advm.cli import main
from advm.net.tokens import KEY_FILE, TokenError, Tokens, anonymous_principal, load_key


def test_a_token_names_its_principal():
    tokens = Tokens(b"k" * 32)
    assert tokens.verify(tokens.mint("alice")) == "alice@"
    assert tokens.verify(tokens.mint("bob@users")) == "bob@users"


def test_expiry_follows_the_clock():
    now = [1_000_000.0]
    tokens = Tokens(b"k" * 32, clock=lambda: now[0])
    token = tokens.mint("alice", ttl=60)
    now[0] += 59
    assert tokens.verify(token) == "alice@"
    now[0] += 1
    with pytest.raises(TokenError) as e:
        tokens.verify(token)
    assert e.value.code == "expired_token"
    forever = tokens.mint("alice")
    now[0] += 10 ** 9
    assert tokens.verify(forever) == "alice@"


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),      # signature
    lambda t: t.replace(".", ".e", 1),                      # payload
    lambda t: "advm2" + t[5:],                              # version
    lambda t: t.rsplit(".", 1)[0],                          # no signature
    lambda t: t + "." + t,                                  # extra part
    lambda t: "x" * 5000,                                   # far too long
])
def test_tampered_tokens_are_refused(mangle):
    tokens = Tokens(b"k" * 32)
    with pytest.raises(TokenError) as e:
        tokens.verify(mangle(tokens.mint("alice")))
    assert e.value.code == "bad_token"


def test_another_hosts_key_is_refused():
    with pytest.raises(TokenError) as e:
        Tokens(b"a" * 32).verify(Tokens(b"b" * 32).mint("alice"))
    assert e.value.code == "bad_token"


@pytest.mark.parametrize("name", ["", "@users", "x@anonymous", "y" * 300])
def test_principals_a_token_cannot_name(name):
    with pytest.raises(TokenError) as e:
        Tokens(b"k" * 32).mint(name)
    assert e.value.code == "bad_principal"


def test_anonymous_principals_are_fresh_and_anonymous():
    a, b = anonymous_principal(), anonymous_principal()
    assert a != b and a.endswith("@anonymous") and b.endswith("@anonymous")


def test_the_key_is_made_once_and_kept_private(tmp_path):
    key = load_key(tmp_path / "store")
    assert len(key) == 32
    assert load_key(tmp_path / "store") == key
    mode = stat.S_IMODE(os.stat(tmp_path / "store" / KEY_FILE).st_mode)
    assert mode == 0o600
    (tmp_path / "store" / KEY_FILE).write_text("not hex\n")
    with pytest.raises(TokenError) as e:
        load_key(tmp_path / "store")
    assert e.value.code == "bad_key"


def test_advm_token_prints_a_token_the_store_key_accepts(tmp_path, capsys):
    store = tmp_path / "s"
    assert main(["token", "alice@users", "--store", str(store)]) == 0
    token = capsys.readouterr().out.strip()
    assert Tokens.from_store_dir(store).verify(token) == "alice@users"
    assert main(["token", "bob", "--store", str(store), "--ttl", "0", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["principal"] == "bob@" and data["ttl"] is None
    assert Tokens.from_store_dir(store).verify(data["token"]) == "bob@"
    assert main(["token", "x@anonymous", "--store", str(store)]) == 2
    assert "anonymous" in capsys.readouterr().err


# The runtime's @no_one ("?@?") is the value of every unset principal field:
# a token naming it would match them all (issue 10, point 6).
@pytest.mark.parametrize("name", ["?@?", "?", "a@?", "?@corp", "alice bob", "a@b@c", "al\x00ice",
                                  "-alice", ".", "alice@corp@", "zoë", "x@" + "y" * 129])
def test_reserved_and_malformed_principals_are_refused(name):
    with pytest.raises(TokenError) as e:
        Tokens(b"k" * 32).mint(name)
    assert e.value.code == "bad_principal"
    assert "A-Z a-z 0-9" in e.value.message


def test_the_no_one_refusal_names_it():
    with pytest.raises(TokenError) as e:
        Tokens(b"k" * 32).mint("?@?")
    assert "@no_one" in e.value.message


def test_a_signed_token_for_a_reserved_principal_is_refused_on_verify():
    # A token signed by other code with the key (a JWT made by hand) that
    # carries "?@?": verify refuses it as it refuses any bad token.
    import jwt

    key = b"k" * 32
    for sub in ("?@?", "x@anonymous", "a b@c"):
        token = jwt.encode({"sub": sub, "iat": 0}, key, algorithm="HS256")
        with pytest.raises(TokenError) as e:
            Tokens(key).verify(token)
        assert e.value.code == "bad_token"


def test_tokens_are_hs256_jwts_and_the_signature_has_one_spelling():
    import jwt

    token = Tokens(b"k" * 32).mint("alice@users", ttl=60, admin=True)
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    body = jwt.decode(token, b"k" * 32, algorithms=["HS256"])
    assert body["sub"] == "alice@users" and body["exp"] - body["iat"] == 60 and body["adm"] is True
    # the last base64url character of a 32-byte signature has 2 unused bits:
    # setting them gives another string for the same bytes, which is refused
    head, sig = token.rsplit(".", 1)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = head + "." + sig[:-1] + alphabet[alphabet.index(sig[-1]) | 1]
    with pytest.raises(TokenError) as e:
        Tokens(b"k" * 32).verify(twin)
    assert e.value.code == "bad_token"


def test_advm_token_refuses_the_no_one_principal(tmp_path, capsys):
    assert main(["token", "?@?", "--store", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert "@no_one" in err and "A-Z a-z 0-9" in err


def test_minting_refuses_reserved_principals():
    from server_kit import run

    from advm.net.client import ClientError

    async def scenario(kit):
        async with kit.serve("public int x;", dev_tokens=True) as srv:
            guest = await kit.client(srv, identity="anonymous")
            for bad in ("?@?", "?", "a@?", "alice bob"):
                with pytest.raises(ClientError) as e:
                    await guest.request("identity/mint", principal=bad)
                assert e.value.reason == "bad_request" and "A-Z a-z 0-9" in e.value.message
            assert (await guest.request("identity/mint", principal="ok.name-1"))["principal"] \
                == "ok.name-1@"

    run(scenario)
