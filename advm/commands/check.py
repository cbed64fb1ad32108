"""`advm check FILE...`: parse and type-check documents, print every diagnostic."""
from __future__ import annotations

import argparse

from .base import Command, ExitCode, add_json_flag, err, out_json, read_documents
from .program import summary


def run(args: argparse.Namespace) -> ExitCode:
    from .. import compiler  # looked up per call so tests can substitute compile_source

    results = [compiler.compile_source(text, path) for path, text in read_documents(args.files)]
    if args.json:
        out_json({
            "files": [
                {"filename": c.source.filename, "ok": c.ok, "diagnostics": c.to_json()}
                for c in results
            ]
        })
    else:
        for c in results:
            if c.diagnostics:
                err(c.render())
                err()
            err(summary(c.source.filename, c.diagnostics))
    return ExitCode.OK if all(c.ok for c in results) else ExitCode.FAILURE


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help="Adama documents (.adb)")
    add_json_flag(p, "the diagnostics")


COMMAND = Command("check", "parse and type-check documents; print every diagnostic", add_arguments, run)
