"""`advm run FILE`: run a document.

Without a mode flag the program is served (advm/commands/serve.py): the
compiler, the store in ./.advm, the host and a WebSocket server with the
browser page on 127.0.0.1:8080, until Ctrl-C. `advm serve FILE` is the same.
The other modes are flags:

`--once`: create the document in memory as one principal (field defaults,
then @construct with `--arg`) on the one runtime host (runtime/host.py), which
asks `@static create` first and runs every transition that is due at once
until the document is idle (at most MAX_IMMEDIATE in a row, the runtime's one
cap), print its state and exit.

`--script FILE` (or `-` for standard input): a scripted session
(advm/session.py, spec/sessions.md): one JSON input per line in, one JSON
frame per line out, each written and flushed as soon as it is made. The
document lives in the durable store (`--store DIR`, default ./.advm) under
`--doc KEY` (default main): every input is logged before its frames are
printed, `restart` recovers from the store, and a later run continues the
same document. `--memory` keeps it in memory instead.

Idle means: no transition is due now. A transition scheduled for later is
reported as `pending`, a body waiting on an ask as `waiting`; neither is run,
since nobody can answer or let time pass in this mode. The clock is fixed at
2026-01-01T00:00:00Z (where scripted sessions start too), so a run is
deterministic: the same file, argument and principal give the same output.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .base import (Command, ExitCode, Failure, UsageError, add_json_flag, decode_text, err, out_json,
                   read_bytes)
from .program import Program, excerpt, load, new_document

DEFAULT_PRINCIPAL = "advm@local"
# One default document key everywhere: --once, --script, replay, snapshot and
# the browser page all say `main` (durable.document.DEFAULT_DOC; not imported
# here because the store loads LMDB).
DEFAULT_KEY = DEFAULT_DOC = "main"
CLOCK_MS = 1767225600000  # 2026-01-01T00:00:00Z


class RunError(Exception):
    """A transaction failed while the document ran (it rolled back)."""

    def __init__(self, error, during: str, missing: list[dict] | None = None):
        super().__init__(str(error))
        self.error = error  # runtime.engine.TransactionError
        self.during = during
        # @construct's message fields --arg left out ({"name", "type"}): they
        # took their defaults, which is often why @construct refused.
        self.missing = missing or []


# What to write for a field of each type in a suggested --arg.
PLACEHOLDERS = {"string": "", "int": 0, "long": 0, "double": 0.0, "bool": False,
                "principal": "agent@authority"}


def missing_fields(doc, arg) -> list[dict]:
    """The fields of @construct's message that `arg` does not give."""
    construct = doc.meta["handlers"].get("construct") or {}
    message = doc.meta["messages"].get(construct.get("message") or "")
    if message is None:
        return []
    given = arg if isinstance(arg, dict) else {}
    return [{"name": f["name"], "type": f["type"]} for f in message["fields"]
            if f["name"] not in given]


def construct_hint(program: Program, doc_message: str, missing: list[dict], arg_given: bool) -> str:
    names = ", ".join(f["name"] for f in missing)
    if arg_given:
        said = f"--arg left out {names}, which took their defaults"
    else:
        said = f"no --arg was given, so every field took its default: {names}"
    example = {f["name"]: PLACEHOLDERS.get(f["type"]) if isinstance(f["type"], str) else None
               for f in missing}
    return (f"{program.path}: @construct takes a {doc_message} message; {said}\n"
            f"{program.path}: give them as JSON: --arg '{json.dumps(example)}'")


def parse_arg(text: str | None):
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise UsageError(f"--arg is not JSON: {e.msg} at column {e.colno}") from None
    except RecursionError:
        # Deeper than Python's reader goes; far past the 64 levels a value may hold.
        raise UsageError("--arg nests too deep (a value holds at most 64 levels of arrays "
                         "and objects)") from None


def principal_json(p: str) -> dict:
    from ..vm.docslots import agent_of, authority_of

    return {"agent": agent_of(p), "authority": authority_of(p)}


def waiting_json(doc) -> dict | None:
    """What a suspended body waits for, with its options as JSON messages."""
    from ..vm.values import to_json

    w = doc.waiting
    if w is None:
        return None
    if not isinstance(w, dict):
        return {"value": repr(w)}
    channel = doc.meta["channels"].get(w.get("channel"), {})
    options = w.get("options")
    if options is not None and channel.get("message"):
        options = [to_json(o, ["message", channel["message"]], doc.meta) for o in options]
    return {
        # The ask's id, when the runtime numbers asks: what an answer names.
        **({"id": w["id"]} if "id" in w else {}),
        "channel": w.get("channel"),
        "kind": w.get("kind"),
        "who": principal_json(w["who"]) if isinstance(w.get("who"), str) else None,
        "options": options,
        "limit": w.get("limit"),
    }


def create(program: Program, principal: str, arg, key: str):
    """The document's runtime, created in memory by `principal` on the one
    runtime host, with everything the create made due at once run (at most
    MAX_IMMEDIATE transitions in a row: runtime/living.py)."""
    from ..runtime.host import MemoryBackend, Refused, RuntimeHost
    from ..views.viewers import Viewers

    new_document(program, key)  # a module file that cannot load is reported as corrupt here
    construct = program.module.meta["handlers"].get("construct")
    if arg is not None and not (construct or {}).get("message"):
        # Silently dropping it would hide a typo in the file name or the argument.
        message = ("@construct takes no message" if construct
                   else "the document has no @construct")
        raise Failure(
            f"advm: error: {program.path}: --arg was given, but {message}",
            {"filename": program.path, "ok": False,
             "error": {"kind": "input", "message": message, "position": None,
                       "during": "@construct"}},
        )
    # Random seeded from the key: the same file, argument and principal give the same run.
    host = RuntimeHost(program.module, MemoryBackend(program.module, viewers=Viewers), clock=CLOCK_MS)
    try:
        doc, _ = host.create(key, principal, arg)
    except Refused as e:
        raise Failure(
            f"advm: error: {program.path}: {e.message}",
            {"filename": program.path, "ok": False,
             "error": {"kind": "policy", "message": e.message,
                       "position": None, "during": "@static create"}},
        ) from None
    living = doc.living
    if not living.engine.created:
        e = living.last_error
        missing = missing_fields(living, arg) if e.kind != "input" else []
        raise RunError(e, "@construct", missing)
    return living


def settle(program: Program, living) -> int:
    """How many transitions the create ran; a transition that failed, or a
    state machine still due at once after MAX_IMMEDIATE of them, is an error."""
    from ..runtime.host import MAX_IMMEDIATE

    if living.failures:
        label, e = living.failures[0]
        raise RunError(e, f"#{label}")
    if living.capped:
        message = (f"the state machine did not settle: {MAX_IMMEDIATE} transitions "
                   f"in a row, the last into #{living.engine.state}")
        raise Failure(f"advm: error: {program.path}: {message}",
                      {"filename": program.path, "ok": False,
                       "error": {"kind": "unsettled", "message": message,
                                 "position": None, "during": f"#{living.engine.state}"}})
    return living.transitions


def state_json(program: Program, living, principal: str, key: str, transitions: int) -> dict:
    doc = living.engine
    pending = living.pending
    return {
        "filename": program.path,
        "source": program.filename,
        "key": key,
        "creator": principal_json(principal),
        "state": doc.state or None,
        "fields": doc.fields(),
        "transitions": transitions,
        "pending": {"state": pending.label, "in_seconds": (pending.due - living.clock) / 1000}
        if pending else None,
        "waiting": waiting_json(doc),
        "destroyed": living.destroyed,
        "debug": list(doc.debug_lines),
    }


def summary_line(state: dict) -> str:
    who = state["creator"]
    parts = [f"{state['filename']}: created as {who['agent']}@{who['authority']}"]
    if state["state"]:
        parts.append(f"state #{state['state']}")
    parts.append(f"{state['transitions']} transition{'s' if state['transitions'] != 1 else ''}")
    if state["waiting"]:
        w = state["waiting"]
        who = w["who"] or {"agent": "?", "authority": "?"}
        parts.append(f"waiting for {who['agent']}@{who['authority']} ({w['kind']} on {w['channel']})")
    if state["pending"]:
        parts.append(f"next #{state['pending']['state']} in {state['pending']['in_seconds']:g} s")
    if state["destroyed"]:
        parts.append("destroyed")
    return ", ".join(parts)


def run_failure(program: Program, e: RunError, arg_given: bool) -> Failure:
    err_ = e.error
    if err_.kind == "input":  # nothing ran: the argument did not fit the message type
        text = f"{program.path}: bad --arg for {e.during}: {err_.message}"
    else:
        where = err_.position or program.path
        text = "\n".join([f"{where}: runtime error ({err_.kind}) in {e.during}: {err_.message}",
                          *excerpt(program, err_.position)])
    data = {"filename": program.path, "ok": False,
            "error": {"kind": err_.kind, "message": err_.message,
                      "position": err_.position or None, "during": e.during}}
    if e.during == "@construct":
        text += f"\n{program.path}: the document was not created"
        if e.missing:
            message = program.module.meta["handlers"]["construct"]["message"]
            text += "\n" + construct_hint(program, message, e.missing, arg_given)
            data["error"]["missing"] = e.missing
    return Failure(text, data)


def parse_principal(text: str) -> str:
    from ..vm.docslots import agent_of, as_principal

    principal = as_principal(text)
    if not agent_of(principal):
        raise UsageError(f"--as {text!r}: a principal is agent@authority, and the agent cannot be empty")
    return principal


def run_once(args: argparse.Namespace) -> ExitCode:
    arg = parse_arg(args.arg)
    key = DEFAULT_KEY if args.key is None else args.key
    principal = parse_principal(DEFAULT_PRINCIPAL if args.principal is None else args.principal)
    program = load(args.file)
    try:
        doc = create(program, principal, arg, key)
        transitions = settle(program, doc)
    except RunError as e:
        raise run_failure(program, e, arg is not None) from None
    state = state_json(program, doc, principal, key, transitions)
    if args.json:
        out_json({"ok": True, **state})
    else:
        for line in state["debug"]:
            err(f"debug: {line}")
        print(json.dumps({"state": state["state"], "fields": state["fields"]}, indent=2))
        err(summary_line(state))
    return ExitCode.OK


def script_lines(path: str):
    """The script's lines: all of a file, read before anything runs (an
    unreadable script is a usage error, exit 2), or standard input one line at
    a time as it arrives, so a program can hold a conversation with the document."""
    if path != "-":
        return decode_text(path, read_bytes(path)).splitlines()
    return iter(sys.stdin.readline, "")


def run_script(args: argparse.Namespace) -> ExitCode:
    from ..session import Session

    misplaced = [flag for flag, given in (("--arg", args.arg is not None),
                                          ("--as", args.principal is not None),
                                          ("--json", args.json)) if given]
    if misplaced:
        raise UsageError(f"{', '.join(misplaced)} cannot be used with --script: a script's create "
                         f"line says who creates the document and with what, and its output is "
                         f"JSON already")
    lines = script_lines(args.script)
    program = load(args.file)

    def emit(frame: dict) -> None:
        sys.stdout.write(json.dumps(frame, separators=(",", ":")) + "\n")
        sys.stdout.flush()

    debug = lambda line: err(f"debug: {line}")  # noqa: E731
    if args.memory:
        Session(program.module, key=args.key, debug=debug).run(lines, emit)
        return ExitCode.OK
    return run_stored(args, program, lines, emit, debug)


def run_stored(args, program, lines, emit, debug) -> ExitCode:
    """The script against the durable store: the document is `--doc` in
    `--store` (created by the script, or continued where an earlier run left it)."""
    from ..session import StoredSession
    from ..store import DEFAULT_DIR, StoreError, open_store
    from .storeargs import host_options

    try:
        # a directory (LMDB) or a PostgreSQL URL, whose document this run leases
        store = open_store(args.store or DEFAULT_DIR, **host_options(args.store))
    except StoreError as e:
        raise Failure(f"advm: error: {e}") from None
    try:
        try:
            session = StoredSession(program.module, store, doc=args.doc, key=args.key, debug=debug)
        except StoreError as e:
            text = f"advm: error: {e}"
            if not args.doc_given and "runs other code" in str(e):
                # Two programs' scripts on the default document: give this one its own.
                name = Path(program.path).name.split(".")[0] or "mine"
                text += (f"\nadvm: hint: the default document {DEFAULT_DOC!r} holds another "
                         f"program's; run this script on its own with --doc {name} (or --memory)")
            raise Failure(text) from None
        try:
            for frame in session.resume():
                emit(frame)
            try:
                session.run(lines, emit)
            finally:
                session.close()
        except StoreError as e:  # a commit failed: what was printed is durable, nothing after
            raise Failure(f"advm: error: {e}") from None
    finally:
        store.close()
    return ExitCode.OK


def run_server(args: argparse.Namespace) -> ExitCode:
    from . import serve

    misplaced = [flag for flag, given in (("--arg", args.arg is not None),
                                          ("--as", args.principal is not None),
                                          ("--json", args.json),
                                          ("--key", args.key is not None)) if given]
    if misplaced:
        # These only mean something to a one-shot run; guessing --once from
        # them would make a typo'd serve command silently exit instead.
        raise UsageError(f"{', '.join(misplaced)} cannot be used when serving (the default "
                         f"mode): clients create documents, as themselves, through the "
                         f"protocol; add --once to create one here and print its state")
    return serve.run(args)


def once_only_server_flags(args: argparse.Namespace) -> list[str]:
    from .serve import DEFAULT_BIND, DEFAULT_PORT

    return [flag for flag, given in (("--host", args.bind != DEFAULT_BIND),
                                     ("--port", args.port != DEFAULT_PORT),
                                     ("--workers", args.workers is not None),
                                     ("--static", args.static is not None),
                                     ("--store", args.store is not None),
                                     ("--memory", args.memory),
                                     ("--log-format", args.log_format is not None)) if given]


def run(args: argparse.Namespace) -> ExitCode:
    if args.script is not None or args.once:
        if len(args.files) != 1:
            raise UsageError(f"{'--script' if args.script is not None else '--once'} runs one "
                             f"FILE, not {len(args.files)}")
        args.file = args.files[0]
    if args.doc is not None and args.script is None:
        raise UsageError("--doc names the stored document a --script runs; it cannot be used "
                         "without --script")
    if args.script is not None:
        args.doc_given = args.doc is not None
        if args.doc is None:
            args.doc = DEFAULT_DOC
        if args.key is None:
            args.key = DEFAULT_KEY
        return run_script(args)
    if args.once:
        misplaced = once_only_server_flags(args)
        if misplaced:
            raise UsageError(f"{', '.join(misplaced)} cannot be used with --once: it runs the "
                             f"document in memory and serves nothing")
        return run_once(args)
    return run_server(args)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", metavar="FILE", nargs="*",
                   help="an Adama document (.adb) or a compiled module (.advc); serving, several "
                        "or a folder serve a space each, named after its file (README, Spaces)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--once", action="store_true",
                      help="create the document in memory, run what is due, print its state "
                           "and exit")
    mode.add_argument("--script", metavar="FILE",
                      help="run a scripted session: JSON inputs, one per line, from FILE or from "
                           "standard input for '-'; prints every frame clients receive as one "
                           "JSON line (spec/sessions.md); exit 0 once the script ran")
    mode.add_argument("--serve", action="store_true",
                      help="serve the program (the default without --once or --script; kept so "
                           "older scripts keep working)")
    # One group per mode, so `advm run --help` says which option goes with which.
    once = p.add_argument_group("--once (create one document in memory, print its state)")
    once.add_argument("--arg", metavar="JSON",
                      help="the message @construct receives, as a JSON object")
    once.add_argument("--as", dest="principal", metavar="PRINCIPAL", default=None,
                      help=f"who creates the document, agent@authority (default {DEFAULT_PRINCIPAL})")
    once.add_argument("--key", default=None,
                      help=f"the document's key; it also seeds Random (default {DEFAULT_KEY!r}; "
                           "with --script: the key of a document the script creates)")
    add_json_flag(once, "the document's state, or the error,")
    script = p.add_argument_group("--script (a scripted session on a stored document)")
    script.add_argument("--doc", metavar="KEY", default=None,
                        help="the document in the store (--store) the script runs on; created "
                             "by the script's create line, or continued where an earlier run "
                             f"left it (default {DEFAULT_DOC!r}); --memory runs the script in "
                             "memory instead")
    from .serve import add_server_arguments

    add_server_arguments(p.add_argument_group(
        "serving (the default mode); --store and --memory also apply to --script"))


COMMAND = Command(
    "run",
    "serve a document's program live on 127.0.0.1:8080 (the default); --once: create it, "
    "run it until idle, print its state; --script: drive it with a scripted session",
    add_arguments,
    run,
    success="served until Ctrl-C or SIGTERM and stopped cleanly; --once: the document was "
            "created and ran until idle; --script: the script ran to its end",
    failure="the document has errors or the module file is corrupt; --once: a transaction "
            "failed; --script: the store cannot hold the document",
)
