"""Turning a failed PEG parse into a message a person can act on, and
finding where to start again.

parsimonious remembers only the *last* rule that failed at the farthest
position. `Farthest` remembers *all* of them, so the message can say what
every alternative wanted there ("expected ')' or ','"), phrased in words from
`PHRASES` rather than rule names.
"""
from __future__ import annotations

import re

from parsimonious.exceptions import ParseError
from parsimonious.expressions import Lookahead, OneOf, Quantifier, Sequence

from .diagnostics import Diagnostic, error
from .lexical import NUMBERISH, skip
from .source import Span


class Farthest(ParseError):
    """A ParseError that collects the names of every rule that failed at the
    farthest position reached. parsimonious sets `.expr` then `.pos` on each
    failure it records, so the `pos` setter sees both."""

    def __init__(self, text: str):
        self._pos = -1
        self._pending = None
        self.names: set[str] = set()
        super().__init__(text)

    @property
    def expr(self):
        return self._pending

    @expr.setter
    def expr(self, value):
        self._pending = value

    @property
    def pos(self) -> int:
        return self._pos

    @pos.setter
    def pos(self, value: int) -> None:
        name = getattr(self._pending, "name", "")
        if value > self._pos:
            self._pos = value
            self.names = {name} if name else set()
        elif value == self._pos and name:
            self.names.add(name)


# Rule name -> phrase, in the order they are said (at most three are).
# Rules that only *continue* something already complete (operators, call
# parentheses, `.field`, `<` of type arguments) are absent: they are always
# possible after an expression or type and would drown the useful phrase.
_PHRASES = {
    "END_STMT": "';' after the statement",
    "END_FIELD": "';' after the declaration",
    "SEMI": "';'",
    "RPAREN": "')'",
    "RBRACKET": "']'",
    "RBRACE": "'}'",
    "LBRACE": "'{'",
    "LPAREN": "'('",
    "COMMA": "','",
    "COLON": "':'",
    "ASSIGN": "'='",
    "TYPE_OPEN": "'<'",
    "TYPE_CLOSE": "'>'",
    "K_WHILE": "'while'",
    "K_IN": "'in'",
    "K_BY": "'by'",
    "STATE_LABEL": "a state label like #name",
    "CLOCK": "a time of day like 2:30",
    "UINT": "a whole number",
    "SIGNED_INT": "a whole number",
    "cron_schedule": "a schedule ('daily H:MM', 'hourly M' or 'monthly D')",
    "CACHE_UNIT": "a unit of time (seconds, minutes or hours)",
    "K_ONCE": "'once' or 'every N minutes'",
    "type": "a type",
    "NAME": "a name",
    "expr": "an expression",
    "ternary": "an expression",
    "statement": "a statement",
    "record_member": "a field, method, policy or formula",
    "field_decl": "a field",
    "static_item": "a static property or policy",
    "case_clause": "'case' or 'default'",
    "decl": "a declaration",
}
PHRASES = {name: (rank, phrase) for rank, (name, phrase) in enumerate(_PHRASES.items())}

# Rules whose phrase replaces those of the tokens that can start them: at the
# start of a statement, "expected a statement" says more than "'{' or 'while'".
_UMBRELLAS = ("decl", "record_member", "field_decl", "static_item", "statement", "expr", "ternary", "type", "case_clause")


def _first(expr, memo: dict, busy: set) -> tuple[frozenset[str], bool]:
    """(names of the tokens that can start `expr`, whether it can match empty)."""
    key = id(expr)
    if key in memo:
        return memo[key]
    if key in busy:  # recursion through a rule already being computed
        return frozenset(), False
    busy.add(key)
    if isinstance(expr, Sequence):
        names: set[str] = set()
        nullable = True
        for m in expr.members:
            f, n = _first(m, memo, busy)
            names |= f
            if not n:
                nullable = False
                break
        result = (frozenset(names), nullable)
    elif isinstance(expr, OneOf):
        parts = [_first(m, memo, busy) for m in expr.members]
        result = (frozenset().union(*(f for f, _ in parts)), any(n for _, n in parts))
    elif isinstance(expr, Quantifier):
        f, n = _first(expr.members[0], memo, busy)
        result = (f, n or expr.min == 0)
    elif isinstance(expr, Lookahead):
        result = (frozenset(), True)
    else:  # a token
        result = (frozenset([expr.name]) if expr.name else frozenset(), False)
    busy.discard(key)
    memo[key] = result
    return result


_STARTERS: dict[int, dict[str, frozenset[str]]] = {}


def starters(grammar) -> dict[str, frozenset[str]]:
    """For each umbrella rule, every rule name that can begin it."""
    cached = _STARTERS.get(id(grammar))
    if cached is None:
        memo: dict = {}
        cached = {}
        for name in _UMBRELLAS:
            tokens = set(_first(grammar[name], memo, set())[0])
            # Sub-rules that start at the same place are starters too.
            tokens |= {n for n in _UMBRELLAS if n != name and _first(grammar[n], memo, set())[0] <= tokens}
            cached[name] = frozenset(tokens)
        _STARTERS[id(grammar)] = cached
    return cached


_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9][0-9A-Za-z_.]*|\"[^\"\n]*\"?|\S")


def describe_found(text: str, pos: int) -> tuple[str, int]:
    """How to name what sits at `pos`, and how many characters it spans."""
    if pos >= len(text):
        return "end of file", 0
    tok = _TOKEN.match(text, pos).group(0)
    shown = tok if len(tok) <= 20 else tok[:20] + "..."
    return f"'{shown}'", len(tok)


_TEMPORAL_BEFORE = re.compile(r"@(date|time|timespan|datetime)\s*$")
_TEMPORAL_FORMS = {
    "date": "write @date YEAR/MONTH/DAY, e.g. @date 2024/1/31",
    "time": "write @time HOUR:MINUTE, e.g. @time 13:30",
    "timespan": "write @timespan AMOUNT UNIT with a unit of sec, min, hr, day or week, e.g. @timespan 5 min",
    "datetime": 'write @datetime "ISO-8601", e.g. @datetime "2024-01-31T13:30:00Z"',
}


def syntax_error(text: str, far: Farthest, grammar, reserved: frozenset[str]) -> Diagnostic:
    """The one diagnostic for a declaration that failed to parse."""
    at = skip(text, max(far.pos, 0))
    word = re.match(r"[A-Za-z_][A-Za-z0-9_]*", text[at:at + 40])
    names = far.names
    if word and word.group(0) in reserved and "NAME" in names:
        w = word.group(0)
        return error(
            "E0105",
            f"'{w}' is a reserved word and cannot be used as a name",
            Span(at, at + len(w)),
            hint=f"rename it, for example '{w}_' or 'my_{w}'",
        )
    num = NUMBERISH.match(text, at)
    if num and grammar["NUMBER"].re.match(text, at) is None:
        lexeme = num.group(0)
        return error(
            "E0104",
            f"malformed number '{lexeme}'",
            Span(at, at + len(lexeme)),
            hint="numbers look like 42, 42L (long), 0x2A, 3.14 or 1.5e3",
        )
    before = _TEMPORAL_BEFORE.search(text[max(0, at - 12):at])
    if before:
        kind = before.group(1)
        end = re.match(r"[^;\n]*", text[at:]).end()
        return error("E0101", f"malformed @{kind} literal", Span(at - len(before.group(0)), at + max(end, 1)),
                     hint=_TEMPORAL_FORMS[kind])
    covered: set[str] = set()
    for umbrella, first in starters(grammar).items():
        if umbrella in names:
            covered |= first
    said = sorted({PHRASES[n] for n in names if n in PHRASES and n not in covered})
    phrases = []
    for _, p in said:
        if p not in phrases:
            phrases.append(p)
    found, width = describe_found(text, at)
    if phrases:
        wanted = phrases[:3]
        what = wanted[0] if len(wanted) == 1 else ", ".join(wanted[:-1]) + " or " + wanted[-1]
        message = f"expected {what}, found {found}"
    else:
        message = f"unexpected {found}"
    span = Span(at, at + width)
    if phrases and phrases[0].startswith("';'") and "\n" in text[max(far.pos, 0):at]:
        # A missing ';' belongs to the line that lacks it, not to whatever
        # starts the next line (rustc and ruff point there too).
        end = max(far.pos, 0)
        while end > 0 and text[end - 1].isspace():
            end -= 1
        span = Span(end, end)
    return error("E0101", message, span, hint=_hint(phrases, found))


def _hint(phrases: list[str], found: str) -> str | None:
    if phrases and phrases[0].startswith("';'"):
        return "end the statement or declaration with ';'"
    if found == "end of file" and "'}'" in phrases:
        return "a '{' earlier in the file has no matching '}'"
    return None


def too_deep(pos: int) -> Diagnostic:
    return error(
        "E0101",
        "this declaration is nested too deeply to parse",
        Span(pos, pos + 1),
        hint="split deeply nested expressions or blocks into functions or local variables",
    )


# A line that starts (in column 1) with something only a top-level
# declaration starts with.
_DECL_START = re.compile(
    r"^(?:record|message|enum|channel|function|procedure|test|service|agent|replication|dispatch|rpc|metric)\b"
    r"|^#[A-Za-z_]"
    r"|^@(?:construct|load|connected|disconnected|delete|cron|static|asset|can_attach|web)\b",
    re.M,
)
_BRACES = re.compile(
    r'"(?:[^"\\\n]|\\.)*"?|//[^\n]*|/\*(?s:.*?)(?:\*/|\Z)|[{};]'
)


def resync(text: str, start: int, failed_at: int) -> int:
    """Where to resume after a declaration starting at `start` failed at
    `failed_at`: just after the `}` or `;` that closes that declaration (brace
    depth back to zero), or at the next line that plainly starts a new
    declaration, whichever comes first. Always beyond `start`."""
    depth = 0
    end = len(text)
    for m in _BRACES.finditer(text, start):
        tok = m.group(0)
        if tok == "{":
            depth += 1
        elif tok == "}":
            depth -= 1
            if depth <= 0 and m.start() >= failed_at:
                end = m.end()
                break
            depth = max(depth, 0)
        elif tok == ";" and depth <= 0 and m.start() >= failed_at:
            end = m.end()
            break
    nxt = _DECL_START.search(text, max(failed_at, start + 1))
    if nxt and nxt.start() < end:
        end = nxt.start()
    return max(end, start + 1)
