"""Sign-in through a document (issue 22 point 5, spec/protocol.md 8.3 document/authorize):
@authorize (user, pass) and @authorization (M m) answer an agent, and the server signs
a token for it in the document's own authority, `doc.KEY`."""
from __future__ import annotations

import pytest
from server_kit import run

from advm.net.client import ClientError

SOURCE = """
@static {
  create { return true; }
}

record Member {
  public int id;
  public string name;
  private string secret;
}

message Join {
  string name;
  string secret;
}

message Login {
  string name;
  string secret;
}

table<Member> _members;
public formula members = iterate _members;
public string last;

@connected {
  return true;
}

@authorize (user, password) {
  if ((iterate _members where name == user && secret == password).size() == 1) {
    return user;
  }
  abort;
}

@authorization (Login l) {
  foreach (m in iterate _members where name == l.name && secret == l.secret) {
    return "m" + m.id;
  }
  abort;
}

channel join(Join j) {
  _members <- j;
}

channel hello(Join j) {
  last = @who.agent() + "@" + @who.authority();
}
"""


def test_a_member_signs_in_and_acts_under_the_document_s_authority():
    async def scenario(kit):
        async with kit.serve(SOURCE) as srv:
            owner = await kit.client(srv, "owner")
            await owner.create("club")
            conn = await owner.open("club")
            await conn.send("join", {"name": "bob", "secret": "pw"})
            guest = await kit.client(srv, identity="anonymous")
            with pytest.raises(ClientError) as e:
                await guest.authorize("club", "bob", "wrong")
            assert e.value.reason == "authorize_refused"
            with pytest.raises(ClientError) as e:
                await guest.authorize("nowhere", "bob", "pw")
            assert e.value.reason == "not_found"
            signed = await guest.authorize("club", "bob", "pw")
            assert signed["principal"] == "bob@doc.club"
            other = await guest.authorize("club", message={"name": "bob", "secret": "pw"})
            assert other["principal"] == "m1@doc.club"
            with pytest.raises(ClientError) as e:
                await guest.authorize("club", message={"name": "bob", "secret": "no"})
            assert e.value.reason == "authorize_refused"
            with pytest.raises(ClientError) as e:
                await guest.authorize("club", message={"name": 7})
            assert e.value.reason == "authorize_refused"
            bob = await kit.client(srv, identity=signed["identity"])
            mine = await bob.open("club")
            await mine.send("hello", {"name": "", "secret": ""})
            assert mine.view["last"] == "bob@doc.club"  # the channel ran as the signed-in principal
            assert (await owner.request("identity/whoami", identity=signed["identity"]))["principal"] == "bob@doc.club"

    run(scenario)
