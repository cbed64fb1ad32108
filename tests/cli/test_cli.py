"""The `advm` command line: exit codes, rendering, JSON, inputs it cannot read."""
from __future__ import annotations

import importlib.metadata
import json
import re
from pathlib import Path

import pytest

import advm
import advm.compiler
from advm.cli import EXIT_CODES_HELP, ExitCode
from advm.compiler import Compilation
from advm.compiler.diagnostics import error
from advm.compiler.source import Source, Span

ROOT = Path(__file__).resolve().parents[2]

# Who may create and connect: without these `advm check` warns (tests/compiler/test_lints.py).
HOOKS = """\
@static {
  create {
    return true;
  }
}
@connected {
  return true;
}
"""

CLEAN = """\
record Todo {
  public int id;
  public string text;
  public bool completed;
}
table<Todo> todos;
public int count;
""" + HOOKS

# One mistake per line so the snapshot shows several diagnostics, in order.
BAD = """\
record Todo {
  public int id;
  public strin text;
}
public int count = "three";
""" + HOOKS


@pytest.fixture
def docs(tmp_path):
    def write(name: str, text: str | bytes):
        path = tmp_path / name
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    return write


# ---------------------------------------------------------------- version and help


def test_version_matches_the_installed_metadata(cli):
    r = cli("--version")
    assert (r.code, r.out, r.err) == (0, f"advm {advm.__version__}\n", "")
    assert importlib.metadata.version("advm") == advm.__version__


def test_help_documents_every_exit_code(cli):
    r = cli("--help")
    assert r.code == 0
    assert EXIT_CODES_HELP in r.out
    for code in ExitCode:
        assert re.search(rf"^  {int(code)} ", r.out, re.M), code
    assert "check" in r.out


def test_subcommand_help_documents_its_own_exit_codes(cli):
    r = cli("check", "--help")
    assert r.code == 0
    assert "--json" in r.out
    status = r.out.split("exit status:\n", 1)[1]
    assert re.findall(r"^  (\d+) ", status, re.M) == ["0", "1", "2", "3", "130"]
    assert "a document has errors" in status
    # What only other commands do is not promised here.
    assert "test failed" not in status and "module file is corrupt" not in status
    # A command that only fails with usage errors lists no exit 1.
    token = cli("token", "--help").out.split("exit status:\n", 1)[1]
    assert re.findall(r"^  (\d+) ", token, re.M) == ["0", "2", "3", "130"]


@pytest.mark.parametrize("command", ["authority", "check", "compile", "disasm", "new", "replay", "run",
                                     "serve", "snapshot", "test", "token"])
def test_every_subcommand_help_says_what_its_exit_codes_mean(cli, command):
    r = cli(command, "--help")
    assert r.code == 0 and r.out.startswith(f"usage: advm {command} ")
    status = r.out.split("exit status:\n", 1)[1]
    assert status.startswith("  0    ") and "  2    usage or input error" in status
    assert EXIT_CODES_HELP not in r.out  # the whole scheme is `advm --help`'s


def test_run_help_groups_options_by_mode(cli):
    out = cli("run", "--help").out
    once = out.split("--once (create one document", 1)[1].split("\n\n", 1)[0]
    script = out.split("--script (a scripted session", 1)[1].split("\n\n", 1)[0]
    serving = out.split("serving (the default mode)", 1)[1].split("\n\n", 1)[0]
    assert all(flag in once for flag in ("--arg", "--as", "--key", "--json"))
    assert "--doc" in script and "--arg" not in script
    assert all(flag in serving for flag in ("--port", "--store", "--memory", "--workers"))
    assert "--arg" not in serving and "--doc" not in serving


def test_short_version_flag(cli):
    assert cli("-V") == cli("--version")
    assert cli("-V").out == f"advm {advm.__version__}\n"


def test_readme_lists_the_same_exit_codes():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = {int(m) for m in re.findall(r"^\| (\d+) +\|", readme, re.M)}
    assert rows == {int(c) for c in ExitCode}


# ---------------------------------------------------------------- usage errors: 2


def test_bare_advm_prints_the_help(cli):
    r = cli()
    assert (r.code, r.err) == (0, "")
    assert r.out == cli("--help").out
    assert r.out.startswith("usage: advm ") and EXIT_CODES_HELP in r.out
    # --debug alone is still no command: the same help.
    assert cli("--debug").out == r.out


def test_unknown_command_is_a_usage_error(cli):
    r = cli("frobnicate")
    assert r.code == ExitCode.USAGE
    assert "invalid choice" in r.err


def test_check_needs_a_file(cli):
    r = cli("check")
    assert r.code == ExitCode.USAGE
    assert "FILE" in r.err


def test_unknown_option_is_a_usage_error(cli, docs):
    r = cli("check", "--bogus", docs("a.adb", CLEAN))
    assert r.code == ExitCode.USAGE
    assert "unrecognized arguments: --bogus" in r.err


def test_missing_file(cli, tmp_path):
    missing = tmp_path / "nope.adb"
    r = cli("check", missing)
    assert r.code == ExitCode.USAGE
    assert r.err == f"advm: error: {missing}: no such file\n"
    assert r.out == ""


def test_every_unreadable_input_is_reported_and_nothing_is_checked(cli, docs, tmp_path):
    good = docs("good.adb", CLEAN)
    r = cli("check", "--json", tmp_path / "a.adb", good, tmp_path / "b.adb")
    assert r.code == ExitCode.USAGE
    assert r.err.splitlines() == [
        f"advm: error: {tmp_path / 'a.adb'}: no such file",
        f"advm: error: {tmp_path / 'b.adb'}: no such file",
    ]
    assert r.out == ""  # no half-finished JSON document


def test_check_a_folder_checks_every_document_under_it_sorted(cli, tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "deep").mkdir()
    for name, text in (("z.adb", CLEAN), ("a.adb", CLEAN), ("b/deep/bad.adb", BAD),
                       ("b/m.adb", CLEAN), ("notes.txt", "not a document")):
        (tmp_path / name).write_text(text, encoding="utf-8")
    r = cli("check", tmp_path)
    assert r.code == ExitCode.FAILURE  # bad.adb has errors
    summaries = [line for line in r.err.splitlines() if re.match(r"^\S+\.adb: ", line)]
    assert summaries == [f"{tmp_path / 'a.adb'}: ok", f"{tmp_path / 'b/deep/bad.adb'}: 2 errors",
                         f"{tmp_path / 'b/m.adb'}: ok", f"{tmp_path / 'z.adb'}: ok"]
    # Folders and files mix; JSON lists the same files in the same order.
    r = cli("check", "--json", tmp_path / "b", tmp_path / "a.adb")
    names = [f["filename"] for f in json.loads(r.out)["files"]]
    assert names == [str(tmp_path / "b/deep/bad.adb"), str(tmp_path / "b/m.adb"),
                     str(tmp_path / "a.adb")]


def test_check_a_folder_without_documents_is_a_usage_error(cli, tmp_path):
    r = cli("check", tmp_path)
    assert r.code == ExitCode.USAGE
    assert r.err == f"advm: error: {tmp_path}: no .adb files in this folder\n"


def test_the_examples_folder(cli):
    """The example apps are clean; under seeds/ only the *_unsupported files fail."""
    r = cli("check", ROOT / "examples")
    unsupported = list((ROOT / "examples").rglob("*_unsupported.adb"))
    assert r.code == (ExitCode.FAILURE if unsupported else ExitCode.OK)
    summaries = dict(line.rsplit(": ", 1) for line in r.err.splitlines()
                     if re.match(r"^\S+\.adb: ", line))
    assert sorted(summaries) == sorted(str(p) for p in (ROOT / "examples").rglob("*.adb"))
    failing = sorted(name for name, said in summaries.items() if "error" in said)
    assert failing == sorted(str(p) for p in (ROOT / "examples").rglob("*_unsupported.adb"))
    for app in sorted((ROOT / "examples").glob("*.adb")):
        assert summaries[str(app)] == "ok"


def test_non_utf8_file_is_a_usage_error(cli, docs):
    path = docs("latin1.adb", "public string s = \"caf\xe9\";\n// ok\n".encode("latin-1"))
    r = cli("check", path)
    assert r.code == ExitCode.USAGE
    assert r.err == f"advm: error: {path}: not UTF-8 text (byte 0xe9 on line 1)\n"


def test_byte_order_mark_is_not_part_of_the_program(cli, docs):
    path = docs("bom.adb", b"\xef\xbb\xbf" + CLEAN.encode())
    r = cli("check", path)
    assert (r.code, r.err) == (0, f"{path}: ok\n")


# ---------------------------------------------------------------- checking: 0 and 1


def test_clean_file_exits_0_and_says_ok(cli, docs):
    path = docs("clean.adb", CLEAN)
    r = cli("check", path)
    assert (r.code, r.out, r.err) == (0, "", f"{path}: ok\n")


def test_bad_file_renders_like_a_compiler(cli, docs, monkeypatch):
    monkeypatch.chdir(docs("bad.adb", BAD).parent)
    r = cli("check", "bad.adb")
    assert r.code == ExitCode.FAILURE
    assert r.out == ""
    assert r.err == BAD_SNAPSHOT


BAD_SNAPSHOT = """\
bad.adb:3:10: error[E0202] (unknown-type): unknown type 'strin'
  |
3 |   public strin text;
  |          ^^^^^
  = help: did you mean 'string'?

bad.adb:5:20: error[E0301] (type-mismatch): default of 'count' expects int, found string
  |
5 | public int count = "three";
  |                    ^^^^^^^

bad.adb: 2 errors
"""


def test_cli_layout_of_diagnostics_and_summary(cli, docs, monkeypatch):
    """The CLI's part of the output, independent of what the checker finds:
    rendered diagnostics, a blank line, the summary, per file in argument order."""
    text = "public int x = y;\npublic int z = w;\n"

    def fake_compile(text: str, filename: str) -> Compilation:
        source = Source(text, filename)
        diags = [
            error("E0201", "unknown name 'y'", Span(15, 16), hint="declare it first"),
            error("E0201", "unknown name 'w'", Span(33, 34)),
        ]
        return Compilation(source, None, None, diags)

    monkeypatch.setattr(advm.compiler, "compile_source", fake_compile)
    monkeypatch.chdir(docs("one.adb", text).parent)
    docs("two.adb", text)
    r = cli("check", "one.adb", "two.adb")
    assert r.code == ExitCode.FAILURE
    block = """\
{f}:1:16: error[E0201] (unknown-name): unknown name 'y'
  |
1 | public int x = y;
  |                ^
  = help: declare it first

{f}:2:16: error[E0201] (unknown-name): unknown name 'w'
  |
2 | public int z = w;
  |                ^

{f}: 2 errors
"""
    assert r.err == block.format(f="one.adb") + block.format(f="two.adb")


def test_summary_counts_errors_and_warnings(monkeypatch, cli, docs):
    def fake_compile(text: str, filename: str) -> Compilation:
        warning = error("E0406", "unreachable code", Span(0, 1))
        warning.severity = "warning"
        return Compilation(Source(text, filename), None, None, [warning])

    monkeypatch.setattr(advm.compiler, "compile_source", fake_compile)
    path = docs("w.adb", CLEAN)
    r = cli("check", path)
    assert r.code == ExitCode.OK  # warnings alone do not fail a file
    assert r.err.splitlines()[-1] == f"{path}: ok, 1 warning"


def test_multiple_files_one_bad(cli, docs):
    clean, bad = docs("clean.adb", CLEAN), docs("bad.adb", BAD)
    r = cli("check", clean, bad, clean)
    assert r.code == ExitCode.FAILURE
    summaries = [line for line in r.err.splitlines() if re.match(r"^\S+\.adb: ", line)]
    assert summaries == [f"{clean}: ok", f"{bad}: 2 errors", f"{clean}: ok"]


def test_json_shape(cli, docs):
    clean, bad = docs("clean.adb", CLEAN), docs("bad.adb", BAD)
    r = cli("check", "--json", clean, bad)
    assert r.code == ExitCode.FAILURE
    assert r.err == ""  # machine output only
    doc = json.loads(r.out)
    assert list(doc) == ["files"]
    first, second = doc["files"]
    assert first == {"filename": str(clean), "ok": True, "diagnostics": []}
    assert (second["filename"], second["ok"]) == (str(bad), False)
    assert [(d["code"], d["location"]) for d in second["diagnostics"]] == [
        ("E0202", {"row": 3, "column": 10}),
        ("E0301", {"row": 5, "column": 20}),
    ]
    d = second["diagnostics"][0]
    assert set(d) == {
        "code", "name", "severity", "message", "hint",
        "filename", "location", "end_location",
    }
    assert (d["name"], d["severity"], d["filename"]) == ("unknown-type", "error", str(bad))
    assert d["end_location"] == {"row": 3, "column": 15}


def test_json_clean_exits_0(cli, docs):
    r = cli("check", docs("clean.adb", CLEAN), "--json")
    assert r.code == ExitCode.OK
    assert json.loads(r.out)["files"][0]["ok"] is True


# ---------------------------------------------------------------- internal errors: 3


@pytest.fixture
def broken_compiler(monkeypatch):
    def explode(text: str, filename: str):
        raise RuntimeError("simulated compiler bug")

    monkeypatch.setattr(advm.compiler, "compile_source", explode)


def test_internal_error_is_exit_3_without_traceback(cli, docs, broken_compiler):
    r = cli("check", docs("a.adb", CLEAN))
    assert r.code == ExitCode.INTERNAL
    assert r.err.splitlines() == [
        "advm: internal error: RuntimeError: simulated compiler bug",
        "advm: this is a bug in advm; rerun with --debug to see the traceback",
    ]


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_reraises_internal_errors(cli, docs, broken_compiler, where):
    path = docs("a.adb", CLEAN)
    args = ["--debug", "check", path] if where == "before" else ["check", "--debug", path]
    with pytest.raises(RuntimeError, match="simulated compiler bug"):
        cli(*args)


def test_debug_does_not_change_usage_errors(cli, tmp_path):
    r = cli("--debug", "check", tmp_path / "missing.adb")
    assert r.code == ExitCode.USAGE


def test_interrupt_is_130(cli, docs, monkeypatch):
    def interrupted(text: str, filename: str):
        raise KeyboardInterrupt

    monkeypatch.setattr(advm.compiler, "compile_source", interrupted)
    r = cli("check", docs("a.adb", CLEAN))
    assert (r.code, r.err) == (130, "advm: interrupted\n")


# ---------------------------------------------------------------- as a program


def test_python_m_advm_matches_in_process(cli, advm_proc, docs):
    bad = docs("bad.adb", BAD)
    child = advm_proc("check", bad.name, cwd=bad.parent)
    assert child.code == ExitCode.FAILURE
    assert child.err == BAD_SNAPSHOT
    assert "Traceback" not in child.err


def test_python_m_advm_version_and_usage(advm_proc):
    assert advm_proc("--version").out == f"advm {advm.__version__}\n"
    assert advm_proc("-V").out == f"advm {advm.__version__}\n"
    r = advm_proc()
    assert (r.code, r.err) == (ExitCode.OK, "")
    assert r.out.startswith("usage: advm ")
