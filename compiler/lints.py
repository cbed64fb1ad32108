"""Warnings about a document as something to serve: who can reach it at all.

The checker decides whether a document is valid; these decide whether anyone
can use it once served. The two rules a newcomer meets first are easy to miss
(spec/language.md 4.20 and 4.23): without `@connected` nobody may connect, and
without a `@static create` policy nobody may create a document (unless
`invent` creates one on connect). A document breaking either is still a valid
program (tests and `advm run --once` use it freely), so these are warnings,
and only the tools that judge a document as something to serve ask for
them: `advm check` and `advm run` when it serves.

    comp = compile_source(text, path)
    lint(comp)            # adds W0510/W0511 warnings to comp.diagnostics
"""
from __future__ import annotations

from . import ast
from .diagnostics import Diagnostic, error, sort_key
from .source import Span

CONNECT_HINT = ("add `@connected { return true; }`, or a rule such as `return @who == owner;` "
                "(spec/language.md 4.20)")
CREATE_HINT = ("add `@static { create { return true; } }`, or a rule such as "
               "`return !@who.isAnonymous();` (spec/language.md 4.23)")


def always_false(body: ast.Block) -> bool:
    """Every `return` of the body returns the literal `false` (and there is one)."""
    returns = [n for n in ast.walk(body) if isinstance(n, ast.Return)]
    return bool(returns) and all(isinstance(r.value, ast.BoolLit) and r.value.value is False
                                 for r in returns)


def head(node: ast.Node, word: str) -> Span:
    """The span of the keyword a declaration starts with (`@connected`, `@static`)."""
    return Span(node.span.start, node.span.start + len(word))


def warning(code: str, message: str, span: Span, hint: str) -> Diagnostic:
    d = error(code, message, span, hint)
    d.severity = "warning"
    return d


def access_warnings(program: ast.Program) -> list[Diagnostic]:
    handlers = [d for d in program.decls if isinstance(d, ast.Handler) and d.event == "connected"]
    statics = [d for d in program.decls if isinstance(d, ast.Static)]
    policies = {p.name: p for s in statics for p in s.policies}
    start = Span(0, 0)
    out = []
    if not handlers:
        out.append(warning("W0510", "nobody can connect to this document: it has no @connected",
                           start, CONNECT_HINT))
    elif all(always_false(h.body) for h in handlers):
        out.append(warning("W0510", "nobody can connect to this document: @connected always "
                                    "returns false", head(handlers[0], "@connected"), CONNECT_HINT))
    create, invent = policies.get("create"), policies.get("invent")
    if invent is not None and not always_false(invent.body):
        return out  # connecting to a new key creates the document
    where = head(statics[0], "@static") if statics else start
    if create is None:
        what = "@static has no create policy" if statics else "it has no @static create policy"
        out.append(warning("W0511", f"nobody can create this document: {what}", where,
                           CREATE_HINT))
    elif always_false(create.body):
        out.append(warning("W0511", "nobody can create this document: @static create always "
                                    "returns false", Span(create.span.start, create.span.start + 6),
                           CREATE_HINT))
    return out


def lint(comp) -> None:
    """Add the access warnings to a Compilation (a document that parsed)."""
    if comp.program is None:
        return
    comp.diagnostics.extend(access_warnings(comp.program))
    comp.diagnostics.sort(key=sort_key)


__all__ = ["access_warnings", "lint"]
