"""One default document key everywhere: `main` for the browser page, run
--once, run --script (its --doc and its --key), replay, snapshot and the
Python session API (issue 10 point 13: it was `game`, `main` and `document`)."""
from __future__ import annotations

import json
import re
from pathlib import Path

from advm import session
from advm.cli import ExitCode
from advm.commands import run, storeargs

ROOT = Path(__file__).resolve().parents[2]
TODO = ROOT / "examples" / "todo.adb"


def test_every_default_is_main():
    from advm.durable import document

    assert run.DEFAULT_KEY == run.DEFAULT_DOC == storeargs.DEFAULT_DOC == "main"
    assert document.DEFAULT_DOC == session.DEFAULT_KEY == "main"
    page = (ROOT / "net" / "static" / "index.html").read_text(encoding="utf-8")
    assert re.search(r'<input id="doc-key"[^>]* value="main"', page)


def test_the_commands_use_it(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = cli("run", "--once", TODO, "--as", "alice@users", "--json")
    assert json.loads(r.out)["key"] == "main"
    script = tmp_path / "s.jsonl"
    script.write_text('{"op":"create","as":"alice@home"}\n')
    assert cli("run", TODO, "--script", script).code == ExitCode.OK
    r = cli("snapshot", "inspect", "--json")  # --doc main, --store ./.advm
    assert r.code == ExitCode.OK, r.err
    assert json.loads(r.out)["key"] == "main"
    r = cli("replay", "--log", "--quiet")
    assert r.code == ExitCode.OK and r.err.startswith("main: replayed seq 1..")
    # The document's own key (what seeds Random) is main too, not only its name in the store.
    from advm.store import Store

    with Store(tmp_path / ".advm", readonly=True) as store:
        assert store.documents() == ["main"]
        assert store.log("main")[0].extra["key"] == "main"
