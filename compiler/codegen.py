"""Code generation: the checked tree -> symbolic machine instructions.

`generate(compilation)` returns an assembler module (vm/assembler.py) in four
stages, each handed what it needs:

1. layout.py `lay_out(info, asm)`: the record layouts and slots, and the
   names of the bodies (a `Layout`);
2. gen_doc.py `declare_bodies(info, layout, asm)`: one function per body of
   the document, created before any is written so every call can name any;
3. every body written by `Stages` (below): one `Emitter` (emitter.py: the
   function being written, its registers, locals and source positions)
   shared by the stages that translate the tree: expressions (gen_expr.py),
   structured values (gen_data.py), calls and the library (gen_call.py),
   statements (gen_stmt.py) and queries (gen_query.py). Each takes the
   emitter, the checked document info and the layout, and is connected to
   the other stages it hands sub-trees to;
4. gen_doc.py `module_meta`: what the runtime and the views read.

Following one statement from source to run, `transition #s in d;`: parsed by
parser.py (`visit_transition_stmt`, grammar rule `transition_stmt` in
spec/grammar.peg) into `ast.Transition`; checked by check_stmt.py
(`s_Transition`: the body may transition, the target is a state label, the
delay a number of seconds; a call of a procedure that may transition is
checked through effects.py); compiled by gen_stmt.py `Statements.s_Transition` into writes of
the document's hidden slots NEXT and NEXT_IN (vm/docslots.py); executed by
the runtime: after the transaction commits, runtime/living.py
(`LivingDocument._committed`) takes them with runtime/engine.py
`Engine.take_pending` and keeps the state as pending, due at its time; when
that time comes `LivingDocument._run_due` has `Engine.run_state` run the
state's body, the function `state.<s>` (named in layout.py, listed in the
module's meta["states"]), as a transaction of its own.
"""
from __future__ import annotations

import hashlib

from . import ast
from .emitter import CodegenError, Emitter
from .gen_call import Calls
from .gen_data import Data
from .gen_doc import declare_bodies, module_meta
from .gen_expr import Expressions
from .gen_query import Queries
from .gen_stmt import Statements
from .layout import lay_out
from ..vm.assembler import ModuleAsm


class Stages:
    """The stages that write bodies, connected to each other once per module.

    `translate` maps each expression class to the `g_<Class>` method of the
    stage that translates it: `Expressions.expr` dispatches through it."""

    def __init__(self, source, info, layout, asm):
        self.em = em = Emitter(source)
        self.exprs = Expressions(em, info, layout)
        self.data = Data(em, info, layout)
        self.calls = Calls(em, info, layout, asm)
        self.stmts = Statements(em, info, layout)
        self.queries = Queries(em, info, layout)
        translate = {}
        for stage in (self.exprs, self.data, self.calls, self.stmts, self.queries):
            for name in dir(type(stage)):
                if name.startswith("g_"):
                    translate[getattr(ast, name[2:])] = getattr(stage, name)
        self.exprs.connect(translate, self.data, self.calls, self.stmts)
        self.data.connect(self.exprs, self.calls)
        self.calls.connect(self.exprs, self.data, self.stmts)
        self.calls.each_item = self.queries.each_item  # a method called on every row (5.19)
        self.stmts.connect(self.exprs, self.data, self.calls, self.queries)
        self.queries.connect(self.exprs, self.data, self.calls, self.stmts)


def generate(compilation) -> ModuleAsm:
    """The assembler module of a checked, error-free compilation."""
    if not compilation.ok or compilation.program is None:
        raise CodegenError("cannot generate code for a document with errors")
    info, source = compilation.info, compilation.source
    asm = ModuleAsm(source.filename, hashlib.sha256(source.text.encode("utf-8")).hexdigest())
    layout = lay_out(info, asm)
    bodies = declare_bodies(info, layout, asm)
    stages = Stages(source, info, layout, asm)
    for body in bodies:
        span = body.node.span if body.node is not None else None
        try:
            stages.em.begin(body.f, body.params, body.result, body.node, span)
            body.make(stages)
        except CodegenError:
            raise
        except Exception as exc:  # a generator bug must name the body it failed in
            raise CodegenError(f"internal code generation error in {body.name}: {type(exc).__name__}: {exc}",
                               span) from exc
    asm.meta = module_meta(info, layout, asm)
    return asm


__all__ = ["CodegenError", "Stages", "generate"]
