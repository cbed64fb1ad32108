"""The conformance suite: every spec/cases/**/*.adb compiles as it says.

Each expected diagnostic is one comment line in the case file:

    // expect error E0203 at 3:7

(code, then the 1-based line:col where the diagnostic's span starts). The
multiset of (code, line, col) the compiler reports must equal the expected
one exactly; a file without expect lines must compile with no diagnostics.
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from advm.compiler import compile_source
from advm.compiler.diagnostics import CODES

ROOT = Path(__file__).resolve().parents[2]
CASES = ROOT / "spec" / "cases"
FILES = sorted(CASES.rglob("*.adb"))
EXPECT = re.compile(r"//\s*expect\s+error\s+(E\d{4})\s+at\s+(\d+):(\d+)\s*$")
MENTION = re.compile(r"//\s*expect\b")


def expectations(text: str) -> list[tuple[str, int, int]]:
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not MENTION.search(line):
            continue
        m = EXPECT.search(line)
        # A typo in an expect line would silently turn a negative case into a
        # positive one; refuse it instead.
        assert m, f"line {n}: malformed expect comment {line.strip()!r}"
        code = m.group(1)
        assert code in CODES, f"line {n}: {code} is not a diagnostic code"
        out.append((code, int(m.group(2)), int(m.group(3))))
    return out


def _id(path: Path) -> str:
    return str(path.relative_to(CASES))


def test_suite_is_substantial():
    negative = [p for p in FILES if expectations(p.read_text(encoding="utf-8"))]
    assert len(FILES) - len(negative) >= 20, "expected a positive case per construct"
    assert len(negative) >= 80


def test_expect_parser_reads_the_format():
    text = "int x;\n// expect error E0203 at 3:7\n  //expect error E0301 at 10:1\n"
    assert expectations(text) == [("E0203", 3, 7), ("E0301", 10, 1)]
    with pytest.raises(AssertionError):
        expectations("// expect eror E0203 at 3:7\n")


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_case(path: Path):
    text = path.read_text(encoding="utf-8")
    want = Counter(expectations(text))
    comp = compile_source(text, str(path.relative_to(ROOT)))
    got = Counter()
    for d in comp.diagnostics:
        line, col = comp.source.line_col(d.span.start)
        got[(d.code, line, col)] += 1
    assert got == want, (
        f"\nmissing: {sorted((want - got).elements())}\nunexpected: {sorted((got - want).elements())}\n"
        + comp.render()
    )
    # The CLI's exit status follows from this: clean files are ok, others are not.
    assert comp.ok == (not want)


RUNNABLE = [p for p in FILES if not expectations(p.read_text(encoding="utf-8"))
            and re.search(r"^test\s+\w+\s*\{", p.read_text(encoding="utf-8"), re.M)]


@pytest.mark.parametrize("path", RUNNABLE, ids=_id)
def test_case_runs(path: Path):
    """A positive case with `test` blocks runs them as `advm test` does: every
    test commits, and every test asserts something."""
    from advm.commands.program import load
    from advm.commands.runtests import in_order, run_one

    program = load(str(path))
    tests = in_order(program)
    assert tests, "the case declares tests"
    for name, fn in tests:
        o = run_one(program, name, fn)
        assert o.ok, f"{name}: {o.kind} {o.message} at {o.position}"
        assert o.asserts > 0, f"{name} asserts nothing"


SESSIONS = sorted(CASES.rglob("*.session.jsonl"))


@pytest.mark.parametrize("path", SESSIONS, ids=_id)
def test_case_session(path: Path):
    """A positive case whose behaviour needs clients (channels, views) runs a
    scripted session (spec/sessions.md) beside it: `NAME.adb` and
    `NAME.session.jsonl`. A line `{"expect": FRAME}` asserts that the input
    before it produced FRAME; `{"expect_not": FRAME}` that it did not."""
    import json

    from advm.session import Session

    adb = path.with_name(path.name[: -len(".session.jsonl")] + ".adb")
    session = Session.compile(adb.read_text(encoding="utf-8"), str(adb.relative_to(ROOT)))
    frames: list = []
    checked = 0
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        item = json.loads(line) if line.strip() else None
        if isinstance(item, dict) and "expect" in item:
            assert item["expect"] in frames, f"line {n}: {item['expect']} not in {frames}"
            checked += 1
        elif isinstance(item, dict) and "expect_not" in item:
            assert item["expect_not"] not in frames, f"line {n}: {item['expect_not']} in {frames}"
            checked += 1
        else:
            frames = session.feed(line, n)
    assert checked, "the session expects something"
