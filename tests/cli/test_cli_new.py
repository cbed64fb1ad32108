"""`advm new NAME`: a starter document and its scripted session that pass
`check` (no warning either), `test` and `run --script`; never overwriting."""
from __future__ import annotations

import json

from advm.cli import ExitCode


def test_the_starter_passes_check_test_and_its_session(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = cli("new", "duel")
    assert (r.code, r.out) == (ExitCode.OK, "")
    assert r.err.startswith("wrote duel.adb and sessions/duel.jsonl; next:\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["duel.adb", "sessions"]
    assert (tmp_path / "duel.adb").read_text().startswith("// duel: a living document")
    r = cli("check", "duel.adb")
    assert (r.code, r.err) == (ExitCode.OK, "duel.adb: ok\n")  # no warnings either
    r = cli("test", "duel.adb")
    assert r.code == ExitCode.OK and r.out.endswith("2 passed, 0 failed\n")
    r = cli("run", "duel.adb", "--script", "sessions/duel.jsonl")
    assert (r.code, r.err) == (ExitCode.OK, "")
    frames = [json.loads(line) for line in r.out.splitlines()]
    assert {"to": "eve", "connected": False} in frames  # a third person is refused
    views = {f["to"]: f["view"] for f in frames if "view" in f}
    assert views["bob"]["partner_note"] == "bring the cards"
    assert "partner_note" not in views["alice"]  # private to bob
    assert [line["text"] for line in views["alice"]["lines"]] == ["hello, bob"]
    # It went through the default store, as the server keeps documents.
    r = cli("replay", "--log", "--quiet")
    assert r.code == ExitCode.OK, r.err


def test_new_never_overwrites(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.adb").write_text("// my own work\n")
    r = cli("new", "mine")
    assert r.code == ExitCode.USAGE
    assert r.err == ("advm: error: mine.adb: already exists; advm new never overwrites a file "
                     "(choose another name)\n")
    assert (tmp_path / "mine.adb").read_text() == "// my own work\n"
    assert not (tmp_path / "sessions" / "mine.jsonl").exists()
    (tmp_path / "sessions").mkdir()
    (tmp_path / "sessions" / "other.jsonl").write_text("{}\n")
    r = cli("new", "other")
    assert r.code == ExitCode.USAGE and "sessions/other.jsonl: already exists" in r.err
    assert not (tmp_path / "other.adb").exists()
    assert (tmp_path / "sessions" / "other.jsonl").read_text() == "{}\n"


def test_new_takes_a_folder_and_checks_the_name(cli, tmp_path):
    (tmp_path / "games").mkdir()
    r = cli("new", tmp_path / "games" / "chess.adb")
    assert r.code == ExitCode.OK
    assert (tmp_path / "games" / "chess.adb").exists()
    assert (tmp_path / "games" / "sessions" / "chess.jsonl").exists()
    for bad in (tmp_path / "9lives", tmp_path / "a b", "", "x.y"):
        r = cli("new", bad)
        assert r.code == ExitCode.USAGE and "a name starts with a letter" in r.err, bad
    r = cli("new", tmp_path / "missing" / "x")
    assert r.code == ExitCode.USAGE and "no such folder" in r.err
