"""State and helpers shared by the checker's passes (declarations,
statements, expressions): the diagnostics list, type resolution, close-match
hints and the swap of "which body am I in" when a formula is checked on demand.
"""
from __future__ import annotations

import difflib
from contextlib import contextmanager

from . import ast
from . import types as T
from .diagnostics import Diagnostic, error
from .docinfo import DocumentInfo, FormulaInfo
from .scope import Rules, Scope, default_rules
from .source import NOSPAN, Source, Span


def close_matches(name: str, candidates) -> list[str]:
    return difflib.get_close_matches(name, sorted(set(candidates)), n=3, cutoff=0.6)


def did_you_mean(name: str, candidates) -> str | None:
    found = close_matches(name, candidates)
    if not found:
        return None
    if len(found) == 1:
        return f"did you mean '{found[0]}'?"
    return "did you mean " + " or ".join(f"'{f}'" for f in found) + "?"


def a(thing) -> str:
    """`thing` with its indefinite article: "an int", "a string"."""
    text = str(thing)
    return ("an " if text[:1].lower() in "aeiou" else "a ") + text


def name_span(node) -> Span:
    """The most precise span a node offers for its name."""
    span = getattr(node, "name_span", NOSPAN)
    if span == NOSPAN:
        span = node.span
    return span


class CheckerBase:
    def __init__(self, source: Source):
        self.source = source
        self.info = DocumentInfo()
        self.diags: list[Diagnostic] = []
        self.rules: Rules = default_rules()
        self.scope = Scope()
        # Records whose fields are in scope as bare names inside `where`.
        self.rows: list[T.RecordType] = []
        # When checking a formula: the record fields it reads (record formulas)
        # and the document fields and formulas it reads, as names resolve to
        # them (effects.py adds what the procedures it calls read).
        self.reads: set[str] | None = None
        self.doc_reads: set[str] | None = None
        self.in_progress: list[FormulaInfo] = []
        self.cycle_reported: set[int] = set()
        self.metrics: dict = {}  # `metric name = expr;` declarations
        # (FuncInfo, span, what, may transition, may destroy) per call of a procedure
        # or method from a body that may not do both: checked once bodies are.
        self.calls_to_check: list = []

    # ------------------------------------------------------------ diagnostics

    def err(self, code: str, message: str, span: Span, hint: str | None = None) -> T.Type:
        self.diags.append(error(code, message, span, hint))
        return T.ERROR

    # ------------------------------------------------------------ bodies

    @contextmanager
    def body(self, rules: Rules, scope: Scope | None = None, reads: set[str] | None = None,
             doc_reads: set[str] | None = None):
        saved = (self.rules, self.scope, self.reads, self.doc_reads, self.rows)
        self.rules = rules
        self.scope = scope if scope is not None else Scope()
        self.reads = reads
        self.doc_reads = doc_reads if doc_reads is not None else reads
        self.rows = []
        try:
            yield
        finally:
            self.rules, self.scope, self.reads, self.doc_reads, self.rows = saved

    # ------------------------------------------------------------ types

    def type_names(self) -> list[str]:
        return [*T.PRIMITIVES, *T.GENERICS, *self.info.records, *self.info.messages, *self.info.enums]

    def fields_of(self, t: T.Type) -> dict[str, T.Type] | None:
        """Field name -> type of a record or message (None for other types)."""
        if isinstance(t, (T.RecordType, T.MessageType)):
            s = self.info.struct(t.name)
            if s is None:
                return None
            return {n: f.type for n, f in s.fields.items()}
        return T.BUILTIN_FIELDS.get(t)

    def assignable(self, src: T.Type, dst: T.Type) -> bool:
        return T.assignable(src, dst, self.fields_of)

    def named_type(self, name: str) -> T.Type | None:
        if name in T.PRIMITIVES:
            return T.PRIMITIVES[name]
        if name in T.PRIMITIVE_ALIASES:
            return T.PRIMITIVE_ALIASES[name]
        if name in self.info.records:
            return T.RecordType(name)
        if name in self.info.messages:
            return T.MessageType(name)
        if name in self.info.enums:
            return T.EnumType(name)
        return None

    def resolve_type(self, ts: ast.TypeSyntax | None) -> T.Type:
        if ts is None:
            return T.ERROR
        if isinstance(ts, ast.ArrayTypeRef):
            el = self.resolve_type(ts.element)
            if isinstance(el, (T.TableType, T.FutureType, T.ChannelType)):
                return self.err("E0309", f"cannot make an array of {el}", ts.span)
            return T.ArrayType(el)
        name = ts.name
        if not name.isidentifier():
            if name in self.info.messages:  # `tuple<A, B>`: the parser made it a message (language.md 3.11)
                return T.MessageType(name)
            return T.ERROR  # the parser already reported this malformed type
        if name == "holder":  # Adama's holder<M>: a field holding a message (language.md 3.9.1)
            if len(ts.args) != 1:
                return self.err("E0309", f"'holder' takes 1 type argument, got {len(ts.args)}", ts.span,
                                "write it as holder<M> with M a message")
            held = self.resolve_type(ts.args[0])
            if T.is_error(held):
                return T.ERROR
            if not isinstance(held, T.MessageType):
                return self.err("E0309", f"a holder holds a message, not {held}", ts.args[0].span,
                                "declare the value as a message, or use the type itself")
            return held
        if name == "grid":  # grid<K, V>: map<K, map<K, V>>, its cells read as g[x, y] (language.md 3.6.1)
            if len(ts.args) != 2:
                return self.err("E0309", f"'grid' takes 2 type arguments, got {len(ts.args)}", ts.span,
                                "write it as grid<K, V>")
            k, v = (self.resolve_type(a) for a in ts.args)
            if T.is_error(k) or T.is_error(v):
                return T.ERROR
            row = self.generic("map", [k, v], ts)
            return T.ERROR if T.is_error(row) else T.MapType(k, row)
        if name == "tuple":  # with two or more items it is a message by now
            return self.err("E0309", f"'tuple' takes two or more type arguments, got {len(ts.args)}", ts.span,
                            "write it as tuple<A, B> (or with more items)")
        if name in T.GENERICS:
            want = T.GENERICS[name]
            if len(ts.args) != want:
                noun = "argument" if want == 1 else "arguments"
                return self.err(
                    "E0309", f"'{name}' takes {want} type {noun}, got {len(ts.args)}", ts.span,
                    f"write it as {name}<{', '.join('T' if want == 1 else ('K', 'V')[i] for i in range(want))}>",
                )
            args = [self.resolve_type(a) for a in ts.args]
            if any(T.is_error(a) for a in args):
                return T.ERROR
            return self.generic(name, args, ts)
        if ts.args:
            return self.err("E0309", f"'{name}' takes no type arguments", ts.span)
        t = self.named_type(name)
        if t is None:
            return self.err(
                "E0202", f"unknown type '{name}'", ts.span, did_you_mean(name, self.type_names())
            )
        return t

    def param_type(self, ts: ast.TypeSyntax) -> T.Type:
        """The type of a parameter: a local's, or a table (Adama's table-typed
        parameters: the caller's table itself, not a copy)."""
        if isinstance(ts, ast.TypeRef) and ts.name in ("holder", "text"):
            return self.local_type(ts)
        t = self.resolve_type(ts)
        if isinstance(t, T.TableType):
            return t
        return self.value_type(t, ts)

    def local_type(self, ts: ast.TypeSyntax) -> T.Type:
        """The type of a local or parameter: a value, never a table or channel."""
        if isinstance(ts, ast.TypeRef) and ts.name == "holder":
            return self.err("E0309", "holder<M> is a field's type (Adama's reactive holder)", ts.span,
                            "a local or parameter holds the message itself: write M")
        if isinstance(ts, ast.TypeRef) and ts.name == "text" and self.named_type("text") == T.TEXT:
            return self.err("E0309", "text is a field's type (Adama's collaborative text)", ts.span,
                            "a local or parameter holds a string: read the field with .get()")
        return self.value_type(self.resolve_type(ts), ts)

    def value_type(self, t: T.Type, ts: ast.TypeSyntax) -> T.Type:
        inner = T.element_of(t) or T.strip_maybe(t)
        if isinstance(t, (T.TableType, T.ChannelType)) or isinstance(inner, T.TableType):
            return self.err("E0309", f"a local or parameter cannot hold {t}", ts.span,
                            "tables live in document fields; pass rows or lists of rows instead")
        return t

    def generic(self, name: str, args: list[T.Type], ts: ast.TypeRef) -> T.Type:
        a = args[0]
        if name == "maybe":
            if isinstance(a, (T.MaybeType, T.TableType, T.ChannelType, T.FutureType)):
                return self.err("E0309", f"cannot make a maybe of {a}", ts.span)
            return T.MaybeType(a)
        if name == "list":
            if isinstance(a, (T.TableType, T.ChannelType, T.FutureType)):
                return self.err("E0309", f"cannot make a list of {a}", ts.span)
            return T.ListType(a)
        if name == "table":
            if isinstance(a, T.MessageType) and a != T.COMPLEX:  # a native table, for locals (3.7.1)
                return T.NativeTableType(a)
            if not isinstance(a, T.RecordType):
                hint = None
                if isinstance(a, T.MessageType):
                    hint = f"declare '{a}' as a record to keep it in a table"
                return self.err("E0507", f"a table holds records, not {a}", ts.args[0].span, hint)
            return T.TableType(a)
        if name == "map":
            if a not in T.MAP_KEYS and not isinstance(a, T.EnumType):
                return self.err(
                    "E0309", f"a map cannot be keyed by {a}", ts.args[0].span,
                    "map keys are int, long, string, principal or an enum",
                )
            if isinstance(args[1], (T.TableType, T.ChannelType, T.FutureType)):
                return self.err("E0309", f"a map cannot hold {args[1]}", ts.args[1].span)
            return T.MapType(a, args[1])
        if name == "pair":
            if any(isinstance(x, (T.TableType, T.ChannelType, T.FutureType)) for x in args):
                return self.err("E0309", f"a pair cannot hold {a}", ts.span)
            return T.PairType(a, args[1])
        if name == "future":
            return T.FutureType(a)
        if name == "result":
            return T.ResultType(a)
        if name == "channel":
            return self.err("E0309", "channel types are declared with `channel<M> name;`", ts.span)
        return self.err("E0202", f"unknown type '{name}'", ts.span)
