"""The simulator in CI (issue 21, spec/simulation.md): a few hundred seeds of
generated documents and sessions, every invariant checked after every step.

    ADVM_SIM_SEED=S ADVM_SIM_SEEDS=N pytest tests/sim/test_sim.py   # N seeds from S
    python tests/sim/run.py --seed S --count N                     # the same, outside pytest

A failing seed's message holds the one command that runs it again.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from docgen import gen_doc
from draw import HypothesisDraw, SeededDraw
from mutants import differential
from run import command, report, run_seed
from sim import Config, simulate

ROOT = Path(__file__).resolve().parents[2]
START = int(os.environ.get("ADVM_SIM_SEED", "0"))
SEEDS = int(os.environ.get("ADVM_SIM_SEEDS", "200"))
CHUNK = 40


@pytest.mark.parametrize("first", range(START, START + SEEDS, CHUNK))
def test_seeds(first):
    failures = []
    for seed in range(first, min(first + CHUNK, START + SEEDS)):
        result, mutant_problem, mutant_text = run_seed(seed, Config())
        if result.problem is not None or mutant_problem is not None:
            failures.append(report(seed, result, mutant_problem, mutant_text, []))
    assert not failures, "\n\n".join(failures)


def test_the_seeds_reach_what_they_check():
    """Not vacuous: across a few seeds the sessions send markers to viewers
    (so (a) has something to judge), replay the log, and some mutants pass
    check (so (g) runs programs nobody wrote)."""
    marked = replays = accepted = 0
    for seed in range(20):
        r = simulate(SeededDraw(seed), Config())
        assert r.problem is None, r.problem
        marked += r.marked
        replays += r.replays
        accepted += differential(SeededDraw(seed))[1]
    assert marked > 50 and replays >= 20 and accepted >= 3, (marked, replays, accepted)


def test_the_grammar_covers_the_language_it_promises():
    """Across seeds, every feature of the grammar shows up in some document."""
    seen = set()
    for seed in range(60):
        spec = gen_doc(SeededDraw(seed))
        text = spec.source()
        seen |= {kind for kind in ("viewer_is<", "use_policy<", "private string", "public string",
                                   "bubble<", "@who == owner", "map<int, string>", "require ",
                                   ".fetch(", ".decide(", ".choose(", "transition #tick in",
                                   "@cron", "Date.offsetDay", " date d_", "abort;") if kind in text}
    assert len(seen) == 16, seen


def test_a_seed_is_the_same_run_everywhere(tmp_path):
    """The same seed gives the same document, inputs and frames: in this
    process twice, and through the printed command in a fresh one."""
    a, b = simulate(SeededDraw(7), Config()), simulate(SeededDraw(7), Config())
    assert (a.source, a.trace, a.frames) == (b.source, b.trace, b.frames)
    out = subprocess.run([sys.executable, *command(7).split()[1:]], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    want = f"seed 7: clean ({len(a.trace)} inputs, {a.frames} frames)"
    assert want in out.stdout, (want, out.stdout)


def test_advm_replay_agrees(tmp_path):
    """(d) through the command itself: `advm replay` of a simulated store
    rebuilds the document to its last entry with every check matched."""
    import json

    store = tmp_path / "store"
    store.mkdir()
    for seed in range(3):
        if seed:
            for child in store.iterdir():
                child.unlink()
        result = simulate(SeededDraw(seed), Config(store_dir=str(store)))
        assert result.problem is None, result.problem
        out = subprocess.run([sys.executable, "-m", "advm", "replay", "--store", str(store), "--doc", "main",
                              "--json"], cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stdout + out.stderr
        verdict = json.loads(out.stdout)
        assert verdict["ok"] and verdict["head"] == verdict["last"] and verdict["steps"] > 0, verdict


def test_the_runner_refuses_bad_arguments(capsys):
    from run import main

    with pytest.raises(SystemExit) as e:
        main(["--count", "0"])
    assert e.value.code == 2
    assert "--count is 1 or more" in capsys.readouterr().err


# Hypothesis drives the same generators: it explores, and shrinks what fails.
@settings(max_examples=8, deadline=None, derandomize=True, database=None,
          phases=[Phase.generate, Phase.shrink],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_hypothesis_sessions(data):
    result = simulate(HypothesisDraw(data), Config(steps=25))
    assert result.problem is None, f"{result.problem}\n{result.source}\n" + "\n".join(result.trace)
