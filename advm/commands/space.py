"""`advm space`: the programs one server hosts (README, Spaces; protocol.md 8.17).

    advm space create NAME FILE [--store DIR | --server URL --token T] [--limits JSON]
    advm space list [--store DIR | --server URL --token T] [--json]
    advm space delete NAME [--with-documents] [--store DIR | --server URL --token T]

At rest (`--store`, the default ./.advm) the command changes the store's list
of spaces (DIR/spaces.json, store/spaces.py) and, for delete, its documents;
the next `advm run --store DIR` serves what the list says. With `--server`
the running server does it at once (space/create, space/list, space/delete,
an admin token's methods) and records it in its store the same way.
"""
from __future__ import annotations

import argparse

from .base import Command, ExitCode, Failure, UsageError, add_json_flag, out_json
from .storeargs import DEFAULT_DIR, open_store, store_failure


def _check_name(name: str) -> str:
    from ..store.keys import space_problem

    problem = space_problem(name)
    if problem is not None:
        raise UsageError(f"space {name!r}: {problem}")
    return name


def _limits(args) -> dict | None:
    if args.limits is None:
        return None
    import json

    from ..net.spaces import SpaceLimits

    try:
        data = json.loads(args.limits)
        SpaceLimits.from_json(data)
    except ValueError as e:
        raise UsageError(f"--limits: {e}") from None
    return data


def _server(args, method: str, **params) -> dict:
    import asyncio

    from ..net.client import Client, ClientError

    if not args.token:
        raise UsageError(f"space {args.action} --server needs --token: a token minted with --admin "
                         "(advm token NAME --admin)")

    async def go():
        client = await Client.connect(args.server, args.token)
        try:
            return await client.request(method, identity=args.token, **params)
        finally:
            await client.close()

    try:
        return asyncio.run(go())
    except ClientError as e:
        raise Failure(f"advm: error: the server refused: {e}", {"ok": False, "error": str(e)}) from None
    except OSError as e:
        raise Failure(f"advm: error: cannot reach {args.server}: {e}") from None


def _create(args) -> dict:
    import base64
    import hashlib

    from .program import load

    name = _check_name(args.name)
    if args.file is None:
        raise UsageError("space create takes NAME FILE: the space's program")
    module = load(args.file).module
    limits = _limits(args)
    code = module.to_bytes()
    if args.server:
        return _server(args, "space/create", space=name, source=args.file, module=base64.b64encode(code).decode("ascii"),
                       **({"limits": limits} if limits is not None else {}))
    from ..store import StoreError
    from ..store.spaces import Registry

    registry = Registry(args.store)
    try:
        if name in registry.read():
            raise Failure(f"advm: error: space {name!r} exists in {registry.path}; deploy to it "
                          f"(advm deploy FILE --space {name})")
    except ValueError as e:
        raise Failure(f"advm: error: {e}") from None
    store = open_store(args.store, readonly=False)
    try:
        store.put_module(code, {"space": name}).result()
    except StoreError as e:
        raise store_failure(e) from None
    finally:
        store.close()
    try:
        registry.put(name, {"code": hashlib.sha256(code).hexdigest(), "module": module.module_id(),
                            "source": args.file, "limits": limits or {}})
    except ValueError as e:
        raise Failure(f"advm: error: {e}") from None
    return {"space": name, "module": module.module_id()}


def _list(args) -> dict:
    if args.server:
        return _server(args, "space/list")
    import os

    from ..store.spaces import Registry, spaces_in

    registry = Registry(args.store)
    try:
        recorded = registry.read()
    except ValueError as e:
        raise Failure(f"advm: error: {e}") from None
    counts = {}
    if os.path.exists(os.path.join(args.store, "data.mdb")):
        store = open_store(args.store)
        try:
            counts = spaces_in(store)
        finally:
            store.close()
    rows = []
    for name in sorted(set(recorded) | set(counts)):
        rec = recorded.get(name) or {}
        rows.append({"space": name, "module": rec.get("module"), "filename": rec.get("source"),
                     "documents": counts.get(name, 0), "recorded": name in recorded,
                     "limits": rec.get("limits") or {}})
    return {"spaces": rows}


def _delete(args) -> dict:
    name = _check_name(args.name)
    if args.server:
        return _server(args, "space/delete", space=name, with_documents=args.with_documents)
    from ..store import StoreError
    from ..store.spaces import Registry, delete_space_documents, space_documents

    registry = Registry(args.store)
    try:
        recorded = name in registry.read()
    except ValueError as e:
        raise Failure(f"advm: error: {e}") from None
    store = open_store(args.store, readonly=False)
    try:
        docs = space_documents(store, name)
        if not docs and not recorded:
            raise Failure(f"advm: error: no space {name!r} in the store at {args.store}")
        if docs and not args.with_documents:
            raise Failure(f"advm: error: space {name!r} has {len(docs)} documents; delete them "
                          "first, or pass --with-documents")
        deleted = delete_space_documents(store, name) if docs else 0
    except StoreError as e:
        raise store_failure(e) from None
    finally:
        store.close()
    registry.remove(name)
    return {"space": name, "deleted": deleted}


def run(args: argparse.Namespace) -> ExitCode:
    if args.action in ("create", "delete") and args.name is None:
        raise UsageError(f"space {args.action} takes NAME")
    if args.action == "list" and (args.name is not None or args.file is not None):
        raise UsageError("space list takes no NAME or FILE")
    if args.action != "create" and (args.file is not None or args.limits is not None):
        raise UsageError("FILE and --limits go with space create")
    if args.with_documents and args.action != "delete":
        raise UsageError("--with-documents goes with space delete")
    if args.server and args.store != DEFAULT_DIR:
        raise UsageError("--store or --server, not both")
    done = {"create": _create, "list": _list, "delete": _delete}[args.action](args)
    if args.json:
        out_json({"ok": True, **done})
    elif args.action == "list":
        for r in done["spaces"]:
            print(f"{r['space']:<20} {r.get('module') or '-':<34} {r.get('documents', 0):>7} documents  "
                  f"{r.get('filename') or ''}".rstrip())
    elif args.action == "create":
        print(f"space {done['space']} runs module {done['module']}")
    else:
        print(f"space {done['space']} deleted ({done['deleted']} documents deleted)")
    return ExitCode.OK


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("create", "list", "delete"))
    p.add_argument("name", nargs="?", metavar="NAME", help="the space: [a-z0-9][a-z0-9_-]*, at most 32")
    p.add_argument("file", nargs="?", metavar="FILE", help="create: its program (.adb or .advc)")
    p.add_argument("--store", metavar="DIR", default=DEFAULT_DIR,
                   help=f"the store at rest (default {DEFAULT_DIR})")
    p.add_argument("--server", metavar="URL", help="a running server instead (its WebSocket URL)")
    p.add_argument("--token", metavar="TOKEN", help="with --server: an admin token (advm token NAME --admin)")
    p.add_argument("--with-documents", dest="with_documents", action="store_true",
                   help="delete: delete the space's documents too (refused without it while any exist)")
    p.add_argument("--limits", metavar="JSON", default=None,
                   help='create: the space\'s limits, e.g. \'{"cpu": 0.5, "connections": 100}\' '
                        "(spec/protocol.md 8.17)")
    add_json_flag(p, "the outcome")


COMMAND = Command(
    "space",
    "the programs one server hosts: create NAME FILE, list, delete NAME (a store at rest or --server)",
    add_arguments,
    run,
    success="the space was created, listed or deleted",
    failure="the space exists (create), has documents (delete without --with-documents), or is unknown",
)
