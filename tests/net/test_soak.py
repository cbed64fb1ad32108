"""The soak benchmark's own check (bench/soak.py, issue 23 point 4): its
pieces, and a few seconds of the whole run (the real `advm run`, a restart,
every acknowledged message found again). No timing is asserted."""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from advm.compiler.build import build_source

SOAK = Path(__file__).resolve().parents[2] / "bench" / "soak.py"


def load_soak():
    spec = importlib.util.spec_from_file_location("advm_bench_soak", SOAK)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_its_pieces(tmp_path):
    soak = load_soak()
    assert build_source(soak.PROGRAM, "chat.adb") is not None
    rss, fds, threads = soak.proc_stats(os.getpid())
    assert rss > 0 and fds > 0 and threads >= 1
    assert soak.tree(os.getpid())[0] == os.getpid()
    (tmp_path / "a").write_bytes(b"x" * 10)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "b").write_bytes(b"y" * 5)
    assert soak.folder_bytes(tmp_path) == 15
    assert soak.pct([3.0, 1.0, 2.0, 4.0], 0.5) == 3.0
    assert soak.pct([3.0, 1.0, 2.0, 4.0], 0.99) == 4.0


def test_a_short_run_loses_nothing(capsys):
    soak = load_soak()
    status = soak.main(["--minutes", "0.05", "--every", "1", "--wave", "2", "--docs", "2",
                        "--viewers", "2", "--rate", "10", "--extra", "1"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "exit status 0" in out and " 0 errors" in out
    assert "documents hold every acknowledged message" in out
    rows = [line for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert rows, out  # at least one report
