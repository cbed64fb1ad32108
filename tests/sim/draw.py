"""Where the simulator's random choices come from (tests/sim, spec/simulation.md).

Every generator in tests/sim draws through a `Draw`: an integer in a range, a
boolean, one item of a sequence. Two sources implement it:

- `SeededDraw(seed)`: a `random.Random(seed)`, so a seed is a run, the same
  in every process (nothing depends on which modules are loaded, unlike
  Hypothesis's own random source, which mixes in constants from local
  modules); it records every choice it made;
- `HypothesisDraw(data)`: Hypothesis's `st.data()`, one `st.integers` draw per
  choice, so Hypothesis generates, and shrinks a failure to a short trace.

`shrink(choices, fails)` hands a seeded run's recorded choices to Hypothesis
as a failing example from its database, so Hypothesis shrinks that very run
(tests/sim/run.py --seed S --shrink).
"""
from __future__ import annotations

import random
from typing import Callable, Sequence, TypeVar

T = TypeVar("T")


class Draw:
    def int(self, lo: int, hi: int) -> int:  # pragma: no cover - interface
        raise NotImplementedError

    def bool(self) -> bool:
        return self.int(0, 1) == 1

    def pick(self, items: Sequence[T]) -> T:
        return items[self.int(0, len(items) - 1)]

    def chance(self, percent: int) -> bool:
        """True about `percent` times in a hundred (shrinks towards False)."""
        return self.int(0, 99) >= 100 - percent


class SeededDraw(Draw):
    def __init__(self, seed: int):
        self.random = random.Random(seed)
        self.choices: list[int] = []

    def int(self, lo: int, hi: int) -> int:
        v = self.random.randint(lo, hi)
        self.choices.append(v)
        return v


class HypothesisDraw(Draw):
    def __init__(self, data):
        from hypothesis import strategies as st

        self.data = data
        self.st = st

    def int(self, lo: int, hi: int) -> int:
        return self.data.draw(self.st.integers(lo, hi))


def shrink(choices: list[int], fails: Callable[[Draw], str | None], max_examples: int = 300):
    """Shrink the seeded run whose choices were `choices` with Hypothesis.
    `fails(draw)` runs one simulation and returns its problem (None: clean).
    Returns the problem of the last failing run, which is the shrunk one
    (Hypothesis runs it again at the end), or None when the recorded run no
    longer fails; `fails` keeps whatever else it wants of that run."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st
    from hypothesis.database import InMemoryExampleDatabase, choices_to_bytes

    found: dict = {}

    def body(data):
        draw = HypothesisDraw(data)
        problem = fails(draw)
        if problem is not None:
            found["problem"] = problem
            raise AssertionError(problem)

    db = InMemoryExampleDatabase()
    test = settings(database=db, max_examples=max_examples, deadline=None,
                    phases=[Phase.reuse, Phase.shrink], print_blob=False,
                    suppress_health_check=list(HealthCheck))(given(st.data())(body))
    # Under the secondary key: Hypothesis does not shrink again what it finds
    # under the primary one (it takes that for a failure it shrank before).
    db.save(_key(test) + b".secondary", choices_to_bytes(choices))
    try:
        test()
    except AssertionError:
        return found.get("problem")
    return None


def _key(test) -> bytes:
    from hypothesis.internal.reflection import function_digest

    return function_digest(test.hypothesis.inner_test)
