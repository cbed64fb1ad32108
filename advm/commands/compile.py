"""`advm compile doc.adb [-o doc.advc]`: check a document and write its module file."""
from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from .base import Command, ExitCode, UsageError, add_json_flag, err, out_json, read_bytes
from .program import MODULE_SUFFIX, compile_document, is_module, summary


def default_output(source: str) -> str:
    return str(Path(source).with_suffix(MODULE_SUFFIX))


def write_atomically(path: str, data: bytes) -> None:
    """Write the whole file or nothing: a module cut short by a crash or a full
    disk would otherwise sit where the next `advm run` finds it."""
    target = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp",
                                   dir=target.parent if str(target.parent) else ".")
    except OSError as e:
        raise UsageError(f"{path}: cannot write: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise UsageError(f"{path}: cannot write: {e.strerror or e}") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run(args: argparse.Namespace) -> ExitCode:
    from .base import decode_text

    data = read_bytes(args.file)
    if is_module(args.file, data):
        raise UsageError(f"{args.file}: is already a compiled module; compile its .adb source")
    output = args.output or default_output(args.file)
    if Path(output).resolve() == Path(args.file).resolve():
        raise UsageError(f"{output}: the output would overwrite the source; choose another -o")
    program = compile_document(args.file, decode_text(args.file, data))
    blob = program.module.to_bytes()
    write_atomically(output, blob)
    comp = program.compilation
    if args.json:
        out_json({"filename": args.file, "ok": True, "diagnostics": comp.to_json(),
                  "output": output, "bytes": len(blob),
                  "functions": len(program.module.functions)})
    else:
        if comp.diagnostics:  # warnings do not stop a build, but are worth seeing
            err(comp.render())
            err()
        err(f"{summary(args.file, comp.diagnostics)} -> {output} ({len(blob)} bytes, "
            f"{len(program.module.functions)} functions)")
    return ExitCode.OK


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="FILE", help="an Adama document (.adb)")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="where to write the module (default: FILE with the suffix .advc)")
    add_json_flag(p, "the result (diagnostics on failure)")


COMMAND = Command(
    "compile",
    "check a document and write its module file (.advc)",
    add_arguments,
    run,
    success="the module file was written",
    failure="the document has errors or cannot be compiled; nothing was written",
)
