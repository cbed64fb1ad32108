"""Every ```adama block of spec/language.md compiles as the spec says.

The language reference is a contract only if its examples are true. A block
compiles with zero diagnostics unless the line before it is an HTML comment
`<!-- expect error E0301 E0302 -->`; then exactly those codes (as a multiset)
must come out. Each block is compiled with blank lines in front of it, so a
failure's diagnostics point at the line of spec/language.md itself.
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from advm.compiler import compile_source
from advm.compiler.diagnostics import CODES

SPEC = Path(__file__).resolve().parents[2] / "spec" / "language.md"
FENCE = re.compile(r"^```adama\s*\n(.*?)^```\s*$", re.M | re.S)
EXPECT = re.compile(r"^<!--\s*expect error((?:\s+E\d{4})+)\s*-->\s*$")


def _blocks(text: str) -> list[tuple[int, str, list[str]]]:
    """(first code line, code, expected codes) of every adama block."""
    out = []
    for m in FENCE.finditer(text):
        first_line = text.count("\n", 0, m.start(1)) + 1
        before = text[: m.start()].rstrip("\n").rsplit("\n", 1)[-1]
        e = EXPECT.match(before)
        out.append((first_line, m.group(1), e.group(1).split() if e else []))
    return out


TEXT = SPEC.read_text(encoding="utf-8")
BLOCKS = _blocks(TEXT)


def test_spec_has_examples():
    # A regex that silently matched nothing would make every other test vacuous.
    assert len(BLOCKS) >= 100
    assert sum(1 for _, _, codes in BLOCKS if codes) >= 40


def test_every_expect_comment_precedes_a_block():
    lines = TEXT.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("<!-- expect"):
            assert EXPECT.match(line), f"language.md:{i + 1}: malformed expect comment {line!r}"
            assert lines[i + 1].startswith("```adama"), f"language.md:{i + 1}: expect comment not followed by a block"
            for code in EXPECT.match(line).group(1).split():
                assert code in CODES, f"language.md:{i + 1}: {code} is not a diagnostic code"


@pytest.mark.parametrize("line,code,expected", BLOCKS, ids=[f"language.md:{b[0]}" for b in BLOCKS])
def test_block(line, code, expected):
    comp = compile_source("\n" * (line - 1) + code, "spec/language.md")
    got = [d.code for d in comp.diagnostics]
    assert Counter(got) == Counter(expected), (
        f"expected {sorted(expected) or 'no diagnostics'}, got {sorted(got) or 'none'}\n\n" + comp.render()
    )


def test_library_overview_matches_the_table():
    """Section 9 names every function of every library namespace, and nothing else."""
    from advm.compiler import library

    section = TEXT[TEXT.index("## 9. Standard library"): TEXT.index("## 10. Not supported yet")]
    listed: dict[str, set[str]] = {}
    for row in re.finditer(r"^\| `(\w+)` \| (.*?) \|", section, re.M):
        if row.group(1) in library.NAMESPACES:
            words = " ".join(re.findall(r"`([^`]*)`", row.group(2))).split()
            listed[row.group(1)] = set(words)
    for ns in library.NAMESPACES:
        own = {e.name for e in library.ENTRIES if e.owner == ns}  # not the methods seen through it
        assert listed.get(ns) == own, f"section 9 is out of date for {ns}"
