"""`advm check FILE|DIR...`: parse and type-check documents, print every diagnostic.

A folder stands for every `.adb` file under it, recursively, in sorted order.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from .base import Command, ExitCode, UsageError, add_json_flag, err, out_json, read_documents
from .program import summary


def expand(paths: list[str]) -> list[str]:
    """Each folder replaced by the .adb files under it (sorted, recursively);
    files are kept as given. A folder without any is a usage error, since a
    check of nothing would pass."""
    files, empty = [], []
    for path in paths:
        if not Path(path).is_dir():
            files.append(path)
            continue
        found = sorted(str(p) for p in Path(path).rglob("*.adb") if p.is_file())
        if not found:
            empty.append(f"{path}: no .adb files in this folder")
        files.extend(found)
    if empty:
        raise UsageError(*empty)
    return files


def run(args: argparse.Namespace) -> ExitCode:
    from .. import compiler  # looked up per call so tests can substitute compile_source

    from ..compiler.lints import lint

    paths = expand(args.files)
    results = [compiler.compile_source(text, path) for path, text in read_documents(paths)]
    for c in results:
        lint(c)  # who can connect, who can create: warnings only
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
    p.add_argument("files", nargs="+", metavar="FILE|DIR",
                   help="Adama documents (.adb), or folders: every .adb under them, recursively")
    add_json_flag(p, "the diagnostics")


COMMAND = Command(
    "check",
    "parse and type-check documents (or every .adb under a folder); print every diagnostic",
    add_arguments,
    run,
    success="every document is free of errors (warnings do not fail a file)",
    failure="a document has errors (the diagnostics say where)",
)
