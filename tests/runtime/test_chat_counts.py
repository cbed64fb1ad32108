"""examples/chat.adb keeps each member's line and like counts in the member's
row, so that a viewer's bubbles (`my_line_count`, `my_likes`) read one row
rather than walk the viewer's lines (bench/README.md, issue 23). The counts
must stay what walking the lines gives: after lines, likes (own and others',
refused ones), renames and the daily trim that drops all but the newest
1,000 lines."""
from __future__ import annotations

import random
from pathlib import Path

import pytest
from runkit import T0, TransactionError

from advm.compiler.build import build_source
from advm.runtime.engine import Engine
from advm.vm.docslots import principal

CHAT = Path(__file__).resolve().parents[2] / "examples" / "chat.adb"
PEOPLE = [principal(name, "lab") for name in ("ada", "bo", "cy")]


def walked(d: Engine, who: str) -> tuple[int, int]:
    """What the bubbles used to compute: the viewer's lines, counted and their likes summed."""
    agent, authority = who.split("@")
    mine = [ln for ln in d.field("_lines") if ln["author"] == {"agent": agent, "authority": authority}]
    return len(mine), sum(ln["likes"] for ln in mine)


def kept(d: Engine, who: str) -> tuple[int, int]:
    return d.bubble("my_line_count", who), d.bubble("my_likes", who)


@pytest.mark.parametrize("seed", [1, 2])
def test_kept_counts_equal_the_walk(seed):
    rng = random.Random(seed)
    d = Engine(build_source(CHAT.read_text(), CHAT.name), key="chat")
    d.create(PEOPLE[0], now=T0)
    for who in PEOPLE:
        assert d.handler("connected", who=who) is True
    lines = refused = 0
    for n in range(1700):
        who = rng.choice(PEOPLE)
        k = rng.random()
        if k < 0.7:
            d.send(who, "say", {"text": f"line {n}"})
            lines += 1
        elif k < 0.9 and lines:
            line = rng.randint(1, lines + 1)  # now and then one that does not exist
            try:
                d.send(who, "like", {"line": line})
            except TransactionError:
                refused += 1
        else:
            d.send(who, "rename", {"name": f"name {n}"})
    assert refused > 0 and lines > 1000
    for who in PEOPLE:
        assert kept(d, who) == walked(d, who)
    assert sum(walked(d, who)[1] for who in PEOPLE) > 0
    d.cron("trim")
    assert len(d.field("_lines")) == 1000
    for who in PEOPLE:
        assert kept(d, who) == walked(d, who)
    # a like on a trimmed line is refused and changes no count
    with pytest.raises(TransactionError):
        d.send(PEOPLE[1], "like", {"line": 1})
    for who in PEOPLE:
        assert kept(d, who) == walked(d, who)
