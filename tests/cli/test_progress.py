"""Progress bars on long work (issue 17 point 5): `advm replay` of a long log and
`advm snapshot import` of many documents draw a rich bar on a terminal's stderr,
and nothing at all with --json or when stderr is not a terminal."""
from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from advm.cli import ExitCode
from advm.commands import progress, replay as replay_command
from advm.store import KEEP_ALL, Store
from durable_kit import Driver, example, script


def stored(path, name="tictactoe", key="main"):
    with Store(path, durability="relaxed", retention=KEEP_ALL) as store:
        d = Driver(store, key, example(name))
        d.run(script(name))
        d.doc.close()
    return path


@pytest.fixture
def terminal(monkeypatch):
    """Every console the commands make is one rich console, forced to be a terminal, recorded."""
    console = Console(file=io.StringIO(), force_terminal=True, record=True, width=100)
    monkeypatch.setattr(progress, "make_console", lambda: console)
    return console


@pytest.fixture
def short_logs_count(monkeypatch):
    # the examples' logs are short; a bar for any log keeps the test small
    monkeypatch.setattr(replay_command, "PROGRESS_FROM", 1)


def test_replay_draws_a_bar_on_a_terminal(cli, tmp_path, terminal, short_logs_count):
    path = stored(tmp_path / "s")
    with Store(path, readonly=True) as store:
        last = store.last_seq("main")
    r = cli("replay", "--store", path, "--quiet")
    assert r.code == ExitCode.OK, r.err
    drawn = terminal.file.getvalue()
    assert "replaying" in drawn and f"{last}/{last}" in drawn
    assert "\x1b[" in drawn  # drawn with a terminal's control sequences
    assert f"main: replayed seq 1..{last}" in r.err + terminal.export_text()


def test_replay_output_is_the_same_without_a_terminal(cli, tmp_path, monkeypatch, short_logs_count):
    path = stored(tmp_path / "s")
    plain = cli("replay", "--store", path)  # stderr is captured: not a terminal
    assert plain.code == ExitCode.OK
    monkeypatch.setattr(progress, "progress_bar", lambda *a, **k: None)
    monkeypatch.setattr(replay_command, "progress_bar", lambda *a, **k: None)
    without = cli("replay", "--store", path)
    assert (plain.out, plain.err) == (without.out, without.err)
    assert "\x1b[" not in plain.err and "replaying" not in plain.err


def test_replay_lines_still_reach_a_pipe_while_the_bar_is_drawn(cli, tmp_path, monkeypatch,
                                                               short_logs_count):
    path = stored(tmp_path / "s")
    plain = cli("replay", "--store", path)
    console = Console(file=io.StringIO(), force_terminal=True, record=True, width=100)
    monkeypatch.setattr(progress, "make_console", lambda: console)
    with_bar = cli("replay", "--store", path)
    assert "replaying" in console.file.getvalue()
    assert with_bar.out == plain.out and with_bar.out.count("\n") > 5


def test_replay_json_draws_nothing(cli, tmp_path, terminal, short_logs_count):
    path = stored(tmp_path / "s")
    r = cli("replay", "--store", path, "--json")
    assert r.code == ExitCode.OK and json.loads(r.out)["ok"] is True
    assert terminal.file.getvalue() == "" and r.err == ""


def test_a_short_log_draws_no_bar(cli, tmp_path, terminal):
    path = stored(tmp_path / "s")
    assert cli("replay", "--store", path, "--quiet").code == ExitCode.OK
    assert "replaying" not in terminal.file.getvalue()


def exports(cli, tmp_path, n=3):
    files = []
    for i in range(n):
        path = stored(tmp_path / f"s{i}", "todo", key=f"doc{i}")
        out = tmp_path / f"doc{i}.advx"
        r = cli("snapshot", "export", "--store", path, "--doc", f"doc{i}", "-o", out)
        assert r.code == ExitCode.OK, r.err
        files.append(out)
    return files


def test_importing_many_documents_draws_a_bar(cli, tmp_path, terminal):
    files = exports(cli, tmp_path)
    r = cli("snapshot", "import", *files, "--store", tmp_path / "into")
    assert r.code == ExitCode.OK, r.err
    drawn = terminal.file.getvalue()
    assert "importing" in drawn and "3/3" in drawn
    said = r.err + terminal.export_text()
    assert all(f"doc{i}: imported (exported as 'doc{i}')" in said for i in range(3))
    with Store(tmp_path / "into", readonly=True) as store:
        assert all(store.last_seq(f"doc{i}") > 0 for i in range(3))


def test_importing_many_without_a_terminal_or_with_json(cli, tmp_path, monkeypatch):
    files = exports(cli, tmp_path)
    r = cli("snapshot", "import", *files, "--store", tmp_path / "a")
    assert r.code == ExitCode.OK
    lines = r.err.splitlines()
    assert len(lines) == 3
    assert all(line.startswith(f"doc{i}: imported (exported as 'doc{i}'), log ends at seq ")
               for i, line in enumerate(lines))
    assert "\x1b[" not in r.err and r.out == ""

    console = Console(file=io.StringIO(), force_terminal=True, record=True, width=100)
    monkeypatch.setattr(progress, "make_console", lambda: console)
    r = cli("snapshot", "import", *files, "--store", tmp_path / "b", "--json")
    assert r.code == ExitCode.OK and r.err == "" and console.file.getvalue() == ""
    assert [d["doc"] for d in json.loads(r.out)["documents"]] == ["doc0", "doc1", "doc2"]


def test_import_usage_with_many_files(cli, tmp_path):
    files = exports(cli, tmp_path, n=2)
    r = cli("snapshot", "import", *files, "--store", tmp_path / "a", "--doc", "x")
    assert r.code == ExitCode.USAGE and "one FILE" in r.err
    r = cli("snapshot", "import", "--store", tmp_path / "a")
    assert r.code == ExitCode.USAGE and "needs the export FILE" in r.err
