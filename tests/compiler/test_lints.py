"""W0510/W0511: `advm check` warns when nobody could connect to or create a
document (compiler/lints.py, spec/errors.md), and a warning never fails a file."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from advm.cli import ExitCode
from advm.commands.program import load
from advm.commands.serve import warn_unreachable
from advm.compiler import compile_source
from advm.compiler.lints import lint

ROOT = Path(__file__).resolve().parents[2]

OPEN = """\
@static {
  create {
    return true;
  }
}

@connected {
  return true;
}
"""


def warnings_of(text: str) -> list[tuple[str, int, int]]:
    comp = compile_source(text, "w.adb")
    assert comp.ok, comp.render()
    before = list(comp.diagnostics)
    lint(comp)
    added = [d for d in comp.diagnostics if d not in before]
    assert all(d.severity == "warning" and d.hint for d in added)
    return [(d.code, *comp.source.line_col(d.span.start)) for d in added]


def test_an_empty_document_gets_both_warnings_and_still_checks_ok(cli, tmp_path):
    path = tmp_path / "empty.adb"
    path.write_text("", encoding="utf-8")
    r = cli("check", path)
    assert r.code == ExitCode.OK  # warnings do not fail a file
    assert r.err.splitlines()[-1] == f"{path}: ok, 2 warnings"
    assert f"{path}:1:1: warning[W0510] (nobody-can-connect): nobody can connect to this " \
           "document: it has no @connected" in r.err
    assert f"{path}:1:1: warning[W0511] (nobody-can-create): nobody can create this document: " \
           "it has no @static create policy" in r.err
    assert "= help: add `@connected { return true; }`" in r.err
    doc = json.loads(cli("check", "--json", path).out)
    (entry,) = doc["files"]
    assert entry["ok"] is True
    assert [(d["code"], d["name"], d["severity"]) for d in entry["diagnostics"]] == [
        ("W0510", "nobody-can-connect", "warning"), ("W0511", "nobody-can-create", "warning")]
    assert all(d["hint"] for d in entry["diagnostics"])


def test_a_document_anyone_may_open_has_no_warning():
    assert warnings_of(OPEN) == []


def test_connected_that_always_refuses_is_named_at_the_hook():
    text = OPEN.replace("@connected {\n  return true;", "@connected {\n  return false;")
    assert warnings_of(text) == [("W0510", 7, 1)]
    # A rule that can be true is not second-guessed, whatever it is.
    rule = "public principal owner;\n" + OPEN.replace("return true;\n}\n", "return @who == owner;\n}\n")
    assert warnings_of(rule) == []
    branches = OPEN.replace("@connected {\n  return true;",
                            "public int n;\n@connected {\n  if (n > 0) {\n    return false;\n  }\n  return false;")
    assert [code for code, _, _ in warnings_of(branches)] == ["W0510"]


def test_create_policy_missing_false_or_replaced_by_invent():
    connect = "@connected {\n  return true;\n}\n"
    assert warnings_of(connect) == [("W0511", 1, 1)]
    no_create = "@static {\n  maximum_history = 10;\n}\n" + connect
    assert warnings_of(no_create) == [("W0511", 1, 1)]  # at the @static block
    refused = "@static {\n  create {\n    return false;\n  }\n}\n" + connect
    assert warnings_of(refused) == [("W0511", 2, 3)]
    invented = "@static {\n  invent {\n    return true;\n  }\n}\n" + connect
    assert warnings_of(invented) == []  # connecting to a new key creates it
    never = "@static {\n  invent {\n    return false;\n  }\n}\n" + connect
    assert [code for code, _, _ in warnings_of(never)] == ["W0511"]


def test_the_example_apps_have_no_warnings(cli):
    apps = sorted((ROOT / "examples").glob("*.adb"))
    r = cli("check", *apps)
    assert r.code == ExitCode.OK
    assert r.err.splitlines() == [f"{app}: ok" for app in apps]


CASES = sorted((ROOT / "spec" / "cases").rglob("*.adb"))


@pytest.mark.parametrize("path", CASES, ids=lambda p: str(p.relative_to(ROOT / "spec" / "cases")))
def test_conformance_cases_keep_their_verdict(path):
    """The compiler proper never gives these warnings (tests/compiler/test_cases.py
    stays exact), and adding them changes no case's verdict."""
    comp = compile_source(path.read_text(encoding="utf-8"), path.name)
    assert not [d for d in comp.diagnostics if d.code.startswith("W05")]
    ok = comp.ok
    lint(comp)
    assert comp.ok == ok
    assert all(d.severity == "warning" for d in comp.diagnostics if d.code.startswith("W"))


def test_the_server_says_so_at_start(tmp_path, capsys):
    path = tmp_path / "closed.adb"
    path.write_text("public int n;\n", encoding="utf-8")
    warn_unreachable(load(str(path)))
    err = capsys.readouterr().err
    assert "warning[W0510] (nobody-can-connect)" in err and "warning[W0511]" in err
    (tmp_path / "open.adb").write_text(OPEN, encoding="utf-8")
    warn_unreachable(load(str(tmp_path / "open.adb")))
    assert capsys.readouterr().err == ""
