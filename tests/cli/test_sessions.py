"""Scripted sessions (issue 4 point 9, spec/sessions.md): the driver in
advm/session.py and `advm run --script`.

The helpers at the top (`Clients`, `run_script`, `compile_session`) are shared
with tests/cli/test_examples_sessions.py and tests/cli/test_session_properties.py.
"""
from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from advm.cli import ExitCode
from advm.views.merge import ViewState
from advm.session import CLOCK_START_MS, OPS, ScriptError, Session, client_name, parse_line

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "spec" / "sessions.md"
DAY_S = 86400


# ---------------------------------------------------------------- shared helpers


@functools.lru_cache(maxsize=None)
def module_of(text: str, filename: str):
    from advm.compiler.build import build_source

    return build_source(text, filename)


def compile_session(text: str, filename: str = "doc.adb", **kw) -> Session:
    """A session on a compiled document (compiled once per text)."""
    return Session(module_of(text, filename), **kw)


def run_script(session: Session, lines: list[str]) -> list[list[dict]]:
    """The frames of each script line, in order."""
    return [session.feed(text, number) for number, text in enumerate(lines, start=1)]


def lines_of(*items: dict) -> list[str]:
    return [json.dumps(item) for item in items]


class Clients:
    """What every principal received, kept the way a client keeps it: its view
    rebuilt from the deltas (views.merge.ViewState), its open asks, its errors.
    A full view (seq 1) starts the viewer's copy afresh."""

    def __init__(self):
        self.states: dict[str, ViewState] = {}
        self.asks: dict[str, dict[int, dict]] = {}
        self.errors: list[tuple[str | None, str, str]] = []
        self.connected: dict[str, bool] = {}
        self.frames: dict[str | None, list[dict]] = {}

    def take(self, frames: list[dict]) -> None:
        for f in frames:
            who = f["to"]
            self.frames.setdefault(who, []).append(f)
            if "delta" in f:
                state = self.states.setdefault(who, ViewState())
                if f["seq"] == 1:
                    state.reset()
                state.apply(f["delta"], f["seq"])
            elif "connected" in f:
                self.connected[who] = f["connected"]
            elif "ask" in f:
                self.asks.setdefault(who, {})[f["ask"]["id"]] = f["ask"]
            elif "ask_closed" in f:
                self.asks.get(who, {}).pop(f["ask_closed"], None)
            elif "error" in f:
                self.errors.append((who, f["error"]["code"], f["error"]["message"]))
            elif "web" in f:  # a @web request's answer (spec/sessions.md 2)
                assert set(f) == {"to", "web"} and set(f["web"]) == {"status", "type", "body"}, f
            else:
                assert set(f) == {"to", "view"}, f

    def view(self, who: str):
        return self.states[who].view

    def open_asks(self, who: str) -> list[int]:
        return sorted(self.asks.get(who, {}))


def kinds(frames: list[dict]) -> list[tuple]:
    """(to, kind) of each frame: the shape of an output, for compact asserts."""
    return [(f["to"], next(k for k in f if k not in ("to", "seq"))) for f in frames]


def error_codes(frames: list[dict]) -> list[tuple]:
    return [(f["to"], f["error"]["code"]) for f in frames if "error" in f]


# ---------------------------------------------------------------- documents

STAMP = """
@static {
  create {
    return !@who.isAnonymous();
  }
}
message Stamp { string text; }
public long at;
public string text;
public int connects;
public int loads;
private string hidden = "only for nobody";
channel stamp(Stamp s) {
  at = Time.now();
  text = s.text;
}
@connected {
  connects++;
  return @who.agent() != "mallory";
}
@load {
  loads++;
}
"""

CRON = """
public int runs;
public string days;
public long fired_at;
public string marks;
message Go { int seconds; }
@construct {
  transition #tick in 5400;
}
#tick {
  fired_at = Time.now();
}
@cron nightly daily 1:00 {
  runs++;
  days = days + Time.today() + " ";
}
channel go(Go g) {
  transition #boom in g.seconds;
}
#boom {
  marks = "boom";
  abort;
}
@static {
  create {
    return true;
  }
}
"""

WAIT = """
message Num { int n; }
channel<Num> num;
public principal boss;
public int before_await;
public int result;
public int got;
@construct {
  boss = @who;
  transition #ask;
}
@connected {
  return true;
}
#ask {
  before_await++;
  int local = 40;
  Num a = num.fetch(boss).await();
  if (a.n < 0) {
    abort;
  }
  got = a.n;
  result = local + a.n;
}
@static {
  create {
    return true;
  }
}
"""

DELETE = """
public int n;
@connected {
  return true;
}
@delete {
  return @who.agent() == "owner";
}
@static {
  create {
    return true;
  }
}
"""


# ---------------------------------------------------------------- parsing


def test_good_lines_parse_to_their_inputs():
    assert parse_line('{"op":"connect","as":"bob"}') == {"op": "connect", "as": "bob"}
    assert parse_line('{"op":"advance","seconds":1.5}') == {"op": "advance", "seconds": 1.5}
    assert parse_line('{"op":"create","as":"a@b"}') == {"op": "create", "as": "a@b"}
    assert parse_line('{"op":"restart"}') == {"op": "restart"}
    assert parse_line("") is None and parse_line("   \t") is None
    assert parse_line('{"op":"update","as":"bob","viewer_state":{"page":2}}') == {
        "op": "update", "as": "bob", "viewer_state": {"page": 2}}
    assert parse_line('{"op":"result","call":2,"result":{"value":{}}}') == {
        "op": "result", "call": 2, "result": {"value": {}}}
    assert parse_line('{"op":"web","as":"h","method":"put","path":"/a","message":{}}') == {
        "op": "web", "as": "h", "method": "put", "path": "/a", "message": {}}
    assert set(OPS) == {"create", "connect", "disconnect", "send", "answer", "advance", "view",
                        "update", "delete", "restart", "result", "web", "attach"}


@pytest.mark.parametrize("text,code,words", [
    ('{"op": "send", ', "bad_json", "not JSON"),
    ("[1, 2]", "bad_json", "not an array"),
    ('"connect"', "bad_json", "not a string"),
    ('{"as": "bob"}', "missing_field", 'no "op"'),
    ('{"op": "jump"}', "unknown_op", 'unknown op "jump"'),
    ('{"op": "web", "as": "a", "method": "post", "path": "/"}', "bad_field", '"method" is get, put'),
    ('{"op": "web", "as": "a", "method": "get", "path": "x"}', "bad_field", '"path" is a path'),
    ('{"op": 3}', "unknown_op", "unknown op 3"),
    ('{"op": "send", "as": "bob", "channel": "say"}', "missing_field", '"send" needs "message"'),
    ('{"op": "answer", "as": "bob", "message": {}}', "missing_field", '"answer" needs "ask"'),
    ('{"op": "connect", "as": "bob", "mesage": 1}', "unknown_field", '"connect" takes no "mesage"'),
    ('{"op": "restart", "as": "bob"}', "unknown_field", '"restart" takes no "as"'),
    ('{"op": "result", "call": 1}', "missing_field", '"result" needs "result"'),
    ('{"op": "update", "as": "bob"}', "missing_field", '"update" needs "viewer_state"'),
    ('{"op": "connect", "as": ""}', "bad_field", "non-empty agent"),
    ('{"op": "connect", "as": "@corp"}', "bad_field", "non-empty agent"),
    ('{"op": "connect", "as": 7}', "bad_field", "got 7"),
    ('{"op": "answer", "as": "b", "ask": "7", "message": {}}', "bad_field", '"ask" is an ask id'),
    ('{"op": "answer", "as": "b", "ask": true, "message": {}}', "bad_field", '"ask" is an ask id'),
    ('{"op": "send", "as": "b", "channel": 1, "message": {}}', "bad_field", '"channel" is a string'),
    ('{"op": "advance", "seconds": -1}', "bad_field", "got -1"),
    ('{"op": "advance", "seconds": "60"}', "bad_field", '"seconds" is a number'),
    ('{"op": "advance", "seconds": false}', "bad_field", "got false"),
])
def test_bad_lines_are_refused_with_a_code(text, code, words):
    with pytest.raises(ScriptError) as e:
        parse_line(text)
    assert e.value.code == code
    assert words in e.value.message


def test_a_bad_line_names_its_line_and_the_session_goes_on():
    s = compile_session(STAMP)
    frames = run_script(s, [
        '{"op":"create","as":"ann"}',
        "{oops",
        "",
        '{"op":"connect","as":"ann","extra":1}',
        '{"op":"connect","as":"ann"}',
    ])
    assert frames[1] == [{"to": None, "error": {
        "code": "bad_json",
        "message": "line 2: not JSON: Expecting property name enclosed in double quotes at column 2",
        "line": 2}}]
    assert frames[2] == []  # a blank line is skipped
    assert frames[3] == [{"to": None, "error": {"code": "unknown_field",
                                                "message": 'line 4: "connect" takes no "extra"',
                                                "line": 4}}]
    assert kinds(frames[4]) == [("ann", "connected"), ("ann", "delta")]
    # The bad lines changed nothing: the one accepted connect ran @connected once.
    assert s.living.engine.field("connects") == 1


# ---------------------------------------------------------------- outputs


def test_principals_go_out_as_scripts_write_them():
    assert client_name("bob@") == "bob"
    assert client_name("bob@corp") == "bob@corp"
    assert client_name("?@?") == "?@?"
    assert client_name(None) is None
    s = compile_session(STAMP)
    out = run_script(s, lines_of({"op": "create", "as": "ann"}, {"op": "connect", "as": "bob"},
                                 {"op": "connect", "as": "cy@corp"}))
    # cy's @connected changed what bob sees, so bob hears of it first.
    assert [f["to"] for f in out[1] + out[2]] == ["bob", "bob", "bob", "cy@corp", "cy@corp"]


def test_every_input_runs_at_the_script_clock():
    s = compile_session(STAMP)
    c = Clients()
    for frames in run_script(s, lines_of(
            {"op": "create", "as": "ann"},
            {"op": "connect", "as": "ann"},
            {"op": "send", "as": "ann", "channel": "stamp", "message": {"text": "first"}},
            {"op": "advance", "seconds": 90.5},
            {"op": "send", "as": "ann", "channel": "stamp", "message": {"text": "later"}})):
        c.take(frames)
    assert s.clock == CLOCK_START_MS + 90_500
    assert c.view("ann") == {"at": str(CLOCK_START_MS + 90_500), "text": "later", "connects": 1, "loads": 0}
    assert c.errors == []


def test_view_answers_with_exactly_one_line_even_before_the_document_exists():
    s = compile_session(STAMP)
    assert s.feed('{"op":"view","as":"ann"}', 1) == [{"to": "ann", "view": None}]
    s.feed('{"op":"create","as":"ann"}', 2)
    # Not connected, and someone @connected would refuse: a view is still one line, of what they may see.
    assert s.feed('{"op":"view","as":"mallory"}', 3) == [
        {"to": "mallory", "view": {"at": "0", "text": "", "connects": 0, "loads": 0}}]
    assert s.living.engine.field("connects") == 0


def test_the_session_asks_static_create_before_the_document_exists():
    s = compile_session(STAMP)
    out = run_script(s, lines_of({"op": "create", "as": "x@anonymous"}, {"op": "view", "as": "ann"},
                                 {"op": "create", "as": "ann"}, {"op": "create", "as": "bob"}))
    assert out[0] == [{"to": "x@anonymous", "error": {
        "code": "create_refused", "message": "the @static create policy refuses x@anonymous"}}]
    assert out[1] == [{"to": "ann", "view": None}]
    assert out[2] == []
    assert error_codes(out[3]) == [("bob", "already_created")]


def test_connect_refused_and_document_errors_go_to_the_sender():
    s = compile_session(STAMP)
    out = run_script(s, lines_of(
        {"op": "connect", "as": "ann"},
        {"op": "create", "as": "ann"},
        {"op": "connect", "as": "mallory"},
        {"op": "connect", "as": "ann"},
        {"op": "connect", "as": "ann"},
        {"op": "send", "as": "ann", "channel": "stamp", "message": {"txt": 1}},
        {"op": "disconnect", "as": "bob"},
    ))
    assert error_codes(out[0]) == [("ann", "not_created")]
    assert out[2] == [{"to": "mallory", "connected": False}]
    assert error_codes(out[4]) == [("ann", "already_connected")]
    assert out[5] == [{"to": "ann", "error": {"code": "input",
                                              "message": "message on 'stamp': Stamp has no field 'txt'"}}]
    assert error_codes(out[6]) == [("bob", "not_connected")]


def test_delete_asks_the_document_and_ends_every_connection():
    s = compile_session(DELETE)
    out = run_script(s, lines_of(
        {"op": "create", "as": "owner"}, {"op": "connect", "as": "bob"},
        {"op": "delete", "as": "bob"}, {"op": "delete", "as": "owner"},
        {"op": "view", "as": "bob"}, {"op": "connect", "as": "bob"}))
    assert out[2] == [{"to": "bob", "error": {"code": "delete_refused",
                                              "message": "@delete refused the deletion"}}]
    assert out[3] == [{"to": "bob", "connected": False}]
    assert out[4] == [{"to": "bob", "view": None}]
    assert error_codes(out[5]) == [("bob", "destroyed")]


# ---------------------------------------------------------------- time


def test_advance_wakes_the_document_at_each_due_time_in_order():
    s = compile_session(CRON)
    run_script(s, lines_of({"op": "create", "as": "ann"}, {"op": "advance", "seconds": 3 * DAY_S}))
    doc = s.living.engine
    # 1:00 on each of three days, each run with its own date; the 1.5 h timer at its own time.
    assert doc.field("runs") == 3
    assert doc.field("days") == "2026-01-01 2026-01-02 2026-01-03 "
    assert doc.field("fired_at") == CLOCK_START_MS + 5_400_000
    assert s.clock == CLOCK_START_MS + 3 * DAY_S * 1000
    # Exactly at a slot counts; a second short of one does not.
    run_script(s, lines_of({"op": "advance", "seconds": 3600 - 1}))
    assert doc.field("runs") == 3
    run_script(s, lines_of({"op": "advance", "seconds": 1}))
    assert doc.field("runs") == 4


def test_a_timer_that_fails_is_reported_to_nobody_but_the_script():
    s = compile_session(CRON)
    out = run_script(s, lines_of({"op": "create", "as": "ann"},
                                 {"op": "send", "as": "ann", "channel": "go", "message": {"seconds": 60}},
                                 {"op": "advance", "seconds": 60}))
    assert out[1] == []
    assert len(out[2]) == 1 and out[2][0]["to"] is None
    assert out[2][0]["error"] == {"code": "abort", "message": "doc.adb:22:3: the transaction aborted"}
    assert s.living.engine.field("marks") == ""  # rolled back


# ---------------------------------------------------------------- restart


def test_restart_reconnects_viewers_with_full_views_and_their_open_asks():
    s = compile_session(WAIT)
    c = Clients()
    for frames in run_script(s, lines_of(
            {"op": "create", "as": "boss"},
            {"op": "connect", "as": "boss"},
            {"op": "connect", "as": "eve"},
            {"op": "advance", "seconds": DAY_S})):
        c.take(frames)
    assert c.open_asks("boss") == [1]
    out = s.feed('{"op":"restart"}', 5)
    assert kinds(out) == [("boss", "connected"), ("boss", "delta"), ("boss", "ask"),
                          ("eve", "connected"), ("eve", "delta")]
    assert [f["seq"] for f in out if "delta" in f] == [1, 1]
    assert out[2] == {"to": "boss", "ask": {"id": 1, "channel": "num", "kind": "fetch"}}
    c.take(out)
    assert c.view("eve") == {"boss": {"agent": "boss", "authority": ""}, "before_await": 1,
                             "result": 0, "got": 0}
    assert s.restarts == 1


def test_an_await_survives_restarts_and_resumes_mid_function():
    s = compile_session(WAIT)
    c = Clients()
    script = lines_of(
        {"op": "create", "as": "boss"},
        {"op": "connect", "as": "boss"},
        {"op": "restart"},
        {"op": "advance", "seconds": DAY_S},
        {"op": "answer", "as": "boss", "ask": 1, "message": {"n": -1}},
        {"op": "restart"},
        {"op": "advance", "seconds": 2 * DAY_S},
        {"op": "restart"},
        {"op": "answer", "as": "boss", "ask": 1, "message": {"n": 2}},
    )
    out = run_script(s, script)
    for frames in out:
        c.take(frames)
    assert error_codes(out[4]) == [("boss", "abort")]
    # The block ran up to the await once; the answer resumed it after the await,
    # with its local as it was three (virtual) days and three restarts before.
    assert c.view("boss")["before_await"] == 1
    assert c.view("boss")["result"] == 42 and c.view("boss")["got"] == 2
    assert c.open_asks("boss") == []
    assert s.clock == CLOCK_START_MS + 3 * DAY_S * 1000


def test_restart_runs_load_but_not_connected():
    s = compile_session(STAMP)
    c = Clients()
    for frames in run_script(s, lines_of({"op": "create", "as": "ann"}, {"op": "connect", "as": "ann"},
                                         {"op": "restart"}, {"op": "restart"})):
        c.take(frames)
    assert c.view("ann") == {"at": "0", "text": "", "connects": 1, "loads": 2}
    assert s.living.engine.field("connects") == 1


def test_restart_before_anything_exists_changes_nothing():
    s = compile_session(STAMP)
    out = run_script(s, lines_of({"op": "restart"}, {"op": "create", "as": "ann"},
                                 {"op": "restart"}, {"op": "view", "as": "ann"}))
    assert out[:3] == [[], [], []]
    assert out[3] == [{"to": "ann", "view": {"at": "0", "text": "", "connects": 0, "loads": 1}}]


# ---------------------------------------------------------------- the spec's worked example


def spec_example() -> tuple[str, list[str], dict[int, list[dict]]]:
    text = SPEC.read_text(encoding="utf-8")

    def block(name: str) -> str:
        m = re.search(rf"<!-- example: {re.escape(name)} -->\n```\w*\n(.*?)^```", text, re.S | re.M)
        assert m, f"spec/sessions.md has no example block {name!r}"
        return m.group(1)

    document, script = block("guess.adb"), block("guess.jsonl").splitlines()
    expected: dict[int, list[dict]] = {}
    current = None
    for row in block("output").splitlines():
        m = re.match(r"// line (\d+):", row)
        if m:
            current = int(m.group(1))
            expected.setdefault(current, [])
        elif not row.startswith("//"):
            expected[current].append(json.loads(row))
    return document, script, expected


def test_the_worked_example_of_the_spec_is_what_the_session_prints():
    document, script, expected = spec_example()
    assert sorted(expected) == list(range(1, len(script) + 1)), "every input line is explained"
    s = compile_session(document, "guess.adb")
    got = dict(enumerate(run_script(s, script), start=1))
    for number in got:
        assert got[number] == expected[number], f"line {number}: {script[number - 1]}"


# ---------------------------------------------------------------- the command line


@pytest.fixture
def guess_files(tmp_path):
    document, script, expected = spec_example()
    (tmp_path / "guess.adb").write_text(document, encoding="utf-8")
    (tmp_path / "guess.jsonl").write_text("\n".join(script) + "\n", encoding="utf-8")
    return tmp_path, expected


def test_cli_prints_the_frames_as_compact_json_lines(cli, guess_files, monkeypatch):
    where, expected = guess_files
    monkeypatch.chdir(where)
    r = cli("run", "guess.adb", "--script", "guess.jsonl")
    assert r.code == ExitCode.OK and r.err == ""
    want = [frame for number in sorted(expected) for frame in expected[number]]
    assert r.out == "".join(json.dumps(f, separators=(",", ":")) + "\n" for f in want)


def test_cli_script_errors(cli, guess_files, tmp_path):
    where, _ = guess_files
    doc = where / "guess.adb"
    r = cli("run", doc, "--script", tmp_path / "missing.jsonl")
    assert (r.code, r.out) == (ExitCode.USAGE, "")
    assert r.err == f"advm: error: {tmp_path / 'missing.jsonl'}: no such file\n"
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(b'{"op":"view","as":"caf\xe9"}\n')
    r = cli("run", doc, "--script", latin)
    assert r.code == ExitCode.USAGE and "not UTF-8 text (byte 0xe9 on line 1)" in r.err
    r = cli("run", doc, "--script", where / "guess.jsonl", "--as", "ann")
    assert r.code == ExitCode.USAGE and r.err.startswith("advm: error: --as cannot be used with --script")
    r = cli("run", doc, "--script", where / "guess.jsonl", "--once")
    assert r.code == ExitCode.USAGE and "not allowed with argument" in r.err
    broken = tmp_path / "broken.adb"
    broken.write_text("public int x = ;\n", encoding="utf-8")
    r = cli("run", broken, "--script", where / "guess.jsonl")
    assert r.code == ExitCode.FAILURE and r.out == "" and "error" in r.err


def test_cli_debug_lines_go_to_stderr(cli, tmp_path):
    doc = tmp_path / "d.adb"
    doc.write_text("@static { create { return true; } }\npublic int n;\n"
                   "@construct {\n  @debug(\"made by {0}\", @who);\n}\n", encoding="utf-8")
    script = tmp_path / "s.jsonl"
    script.write_text('{"op":"create","as":"ann"}\n{"op":"view","as":"ann"}\n', encoding="utf-8")
    r = cli("run", doc, "--script", script, "--store", tmp_path / "store")
    assert r.code == ExitCode.OK
    assert r.out == '{"to":"ann","view":{"n":0}}\n'
    assert r.err == "debug: made by ann\n"


def test_stdin_is_answered_line_by_line(guess_files):
    """A program can hold a conversation: each input's frames arrive before
    the next input is written, and a view always answers with one line."""
    where, _ = guess_files
    with subprocess.Popen([sys.executable, "-m", "advm", "run", "guess.adb", "--script", "-"],
                          cwd=where, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True, bufsize=1) as proc:
        # A missing line would block readline() for ever; a killed child ends it (and the test).
        watchdog = threading.Timer(60, proc.kill)
        watchdog.start()
        def say(item: dict, lines: int) -> list[dict]:
            proc.stdin.write(json.dumps(item) + "\n")
            proc.stdin.flush()
            return [json.loads(proc.stdout.readline()) for _ in range(lines)]

        assert say({"op": "create", "as": "hana"}, 0) == []
        assert say({"op": "view", "as": "pete"}, 1) == [
            {"to": "pete", "view": {"host": {"agent": "hana", "authority": ""},
                                    "player": {"agent": "?", "authority": "?"}, "tries": 0,
                                    "status": "waiting for a player"}}]
        frames = say({"op": "connect", "as": "pete"}, 3)
        assert kinds(frames) == [("pete", "connected"), ("pete", "delta"), ("pete", "ask")]
        ask = frames[2]["ask"]["id"]
        assert say({"op": "answer", "as": "pete", "ask": ask, "message": {"n": 7}}, 2) == [
            {"to": "pete", "delta": {"tries": 1, "status": "found in 1"}, "seq": 2},
            {"to": "pete", "ask_closed": ask}]
        # Nothing more was caused: the next line out is the view's.
        assert say({"op": "view", "as": "pete"}, 1)[0]["view"]["status"] == "found in 1"
        proc.stdin.close()
        assert proc.stdout.read() == ""
        assert proc.wait(timeout=30) == ExitCode.OK
        watchdog.cancel()
