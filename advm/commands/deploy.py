"""`advm deploy`: new code for documents that already live (spec/runtime.md 9).

    advm deploy --check OLD NEW          the plan the two modules prove; exit 1 when refused
    advm deploy NEW [--store DIR] [--doc KEY]
                                         move the store's documents (or one) to NEW
    advm deploy --status [--store DIR | --server URL --token T]
                                         which module each document runs (loaded or sleeping)
    advm deploy NEW --prefix P | --percent N
                                         a canary: only those documents move (then deploy to all)

A deploy on a store at rest first checks every document it is to move (the
plan, then each document's own state); when anything blocks, it prints why
and changes nothing (exit 1). Then each document moves in one commit (an
`upgrade` event and a snapshot, so a crash leaves it on exactly one of the
two codes). A document whose block waits at an await stays on its code and
is listed as deferred: the next host that runs NEW moves it once that
activation ends. Rollback is a deploy of the old file. A renamed field is
declared in NEW (`public int score @was(points);`, language.md 4.1), or at
rest with --rename OLD=NEW; each upgrade event records what it renamed.
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
    """Each stored document's module, read without waking it (durable/inspect.py)."""
    from ..durable.inspect import stored_modules

    return stored_modules(store, store.documents())


def _status_of_server(args) -> dict:
    """admin/modules, page by page (spec/protocol.md): the server's module, its
    canary, and each document's module, loaded or sleeping."""
    import asyncio

    from ..net.client import Client, ClientError

    if not args.token:
        raise UsageError("deploy --status --server needs --token: a token minted with --admin "
                         "(advm token NAME --admin)")

    async def go():
        client = await Client.connect(args.server, args.token, space=args.space)
        try:
            out, after = None, None
            while True:
                page = await client.request("admin/modules", identity=args.token, **_space(args),
                                            **({"after": after} if after is not None else {}))
                if out is None:
                    out = page
                else:
                    out["documents"] += page["documents"]
                if not page["more"] or not page["documents"]:
                    return out
                after = page["documents"][-1]["doc"]
        finally:
            await client.close()

    try:
        return asyncio.run(go())
    except ClientError as e:
        raise Failure(f"advm: error: the server refused: {e}", {"ok": False, "error": str(e)}) from None
    except OSError as e:
        raise Failure(f"advm: error: cannot reach {args.server}: {e}") from None


def _space(args) -> dict:
    return {"space": args.space} if args.space else {}


def in_space(store, space: str | None):
    """The store as space `space`'s documents see it (store/spaces.py); the
    default space's when None."""
    from ..store.spaces import DEFAULT_SPACE, SpaceStore

    try:
        return SpaceStore(store, space or DEFAULT_SPACE)
    except ValueError as e:
        store.close()
        raise UsageError(f"--space {e}") from None


def record_deploy(store, directory, space: str, module) -> None:
    """A space the store's registry keeps (advm space create) runs `module`
    from now on: its code into the store, its record updated."""
    import hashlib

    from ..store.spaces import Registry

    registry = Registry(directory)
    spaces = registry.read()
    if space not in spaces:
        return
    code = module.to_bytes()
    store.put_module(code, {"space": space}).result()
    record = spaces[space]
    record.update(code=hashlib.sha256(code).hexdigest(), module=module.module_id())
    registry.put(space, record)


def callers_at_rest(store, directory, space: str, module) -> list[str]:
    """spec/language.md 4.32, runtime.md 9.4.1: what the new code of `space`
    no longer accepts of what the other spaces the store's registry keeps send
    it, and what it sends that they no longer accept."""
    from ..runtime.upgrade import callers_refuse
    from ..store.spaces import Registry
    from ..vm.module import Module

    try:
        recorded = Registry(directory).read()
    except ValueError:
        return []
    others = {}
    for name, record in sorted(recorded.items()):
        got = store.module(bytes.fromhex(record["code"])) if name != space and record.get("code") else None
        if got is not None:
            others[name] = Module.from_bytes(got[0]).meta
    out = callers_refuse(space, module.meta, others)
    for other, meta in sorted(others.items()):
        out += callers_refuse(other, meta, {space: module.meta})
    return out


def _print_renames(plan: dict) -> None:
    for a, b in plan.get("renamed", {}).items():
        print(f"  renamed {a} -> {b}")
    for record, pairs in plan.get("record_renames", {}).items():
        for a, b in pairs.items():
            print(f"  renamed {record}.{a} -> {record}.{b}")


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
        if args.server:
            found = _status_of_server(args)
            if args.json:
                out_json(found)
            else:
                trial = found.get("canary")
                print(f"server runs {found['module']}  {found['filename'] or ''}".rstrip()
                      + (f"; a canary ({trial}) runs other code" if trial else ""))
                for r in found["documents"]:
                    print(f"{r['doc']:<24} {r['module']}  {r['filename'] or '-'}  "
                          f"{'loaded' if r['loaded'] else 'sleeping'}"
                          + (f"  seq {r['seq']}" if r["seq"] is not None else ""))
            return ExitCode.OK
        store = in_space(open_store(args.store), args.space)
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
        raise UsageError("--rename is for a store at rest (and --check); on a server, declare the rename "
                         "in the new code: `public int score @was(points);` (language.md 4.1)")
    if args.server:
        return _to_server(args, module)
    store = in_space(open_store(args.store, readonly=False), args.space)
    from ..durable.document import DurableDocument
    from ..views.viewers import Viewers

    try:
        keys = [args.doc] if args.doc else canary(store.documents(), args.prefix, args.percent)
        missing = [k for k in keys if k not in store.documents()]
        if missing:
            raise UsageError(f"no document {missing[0]!r} in the store at {store.path}")
        # First every document is checked; nothing is written unless all can move.
        reasons = callers_at_rest(store, args.store, args.space, module) if args.space else []
        for key in keys:
            doc = DurableDocument.open(store, key, viewers=Viewers)
            if doc.module.module_id() != module.module_id():
                reasons += [f"document {key!r}: {r}"
                            for r in blockers(doc.living, module, compare(doc.module, module, renames(args)))]
        if reasons:
            message = "advm: error: the deploy is refused; nothing changed:\n" + "\n".join(
                f"  {r}" for r in reasons)
            raise Failure(message, {"ok": False, "refused": reasons})
        moved, deferred, same = [], [], []
        applied: dict = {"renamed": {}, "record_renames": {}}
        for key in keys:
            doc = DurableDocument.open(store, key, viewers=Viewers)
            if doc.module.module_id() == module.module_id():
                same.append(key)
                doc.close()
                continue
            try:
                plan = compare(doc.module, module, renames(args))
                applied["renamed"].update(plan.renamed)
                for record, pairs in plan.record_renames.items():
                    applied["record_renames"].setdefault(record, {}).update(pairs)
                doc.upgrade(module, plan, restart_blocked=args.restart_blocked).result()
                if doc.module.module_id() == module.module_id():
                    moved.append(key)
                else:  # its block waits at an await in code that changed: it finishes first
                    deferred.append(key)
            except UpgradeRefused as e:  # checked above; kept for a store changed meanwhile
                raise Failure(f"advm: error: document {key!r}: {e}") from None
            doc.close()
        if args.space and not args.doc and args.prefix is None and args.percent is None:
            record_deploy(store, args.store, args.space, module)
    except StoreError as e:
        raise store_failure(e) from None
    finally:
        store.close()
    if args.json:
        out_json({"ok": True, "module": module.module_id(), "moved": moved, "deferred": deferred,
                  "already": same, "renamed": applied["renamed"], "record_renames": applied["record_renames"]})
    else:
        print(f"deployed module {module.module_id()}: {len(moved)} moved, {len(deferred)} deferred "
              f"(a block waits at an await: it finishes on its code), {len(same)} already on it")
        _print_renames(applied)
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
            return await client.request("admin/deploy", identity=args.token, **_space(args),
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
        _print_renames(done.get("plan", {}))
    return ExitCode.OK


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="*", metavar="FILE",
                   help="the new code (.adb or .advc); with --check, OLD and NEW")
    p.add_argument("--check", action="store_true",
                   help="only compare OLD and NEW: print the plan, exit 1 when refused")
    p.add_argument("--status", action="store_true",
                   help="which module each document runs (a store at rest, or --server: loaded or sleeping)")
    p.add_argument("--store", metavar="DIR", default=DEFAULT_DIR,
                   help=f"the store directory (default {DEFAULT_DIR})")
    p.add_argument("--doc", metavar="KEY", default=None,
                   help="move only this document (default: every document in the store)")
    p.add_argument("--restart-blocked", action="store_true",
                   help="a state block waiting at an await is entered again from its start under the "
                        "new code (its open asks close) instead of finishing on the old code first")
    p.add_argument("--rename", metavar="OLD=NEW", action="append",
                   help="declare a document field renamed (repeatable; a store at rest, --check); "
                        "renames are never guessed: better, declare it in the code, `int score @was(points);`")
    p.add_argument("--prefix", metavar="TEXT", default=None,
                   help="canary: move only the documents whose key starts with TEXT")
    p.add_argument("--percent", metavar="N", type=int, default=None,
                   help="canary: move only N%% of the documents (0-100; the same ones each time)")
    p.add_argument("--space", metavar="NAME", default=None,
                   help="the space whose documents move (default: the default space); no other "
                        "space's documents are touched")
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
