"""The example apps and the seed snippets check clean.

examples/*.adb are the apps the README points people at; examples/seeds/*.adb
hold every code snippet of the seeds wrapped in the declarations it needs
(since agents compile, none is named *_unsupported.adb any more).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from advm.compiler import compile_source

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
APPS = ["todo", "chat", "tictactoe", "cardgame", "auction", "approval", "cron_cleanup", "taskmanager", "support"]
FILES = sorted(EXAMPLES.glob("*.adb")) + sorted((EXAMPLES / "seeds").glob("*.adb"))


def _id(path: Path) -> str:
    return str(path.relative_to(EXAMPLES))


def _compile(path: Path):
    return compile_source(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_checks_clean(path):
    comp = _compile(path)
    assert comp.program is not None
    assert comp.diagnostics == [], comp.render()




@pytest.mark.parametrize("name", APPS)
def test_app_is_a_real_program(name):
    path = EXAMPLES / f"{name}.adb"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert 60 <= len(lines) <= 200, f"{path.name} has {len(lines)} lines"
    # Each app is described in the examples index.
    assert f"{name}.adb" in (EXAMPLES / "README.md").read_text(encoding="utf-8")
