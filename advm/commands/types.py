"""`advm types DOC --lang ts|py`: the TypeScript declarations or the typed
Python module of a document's channels, asks, constructor and view
(spec/protocol.md 8.19), for the JavaScript client (clients/js) and the Python
one (advm.net.client). Works on an `.adb` and on an `.advc`; writes to stdout,
or to `-o FILE`."""
from __future__ import annotations

import argparse
from pathlib import Path

from .base import Command, ExitCode, UsageError
from .program import load


def run(args: argparse.Namespace) -> ExitCode:
    from ..net.typegen import python, type_prefix, typescript

    program = load(args.file)
    prefix = args.name or type_prefix(Path(args.file).stem)
    if not prefix.isidentifier():
        raise UsageError(f"advm types: --name must be an identifier, not {prefix!r}")
    render = typescript if args.lang == "ts" else python
    text = render(program.module.meta, prefix, Path(args.file).name)
    if args.output is None:
        print(text, end="")
    else:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as e:
            raise UsageError(f"advm types: cannot write {args.output}: {e.strerror}") from None
    return ExitCode.OK


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("file", metavar="DOC", help="an Adama document (.adb) or a compiled module (.advc)")
    p.add_argument("--lang", choices=("ts", "py"), required=True,
                   help="ts: TypeScript declarations for @advm/client; py: a typed module for advm.net.client")
    p.add_argument("--name", metavar="PREFIX",
                   help="the prefix of the View, Channels, Asks and Connection types (default: from DOC's name)")
    p.add_argument("-o", "--output", metavar="FILE", help="write the types here instead of to stdout")


COMMAND = Command(
    "types",
    "print a document's client types (channels, asks, view) for TypeScript or Python",
    add_arguments,
    run,
    success="the types were written",
    failure="the document has errors, or the module file is corrupt",
)
