"""Adama source -> AST with spans.

The grammar is spec/grammar.peg (loaded once, at import). `parse` never
raises: lexical damage (unterminated comments and strings) is found by a
prescan, each top-level declaration is parsed on its own so that one broken
declaration yields one diagnostic and the rest of the file is still checked,
and a declaration nested too deeply for Python's stack is reported, not
crashed on. When any diagnostic is produced the program is not returned: the
checker only ever sees a tree that parsed cleanly.
"""
from __future__ import annotations

import copy
import re
import sys
from collections import defaultdict
from contextlib import contextmanager
from importlib import resources
from typing import NamedTuple

from parsimonious.exceptions import ParseError
from parsimonious.expressions import Quantifier, Regex
from parsimonious.grammar import Grammar
from parsimonious.nodes import Node, NodeVisitor

from . import ast as A
from .agents import ASK_MESSAGE, ASK_TEXT, TURN_RECORD, TURN_TEXT, ask_channel_text
from .agents import record_text as agent_record_text
from .diagnostics import Diagnostic, error, sort_key
from .lexical import decode_number, decode_string, prescan, skip
from .source import Source, Span
from .syntax_errors import Farthest, resync, syntax_error, too_deep


def _load_grammar() -> Grammar:
    text = resources.files("advm.spec").joinpath("grammar.peg").read_text(encoding="utf-8")
    grammar = Grammar(text)
    _use_stdlib_re(grammar)
    return grammar


def _use_stdlib_re(grammar: Grammar) -> None:
    """Compile every token with the standard `re` module.

    parsimonious prefers the third-party `regex` module when it happens to be
    installed, and `regex` scans the rest of the text before a failing match
    (45 us for a failed `if` on a 100 KB document, against 0.3 us with `re`):
    that made parsing quadratic. Every pattern in the grammar is plain `re`
    syntax (atomic groups and scoped flags need Python 3.11).
    """
    seen: set[int] = set()
    stack = list(grammar.values())
    while stack:
        expr = stack.pop()
        if id(expr) in seen:
            continue
        seen.add(id(expr))
        if isinstance(expr, Regex):
            expr.re = re.compile(expr.re.pattern, expr.re.flags & _RE_FLAGS)
        stack.extend(getattr(expr, "members", ()))


# The flag bits `re` and `regex` share for str patterns (regex adds its own,
# e.g. VERSION0; LOCALE is invalid for str).
_RE_FLAGS = re.I | re.M | re.S | re.U | re.X | re.A


GRAMMAR = _load_grammar()
_DECL = GRAMMAR["decl"]
# The grammar is the one list of reserved words: read it from NAME.
RESERVED = frozenset(
    re.search(r"\(\?!\(\?:([a-z_|]+)\)\\b\)", GRAMMAR["NAME"].re.pattern).group(1).split("|")
)

# Binding strength of binary operators (higher binds tighter); all are
# left-associative. spec/syntax.md has the full table with unary and postfix.
PRECEDENCE = {
    "*": 7, "/": 7, "%": 7,
    "+": 6, "-": 6,
    "<": 5, "<=": 5, ">": 5, ">=": 5,
    "==": 4, "!=": 4,
    "&&": 3,
    "^^": 2,
    "||": 1,
}

# Python frames allowed while parsing one declaration. Each level of
# parenthesised nesting costs about 20 frames of the PEG machinery, so this
# admits ~250 levels, far beyond real documents, while keeping the tree
# shallow enough for the recursive passes after the parser.
_FRAMES = 6000


class Tok(NamedTuple):
    text: str
    span: Span


@contextmanager
def _stack(frames: int):
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, frames))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def parse(source: Source) -> tuple[A.Program | None, list[Diagnostic]]:
    """Parse one document. Returns (program, []) or (None, diagnostics)."""
    try:
        return _parse(source)
    except Exception as exc:  # a bug in the parser must still not reach the user as a traceback
        return None, [
            error(
                "E0101",
                f"internal parser error ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})",
                Span(0, 0),
                hint="this is a bug in advm; please report it with the file",
            )
        ]


def _parse(source: Source) -> tuple[A.Program | None, list[Diagnostic]]:
    pre = prescan(source.text)
    text = pre.text
    if text.startswith("\ufeff"):  # a byte-order mark some editors write; same length keeps offsets
        text = " " + text[1:]
    diags: list[Diagnostic] = list(pre.diagnostics)
    builder = Builder(text)
    decls: list[A.Decl] = []
    pos = skip(text, 0)
    end = len(text)
    while pos < end:
        if text[pos] == ";":  # a stray `;` between declarations is nothing, as in Adama
            pos = skip(text, pos + 1)
            continue
        try:
            with _stack(_FRAMES):
                node = _DECL.match_core(text, pos, defaultdict(dict), ParseError(text))
                decl = builder.visit(node) if node is not None else None
                if node is None:
                    # Only now pay for recording every rule that failed at the
                    # farthest position: the message needs them all.
                    far = Farthest(text)
                    _DECL.match_core(text, pos, defaultdict(dict), far)
        except RecursionError:
            diags.append(too_deep(pos))
            pos = skip(text, resync(text, pos, pos))
            continue
        if node is None:
            diag = syntax_error(text, far, GRAMMAR, RESERVED)
            if not pre.is_damaged(diag.span.start):
                diags.append(diag)
            pos = skip(text, resync(text, pos, max(diag.span.start, pos)))
            continue
        if isinstance(decl, list):  # one declaration written as several (rpc)
            decls.extend(decl)
        else:
            decls.append(decl)
        pos = skip(text, node.end)
    diags.extend(builder.diags)
    diags.sort(key=sort_key)
    if diags:
        return None, diags
    views = [d for d in decls if isinstance(d, A.ViewDecl)]
    if views:
        # every `view T name;` is a field of one message, the type of @viewer
        fields = [A.FieldDecl(v.name, v.type, A.Privacy("private", explicit=False, span=v.span),
                              name_span=v.name_span, span=v.span) for v in views]
        at = decls.index(views[0])
        decls = [d for d in decls if not isinstance(d, A.ViewDecl)]
        decls.insert(at, A.MessageDecl(A.VIEWER_MESSAGE, fields, name_span=views[0].name_span, span=views[0].span))
    if builder.complex is not None:
        span = builder.complex
        for d in decls:
            if isinstance(d, (A.RecordDecl, A.MessageDecl, A.EnumDecl)) and d.name == A.COMPLEX_MESSAGE:
                return None, [Diagnostic("E0105", "'complex' is reserved: it is Adama's complex number type",
                                         d.name_span, hint="pick another name")]
        # `complex` is a message of two doubles, r and i (language.md 3.12)
        fields = [A.FieldDecl(n, A.TypeRef("double", span=span), A.Privacy("private", explicit=False, span=span),
                              name_span=span, span=span) for n in ("r", "i")]
        decls.append(A.MessageDecl(A.COMPLEX_MESSAGE, fields, name_span=span, span=span))
    for name, span in builder.linalg.items():
        for d in decls:
            if isinstance(d, (A.RecordDecl, A.MessageDecl, A.EnumDecl)) and d.name == name:
                return None, [Diagnostic("E0105", f"'{name}' is reserved: it is advm's {name} type",
                                         d.name_span, hint="pick another name")]
        # a vector or matrix is a message of doubles (language.md 3.12.1)
        fields = [A.FieldDecl(n, A.TypeRef("double", span=span), A.Privacy("private", explicit=False, span=span),
                              name_span=span, span=span) for n in A.LINALG[name]]
        decls.append(A.MessageDecl(name, fields, name_span=span, span=span))
    if builder.agents is not None:
        # the turns of every conversation and the message clients ask with (compiler/agents.py)
        for d in decls:
            if isinstance(d, (A.RecordDecl, A.MessageDecl, A.EnumDecl)) and d.name in (TURN_RECORD, ASK_MESSAGE):
                return None, [Diagnostic("E0105", f"'{d.name}' is reserved: agents use it",
                                         d.name_span, hint="pick another name")]
        decls.append(generated(TURN_TEXT, builder.agents))
        decls.append(generated(ASK_TEXT, builder.agents))
    for name, (items, span) in builder.tuples.items():
        # a `tuple<A, B>` is a message with fields first, second, ... (language.md 3.11)
        fields = [A.FieldDecl(A.tuple_field(i), t, A.Privacy("private", explicit=False, span=t.span),
                              name_span=t.span, span=t.span) for i, t in enumerate(items)]
        decls.append(A.MessageDecl(name, fields, name_span=span, span=span))
    return A.Program(decls=decls, span=Span(0, len(source.text))), diags


def generated(text: str, span: Span) -> A.Decl:
    """One declaration the compiler writes (an agent's record): parsed like
    source, every node placed at `span`, the declaration it stands for."""
    node = _DECL.match_core(text, 0, defaultdict(dict), ParseError(text))
    builder = Builder(text)
    decl = builder.visit(node)
    if node is None or node.end != len(text) or builder.diags:  # the text above is fixed: a bug
        raise AssertionError(f"generated code does not parse: {text[:80]!r}")
    for n in A.walk(decl):
        for attr, value in list(vars(n).items()):
            if isinstance(value, Span):
                setattr(n, attr, span)
        n.generated = True  # no text of the file holds it (tests/compiler/test_parser.py)
    return decl


RELATIONS = frozenset({"<", "<=", ">", ">="})


def _unparenthesized(text: str, e) -> bool:
    """`a < b` written bare, not `(a < b)` (a parenthesized comparison is a bool, not a chain's start)."""
    return not text[e.span.start:e.span.end].lstrip().startswith("(")


def _opt(children):
    """The single match of an optional group, or None."""
    return children[0] if children else None


class Builder(NodeVisitor):
    """Builds AST nodes bottom-up. Token rules return a `Tok` (or, for
    literals, the expression itself); anonymous groups return the list of
    their children's results."""

    # Let every exception through unwrapped: VisitationError would render the
    # whole parse tree into its message, which for a deep tree is itself a
    # second failure. `parse` turns what escapes into a diagnostic.
    unwrapped_exceptions = (Exception,)

    def __init__(self, text: str):
        self.text = text
        self.diags: list[Diagnostic] = []
        # `tuple<A, B>` types met so far: their message's name -> (item types, first span)
        self.tuples: dict[str, tuple[list, Span]] = {}
        self.complex: Span | None = None  # where `complex` or `@i` first appears
        self.linalg: dict[str, Span] = {}  # vecN/matrixN used (a type or a literal) -> where first
        self.agents: Span | None = None  # the first agent or session: AgentTurn and AgentAsk join the program

    # ---------------------------------------------------------------- plumbing

    def span(self, node) -> Span:
        return Span(skip(self.text, node.start), node.end)

    def generic_visit(self, node, children):
        if node.children or isinstance(node.expr, Quantifier):
            return children
        return node  # a token with no value of its own (punctuation)

    def tok(self, node, _=None) -> Tok:
        start = skip(self.text, node.start)
        return Tok(self.text[start:node.end], Span(start, node.end))

    visit_NAME = visit_TYPE_NAME = visit_BINOP = visit_PREFIX_OP = visit_INCDEC = tok
    visit_ASSIGN_OP = visit_FN_KIND = visit_HANDLER = tok
    visit_DIRECTION = visit_ORDER_MOD = visit_FIELD_FLAG = visit_LET = visit_PUBLIC = visit_PRIVATE = visit_READONLY = tok
    visit_K_ABORTS = visit_SIGNED_INT = visit_UINT = visit_CLOCK = visit_MEMBER_WORD = tok
    visit_AT_SILENT = tok  # Adama's `@silent` message field flag
    visit_WEB_METHOD = visit_WEB_PATH = tok

    def _pass(self, node, ch):
        return ch[0]

    visit_decl = visit_record_member = visit_expr = visit_primary = _pass
    visit_query_step = visit_fn_modifier = visit_static_item = _pass
    visit_unsupported_decl = visit_cron_schedule = _pass

    def _guarded(self, node, ch):
        """`&GUARD (a / b / ...)`: the value of the alternative that matched."""
        return ch[1][0]

    visit_keyword_stmt = visit_postfix_op = visit_extra_decl = _guarded

    # ---------------------------------------------------------------- tokens with values

    def visit_VAR(self, node, _):
        t = self.tok(node)
        return A.Name(t.text, span=t.span)

    def visit_LABEL(self, node, _):
        t = self.tok(node)
        return A.StateLabel(t.text[1:], span=t.span)

    def visit_STATE_LABEL(self, node, _):
        t = self.tok(node)
        return A.StateLabel(t.text[1:], span=t.span)

    def visit_SPECIAL(self, node, _):
        t = self.tok(node)
        if t.text == "@i" and self.complex is None:
            self.complex = t.span
        return A.Special(t.text[1:], span=t.span)

    def visit_TEMPORAL(self, node, _):
        t = self.tok(node)
        g = node.match.groups()
        if g[0] is not None:
            return A.TemporalLit("date", (int(g[0]), int(g[1]), int(g[2])), span=t.span)
        if g[3] is not None:
            return A.TemporalLit("time", (int(g[3]), int(g[4])), span=t.span)
        if g[5] is not None:
            return A.TemporalLit("timespan", (float(g[5]), g[6]), span=t.span)
        return A.TemporalLit("datetime", (g[7],), span=t.span)

    def visit_statement(self, node, ch):
        stmt = ch[0]
        if isinstance(stmt, Node):  # `;` alone: an empty statement
            return A.Block([], span=self.tok(stmt).span)
        return stmt

    def visit_pair_expr(self, node, ch):
        _, key, _, value = ch
        return A.PairLit(key, value, span=self.span(node))

    def visit_ENUM_REF(self, node, _):
        t = self.tok(node)
        return A.EnumValue(node.match.group(1), node.match.group(2), span=t.span)

    def visit_BOOL(self, node, _):
        t = self.tok(node)
        return A.BoolLit(t.text == "true", span=t.span)

    def visit_NUMBER(self, node, _):
        t = self.tok(node)
        value, is_long = decode_number(t.text)
        if value is None:
            self.diags.append(
                error("E0104", f"malformed number '{t.text}': only whole numbers take the L suffix",
                      t.span, hint="drop the L, or write a whole number")
            )
            return A.DoubleLit(0.0, span=t.span)
        if isinstance(value, float):
            return A.DoubleLit(value, span=t.span)
        return A.IntLit(value, is_long, span=t.span)

    def visit_STRING(self, node, _):
        t = self.tok(node)
        value, bad = decode_string(t.text[1:-1])
        for offset, esc in bad:
            at = t.span.start + 1 + offset
            if esc[1:2] == "u":  # \uD800-\uDFFF without its other half
                self.diags.append(
                    error("E0101", f"'{esc}' is half of a UTF-16 surrogate pair", Span(at, at + len(esc)),
                          hint="write the character itself, or both halves: \\ud83d\\ude00")
                )
                continue
            self.diags.append(
                error("E0101", f"unknown escape '{esc}' in a string", Span(at, at + len(esc)),
                      hint='known escapes: \\n \\t \\r \\b \\f \\" \\\\ \\/ \\uXXXX')
            )
        return A.StringLit(value, span=t.span)

    def visit_SHUFFLE(self, node, _):
        return A.Shuffle(span=self.tok(node).span)

    # ---------------------------------------------------------------- types

    def visit_type(self, node, ch):
        name, args, suffixes, annotation = ch
        end = annotation[0].start if annotation else node.end
        t: A.TypeSyntax = A.TypeRef(name.text, _opt(args) or [], span=Span(name.span.start, end))
        if name.text == A.COMPLEX_MESSAGE and self.complex is None:
            self.complex = name.span
        if name.text in A.LINALG:
            self.linalg.setdefault(name.text, name.span)
        if name.text == "tuple" and len(t.args) >= 2:  # one message per distinct tuple type
            key = A.type_text(t)
            self.tuples.setdefault(key, (t.args, t.span))
            t = A.TypeRef(key, [], span=t.span)
        if suffixes:
            # `T[][]`: each suffix wraps what precedes it.
            t.span = Span(name.span.start, suffixes[0].end)
            for suf in suffixes:
                t = A.ArrayTypeRef(t, span=Span(name.span.start, suf.end))
        return t

    def visit_type_annotation(self, node, ch):
        return node  # kept out of the tree: advm gives annotations no meaning (language.md 4.5)

    def visit_type_args(self, node, ch):
        _, first, rest, _ = ch
        return [first] + [r[1] for r in rest]

    # ---------------------------------------------------------------- expressions

    def visit_paren(self, node, ch):
        _, first, rest, _ = ch
        if not rest:
            return first
        # Adama's anonymous tuple `(a, b, c)`: the object {first: a, second: b, third: c}
        items = [first] + [r[1] for r in rest]
        return A.AnonObject([A.AnonField(A.tuple_field(i), v, span=v.span) for i, v in enumerate(items)],
                            span=self.span(node))

    def visit_ternary(self, node, ch):
        cond, rest = ch
        if not rest:
            return cond
        _, then, _, otherwise = rest[0]
        return A.Ternary(cond, then, otherwise, span=self.span(node))

    def visit_binary(self, node, ch):
        first, rest = ch
        if not rest:
            return first
        # Precedence climbing over the flat `unary (BINOP unary)*` list.
        items = [(op.text, operand) for op, operand in rest]
        pos = 0
        chains: set[int] = set()  # the `&&`s range chains made

        def climb(left, min_prec):
            nonlocal pos
            while pos < len(items) and PRECEDENCE[items[pos][0]] >= min_prec:
                op, right = items[pos]
                prec = PRECEDENCE[op]
                pos += 1
                while pos < len(items) and PRECEDENCE[items[pos][0]] > prec:
                    right = climb(right, prec + 1)
                last = left.right if id(left) in chains else left
                if op in RELATIONS and isinstance(last, A.Binary) and last.op in RELATIONS \
                        and (id(left) in chains or _unparenthesized(self.text, left)):
                    # a range chain, `a < b < c`: `a < b && b < c` (language.md 5.3)
                    left = A.Binary("&&", left, A.Binary(op, last.right, right, span=last.right.span.join(right.span)),
                                    span=left.span.join(right.span))
                    chains.add(id(left))
                else:
                    left = A.Binary(op, left, right, span=left.span.join(right.span))
            return left

        return climb(first, 0)

    def visit_unary(self, node, ch):
        inner = ch[0]
        if not isinstance(inner, list):
            return inner
        op, operand = inner
        span = Span(op.span.start, node.end)
        if (
            op.text == "-"
            and isinstance(operand, (A.IntLit, A.DoubleLit))
            and operand.span.start == skip(self.text, op.span.end)
            and self.text[operand.span.start] in "0123456789."
        ):
            # `-5` is one literal, so `-2147483648` is a valid int.
            operand.value = -operand.value
            operand.span = span
            return operand
        name = {"++": "++pre", "--": "--pre"}.get(op.text, op.text)
        return A.Unary(name, operand, span=span)

    def visit_postfix(self, node, ch):
        expr, ops = ch
        start = expr.span.start
        if ops:
            start = skip(self.text, node.start)
        for op in ops:
            if isinstance(op, Tok):  # ++ / --
                expr = A.Unary(op.text + "post", expr, span=Span(start, op.span.end))
            else:
                kind, payload, extra, end = op
                span = Span(start, end)
                if kind == "call":
                    expr = A.Call(expr, payload, span=span)
                elif kind == "field":
                    expr = A.FieldAccess(expr, payload, name_span=extra, span=span)
                else:
                    expr = A.Index(expr, payload, extra, span=span)
        return expr

    def visit_call_args(self, node, ch):
        _, args, _ = ch
        return ("call", self._list(args), None, node.end)

    def visit_field_suffix(self, node, ch):
        _, (name,) = ch
        return ("field", name.text, name.span, node.end)

    def visit_index_suffix(self, node, ch):
        second = _opt(ch[2])  # `g[x, y]`: a grid's cell (language.md 3.6.1)
        return ("index", ch[1], second[1] if second else None, node.end)

    def _list(self, opt):
        """Items of an optional `first (COMMA item)* COMMA?` group."""
        if not opt:
            return []
        first, rest, *_ = opt[0]
        return [first] + [r[1] for r in rest]

    def visit_anon_object(self, node, ch):
        return A.AnonObject(self._list(ch[1]), span=self.span(node))

    def visit_anon_field(self, node, ch):
        name, value = ch
        if value:
            v = value[0][1]
        else:
            v = A.Name(name.text, span=name.span)
        return A.AnonField(name.text, v, span=self.span(node))

    def visit_array_lit(self, node, ch):
        return A.ArrayLit(self._list(ch[1]), span=self.span(node))

    def visit_maybe_expr(self, node, ch):
        _, (group,) = ch
        inner = group[1]
        if isinstance(inner, A.Expr):
            return A.MaybeOf(value=inner, span=self.span(node))
        return A.MaybeOf(type=inner, span=self.span(node))

    def visit_linalg_lit(self, node, ch):
        """`@vec[...]`, `@matrix[...]`: a vecN or matrixN message from its numbers, in field order."""
        head, _, first, rest, _ = ch
        word = self.tok(head)
        items = [first] + [r[1] for r in rest]
        n = len(items)
        span = self.span(node)
        sizes = {2: 2, 3: 3, 4: 4} if word.text == "@vec" else {4: 2, 9: 3, 16: 4}
        if n not in sizes:
            want = "2, 3 or 4 numbers" if word.text == "@vec" else "4, 9 or 16 numbers (2x2, 3x3, 4x4, row by row)"
            self.diags.append(error("E0301", f"{word.text} takes {want}, found {n}", span,
                                    hint="vec2/3/4 and matrix2/3/4 are the sizes advm has"))
            n = next(iter(sizes))
            items = (items + items * 16)[:n]
        name = ("vec" if word.text == "@vec" else "matrix") + str(sizes[n])
        self.linalg.setdefault(name, word.span)
        fields = [A.AnonField(f, e, span=e.span) for f, e in zip(A.LINALG[name], items)]
        return A.Convert(A.TypeRef(name, span=word.span), A.AnonObject(fields, span=span), span=span)

    def visit_convert_expr(self, node, ch):
        return A.Convert(ch[2], ch[5], span=self.span(node))

    def visit_iterate_expr(self, node, ch):
        _, source, steps = ch
        return A.Iterate(source, steps, span=self.span(node))

    def visit_query_expr(self, node, ch):
        source, steps = ch
        return A.Iterate(source, steps, explicit=False, span=Span(source.span.start, node.end))

    def visit_query_steps(self, node, ch):
        return list(ch)

    def visit_guarded_step(self, node, ch):
        return ch[1]

    def visit_where_step(self, node, ch):
        return A.Where(ch[1], span=self.span(node))

    def visit_where_as_step(self, node, ch):
        _, alias, _, cond = ch
        return A.WhereAs(alias.text, cond, span=self.span(node))

    def visit_unique_step(self, node, ch):
        _, mode = ch
        if not mode:
            return A.Unique(span=self.span(node))
        which, key = mode[0]
        return A.Unique(self.tok(which).text == "last", key.text, span=self.span(node))

    def visit_rank_step(self, node, ch):
        _, alias, _, score, threshold = ch
        return A.Rank(alias.text, score, threshold[0][1] if threshold else None, span=self.span(node))

    def visit_order_dyn_step(self, node, ch):
        return A.OrderDyn(ch[1], span=self.span(node))

    def visit_map_step(self, node, ch):
        return A.MapStep(ch[1], span=self.span(node))

    def visit_step_fn(self, node, ch):
        return ch[0]

    def visit_lambda_fn(self, node, ch):
        _, name, _, body = ch
        return A.Lambda(name.text, body, span=self.span(node))

    def visit_reduce_step(self, node, ch):
        _, _, name, via = ch
        return A.Reduce(name.text, via[0][1] if via else None, span=self.span(node))

    def visit_MATERIALIZE(self, node, _):
        return A.Materialize(span=self.tok(node).span)

    def visit_order_step(self, node, ch):
        _, _, first, rest = ch
        return A.OrderBy([first] + [r[1] for r in rest], span=self.span(node))

    def visit_order_key(self, node, ch):
        name, mods = ch
        words = [m.text for m in mods]
        desc = "desc" in words
        return A.OrderKey(name.text, desc, "insensitive" in words, span=self.span(node))

    def visit_limit_step(self, node, ch):
        return A.Limit(ch[1], span=self.span(node))

    def visit_offset_step(self, node, ch):
        return A.Offset(ch[1], span=self.span(node))

    # ---------------------------------------------------------------- statements

    def visit_block(self, node, ch):
        return A.Block(ch[1], span=self.span(node))

    def _as_block(self, stmt):
        if isinstance(stmt, A.Block):
            return stmt
        return A.Block([stmt], span=stmt.span)

    def visit_simple_stmt(self, node, ch):
        stmt = ch[0]
        stmt.span = self.span(node)
        return stmt

    def visit_simple(self, node, ch):
        inner = ch[0]
        if not isinstance(inner, A.Expr):
            return inner
        effect = isinstance(inner, A.Call) or (
            isinstance(inner, A.Unary) and inner.op in ("++pre", "--pre", "++post", "--post")
        )
        if not effect:
            self.diags.append(
                error("E0101", "this expression does nothing on its own; expected an assignment, a call, ++ or --",
                      inner.span, hint="assign the value to something, e.g. 'x = ...;'")
            )
        return A.ExprStmt(inner, span=inner.span)

    def visit_local_decl(self, node, ch):
        (head,), name, init = ch
        value = init[0][1] if init else None
        if isinstance(head, Tok):
            return A.VarDecl(name.text, None, value, head.text, name_span=name.span, span=self.span(node))
        ro, t = head
        return A.VarDecl(name.text, t, value, "", name_span=name.span, readonly=bool(ro), span=self.span(node))

    def visit_ingest(self, node, ch):
        target, _, value, as_name = ch
        return A.Ingest(target, value, as_name[0][1].text if as_name else None, span=self.span(node))

    def visit_assign(self, node, ch):
        target, op, value = ch
        return A.Assign(target, op.text, value, span=self.span(node))

    def visit_if_stmt(self, node, ch):
        _, _, cond, as_name, _, then, orelse = ch
        otherwise = None
        if orelse:
            other = orelse[0][1]
            otherwise = other if isinstance(other, A.If) else self._as_block(other)
        return A.If(cond, self._as_block(then), otherwise, as_name[0][1].text if as_name else None,
                    span=self.span(node))

    def visit_while_stmt(self, node, ch):
        return A.While(ch[2], self._as_block(ch[4]), span=self.span(node))

    def visit_do_stmt(self, node, ch):
        return A.DoWhile(self._as_block(ch[1]), ch[4], span=self.span(node))

    def visit_for_stmt(self, node, ch):
        _, _, init, _, cond, _, step, _, body = ch
        return A.For(_opt(init), _opt(cond), _opt(step), self._as_block(body), span=self.span(node))

    def visit_foreach_stmt(self, node, ch):
        return A.ForEach(ch[2].text, ch[4], self._as_block(ch[6]), span=self.span(node))

    def visit_switch_stmt(self, node, ch):
        return A.Switch(ch[2], ch[5], span=self.span(node))

    def visit_case_clause(self, node, ch):
        (label,), body = ch
        value = label[1] if len(label) == 3 else None
        return A.Case(value, body, span=self.span(node))

    def visit_return_stmt(self, node, ch):
        return A.Return(_opt(ch[1]), span=self.span(node))

    def visit_break_stmt(self, node, ch):
        return A.Break(span=self.span(node))

    def visit_continue_stmt(self, node, ch):
        return A.Continue(span=self.span(node))

    def visit_abort_stmt(self, node, ch):
        return A.Abort(span=self.span(node))

    def visit_transition_stmt(self, node, ch):
        _, target, delay, _ = ch
        return A.Transition(target, delay[0][1] if delay else None, span=self.span(node))

    def visit_invoke_stmt(self, node, ch):
        return A.Invoke(ch[1].name, span=self.span(node))

    def visit_destroy_stmt(self, node, ch):
        return A.Destroy(span=self.span(node))

    def visit_debug_stmt(self, node, ch):
        _, _, fmt, rest, _, _ = ch
        return A.Debug(fmt, [r[1] for r in rest], span=self.span(node))

    def visit_test_stmt(self, node, ch):
        return ch[0]

    def visit_step_stmt(self, node, ch):
        return A.TestStep(span=self.span(node))

    def visit_pump_stmt(self, node, ch):
        _, value, _, name, _ = ch
        return A.TestPump(value, name.text, channel_span=name.span, span=self.span(node))

    def visit_send_stmt(self, node, ch):
        _, name, _, who, _, value, _, _ = ch
        return A.TestSend(name.text, who, value, channel_span=name.span, span=self.span(node))

    def visit_forward_stmt(self, node, ch):
        return A.TestForward(ch[1], span=self.span(node))

    def visit_aborts_stmt(self, node, ch):
        return A.TestAborts(ch[1], span=self.span(node))

    def visit_log_stmt(self, node, ch):
        return A.Log(ch[1], span=self.span(node))

    def visit_preempt_stmt(self, node, ch):
        return A.Preempt(ch[1], span=self.span(node))

    def visit_block_stmt(self, node, ch):
        return A.BlockState(span=self.span(node))

    def visit_assert_stmt(self, node, ch):
        return A.Assert(ch[1], span=self.span(node))

    # ---------------------------------------------------------------- declarations

    def visit_privacy(self, node, ch):
        p = ch[0]
        if isinstance(p, Tok):
            return A.Privacy(p.text, span=p.span)
        return p

    def visit_viewer_is(self, node, ch):
        return A.Privacy("viewer_is", [ch[2].text], span=self.span(node))

    def visit_use_policy(self, node, ch):
        _, _, names, _ = ch
        return A.Privacy("use_policy", [t.text for t in names], span=self.span(node))

    def visit_guard_names(self, node, ch):
        """Policies, then filters as `|name` (Toks)."""
        got = ch[0]
        if isinstance(got, list) and got and isinstance(got[0], Tok) and got[0].text.startswith("|"):
            return got  # only filters
        first, rest, filters = got
        return [first] + [r[1] for r in rest] + (filters[0] if filters else [])

    def visit_guard_filters(self, node, ch):
        _, first, rest = ch
        return [Tok("|" + t.text, t.span) for t in [first] + [r[1] for r in rest]]

    def _privacy(self, opt, node) -> A.Privacy:
        if opt:
            return opt[0]
        at = skip(self.text, node.start)
        return A.Privacy("private", explicit=False, span=Span(at, at))

    def visit_field_decl(self, node, ch):
        privacy, readonly, type_, name, init, flags, _ = ch
        was = [w for f in flags if isinstance(f, list) for w in f]
        return A.FieldDecl(
            name.text, type_, self._privacy(privacy, node), init[0][1] if init else None,
            bool(readonly), name_span=name.span, flags=[f.text for f in flags if isinstance(f, Tok)],
            was=was, span=self.span(node),
        )

    visit_field_flag = _pass

    def visit_was_flag(self, node, ch):
        """`@was(old, older)`: a list of the field's earlier names (Toks)."""
        _, _, first, rest, _ = ch
        return [first] + [r[1] for r in rest]

    def visit_formula_decl(self, node, ch):
        privacy, _kind, name, _, value, _ = ch
        return A.Formula(name.text, self._privacy(privacy, node), value, name_span=name.span,
                         span=self.span(node))

    def visit_bubble_decl(self, node, ch):
        _, guard, name, _, value, _ = ch
        policies = [t.text for t in guard[0]] if guard else []
        return A.Bubble(name.text, value, name_span=name.span, guard=policies, span=self.span(node))

    def visit_policy_decl(self, node, ch):
        return A.Policy(ch[1].text, ch[2], name_span=ch[1].span, span=self.span(node))

    def visit_filter_decl(self, node, ch):
        return A.Policy(ch[1].text, ch[2], name_span=ch[1].span, filter=True, span=self.span(node))

    def visit_require_decl(self, node, ch):
        return A.Require(ch[1].text, span=self.span(node))

    def visit_index_decl(self, node, ch):
        return A.IndexHint(ch[1].text, span=self.span(node))

    def visit_template_decl(self, node, ch):
        _, name, _, text = ch
        return A.TemplateDecl(name.text, text.match.group(2), name_span=name.span, span=self.span(node))

    def visit_include_decl(self, node, ch):
        _, first, rest, _ = ch
        path = "/".join([first.text] + [r[1].text for r in rest])
        return A.Unsupported("include", path, span=self.span(node))

    def visit_assoc_decl(self, node, ch):
        _, _, source, _, target, edge, _, name, _ = ch
        return A.AssocDecl(name.text, source.text, target.text, edge[0][1].text if edge else None,
                           name_span=name.span, source_span=source.span, target_span=target.span,
                           span=self.span(node))

    def visit_join_decl(self, node, ch):
        _, assoc, _, table, _, item, _, _, source, _, target, _ = ch
        return A.JoinDecl(assoc.text, table.text, item.text, source, target, assoc_span=assoc.span,
                          table_span=table.span, span=self.span(node))

    def visit_traverse_step(self, node, ch):
        return A.Traverse(ch[1].text, span=self.span(node))

    def visit_record_decl(self, node, ch):
        _, name, _, members, _ = ch
        return A.RecordDecl(name.text, members, name_span=name.span, span=self.span(node))

    def visit_message_decl(self, node, ch):
        _, name, _, members, _ = ch
        fields = [m for m in members if isinstance(m, A.FieldDecl)]
        # `index f;` in a message is Adama's hint for the rows it may become; nothing to keep here.
        methods = [m for m in members if isinstance(m, A.Function)]
        parsed = [m for m in members if isinstance(m, A.Block)]
        return A.MessageDecl(name.text, fields, name_span=name.span, methods=methods, parsed=parsed,
                             span=self.span(node))

    def visit_parsed_decl(self, node, ch):
        return ch[1]

    def visit_message_member(self, node, ch):
        return ch[0]

    def visit_enum_decl(self, node, ch):
        _, name, _, entries, _, _ = ch
        items = [e for e in entries if isinstance(e, A.EnumItem)]
        return A.EnumDecl(name.text, items, name_span=name.span, span=self.span(node))

    def visit_enum_entry(self, node, ch):
        return ch[0]

    def visit_enum_item(self, node, ch):
        default, name, value = ch
        return A.EnumItem(name.text, int(value[0][1].text) if value else None, default=bool(default),
                          span=self.span(node))

    def visit_params(self, node, ch):
        return self._list(ch[1])

    def visit_param(self, node, ch):
        ro, t, name = ch
        return A.Param(name.text, t, readonly=bool(ro), span=self.span(node))

    def visit_returns(self, node, ch):
        return ch[1]

    def _callable(self, kind, node, ch):
        _, name, params, returns, mods, body = ch
        words = {m.text for m in mods}
        return A.Function(kind, name.text, params, _opt(returns), body, "readonly" in words,
                          "aborts" in words, name_span=name.span, span=self.span(node))

    def visit_metric_decl(self, node, ch):
        _, name, _, value, _ = ch
        return A.Metric(name.text, value, name_span=name.span, span=self.span(node))

    def visit_rpc_decl(self, node, ch):
        """`rpc name(who, T a, U b) { ... }` is Adama's channel with its message
        written inline: a message `_rpc_name` with fields a and b, and a channel
        `name(principal who, _rpc_name __rpc)` whose body starts by binding
        `readonly T a = __rpc.a;` for each parameter."""
        _, name, _, who, rest, _, body = ch
        params = [r[1] for r in rest]
        span = self.span(node)
        msg = f"_rpc_{name.text}"
        fields = [A.FieldDecl(p.name, p.type, A.Privacy("private", explicit=False, span=p.span),
                              name_span=p.span, span=p.span) for p in params]
        binds = [A.VarDecl(p.name, p.type, A.FieldAccess(A.Name("__rpc", span=p.span), p.name, span=p.span),
                           name_span=p.span, readonly=True, span=p.span) for p in params]
        body.body[0:0] = binds
        channel = A.Channel(name.text, A.TypeRef(msg, span=name.span), "__rpc", who.text, body,
                            name_span=name.span, span=span)
        return [A.MessageDecl(msg, fields, name_span=name.span, span=span), channel]

    def visit_dispatch_decl(self, node, ch):
        _, ref, name, params, returns, body = ch
        return A.Dispatch(ref.enum, ref.value, name.text, params, _opt(returns), body, name_span=name.span,
                          span=self.span(node))

    def visit_function_decl(self, node, ch):
        return self._callable(ch[0].text, node, ch)

    def visit_method_decl(self, node, ch):
        return self._callable("method", node, ch)

    def visit_channel_incomplete(self, node, ch):
        _, _, message, _, name, _ = ch
        return A.Channel(name.text, message, name_span=name.span, span=self.span(node))

    def visit_channel_guard(self, node, ch):
        _, _, first, rest, _ = ch
        return [first] + [r[1] for r in rest]

    def visit_bubble_guard(self, node, ch):
        return ch[1]

    def visit_channel_decl(self, node, ch):
        _, name, params, is_open, guard, body = ch
        span = self.span(node)
        policies = [t.text for t in guard[0]] if guard else []
        if policies:
            body.body.insert(0, A.RequireGuard(policies, span=self.span(node)))
        who = None
        if len(params) == 2:
            first, msg = params
            if not (isinstance(first.type, A.TypeRef) and first.type.name == "principal" and not first.type.args):
                self.diags.append(
                    error("E0502", "a channel's first parameter, when it has two, must be 'principal who'",
                          first.span, hint="write 'channel name(principal who, M msg)' or 'channel name(M msg)'")
                )
            who = first.name
        elif len(params) == 1:
            msg = params[0]
        else:
            self.diags.append(
                error("E0502", f"a channel takes one message parameter, optionally after 'principal who'; "
                               f"this one has {len(params)}",
                      name.span, hint="write 'channel name(M msg)' or 'channel name(principal who, M msg)'")
            )
            return A.Channel(name.text, A.TypeRef("?", span=name.span), None, None, body,
                             name_span=name.span, span=span)
        return A.Channel(name.text, msg.type, msg.name, who, body, name_span=name.span, span=span,
                         open=bool(is_open), requires=policies)

    def visit_state_decl(self, node, ch):
        label, body = ch
        return A.StateBlock(label.name, body, name_span=label.span, span=self.span(node))

    def visit_handler_decl(self, node, ch):
        event, param, body = ch
        name = type_ = None
        if param:
            (p,) = param[0][1]
            if isinstance(p, A.Param):
                name, type_ = p.name, p.type
            else:
                name = p.text
        # `@asset (a)`, seed 004's name for what Adama calls `@attached (a)` (language.md 4.29)
        kind = event.text[1:] if event.text != "@asset" else "attached"
        return A.Handler(kind, body, name, type_, span=self.span(node))

    def visit_authorize_decl(self, node, ch):
        _, _, user, _, password, _, body = ch
        return A.Handler("authorize", body, user.text, None, param2=password.text, span=self.span(node))

    def visit_cron_decl(self, node, ch):
        _, name, (schedule, values), body = ch
        return A.Cron(name.text, schedule, values, body, name_span=name.span, span=self.span(node))

    def visit_cron_daily(self, node, ch):
        hour, minute = ch[1].text.split(":")
        return ("daily", [int(hour), int(minute)])

    def visit_cron_hourly(self, node, ch):
        return ("hourly", [int(ch[1].text)])

    def visit_cron_monthly(self, node, ch):
        return ("monthly", [int(ch[1].text)])

    def visit_static_decl(self, node, ch):
        items = ch[2]
        return A.Static(
            [i for i in items if isinstance(i, A.StaticPolicy)],
            [i for i in items if isinstance(i, A.StaticProperty)],
            span=self.span(node),
        )

    def visit_static_property(self, node, ch):
        return A.StaticProperty(ch[0].text, ch[2], span=self.span(node))

    def visit_static_policy(self, node, ch):
        return A.StaticPolicy(ch[0].text, ch[1], span=self.span(node))

    def visit_test_decl(self, node, ch):
        return A.TestDecl(ch[1].text, ch[2], span=self.span(node))

    # ---------------------------------------------------------------- not supported yet

    def visit_service_decl(self, node, ch):
        _, name, _, members, _ = ch
        methods = [m for m in members if isinstance(m, A.ServiceMethod)]
        messages = [m for m in members if isinstance(m, A.MessageDecl)]
        # Its messages are the document's messages (one declaration written as several).
        return messages + [A.ServiceDecl(name.text, methods, [m.name for m in messages],
                                         name_span=name.span, span=self.span(node))]

    def visit_space_decl(self, node, ch):
        _, name, _ = ch
        return A.SpaceDecl(name.text, name_span=name.span, span=self.span(node))

    def visit_service_member(self, node, ch):
        return ch[0]

    def visit_service_message(self, node, ch):
        _, name, _, members, _ = ch
        fields = [m for m in members if isinstance(m, A.FieldDecl)]
        methods = [m for m in members if isinstance(m, A.Function)]
        return A.MessageDecl(name.text, fields, name_span=name.span, methods=methods, span=self.span(node))

    def visit_service_method(self, node, ch):
        _, _, in_type, _, out_type, _, name, flags, _ = ch
        return A.ServiceMethod(name.text, in_type, out_type, [f.text for f in flags],
                               name_span=name.span, span=self.span(node))

    def visit_web_decl(self, node, ch):
        _, method, path, param, body = ch
        p = None
        if param:
            _, t, name, _ = param[0]
            p = A.Param(name.text, t, span=name.span)
        segments = []
        at = path.span.start + 1
        for part in path.text[1:].split("/") if path.text != "/" else []:
            span = Span(at, at + len(part))
            at += len(part) + 1
            if part.startswith("$") and part.endswith("*"):
                segments.append(A.WebSegment("rest", part, A.Param(part[1:-1], A.TypeRef("string", span=span),
                                                                     span=span), span=span))
            elif part.startswith("$"):
                name, _, type_ = part[1:].partition(":")
                segments.append(A.WebSegment("param", part, A.Param(name, A.TypeRef(type_ or "string", span=span),
                                                                      span=span), span=span))
            else:
                segments.append(A.WebSegment("fixed", part, span=span))
        return A.WebDecl(method.text, path.text, segments, body, p, span=self.span(node))

    def visit_agent_decl(self, node, ch):
        """`agent Name { ... }` (language.md 4.31): the record `Name` holding a
        conversation (compiler/agents.py), then the AgentDecl with its settings
        and tools."""
        _, name, _, members, _ = ch
        span = self.span(node)
        self.agents = self.agents or span
        settings = [m for m in members if isinstance(m, A.AgentSetting)]
        mutables = [m for m in members if isinstance(m, A.FieldDecl)]
        tools = [m for m in members if isinstance(m, A.AgentTool)]
        record = generated(agent_record_text(name.text, [m.name for m in mutables]), span)
        saved = [A.FieldDecl(f"__saved_{m.name}", copy.deepcopy(m.type),
                             A.Privacy("private", explicit=False, span=m.span), name_span=m.name_span, span=m.span)
                 for m in mutables]
        for f in saved:
            f.generated = True
        record.members[0:0] = mutables + saved
        record.members += [t.method for t in tools]
        record.name_span = name.span
        return [record, A.AgentDecl(name.text, settings, [m.name for m in mutables], tools,
                                    name_span=name.span, span=span)]

    def visit_agent_member(self, node, ch):
        return ch[0]

    def visit_agent_setting(self, node, ch):
        name, _, value, _ = ch
        return A.AgentSetting(name.text, value, name_span=name.span, span=self.span(node))

    def visit_agent_mutable(self, node, ch):
        _, type_, name, init, _ = ch
        at = skip(self.text, node.start)
        return A.FieldDecl(name.text, type_, A.Privacy("public", explicit=False, span=Span(at, at)),
                           init[0][1] if init else None, name_span=name.span, span=self.span(node))

    def visit_agent_tool(self, node, ch):
        description, mutating, _, _, in_type, _, out_type, _, name, body = ch
        span = self.span(node)
        method = A.Function("method", name.text, [A.Param("request", in_type, readonly=True, span=in_type.span)],
                            out_type, body, name_span=name.span, span=span)
        return A.AgentTool(name.text, in_type, out_type, bool(mutating), description[0] if description else "",
                           method, name_span=name.span, span=span)

    def visit_tool_description(self, node, ch):
        return ch[2].value

    def visit_replication_decl(self, node, ch):
        _, _, service, _, method, _, name, _, value, _ = ch
        at = skip(self.text, node.start)
        return A.Replication(name.text, A.Privacy("private", explicit=False, span=Span(at, at)), value,
                             name_span=name.span, span=self.span(node), service=service.text,
                             method=method.text, target_span=Span(service.span.start, method.span.end))

    def visit_view_decl(self, node, ch):
        _, type_, name, _ = ch
        return A.ViewDecl(name.text, type_, name_span=name.span, span=self.span(node))

    def visit_session_decl(self, node, ch):
        """`session<A> name;`: the field, and for a session clients may see, the
        channel they ask through (compiler/agents.py ask_channel_text)."""
        privacy, _, _, type_, _, name, _ = ch
        span = self.span(node)
        self.agents = self.agents or span
        p = self._privacy(privacy, node)
        field = A.FieldDecl(name.text, type_, p, name_span=name.span, session=True, span=span)
        text = ask_channel_text(name.text, p.kind, list(p.names))
        return [field] if text is None else [field, generated(text, span)]

