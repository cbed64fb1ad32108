"""Shared fixtures: run the CLI in-process or as a subprocess, find examples,
and fail any test during which Python reported an exception it swallowed."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

# Printed by PyErr_WriteUnraisable: how an exception raised inside a Cython
# `cdef` function with no `except` clause (or a __del__) shows itself. The
# test that caused it would otherwise pass.
IGNORED = "Exception ignored"


def example_files() -> list[Path]:
    """Every example document, the headline one first."""
    found = sorted(EXAMPLES.rglob("*.adb"))
    headline = EXAMPLES / "todo.adb"
    if headline in found:
        found.remove(headline)
        found.insert(0, headline)
    return found


@pytest.fixture(scope="session")
def examples() -> list[Path]:
    found = example_files()
    assert found, f"no example documents under {EXAMPLES}"
    return found


@pytest.fixture(autouse=True)
def no_ignored_exceptions(request):
    # Capture fixtures cannot be mixed, so read through whichever one the test
    # already uses; capfd (file-descriptor level) also sees what C code prints.
    names = request.fixturenames
    kind = next(
        (k for k in ("capsys", "capsysbinary", "capfdbinary") if k in names), "capfd"
    )
    capture = request.getfixturevalue(kind)
    yield
    err = capture.readouterr().err
    if isinstance(err, bytes):
        err = err.decode("utf-8", "replace")
    # Hand the text back so pytest still shows it on failure.
    sys.stderr.write(err)
    assert IGNORED not in err, f"an exception was swallowed during the test:\n{err}"


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capfd):
    """Run `advm ARGS...` in-process; returns Result(code, out, err)."""
    from advm.cli import main

    def run(*args: str | os.PathLike) -> Result:
        capfd.readouterr()  # drop whatever the test printed before
        code = main([os.fspath(a) for a in args])
        out, err = capfd.readouterr()
        assert IGNORED not in err, err
        return Result(int(code), out, err)

    return run


@pytest.fixture
def advm_proc():
    """Run `python -m advm ARGS...` as a child process; returns Result."""

    def run(*args: str | os.PathLike, cwd: Path | None = None) -> Result:
        proc = subprocess.run(
            [sys.executable, "-m", "advm", *map(os.fspath, args)],
            cwd=cwd or ROOT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert IGNORED not in proc.stderr, proc.stderr
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return run
