"""Properties of random scripted sessions against example documents (issue 4,
"Tests"), checked at the session level, where users meet the runtime:

(a) restoring the runtime from its snapshot before every input gives exactly
    the frames of the run never restored; and a script with `restart`s in it
    gives every other input the same frames as the script without them, apart
    from each viewer's `seq` (a restart starts connections afresh);
(b) after every input, each connected viewer's view rebuilt from the deltas it
    received equals its view rendered from scratch;
(c) no frame to a viewer carries a value privacy hides from it (secrets are
    planted in secret todo items, `viewer_is<owner>` notes and the approval's
    `viewer_is` notes, and every frame is searched for them).

Steps are symbolic ("answer the open ask of otto with square 4") and become
script lines against the uninterrupted run, so every generated session is
valid enough to go deep. Bounded and derandomized;
ADVM_PROP_EXAMPLES=2000 runs a long campaign.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_sessions import Clients, module_of

from advm.session import Session

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("ADVM_PROP_EXAMPLES", "15"))
STEPS = 30

SETTINGS = settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def example_module(name: str):
    return module_of((ROOT / "examples" / f"{name}.adb").read_text(encoding="utf-8"), f"{name}.adb")


# ---------------------------------------------------------------- the documents and their steps


class Todo:
    name = "todo"
    people = ["alice@home", "bob@home", "carol@home"]
    opening = [{"op": "create", "as": "alice@home"}, {"op": "connect", "as": "alice@home"},
               {"op": "connect", "as": "bob@home"}]

    @staticmethod
    def steps():
        who = st.sampled_from(Todo.people)
        item = st.integers(1, 6)
        return st.one_of(
            st.tuples(st.just("connect"), who),
            st.tuples(st.just("disconnect"), who),
            *[st.tuples(st.just("add"), who, st.booleans())] * 3,
            st.tuples(st.sampled_from(["complete", "reopen", "remove", "edit", "annotate"]), who, item),
            st.tuples(st.just("clear"), who),
            st.tuples(st.just("advance"), st.sampled_from([60, 3600, 86400])),
            st.tuples(st.just("view"), who),
            st.tuples(st.just("restart")),
        )

    @staticmethod
    def concrete(step, ref: Session, k: int) -> str:
        op, *args = step
        if op in ("connect", "disconnect", "view"):
            return json.dumps({"op": op, "as": args[0]})
        if op == "add":
            who, secret = args
            # Secret items carry their owner's marker: nobody else may ever receive it.
            text = f"SECRET<{who}>#{k}" if secret else f"public #{k}"
            return json.dumps({"op": "send", "as": who, "channel": "create",
                               "message": {"text": text, "secret": secret}})
        if op in ("complete", "reopen", "remove"):
            return json.dumps({"op": "send", "as": args[0], "channel": op, "message": {"id": args[1]}})
        if op == "edit":
            return json.dumps({"op": "send", "as": args[0], "channel": "edit",
                               "message": {"id": args[1], "text": f"edited #{k}"}})
        if op == "annotate":
            return json.dumps({"op": "send", "as": args[0], "channel": "annotate",
                               "message": {"id": args[1], "note": f"NOTE<{args[0]}>#{k}"}})
        if op == "clear":
            return json.dumps({"op": "send", "as": args[0], "channel": "clear_completed",
                               "message": {"yes": True}})
        if op == "advance":
            return json.dumps({"op": "advance", "seconds": args[0]})
        return json.dumps({"op": "restart"})

    @staticmethod
    def secrets_hidden_from(who: str) -> list[str]:
        return [f"{kind}<{other}>" for other in Todo.people if other != who for kind in ("SECRET", "NOTE")]


SQUARES = [{"x": x, "y": y} for y in range(3) for x in range(3)]


def asked(ref: Session, people: list[str]) -> str | None:
    """Someone with an open ask, if anyone has one."""
    return next((who for who in people if ref.living.asks_for(who)), None)


def open_ask(ref: Session, who: str, fallback: int = 1) -> int:
    """The id of `who`'s oldest open ask, or an id that is stale or unknown."""
    asks = ref.living.asks_for(who)
    return asks[0]["id"] if asks else fallback


class TicTacToe:
    name = "tictactoe"
    people = ["xena", "otto", "zed"]
    opening = [{"op": "create", "as": "xena"}, {"op": "connect", "as": "xena"},
               {"op": "connect", "as": "otto"}]

    @staticmethod
    def steps():
        who = st.sampled_from(TicTacToe.people)
        return st.one_of(
            # A run of moves in a row, so that games get played to the end.
            st.tuples(st.just("moves"), st.lists(st.integers(0, 8), min_size=1, max_size=6)),
            st.tuples(st.just("move"), st.integers(0, 8)),
            st.tuples(st.just("connect"), who),
            st.tuples(st.just("disconnect"), who),
            st.tuples(st.just("answer"), who, st.integers(0, 8), st.integers(1, 12)),
            st.tuples(st.just("play"), who, st.integers(0, 9)),
            st.tuples(st.just("rematch"), who),
            st.tuples(st.just("advance"), st.sampled_from([1, 3600])),
            st.tuples(st.just("view"), who),
            st.tuples(st.just("restart")),
        )

    @staticmethod
    def concrete(step, ref: Session, k: int) -> str:
        op, *args = step
        if op in ("connect", "disconnect", "view"):
            return json.dumps({"op": op, "as": args[0]})
        if op == "move":  # whoever is asked plays the k-th open square
            who = asked(ref, TicTacToe.people)
            if who is None:
                return json.dumps({"op": "advance", "seconds": 1})
            board = ref.living.engine.field("board")
            free = [{"x": q["x"], "y": q["y"]} for q in board if q["piece"]["agent"] == "?"] or SQUARES
            return json.dumps({"op": "answer", "as": who, "ask": open_ask(ref, who),
                               "message": free[args[0] % len(free)]})
        if op == "answer":
            who, square, fallback = args
            return json.dumps({"op": "answer", "as": who, "ask": open_ask(ref, who, fallback),
                               "message": SQUARES[square]})
        if op == "play":  # square 9 is off the board: never one of the options
            who, square = args
            message = SQUARES[square] if square < 9 else {"x": 3, "y": 3}
            return json.dumps({"op": "send", "as": who, "channel": "play", "message": message})
        if op == "rematch":
            return json.dumps({"op": "send", "as": args[0], "channel": "rematch", "message": {"ready": True}})
        if op == "advance":
            return json.dumps({"op": "advance", "seconds": args[0]})
        return json.dumps({"op": "restart"})

    @staticmethod
    def secrets_hidden_from(who: str) -> list[str]:
        return []


class Approval:
    name = "approval"
    people = ["rita@corp", "mia@corp", "dora@corp", "otto@corp"]
    opening = [{"op": "create", "as": "rita@corp", "arg": {
        "title": "laptop", "amount": 25000, "manager": "mia@corp", "director": "dora@corp"}},
        {"op": "connect", "as": "rita@corp"}]

    @staticmethod
    def steps():
        who = st.sampled_from(Approval.people)
        return st.one_of(
            *[st.tuples(st.just("decide"), st.booleans(), st.sampled_from(["", "fine"]))] * 3,
            st.tuples(st.just("connect"), who),
            st.tuples(st.just("disconnect"), who),
            st.tuples(st.just("answer"), who, st.booleans(), st.sampled_from(["", "  ", "fine"])),
            st.tuples(st.just("withdraw"), who),
            st.tuples(st.just("advance"), st.sampled_from([3600, 86400, 2 * 86400])),
            st.tuples(st.just("view"), who),
            st.tuples(st.just("restart")),
        )

    @staticmethod
    def concrete(step, ref: Session, k: int) -> str:
        op, *args = step
        if op in ("connect", "disconnect", "view"):
            return json.dumps({"op": op, "as": args[0]})
        if op == "decide":  # whoever is asked answers
            who = asked(ref, Approval.people) or "mia@corp"
            return json.dumps({"op": "answer", "as": who, "ask": open_ask(ref, who),
                               "message": {"approve": args[0], "comment": args[1]}})
        if op == "answer":
            who, approve, comment = args
            return json.dumps({"op": "answer", "as": who, "ask": open_ask(ref, who),
                               "message": {"approve": approve, "comment": comment}})
        if op == "withdraw":
            return json.dumps({"op": "send", "as": args[0], "channel": "withdraw",
                               "message": {"reason": f"no longer needed #{k}"}})
        if op == "advance":
            return json.dumps({"op": "advance", "seconds": args[0]})
        return json.dumps({"op": "restart"})

    @staticmethod
    def secrets_hidden_from(who: str) -> list[str]:
        hidden = []
        if who != "mia@corp":
            hidden.append("Please review this expense.")
        if who != "dora@corp":
            hidden.append("Escalated expense awaiting you.")
        return hidden


class CardGame:
    name = "cardgame"
    people = ["ann", "ben", "cy"]
    opening = [{"op": "create", "as": "ann", "arg": {"rounds": 3}}, {"op": "connect", "as": "ann"},
               {"op": "connect", "as": "ben"}]

    @staticmethod
    def steps():
        who = st.sampled_from(CardGame.people)
        return st.one_of(
            # Whoever is asked answers: a count (0 and 4 are refused), a card, or "again?".
            st.tuples(st.just("moves"), st.lists(st.integers(0, 4), min_size=1, max_size=6)),
            st.tuples(st.just("move"), st.integers(0, 4)),
            st.tuples(st.just("connect"), who),
            st.tuples(st.just("disconnect"), who),
            st.tuples(st.just("answer"), who, st.integers(1, 12)),
            st.tuples(st.just("view"), who),
            st.tuples(st.just("restart")),
        )

    @staticmethod
    def concrete(step, ref: Session, k: int) -> str:
        op, *args = step
        if op in ("connect", "disconnect", "view"):
            return json.dumps({"op": op, "as": args[0]})
        if op == "move":
            who = asked(ref, CardGame.people)
            if who is None:
                return json.dumps({"op": "view", "as": "cy"})
            ask = ref.living.asks_for(who)[0]
            pick = args[0]
            if ask["channel"] == "how_many":
                message = {"count": pick}
            elif ask["channel"] == "play":
                message = ask["options"][pick % len(ask["options"])]
            else:
                message = {"yes": pick > 0}
            return json.dumps({"op": "answer", "as": who, "ask": ask["id"], "message": message})
        if op == "answer":  # someone answers an ask by number: mostly stale, unknown or not theirs
            return json.dumps({"op": "answer", "as": args[0], "ask": args[1], "message": {"count": 1}})
        return json.dumps({"op": "restart"})

    @staticmethod
    def secrets_hidden_from(who: str) -> list[str]:
        return []


DOCS = {d.name: d for d in (Todo, TicTacToe, Approval, CardGame)}


def scripts(doc):
    return st.lists(doc.steps(), min_size=STEPS // 2, max_size=STEPS)


def concretize(doc, steps) -> list[str]:
    """The script the symbolic steps stand for, resolved against one run."""
    ref = Session(example_module(doc.name))
    lines = [json.dumps(item) for item in doc.opening]
    for k, text in enumerate(lines, start=1):
        ref.feed(text, k)
    flat = []
    for step in steps:
        flat += [("move", square) for square in step[1]] if step[0] == "moves" else [step]
    for k, step in enumerate(flat, start=len(lines) + 1):
        text = doc.concrete(step, ref, k)
        ref.feed(text, k)
        lines.append(text)
    return lines


# ---------------------------------------------------------------- (a) snapshots


def check_restored_before_every_step(doc, steps) -> None:
    module = example_module(doc.name)
    ref, twin = Session(module), Session(module)
    for number, text in enumerate(concretize(doc, steps), start=1):
        # A restore that keeps the connections (a host moving the document),
        # unlike the `restart` input, which reconnects every viewer.
        twin.host.recover(twin.doc)  # from the snapshot the last input left (RuntimeHost.checkpoint)
        want, got = ref.feed(text, number), twin.feed(text, number)
        assert got == want, (number, text)
    for who in doc.people:
        assert twin.living.view(who) == ref.living.view(who)
        assert twin.living.asks_for(who) == ref.living.asks_for(who)


def without_seq(frames: list[dict]) -> list[dict]:
    return [{k: v for k, v in f.items() if k != "seq"} for f in frames]


def check_restarts_change_nothing_else(doc, steps, where: list[int]) -> None:
    """The script with `restart` lines inserted at `where` (positions among the
    inputs) gives each original input the frames of the script without them."""
    module = example_module(doc.name)
    lines = [t for t in concretize(doc, steps) if json.loads(t)["op"] != "restart"]
    plain, restarted = Session(module), Session(module)
    at = set(where)
    for number, text in enumerate(lines, start=1):
        if number in at:
            restarted.feed('{"op":"restart"}', 0)
        want, got = plain.feed(text, number), restarted.feed(text, number)
        assert without_seq(got) == without_seq(want), (number, text)
    for who in doc.people:
        assert restarted.living.view(who) == plain.living.view(who)


@SETTINGS
@given(steps=scripts(Todo))
def test_todo_restored_before_every_step(steps):
    check_restored_before_every_step(Todo, steps)


@SETTINGS
@given(steps=scripts(TicTacToe))
def test_tictactoe_restored_before_every_step(steps):
    check_restored_before_every_step(TicTacToe, steps)


@SETTINGS
@given(steps=scripts(Approval))
def test_approval_restored_before_every_step(steps):
    check_restored_before_every_step(Approval, steps)


# A dealt deck makes every snapshot and restore heavier: fewer, still deep, sessions.
@settings(SETTINGS, max_examples=max(4, EXAMPLES // 3))
@given(steps=scripts(CardGame))
def test_cardgame_restored_before_every_step(steps):
    check_restored_before_every_step(CardGame, steps)


@SETTINGS
@given(data=st.data(), name=st.sampled_from(sorted(DOCS)))
def test_restarts_change_nothing_but_connections(data, name):
    doc = DOCS[name]
    steps = data.draw(scripts(doc))
    where = data.draw(st.lists(st.integers(2, STEPS + 1), max_size=4))
    check_restarts_change_nothing_else(doc, steps, where)


# ---------------------------------------------------------------- (b) and (c) in one run


def check_streams(doc, steps) -> None:
    session = Session(example_module(doc.name))
    clients = Clients()
    for number, text in enumerate(concretize(doc, steps), start=1):
        frames = session.feed(text, number)
        clients.take(frames)
        for f in frames:
            if f["to"] is None:
                raise AssertionError(f"line {number} ({text}) was refused or a timer failed: {f}")
            seen = json.dumps(f)
            for secret in doc.secrets_hidden_from(f["to"]):
                assert secret not in seen, (number, text, f)
        for who, up in clients.connected.items():
            if up:
                assert clients.view(who) == session.living.view(who), (number, text, who)


@SETTINGS
@given(data=st.data(), name=st.sampled_from(sorted(DOCS)))
def test_deltas_rebuild_the_view_and_never_leak(data, name):
    doc = DOCS[name]
    check_streams(doc, data.draw(scripts(doc)))


def test_the_secret_markers_do_reach_their_owners():
    """(c) would pass vacuously if the markers were never sent at all."""
    steps = [("add", "alice@home", True), ("annotate", "alice@home", 1), ("add", "bob@home", False),
             ("annotate", "bob@home", 2)]
    session = Session(example_module("todo"))
    clients = Clients()
    for number, text in enumerate(concretize(Todo, steps), start=1):
        clients.take(session.feed(text, number))
    alice = json.dumps(clients.frames["alice@home"])
    bob = json.dumps(clients.frames["bob@home"])
    assert "SECRET<alice@home>" in alice and "NOTE<alice@home>" in alice
    assert "NOTE<bob@home>" in bob and "public #" in alice and "public #" in bob
    assert "SECRET<alice@home>" not in bob and "NOTE<alice@home>" not in bob
