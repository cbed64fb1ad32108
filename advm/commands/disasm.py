"""`advm disasm FILE`: a module's code, each group of instructions under the
source line it came from. Works on an `.adb` (compiled in memory) and on an
`.advc`; for a module whose source is not beside it (or has changed since it
was compiled) the listing keeps the file name and line:col of every
instruction but shows no source lines."""
from __future__ import annotations

import argparse

from .base import Command, ExitCode, Failure, add_json_flag, err, out_json
from .program import Program, load


def functions_of(program: Program, name: str | None) -> list:
    fns = program.module.functions
    if name is None:
        return fns
    chosen = [f for f in fns if f.name == name]
    if not chosen:
        names = ", ".join(f.name for f in fns)
        raise Failure(f"advm: error: {program.path}: no function {name!r} (the module has: {names})",
                      {"filename": program.path, "ok": False,
                       "error": {"kind": "input", "message": f"no function {name!r}"}})
    return chosen


def text_listing(program: Program, name: str | None) -> str:
    from ..vm.disasm import disasm, disasm_function

    if name is None:
        return disasm(program.module, program.source)
    lines = program.source.splitlines() if program.source is not None else None
    out = []
    for fn in functions_of(program, name):
        out.extend(disasm_function(program.module, fn, lines))
    return "\n".join(out) + "\n"


def instruction_json(ins, with_source: bool) -> dict:
    """One record of vm.disasm.instructions() as `--json` shows it."""
    item = {"pc": ins.pc, "line": ins.line, "col": ins.col}
    if with_source:
        item["source"] = ins.source
    if ins.op is None:
        item.update(op=None, word=ins.word, operands=[], semantics=None)
    else:
        item.update(op=ins.op, operands=[{"kind": o.kind, "value": o.value, "text": o.text} for o in ins.operands],
                    semantics=ins.semantics)
    return item


def json_listing(program: Program, name: str | None) -> dict:
    # imported here: `advm` loads every command module at start (commands/__init__.py)
    from ..vm.disasm import instructions

    m = program.module
    lines = program.source.splitlines() if program.source is not None else None
    functions = []
    for fn in functions_of(program, name):
        code = [instruction_json(ins, lines is not None) for ins in instructions(m, fn, lines)]
        functions.append({
            "name": fn.name, "params": list(fn.params), "result": fn.result or None,
            "registers": dict(zip("ido", fn.nregs)), "words": len(fn.code), "code": code,
        })
    return {
        "filename": program.path,
        "source": m.filename,
        "source_lines": program.source is not None,
        "hosts": [{"name": h.name, "params": list(h.params), "result": h.result or None}
                  for h in m.hosts],
        "records": [{"name": r.name, "fields": [{"name": f, "kind": k} for f, k in zip(r.fields, r.kinds)]}
                    for r in m.records],
        "functions": functions,
    }


def run(args: argparse.Namespace) -> ExitCode:
    program = load(args.file)
    if args.json:
        out_json(json_listing(program, args.function))
        return ExitCode.OK
    listing = text_listing(program, args.function)
    if program.source is None:
        err(f"advm: note: the source of {program.path} ({program.filename}) is not beside it "
            f"or has changed since it was compiled; positions only")
    print(listing, end="")
    return ExitCode.OK


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help="an Adama document (.adb) or a compiled module (.advc)")
    p.add_argument("--function", metavar="NAME",
                   help="list only this function (a module name such as channel.say or fn.clean)")
    add_json_flag(p, "the instructions")


COMMAND = Command(
    "disasm",
    "print a document's bytecode, interleaved with its source lines",
    add_arguments,
    run,
    success="the listing was printed",
    failure="the document has errors, or the module file is corrupt",
)
