"""What a body reads and may do: the one read-set and effects analysis.

It works on the checked tree (every Name and Call carries its `ref`), so it
never resolves a name again, and follows calls into procedures and methods
(each walked once per question). Its answers are stored on the checked
document info, as `Effects` (docinfo.py):

* every policy, formula and bubble gets its `effects` when checking ends
  (`note_effects`, which first adds to each formula's `reads` what the
  procedures it calls read): the views (views/viewers.py) cache what those compute per
  viewer until something they read changes, and the clock (`Time.*`) changes
  with every event. Over-approximation is safe (an extra dependency only
  costs a re-evaluation); missing one would show a viewer stale values, so
  anything a body may reach is counted. gen_doc.py copies them into the
  module's meta["views"];
* a procedure or method called where transitions or destruction are not
  allowed gets its `effects` when the checker asks (`of_function`): may it
  transition or destroy the document, itself or through what it calls?
"""
from __future__ import annotations

from . import ast
from .docinfo import Effects, FuncInfo, Ref
from .library import LibEntry


def effects_of(node, out: Effects | None = None, seen: set | None = None) -> Effects:
    """The effects of a body or expression, including those of the procedures
    and methods it calls."""
    out = out if out is not None else Effects()
    seen = seen if seen is not None else set()
    for n in ast.walk(node):
        if isinstance(n, ast.Traverse):  # the tables it walks, and what its joins read
            out.doc.update(n.reads)
            if n.info is not None:
                for _, j in n.info.joins:
                    effects_of(j.source, out, seen)
                    effects_of(j.target, out, seen)
        if isinstance(n, ast.Transition):
            out.transition = True
        elif isinstance(n, ast.Destroy):
            out.destroy = True
        ref = getattr(n, "ref", None)
        if ref is None:
            continue
        if isinstance(ref, LibEntry):
            if ref.effect == "time":
                out.time = True
            elif ref.effect == "destroy":
                out.destroy = True
        elif isinstance(ref, Ref):
            _note(ref, out, seen)
    return out


def _note(ref: Ref, out: Effects, seen: set) -> None:
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
                effects_of(fo.value, out, seen)
    elif kind == "record_field":
        out.row.add(ref.name)
    elif kind in ("procedure", "method", "method_each", "function") and isinstance(ref.target, FuncInfo):
        fn = ref.target
        if fn.decl is not None and id(fn) not in seen:
            seen.add(id(fn))
            effects_of(fn.decl.body, out, seen)


def of_function(fn: FuncInfo) -> Effects:
    """A procedure's or method's effects, through everything it calls (stored on it)."""
    if fn.effects is None:
        fn.effects = effects_of(fn.decl.body, seen={id(fn)})
    return fn.effects


def of_formula(fo) -> Effects:
    """A formula's or bubble's effects: the names checking resolved in it (its
    `reads` and `doc_reads`) and what it reaches through calls, plus the clock."""
    out = effects_of(fo.value)
    if fo.owner is None:
        out.doc |= set(fo.reads)
    else:
        out.row |= set(fo.reads)
        out.doc |= set(fo.doc_reads)
    return out


def note_effects(info) -> None:
    """Once a document checks clean: a formula's `reads` (a record formula's
    `doc_reads`) gain what the procedures and methods it calls read, so that
    formulas are ordered and recomputed after what those read; then every
    policy, formula and bubble gets its `effects`."""
    formulas = list(info.formulas.values()) + [fo for s in info.records.values() for fo in s.formulas.values()]
    for fo in formulas:
        names = fo.reads if fo.owner is None else fo.doc_reads
        for n in ast.walk(fo.value):
            if isinstance(n, ast.Call) and isinstance(n.ref, Ref) and isinstance(n.ref.target, FuncInfo) \
                    and n.ref.target.kind != "function" and n.ref.target.decl is not None:
                names |= of_function(n.ref.target).doc
    for p in info.policies.values():
        p.effects = effects_of(p.decl.body)
    for s in info.records.values():
        for p in s.policies.values():
            p.effects = effects_of(p.decl.body)
    for fo in formulas:
        fo.effects = of_formula(fo)


__all__ = ["effects_of", "note_effects", "of_formula", "of_function"]
