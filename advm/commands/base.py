"""What every command shares: the exit-code scheme, the two ways a command
fails, and reading input files.

A command returns an `ExitCode` or raises `UsageError` (exit 2: the input
could not be used at all) or `Failure` (exit 1: the input was read and is
wrong). `advm.cli.main` is the one place that turns these, and everything
else, into exit codes and stderr text.
"""
from __future__ import annotations

import argparse
import json
import sys
import textwrap
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Callable, Sequence


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1  # the input was read and is wrong: the output says where
    USAGE = 2  # bad arguments, or an input that could not be read at all
    INTERNAL = 3  # a bug in advm; --debug shows the traceback
    INTERRUPTED = 130  # the shell's convention for Ctrl-C


EXIT_CODES_HELP = """\
exit status:
  0    success: every file is clean, every test passed, the document ran
  1    failure: a document has errors, a test failed, a transaction
       failed, or a module file is corrupt (the output says where)
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


class Failure(Exception):
    """The input was read and is wrong: exit 1.

    `text` is what a person reads on stderr (already rendered: diagnostics,
    a runtime error with its source line); `data` is the same failure for
    `--json`, printed on stdout so a program always gets one JSON document.
    """

    def __init__(self, text: str, data: dict | None = None):
        super().__init__(text)
        self.text = text
        self.data = data


@dataclass(frozen=True)
class Command:
    name: str
    summary: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], ExitCode]
    # What exit 0 and exit 1 mean for this command, for its --help; a command
    # that never fails with 1 (only with usage errors) leaves `failure` out.
    success: str = "success"
    failure: str | None = None

    def exit_help(self) -> str:
        """The exit-status section of this command's --help: the one scheme,
        with only the codes and meanings that apply to it."""
        rows = [(ExitCode.OK, self.success)]
        if self.failure:
            rows.append((ExitCode.FAILURE, self.failure))
        rows += [(ExitCode.USAGE, "usage or input error: bad arguments, a missing or unreadable "
                                  "file, a file that is not UTF-8 text"),
                 (ExitCode.INTERNAL, "internal error: a bug in advm (rerun with --debug for the "
                                     "traceback)"),
                 (ExitCode.INTERRUPTED, "interrupted (Ctrl-C)")]
        lines = ["exit status:"]
        for code, text in rows:
            lines += textwrap.wrap(text, 72, initial_indent=f"  {int(code):<5}",
                                   subsequent_indent=" " * 7)
        return "\n".join(lines) + "\n"


def err(text: str = "") -> None:
    print(text, file=sys.stderr)


def out_json(data) -> None:
    print(json.dumps(data, indent=2))


def add_json_flag(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--json", action="store_true", help=f"print {what} as one JSON document on stdout")


def read_bytes(path: str) -> bytes:
    """The bytes of one input file, or a UsageError that names the file."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{path}: is a directory, not a document") from None
    except OSError as e:
        raise UsageError(f"{path}: cannot read: {e.strerror or e}") from None


def decode_text(path: str, data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise UsageError(
            f"{path}: not UTF-8 text (byte 0x{data[e.start]:02x} on line {line})"
        ) from None
    # Editors on some systems write a byte-order mark; it is not part of the program.
    return text.removeprefix("\ufeff")


def read_document(path: str) -> str:
    """The text of one `.adb` file, or a UsageError that names the file."""
    return decode_text(path, read_bytes(path))


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
