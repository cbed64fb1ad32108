"""The example apps and the seed snippets check clean.

examples/*.adb are the apps the README points people at; examples/seeds/*.adb
hold every code snippet of the seeds wrapped in the declarations it needs.
A seed file named *_unsupported.adb holds constructs a later issue
implements: it must give E0901 diagnostics and nothing else.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from advm.compiler import compile_source

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
APPS = ["todo", "chat", "tictactoe", "cardgame", "auction", "approval", "cron_cleanup"]
FILES = sorted(EXAMPLES.glob("*.adb")) + sorted((EXAMPLES / "seeds").glob("*.adb"))


def _id(path: Path) -> str:
    return str(path.relative_to(EXAMPLES))


def _compile(path: Path):
    return compile_source(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))


@pytest.mark.parametrize("path", [p for p in FILES if not p.name.endswith("_unsupported.adb")], ids=_id)
def test_checks_clean(path):
    comp = _compile(path)
    assert comp.program is not None
    assert comp.diagnostics == [], comp.render()


@pytest.mark.parametrize("path", [p for p in FILES if p.name.endswith("_unsupported.adb")], ids=_id)
def test_unsupported_seed_gives_only_e0901(path):
    comp = _compile(path)
    codes = [d.code for d in comp.diagnostics]
    assert codes, f"{path.name} is named _unsupported but checks clean"
    assert set(codes) == {"E0901"}, comp.render()


@pytest.mark.parametrize("name", APPS)
def test_app_is_a_real_program(name):
    path = EXAMPLES / f"{name}.adb"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert 60 <= len(lines) <= 200, f"{path.name} has {len(lines)} lines"
    # Each app is described in the examples index.
    assert f"{name}.adb" in (EXAMPLES / "README.md").read_text(encoding="utf-8")
