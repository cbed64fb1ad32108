"""editors/adama.tmLanguage.json: valid JSON, patterns that compile, every keyword of the grammar covered."""
from __future__ import annotations

import json
import re
from pathlib import Path

import regex  # closer to Oniguruma than `re` (possessive, atomic groups, \h ...)

ROOT = Path(__file__).resolve().parents[2]
GRAMMAR = ROOT / "editors" / "adama.tmLanguage.json"
PEG = ROOT / "spec" / "grammar.peg"
SKIP = r"(?>(?:\s+|//[^\n]*|/\*(?s:.*?)\*/)*)"
# The token rules that spell words: keywords, and the words a few rules share.
WORD_RULE = re.compile(r"^(K_\w+|AT_\w+|FN_KIND|HANDLER|LET|PUBLIC|PRIVATE|READONLY|SHUFFLE|MATERIALIZE"
                       r"|DIRECTION|ORDER_MOD|FIELD_FLAG|UNIQUE_MODE|CACHE_UNIT|BOOL)\s*=\s*~r\"(.*)\"$")


def _words(pattern: str) -> set[str]:
    """Every word a keyword pattern matches (they are finite languages)."""
    from re import _parser as sre  # the stdlib's own regex parser

    def expand(items) -> set[str]:
        out = {""}
        for op, av in items:
            name = str(op)
            if name == "LITERAL":
                alts = {chr(av)}
            elif name == "SUBPATTERN":
                alts = expand(av[-1])
            elif name == "BRANCH":
                alts = set().union(*(expand(b) for b in av[1]))
            elif name in ("MAX_REPEAT", "MIN_REPEAT") and av[0] == 0 and av[1] == 1:
                alts = {""} | expand(av[2])
            elif name in ("AT", "ASSERT_NOT", "ASSERT"):
                alts = {""}
            else:
                raise AssertionError(f"not a finite keyword pattern: {pattern} ({name})")
            out = {a + b for a in out for b in alts}
        return out

    return expand(sre.parse(pattern))


def grammar_keywords() -> set[str]:
    words = set()
    for line in PEG.read_text().splitlines():
        m = WORD_RULE.match(line.strip())
        if m:
            assert m.group(2).startswith(SKIP), line
            words |= _words(m.group(2)[len(SKIP):])
    from advm.compiler.parser import RESERVED
    return words | set(RESERVED)


def patterns(node):
    """Every (scope, pattern) of the grammar, with captures named by their scope."""
    if isinstance(node, dict):
        for key in ("match", "begin", "end"):
            if key in node:
                scope = node.get("name") or " ".join(
                    c.get("name", "") for c in node.get("captures", {}).values())
                yield scope, node[key]
        for value in node.values():
            yield from patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from patterns(value)


def test_grammar_is_json_with_the_essentials():
    g = json.loads(GRAMMAR.read_text())
    assert g["scopeName"] == "source.adama" and "adb" in g["fileTypes"]
    for item in g["patterns"]:
        assert item["include"][1:] in g["repository"]


def test_every_pattern_compiles():
    found = list(patterns(json.loads(GRAMMAR.read_text())))
    assert len(found) > 20
    for scope, pattern in found:
        regex.compile(pattern)


def test_every_keyword_of_the_grammar_is_highlighted():
    keywords = grammar_keywords()
    assert {"record", "channel", "@construct", "iterate", "where_as", "transition", "cached",
            "seconds", "second", "synchronized"} <= keywords
    rules = [(scope, regex.compile(p)) for scope, p in patterns(json.loads(GRAMMAR.read_text()))
             if any(scope.startswith(s) for s in ("keyword", "storage", "support.type", "constant.language",
                                                  "variable.language"))]
    missing = [w for w in sorted(keywords)
               if not any((m := r.search(w)) and m.group(0) == w for _, r in rules)]
    assert missing == []


def test_comments_and_strings_highlight_as_such():
    g = json.loads(GRAMMAR.read_text())["repository"]
    line = regex.compile(g["comments"]["patterns"][0]["match"])
    assert line.search("int x; // in 60").group(0) == "// in 60"
    esc = regex.compile(g["strings"]["patterns"][0]["patterns"][0]["match"])
    assert esc.fullmatch(r"\u00e9") and esc.fullmatch(r"\n") and not esc.fullmatch(r"\q")
