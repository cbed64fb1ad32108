"""Fixtures for the VM tests."""
from __future__ import annotations

import pytest
from vmkit import build, run_module


@pytest.fixture
def run():
    """run(params, result, body, *args, **build_kw) -> the function's value."""

    def go(params, result, body, *args, **kw):
        return run_module(build(params, result, body, **kw), *args)

    return go
