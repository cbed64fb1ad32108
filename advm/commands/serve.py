"""`advm run FILE` (and its alias `advm serve FILE`): the document's program
as a live WebSocket server.

Compiles FILE, opens the store (./.advm unless --store), starts the router
(net/router.py: documents loaded on demand, asleep when idle, woken by their
timers) and the server (net/server.py) on 127.0.0.1:8080, and prints the
URL. Ctrl-C (or SIGTERM) shuts down cleanly: no new requests, every input
already received runs and becomes durable, every loaded document is closed,
then the store. `advm run FILE` reaches this through advm/commands/run.py.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

from .base import Command, ExitCode, Failure, UsageError, err
from .program import load, new_document

DEFAULT_PORT = 8080
DEFAULT_BIND = "127.0.0.1"


def check_origin(origin: str) -> None:
    """An --allow-origin value is an origin as browsers send it: scheme, host
    and optional port, nothing else."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(origin)
        parts.port
    except ValueError:
        parts = None
    if (parts is None or parts.scheme not in ("http", "https") or not parts.hostname
            or parts.path or parts.query or parts.fragment or parts.username is not None
            or origin != origin.strip().rstrip("/")):
        raise UsageError(f"--allow-origin {origin}: an origin is scheme://host[:port] "
                         "(http or https, no path), as a browser sends it")


def default_workers() -> int:
    return max(1, min(8, os.cpu_count() or 1))


def add_server_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", dest="bind", default=DEFAULT_BIND, metavar="ADDRESS",
                   help=f"address to listen on (default {DEFAULT_BIND})")
    p.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"port to listen on; 0 picks a free one (default {DEFAULT_PORT})")
    p.add_argument("--store", default=None, metavar="DIR|URL",
                   help="the store directory (default ./.advm); also holds token.key; or a "
                        "PostgreSQL URL (postgresql://...; token.key then stays in ./.advm)")
    p.add_argument("--memory", action="store_true",
                   help="keep documents in memory only (nothing survives a restart)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="worker processes running documents (default: one per CPU, at most 8); "
                        "0 runs them on a thread of the server process")
    p.add_argument("--idle", type=float, default=120.0, metavar="SECONDS",
                   help="unload a document after this long with nobody connected (default 120)")
    p.add_argument("--memory-budget", dest="memory_budget", type=float, default=1000.0, metavar="MB",
                   help="each worker's memory budget for documents, in MB of their estimates "
                        "(spec/runtime.md 7.1): past it idle documents unload, least recently used "
                        "first, then loads are refused with memory_full (default 1000; 0: none)")
    p.add_argument("--static", default=None, metavar="DIR",
                   help="serve the files in DIR over HTTP at / (the browser page)")
    p.add_argument("--allow-origin", dest="allow_origins", action="append", default=[],
                   metavar="ORIGIN",
                   help="also accept WebSockets from pages of ORIGIN (scheme://host:port, "
                        "repeatable); other browser origins than the server's own page are refused")
    p.add_argument("--services", default=None, metavar="FILE",
                   help="where the documents' services live: a TOML file of base URLs, headers "
                        "and secrets (spec/protocol.md 8.14); without it every call fails with 501")
    p.add_argument("--service", dest="service_flags", action="append", default=[], metavar="NAME=URL",
                   help="a service's base URL (repeatable; overrides --services for that name)")
    p.add_argument("--model-url", dest="model_url", default=None, metavar="URL",
                   help="the Chat Completions API agents' sessions call (POST URL/chat/completions; "
                        "its key from ADVM_MODEL_KEY); overrides [models] of --services (spec/protocol.md 8.18)")
    p.add_argument("--space-limits", dest="space_limits", default=None, metavar="FILE",
                   help="each space's limits, a TOML file: [default] for every space, "
                        "[space.NAME] for one (spec/protocol.md 8.17)")
    p.add_argument("--cluster", default=None, metavar="RAY_ADDRESS",
                   help="join the Ray cluster at RAY_ADDRESS: place --hosts document hosts there "
                        "and serve a gateway to them here (needs --store postgresql://...; "
                        "README, Running a cluster)")
    p.add_argument("--hosts", type=int, default=1, metavar="N",
                   help="with --cluster: document hosts this command places (default 1)")
    p.add_argument("--host-cpus", dest="host_cpus", type=float, default=1.0, metavar="CPUS",
                   help="with --cluster: Ray CPUs each host reserves (default 1)")
    p.add_argument("--host-full-mb", dest="host_full_mb", type=float, default=0.0, metavar="MB",
                   help="with --cluster: a host whose resident memory is past MB takes no new "
                        "documents (0: no threshold, the default)")
    p.add_argument("--log-format", dest="log_format", choices=("text", "json"), default=None,
                   help="log to standard error at INFO and above, one line per record: text, "
                        "or json (one JSON object a line: time, level, logger, message, "
                        "process, and the record's fields); by default only warnings and "
                        "errors, as text")


def warn_unreachable(program) -> None:
    """Say so at start when nobody could connect to or create a document
    (compiler/lints.py): otherwise the first sign is a refusal in the page."""
    from ..compiler.diagnostics import render_text
    from ..compiler.lints import access_warnings

    comp = program.compilation  # None for an .advc: its source was checked when compiled
    if comp is None or comp.program is None:
        return
    for d in access_warnings(comp.program):
        err(render_text(d, comp.source))


def space_files(args) -> list[tuple[str, str]]:
    """(space, file) for each program to serve: one FILE is the default
    space; several, or a folder's .adb files, a space each named after its
    file (net/spaces.py space_file_name)."""
    from ..net.spaces import space_file_name

    files = list(getattr(args, "files", None) or ([args.file] if getattr(args, "file", None) else []))
    if len(files) == 1 and not os.path.isdir(files[0]):
        return [("default", files[0])]
    out: list[tuple[str, str]] = []
    for f in files:
        if os.path.isdir(f):
            found = sorted(os.path.join(f, n) for n in os.listdir(f) if n.endswith((".adb", ".advc")))
            if not found:
                raise UsageError(f"{f}: a folder without any .adb or .advc file")
            out += [(space_file_name(x), x) for x in found]
        else:
            out.append((space_file_name(f), f))
    seen: dict[str, str] = {}
    for name, f in out:
        if name in seen:
            raise UsageError(f"{seen[name]} and {f} would both be space {name}: rename one")
        seen[name] = f
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", metavar="FILE", nargs="*",
                   help="an Adama document (.adb) or a compiled module (.advc); several, or a "
                        "folder, serve a space each (named after its file)")
    add_server_arguments(p)


def say(args, text: str, **fields) -> None:
    """A line for the operator: text on standard error, or with --log-format
    a record of the `advm.run` logger carrying `fields`."""
    if getattr(args, "log_format", None) is None:
        err(text)
    else:
        import logging

        logging.getLogger("advm.run").info(text.removeprefix("advm: "), extra=fields)


def service_config(args):
    """The services' endpoints from --services and --service (net/services.py), and the
    agents' model from [models] or --model-url (net/models.py)."""
    from ..net.models import ModelConfig, ModelConfigError
    from ..net.services import ConfigError, ServiceConfig

    try:
        config = ServiceConfig.load(args.services) if args.services else ServiceConfig()
        if args.service_flags:
            config = config.merge(ServiceConfig.from_flags(args.service_flags))
        if getattr(args, "model_url", None):
            config.models = ModelConfig.from_url(args.model_url)
    except (ConfigError, ModelConfigError) as e:
        raise UsageError(str(e)) from None
    return config


def build_spaces(args, programs, store, directory, workers):
    """The spaces to serve: one per program named on the command line
    (`programs`: (space, Program)), then those the store's registry keeps
    (advm space create) that the command line does not name."""
    from ..net.router import Router
    from ..net.spaces import SpaceLimits, Spaces, read_limits
    from ..store.spaces import Registry, SpaceStore
    from ..vm.errors import ModuleFormatError
    from ..vm.module import Module

    base = SpaceLimits(memory_mb=args.memory_budget or 1e12)
    per: dict = {}
    if getattr(args, "space_limits", None):
        try:
            base, per = read_limits(args.space_limits)
        except ValueError as e:
            raise UsageError(f"--space-limits {e}") from None

    def make_router(name, module, limits):
        router = Router(module, store=SpaceStore(store, name) if store is not None else None,
                        workers=workers, idle_unload_s=args.idle, services=args.service_config,
                        memory_budget=int(limits.memory_mb * 1_000_000) or None)
        if workers == 0:  # every space's documents on one thread of the server
            spaces.share_thread(router)
        return router

    registry = Registry(directory) if store is not None else None
    spaces = Spaces(make_router, store=store, registry=registry, limits=base, per_space=per)
    for name, program in programs:
        spaces.add(name, program.module, source=str(program.path))
    try:
        recorded = registry.read() if registry is not None else {}
    except ValueError as e:
        raise Failure(f"advm: error: {e}") from None
    for name, record in sorted(recorded.items()):
        if name in spaces.spaces:
            continue
        try:
            got = store.module(bytes.fromhex(record["code"]))
            if got is None:
                raise ValueError("its module is not in the store")
            spaces.add(name, Module.from_bytes(got[0]), source=record.get("source"), recorded=True,
                       limits=record.get("limits"))
        except (KeyError, TypeError, ValueError, ModuleFormatError) as e:
            raise Failure(f"advm: error: space {name} in {registry.path}: {e}") from None
    if not spaces.spaces:
        raise UsageError("nothing to serve: name a FILE (or several, or a folder), or create a "
                         "space in the store first (advm space create NAME FILE)")
    return spaces


async def _serve(args, programs) -> None:
    from ..net.documents import durable_available
    from ..net.metrics import Metrics
    from ..net.server import Server, is_loopback, static_pages
    from ..net.tokens import Tokens
    from ..store import DEFAULT_DIR, StoreError, open_store
    from ..store.blobs import FolderBlobStore
    from .storeargs import host_options, is_url

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    directory = args.store or DEFAULT_DIR
    try:
        store = None if args.memory else open_store(directory, **host_options(directory))
    except StoreError as e:  # damaged, incompatible or unreadable: say which, exit 1
        raise Failure(f"advm: error: {e}") from None
    if is_url(directory):
        # documents in PostgreSQL: this host's own files (token key, uploads) stay in ./.advm
        directory = DEFAULT_DIR
    try:
        os.makedirs(directory, exist_ok=True)
        # exp is required of every token unless only this machine can connect (protocol.md 8.5)
        tokens = Tokens.from_store_dir(directory, require_exp=not is_loopback(args.bind))
        workers = args.workers
        if workers is None:  # several spaces: one worker each unless told
            workers = default_workers() if len(programs) <= 1 else 1
        durable = store is not None and durable_available()
        spaces = build_spaces(args, programs, store if durable else None, directory, workers)
        pages = static_pages(args.static) if args.static else None
        # Uploaded files' bytes: a folder beside the LMDB files (store/blobs.py, language.md 4.29)
        blobs = FolderBlobStore(os.path.join(directory, "blobs"))
        server = Server(None, tokens, bind=args.bind, port=args.port, pages=pages,
                        dev_tokens=is_loopback(args.bind), allow_origins=args.allow_origins, blobs=blobs,
                        spaces=spaces)
        from ..net.spaces import SpaceGauges

        metrics = Metrics(spaces.default or spaces.routers()[0], server)  # GET /metrics
        spaces.metrics = metrics
        for r in spaces.routers():
            r.metrics = metrics
        metrics.registry.register(SpaceGauges(spaces))
        try:
            await server.start()
        except OSError as e:
            await spaces.close()
            raise Failure(f"advm: error: cannot listen on {args.bind}:{args.port}: "
                          f"{e.strerror or e}") from None
        for name in sorted(spaces.names(), key=lambda n: n != "default"):  # the default space first
            what = "" if name == "default" else f" as space {name}"
            print(f"advm: serving {spaces.spaces[name].source}{what} at {server.url} "
                  f"(WebSocket {server.ws_url})", flush=True)
        where = "in memory only" if not durable else f"in {store.path}"
        say(args, f"advm: documents are kept {where}; {workers or 'no'} worker process"
            f"{'es' if workers != 1 else ''}; tokens: advm token NAME"
            f"{'' if args.store is None else f' --store {directory}'}",
            event="serving", url=server.url, websocket=server.ws_url, spaces=spaces.names(),
            store=None if not durable else str(directory), workers=workers)
        await stop.wait()
        say(args, "advm: shutting down (finishing queued inputs)", event="stopping")
        await server.close()
    finally:
        if store is not None:
            store.close()
    say(args, "advm: stopped", event="stopped")


def run(args: argparse.Namespace) -> ExitCode:
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: a port is 0 to 65535")
    if args.workers is not None and args.workers < 0:
        raise UsageError("--workers is 0 or more")
    if args.idle <= 0:
        raise UsageError("--idle is a number of seconds above 0")
    if not args.memory_budget >= 0 or args.memory_budget == float("inf"):
        raise UsageError("--memory-budget is a number of MB, 0 or more (0: no budget)")
    if args.static is not None and not os.path.isdir(args.static):
        raise UsageError(f"--static {args.static}: not a directory")
    for origin in args.allow_origins:
        check_origin(origin)
    args.service_config = service_config(args)
    from ..compiler.spaces import files_resolver, sibling_resolver

    programs = []
    served = space_files(args)
    for name, path in served:
        # `space NAME;` finds the programs served with it by their space names, then beside it
        # (spec/language.md 4.32).
        program = load(path, spaces=files_resolver(dict((n, p) for n, p in served), sibling_resolver(path)))
        warn_unreachable(program)
        # Workers build documents from the module; one built here first reports a
        # damaged module file as such (exit 1), before anything listens.
        new_document(program)
        programs.append((name, program))
    if args.cluster is not None:  # Ray is imported only on this path
        from . import cluster

        return cluster.serve(args, programs)
    # The store's committer thread needs the GIL back after every flush while
    # the event loop is busy; a shorter switch interval bounds that wait
    # (spec/store.md, "a note for hosts").
    sys.setswitchinterval(0.001)
    if getattr(args, "log_format", None) is not None:
        from ..net.logs import configure

        configure(args.log_format, workers=True)
    asyncio.run(_serve(args, programs))
    sys.stdout.flush()
    return ExitCode.OK


COMMAND = Command(
    "serve",
    "an alias of `advm run FILE`: serve the program over WebSocket",
    add_arguments,
    run,
    success="served until Ctrl-C or SIGTERM and stopped cleanly",
    failure="the document has errors, the module file is corrupt, or the address cannot "
            "be listened on",
)
