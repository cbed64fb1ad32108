"""The example apps driven by their scripted sessions (examples/sessions/*.jsonl,
spec/sessions.md section 10): what each viewer sees, is asked and is refused.

Each session runs in-process through advm/session.py; every one also runs
through `advm run --script` (in-process CLI) and must print the same frames,
and the approval workflow runs through the real CLI in a child process.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from test_sessions import Clients, compile_session, error_codes, kinds

from advm.cli import ExitCode

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SESSIONS = EXAMPLES / "sessions"
NAMES = ["todo", "chat", "tictactoe", "cardgame", "auction", "approval", "cron_cleanup", "checkout", "webhook", "gallery",
         "rummy", "signin", "editor", "taskmanager", "support"]


@dataclass
class Played:
    lines: list[str]
    out: dict[int, list[dict]]  # script line number -> its frames
    clients: Clients
    session: object
    # line number -> {viewer: {member: {"held": from its deltas, "fresh": rendered now}}} where they differ
    drift: dict[int, dict] = field(default_factory=dict)

    def views(self, line: int) -> dict:
        return next(f["view"] for f in self.out[line] if "view" in f)

    def stream(self, who: str) -> str:
        """Everything `who` received, as text, for searching for what it must not see."""
        return "\n".join(json.dumps(f) for f in self.clients.frames.get(who, []))


def play(name: str) -> Played:
    source = (EXAMPLES / f"{name}.adb").read_text(encoding="utf-8")
    # The file name the CLI would use, so error positions read the same.
    session = compile_session(source, f"examples/{name}.adb")
    lines = (SESSIONS / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
    played = Played(lines, {}, Clients(), session)
    for number, text in enumerate(lines, start=1):
        frames = session.feed(text, number)
        played.out[number] = frames
        played.clients.take(frames)
        for who, up in played.clients.connected.items():
            if up:
                fresh = session.living.view(who)
                held = played.clients.view(who)
                if held != fresh:
                    played.drift.setdefault(number, {})[who] = {
                        key: {"held": held.get(key), "fresh": fresh.get(key)}
                        for key in sorted(set(held) | set(fresh)) if held.get(key) != fresh.get(key)}
    return played


_CACHE: dict[str, Played] = {}


def played(name: str) -> Played:
    if name not in _CACHE:
        _CACHE[name] = play(name)
    return _CACHE[name]


# ---------------------------------------------------------------- every session


def test_every_example_app_has_a_session():
    apps = sorted(p.stem for p in EXAMPLES.glob("*.adb"))
    assert apps == sorted(NAMES)
    assert sorted(p.stem for p in SESSIONS.glob("*.jsonl")) == sorted(NAMES)
    for name in NAMES:  # small but real apps
        assert 60 <= len((EXAMPLES / f"{name}.adb").read_text(encoding="utf-8").splitlines()) <= 200, name
        assert f"`{name}.jsonl`" in (ROOT / "spec" / "sessions.md").read_text(encoding="utf-8"), name


@pytest.mark.parametrize("name", NAMES)
def test_session_lines_are_all_good_script(name):
    p = played(name)
    assert [f for frames in p.out.values() for f in frames if f["to"] is None] == []


@pytest.mark.parametrize("name", NAMES)
def test_what_viewers_hold_is_what_they_may_see(name):
    """After every input, each connected viewer's view rebuilt from its deltas
    equals its view rendered from scratch (issue 4 property (b), per line)."""
    assert played(name).drift == {}


@pytest.mark.parametrize("name", NAMES)
def test_the_cli_prints_the_same_frames(cli, name, monkeypatch, tmp_path):
    # Through the durable store (the default): the same frames as in memory.
    monkeypatch.chdir(ROOT)
    r = cli("run", f"examples/{name}.adb", "--script", f"examples/sessions/{name}.jsonl",
            "--store", tmp_path / "store")
    assert r.code == ExitCode.OK
    printed = [json.loads(row) for row in r.out.splitlines()]
    assert printed == [f for n in sorted(played(name).out) for f in played(name).out[n]]


def test_a_session_through_the_real_command_line(advm_proc, tmp_path):
    r = advm_proc("run", "examples/approval.adb", "--script", "examples/sessions/approval.jsonl",
                  "--store", tmp_path / "store")
    assert r.code == 0 and r.err == ""
    frames = [json.loads(row) for row in r.out.splitlines()]
    p = played("approval")
    assert frames == [f for n in sorted(p.out) for f in p.out[n]]


# ---------------------------------------------------------------- todo: per-owner privacy


def test_todo_secret_items_and_notes_reach_their_owner_only():
    p = played("todo")
    bob = p.stream("bob@home")
    assert "birthday present" not in bob and "oat milk" not in bob
    assert "birthday present" in p.stream("alice@home") and "oat milk" in p.stream("alice@home")
    assert p.out[4] == [{"to": "eve@anonymous", "connected": False}]
    assert "eve@anonymous" not in p.clients.states
    # Bob may not touch alice's items, secret or not, nor rename the list; an empty item is refused.
    for line in (9, 10, 11, 15):
        assert error_codes(p.out[line]) == [("bob@home", "abort")], line
    # positions name the document's file without its directories (spec/protocol.md 8.7)
    assert p.out[9][0]["error"]["message"] == "todo.adb:97:5: the transaction aborted"
    bob_view, alice_view = p.views(13), p.views(14)
    assert [(t["id"], t["text"]) for t in bob_view["todos"]] == [(1, "buy milk"), (3, "fix the bike")]
    assert [(t["id"], t["text"], t.get("note")) for t in alice_view["todos"]] == [
        (1, "buy milk", "oat milk, not cow"), (2, "birthday present for bob", ""), (3, "fix the bike", None)]
    assert (bob_view["open_count"], bob_view["done_count"]) == (1, 1)  # secret items are not counted
    assert [t["id"] for t in bob_view["mine"]] == [3] and bob_view["my_open_count"] == 0
    assert alice_view["my_open_count"] == 2


def test_todo_nightly_sweep_and_reconnect():
    p = played("todo")
    assert p.views(18) == {"title": "House", "created_total": 3, "open_count": 1, "done_count": 0,
                           "todos": [{"id": 1, "text": "buy milk", "completed": False,
                                      "owner": {"agent": "alice", "authority": "home"}, "secret": False}],
                           "mine": [], "my_open_count": 0}
    assert p.out[19] == [{"to": "bob@home", "connected": False}]
    # While bob is away, alice completes her secret item: he hears nothing of it.
    assert [f["to"] for f in p.out[20]] == ["alice@home"]
    assert kinds(p.out[21]) == [("bob@home", "connected"), ("bob@home", "delta")]
    assert p.out[21][1]["seq"] == 1
    assert p.clients.view("bob@home") == p.views(18)


# ---------------------------------------------------------------- chat


def test_chat_members_lines_likes_and_refusals():
    p = played("chat")
    assert p.out[4] == [{"to": "lurker@anonymous", "connected": False}]
    assert error_codes(p.out[8]) == [("bo@lab", "abort")]  # an empty line
    assert error_codes(p.out[12]) == [("ada@lab", "abort")]  # liking a line that does not exist
    assert error_codes(p.out[13]) == [("bo@lab", "abort")]  # only the owner sets the topic
    assert p.out[15] == [{"to": "ada@lab", "error": {"code": "input",
                                                     "message": "the document has no channel 'shout'"}}]
    assert p.out[16] == [{"to": "ada@lab", "error": {"code": "input",
                                                     "message": "message on 'say': Say has no field 'words'"}}]
    assert error_codes(p.out[18]) == [("bo@lab", "not_connected")]
    ada, bo = p.views(19), p.views(20)
    assert [(ln["author_name"], ln["text"], ln["likes"], ln["when"]) for ln in ada["recent"]] == [
        ("Bo", "hi ada", 1, "2026-01-01T00:01:30.000+00:00"),
        ("ada", "hello everyone", 0, "2026-01-01T00:00:00.000+00:00")]
    assert ada["topic"] == "compilers" and ada["online_count"] == 1
    assert [m["name"] for m in ada["online"]] == ["ada"]
    # Bubbles are per viewer: bo's own line got ada's like (his own like counted nothing).
    assert (ada["my_line_count"], ada["my_likes"]) == (1, 0)
    assert (bo["my_line_count"], bo["my_likes"]) == (1, 1)
    assert bo["me"] == [{"id": 2, "member": {"agent": "bo", "authority": "lab"}, "name": "Bo", "online": False}]
    # bo comes back: @connected marks him online again, and ada hears of it.
    assert p.clients.view("ada@lab")["online_count"] == 2
    assert p.clients.view("bo@lab")["me"][0]["online"] is True


# ---------------------------------------------------------------- tic-tac-toe


SQUARES = [{"x": x, "y": y} for y in range(3) for x in range(3)]


def test_tictactoe_decide_refuses_a_taken_square_and_asks_again():
    p = played("tictactoe")
    assert p.out[3][-1] == {"to": "xena", "ask": {"id": 1, "channel": "play", "kind": "decide",
                                                  "options": SQUARES}}
    assert p.out[4][-2:] == [{"to": "xena", "ask_closed": 1},
                             {"to": "otto", "ask": {"id": 2, "channel": "play", "kind": "decide",
                                                    "options": SQUARES}}]
    # Otto plays the centre xena holds: abort rolls back to the await, ask 2 stays open.
    assert p.out[5] == [{"to": "otto", "error": {
        "code": "abort",
        "message": "your answer to ask 2 was refused: tictactoe.adb:113:7: the transaction aborted"}}]
    assert p.out[6] == [{"to": "xena", "error": {"code": "wrong_principal",
                                                 "message": "ask 2 was not made to xena@"}}]
    assert p.out[7] == [{"to": "otto", "error": {"code": "invalid_answer",
                                                 "message": "the answer to ask 2 is not one of its options"}}]
    # The same ask, answered properly, closes; nothing in between changed the board.
    assert {"to": "otto", "ask_closed": 2} in p.out[8]
    board = {(s["x"], s["y"]): s["piece"]["agent"] for s in p.views(13)["board"]}
    assert board == {(0, 0): "otto", (1, 0): "otto", (2, 0): "xena", (0, 1): "xena", (1, 1): "xena",
                     (2, 1): "?", (0, 2): "otto", (1, 2): "?", (2, 2): "?"}
    assert p.views(13)["moves"] == 6 and p.views(13)["my_turn"] is False


def test_tictactoe_win_and_rematch():
    p = played("tictactoe")
    after_win = p.views(16)
    assert after_win["winner"] == {"agent": "xena", "authority": ""}
    assert (after_win["moves"], after_win["games"], after_win["my_turn"]) == (7, 1, False)
    assert p.out[15] == [{"to": "xena", "error": {"code": "no_open_ask",
                                                  "message": "nobody asked xena@ anything on 'play'"}}]
    # The loser opens the rematch; a `send` on the incomplete channel answers the open ask.
    assert p.out[17][-1]["to"] == "otto" and p.out[17][-1]["ask"]["id"] == 8
    assert {"to": "otto", "ask_closed": 8} in p.out[18]
    otto = p.clients.view("otto")
    assert "winner" not in otto and otto["moves"] == 1 and otto["my_turn"] is False
    assert p.clients.view("xena")["my_turn"] is True
    assert p.clients.open_asks("xena") == [9] and p.clients.open_asks("otto") == []


# ---------------------------------------------------------------- card game


def test_cardgame_fetch_refuses_a_bad_count_and_hands_stay_private():
    p = played("cardgame")
    assert p.out[3][-1] == {"to": "ben", "ask": {"id": 1, "channel": "how_many", "kind": "fetch"}}
    assert error_codes(p.out[4]) == [("ann", "wrong_principal")]
    assert p.out[5] == [{"to": "ben", "error": {
        "code": "abort",
        "message": "your answer to ask 1 was refused: cardgame.adb:122:5: the transaction aborted"}}]
    # Two cards drawn (invoke #drawCards), then a decide among exactly them (invoke #playCard).
    play_ask = p.out[6][-1]["ask"]
    assert play_ask["kind"] == "decide" and play_ask["channel"] == "play"
    hand = sorted(o["id"] for o in play_ask["options"])
    assert hand == [11, 13]
    assert p.views(7)["deck_size"] == 50 and p.views(7)["my_hand"] == []
    assert error_codes(p.out[8]) == [("ben", "invalid_answer")]  # a card from the deck
    # Ann never receives a card ben holds: card 11 stayed in his hand all game.
    assert '"id": 11' not in p.stream("ann") and '"id": 11' in p.stream("ben")
    ann_prompts = [f["delta"]["prompt"] for f in p.clients.frames["ann"] if "prompt" in f.get("delta", {})]
    assert "How many cards will you draw (1 to 3)?" in ann_prompts


def test_cardgame_parallel_asks_answered_in_reverse_order_across_a_restart():
    p = played("cardgame")
    assert p.out[11][-2:] == [{"to": "ann", "ask": {"id": 5, "channel": "again", "kind": "fetch"}},
                              {"to": "ben", "ask": {"id": 6, "channel": "again", "kind": "fetch"}}]
    over = [f["delta"] for f in p.out[11] if f["to"] == "ann" and "delta" in f]
    assert {"winner": {"agent": "ben", "authority": ""}} in over and {"games": 1} in over
    # Ben answers the second future first: kept until its await, closed at once.
    assert p.out[12] == [{"to": "ben", "ask_closed": 6}]
    assert kinds(p.out[13]) == [("ann", "connected"), ("ann", "delta"), ("ann", "ask"),
                                ("ben", "connected"), ("ben", "delta")]
    assert p.out[13][2]["ask"]["id"] == 5
    assert p.views(14)["score1"] == 8 and p.views(14)["score2"] == 14
    # Ann's answer completes both awaits: a new game starts and she is asked first.
    assert {"to": "ann", "ask_closed": 5} in p.out[15]
    assert p.out[15][-1] == {"to": "ann", "ask": {"id": 7, "channel": "how_many", "kind": "fetch"}}
    final = p.views(16)
    assert (final["games"], final["rounds"], final["score1"], final["deck_size"]) == (1, 0, 0, 52)
    assert "winner" not in final and final["table_cards"] == []


# ---------------------------------------------------------------- auction


def test_auction_opens_and_closes_by_delayed_transitions():
    p = played("auction")
    first = p.clients.frames["bea@shop"][1]["delta"]
    assert first["phase"] == "Preview"
    assert error_codes(p.out[5]) == [("bea@shop", "abort")]  # bidding is not open yet
    assert [f["delta"] for f in p.out[6]] == [{"phase": "Bidding"}] * 3
    assert error_codes(p.out[8]) == [("cal@shop", "abort")]  # 52 < 50 + 5
    assert error_codes(p.out[9]) == [("sam@shop", "abort")]  # the seller may not bid
    assert error_codes(p.out[15]) == [("cal@shop", "abort")]  # 134 < 130 + 5
    before = p.views(16)
    assert (before["phase"], before["high_bid"], before["bid_count"], before["leading"]) == (
        "Bidding", "130", 3, True)
    # One second before the close (00:01 + 3600 s) it is still open; the hourly reminder ran at 01:00.
    still = p.views(18)
    assert (still["phase"], still["reminders"], still["leading"]) == ("Bidding", 1, False)
    assert [f["delta"] for f in p.out[19]] == [
        {"phase": "Closed", "winner": {"agent": "bea", "authority": "shop"}, "sold_for": "130"}] * 3
    assert error_codes(p.out[20]) == [("cal@shop", "abort")]  # too late
    closed = p.views(22)
    # The nightly archive kept the winner's bids only.
    assert [(b["id"], b["amount"]) for b in closed["history"]] == [(3, "130"), (1, "50")]
    assert closed["my_bids"] == [{"id": 3, "bidder": {"agent": "bea", "authority": "shop"},
                                  "amount": "130", "placed": "2026-01-01T00:50:00.000+00:00"},
                                 {"id": 1, "bidder": {"agent": "bea", "authority": "shop"},
                                  "amount": "50", "placed": "2026-01-01T00:01:00.000+00:00"}]


# ---------------------------------------------------------------- approval


def test_approval_awaits_the_manager_three_days_across_restarts():
    p = played("approval")
    assert p.out[1] == [{"to": "mia@corp", "ask": {"id": 1, "channel": "manager_decision", "kind": "fetch"}}]
    assert p.out[4] == [{"to": "otto@corp", "connected": False}]
    mia_first = p.clients.frames["mia@corp"][2]["delta"]
    assert mia_first["manager_note"] == "Please review this expense." and mia_first["my_role"] == "manager"
    assert "manager_note" not in p.stream("rita@corp") and "director_note" not in p.stream("mia@corp")
    # A rejection without a reason is refused after the await; the question stays open.
    assert p.out[6] == [{"to": "mia@corp", "error": {
        "code": "abort",
        "message": "your answer to ask 1 was refused: approval.adb:99:5: the transaction aborted"}}]
    assert kinds(p.out[7]) == [("rita@corp", "connected"), ("rita@corp", "delta"),
                               ("mia@corp", "connected"), ("mia@corp", "delta"), ("mia@corp", "ask")]
    waiting = p.views(9)
    assert waiting["status"] == "Pending" and waiting["steps"] == 0 and waiting["manager_days"] == 5
    assert error_codes(p.out[10]) == [("rita@corp", "wrong_principal")]
    # Three days later the answer resumes the block after its await: the write before
    # the await was not run again, and the step is stamped with the answer's time.
    assert {"to": "mia@corp", "ask_closed": 1} in p.out[11]
    assert p.out[11][-1] == {"to": "dora@corp", "ask": {"id": 2, "channel": "director_decision", "kind": "fetch"}}
    assert kinds(p.out[12]) == [("dora@corp", "connected"), ("dora@corp", "delta"), ("dora@corp", "ask")]
    assert p.out[12][1]["delta"]["my_role"] == "director"
    assert {"to": "dora@corp", "ask_closed": 2} in p.out[14]
    done = p.views(15)
    assert done["status"] == "Approved" and done["manager_asked"] == "2026-01-01T00:00:00.000+00:00"
    assert [(h["role"], h["comment"], h["at"]) for h in done["history"]] == [
        ("manager", "needed for the new hire", "2026-01-04T00:00:00.000+00:00"),
        ("director", "ok", "2026-01-04T00:00:00.000+00:00")]
    # The escalation was replaced by the manager's answer: a week later nothing happens.
    assert p.out[16] == []
    assert p.session.restarts == 2


# ---------------------------------------------------------------- cron cleanup


def test_cron_cleanup_runs_daily_at_three_in_the_documents_zone():
    p = played("cron_cleanup")
    assert error_codes(p.out[9]) == [("ben@team", "abort")]  # only the owner keeps notes
    assert error_codes(p.out[10]) == [("ben@team", "abort")]  # 31 days is too long
    assert p.views(12)["last_report"] == "no sweep yet"  # 01:00 UTC is 02:00 in Paris
    reports = [f["delta"]["last_report"] for f in p.clients.frames["olga@team"]
               if "last_report" in f.get("delta", {})]
    assert reports == ["no sweep yet",  # her full view
                       "sweep 1 on 2026-01-01: took down 0", "sweep 2 on 2026-01-02: took down 0",
                       "sweep 2 on 2026-01-02: took down 0",  # her full view after the restart
                       "sweep 3 on 2026-01-03: took down 1", "sweep 4 on 2026-01-04: took down 0"]
    # Each sweep ran at 03:00 Paris time, 02:00 UTC: the advance woke the document there.
    assert [f["to"] for f in p.out[13]] == ["olga@team", "ben@team"]
    after = p.views(19)
    assert (after["sweeps"], after["taken_down"]) == (4, 1)
    assert after["last_report"] == "sweep 4 on 2026-01-04: took down 0"
    # Note 1 (one day, until the 2nd) went in the sweep early on the 3rd; note 4 was kept.
    assert [(n["id"], n["until"], n["kept"]) for n in after["board"]] == [
        (4, "2026-01-02", True), (3, "2026-01-04", False), (2, "2026-01-05", False)]


def test_cron_cleanup_drafts_are_their_authors_until_published():
    p = played("cron_cleanup")
    olga = p.clients.frames["olga@team"]
    published_at = next(i for i, f in enumerate(olga) if "offsite ideas" in json.dumps(f))
    assert olga[published_at] in p.out[20]  # the first olga hears of it is the publish
    assert "offsite ideas" in json.dumps(p.out[5])  # ben saw his draft from the start
    assert [n["id"] for n in p.views(12)["board"]] == [1, 4, 3]
    assert [n["id"] for n in p.views(21)["board"]] == [4, 3, 2]
    assert p.views(21)["pinned_count"] == 3


# ---------------------------------------------------------------- one store, every example


def documented_session_commands() -> list[list[str]]:
    """The `advm run ... --script ...` lines examples/README.md gives."""
    text = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    block = text.split("<!-- example sessions -->\n```sh\n", 1)[1].split("```", 1)[0]
    return [line.split() for line in block.splitlines() if line.strip()]


def test_the_example_sessions_never_collide_in_the_default_store(cli, tmp_path, monkeypatch):
    from advm.store import Store
    from advm.durable.replay import replay

    commands = documented_session_commands()
    assert sorted(c[2].split("/")[-1] for c in commands) == sorted(f"{n}.adb" for n in NAMES)
    monkeypatch.chdir(tmp_path)  # the default store is ./.advm
    (tmp_path / "examples").symlink_to(EXAMPLES)
    for command in commands:
        assert command[:2] == ["advm", "run"] and "--store" not in command
        r = cli(*command[1:])
        assert r.code == ExitCode.OK, (command, r.err)
        assert all(line.startswith("debug: ") for line in r.err.splitlines()), r.err
        name = command[2].split("/")[-1][:-4]
        # Exactly the frames of the session run alone, in memory.
        assert [json.loads(row) for row in r.out.splitlines()] == [
            f for n in sorted(played(name).out) for f in played(name).out[n]]
    with Store(tmp_path / ".advm", readonly=True) as store:
        assert store.documents() == sorted(NAMES)
        for name in NAMES:
            assert replay(store, name).ok, name


def test_a_second_program_on_the_default_document_is_told_what_to_do(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "examples").symlink_to(EXAMPLES)
    assert cli("run", "examples/todo.adb", "--script", "examples/sessions/todo.jsonl").code == 0
    r = cli("run", "examples/chat.adb", "--script", "examples/sessions/chat.jsonl")
    assert r.code == ExitCode.FAILURE and "runs other code" in r.err
    assert r.err.endswith("advm: hint: the default document 'main' holds another program's; run "
                          "this script on its own with --doc chat (or --memory)\n")


def test_checkout_session_a_declined_charge_then_a_paid_one():
    p = played("checkout")
    # The charge is asked for once the cart checks out, and awaited across the restart; the
    # result lines stand in for the service.
    assert p.views(12)["phase"] == "Paying"
    final = p.views(14)
    assert (final["phase"], final["charge_id"], final["attempts"], final["total_cents"]) == ("Paid", "ch_2", 2, 1200)
    assert final["declined_because"] == ""
    assert any(f.get("delta", {}).get("phase") == "Declined" for f in p.out[9])
    # Only the customer adds; a cart being paid refuses additions.
    assert error_codes(p.out[5]) == [("bob@shop", "abort")] and error_codes(p.out[7]) == [("ann@shop", "abort")]
    assert not p.drift


# ---------------------------------------------------------------- issue 22's apps


def _line(p: Played, text: str, last: bool = False) -> int:
    """The number of the (first, or last) script line holding `text`."""
    found = [n for n, line in enumerate(p.lines, start=1) if text in line]
    return found[-1] if last else found[0]


def test_rummy_bulk_numbering_method_on_rows_and_private_hands():
    p = played("rummy")
    assert error_codes(p.out[_line(p, '"message":"again"')]) == [("ben", "abort")]  # one seat each
    assert error_codes(p.out[_line(p, '"ann","channel":"deal"')]) == [("ann", "abort")]  # nobody ready yet
    ann = p.views(_line(p, '{"op":"view","as":"ann"}'))
    assert len(ann["hand"]) == 3 and ann["in_deck"] == 46
    # the shuffle numbered the cards once per row: the dealt ones hold distinct positions
    positions = [c["position"] for c in ann["hand"]]
    assert len(set(positions)) == 3 and all(0 <= n < 52 for n in positions)
    assert error_codes(p.out[_line(p, '"card":20')]) == [("ann", "abort")]  # not in ann's hand
    ben_cards = {c["id"] for c in p.views(_line(p, '{"op":"view","as":"ben"}'))["hand"]}
    fold = _line(p, '"channel":"fold"')
    after = p.views(_line(p, '{"op":"view","as":"ann"}', last=True))
    assert ben_cards <= {c["id"] for c in after["discards"]}  # every card of the hand, discarded
    seen = [f for n in range(1, fold) for f in p.out[n] if f.get("to") == "ann"]
    held = {int(k) for f in seen for k in (f.get("delta", {}).get("hand") or {}) if k.isdigit()}
    assert not held & ben_cards  # before the fold ann never held one of ben's cards


def test_signin_context_ingestion_and_privacy():
    p = played("signin")
    assert error_codes(p.out[1]) == [("site", "create_refused")]  # a foreign origin
    assert {"to": "mallory", "connected": False} in p.out[3]
    assert error_codes(p.out[_line(p, '"handle":"ann","code":"b2"')]) == [("ben", "abort")]  # taken
    ann = p.views(_line(p, '{"op":"view","as":"ann"}'))
    mine, ben = ann["me"][0], ann["members"][1]
    assert mine["age"] == 31 and mine["address"] == {"city": "Oslo", "country": "NO"}
    assert mine["settings"] == {"dark": True} and mine["display"] == "ann"
    assert "age" not in ben and "settings" not in ben and ben["display"] == "Ben B."
    assert error_codes(p.out[_line(p, '"code":"wrong"')]) == [("ben2", "abort")]
    ben2 = p.views(_line(p, '{"op":"view","as":"ben2"}'))
    assert ben2["me"][0]["age"] == 40 and ben2["me"][0]["display"] == "Ben B."  # absent display kept
    last = p.views(len(p.lines))
    assert last["me"][0]["display"] == "Ann A." and last["me"][0]["age"] == 31


def test_editor_nested_table_reaches_every_viewer():
    p = played("editor")
    cat = p.views(_line(p, '{"op":"view","as":"cat"}'))["page"]
    assert [x["text"] for x in cat["paragraphs"]] == ["first, edited", "between", "second"]
    assert [x["position"] for x in cat["paragraphs"]] == [0, 1, 2]
    assert cat["cursors"] == {"ann": 0, "ben": 1}
    assert error_codes(p.out[_line(p, '"taken over"')]) == [("ann", "abort")]  # ben's locked paragraph
    for who in ("ann", "ben", "cat"):  # each viewer got the change inside the nested table
        assert any(f.get("to") == who and "delta" in f for f in p.out[_line(p, '"first, edited"')])
    final = p.views(len(p.lines))["page"]
    assert [x["text"] for x in final["paragraphs"]] == ["top", "first, edited", "between"]
    assert final["title"] == "Meeting notes" and final["cursors"] == {"ann": 0}


# ---------------------------------------------------------------- issue 15's agents


def test_taskmanager_tool_loop_proposal_accepted_and_a_failed_ask_put_back():
    p = played("taskmanager")
    # The model's first reply ran both tools; each member saw each step as deltas.
    tools = [f for f in p.out[5] if f["to"] == "bob@team" and "delta" in f]
    assert len(tools) >= 3
    final = p.views(13)
    assert [t["name"] for t in final["tasks"]] == ["Write the announcement"]  # accepted by bob
    assert error_codes(p.out[8]) == [("bob@team", "abort")]  # nothing left to accept
    assert error_codes(p.out[10]) == [("bob@team", "abort")]  # an ask while one runs
    chat = final["chat"]
    assert (chat["ending"], chat["last_topic"], chat["asks"]) == ("failed", "launch", 2)
    assert chat["proposal"] == ""  # "Book the venue" was proposed by the failed ask, and put back
    assert [t["role"] for t in chat["history"]] == ["user", "assistant", "tool", "tool", "assistant", "user",
                                                      "assistant", "tool", "tool"]
    assert not p.drift


def test_support_refund_waits_on_the_managers_fetch_across_a_restart():
    p = played("support")
    assert [f["connected"] for f in p.out[4] if "connected" in f] == [False]  # a stranger
    asked = [f["ask"] for f in p.out[8] if f["to"] == "max@shop" and "ask" in f]
    assert asked == [{"id": 1, "channel": "approval", "kind": "fetch"}]  # once the agent is idle
    final = p.views(13)
    assert final["refunds"] == [{"id": 1, "cents": 2500, "reason": "arrived broken", "approved": True,
                                 "note": "sorry about that"}]
    chat = final["chat"]
    assert (chat["ending"], chat["wanted_cents"], chat["asker"]["agent"]) == ("finished", 0, "max")
    assert chat["history"][-2]["content"].startswith("The manager approved the refund of 2500 cents")
    assert not p.drift
