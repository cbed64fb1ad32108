"""Shared fixtures: run the CLI in-process or as a subprocess, find examples,
and fail any test during which Python reported an exception it swallowed."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings

# Hypothesis's default deadline (200 ms an example) is a timed assert: on a
# loaded 2-core CI machine it fails tests whose code is correct. Speed goals
# live in bench/, so no example has a deadline unless its test sets one.
settings.register_profile("advm", deadline=None)
settings.load_profile("advm")

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


# -- store backends (spec/store.md part three) ------------------------------------
# One test suite, two implementations: a test that takes `make_store` runs once
# on LMDB and once on PostgreSQL (a server this session starts: tests/pg_kit.py).

@pytest.fixture(scope="session")
def pg_server():
    """A throwaway PostgreSQL server for the session. Without PostgreSQL the
    tests that need it skip, except under CI=true, where that is a failure
    (.ci/run installs Debian's postgresql)."""
    from pg_kit import Server, bin_dir

    if bin_dir() is None:
        if os.environ.get("CI") == "true":
            pytest.fail("PostgreSQL is not installed (.ci/run installs Debian's postgresql)")
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    server = Server(fsync=False)
    yield server
    server.stop()


@pytest.fixture(params=["lmdb", "postgresql"])
def store_backend(request):
    return request.param


@pytest.fixture
def make_store(store_backend, request, tmp_path):
    """make_store(path, **options): open the store `path` names with the
    backend under test: LMDB in that folder, or a PostgreSQL schema of its
    own (the same path reopens the same schema). Closed at the end."""
    from advm.store import Store

    opened = []
    schemas: dict[str, str] = {}
    server = request.getfixturevalue("pg_server") if store_backend == "postgresql" else None

    def where(path=None) -> str:
        """What `--store` names that store on the command line."""
        path = os.fspath(path if path is not None else tmp_path / "s")
        if server is None:
            return path
        if path not in schemas:
            schemas[path] = "t_" + uuid.uuid4().hex[:12]
        return server.url(schemas[path])

    def make(path=None, **options):
        if server is None:
            store = Store(where(path), **options)
        else:
            from advm.store.postgres import PgStore

            store = PgStore(where(path), **options)
        opened.append(store)
        return store

    make.where = where

    yield make
    for store in opened:
        store.close()
