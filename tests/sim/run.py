"""Run the simulator over a range of seeds (spec/simulation.md).

    python tests/sim/run.py --seed 0 --count 10000        # a long run
    python tests/sim/run.py --seed 137                    # one seed again, with its trace
    python tests/sim/run.py --seed 137 --shrink           # ... shrunk by Hypothesis
    python tests/sim/run.py --net --seed 0 --count 500    # over the protocol handler, with faults

Each seed is one generated document and one generated session over it (with
`--mutants`, also one mutated document through check, compile and run). A
failing seed prints its invariant, the document, the session's inputs and the
one command that runs it again; the exit status is 1 when any seed failed.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from draw import SeededDraw, shrink  # noqa: E402
from mutants import differential  # noqa: E402
from sim import Config, Problem, Result, simulate  # noqa: E402
from netsim import NetConfig, digest, netsim  # noqa: E402


def command(seed: int, args: list[str] = ()) -> str:
    extra = "".join(f" {a}" for a in args)
    return f"python tests/sim/run.py --seed {seed}{extra}"


def run_seed(seed: int, config: Config, mutants: bool = True) -> tuple[Result, Problem | None, str | None]:
    """One seed: (the session's result, the mutant's problem, the mutant's text)."""
    result = simulate(SeededDraw(seed), config)
    mutant_problem = text = None
    if mutants:
        text, _, mutant_problem = differential(SeededDraw(seed))
    return result, mutant_problem, text


def report(seed: int, result: Result, mutant_problem, mutant_text, flags: list[str]) -> str:
    lines = []
    if result.problem is not None:
        lines += [f"seed {seed}: {result.problem}", "--- the document:", result.source.rstrip(),
                  "--- the session (one input per line; 'crash' restarts the stored run only):",
                  *result.trace]
    if mutant_problem is not None:
        lines += [f"seed {seed}: mutant {mutant_problem}", "--- the mutant:", mutant_text.rstrip()]
    lines.append(f"reproduce: {command(seed, flags)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0, help="the first seed (default 0)")
    parser.add_argument("--count", type=int, default=1, help="how many seeds from --seed (default 1)")
    parser.add_argument("--steps", type=int, default=Config.steps, help="inputs per session")
    parser.add_argument("--memory", action="store_true", help="no stored run: skip (c) and (d)")
    parser.add_argument("--no-mutants", action="store_true", help="skip the (g) mutant of each seed")
    parser.add_argument("--shrink", action="store_true", help="shrink a failing session with Hypothesis")
    parser.add_argument("--quiet", action="store_true", help="print failures and the summary only")
    parser.add_argument("--progress", type=int, default=0, metavar="N",
                        help="with --net: a line every N seeds (seeds done, failed, seconds), for long runs")
    parser.add_argument("--net", action="store_true",
                        help="the simulation over the protocol handler, network and disk doubled (netsim.py)")
    parser.add_argument("--lanes", action="store_true",
                        help="with --net: documents on a worker process and its lanes (lanesim.py)")
    args = parser.parse_args(argv)
    if args.count < 1 or args.steps < 0:
        parser.error("--count is 1 or more, --steps 0 or more")
    if args.net:
        return main_net(args)
    flags = []
    if args.steps != Config.steps:
        flags.append(f"--steps {args.steps}")
    if args.memory:
        flags.append("--memory")
    config = Config(steps=args.steps, durable=not args.memory)
    failed = []
    frames = marked = replays = 0
    started = time.perf_counter()
    for seed in range(args.seed, args.seed + args.count):
        result, mutant_problem, mutant_text = run_seed(seed, config, not args.no_mutants)
        frames += result.frames
        marked += result.marked
        replays += result.replays
        if result.problem is None and mutant_problem is None:
            if args.count == 1 and not args.quiet:
                print(f"seed {seed}: clean ({len(result.trace)} inputs, {result.frames} frames)")
            continue
        failed.append(seed)
        print(report(seed, result, mutant_problem, mutant_text, flags), flush=True)
        if args.shrink and result.problem is not None:
            print(shrunk(seed, config), flush=True)
    took = time.perf_counter() - started
    print(f"{args.count} seeds from {args.seed} in {took:.1f} s ({args.count / took * 60:.0f} seeds/min): "
          f"{frames} frames, {marked} carrying markers, {replays} replays; "
          f"{len(failed)} failed{': ' + ' '.join(map(str, failed)) if failed else ''}")
    return 1 if failed else 0


def report_net(seed: int, result, flags: list[str]) -> str:
    lines = [f"seed {seed}: {result.problem}", "--- the document:", result.source.rstrip(),
             "--- the run (requests >, frames <, and what the network, the disk and the process did):",
             *result.trace, f"reproduce: {command(seed, ['--net', *flags])}"]
    return "\n".join(lines)


def main_net(args) -> int:
    import logging

    logging.getLogger("advm.server").setLevel(logging.CRITICAL)  # the failures it logs are the run's
    flags = [f"--steps {args.steps}"] if args.steps != Config.steps else []
    config = NetConfig(steps=args.steps) if flags else NetConfig()
    if args.lanes:
        flags.append("--lanes")
        config.lanes = True
    failed = []
    frames = crashes = faults = worker_inputs = 0
    started = time.perf_counter()
    for seed in range(args.seed, args.seed + args.count):
        result = netsim(SeededDraw(seed), config)
        frames += result.frames
        worker_inputs += result.worker_inputs
        crashes += result.crashes
        faults += result.faults
        if result.problem is None:
            if args.count == 1 and not args.quiet:
                print(f"seed {seed}: clean ({len(result.trace)} trace lines, {result.frames} frames, "
                      f"trace {digest(result)})")
        else:
            failed.append(seed)
            print(report_net(seed, result, flags), flush=True)
            if args.shrink:
                print(shrunk(seed, config, net=True), flush=True)
        done = seed - args.seed + 1
        if args.progress and done % args.progress == 0:
            print(f"progress: {done} of {args.count} seeds from {args.seed}, {len(failed)} failed, "
                  f"{time.perf_counter() - started:.0f} s", flush=True)
    took = time.perf_counter() - started
    print(f"{args.count} seeds from {args.seed} over the protocol handler in {took:.1f} s "
          f"({args.count / took * 60:.0f} seeds/min): {frames} frames, {crashes} crashes, "
          f"{faults} disk faults{f', {worker_inputs} requests run on the lanes' if args.lanes else ''}; "
          f"{len(failed)} failed{': ' + ' '.join(map(str, failed)) if failed else ''}")
    return 1 if failed else 0


def shrunk(seed: int, config, budget: int = 300, net: bool = False) -> str:
    """The failing session of `seed`, shrunk by Hypothesis from its choices
    (at most `budget` runs)."""
    run = netsim if net else simulate
    draw = SeededDraw(seed)
    run(draw, config)
    last: dict = {}

    def fails(d):
        r = run(d, config)
        if r.problem is None:
            return None
        last["result"] = r
        return str(r.problem)

    problem = shrink(draw.choices, fails, max_examples=budget)
    if problem is None or "result" not in last:
        return "--- shrinking: the recorded run no longer fails"
    r = last["result"]
    return "\n".join(["--- shrunk by Hypothesis:", f"{problem}", "--- the document:", r.source.rstrip(),
                      "--- the session:", *r.trace])


if __name__ == "__main__":
    sys.exit(main())
