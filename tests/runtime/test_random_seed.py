"""A server seeds each document's Random from entropy, not from its key
(issue 10, point 5; spec/snapshot.md 4, spec/store.md 11.3): replaying the
public inputs under the same key no longer deals the same cards, while the
store's own replay and restore stay exact. `--once` and scripted sessions
keep the key-derived seed, and logs without a seed replay as before."""
from __future__ import annotations

import json

from durable_kit import T0, example, open_store, script

from advm.cli import main
from advm.net.documents import DurableBackend, MemoryBackend, Shelf
from advm.runtime.engine import SEED_HEX, fresh_seed
from advm.runtime.living import LivingDocument
from advm.durable.document import DurableDocument
from advm.views.viewers import Viewers

ARG = {"rounds": 2}


def _play(submit, items):
    for item in items[1:]:  # after the create; clients' inputs only
        if item["op"] in ("connect", "disconnect", "send", "answer"):
            submit(item)


def test_a_server_deals_what_a_replay_of_the_public_inputs_cannot():
    module = example("cardgame")
    items = script("cardgame")
    assert items[0]["op"] == "create"
    # What an attacker runs: the public inputs on a runtime made from the key.
    replica = LivingDocument(module, key="g", viewers=Viewers)
    replica.create("ann@", ARG, T0)
    # Two servers create the same key with the same inputs.
    states = []
    for _ in range(2):
        doc, frames = MemoryBackend(module, Shelf()).create("g", "ann@", ARG, T0)
        assert doc.living.engine.created, frames
        states.append(doc.living.engine.machine.rng_state)
    assert len({replica.engine.machine.rng_state, *states}) == 3


def test_the_creation_seed_is_logged_and_replay_and_restore_are_exact(tmp_path):
    module = example("cardgame")
    items = script("cardgame")
    store = open_store(tmp_path / "st")
    try:
        doc, frames = DurableBackend(module, store).create("g", "ann@", ARG, T0)
        assert doc.living.engine.created, frames
        _play(lambda item: doc.submit(item, T0).result(timeout=30), items)
        live = doc.living.engine.machine.rng_state
        first = next(iter(store.load("g").entries))
        assert first.kind == "create" and len(first.extra["seed"]) == SEED_HEX
        doc.close()
        again = DurableDocument.open(store, "g", viewers=Viewers)
        assert again.living.engine.machine.rng_state == live
        again.close()
    finally:
        store.close()
    assert main(["replay", "--log", "--store", str(tmp_path / "st"), "--doc", "g"]) == 0


def test_a_log_without_a_seed_replays_from_the_key(tmp_path):
    """What every store written before issue 10 holds (and what scripted
    sessions still write): no seed in the create entry."""
    module = example("cardgame")
    store = open_store(tmp_path / "st")
    try:
        doc, _ = DurableDocument.create(store, "g", module, "ann@", ARG, T0, viewers=Viewers)
        first = next(iter(store.load("g").entries))
        assert "seed" not in first.extra
        replica = LivingDocument(module, key="g", viewers=Viewers)
        replica.create("ann@", ARG, T0)
        assert doc.living.engine.machine.rng_state == replica.engine.machine.rng_state
        doc.close()
    finally:
        store.close()
    assert main(["replay", "--log", "--store", str(tmp_path / "st"), "--doc", "g"]) == 0


def test_once_stays_deterministic(capsys, tmp_path):
    from durable_kit import EXAMPLES

    outs = []
    for _ in range(2):
        assert main(["run", str(EXAMPLES / "cardgame.adb"), "--once", "--arg", json.dumps(ARG),
                     "--json"]) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1]


def test_fresh_seeds_are_fresh():
    a, b = fresh_seed(), fresh_seed()
    assert a != b and len(a) == SEED_HEX and int(a, 16) >= 0
