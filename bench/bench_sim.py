"""Seeds per minute of the simulator (issue 21, spec/simulation.md), group "sim".

    .venv/bin/python -m pytest bench/bench_sim.py --benchmark-enable

Each benchmark runs the same SEEDS seeds (40 inputs a session): the whole
simulation (memory and LMDB runs, every check, replays, the mutant), and
as its baseline in the same run, the memory run alone (`--memory
--no-mutants`), which is what every invariant costs over the runtime's own
work. The long-run figure in bench/README.md comes from `tests/sim/run.py`,
which prints seeds per minute itself.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "sim"))

from run import run_seed  # noqa: E402
from sim import Config  # noqa: E402

SEEDS = range(100, 110)


def seeds(config: Config, mutants: bool) -> int:
    failed = 0
    for seed in SEEDS:
        result, mutant_problem, _ = run_seed(seed, config, mutants)
        failed += result.problem is not None or mutant_problem is not None
    return failed


@pytest.mark.benchmark(group="sim")
def test_sim_full(benchmark):
    failed = benchmark.pedantic(seeds, args=(Config(), True), rounds=3, iterations=1)
    assert failed == 0
    benchmark.extra_info["seeds"] = len(SEEDS)


@pytest.mark.benchmark(group="sim")
def test_sim_memory_only_baseline(benchmark):
    failed = benchmark.pedantic(seeds, args=(Config(durable=False), False), rounds=3, iterations=1)
    assert failed == 0
    benchmark.extra_info["seeds"] = len(SEEDS)
