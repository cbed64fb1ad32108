"""`advm fmt FILE|DIR... [--check | --write]`: the canonical layout of documents.

Without a flag it prints each document's canonical form on stdout. `--check`
changes nothing and exits 1 naming every file whose layout differs; `--write`
rewrites those files in place, each whole or not at all (a temporary file in
the same folder renamed over the original). The layout rules are in
spec/syntax.md ("Canonical form"); compiler/format.py applies them.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from .base import Command, ExitCode, Failure, err, plural, read_documents
from .check import expand


def write_atomically(path: str, text: str) -> None:
    """Replace `path` with `text`: a temporary file beside it, flushed, then renamed over it."""
    target = Path(path)
    mode = target.stat().st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run(args: argparse.Namespace) -> ExitCode:
    from ..compiler.format import FormatError, format_source

    paths = expand(args.files)
    formatted, problems = [], []
    for path, text in read_documents(paths):
        try:
            formatted.append((path, text, format_source(text)))
        except FormatError as e:
            problems.append(f"{path}: cannot format: {e}")
    if problems and not (args.check or args.write):
        raise Failure("\n".join(problems))
    changed = [path for path, text, new in formatted if new != text]
    if args.check:
        for path in changed:
            err(f"{path}: would reformat")
        for line in problems:
            err(line)
        err(f"{plural(len(changed), 'file')} would be reformatted, "
            f"{len(formatted) - len(changed)} already formatted"
            + (f", {len(problems)} not formatted" if problems else ""))
        return ExitCode.FAILURE if changed or problems else ExitCode.OK
    if args.write:
        for path, text, new in formatted:
            if new != text:
                write_atomically(path, new)
                err(f"{path}: reformatted")
        for line in problems:
            err(line)
        return ExitCode.FAILURE if problems else ExitCode.OK
    for _, _, new in formatted:
        sys.stdout.write(new)
    return ExitCode.OK


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE|DIR",
                   help="Adama documents (.adb), or folders: every .adb under them, recursively")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="change nothing; exit 1 and name every file whose layout differs")
    mode.add_argument("--write", action="store_true",
                      help="rewrite files in place (each whole or not at all)")


COMMAND = Command(
    "fmt",
    "print documents in their canonical layout (--check: which differ; --write: rewrite them)",
    add_arguments,
    run,
    success="formatted (with --check: every file already is)",
    failure="with --check, a file would be reformatted; or a file cannot be formatted "
            "(it has syntax errors: `advm check` shows them)",
)
