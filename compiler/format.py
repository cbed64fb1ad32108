"""The canonical layout of an Adama document (`advm fmt`), spec/syntax.md "Canonical form".

The formatter works on tokens, not on the tree: it splits the source into the
grammar's tokens *and its comments* (the parser skips comments, so the tree has
none), then lays the tokens out again. Only the white space between tokens
changes, never a token, so the formatted document means what the original did;
`format_source` checks that by lexing its own output and refuses (FormatError)
rather than return text whose tokens differ. Working on tokens also keeps the
formatter right for grammar it has never seen: a new construct is laid out by
the same brace, semicolon and operator rules.

Layout in brief (the full list is in spec/syntax.md):
- a block's `{` ends its line, its contents are indented by 2 spaces, its `}`
  stands on a line of its own (`} else {`, `} while (..);` and `};` stay joined);
- a `;` ends the line (except inside parentheses, as in `for (..; ..; ..)`);
- a line break the author wrote inside a statement is kept, and the next line
  is indented by the number of brackets still open (at least one level);
- at most one blank line in a row, none after a `{` or before a `}`;
- comments stay where they were relative to the tokens: a comment that ended a
  line still ends it, one on a line of its own stays on a line of its own at
  the indentation of the code around it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .parser import parse
from .source import Source

INDENT = "  "


class FormatError(Exception):
    """The source cannot be laid out safely (it does not lex, or the result would differ)."""


@dataclass(frozen=True)
class Tok:
    kind: str  # name, number, string, template, temporal, enumref, label, special, op, comment, linecomment
    text: str
    start: int  # offset in the source
    end: int


_SKIP_WS = re.compile(r"\s+")
_LINE_COMMENT = re.compile(r"//[^\n]*")
_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
# A template's text (`tag`...`tag`, language.md 4.26) is one token, kept as written.
_TEMPLATE = re.compile(r"`([A-Za-z0-9_]*)`.*?`\1`", re.S)
_TEMPORAL = re.compile(
    r'@(?:date\s+-?[0-9]+\s*/\s*[0-9]+\s*/\s*[0-9]+|time\s+[0-9]+\s*:\s*[0-9]+'
    r'|timespan\s+-?[0-9]+(?:\.[0-9]+)?\s*(?:sec|min|hr|day|week)|datetime\s+"[^"\\\n]*")(?![A-Za-z0-9_])')
_ENUM_REF = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\s*::\s*(?:\*|[A-Za-z_][A-Za-z0-9_]*\*?)")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"(?:0[xX][0-9a-fA-F]+|(?:[0-9]+(?:\.[0-9]+)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)[lL]?")
_NUMBER_TAIL = re.compile(r"[A-Za-z0-9_.]*")
_CLOCK = re.compile(r"[0-9]+:[0-9]+")
_WEB_PATH = re.compile(r"/[^\s(){}]*")
_LABEL = re.compile(r"#[A-Za-z_][A-Za-z0-9_]*")
_SPECIAL = re.compile(r"@[A-Za-z_][A-Za-z0-9_]*")
# Longest first: the grammar reads `<-` as ingestion and `->` as an arrow.
_OPS = ("<-", "->", "==", "!=", "<=", ">=", "&&", "||", "^^", "++", "--", "+=", "-=", "*=")


def tokenize(source: str) -> list[Tok]:
    """Every token and comment of `source`, in order. Raises FormatError on text no token matches."""
    toks: list[Tok] = []
    pos, n = 0, len(source)
    while pos < n:
        m = _SKIP_WS.match(source, pos)
        if m:
            pos = m.end()
            continue
        ch = source[pos]
        kind = None
        if source.startswith("//", pos):
            m, kind = _LINE_COMMENT.match(source, pos), "linecomment"
        elif source.startswith("/*", pos):
            m = _BLOCK_COMMENT.match(source, pos)
            if not m:
                raise FormatError(f"unterminated comment at offset {pos}")
            kind = "comment"
        elif ch == '"':
            m = _STRING.match(source, pos)
            if not m:
                raise FormatError(f"unterminated string at offset {pos}")
            kind = "string"
        elif ch == "`":
            m = _TEMPLATE.match(source, pos)
            if not m:
                raise FormatError(f"unterminated template at offset {pos}")
            kind = "template"
        elif ch == "@":
            m = _TEMPORAL.match(source, pos)
            kind = "temporal"
            if not m:
                m, kind = _SPECIAL.match(source, pos), "special"
        elif ch == "#" and _LABEL.match(source, pos):
            m, kind = _LABEL.match(source, pos), "label"
        elif ch == "/" and len(toks) >= 2 and toks[-2].text == "@web" and toks[-1].kind == "name":
            m, kind = _WEB_PATH.match(source, pos), "webpath"  # `@web get /a/$b:int`: one token, as written
        elif ch.isdigit() or (ch == "." and pos + 1 < n and source[pos + 1].isdigit()):
            if toks and toks[-1].text == "daily" and _CLOCK.match(source, pos):
                m = _CLOCK.match(source, pos)
            else:
                m = _NUMBER.match(source, pos)
                if m and _NUMBER_TAIL.match(source, m.end()).end() > m.end():
                    m = _NUMBER_TAIL.match(source, pos)  # 12ab, 1.2.3: one malformed number
            kind = "number"
        elif ch.isalpha() or ch == "_":
            m = _ENUM_REF.match(source, pos)
            kind = "enumref"
            if not m:
                m, kind = _NAME.match(source, pos), "name"
        if m is None or kind is None:
            op = next((o for o in _OPS if source.startswith(o, pos)), ch)
            toks.append(Tok("op", op, pos, pos + len(op)))
            pos += len(op)
            continue
        text = m.group()
        if kind == "enumref":
            text = re.sub(r"\s+", "", text)
        elif kind == "linecomment":
            text = text.rstrip()
        toks.append(Tok(kind, text, pos, m.end()))
        pos = m.end()
    return toks


# ------------------------------------------------------------------ classification

# Words after which an expression starts (so `-` is a sign and `{` an object).
_EXPR_WORDS = {"return", "case", "assert", "transition", "in", "where", "limit", "offset", "threshold",
               "map", "via", "order_dyn", "preempt", "else", "do", "@pump"}
_PAREN_KEYWORDS = {"if", "while", "for", "foreach", "switch"}
_VALUE_KINDS = {"name", "number", "string", "template", "temporal", "enumref", "label", "special", "webpath"}
_BINARY = {"==", "!=", "<=", ">=", "&&", "||", "^^", "+", "-", "*", "/", "%", "<", ">",
           "=", "+=", "-=", "*=", "<-", "->", "?"}
# Words that take type arguments without being type names.
_TYPE_OPENERS = {"@maybe", "@convert", "cached", "viewer_is", "use_policy", "bubble",
                 "channel", "replication", "session"}
_NO_SPACE_BEFORE_PAREN = {"@debug", "@maybe", "@convert", "@was", "@description"}


def _ends_value(tok: Tok | None) -> bool:
    if tok is None:
        return False
    if tok.kind in _VALUE_KINDS:
        return tok.text not in _EXPR_WORDS and tok.text not in _PAREN_KEYWORDS
    return tok.text in (")", "]", "}", "++", "--")


def _type_args_end(code: list[Tok], i: int) -> int | None:
    """When code[i] is `<` opening type arguments, the index of its `>`; else None."""
    prev = code[i - 1] if i else None
    if prev is None or prev.kind not in ("name", "special"):
        return None
    if prev.kind == "special" and prev.text not in _TYPE_OPENERS:
        return None
    depth = 0
    for j in range(i, min(len(code), i + 64)):
        t = code[j]
        if t.text == "<":
            depth += 1
        elif t.text == ">":
            depth -= 1
            if depth == 0:
                return j
        elif t.kind in ("name", "number") or t.text in (",", "[", "]", "|"):
            continue
        elif t.text == ":" and prev.text == "replication":  # replication<svc:method>
            continue
        else:
            return None
    return None


@dataclass
class _Frame:
    kind: str  # block, switch, do, object, paren, bracket, angle
    level: int  # indentation level of the line that opened it
    questions: int = 0  # `?` waiting for their `:`
    in_case: bool = False


def format_source(source: str) -> str:
    """The canonical form of `source` (spec/syntax.md). Raises FormatError when it cannot be
    laid out: a document with syntax errors is left alone, since where a broken declaration
    ends depends on its layout (the parser resynchronises at a line starting in column 1)."""

    program, diagnostics = parse(Source(source))
    if program is None:
        first = diagnostics[0] if diagnostics else None
        where = f" ({first.code}: {first.message})" if first else ""
        raise FormatError(f"it has syntax errors{where}; `advm check` shows them")
    toks = tokenize(source)
    out = _layout(source, toks)
    before = [t.text for t in toks]
    after = [t.text for t in tokenize(out)]
    if before != after:
        raise FormatError("formatting would change the document's tokens; left as it is")
    return out


def _newlines_between(source: str, a: Tok | None, b: Tok) -> int:
    return source.count("\n", a.end if a else 0, b.start)


def _layout(source: str, toks: list[Tok]) -> str:
    code = [t for t in toks if t.kind not in ("comment", "linecomment")]
    code_index = {id(t): k for k, t in enumerate(code)}
    angle_close: set[int] = set()  # indexes in `code` of `>` closing type arguments
    angle_open: set[int] = set()
    for k, t in enumerate(code):
        if t.text == "<" and k not in angle_close:
            end = _type_args_end(code, k)
            if end is not None:
                angle_open.add(k)
                angle_close.add(end)

    lines: list[str] = []
    cur: list[str] = []  # pieces of the line being built
    cur_level = 0
    stack: list[_Frame] = [_Frame("block", -1)]  # the document itself
    prev: Tok | None = None  # previous token (code or comment)
    prev_code: Tok | None = None
    paren_owner: list[Tok | None] = []  # the token before each open `(`
    last_closed_owner: Tok | None = None
    force_break = False  # the next token starts a new line
    no_break = False  # the next token must stay on this line
    after_case = False  # the last code token was the `:` of a case label

    def block_level() -> int:
        for f in reversed(stack):
            if f.kind in ("block", "do"):
                return f.level + 1
            if f.kind == "switch":
                return f.level + (2 if f.in_case else 1)
        return 0

    def flush() -> None:
        nonlocal cur
        if cur:
            lines.append(INDENT * cur_level + "".join(cur).rstrip())
        cur = []

    def start_line(level: int, blank: bool) -> None:
        nonlocal cur_level
        flush()
        if blank and lines and not lines[-1].rstrip().endswith("{") and lines[-1] != "":
            lines.append("")
        cur_level = level

    for t in toks:
        nl = _newlines_between(source, prev, t)
        k = code_index.get(id(t))
        text = t.text
        is_comment = k is None

        # Where does this token go: a new line or this one?
        closing_block = (not is_comment and text == "}" and len(stack) > 1
                         and stack[-1].kind in ("block", "do", "switch"))
        if prev is None:
            new_line = False
        elif is_comment:
            new_line = force_break or (nl > 0 and not no_break) or (nl > 0 and t.kind == "linecomment")
            if nl == 0:
                new_line = False
        elif closing_block:
            new_line = not (prev_code is not None and prev_code.text == "{" and prev is prev_code)
        elif force_break and not (after_case and text == "{"):
            new_line = True  # (a block right after `case X:` opens on the case's line)
        elif no_break:
            new_line = False
        elif text in (";", ",") or (text == "{" and not _opens_object(prev_code, stack, code, k)):
            new_line = False
        else:
            new_line = nl > 0
        if prev is not None and prev.kind == "linecomment":
            new_line = True

        # Frames change before a closing token is placed, so it lines up with its opener.
        frame_closed: _Frame | None = None
        if not is_comment and text in ("}", ")", "]") or (k is not None and k in angle_close):
            if len(stack) > 1:
                frame_closed = stack.pop()
            if text == ")":
                last_closed_owner = paren_owner.pop() if paren_owner else None

        if new_line:
            if frame_closed is not None:
                level = frame_closed.level
            elif not is_comment and text in ("case", "default") and stack[-1].kind == "switch":
                level = stack[-1].level + 1
            elif stack[-1].kind not in ("block", "do", "switch"):
                level = stack[-1].level + 1  # inside brackets: one level past the line that opened them
            else:
                level = block_level() + (0 if _at_statement_start(prev_code, prev, stack, last_closed_owner) else 1)
            start_line(level, nl >= 2 and not closing_block)
        elif cur and _space_between(prev, t, prev_code, code, k, angle_open, angle_close, stack, nl,
                                        frame_closed is not None and frame_closed.kind == "enum"):
            cur.append(" ")
        if not new_line and prev is None:
            cur_level = 0
        cur.append(text)

        if is_comment:
            # A comment that began a line took the break the code after it was owed;
            # one that trails the code passes it on.
            if new_line:
                force_break = no_break = False
            if t.kind == "linecomment":
                force_break = True
            prev = t
            continue
        force_break = no_break = after_case = False

        # Frames open after the token is placed.
        if text == "{":
            if _opens_object(prev_code, stack, code, k):
                stack.append(_Frame("object", cur_level))
            elif k is not None and k >= 2 and code[k - 2].text == "enum":
                stack.append(_Frame("enum", cur_level))
            else:
                owner = last_closed_owner if prev_code is not None and prev_code.text == ")" else None
                if owner is not None and owner.text == "switch":
                    kind = "switch"
                elif prev_code is not None and prev_code.text == "do":
                    kind = "do"
                else:
                    kind = "block"
                stack.append(_Frame(kind, cur_level))
                force_break = True
        elif text == "(":
            paren_owner.append(prev_code)
            stack.append(_Frame("paren", cur_level))
        elif text == "[":
            stack.append(_Frame("bracket", cur_level))
        elif k in angle_open:
            stack.append(_Frame("angle", cur_level))
        elif text == "?":
            if stack:
                stack[-1].questions += 1
        elif text == ":":
            if stack and stack[-1].questions:
                stack[-1].questions -= 1
            elif stack and stack[-1].kind == "switch":
                stack[-1].in_case = True
                force_break = after_case = True
                prev = prev_code = t
                continue
        elif text == ";" or t.kind == "template":  # a template's text ends its declaration
            if not stack or stack[-1].kind in ("block", "do", "switch"):
                force_break = True
        elif text == "}" and frame_closed is not None and frame_closed.kind in ("block", "do", "switch"):
            nxt = code[k + 1] if k + 1 < len(code) else None
            if nxt is not None and (nxt.text in (";", ",", ")", "else")
                                    or (nxt.text == "while" and frame_closed.kind == "do")):
                no_break = True
            else:
                force_break = True
        prev = t
        prev_code = t
    flush()
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n" if lines else ""


def _at_statement_start(prev_code: Tok | None, prev: Tok | None, stack: list[_Frame],
                        closed_owner: Tok | None = None) -> bool:
    """True when the next token begins a statement or declaration (no continuation indent)."""
    if prev_code is None:
        return True
    if prev_code.text == ")" and closed_owner is not None and closed_owner.text == "@description":
        return True  # a tool after its `@description("...")` (language.md 4.31)
    if prev_code.text in (";", "{", "}") or prev_code.kind == "template":
        return True
    if prev_code.text == ":" and stack and stack[-1].kind == "switch":
        return True
    return False


def _opens_object(prev_code: Tok | None, stack: list[_Frame], code: list[Tok], k: int | None) -> bool:
    """Is the `{` at code[k] an anonymous object (rather than a block)?"""
    if prev_code is None:
        return False
    p = prev_code.text
    if stack and stack[-1].kind in ("object", "paren", "bracket"):
        return True
    if p == ":":
        return not (stack and stack[-1].kind == "switch" and not stack[-1].questions)
    if prev_code.kind == "op":
        return p in _BINARY or p in ("(", "[", ",", "!")
    return p in _EXPR_WORDS - {"else", "do"}


def _space_between(a: Tok | None, b: Tok, prev_code: Tok | None, code: list[Tok], k: int | None,
                   angle_open: set[int], angle_close: set[int], stack: list[_Frame], nl: int, closed_enum: bool = False) -> bool:
    if a is None:
        return False
    if a.kind in ("comment", "linecomment") or b.kind in ("comment", "linecomment"):
        return not (a.text in ("(", "[") and b.kind == "comment")
    x, y = a.text, b.text
    ka = k - 1 if k is not None else None
    a_angle_open = ka is not None and ka in angle_open and code[ka] is a
    a_angle_close = ka is not None and ka in angle_close and code[ka] is a
    b_angle_open = k is not None and k in angle_open
    b_angle_close = k is not None and k in angle_close
    if b_angle_open or b_angle_close or a_angle_open:
        return False
    if a_angle_close:
        return y not in ("(", ")", ",", ">", "[", ";", "]") and not (k is not None and k in angle_close)
    if y in (",", ";", ")", "]", "."):
        return False
    if x in ("(", "[", ".", "!"):
        return False
    if y == "[":
        return not _ends_value(a)
    if y == "(":
        if x in _PAREN_KEYWORDS or x in _EXPR_WORDS or a.kind == "webpath":
            return True
        if a.kind == "special":
            return x not in _NO_SPACE_BEFORE_PAREN
        return not _ends_value(a)
    if y in ("++", "--"):
        if _ends_value(a):
            return False  # postfix
        return x not in ("(", "[")
    if x in ("++", "--"):
        # prefix when what came before it did not end a value
        before = code[ka - 1] if ka is not None and ka > 0 else None
        if not _ends_value(before):
            return False
    if x in ("-", "+") and not _ends_value(code[ka - 1] if ka is not None and ka > 0 else None):
        return False  # a sign
    if stack and stack[-1].kind == "angle" and ":" in (x, y):  # replication<svc:method>
        return False
    if y == ":":
        return bool(stack and stack[-1].questions)
    if x == "{" or y == "}":
        # {x: 1} and {} but enum E { A, B }
        enum = (x == "{" and stack[-1].kind == "enum") or (y == "}" and closed_enum)
        return enum and not (x == "{" and y == "}")
    return True


def is_formatted(source: str) -> bool:
    return format_source(source) == source
