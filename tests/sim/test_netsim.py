"""The simulator over the protocol handler (issue 21 point 2, spec/simulation.md):
seeds in CI, the same seed giving the same bytes, the regressions its runs
found, and the planted faults of (c) over the disk double, (e) and (f).

    ADVM_NETSIM_SEED=S ADVM_NETSIM_SEEDS=N pytest tests/sim/test_netsim.py
    python tests/sim/run.py --net --seed S --count N        # the same, outside pytest
"""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import weakref
from pathlib import Path

import pytest
from draw import HypothesisDraw, SeededDraw
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from netsim import NetConfig, digest, netsim

import advm.durable.document as durable_document
import advm.net.server as server

ROOT = Path(__file__).resolve().parents[2]
START = int(os.environ.get("ADVM_NETSIM_SEED", "0"))
SEEDS = int(os.environ.get("ADVM_NETSIM_SEEDS", "40"))
CHUNK = 20
BOUND = 20  # seeds within which each planted fault must be reported


@pytest.fixture(autouse=True)
def quiet_server_log():
    # The failures the doubles cause are logged by the server (as in
    # production); the run judges them itself.
    log = logging.getLogger("advm.server")
    level = log.level
    log.setLevel(logging.CRITICAL)
    yield
    log.setLevel(level)


@pytest.mark.parametrize("first", range(START, START + SEEDS, CHUNK))
def test_net_seeds(first):
    from run import report_net

    failures = []
    for seed in range(first, min(first + CHUNK, START + SEEDS)):
        result = netsim(SeededDraw(seed), NetConfig())
        if result.problem is not None:
            failures.append(report_net(seed, result, []))
    assert not failures, "\n\n".join(failures)


def test_the_runs_reach_the_faults():
    """Not vacuous: across a few seeds the process crashes, the disk fails,
    principals reconnect, and settles judge the invariants."""
    crashes = faults = reconnects = settles = frames = 0
    for seed in range(8):
        r = netsim(SeededDraw(seed), NetConfig())
        assert r.problem is None, r.problem
        crashes += r.crashes
        faults += r.faults
        reconnects += r.reconnects
        settles += r.settles
        frames += r.frames
    assert crashes >= 8 and faults >= 4 and reconnects >= 20 and settles >= 30 and frames > 300, \
        (crashes, faults, reconnects, settles, frames)


def test_a_seed_is_the_same_bytes_everywhere():
    """Same seed, same run, byte for byte: twice in this process, and once
    through the printed command in a fresh process (another hash seed)."""
    a, b = netsim(SeededDraw(11), NetConfig()), netsim(SeededDraw(11), NetConfig())
    assert a.problem is None, a.problem
    assert "\n".join(a.trace).encode() == "\n".join(b.trace).encode()
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "tests/sim/run.py", "--net", "--seed", "11"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"trace {digest(a)})" in out.stdout, (digest(a), out.stdout)


# Hypothesis drives the same run: it explores, and shrinks what fails.
@settings(max_examples=4, deadline=None, derandomize=True, database=None,
          phases=[Phase.generate, Phase.shrink],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_hypothesis_net_runs(data):
    result = netsim(HypothesisDraw(data), NetConfig(steps=40))
    assert result.problem is None, f"{result.problem}\n{result.source}\n" + "\n".join(result.trace)


# ---------------------------------------------------------------- regressions its runs found


def test_seed_3_a_view_behind_a_failed_commit_is_a_store_failure():
    """A second stream's view of a document whose earlier input could not be
    made durable failed with `internal` (a bug in advm) instead of `store`
    (net/shard.py Shard.handle)."""
    result = netsim(SeededDraw(3), NetConfig())
    assert result.problem is None, result.problem
    assert any('"reason":"store"' in line for line in result.trace)


def test_seed_95_a_late_failure_does_not_drop_the_reloaded_document():
    """An input queued on a document that had already failed and been
    reloaded failed late, and the shard dropped the reloaded document, under
    a stream that had just joined it (net/shard.py _after_input)."""
    result = netsim(SeededDraw(95), NetConfig())
    assert result.problem is None, result.problem


def test_seed_16442_the_checker_reads_without_writing_to_a_failed_store():
    """Found by the 10,000-seed run: after an EIO on another document's write
    the store fails every write until a restart; the checker's own reading of
    a document whose commits had all landed (view() makes sure what it shows
    is durable: a barrier, a write) failed that document, and the checker
    blamed the server (a document serving past a failed commit). On a failed
    store the checker now reads the document as it is."""
    result = netsim(SeededDraw(16442), NetConfig())
    assert result.problem is None, result.problem
    assert any("fault eio" in line for line in result.trace)


# ---------------------------------------------------------------- planted faults


def first_report(law: str) -> tuple[int, str]:
    """The first seed that reports the planted fault; it must be `law`.
    Without the fault these seeds are clean (test_net_seeds runs them)."""
    for seed in range(BOUND):
        result = netsim(SeededDraw(seed), NetConfig())
        if result.problem is not None:
            assert result.problem.law == law, (seed, str(result.problem))
            return seed, str(result.problem)
    raise AssertionError(f"no seed of {BOUND} reported the planted fault ({law})")


def test_a_catch_up_skipping_one_field(monkeypatch):
    """(e): the first frame a stream gets (its whole view: a first connect,
    a reconnect, a second stream) lacks one field."""
    seen = weakref.WeakSet()

    def skip(data: dict) -> dict:
        keys = [k for k in data if not k.startswith("@")]
        return {k: v for k, v in data.items() if k != keys[0]} if keys else data

    real_deltas, real_reset = server.Stream.deltas, server.Stream.reset

    def deltas(self, items, outstanding):
        if self not in seen and items:
            seen.add(self)
            patch, seq = items[0]
            items = [(json.dumps(skip(json.loads(patch))), seq), *items[1:]]
        return real_deltas(self, items, outstanding)

    def reset(self, data, seq, outstanding):
        if self not in seen:
            seen.add(self)
            data = skip(data)
        return real_reset(self, data, seq, outstanding)

    monkeypatch.setattr(server.Stream, "deltas", deltas)
    monkeypatch.setattr(server.Stream, "reset", reset)
    seed, message = first_report("e")
    assert "is not its fresh view" in message


def test_a_request_left_unanswered(monkeypatch):
    """(f): the answer to a message whose request id is a multiple of 4 is
    never sent (a fault that depends on the run alone, so that `--shrink`
    can shrink it too)."""
    real = server.Socket.replier

    def replier(self, rid):
        reply = real(self, rid)
        if rid % 4 == 0:
            reply.fn = lambda result, exc: None
        return reply

    monkeypatch.setattr(server.Socket, "replier", replier)
    seed, message = first_report("f")
    assert "has no answer and its connection is up" in message


def test_an_ack_sent_before_the_commit(monkeypatch):
    """(c), over the disk double: a durable document answers an input as it
    runs, before its log entry is written; a crash before the flush loses an
    acknowledged input."""
    real = durable_document.DurableDocument._log

    def log(self, item, frames, done=None):
        if done is None:
            return real(self, item, frames)
        done(frames, None)
        real(self, item, frames)
        return None

    monkeypatch.setattr(durable_document.DurableDocument, "_log", log)
    seed, message = first_report("c")
    assert "journal" in message
