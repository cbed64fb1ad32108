"""`advm replay --log` and durable/replay.py: rebuild a document from its log,
verify it by hash, find the first diverging seq, stop anywhere (--until).
Each test runs on LMDB and on PostgreSQL (`make_store`, tests/conftest.py)."""
from __future__ import annotations

import json

import cbor2

from advm.cli import ExitCode
from advm.store import KEEP_ALL, Retention, Snapshot, keys
from advm.store.log import encode as encode_entry
from advm.durable.noviews import state_hash
from advm.durable.replay import replay
from advm.store.snapshots import encode as encode_snapshot
from advm.views.viewers import Viewers
from durable_kit import APPS, Driver, example, script


def stored(make_store, tmp_path, name="tictactoe", every=None, retention=KEEP_ALL, close=True):
    """A closed store holding one played example as document 'main'."""
    path = tmp_path / "store"
    with make_store(path, durability="relaxed", retention=retention) as store:
        d = Driver(store, "main", example(name), every=every)
        d.run(script(name))
        if close:
            d.doc.close()
        live = d.doc.living.snapshot()
    return path, live


def test_replay_of_every_example_verifies_every_snapshot(make_store, tmp_path):
    for name in APPS:
        path, live = stored(make_store, tmp_path / name, name, every=4)
        with make_store(path, readonly=True) as store:
            result = replay(store, "main")
            assert result.ok, (name, result.divergence)
            assert result.checks and all(c.ok for c in result.checks)
            assert all(c.exact in (None, True) for c in result.checks)
            assert [c.seq for c in result.checks] == store.snapshot_seqs("main")
            # Replay computes no views: the state agrees, the viewers part is empty.
            assert state_hash(result.living.snapshot()) == state_hash(live)
            assert all(v["seq"] is None for v in
                       cbor2.loads(result.living.snapshot())["viewers"]["viewers"])
            # With the views computed, replay gives the live runtime byte for byte.
            full = replay(store, "main", viewers=Viewers)
            assert full.ok and full.living.snapshot() == live


def test_the_exact_segment_replay_gives_the_stored_bytes(make_store, tmp_path):
    """The fallback when a state differs only in dead registers: replaying a
    snapshot interval with views from the snapshot before it reproduces the
    stored snapshot byte for byte."""
    from advm.durable.replay import _exact

    for name in ("approval", "cardgame"):
        path, _ = stored(make_store, tmp_path / name, name, every=4)
        with make_store(path, readonly=True) as store:
            since = None
            for seq in store.snapshot_seqs("main"):
                snap = store.snapshot("main", seq)
                assert _exact(store, "main", since, seq, None, Viewers) == snap.data, (name, seq)
                since = snap


def test_until_stops_at_any_point_in_history(make_store, tmp_path):
    path, _ = stored(make_store, tmp_path, "tictactoe", every=3)
    with make_store(path, readonly=True) as store:
        last = store.last_seq("main")
        for until in range(1, last + 1):
            result = replay(store, "main", until=until)
            assert result.ok and result.head == until
            # The same inputs run straight through, without the store, agree.
            from advm.runtime.living import LivingDocument
            from advm.durable import inputs

            fresh = LivingDocument(example("tictactoe"), key="document", viewers=Viewers)
            for entry in store.log("main", until=until):
                fresh.apply(inputs.from_entry(entry))
            assert fresh.engine.fields() == result.living.engine.fields(), until
            assert fresh.asks_for("xena") == result.living.asks_for("xena")


def _change_answer(store, nth: int, payload):
    target = [e for e in store.log("main") if e.kind == "answer"][nth]
    _put_record(store, "main", target.seq, encode_entry(target._replace(payload=payload)))
    return target


def _put_record(store, doc: str, seq: int, value: bytes, table: str = "log") -> None:
    """Replace a log (or snapshot) record behind the store's back (LMDB or PostgreSQL)."""
    if hasattr(store, "env"):
        with store.env.env.begin(write=True) as txn:
            txn.put(keys.seq_key(keys.doc_prefix(doc), seq), value, db=getattr(store.env, table))
    else:
        with store.connect() as conn:
            assert table in ("log", "snapshots")
            conn.execute(f"UPDATE {table} SET rec = %s WHERE doc = %s AND seq = %s",
                         (value, doc.encode(), seq))


def _get_record(store, doc: str, seq: int) -> bytes:
    if hasattr(store, "env"):
        with store.env.env.begin() as txn:
            return bytes(txn.get(keys.seq_key(keys.doc_prefix(doc), seq), db=store.env.log))
    with store.connect() as conn:
        return conn.execute("SELECT rec FROM log WHERE doc = %s AND seq = %s",
                            (doc.encode(), seq)).fetchone()[0]


def test_a_changed_decision_names_the_first_diverging_seq(make_store, tmp_path):
    """A move onto a taken square is refused: the sender's outcome differs at once."""
    path, _ = stored(make_store, tmp_path, "tictactoe", every=3)
    with make_store(path, durability="relaxed") as store:
        taken = [e for e in store.log("main") if e.kind == "answer"][0].payload
        target = _change_answer(store, 3, taken)
        steps = []
        result = replay(store, "main", on_step=steps.append)
    assert not result.ok and result.divergence.seq == target.seq
    assert steps[-1].seq == target.seq and steps[-1].matched is False
    assert all(s.matched for s in steps[:-1])


def test_a_change_seen_only_in_views_is_named_at_the_next_snapshot(make_store, tmp_path):
    """Another free square: the same asks follow, only the board (state, and
    the views derived from it) differs. The digest leaves views out, so the
    snapshot after it names the divergence and the range it lies in."""
    path, _ = stored(make_store, tmp_path, "tictactoe", every=3)
    with make_store(path, durability="relaxed") as store:
        moves = [e.payload for e in store.log("main") if e.kind == "answer"]
        free = next({"x": x, "y": y} for x in range(3) for y in range(3)
                    if {"x": x, "y": y} not in moves)
        target = _change_answer(store, 3, free)
        held = store.snapshot_seqs("main")
        result = replay(store, "main")
    after = max(s for s in held if s < target.seq)
    at = min(s for s in held if s >= target.seq)
    assert not result.ok and result.divergence.seq == at
    assert f"after seq {after}" in str(result.divergence)
    assert [c.ok for c in result.checks][-1] is False


def _tamper_rng(store, seq):
    import cbor2

    from advm.vm.snapshot import dumps_values, loads_values

    snap = store.snapshot("main", seq)
    body = cbor2.loads(snap.data)
    state = loads_values(body["document"])
    state["rng"] = [w ^ 1 for w in state["rng"]]
    body["document"] = dumps_values(state)
    _put_record(store, "main", seq,
                encode_snapshot(Snapshot(seq, cbor2.dumps(body), snap.format, snap.time)),
                "snapshots")


def test_checking_the_newest_snapshot_finds_and_names_a_difference_there(make_store, tmp_path):
    path, _ = stored(make_store, tmp_path, "tictactoe", every=3)
    with make_store(path, durability="relaxed") as store:
        held = store.snapshot_seqs("main")
        _tamper_rng(store, held[-1])
        steps = []
        quick = replay(store, "main", check="newest", on_step=steps.append)
    assert not quick.ok and quick.divergence.seq == held[-1]
    assert [c.ok for c in quick.checks] == [True] * (len(held) - 1) + [False]  # the second pass
    assert len(steps) == held[-1]  # on_step ran in the first pass only


def test_a_snapshot_that_disagrees_is_named_even_when_every_frame_matched(make_store, tmp_path):
    """State no client sees (here the Random stream) differs only in the snapshot."""
    path, _ = stored(make_store, tmp_path, "tictactoe", every=3)
    with make_store(path, durability="relaxed") as store:
        seq = store.snapshot_seqs("main")[1]
        import cbor2

        from advm.vm.snapshot import dumps_values, loads_values

        snap = store.snapshot("main", seq)
        body = cbor2.loads(snap.data)
        state = loads_values(body["document"])
        state["rng"] = [w ^ 1 for w in state["rng"]]
        body["document"] = dumps_values(state)
        data = cbor2.dumps(body)
        _put_record(store, "main", seq, encode_snapshot(Snapshot(seq, data, snap.format, snap.time)),
                    "snapshots")
        result = replay(store, "main")
    assert not result.ok and result.divergence.seq == seq
    assert "state no client saw" in str(result.divergence)
    assert [c.ok for c in result.checks] == [True, False]


def test_checking_the_newest_snapshot_only(make_store, tmp_path):
    """check="newest": one comparison when all is well; when the newest
    differs, a second pass names the first kept snapshot that does."""
    path, _ = stored(make_store, tmp_path / "a", "tictactoe", every=3)
    with make_store(path, readonly=True) as store:
        quick = replay(store, "main", check="newest")
        assert quick.ok and [c.seq for c in quick.checks] == [store.snapshot_seqs("main")[-1]]
    path, _ = stored(make_store, tmp_path / "b", "tictactoe", every=3)
    with make_store(path, durability="relaxed") as store:
        moves = [e.payload for e in store.log("main") if e.kind == "answer"]
        free = next({"x": x, "y": y} for x in range(3) for y in range(3)
                    if {"x": x, "y": y} not in moves)
        _change_answer(store, len(moves) - 1, free)  # the last move: the newest state differs
        full = replay(store, "main")
        quick = replay(store, "main", check="newest")
    assert not full.ok and not quick.ok
    assert quick.divergence.seq == full.divergence.seq


def test_a_trimmed_log_replays_from_its_oldest_snapshot(make_store, tmp_path):
    path, live = stored(make_store, tmp_path, "chat", every=4,
                        retention=Retention(snapshots=2, trim_log=True))
    with make_store(path, readonly=True) as store:
        first = store.first_seq("main")
        assert first > 1
        result = replay(store, "main")
        assert result.ok and result.start == first - 1
        assert state_hash(result.living.snapshot()) == state_hash(live)


def test_replay_of_a_log_without_snapshots_checks_frames(make_store, tmp_path):
    path, live = stored(make_store, tmp_path, "todo", close=False)
    with make_store(path, readonly=True) as store:
        assert store.snapshot_seqs("main") == []
        result = replay(store, "main")
        assert result.ok and result.checks == []
        assert state_hash(result.living.snapshot()) == state_hash(live)


# ---------------------------------------------------------------- the command


def test_cli_prints_each_transaction_and_verifies(make_store, cli, tmp_path):
    path, _ = stored(make_store, tmp_path, "approval", every=4)
    r = cli("replay", "--log", "--store", make_store.where(path))
    assert r.code == ExitCode.OK, r.err
    lines = r.out.splitlines()
    with make_store(path, readonly=True) as store:
        log = store.log("main")
    assert len(lines) == len(log)
    first = lines[0].split()
    assert first[:5] == ["1", "2026-01-01T00:00:00.000Z", "rita@corp", "create", "ok"]
    assert any(" answer " in line and line.endswith("abort") for line in lines)
    assert "snapshots verified by hash" in r.err and "DIVERGES" not in r.out


def test_cli_json_and_until_shows_the_state_then(make_store, cli, tmp_path):
    path, _ = stored(make_store, tmp_path, "approval", every=4)
    r = cli("replay", "--log", "--store", make_store.where(path), "--until", "5", "--json")
    assert r.code == ExitCode.OK, r.err
    data = json.loads(r.out)
    assert data["ok"] and data["head"] == 5 and len(data["transactions"]) == 5
    assert [t["kind"] for t in data["transactions"]] == ["create", "connect", "connect",
                                                         "connect", "advance"]
    state = data["state"]
    assert state["seq"] == 5 and state["state"] == "waitForManager"
    assert state["waiting"]["awaits"]["from"] == "mia@corp"
    assert state["pending"]["state"] == "escalate"


def test_cli_exits_1_naming_the_first_diverging_seq(make_store, cli, tmp_path):
    path, _ = stored(make_store, tmp_path, "tictactoe", every=3)
    with make_store(path, durability="relaxed") as store:
        target = [e for e in store.log("main") if e.kind == "answer"][0]
        _put_record(store, "main", target.seq, encode_entry(target._replace(principal="mallory@")))
    r = cli("replay", "--store", make_store.where(path))
    assert r.code == ExitCode.FAILURE
    assert f"diverges at seq {target.seq}" in r.err
    assert "DIVERGES" in r.out.splitlines()[-1]
    r = cli("replay", "--store", make_store.where(path), "--json")
    assert r.code == ExitCode.FAILURE
    assert json.loads(r.out)["divergence"]["seq"] == target.seq


def test_cli_names_the_documents_when_the_key_is_wrong(make_store, cli, tmp_path):
    path, _ = stored(make_store, tmp_path, "todo")
    r = cli("replay", "--store", make_store.where(path), "--doc", "nope")
    assert r.code == ExitCode.USAGE
    assert "no document 'nope'" in r.err and "'main'" in r.err
    r = cli("replay", "--store", make_store.where(tmp_path / "nowhere"))
    assert r.code == ExitCode.USAGE and "no store at" in r.err


def test_cli_reports_a_corrupt_record_naming_the_document(make_store, cli, tmp_path):
    path, _ = stored(make_store, tmp_path, "todo")
    with make_store(path, durability="relaxed") as store:
        value = bytearray(_get_record(store, "main", 3))
        value[-2] ^= 0xFF
        _put_record(store, "main", 3, bytes(value))
    r = cli("replay", "--store", make_store.where(path))
    assert r.code == ExitCode.FAILURE and "document 'main'" in r.err and "CRC" in r.err


def test_the_progress_bar_is_for_terminals_only(tmp_path, monkeypatch):
    from advm.commands import replay as command

    monkeypatch.setattr("sys.stderr.isatty", lambda: True, raising=False)
    assert command._progress(command.PROGRESS_FROM, True) is not None
    assert command._progress(command.PROGRESS_FROM - 1, True) is None
    assert command._progress(command.PROGRESS_FROM, False) is None


def test_cli_check_newest(make_store, cli, tmp_path):
    path, _ = stored(make_store, tmp_path, "approval", every=4)
    r = cli("replay", "--log", "--store", make_store.where(path), "--check", "newest", "--json")
    assert r.code == ExitCode.OK, r.err
    d = json.loads(r.out)
    with make_store(path, readonly=True) as store:
        assert [c["seq"] for c in d["snapshots"]] == store.snapshot_seqs("main")[-1:]
    assert "1/1 snapshots verified" in cli("replay", "--store", make_store.where(path), "--check", "newest",
                                             "--quiet").err


def _random_chat(seed: int) -> list[dict]:
    import random

    rng = random.Random(seed)
    people = ["ada@lab", "bo@lab", "cy@lab"]
    items = [{"op": "create", "as": "ada@lab"}, {"op": "connect", "as": "ada@lab"}]
    for n in range(rng.randrange(40, 90)):
        who = rng.choice(people)
        roll = rng.random()
        if roll < 0.6:
            text = rng.choice(["hi", "   ", f"line {n}", "x" * rng.randrange(0, 30)])
            items.append({"op": "send", "as": who, "channel": "say", "message": {"text": text}})
        elif roll < 0.75:
            items.append({"op": "send", "as": who, "channel": "like",
                          "message": {"line": rng.randrange(0, n + 2)}})
        elif roll < 0.85:
            items.append({"op": rng.choice(["connect", "disconnect"]), "as": who})
        elif roll < 0.92:
            items.append({"op": "send", "as": who, "channel": "nope", "message": {}})
        else:
            items.append({"op": "advance", "seconds": rng.choice([1, 30, 3600])})
    return items


def test_replay_runs_each_entry_as_the_runtime_ran_it(make_store, tmp_path):
    """Replay's loop (one `retelling` around it, sends through
    LivingDocument.send, the replayed state hashed from the snapshot's map)
    against the plain way, over random chat sessions: every entry applied
    with living.apply(from_entry(entry)) under inputs.apply, the state hashed
    from snapshot() bytes. Same checks, same final snapshot bytes."""
    from advm.durable import inputs
    from advm.durable.noviews import NoViewers, runtime_state_hash
    from advm.runtime.living import LivingDocument

    for seed in range(4):
        path = tmp_path / f"s{seed}"
        with make_store(path, durability="relaxed") as store:
            d = Driver(store, "main", example("chat"), every=5)
            d.run(_random_chat(seed))
            d.doc.close()
            live = d.doc.living.snapshot()
        with make_store(path, readonly=True) as store:
            for viewers in (NoViewers, Viewers):
                result = replay(store, "main", viewers=viewers, live_viewers=Viewers)
                assert result.ok and result.checks, (seed, result.divergence)
                plain = LivingDocument(example("chat"), key="main", viewers=viewers)
                checked = {c.seq for c in result.checks}
                hashes = []
                head = 0
                for entry in store.log("main"):
                    if entry.kind in ("create", "send") and "from" not in entry.extra:
                        frames = plain.apply(inputs.from_entry(entry))  # the general path
                    else:
                        plain, frames = inputs.apply(plain, entry, head, viewers=viewers)
                    inputs.check_frames(entry, frames, doc="main")
                    head = entry.seq
                    if head in checked:
                        hashes.append(state_hash(plain.snapshot()).hex())
                        assert runtime_state_hash(plain).hex() == hashes[-1]
                assert [c.replayed for c in result.checks] == hashes, seed
                # the stored side, read without decoding its viewers' part when it agrees
                assert [c.stored for c in result.checks] == \
                    [state_hash(store.snapshot("main", c.seq).data).hex() for c in result.checks]
                assert result.living.snapshot() == plain.snapshot(), seed
                if viewers is Viewers:
                    assert result.living.snapshot() == live, seed


def test_a_stored_state_read_without_its_viewers_is_what_state_hash_reads(make_store, tmp_path):
    """noviews.stored_state_bytes gives what state_bytes gives: the replayed
    bytes when the stored entries other than the viewers' part are those
    bytes, else (another value, a waiting outbox frame, damage) the long way."""
    from advm.durable.noviews import runtime_state_bytes, state_bytes, stored_state_bytes

    path, live = stored(make_store, tmp_path, "chat", every=4)
    with make_store(path, readonly=True) as store:
        now = runtime_state_bytes(replay(store, "main").living)
    assert stored_state_bytes(live, now) == state_bytes(live) == now
    body = cbor2.loads(live)
    variants = [
        cbor2.dumps(dict(body, clock=body["clock"] + 1)),
        cbor2.dumps(dict(body, outbox=[{"to": "ada@lab", "delta": {}}])),
        cbor2.dumps(dict(body, outbox=[{"to": "ada@lab", "error": {"code": "x"}}])),
        cbor2.dumps({k: v for k, v in body.items() if k != "viewers"}),
        cbor2.dumps(dict(body, viewers={"many": list(range(100))})),
    ]
    for data in variants:
        want = state_bytes(data)
        for expect in (now, want, b""):
            assert stored_state_bytes(data, expect) == want
