"""Lexical facts the grammar cannot report well on its own.

A PEG parser fails *somewhere* when a comment or string never ends; it cannot
say why. So before parsing, one linear scan finds unterminated `/*` comments
and strings (E0102, E0103), reports them at their opening character, and
blanks them out (same length, so every offset stays valid) so that parsing can
go on and find the other errors in the file.

This module also decodes literals: string escapes and numbers.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .diagnostics import Diagnostic, error
from .source import Span

# The same skip pattern every token regex in spec/grammar.peg starts with.
SKIP = re.compile(r"(?>(?:\s+|//[^\n]*|/\*(?s:.*?)\*/)*)")

# One pass over the text: each match is a string, a comment, or a run of
# anything else. Strings end at the end of their line.
_SCAN = re.compile(
    r'(?P<str>"(?:[^"\\\n]|\\.)*(?P<close>")?)'
    r"|(?P<line>//[^\n]*)"
    r"|(?P<block>/\*(?s:.*?)(?P<bclose>\*/|\Z))"
    r'|[^"/]+|/'
)


def skip(text: str, pos: int) -> int:
    """The offset of the first character at or after `pos` that is not
    whitespace or part of a comment."""
    return SKIP.match(text, pos).end()


@dataclass
class Prescan:
    text: str  # the text to parse: unterminated pieces blanked out
    diagnostics: list[Diagnostic]
    # Regions whose damage already has a diagnostic: a syntax error that
    # starts inside one is a consequence, not news.
    damaged: list[tuple[int, int]]

    def is_damaged(self, pos: int) -> bool:
        return any(start <= pos <= end for start, end in self.damaged)


def prescan(text: str) -> Prescan:
    diags: list[Diagnostic] = []
    damaged: list[tuple[int, int]] = []
    pieces: list[str] = []
    last = 0
    for m in _SCAN.finditer(text):
        if m.group("str") is not None and m.group("close") is None:
            start, end = m.span()
            diags.append(
                error(
                    "E0103",
                    "unterminated string: a string must end with '\"' on the same line",
                    Span(start, max(end, start + 1)),
                    hint='close the string with \'"\'; write \\n for a line break inside it',
                )
            )
            pieces.append(text[last:start])
            # Keep a well-formed (empty-looking) string where possible so the
            # statement around it still parses.
            n = end - start
            pieces.append('"' + " " * (n - 2) + '"' if n >= 2 else " ")
            last = end
            damaged.append((start, end + 1))
        elif m.group("block") is not None and not m.group("bclose"):
            start = m.start()
            diags.append(
                error(
                    "E0102",
                    "unterminated comment: '/*' has no matching '*/'",
                    Span(start, start + 2),
                    hint="close the comment with '*/'",
                )
            )
            pieces.append(text[last:start])
            pieces.append(re.sub(r"[^\n]", " ", text[start:]))
            last = len(text)
            damaged.append((start, len(text)))
            break
    pieces.append(text[last:])
    return Prescan("".join(pieces), diags, damaged)


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", '"': '"', "\\": "\\", "/": "/", "'": "'",
            "0": "\0"}
# A \uXXXX escape is one UTF-16 code unit, so a character past U+FFFF is
# written as a pair (\ud83d\ude00); the pair is one character. Half of a pair
# alone is no character at all (UTF-8, hence the module file, cannot hold it).
_ESCAPE = re.compile(r"\\(u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.)")


def decode_string(body: str) -> tuple[str, list[tuple[int, str]]]:
    """Decode the escapes of a string literal's body (quotes removed).

    Returns the value and the (offset-in-body, escape) of every escape it does
    not know, or that is half of a surrogate pair alone, so the caller can
    point at them.
    """
    bad: list[tuple[int, str]] = []

    def one(m: re.Match) -> str:
        esc = m.group(1)
        if esc in _ESCAPES:
            return _ESCAPES[esc]
        if esc[0] == "u" and len(esc) == 11:
            high, low = int(esc[1:5], 16), int(esc[7:], 16)
            return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
        if esc[0] == "u" and len(esc) == 5 and not 0xD800 <= int(esc[1:], 16) <= 0xDFFF:
            return chr(int(esc[1:], 16))
        bad.append((m.start(), m.group(0)))
        return esc

    if "\\" not in body:
        return body, bad
    return _ESCAPE.sub(one, body), bad


def decode_number(lexeme: str) -> tuple[int | float | None, bool]:
    """(value, is_long) of a NUMBER token; value None when the lexeme is not a
    valid number (a long suffix on a double)."""
    is_long = lexeme[-1] in "lL"
    digits = lexeme[:-1] if is_long else lexeme
    if digits[:2] in ("0x", "0X"):
        return int(digits, 16), is_long
    if any(c in digits for c in ".eE"):
        if is_long:
            return None, True
        return float(digits), False
    return int(digits), is_long


# A number-looking run of characters: what a person would call "the number"
# when the grammar rejected it.
NUMBERISH = re.compile(r"[0-9][0-9A-Za-z_.]*")
