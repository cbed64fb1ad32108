"""One document as the commands see it: a module to run, and its source text
when it can be had, whether the file named was an `.adb` or an `.advc`.

Loading turns every way an input can be wrong into `Failure` (exit 1) with a
message a person can act on: compile errors as `advm check` renders them, a
module file that is truncated, corrupt or of another format version, code the
generator cannot translate. Only an unreadable file is a `UsageError` (exit 2).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from .base import Failure, decode_text, plural, read_bytes

MODULE_SUFFIX = ".advc"
SOURCE_SUFFIX = ".adb"

# What the document runtime reads from a module's meta table, and the type
# each must have. A module read from a file is checked against this before
# anything runs, so a file that decodes but lacks them is reported as
# corrupt instead of failing deep inside the runtime.
META_SHAPE = {
    "init": str, "handlers": dict, "channels": dict, "states": dict, "document": dict,
    "formulas": dict, "formula_order": list, "tests": dict, "static": dict,
    "records": dict, "messages": dict, "enums": dict,
}


@dataclass
class Program:
    path: str  # the file named on the command line
    module: object  # vm.module.Module
    source: str | None  # the document's text; None for a module whose source is not at hand
    from_module_file: bool  # read from an .advc: a broken module is that file's fault
    compilation: object | None = None  # the front end's result, for an .adb (its warnings)

    @property
    def filename(self) -> str:
        """The source file name the module's positions refer to."""
        return self.module.filename

    def source_line(self, line: int) -> str | None:
        if self.source is None:
            return None
        lines = self.source.splitlines()
        return lines[line - 1] if 0 < line <= len(lines) else None


def summary(filename: str, diagnostics) -> str:
    errors = sum(1 for d in diagnostics if d.severity == "error")
    others = len(diagnostics) - errors
    if not diagnostics:
        return f"{filename}: ok"
    parts = [plural(errors, "error")] if errors else ["ok"]
    if others:
        parts.append(plural(others, "warning"))
    return f"{filename}: " + ", ".join(parts)


def is_module(path: str, data: bytes) -> bool:
    from ..vm.module import MAGIC

    # The suffix decides for a damaged module (so it is reported as one);
    # the magic decides for a module saved under another name.
    return path.endswith(MODULE_SUFFIX) or data.startswith(MAGIC)


def load(path: str, spaces=None) -> Program:
    """`spaces`: where its `space NAME;` programs are (compiler/spaces.py; None: beside it)."""
    data = read_bytes(path)
    if is_module(path, data):
        return load_module(path, data)
    return compile_document(path, decode_text(path, data), spaces)


def compile_document(path: str, text: str, spaces=None) -> Program:
    """Check and build a document; Failure carries the diagnostics when it has errors."""
    from .. import compiler
    from ..compiler.build import CodegenError, build_module
    from ..vm.errors import AssemblyError

    comp = compiler.compile_source(text, path, spaces)
    if not comp.ok:
        rendered = comp.render()
        raise Failure(
            f"{rendered}\n\n{summary(path, comp.diagnostics)}",
            {"filename": path, "ok": False, "diagnostics": comp.to_json()},
        )
    try:
        module = build_module(comp)
    except (CodegenError, AssemblyError) as e:
        span = getattr(e, "span", None)
        where = path
        if span is not None:
            line, col = comp.source.line_col(span.start)
            where = f"{path}:{line}:{col}"
        raise Failure(
            f"{where}: error: cannot compile: {e}",
            {"filename": path, "ok": False,
             "error": {"kind": "codegen", "message": str(e), "position": where}},
        ) from None
    return Program(path, module, text, from_module_file=False, compilation=comp)


def corrupt(path: str, message: str) -> Failure:
    return Failure(f"advm: error: {path}: {message}",
                   {"filename": path, "ok": False, "error": {"kind": "module", "message": message}})


def load_module(path: str, data: bytes) -> Program:
    from ..vm.errors import ModuleFormatError
    from ..vm.module import Module

    try:
        module = Module.from_bytes(data)
    except ModuleFormatError as e:
        raise corrupt(path, str(e)) from None
    for key, typ in META_SHAPE.items():
        if not isinstance(module.meta.get(key), typ):
            raise corrupt(path, f"corrupt module: its document table has no valid {key!r}")
    return Program(path, module, find_source(module, path), from_module_file=True)


def find_source(module, module_path: str) -> str | None:
    """The text the module was compiled from, if a file beside the module (or
    at the path it was compiled from) still holds exactly that text."""
    here = Path(module_path).parent
    recorded = Path(module.filename)
    candidates = [here / recorded.name, recorded,
                  Path(module_path).with_suffix(SOURCE_SUFFIX)]
    for candidate in candidates:
        try:
            text = candidate.read_bytes().decode("utf-8").removeprefix("\ufeff")
        except (OSError, UnicodeDecodeError):
            continue
        if hashlib.sha256(text.encode("utf-8")).hexdigest() == module.source_hash:
            return text
    return None


def new_document(program: Program, key: str = "main"):
    """A fresh (not yet created) document running the program's module."""
    from ..runtime.engine import Engine
    from ..vm.errors import VerifyError

    try:
        return Engine(program.module, key=key)
    except VerifyError as e:
        if program.from_module_file:
            raise corrupt(program.path, f"corrupt module: {e}") from None
        raise
    except (KeyError, IndexError, TypeError, ValueError) as e:
        # Checksums pass, so the file was written this way; from our own
        # compiler's output the same exception is a bug and must surface.
        if program.from_module_file:
            raise corrupt(program.path, f"corrupt module: cannot load it ({type(e).__name__}: {e})") from None
        raise


def split_position(position: str) -> tuple[str, int, int] | None:
    """("doc.adb", 3, 7) from "doc.adb:3:7"; None for anything else."""
    parts = position.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit() or not parts[2].isdigit():
        return None
    return parts[0], int(parts[1]), int(parts[2])


def excerpt(program: Program, position: str) -> list[str]:
    """The source line of a runtime position with a caret under its column,
    in the gutter layout diagnostics use; empty when the source is not at hand."""
    where = split_position(position)
    if where is None:
        return []
    _, line, col = where
    text = program.source_line(line)
    if text is None:
        return []
    gutter = str(line)
    pad = " " * len(gutter)
    lead = "".join("\t" if ch == "\t" else " " for ch in text[: col - 1])
    return [f"{pad} |", f"{gutter} | {text}", f"{pad} | {lead}^"]
