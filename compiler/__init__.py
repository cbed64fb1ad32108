"""The advm compiler front end: source -> AST -> checked AST.

Data flows one way: `parse` (parsimonious grammar in spec/grammar.peg) builds
the AST with spans, `check` resolves names and types and annotates the tree.
Both return diagnostics instead of raising or printing.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .diagnostics import Diagnostic, render_text, sort_key, to_json
from .source import Source, Span


@dataclass
class Compilation:
    """What the front end made of one file."""

    source: Source
    program: object | None  # ast.Program, None when it did not parse
    info: object | None  # checker.DocumentInfo, None when it did not parse
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)

    def render(self) -> str:
        return "\n\n".join(render_text(d, self.source) for d in self.diagnostics)

    def to_json(self) -> list[dict]:
        return [to_json(d, self.source) for d in self.diagnostics]


def compile_source(text: str, filename: str = "<input>", spaces=None) -> Compilation:
    """Parse and check one document; never raises on bad input. `spaces`
    finds the programs its `space NAME;` declarations name (compiler/spaces.py
    Resolve: name -> (text, filename) or None); None: the files beside it."""
    # Lazy for start-up time: importing the parser builds the grammar (about
    # half a second), which `import advm.compiler` for Compilation or
    # Diagnostic alone should not pay.
    from .checker import check
    from .parser import parse

    source = Source(text, filename)
    program, diags = parse(source)
    info = None
    if program is not None:
        info, more = check(program, source, spaces)
        diags = diags + more
    diags.sort(key=sort_key)
    return Compilation(source, program, info, diags)


__all__ = ["Compilation", "Diagnostic", "Source", "Span", "compile_source"]
