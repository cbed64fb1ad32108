"""Adama's ViewState global over the server (issue 22 point 5, language.md 5.23,
protocol.md 8.3): a message's code tells the connection that sent it to merge a
value into its viewer state or to go to a path; the reply to that connection's
connection/send carries it, once the message committed, and nobody else hears it."""
from __future__ import annotations

import asyncio

import pytest
from server_kit import run

SOURCE = """
@static {
  create { return true; }
}

message Open {
  string tab;
  bool fail;
}

public int opened;
public bool told;

@connected {
  return true;
}

channel open(Open o) {
  opened++;
  told = ViewState.merge(Dynamic.toDynamic("{\\"tab\\":\\"" + o.tab + "\\",\\"page\\":1}")
                           .getOrDefaultTo(Dynamic.dyn(0)));
  ViewState.goto("/tabs/" + o.tab);
  if (o.fail) {
    abort;
  }
}
"""


@pytest.mark.parametrize("workers", [0, 1], ids=["in-process", "worker-process"])
def test_the_sender_and_only_the_sender_is_told_after_the_commit(workers):
    async def scenario(kit):
        async with kit.serve(SOURCE, workers=workers) as srv:
            ann = await kit.client(srv, "ann")
            await ann.create("k")
            mine = await ann.open("k")
            bob = await kit.client(srv, "bob")
            theirs = await bob.open("k")
            await mine.update({"tab": "home", "zoom": 2})
            reply = await mine.send("open", {"tab": "news", "fail": False})
            assert reply["viewstate"] == [{"merge": {"tab": "news", "page": 1}}, {"goto": "/tabs/news"}]
            assert mine.view["opened"] == 1 and mine.view["told"] is True
            assert mine.viewer_state == {"tab": "news", "zoom": 2, "page": 1}
            assert mine.gone_to == ["/tabs/news"]
            # bob saw the change, and was told nothing
            for _ in range(100):
                if theirs.view.get("opened") == 1:
                    break
                await asyncio.sleep(0.02)
            assert theirs.view["opened"] == 1
            assert theirs.viewer_state == {} and theirs.gone_to == []
            # bob's own message tells bob, not ann
            reply = await theirs.send("open", {"tab": "sport", "fail": False})
            assert reply["viewstate"][1] == {"goto": "/tabs/sport"}
            assert mine.gone_to == ["/tabs/news"] and theirs.gone_to == ["/tabs/sport"]
            # a message that aborts tells nothing: what it said is rolled back with it
            try:
                await mine.send("open", {"tab": "never", "fail": True})
                raise AssertionError("the abort was not reported")
            except Exception as e:  # the client's error for the aborted message
                assert "abort" in str(e)
            assert mine.gone_to == ["/tabs/news"] and mine.viewer_state["tab"] == "news"

    run(scenario)
