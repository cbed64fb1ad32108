"""From a checked compilation to a machine module (the compiler's last stage)."""
from __future__ import annotations

from . import compile_source
from .codegen import CodegenError, generate


def build_module(compilation):
    """The assembled `vm.module.Module` of an error-free compilation.

    Raises CodegenError when the document has errors or holds something code
    generation cannot translate, and vm.errors.AssemblyError when an operand
    does not fit its instruction field (a function too large for its jumps)."""
    return generate(compilation).assemble()


def build_source(text: str, filename: str = "<input>"):
    """Compile source text to a module; raises CodegenError listing the
    diagnostics when the document does not check."""
    comp = compile_source(text, filename)
    if not comp.ok:
        raise CodegenError(f"{filename} has errors:\n{comp.render()}")
    return build_module(comp)


__all__ = ["CodegenError", "build_module", "build_source"]
