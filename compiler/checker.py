"""Name resolution and static type checking.

`check(program, source)` walks a parsed document in three passes:

1. collect type names (records, messages, enums), then their members;
2. collect the document's declarations with resolved signatures;
3. check every body and expression, filling `Expr.ty`, `Name.ref` and
   `Call.ref`, then what the procedures called may do and the
   cross-references (privacy, policies, index hints); a document without
   errors gets the effects of its policies, formulas and bubbles (effects.py).

It returns the `DocumentInfo` code generation reads and every diagnostic
found; an error type (`types.ERROR`) absorbs follow-on errors so one mistake
is reported once.
"""
from __future__ import annotations

from . import ast
from .check_base import CheckerBase
from .check_decl import DeclChecker
from .check_expr import ExprChecker
from .check_stmt import StmtChecker
from .diagnostics import Diagnostic, error, sort_key
from .docinfo import DocumentInfo
from .effects import note_effects
from .source import Source


class Checker(DeclChecker, StmtChecker, ExprChecker, CheckerBase):
    def run(self, program: ast.Program) -> None:
        self.collect_types(program)
        self.collect_members()
        self.check_infinite_structs()
        self.collect_document(program)
        self.check_sessions()
        self.check_bodies(program)
        self.mark_viewer_bubbles()
        self.check_calls_effects()
        self.check_references()
        if not any(d.severity == "error" for d in self.diags):
            note_effects(self.info)


def check(program: ast.Program, source: Source, spaces=None) -> tuple[DocumentInfo, list[Diagnostic]]:
    checker = Checker(source)
    if spaces is None:
        from .spaces import sibling_resolver

        spaces = sibling_resolver(source.filename)
    checker.space_resolve = spaces
    try:
        checker.run(program)
    except Exception as exc:  # a checker bug must surface as a diagnostic, never a traceback
        span = program.span
        checker.diags.append(
            error("E0999", f"internal checker error ({type(exc).__name__}: {exc})", span,
                  "this is a bug in advm; please report it with this file")
        )
    diags = sorted(checker.diags, key=sort_key)
    return checker.info, diags


__all__ = ["Checker", "DocumentInfo", "check"]
