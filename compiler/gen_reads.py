"""What a policy, formula or bubble reads, for the views layer (views/viewers.py).

Views evaluate policies, bubbles and record formulas per viewer and cache the
results; a cached result stays valid until something it reads changes. The
checker records the read set of formulas; this pass computes the same for
policies, notes reads of the clock (`Time.*`, which changes with every event),
and follows calls into procedures and methods. It works on the checked AST
(every Name and Call carries its `ref`), so it never resolves a name again.

Over-approximation is safe (an extra dependency only costs a re-evaluation);
missing a dependency would show a viewer stale values, so anything a body
may reach is counted.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import ast
from .docinfo import FuncInfo, Ref
from .library import LibEntry


@dataclass
class Reads:
    doc: set[str] = field(default_factory=set)  # document fields, formulas and bubbles
    row: set[str] = field(default_factory=set)  # fields and formulas of the record in scope
    time: bool = False  # reads the event's clock

    def meta(self) -> dict:
        return {"reads": sorted(self.row), "doc_reads": sorted(self.doc), "time": self.time}


def reads_of(node, out: Reads | None = None, seen: set | None = None) -> Reads:
    """The reads of a body or expression, including those of the procedures and
    methods it calls (each walked once)."""
    out = out if out is not None else Reads()
    seen = seen if seen is not None else set()
    for n in ast.walk(node):
        ref = getattr(n, "ref", None)
        if ref is None:
            continue
        if isinstance(ref, LibEntry):
            if ref.effect == "time":
                out.time = True
        elif isinstance(ref, Ref):
            _note(ref, out, seen)
    return out


def _note(ref: Ref, out: Reads, seen: set) -> None:
    kind = ref.kind
    if kind in ("field", "bubble"):
        out.doc.add(ref.name)
    elif kind == "formula":
        if ref.owner is None:
            out.doc.add(ref.name)
        else:
            # a record formula read by name: what it reads is read here too
            out.row.add(ref.name)
            fo = ref.target
            out.row |= set(fo.reads)
            out.doc |= set(fo.doc_reads)
            if id(fo) not in seen:
                seen.add(id(fo))
                reads_of(fo.value, out, seen)
    elif kind == "record_field":
        out.row.add(ref.name)
    elif kind in ("procedure", "method") and isinstance(ref.target, FuncInfo):
        fn = ref.target
        if fn.decl is not None and id(fn) not in seen:
            seen.add(id(fn))
            reads_of(fn.decl.body, out, seen)


def formula_reads(fo) -> Reads:
    """A formula's or bubble's reads (the checker's sets plus the clock)."""
    out = reads_of(fo.value)
    if fo.owner is None:
        out.doc |= set(fo.reads)
    else:
        out.row |= set(fo.reads)
        out.doc |= set(fo.doc_reads)
    return out


__all__ = ["Reads", "formula_reads", "reads_of"]
