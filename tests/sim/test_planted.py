"""The simulator can fail (issue 21 point 5): for each invariant, a fault is
planted behind a test-only switch (monkeypatch, here and nowhere else) and the
simulator must report that invariant within a bounded number of seeds.

Each test also runs the same seeds without the fault first, so what catches
the fault is the fault."""
from __future__ import annotations

import pytest
from draw import SeededDraw
from mutants import differential
from sim import Config, simulate

import advm.compiler.build as build
import advm.durable.document as durable_document
import advm.durable.replay as durable_replay
import advm.views.privacy as privacy
import advm.views.viewers as viewers
from advm.durable import inputs

BOUND = 40  # seeds within which each planted fault must be reported


def first_report(law: str, config: Config | None = None, bound: int = BOUND) -> tuple[int, str]:
    for seed in range(bound):
        result = simulate(SeededDraw(seed), config or Config())
        if result.problem is not None:
            assert result.problem.law == law, (seed, str(result.problem))
            return seed, str(result.problem)
    raise AssertionError(f"no seed of {bound} reported the planted fault ({law})")


def test_without_a_fault_the_same_seeds_are_clean():
    for seed in range(BOUND):
        result = simulate(SeededDraw(seed), Config())
        assert result.problem is None, (seed, str(result.problem))


def test_a_view_filter_skipped_for_one_field(monkeypatch):
    """(a): the string field s_0 is shown to every viewer, whatever its privacy."""
    real = privacy.Schema._member

    def member(self, f, kind, *args, **kw):
        m = real(self, f, kind, *args, **kw)
        if m.name == "s_0":
            m.privacy = privacy.PUBLIC
        return m

    monkeypatch.setattr(privacy.Schema, "_member", member)
    viewers._plans.clear()  # the plans made with the real schema
    try:
        seed, message = first_report("a")
    finally:
        viewers._plans.clear()
    assert "which its rules hide" in message and "MK" in message


def test_a_require_policy_ignored(monkeypatch):
    """(a), rows: a record's `require` is left out, so rows it hides are listed."""
    real = privacy.Schema._record_shape

    def record_shape(self, *args, **kw):
        shape = real(self, *args, **kw)
        shape.requires = []
        return shape

    monkeypatch.setattr(privacy.Schema, "_record_shape", record_shape)
    viewers._plans.clear()
    try:
        seed, message = first_report("a")
    finally:
        viewers._plans.clear()
    assert "which its rules hide" in message and "'@o'" in message


def test_a_delta_dropped(monkeypatch):
    """(b): every fifth delta frame after a commit is lost on its way out (in
    the memory run)."""
    real = viewers.Viewers.after_commit
    count = [0]

    def dropping(self):
        kept = []
        for f in real(self):
            if "delta" in f:
                count[0] += 1
                if count[0] % 5 == 0:
                    continue
            kept.append(f)
        return kept

    monkeypatch.setattr(viewers.Viewers, "after_commit", dropping)
    # in memory only: with the stored run beside it, (c) sees first that the
    # two runs' frames differ
    config = Config(durable=False)
    seed, message = first_report("b", config)
    assert "view" in message
    # what CI prints for it: the invariant, the document, the inputs, the command
    from run import report, run_seed

    text = report(seed, *run_seed(seed, config), [])
    assert text.startswith(f"seed {seed}: (b) ") and "--- the document:" in text
    assert text.endswith(f"reproduce: python tests/sim/run.py --seed {seed}"), text[-200:]


class Twice:
    """durable/inputs.py as recovery sees it, applying every logged message twice."""

    def __getattr__(self, name):
        return getattr(inputs, name)

    @staticmethod
    def apply(living, entry, head, **kw):
        living, frames = inputs.apply(living, entry, head, **kw)
        if entry.kind == "send":
            living, _ = inputs.apply(living, entry, head, **kw)
        return living, frames


def test_an_input_applied_twice_on_recovery(monkeypatch):
    """(c): recovering from the store applies each logged message twice."""
    monkeypatch.setattr(durable_document, "inputs", Twice())
    seed, message = first_report("c")
    assert "journal" in message


class Forgetful:
    """durable/inputs.py as replay sees it, losing the third logged message."""

    def __init__(self):
        self.sends = 0

    def __getattr__(self, name):
        return getattr(inputs, name)

    def apply(self, living, entry, head, **kw):
        if entry.kind == "send":
            self.sends += 1
            if self.sends == 3:
                return living, []
        return inputs.apply(living, entry, head, **kw)

    def apply_retold(self, living, entry, head, *args):
        # what replay's loop calls since 5e65b28 (one retelling() for the whole loop)
        if entry.kind == "send":
            self.sends += 1
            if self.sends == 3:
                return living, []
        return inputs.apply_retold(living, entry, head, *args)


def test_replay_losing_an_entry(monkeypatch):
    """(d): replay skips one logged message."""
    real = durable_replay._replay

    def replaying(*args, **kw):
        monkeypatch.setattr(durable_replay, "inputs", Forgetful())
        return real(*args, **kw)

    monkeypatch.setattr(durable_replay, "_replay", replaying)
    seed, message = first_report("d")
    assert "replay to seq" in message


def test_check_and_compile_disagree(monkeypatch):
    """(g): code generation fails on a construct check accepts (the shape of
    issue 21's `internal: cannot assign to FieldAccess`)."""
    real = build.generate

    def generate(comp):
        if ".remove(" in comp.source.text:
            raise build.CodegenError("internal: cannot assign to FieldAccess")
        return real(comp)

    monkeypatch.setattr(build, "generate", generate)
    seed, message = first_report("g")
    assert "check accepts the program, compilation fails" in message


def test_an_internal_error_in_a_mutant(monkeypatch):
    """(g), the run: a KeyError escapes the runtime for one channel (set_s_0,
    which every document has); the mutants find it as well as the plain
    sessions do."""
    from advm.runtime.living import LivingDocument

    real = LivingDocument.apply

    def apply(self, item, *a, **kw):
        if isinstance(item, dict) and item.get("channel") == "set_s_0":
            raise KeyError("planted")
        return real(self, item, *a, **kw)

    monkeypatch.setattr(LivingDocument, "apply", apply)
    for seed in range(BOUND):
        text, accepted, problem = differential(SeededDraw(seed))
        if problem is not None:
            assert problem.law == "g" and "KeyError" in str(problem), str(problem)
            return
    pytest.fail(f"no mutant of {BOUND} seeds reported the planted internal error")


def test_a_failing_seed_shrinks(monkeypatch):
    """`run.py --shrink`: Hypothesis starts from the seed's recorded choices
    (the very run that failed) and ends with a shorter session that fails the
    same way (here the run in memory, with deltas dropped as above)."""
    from run import shrunk

    config = Config(durable=False, steps=30)
    real = viewers.Viewers.after_commit

    def dropping(self):
        frames = real(self)
        return [f for f in frames if "delta" not in f or f["seq"] % 4 != 3]

    monkeypatch.setattr(viewers.Viewers, "after_commit", dropping)
    seed, message = first_report("b", config)
    original = simulate(SeededDraw(seed), config)
    text = shrunk(seed, config, budget=25)
    assert text.startswith("--- shrunk by Hypothesis:\n(b) "), text
    session = text.split("--- the session:\n", 1)[1].splitlines()
    assert len(session) < len(original.trace), (len(session), len(original.trace))
