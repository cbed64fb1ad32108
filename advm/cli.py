"""The `advm` command line: argument parsing, one exit-code scheme, nothing else.

Each subcommand is a `Command` row: how it adds its arguments and a `run`
function that calls library code and returns an `ExitCode`. Later commands
(run, compile, disasm, replay, snapshot) are new rows; `main` is the one place
that turns exceptions into exit codes, so every command reports failure the
same way.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Callable, Sequence

from . import __version__


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1  # the input was read and is wrong: diagnostics were printed
    USAGE = 2  # bad arguments, or an input that could not be read at all
    INTERNAL = 3  # a bug in advm; --debug shows the traceback
    INTERRUPTED = 130  # the shell's convention for Ctrl-C


EXIT_CODES_HELP = """\
exit status:
  0    success: every file is clean
  1    failure: a document has errors (the diagnostics say where)
  2    usage or input error: bad arguments, a missing or unreadable file,
       a file that is not UTF-8 text
  3    internal error: a bug in advm (rerun with --debug for the traceback)
  130  interrupted (Ctrl-C)
"""


class UsageError(Exception):
    """The user asked for something that cannot be done: exit 2.

    Carries one message per problem so a command can report every bad input
    at once instead of the first only.
    """

    def __init__(self, *messages: str):
        super().__init__(*messages)
        self.messages = messages


def err(text: str = "") -> None:
    print(text, file=sys.stderr)


def read_document(path: str) -> str:
    """The text of one `.adb` file, or a UsageError that names the file."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory, not a document") from None
    except OSError as e:
        raise UsageError(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise UsageError(
            f"{path}: not UTF-8 text (byte 0x{data[e.start]:02x} on line {line})"
        ) from None
    # Editors on some systems write a byte-order mark; it is not part of the program.
    return text.removeprefix("\ufeff")


def read_documents(paths: Sequence[str]) -> list[tuple[str, str]]:
    """Read every input before doing any work, reporting all unreadable ones."""
    texts, problems = [], []
    for path in paths:
        try:
            texts.append((path, read_document(path)))
        except UsageError as e:
            problems.extend(e.messages)
    if problems:
        raise UsageError(*problems)
    return texts


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def summary(filename: str, diagnostics: Sequence) -> str:
    errors = sum(1 for d in diagnostics if d.severity == "error")
    others = len(diagnostics) - errors
    if not diagnostics:
        return f"{filename}: ok"
    parts = [plural(errors, "error")] if errors else ["ok"]
    if others:
        parts.append(plural(others, "warning"))
    return f"{filename}: " + ", ".join(parts)


# ---------------------------------------------------------------- commands


def run_check(args: argparse.Namespace) -> ExitCode:
    from .compiler import compile_source

    results = [compile_source(text, path) for path, text in read_documents(args.files)]
    if args.json:
        doc = {
            "files": [
                {"filename": c.source.filename, "ok": c.ok, "diagnostics": c.to_json()}
                for c in results
            ]
        }
        print(json.dumps(doc, indent=2))
    else:
        for c in results:
            if c.diagnostics:
                err(c.render())
                err()
            err(summary(c.source.filename, c.diagnostics))
    return ExitCode.OK if all(c.ok for c in results) else ExitCode.FAILURE


def add_check_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help="Adama documents (.adb)")
    p.add_argument(
        "--json",
        action="store_true",
        help="print the diagnostics as one JSON document on stdout",
    )


@dataclass(frozen=True)
class Command:
    name: str
    summary: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], ExitCode]


COMMANDS = [
    Command(
        "check",
        "parse and type-check documents; print every diagnostic",
        add_check_arguments,
        run_check,
    ),
]


# ---------------------------------------------------------------- parsing


def build_parser() -> argparse.ArgumentParser:
    # --debug is accepted before or after the command name; SUPPRESS on the
    # subcommand copy keeps it from resetting a value given before the name.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="let internal errors raise with a full traceback",
    )
    parser = argparse.ArgumentParser(
        prog="advm",
        description="Living documents: compile and check Adama documents.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"advm {__version__}")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="let internal errors raise with a full traceback",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for cmd in COMMANDS:
        p = sub.add_parser(
            cmd.name,
            help=cmd.summary,
            description=cmd.summary,
            parents=[common],
            epilog=EXIT_CODES_HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        cmd.add_arguments(p)
        p.set_defaults(run=cmd.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse's own exits: --help/--version 0, bad usage 2
        return e.code if isinstance(e.code, int) else ExitCode.USAGE
    try:
        return int(args.run(args))
    except UsageError as e:
        for message in e.messages:
            err(f"advm: error: {message}")
        return ExitCode.USAGE
    except KeyboardInterrupt:
        err("advm: interrupted")
        return ExitCode.INTERRUPTED
    except Exception as e:
        if args.debug:
            raise
        err(f"advm: internal error: {type(e).__name__}: {e}")
        err("advm: this is a bug in advm; rerun with --debug to see the traceback")
        return ExitCode.INTERNAL
