"""Benchmarks live in bench_*.py so the default run (testpaths = tests) and a
stray `pytest` never pick them up; this hook collects them when bench/ is the
target: `python -m pytest bench --benchmark-enable`."""
from __future__ import annotations

import pytest


def pytest_collect_file(file_path, parent):
    if file_path.suffix != ".py" or not file_path.name.startswith("bench_"):
        return None
    if parent.session.isinitpath(file_path):
        return None  # named on the command line: pytest collects it itself
    return pytest.Module.from_parent(parent, path=file_path)
