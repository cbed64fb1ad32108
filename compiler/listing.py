"""`advm disasm`: a compiled document's code, each group of instructions under
the source line it came from (one `emit()` stamps every instruction with its
node's position, vm/disasm.py prints them)."""
from __future__ import annotations

from . import compile_source
from .build import CodegenError, build_module
from ..vm.disasm import disasm, disasm_function


def listing(compilation, function: str | None = None) -> str:
    """The listing of an error-free compilation (only `function` when given:
    a module function name such as `channel.say` or `fn.fib`)."""
    module = build_module(compilation)
    text = compilation.source.text
    if function is None:
        return disasm(module, text)
    for fn in module.functions:
        if fn.name == function:
            return "\n".join(disasm_function(module, fn, text.splitlines())) + "\n"
    names = ", ".join(f.name for f in module.functions)
    raise KeyError(f"no function {function!r} (the module has: {names})")


def listing_of_source(text: str, filename: str = "<input>", function: str | None = None) -> str:
    comp = compile_source(text, filename)
    if not comp.ok:
        raise CodegenError(f"{filename} has errors:\n{comp.render()}")
    return listing(comp, function)


__all__ = ["listing", "listing_of_source"]
