"""The `advm` command line: argument parsing, one exit-code scheme, nothing else.

Each subcommand is a `Command` row (advm/commands/, one module per command):
how it adds its arguments and a `run` function that calls library code and
returns an `ExitCode`. New commands are new rows; `main` is the one place
that turns exceptions into exit codes, so every command reports failure the
same way.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Sequence

from . import __version__
from .commands import (authority, check, cluster, deploy, disasm, fmt, lsp, new, replay, run, runtests, serve, snapshot,
                       space, token, types)
from .commands import compile as compile_command
from .commands.base import (EXIT_CODES_HELP, Command, ExitCode, Failure, UsageError, err,
                            read_document, read_documents)

COMMANDS: list[Command] = [
    check.COMMAND,
    cluster.COMMAND,
    compile_command.COMMAND,
    deploy.COMMAND,
    disasm.COMMAND,
    fmt.COMMAND,
    lsp.COMMAND,
    new.COMMAND,
    replay.COMMAND,
    run.COMMAND,
    runtests.COMMAND,
    serve.COMMAND,
    snapshot.COMMAND,
    space.COMMAND,
    token.COMMAND,
    types.COMMAND,
    authority.COMMAND,
]

EXAMPLES_HELP = """\
examples:
  advm new duel                                 a starter document and its session
  advm check examples/todo.adb                  diagnostics, exit 1 on errors
  advm compile examples/todo.adb -o todo.advc   write the module file
  advm disasm todo.advc                         bytecode under its source lines
  advm fmt --check examples                     which documents are not in canonical layout
  advm run examples/tictactoe.adb               serve it live on 127.0.0.1:8080
  advm run --once examples/todo.adb --as alice@users
                                                create one in memory, print its state
  advm test examples/*.adb                      run every test block
  advm replay --log --doc main                  rebuild a stored document, verify it
  advm deploy --check v1.adb v2.adb             can v2 take v1's documents? (the plan)
  advm deploy v2.adb --store .advm              move the stored documents to v2
  advm snapshot inspect --doc main              what a stored document holds now
  advm run examples/chat.adb examples/todo.adb  two programs on one server, a space each
  advm space create ledger ledger.adb           a space in the store, served at the next run
  advm token alice                              a signed identity for alice
  advm types examples/todo.adb --lang ts        the document's client types (TypeScript; py: Python)
  advm authority add corp --jwks-url https://id.corp/.well-known/jwks.json
                                                accept corp's JWTs as sub@corp

"""


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
        description="Living documents: check, compile, run and test Adama documents.",
        epilog=EXAMPLES_HELP + EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("-V", "--version", action="version", version=f"advm {__version__}")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="let internal errors raise with a full traceback",
    )
    # Not required: bare `advm` prints this help (main).
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for cmd in COMMANDS:
        p = sub.add_parser(
            cmd.name,
            help=cmd.summary,
            description=cmd.summary,
            parents=[common],
            epilog=cmd.exit_help(),
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
    if args.command is None:  # bare `advm` (or only --debug): what a newcomer needs first
        parser.print_help()
        return ExitCode.OK
    try:
        return int(args.run(args))
    except UsageError as e:
        for message in e.messages:
            err(f"advm: error: {message}")
        return ExitCode.USAGE
    except Failure as e:
        # With --json a program reads stdout only, so the failure goes there too.
        if getattr(args, "json", False) and e.data is not None:
            print(json.dumps(e.data, indent=2))
        else:
            err(e.text)
        return ExitCode.FAILURE
    except BrokenPipeError:
        # The reader went away (`advm disasm doc.adb | head`): not a bug, and
        # nothing more can be said on stdout. Point it at /dev/null so the
        # interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return ExitCode.FAILURE
    except KeyboardInterrupt:
        err("advm: interrupted")
        return ExitCode.INTERRUPTED
    except Exception as e:
        if args.debug:
            raise
        err(f"advm: internal error: {type(e).__name__}: {e}")
        err("advm: this is a bug in advm; rerun with --debug to see the traceback")
        return ExitCode.INTERNAL


__all__ = ["COMMANDS", "EXIT_CODES_HELP", "Command", "ExitCode", "Failure", "UsageError", "main",
           "read_document", "read_documents"]
