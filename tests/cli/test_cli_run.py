"""`advm run --once` (create a document in memory, run it until idle, print its state)
and `advm test` (run a document's test blocks)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from advm.cli import ExitCode
from advm.commands import run as run_command
from advm.runtime.host import MAX_IMMEDIATE

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
TODO = EXAMPLES / "todo.adb"
APPROVAL = EXAMPLES / "approval.adb"
APPROVAL_ARG = json.dumps({"title": "laptop", "amount": 2500, "manager": "mia@corp",
                           "director": {"agent": "dora", "authority": "corp"}})

# Without a `@static create` policy nobody may create a document (spec/language.md
# 4.23, runtime/host.py): the documents written here allow everybody.
ALLOW = "@static { create { return true; } }\n"

# The constructor argument each example needs (None: it takes none).
EXAMPLE_ARGS = {"approval.adb": APPROVAL_ARG, "auction.adb": "{}"}

STATES = """\
public int x;
public string seen;

@construct {
  x = 1;
  seen = "built by " + @who.agent();
  transition #a;
}

#a {
  x = x + 1;
  transition #b;
}

#b {
  x = x * 10;
  transition #a in 5;
}

@static { create { return true; } }
"""

TESTS = """\
function twice(int n) -> int {
  return n * 2;
}

test doubles {
  assert (twice(3) == 6);
  assert (twice(-1) == -2);
}

test wrong {
  assert (twice(2) == 5);
}

test nothing_checked {
  int y = twice(1);
}

test gives_up {
  abort;
}
"""

TESTS_OUTPUT = """\
{path}: 4 tests
doubles ... ok
wrong ... FAILED: assertion failed at {path}:11:3
       |
    11 |   assert (twice(2) == 5);
       |   ^
nothing_checked ... ok (no asserts)
gives_up ... FAILED: the transaction aborted at {path}:19:3
       |
    19 |   abort;
       |   ^
2 passed, 2 failed
"""


@pytest.fixture
def write(tmp_path):
    def go(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return go


def run_json(cli, *args) -> dict:
    r = cli("run", "--once", *args, "--json")
    assert r.err == "", r.err
    doc = json.loads(r.out)
    assert doc["ok"] is (r.code == ExitCode.OK)
    return doc


# ---------------------------------------------------------------- run: the headline


def test_run_the_todo_example(cli):
    r = cli("run", "--once", TODO)
    assert r.code == ExitCode.OK, r.err
    assert json.loads(r.out) == {
        "state": None,
        "fields": {
            "creator": {"agent": "advm", "authority": "local"},
            "title": "Todo", "created_total": 0, "_todos": [], "todos": [],
            "open_count": 0, "done_count": 0,
        },
    }
    assert r.err == f"{TODO}: created as advm@local, 0 transitions\n"


def test_once_flags_are_refused_when_serving(cli):
    # Without --once, `run` serves: flags that only a one-shot run reads are a
    # usage error that says so, not a server that ignores them.
    r = cli("run", TODO, "--json")
    assert (r.code, r.out) == (ExitCode.USAGE, "")
    assert "--json cannot be used when serving" in r.err and "add --once" in r.err
    r = cli("run", TODO, "--as", "alice", "--arg", "{}")
    assert r.code == ExitCode.USAGE and "--arg, --as cannot be used when serving" in r.err


def test_server_flags_are_refused_with_once(cli):
    r = cli("run", "--once", TODO, "--port", "9000", "--memory")
    assert (r.code, r.out) == (ExitCode.USAGE, "")
    assert r.err == ("advm: error: --port, --memory cannot be used with --once: it runs the "
                     "document in memory and serves nothing\n")


def test_run_json_shape(cli):
    doc = run_json(cli, TODO, "--as", "alice@users", "--key", "list-1")
    assert doc == {
        "ok": True, "filename": str(TODO), "source": str(TODO), "key": "list-1",
        "creator": {"agent": "alice", "authority": "users"},
        "state": None,
        "fields": {
            "creator": {"agent": "alice", "authority": "users"},
            "title": "Todo", "created_total": 0, "_todos": [], "todos": [],
            "open_count": 0, "done_count": 0,
        },
        "transitions": 0, "pending": None, "waiting": None, "destroyed": False, "debug": [],
    }


def test_run_as_a_program(advm_proc):
    r = advm_proc("run", "--once", "examples/todo.adb", "--as", "bob@users")
    assert r.code == ExitCode.OK, r.err
    assert json.loads(r.out)["fields"]["creator"] == {"agent": "bob", "authority": "users"}
    assert r.err == "examples/todo.adb: created as bob@users, 0 transitions\n"


def test_the_default_principal(cli):
    assert run_command.DEFAULT_PRINCIPAL == "advm@local"
    assert run_json(cli, TODO)["creator"] == {"agent": "advm", "authority": "local"}


# ---------------------------------------------------------------- run: transitions


def test_transitions_due_now_run_until_idle(cli, write):
    src = write("states.adb", STATES)
    r = cli("run", "--once", src, "--as", "carol@users")
    assert r.code == ExitCode.OK, r.err
    assert json.loads(r.out) == {"state": "b", "fields": {"x": 20, "seen": "built by carol"}}
    assert r.err == f"{src}: created as carol@users, state #b, 2 transitions, next #a in 5 s\n"
    doc = run_json(cli, src)
    assert (doc["transitions"], doc["pending"]) == (2, {"state": "a", "in_seconds": 5.0})


def test_a_body_waiting_on_an_ask_is_reported_not_answered(cli):
    doc = run_json(cli, APPROVAL, "--arg", APPROVAL_ARG, "--as", "alice@users")
    assert doc["ok"] is True
    assert doc["state"] == "waitForManager"
    assert doc["fields"]["status"] == "Pending"
    waiting = dict(doc["waiting"])
    assert isinstance(waiting.pop("id", 0), int)
    assert waiting == {"channel": "manager_decision", "kind": "fetch",
                       "who": {"agent": "mia", "authority": "corp"},
                       "options": None, "limit": 1}
    assert doc["pending"] == {"state": "escalate", "in_seconds": 172800.0}


def test_the_options_of_a_decide_are_shown_as_messages(cli, write):
    src = write("ask.adb", """\
message Pick { int n; }
channel<Pick> pick;
public int chosen;
public principal boss;

@construct {
  boss = @who;
  transition #ask;
}

#ask {
  list<Pick> opts = [{n: 1}, {n: 2}];
  if (pick.decide(boss, opts).await() as p) {
    chosen = p.n;
  }
}
@static { create { return true; } }
""")
    doc = run_json(cli, src, "--as", "alice@users")
    waiting = dict(doc["waiting"])
    waiting.pop("id", None)
    assert waiting == {"channel": "pick", "kind": "decide", "who": {"agent": "alice", "authority": "users"},
                       "options": [{"n": 1}, {"n": 2}], "limit": 1}
    assert (doc["state"], doc["transitions"], doc["fields"]["chosen"]) == ("ask", 1, 0)
    r = cli("run", "--once", src, "--as", "alice@users")
    assert r.err == f"{src}: created as alice@users, state #ask, 1 transition, waiting for alice@users (decide on pick)\n"


def test_a_state_machine_that_never_settles(cli, write):
    src = write("loop.adb", "public int n;\n@construct { transition #spin; }\n"
                            "#spin { n = n + 1; transition #spin; }\n" + ALLOW)
    r = cli("run", "--once", src)
    assert r.code == ExitCode.FAILURE and r.out == ""
    # The runtime's one cap (runtime/living.py MAX_IMMEDIATE), as every host has it.
    assert r.err == (f"advm: error: {src}: the state machine did not settle: "
                     f"{MAX_IMMEDIATE} transitions in a row, the last into #spin\n")
    doc = run_json(cli, src)
    assert doc["error"]["kind"] == "unsettled" and MAX_IMMEDIATE == 1000


def test_a_failing_state_block_names_its_position(cli, write):
    src = write("bad_state.adb", "public int n;\n@construct { transition #go; }\n"
                                 "#go {\n  n = 5;\n  abort;\n}\n" + ALLOW)
    r = cli("run", "--once", src)
    assert r.code == ExitCode.FAILURE and r.out == ""
    assert r.err == (f"{src}:5:3: runtime error (abort) in #go: the transaction aborted\n"
                     "  |\n5 |   abort;\n  |   ^\n")
    doc = run_json(cli, src)
    assert doc["error"] == {"kind": "abort", "message": "the transaction aborted",
                            "position": f"{src}:5:3", "during": "#go"}


# ---------------------------------------------------------------- run: failures


def test_abort_in_construct_names_file_line_col(cli):
    r = cli("run", "--once", APPROVAL)
    assert r.code == ExitCode.FAILURE and r.out == ""
    line = APPROVAL.read_text(encoding="utf-8").splitlines()[67]
    assert line.strip() == "abort;"
    assert r.err == (f"{APPROVAL}:68:5: runtime error (abort) in @construct: the transaction aborted\n"
                     f"   |\n68 | {line}\n   |     ^\n"
                     f"{APPROVAL}: the document was not created\n"
                     # Without --arg every field took its default: say which, and how to give them.
                     f"{APPROVAL}: @construct takes a Request message; no --arg was given, so "
                     f"every field took its default: title, amount, manager, director, days\n"
                     f"{APPROVAL}: give them as JSON: --arg '{{\"title\": \"\", \"amount\": 0, "
                     f"\"manager\": \"agent@authority\", \"director\": \"agent@authority\", "
                     f"\"days\": 0}}'\n")


def test_a_partial_arg_names_the_fields_it_left_out(cli):
    r = cli("run", "--once", APPROVAL, "--arg", '{"title": "desk", "amount": -5, "days": 1}')
    assert r.code == ExitCode.FAILURE
    assert r.err.splitlines()[-2:] == [
        f"{APPROVAL}: @construct takes a Request message; --arg left out manager, director, "
        "which took their defaults",
        f"{APPROVAL}: give them as JSON: --arg '{{\"manager\": \"agent@authority\", "
        "\"director\": \"agent@authority\"}'"]
    # Every field given: the abort is the document's own verdict, no hint.
    full = '{"title": "desk", "amount": -5, "manager": "m@c", "director": "d@c", "days": 1}'
    r = cli("run", "--once", APPROVAL, "--arg", full)
    assert r.code == ExitCode.FAILURE
    assert r.err.splitlines()[-1] == f"{APPROVAL}: the document was not created"


def test_abort_in_construct_as_json(cli):
    doc = run_json(cli, APPROVAL)
    assert doc == {"filename": str(APPROVAL), "ok": False,
                   "error": {"kind": "abort", "message": "the transaction aborted",
                             "position": f"{APPROVAL}:68:5", "during": "@construct",
                             "missing": [{"name": "title", "type": "string"},
                                         {"name": "amount", "type": "long"},
                                         {"name": "manager", "type": "principal"},
                                         {"name": "director", "type": "principal"},
                                         {"name": "days", "type": "int"}]}}


def test_a_runtime_error_in_construct(cli, write):
    src = write("boom.adb", "public int n;\nrecord R { int v; }\npublic list<R> rs;\n"
                            "@static { instruction_budget = 5000; create { return true; } }\n"
                            "@construct {\n  while (true) { n = n + 1; }\n}\n")
    r = cli("run", "--once", src)
    assert r.code == ExitCode.FAILURE
    first = r.err.splitlines()[0]
    assert first == f"{src}:6:10: runtime error (budget) in @construct: instruction budget exhausted"


def test_the_create_policy_is_asked_first(cli):
    r = cli("run", "--once", TODO, "--as", "someone@anonymous")
    assert r.code == ExitCode.FAILURE and r.out == ""
    assert r.err == f"advm: error: {TODO}: the @static create policy refuses someone@anonymous\n"


@pytest.mark.parametrize("who", ["", "@users"])
def test_a_principal_needs_an_agent(cli, who):
    r = cli("run", "--once", TODO, "--as", who)
    assert r.code == ExitCode.USAGE
    assert r.err == f"advm: error: --as {who!r}: a principal is agent@authority, and the agent cannot be empty\n"


def test_arg_must_be_json(cli):
    r = cli("run", "--once", APPROVAL, "--arg", "{title: 1}")
    assert r.code == ExitCode.USAGE
    assert r.err.startswith("advm: error: --arg is not JSON: ")


def test_arg_that_does_not_fit_the_message(cli):
    r = cli("run", "--once", APPROVAL, "--arg", '{"amount": "lots"}')
    assert r.code == ExitCode.FAILURE and r.out == ""
    assert r.err == (f"{APPROVAL}: bad --arg for @construct: message.amount: expected long, "
                     f"got a string\n{APPROVAL}: the document was not created\n")
    doc = run_json(cli, APPROVAL, "--arg", '{"amount": "lots"}')
    assert doc["error"]["kind"] == "input" and doc["error"]["position"] is None


def test_arg_for_a_constructor_that_takes_none(cli, write):
    r = cli("run", "--once", TODO, "--arg", "{}")
    assert r.code == ExitCode.FAILURE
    assert r.err == f"advm: error: {TODO}: --arg was given, but @construct takes no message\n"
    src = write("plain.adb", "public int x;\n")
    r = cli("run", "--once", src, "--arg", "{}")
    assert r.code == ExitCode.FAILURE
    assert r.err == f"advm: error: {src}: --arg was given, but the document has no @construct\n"


def test_run_a_document_with_errors(cli, write):
    src = write("bad.adb", "public int count = \"three\";\n")
    r = cli("run", "--once", src)
    assert r.code == ExitCode.FAILURE and r.out == ""
    # As `advm check` reports its errors (check adds the W05xx warnings; run does not).
    assert r.err == f"{src}:1:20: " + cli("check", src).err.split(f"{src}:1:20: ", 1)[1].replace(
        ", 2 warnings", "")
    doc = json.loads(cli("run", "--once", src, "--json").out)
    assert doc["ok"] is False and doc["diagnostics"][0]["code"] == "E0301"


def test_run_missing_file(cli, tmp_path):
    r = cli("run", "--once", tmp_path / "nope.adb")
    assert (r.code, r.out) == (ExitCode.USAGE, "")
    assert r.err == f"advm: error: {tmp_path / 'nope.adb'}: no such file\n"


# ---------------------------------------------------------------- run: module files, determinism


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.adb")))
def test_running_the_module_equals_running_the_source(cli, tmp_path, name):
    src = EXAMPLES / name
    module = tmp_path / src.with_suffix(".advc").name
    assert cli("compile", src, "-o", module).code == ExitCode.OK
    extra = ["--arg", EXAMPLE_ARGS[name]] if name in EXAMPLE_ARGS else []
    extra += ["--as", "alice@users", "--key", "k1"]
    from_source, from_module = run_json(cli, src, *extra), run_json(cli, module, *extra)
    assert from_source["ok"] is True
    assert from_source.pop("filename") == str(src)
    assert from_module.pop("filename") == str(module)
    assert from_module == from_source


def test_an_error_in_a_module_names_the_source_position(cli, write, tmp_path, monkeypatch):
    src = write("src/approval.adb", APPROVAL.read_text(encoding="utf-8"))
    (tmp_path / "lonely").mkdir()
    monkeypatch.chdir(src.parent)
    assert cli("compile", "approval.adb", "-o", tmp_path / "lonely" / "approval.advc").code == ExitCode.OK
    monkeypatch.chdir(tmp_path)  # the module is on its own: no source to quote
    r = cli("run", "--once", "lonely/approval.advc")
    assert r.code == ExitCode.FAILURE
    assert r.err.startswith("approval.adb:68:5: runtime error (abort) in @construct: the "
                            "transaction aborted\nlonely/approval.advc: the document was not created\n"
                            "lonely/approval.advc: @construct takes a Request message; ")


def test_runs_are_deterministic_and_keyed(cli, write):
    src = write("dice.adb", 'public int roll;\n@construct {\n  roll = Random.genBoundInt(1000000);\n'
                            '  @debug("rolled {0}", roll);\n}\n' + ALLOW)
    first, again = run_json(cli, src), run_json(cli, src)
    assert first == again
    assert first["debug"] == [f"rolled {first['fields']['roll']}"]
    rolls = {run_json(cli, src, "--key", f"k{i}")["fields"]["roll"] for i in range(4)}
    assert len(rolls) > 1  # the key seeds the generator
    r = cli("run", "--once", src)
    assert r.err.splitlines()[0] == f"debug: rolled {first['fields']['roll']}"


# ---------------------------------------------------------------- test


def test_test_reports_each_block(cli, write):
    src = write("t.adb", TESTS)
    r = cli("test", src)
    assert r.code == ExitCode.FAILURE
    assert r.out == TESTS_OUTPUT.format(path=src)
    assert r.err == ""


def test_test_all_passing_exits_0(cli):
    r = cli("test", TODO)
    assert (r.code, r.err) == (ExitCode.OK, "")
    assert r.out == f"{TODO}: 1 test\nclean_trims ... ok\n1 passed, 0 failed\n"


def test_test_a_document_without_tests(cli, write):
    src = write("none.adb", "public int x;\n")
    r = cli("test", src)
    assert (r.code, r.out) == (ExitCode.OK, f"{src}: no tests\n0 passed, 0 failed\n")


def test_tests_do_not_see_each_others_writes(cli, write):
    src = write("iso.adb", "public int n;\ntest first {\n  n = n + 1;\n  assert (n == 1);\n}\n"
                           "test second {\n  n = n + 1;\n  assert (n == 1);\n}\n")
    r = cli("test", src)
    assert r.code == ExitCode.OK, r.out
    assert "first ... ok\nsecond ... ok\n" in r.out


def test_test_json(cli, write):
    src = write("t.adb", TESTS)
    r = cli("test", src, "--json")
    assert (r.code, r.err) == (ExitCode.FAILURE, "")
    doc = json.loads(r.out)
    assert doc == {
        "files": [{"filename": str(src), "ok": False, "tests": [
            {"name": "doubles", "ok": True, "asserts": 2, "kind": None, "message": None, "position": None,
             "log": []},
            {"name": "wrong", "ok": False, "asserts": 1, "kind": "assert",
             "message": "assertion failed", "position": f"{src}:11:3", "log": []},
            {"name": "nothing_checked", "ok": True, "asserts": 0, "kind": None, "message": None,
             "position": None, "log": []},
            {"name": "gives_up", "ok": False, "asserts": 0, "kind": "abort",
             "message": "the transaction aborted", "position": f"{src}:19:3", "log": []},
        ]}],
        "passed": 2, "failed": 2, "not_run": 0,
    }


HARNESS = """public int ticks;
#tick {
  ticks += 1;
  transition #tick in 10;
}
test runs_states {
  transition #tick;
  @step;
  @forward 25;
  log "ticks " + ticks;
  assert (ticks == 3);
}
test expects_an_abort {
  @aborts {
    ticks = 5;
  }
  assert (ticks == 5);
}
"""


def test_test_harness_statements_and_log(cli, write):
    src = write("h.adb", HARNESS)
    r = cli("test", src)
    assert r.code == ExitCode.FAILURE
    assert "runs_states ... ok\n    log: ticks 3\n" in r.out
    assert f"expects_an_abort ... FAILED: the block of @aborts ended without aborting at {src}:14:3" in r.out
    doc = json.loads(cli("test", src, "--json").out)
    tests = doc["files"][0]["tests"]
    assert tests[0] == {"name": "runs_states", "ok": True, "asserts": 1, "kind": None, "message": None,
                        "position": None, "log": ["ticks 3"]}
    assert (tests[1]["ok"], tests[1]["kind"], tests[1]["position"]) == (False, "error", f"{src}:14:3")


SEND = """message M { int x; }
public int total;
channel add(M m) { if (m.x < 0) { abort; } total += m.x; }
test sends {
  @send add(@no_one, {x: 2});
  total += 1;
  @send add(@no_one, {x: -1});
  assert total == 3;
}
"""


def test_test_send_runs_the_handler_and_an_abort_there_fails_the_test(cli, write):
    src = write("s.adb", SEND)
    doc = json.loads(cli("test", src, "--json").out)
    t = doc["files"][0]["tests"][0]
    # the first @send and the test's own write committed; the second message aborted
    assert (t["ok"], t["kind"], t["position"]) == (False, "abort", f"{src}:3:35")


def test_test_a_module_equals_the_source(cli, write, monkeypatch):
    src = write("t.adb", TESTS)
    monkeypatch.chdir(src.parent)
    assert cli("compile", "t.adb").code == ExitCode.OK
    from_source, from_module = cli("test", "t.adb"), cli("test", "t.advc")
    assert from_module.code == from_source.code == ExitCode.FAILURE
    # The module quotes the source beside it, so only the header line differs.
    assert from_module.out == from_source.out.replace("t.adb: 4 tests", "t.advc: 4 tests", 1)


def test_test_many_files_one_with_errors(cli, write):
    good, bad = write("good.adb", "test fine {\n  assert (true);\n}\n"), write("bad.adb", "public int x = \"no\";\n")
    r = cli("test", good, bad)
    assert r.code == ExitCode.FAILURE
    assert r.out == f"{good}: 1 test\nfine ... ok\n1 passed, 0 failed, 1 file not run\n"
    assert "error[E0301]" in r.err and r.err.endswith(f"{bad}: 1 error\n")


def test_test_reports_every_unreadable_file_before_running_any(cli, write, tmp_path):
    good = write("good.adb", "test fine {\n  assert (true);\n}\n")
    r = cli("test", tmp_path / "a.adb", good, tmp_path / "b.adb")
    assert (r.code, r.out) == (ExitCode.USAGE, "")
    assert r.err.splitlines() == [f"advm: error: {tmp_path / 'a.adb'}: no such file",
                                  f"advm: error: {tmp_path / 'b.adb'}: no such file"]


def test_test_as_a_program(advm_proc, write):
    src = write("t.adb", TESTS)
    r = advm_proc("test", src.name, cwd=src.parent)
    assert r.code == ExitCode.FAILURE
    assert r.out == TESTS_OUTPUT.format(path="t.adb")
    assert "Traceback" not in r.err


# ---------------------------------------------------------------- help


def test_help_lists_every_command_with_an_example(cli):
    r = cli("--help")
    assert r.code == ExitCode.OK
    for name in ("check", "compile", "disasm", "new", "run", "test"):
        assert f"\n    {name} " in r.out
        assert f"\n  advm {name} " in r.out


def test_readme_documents_every_command():
    from advm.cli import COMMANDS

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    reference = readme.split("\n## Command line\n", 1)[1].split("\n## Layout\n", 1)[0]
    for usage in ("advm check FILE|DIR...", "advm compile FILE", "advm disasm FILE",
                  "advm new NAME", "advm run FILE", "advm run FILE --once", "advm test FILE...",
                  "advm -V", "advm --help, advm "):
        assert usage in reference, usage
    for cmd in COMMANDS:
        assert f"\nadvm {cmd.name} " in reference, cmd.name
