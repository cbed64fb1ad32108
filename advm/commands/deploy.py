"""`advm deploy`: new code for documents that already live (spec/runtime.md 9).

    advm deploy --check OLD NEW          the plan the two modules prove; exit 1 when refused
    advm deploy NEW [--store DIR] [--doc KEY]
                                         move the store's documents (or one) to NEW
    advm deploy --status [--store DIR]   which module each document runs
    advm deploy NEW --prefix P | --percent N
                                         a canary: only those documents move (then deploy to all)

A deploy on a store at rest first checks every document it is to move (the
plan, then each document's own state); when anything blocks, it prints why
and changes nothing (exit 1). Then each document moves in one commit (an
`upgrade` event and a snapshot, so a crash leaves it on exactly one of the
two codes). A document whose block waits at an await stays on its code and
is listed as deferred: the next host that runs NEW moves it once that
activation ends. Rollback is a deploy of the old file.
"""
from __future__ import annotations

import argparse

from .base import Command, ExitCode, Failure, UsageError, add_json_flag, out_json
from .storeargs import DEFAULT_DIR, open_store, store_failure


def renames(args) -> dict:
    """--rename OLD=NEW, each a declared rename of a document field."""
    out = {}
    for text in args.rename or ():
        a, sep, b = text.partition("=")
        if not sep or not a or not b:
            raise UsageError(f"--rename takes OLD=NEW, not {text!r}")
        out[a] = b
    return out


def canary(keys: list[str], prefix: str | None, percent: int | None) -> list[str]:
    """The documents a canary deploy moves: those whose key starts with
    `prefix`, and of those the `percent` whose key's SHA-256 falls in the
    first `percent` of 100 buckets (the same documents every time, so
    raising the percentage only adds documents)."""
    from ..runtime.upgrade import in_canary

    return [k for k in keys if in_canary(k, prefix, percent)]


def _status(store) -> list[dict]:
    from ..durable.document import DurableDocument

    rows = []
    for key in store.documents():
        doc = DurableDocument.open(store, key)
        rows.append({"doc": key, "module": doc.module.module_id(), "filename": doc.module.filename,
                     "seq": doc.seq})
    return rows


def run(args: argparse.Namespace) -> ExitCode:
    from ..runtime.upgrade import UpgradeRefused, blockers, compare
    from ..store import StoreError
    from .program import load

    if args.check:
        if len(args.files) != 2:
            raise UsageError("deploy --check takes two files: OLD NEW")
        old, new = (load(path).module for path in args.files)
        plan = compare(old, new, renames(args))
        if args.json:
            out_json({"ok": not plan.refused, "plan": plan.to_json()})
        else:
            print(plan.report())
        return ExitCode.FAILURE if plan.refused else ExitCode.OK
    if args.status:
        if args.files:
            raise UsageError("deploy --status takes no file")
        store = open_store(args.store)
        try:
            rows = _status(store)
        except StoreError as e:
            raise store_failure(e) from None
        finally:
            store.close()
        if args.json:
            out_json({"documents": rows})
        else:
            for r in rows:
                print(f"{r['doc']:<24} {r['module']}  {r['filename']}  seq {r['seq']}")
        return ExitCode.OK
    if len(args.files) != 1:
        raise UsageError("deploy takes one file, the new code (or --check OLD NEW, or --status)")
    if args.percent is not None and not 0 <= args.percent <= 100:
        raise UsageError("--percent is 0 to 100")
    module = load(args.files[0]).module
    renames(args)  # a malformed --rename is a usage error before anything is read
    if args.server and args.rename:
        raise UsageError("--rename is for a store at rest (and --check); a server deploy declares none yet")
    if args.server:
        return _to_server(args, module)
    store = open_store(args.store, readonly=False)
    from ..durable.document import DurableDocument

    try:
        keys = [args.doc] if args.doc else canary(store.documents(), args.prefix, args.percent)
        missing = [k for k in keys if k not in store.documents()]
        if missing:
            raise UsageError(f"no document {missing[0]!r} in the store at {store.path}")
        # First every document is checked; nothing is written unless all can move.
        reasons = []
        for key in keys:
            doc = DurableDocument.open(store, key)
            if doc.module.module_id() != module.module_id():
                reasons += [f"document {key!r}: {r}"
                            for r in blockers(doc.living, module, compare(doc.module, module, renames(args)))]
        if reasons:
            message = "advm: error: the deploy is refused; nothing changed:\n" + "\n".join(
                f"  {r}" for r in reasons)
            raise Failure(message, {"ok": False, "refused": reasons})
        moved, deferred, same = [], [], []
        for key in keys:
            doc = DurableDocument.open(store, key)
            if doc.module.module_id() == module.module_id():
                same.append(key)
                doc.close()
                continue
            try:
                doc.upgrade(module, compare(doc.module, module, renames(args)),
                            restart_blocked=args.restart_blocked).result()
                if doc.module.module_id() == module.module_id():
                    moved.append(key)
                else:  # its block waits at an await in code that changed: it finishes first
                    deferred.append(key)
            except UpgradeRefused as e:  # checked above; kept for a store changed meanwhile
                raise Failure(f"advm: error: document {key!r}: {e}") from None
            doc.close()
    except StoreError as e:
        raise store_failure(e) from None
    finally:
        store.close()
    if args.json:
        out_json({"ok": True, "module": module.module_id(), "moved": moved, "deferred": deferred,
                  "already": same})
    else:
        print(f"deployed module {module.module_id()}: {len(moved)} moved, {len(deferred)} deferred "
              f"(a block waits at an await: it finishes on its code), {len(same)} already on it")
        for key in deferred:
            print(f"  deferred: {key}")
    return ExitCode.OK


def _to_server(args, module) -> ExitCode:
    """admin/deploy on a running server (spec/protocol.md, net/admin.py): it
    keeps serving; loaded documents move behind their inputs, viewers get deltas."""
    import asyncio
    import base64

    from ..net.client import Client, ClientError

    if not args.token:
        raise UsageError("deploy --server needs --token: a token minted with --admin (advm token NAME --admin)")

    async def go():
        client = await Client.connect(args.server, args.token)
        try:
            return await client.request("admin/deploy", identity=args.token,
                                        module=base64.b64encode(module.to_bytes()).decode("ascii"),
                                        restart_blocked=args.restart_blocked,
                                        **({"prefix": args.prefix} if args.prefix is not None else {}),
                                        **({"percent": args.percent} if args.percent is not None else {}))
        finally:
            await client.close()

    try:
        done = asyncio.run(go())
    except ClientError as e:
        raise Failure(f"advm: error: the server refused the deploy: {e}",
                      {"ok": False, "error": str(e)}) from None
    except OSError as e:
        raise Failure(f"advm: error: cannot reach {args.server}: {e}") from None
    if args.json:
        out_json({"ok": True, **done})
    else:
        print(f"deployed module {done['module']} to {args.server}: {len(done['moved'])} loaded "
              "documents moved (or move once their awaiting block ends); sleeping ones move when they wake")
    return ExitCode.OK


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="*", metavar="FILE",
                   help="the new code (.adb or .advc); with --check, OLD and NEW")
    p.add_argument("--check", action="store_true",
                   help="only compare OLD and NEW: print the plan, exit 1 when refused")
    p.add_argument("--status", action="store_true", help="which module each stored document runs")
    p.add_argument("--store", metavar="DIR", default=DEFAULT_DIR,
                   help=f"the store directory (default {DEFAULT_DIR})")
    p.add_argument("--doc", metavar="KEY", default=None,
                   help="move only this document (default: every document in the store)")
    p.add_argument("--restart-blocked", action="store_true",
                   help="a state block waiting at an await is entered again from its start under the "
                        "new code (its open asks close) instead of finishing on the old code first")
    p.add_argument("--rename", metavar="OLD=NEW", action="append",
                   help="declare a document field renamed (repeatable); renames are never guessed "
                        "(a store at rest; --check)")
    p.add_argument("--prefix", metavar="TEXT", default=None,
                   help="canary: move only the documents whose key starts with TEXT")
    p.add_argument("--percent", metavar="N", type=int, default=None,
                   help="canary: move only N%% of the documents (0-100; the same ones each time)")
    p.add_argument("--server", metavar="URL",
                   help="deploy to a running server instead (its WebSocket URL, ws://HOST:PORT/...)")
    p.add_argument("--token", metavar="TOKEN", help="with --server: an admin token (advm token NAME --admin)")
    add_json_flag(p, "the plan or the outcome")


COMMAND = Command(
    "deploy",
    "new code for living documents: --check OLD NEW proves the mapping; NEW moves a store's documents",
    add_arguments,
    run,
    success="the plan is compatible, or every document moved (or waits at an await)",
    failure="the deploy is refused (the report says which field, type or document blocks it)",
)
