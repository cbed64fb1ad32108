"""Authorities (issue 24, spec/protocol.md 8.5): JWTs signed elsewhere, by an
identity provider this file runs on 127.0.0.1 (a JWKS over HTTP, keys made by
`cryptography`), become `sub@NAME`; keys rotate by kid; a JWKS outage keeps
the last good set; forged, expired, misaddressed and algorithm-confused
tokens are refused; revocation by jti and by subject."""
from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import json
import threading

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import RSAAlgorithm
from server_kit import run

from advm.cli import main
from advm.net.authorities import Authorities
from advm.net.client import ClientError
from advm.net.tokens import LEEWAY, MAX_SUBJECT, MAX_TOKEN, TokenError, Tokens
from advm.vm.docslots import agent_of, as_principal, authority_of

KEY = b"advm-test-key-0123456789abcdef!!"
NOW = 1_900_000_000


class IdP:
    """A tiny identity provider: serves its public keys as a JWKS, signs tokens."""

    def __init__(self):
        self.keys: dict[str, rsa.RSAPrivateKey] = {}
        self.down = False
        self.hits = 0
        idp = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                idp.hits += 1
                if idp.down:
                    self.send_response(503)
                    self.end_headers()
                    return
                body = json.dumps(idp.jwks()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def new_key(self, kid: str) -> None:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self) -> dict:
        return {"keys": [{**RSAAlgorithm.to_jwk(k.public_key(), as_dict=True), "kid": kid, "use": "sig"}
                         for kid, k in self.keys.items()]}

    def sign(self, kid: str, iss="corp", **claims) -> str:
        body = {"sub": "alice", "iss": iss, "iat": NOW, "exp": NOW + 600, **claims}
        return jwt.encode({k: v for k, v in body.items() if v is not None}, self.keys[kid],
                          algorithm="RS256", headers={"kid": kid})

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def idp():
    p = IdP()
    p.new_key("k1")
    yield p
    p.close()


def tokens_for(store, now=None, **kw) -> Tokens:
    clock = (lambda: now[0]) if now is not None else (lambda: NOW)
    kw.setdefault("refresh_interval", 30)
    return Tokens(KEY, clock=clock, authorities=Authorities(store, clock=clock, **kw))


def add(store, *args) -> int:
    return main(["authority", "add", *args, "--store", str(store)])


def test_a_jwks_url_authority_names_sub_at_name(tmp_path, idp, capsys):
    assert add(tmp_path, "corp", "--jwks-url", idp.url) == 0
    assert "1 key (kid k1)" in capsys.readouterr().out
    tokens = tokens_for(tmp_path)
    assert tokens.verify(idp.sign("k1")) == "alice@corp"
    # an authority's token never opens the admin methods, whatever it claims
    assert tokens.claims(idp.sign("k1", adm=True)) == ("alice@corp", False)


def test_rotation_unknown_kid_and_the_refresh_rate(tmp_path, idp):
    assert add(tmp_path, "corp", "--jwks-url", idp.url) == 0
    now = [float(NOW)]
    tokens = tokens_for(tmp_path, now)
    assert tokens.verify(idp.sign("k1")) == "alice@corp"
    hits = idp.hits
    idp.new_key("k2")  # the provider rotates: a token with the new kid makes the server fetch again
    now[0] += 31
    assert tokens.verify(idp.sign("k2")) == "alice@corp"
    assert idp.hits == hits + 1
    assert tokens.verify(idp.sign("k1")) == "alice@corp"  # the old key is still published
    # A kid nobody published: one fetch, then none until the interval has passed.
    k3 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged_kid = jwt.encode({"sub": "alice", "iss": "corp", "iat": NOW, "exp": NOW + 600}, k3,
                            algorithm="RS256", headers={"kid": "k3"})
    now[0] += 31
    for _ in range(5):
        with pytest.raises(TokenError) as e:
            tokens.verify(forged_kid)
        assert e.value.code == "bad_token" and "no key 'k3'" in e.value.message
    assert idp.hits == hits + 2


def test_a_jwks_outage_keeps_the_last_good_set(tmp_path, idp):
    assert add(tmp_path, "corp", "--jwks-url", idp.url) == 0
    idp.down = True
    # a server started during the outage uses the set stored by `advm authority add`
    now = [float(NOW)]
    tokens = tokens_for(tmp_path, now)
    assert tokens.verify(idp.sign("k1")) == "alice@corp"
    idp.down = False
    idp.new_key("k2")
    now[0] += 31  # one failure in a row: the next fetch waits twice the interval
    with pytest.raises(TokenError):
        tokens.verify(idp.sign("k2"))
    now[0] += 30
    assert tokens.verify(idp.sign("k2")) == "alice@corp"
    idp.down = True
    now[0] += 10_000  # the fetched set is old and the provider is down: it stays
    later = int(now[0]) + 600
    assert tokens.verify(idp.sign("k2", exp=later)) == "alice@corp"
    assert tokens.verify(idp.sign("k1", exp=later)) == "alice@corp"


def _hs256(header: dict, body: dict, secret: bytes) -> str:
    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    head = b64(json.dumps(header).encode()) + "." + b64(json.dumps(body).encode())
    return head + "." + b64(hmac.new(secret, head.encode(), hashlib.sha256).digest())


def test_forged_expired_misaddressed_and_confused_tokens_are_refused(tmp_path, idp):
    assert add(tmp_path, "corp", "--jwks-url", idp.url, "--audience", "app") == 0
    tokens = tokens_for(tmp_path)
    assert tokens.verify(idp.sign("k1", aud="app")) == "alice@corp"
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = idp.keys["k1"].public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    body = {"sub": "alice", "iss": "corp", "aud": "app", "iat": NOW, "exp": NOW + 600}
    cases = {
        "forged": (jwt.encode(body, other, algorithm="RS256", headers={"kid": "k1"}), "bad_token"),
        "expired": (idp.sign("k1", aud="app", exp=NOW - LEEWAY), "expired_token"),
        "wrong issuer": (idp.sign("k1", aud="app", iss="evil"), "bad_token"),
        "wrong audience": (idp.sign("k1", aud="other"), "bad_token"),
        "no audience": (idp.sign("k1"), "bad_token"),
        "not yet valid": (idp.sign("k1", aud="app", nbf=NOW + LEEWAY + 1), "bad_token"),
        "alg none": (jwt.encode(body, None, algorithm="none", headers={"kid": "k1"}), "bad_token"),
        "HS256 signed with the public key": (_hs256({"alg": "HS256", "typ": "JWT", "kid": "k1"}, body,
                                                    public_pem), "bad_token"),
        "no sub": (idp.sign("k1", aud="app", sub=None), "bad_token"),
        "empty sub": (idp.sign("k1", aud="app", sub=""), "bad_token"),
        "sub not a string": (idp.sign("k1", aud="app", sub=12), "bad_token"),
        "sub with a space": (idp.sign("k1", aud="app", sub="ann smith"), "bad_token"),
        "sub with a control character": (idp.sign("k1", aud="app", sub="ann\x00"), "bad_token"),
        "sub with a lone surrogate": (idp.sign("k1", aud="app", sub="ann\ud800"), "bad_token"),
    }
    for what, (token, code) in cases.items():
        with pytest.raises(TokenError) as e:
            tokens.verify(token)
        assert e.value.code == code, what
    # A sub with an `@` stays this authority's agent: the principal is split at its last `@`.
    who = tokens.verify(idp.sign("k1", aud="app", sub="root@advm"))
    assert who == "root@advm@corp" and as_principal(who) == who
    assert (agent_of(who), authority_of(who)) == ("root@advm", "corp")
    # within the documented skew: still accepted
    assert tokens.verify(idp.sign("k1", aud="app", exp=NOW - LEEWAY + 1)) == "alice@corp"
    assert tokens.verify(idp.sign("k1", aud="app", nbf=NOW + LEEWAY)) == "alice@corp"
    # The built-in key verifies HS256 only: an RS256 token without iss is refused too.
    with pytest.raises(TokenError) as e:
        tokens.verify(jwt.encode({"sub": "alice"}, other, algorithm="RS256"))
    assert e.value.code == "bad_token" and "HS256" in e.value.message


def test_pem_and_jwks_files_for_es256_and_eddsa(tmp_path):
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ed_key = ed25519.Ed25519PrivateKey.generate()
    pem = tmp_path / "ec.pem"
    pem.write_bytes(ec_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    from jwt.algorithms import OKPAlgorithm

    jwks = tmp_path / "keys.json"
    jwks.write_text(json.dumps({"keys": [{**OKPAlgorithm.to_jwk(ed_key.public_key(), as_dict=True),
                                          "kid": "ed1"}]}))
    store = tmp_path / "s"
    assert add(store, "shop", "--pem", str(pem)) == 0
    assert add(store, "games", "--jwks", str(jwks), "--issuer", "https://games.example/") == 0
    tokens = tokens_for(store)
    t1 = jwt.encode({"sub": "bob", "iss": "shop", "exp": NOW + 60}, ec_key, algorithm="ES256")
    t2 = jwt.encode({"sub": "carol", "iss": "https://games.example/", "exp": NOW + 60}, ed_key,
                    algorithm="EdDSA", headers={"kid": "ed1"})
    assert tokens.verify(t1) == "bob@shop" and tokens.verify(t2) == "carol@games"
    # games's tokens carry its issuer, not its name
    with pytest.raises(TokenError):
        tokens.verify(jwt.encode({"sub": "carol", "iss": "games", "exp": NOW + 60}, ed_key,
                                 algorithm="EdDSA", headers={"kid": "ed1"}))


@pytest.mark.parametrize("name", ["advm", "anonymous", "doc.main", "", "a b", "x" * 129])
def test_reserved_and_malformed_authority_names_cannot_be_registered(tmp_path, idp, name, capsys):
    assert add(tmp_path, name, "--jwks-url", idp.url) == 2
    err = capsys.readouterr().err
    assert "is reserved" in err or "not an authority name" in err


def test_reserved_names_say_why(tmp_path, idp, capsys):
    for name in ("advm", "anonymous", "doc.main"):
        assert add(tmp_path, name, "--jwks-url", idp.url) == 2
        assert "is reserved" in capsys.readouterr().err


def test_private_and_symmetric_keys_are_refused(tmp_path, capsys):
    k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "private.pem"
    pem.write_bytes(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    assert add(tmp_path / "s", "corp", "--pem", str(pem)) == 2
    assert "private key" in capsys.readouterr().err
    oct_set = tmp_path / "oct.json"
    oct_set.write_text(json.dumps({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}]}))
    assert add(tmp_path / "s", "corp", "--jwks", str(oct_set)) == 2
    assert "symmetric" in capsys.readouterr().err


def test_changes_take_effect_without_a_restart(tmp_path, idp, capsys):
    now = [float(NOW)]
    tokens = tokens_for(tmp_path, now)
    token = idp.sign("k1")
    with pytest.raises(TokenError):
        tokens.verify(token)
    assert add(tmp_path, "corp", "--jwks-url", idp.url) == 0  # an unknown issuer re-reads at once
    assert tokens.verify(token) == "alice@corp"
    capsys.readouterr()
    assert main(["authority", "list", "--store", str(tmp_path), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert (row["name"], row["issuer"], row["jwks_url"], row["kids"]) == ("corp", "corp", idp.url, ["k1"])
    assert main(["authority", "list", "--store", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("corp\tiss=corp\taud=-\t" + idp.url)
    assert main(["authority", "remove", "corp", "--store", str(tmp_path)]) == 0
    now[0] += 2  # the table is looked at again within a second
    with pytest.raises(TokenError) as e:
        tokens.verify(token)
    assert "no authority" in e.value.message


def test_revocation_by_jti_and_by_subject(tmp_path, idp):
    assert add(tmp_path, "corp", "--jwks-url", idp.url) == 0
    now = [float(NOW)]
    tokens = tokens_for(tmp_path, now)
    first, second = idp.sign("k1", jti="a1"), idp.sign("k1", jti="a2", sub="bob")
    assert tokens.verify(first) == "alice@corp"
    assert main(["authority", "revoke", "corp", "--jti", "a1", "--store", str(tmp_path)]) == 0
    now[0] += 2
    with pytest.raises(TokenError) as e:
        tokens.verify(first)
    assert e.value.code == "revoked_token"
    assert tokens.verify(second) == "bob@corp"
    assert main(["authority", "revoke", "corp", "--subject", "bob", "--before", str(NOW + 1),
                 "--store", str(tmp_path)]) == 0
    now[0] += 2
    with pytest.raises(TokenError) as e:
        tokens.verify(second)
    assert e.value.code == "revoked_token"
    assert tokens.verify(idp.sign("k1", sub="bob", iat=NOW + 5)) == "bob@corp"  # signed in again since


def test_the_builtin_keys_tokens_are_revoked_by_jti_and_subject(tmp_path, capsys):
    now = [float(NOW)]
    tokens = tokens_for(tmp_path, now)
    first, second = tokens.mint("alice@users", ttl=600), tokens.mint("alice@users", ttl=600)
    assert tokens.verify(first) == tokens.verify(second) == "alice@users"
    jti = jwt.decode(first, options={"verify_signature": False})["jti"]
    assert main(["authority", "revoke", "advm", "--jti", jti, "--store", str(tmp_path)]) == 0
    now[0] += 2
    with pytest.raises(TokenError) as e:
        tokens.verify(first)
    assert e.value.code == "revoked_token"
    assert tokens.verify(second) == "alice@users"
    assert main(["authority", "revoke", "advm", "--subject", "alice@users", "--before", str(NOW + 1),
                 "--store", str(tmp_path)]) == 0
    now[0] += 2
    with pytest.raises(TokenError) as e:
        tokens.verify(second)
    assert e.value.code == "revoked_token" and "alice@users's tokens" in e.value.message
    assert tokens.verify(tokens.mint("alice@users", ttl=600)) == "alice@users"  # issued since
    # "advm" stays reserved for registering
    assert add(tmp_path, "advm", "--jwks", str(tmp_path / "none.json")) == 2
    assert "is reserved" in capsys.readouterr().err


def test_exp_is_required_when_asked():
    loose, strict = Tokens(KEY), Tokens(KEY, require_exp=True)
    forever = loose.mint("alice")
    assert loose.verify(forever) == "alice@"
    with pytest.raises(TokenError) as e:
        strict.verify(forever)
    assert e.value.code == "bad_token" and "--ttl" in e.value.message
    assert strict.verify(strict.mint("alice", ttl=60)) == "alice@"


def test_the_token_size_limit(tmp_path):
    tokens = Tokens(KEY)

    at, pad = None, MAX_TOKEN // 2 - 100
    while True:  # the longest signed token at the limit, then the first one past it
        t = jwt.encode({"sub": "alice", "pad": "x" * pad}, KEY, algorithm="HS256")
        if len(t) > MAX_TOKEN:
            over = t
            break
        at, pad = t, pad + 1
    assert MAX_TOKEN - 4 <= len(at) <= MAX_TOKEN and tokens.verify(at) == "alice@"
    with pytest.raises(TokenError) as e:
        tokens.verify(over)
    assert e.value.code == "bad_token" and str(MAX_TOKEN) in e.value.message


def test_old_advm1_tokens_say_how_to_get_a_new_one():
    with pytest.raises(TokenError) as e:
        Tokens(KEY).verify("advm1.eyJzdWIiOiJhbGljZSJ9.c2ln")
    assert e.value.code == "bad_token" and "advm token NAME" in e.value.message


DOC = """
@static { create { return true; } }
@connected { return true; }
public int n;
message Bump { int by; }
channel bump(Bump b) { n += b.by; }
"""


def test_signed_in_elsewhere_over_the_websocket(tmp_path, idp):
    assert add(tmp_path, "corp", "--jwks-url", idp.url) == 0
    now = [float(NOW)]

    async def scenario(kit):
        kit.tokens = tokens_for(tmp_path, now)
        async with kit.serve(DOC) as srv:
            alice = await kit.client(srv, identity=idp.sign("k1"))
            assert (await alice.request("identity/whoami", identity=idp.sign("k1")))["principal"] == "alice@corp"
            await alice.create("d")
            conn = await alice.open("d")
            await conn.send("bump", {"by": 2})
            # the provider rotates its key mid-session: a token of the new kid signs in at once
            idp.new_key("k2")
            now[0] += 31
            bob = await kit.client(srv, identity=idp.sign("k2", sub="bob"))
            bconn = await bob.open("d")
            await bconn.send("bump", {"by": 3})
            await conn.send("bump", {"by": 1})  # alice's stream, opened with k1, goes on
            # refused sign-ins
            for identity in (idp.sign("k2", exp=NOW - 3600), idp.sign("k2", iss="evil")):
                mallory = await kit.client(srv, identity=identity)
                with pytest.raises(ClientError) as e:
                    await mallory.open("d")
                assert e.value.reason in ("bad_token", "expired_token")
            carol = await kit.client(srv, "carol")  # the built-in key's token
            cconn = await carol.open("d")
            assert main(["authority", "revoke", "corp", "--subject", "bob", "--before", str(NOW + 10),
                         "--store", str(tmp_path)]) == 0
            assert main(["authority", "revoke", "advm", "--subject", "carol@", "--before", str(NOW + 100),
                         "--store", str(tmp_path)]) == 0
            now[0] += 2
            # bob's and carol's open streams end with the reason; alice's goes on
            with pytest.raises(ClientError) as e:
                await bconn.wait_for(lambda c: False, timeout=30)
            assert e.value.reason == "revoked_token" and "bob@corp" in e.value.message
            with pytest.raises(ClientError) as e:
                await cconn.wait_for(lambda c: False, timeout=30)
            assert e.value.reason == "revoked_token" and "carol@" in e.value.message
            await conn.send("bump", {"by": 10})
            assert (await conn.wait_for(lambda c: c.view.get("n") == 16))["n"] == 16
            again = await kit.client(srv, identity=idp.sign("k2", sub="bob"))
            with pytest.raises(ClientError) as e:
                await again.open("d")
            assert e.value.reason == "revoked_token"

    run(scenario)


WHO = """
@static { create { return true; } }
public principal last;
public string agent;
public string authority;
@connected { last = @who; agent = @who.agent(); authority = @who.authority(); return true; }
"""


def test_identity_provider_subjects_sign_in_as_they_are(tmp_path, idp):
    """Auth0's `auth0|...` and an email as `sub` are the agent, unchanged; the
    authority is what follows the last `@` (spec/protocol.md 8.5)."""
    assert add(tmp_path, "corp", "--jwks-url", idp.url) == 0
    auth0, email = "auth0|507f1f77bcf86cd799439011", "ann@example.com"
    longest = "g" * (MAX_SUBJECT - 1) + "\u00e9"  # MAX_SUBJECT characters, one of them not ASCII

    async def scenario(kit):
        kit.tokens = tokens_for(tmp_path)
        async with kit.serve(WHO) as srv:
            await (await kit.client(srv, "owner")).create("w")
            for sub in (auth0, email, longest):
                c = await kit.client(srv, identity=idp.sign("k1", sub=sub))
                who = await c.request("identity/whoami", identity=idp.sign("k1", sub=sub))
                assert (who["principal"], who["agent"], who["authority"]) == (f"{sub}@corp", sub, "corp")
                conn = await c.open("w")
                view = await conn.wait_for(lambda c, sub=sub: c.view.get("agent") == sub)
                assert view["last"] == {"agent": sub, "authority": "corp"} and view["authority"] == "corp"
            too_long = await kit.client(srv, identity=idp.sign("k1", sub="g" * (MAX_SUBJECT + 1)))
            with pytest.raises(ClientError) as e:
                await too_long.open("w")
            assert e.value.reason == "bad_token" and str(MAX_SUBJECT) in e.value.message

    run(scenario)
    # revocation names the sub as the provider wrote it
    tokens = tokens_for(tmp_path)
    assert tokens.verify(idp.sign("k1", sub=email, jti="e1")) == "ann@example.com@corp"
    assert main(["authority", "revoke", "corp", "--subject", email, "--before", str(NOW + 1),
                 "--store", str(tmp_path)]) == 0
    with pytest.raises(TokenError) as e:
        tokens_for(tmp_path).verify(idp.sign("k1", sub=email, jti="e2"))
    assert e.value.code == "revoked_token"
    assert tokens_for(tmp_path).verify(idp.sign("k1", sub=auth0)) == auth0 + "@corp"


def test_a_script_reads_the_principals_a_token_names(tmp_path, idp, capsys):
    """Scripted sessions split a principal where tokens do (the last `@`), so
    `"as": "ann@example.com@corp"` is the connection an email sub signs in as."""
    assert add(tmp_path, "corp", "--jwks-url", idp.url) == 0
    tokens = tokens_for(tmp_path)
    subs = ["auth0|507f1f77bcf86cd799439011", "ann@example.com"]
    names = [tokens.verify(idp.sign("k1", sub=sub)) for sub in subs]
    doc, script = tmp_path / "who.adb", tmp_path / "who.jsonl"
    doc.write_text(WHO)
    script.write_text("\n".join(json.dumps({"op": op, "as": who}) for op, who in
                                 [("create", "owner")] + [("connect", n) for n in names]) + "\n")
    capsys.readouterr()
    assert main(["run", str(doc), "--script", str(script), "--memory"]) == 0
    frames = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert not any("error" in f for f in frames), frames
    for sub, name in zip(subs, names):
        first = next(f for f in frames if f.get("to") == name and "delta" in f)
        assert first["delta"] == {"last": {"agent": sub, "authority": "corp"}, "agent": sub, "authority": "corp"}


WEB = """
@static { create { return true; } }
@connected { return true; }
public int n;
@web get /who { return {html: @who.agent() + " of " + @who.authority()}; }
"""


def test_an_authority_token_as_http_bearer(tmp_path, idp):
    from server_kit import http_served

    assert add(tmp_path, "corp", "--jwks-url", idp.url) == 0

    async def scenario(kit):
        kit.tokens = tokens_for(tmp_path)
        async with http_served(kit, WEB) as (srv, http):
            await (await kit.client(srv, "owner")).create("w")
            r = await http.get("/~d/w/who", headers={"Authorization": "Bearer " + idp.sign("k1")})
            assert (r.status_code, r.text) == (200, "alice of corp")
            forged = idp.sign("k1")[:-4] + "AAAA"
            r = await http.get("/~d/w/who", headers={"Authorization": "Bearer " + forged})
            assert r.status_code == 401

    run(scenario)


def test_authority_usage_errors(tmp_path, idp, capsys):
    store = ["--store", str(tmp_path)]
    assert main(["authority", "remove", "corp", *store]) == 2
    assert "no authority 'corp'" in capsys.readouterr().err
    assert add(tmp_path, "corp", "--jwks-url", idp.url) == 0
    for args, says in ((["revoke", "corp"], "--jti X or --subject S"),
                       (["revoke", "corp", "--jti", "a", "--subject", "b"], "--jti X or --subject S"),
                       (["revoke", "corp", "--jti", "a", "--before", "0"], "--before goes with --subject"),
                       (["revoke", "corp", "--subject", "b", "--before", "soon"], "not ISO 8601"),
                       (["revoke", "corp", "--subject", "b", "--before", "2026-12-07T12:00"], "time zone"),
                       (["revoke", "nope", "--jti", "a"], "no authority 'nope'"),
                       (["add", "other", "--jwks-url", "ftp://x"], "http(s) URL"),
                       (["add", "other", "--jwks-url", "http://[::1"], "InvalidURL"),
                       (["add", "other", "--jwks-url", idp.url], "already has issuer")):
        if says == "already has issuer":
            args = args + ["--issuer", "corp"]
        capsys.readouterr()
        assert main(["authority", *args, *store]) == 2, args
        assert says in capsys.readouterr().err, args
    idp.down = True
    assert add(tmp_path, "late", "--jwks-url", idp.url) == 2  # nothing to register without a set
    assert "answered 503" in capsys.readouterr().err
    assert main(["authority", "revoke", "corp", "--subject", "b", "--before", "2026-12-07T12:00Z", *store]) == 0


def test_a_damaged_table_keeps_the_last_good_one(tmp_path, idp, caplog):
    assert add(tmp_path, "corp", "--jwks-url", idp.url) == 0
    now = [float(NOW)]
    tokens = tokens_for(tmp_path, now)
    assert tokens.verify(idp.sign("k1")) == "alice@corp"
    for damage in ("{not json", '{"authorities": {"corp": {"keys": [{"kty": "RSA"}]}}}'):
        (tmp_path / "authorities.json").write_text(damage)
        now[0] += 2
        assert tokens.verify(idp.sign("k1", jti=damage[:5])) == "alice@corp"
    assert "the last good authority table stays" in caplog.text


def test_a_stale_set_is_fetched_again_beside_the_token(tmp_path, idp):
    assert add(tmp_path, "corp", "--jwks-url", idp.url) == 0
    now = [float(NOW)]
    tokens = tokens_for(tmp_path, now)
    assert tokens.verify(idp.sign("k1")) == "alice@corp"
    hits, k1 = idp.hits, idp.keys["k1"]
    idp.new_key("k2")
    del idp.keys["k1"]  # the provider retires k1

    def signed_k1(jti):
        return jwt.encode({"sub": "alice", "iss": "corp", "jti": jti, "exp": int(now[0]) + 600}, k1,
                          algorithm="RS256", headers={"kid": "k1"})

    now[0] += 601  # older than max_age: a new token is checked with the set there is,
    first = signed_k1("y")
    assert tokens.verify(first) == "alice@corp"
    tokens.authorities.background.join(10)  # while the set is fetched again on a thread
    assert idp.hits == hits + 1
    for token in (first, signed_k1("z")):  # the new set has no k1: the remembered token is checked again
        with pytest.raises(TokenError) as e:
            tokens.verify(token)
        assert "no key 'k1'" in e.value.message
    assert idp.hits == hits + 1  # an unknown kid right after a fetch waits for the interval
