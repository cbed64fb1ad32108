"""`advm run FILE --store postgresql://... --cluster ADDRESS` and `advm cluster`
(issue 18; README, Running a cluster; spec/protocol.md 8.20).

    advm run FILE --store URL --cluster RAY_ADDRESS [--hosts N] [--host H --port P]
    advm cluster status --address RAY_ADDRESS --store URL [--json]
    advm cluster drain HOST --address RAY_ADDRESS

`run --cluster` places N document hosts (Ray actors, net/cluster.py) in the
Ray cluster and serves a gateway on --host/--port until Ctrl-C or SIGTERM,
then stops its hosts (their leases given back). Ray is imported only here.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

from .base import Command, ExitCode, Failure, UsageError, add_json_flag, out_json
from .serve import say
from .storeargs import DEFAULT_DIR, is_url

MAX_HOSTS = 64  # host actors one `run --cluster` places


def _ray(address: str):
    try:
        from ..net.cluster import NAMESPACE, need_ray

        ray = need_ray()
    except ImportError as e:
        raise UsageError(str(e)) from None
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        ray.init(address=address, namespace=NAMESPACE, log_to_driver=False,
                 logging_level="WARNING", configure_logging=True)
    except (ConnectionError, ValueError, RuntimeError) as e:
        raise Failure(f"advm: error: cannot join the Ray cluster at {address}: {e}") from None
    return ray


def check_serving(args) -> None:
    """Usage errors of `run --cluster`, before anything starts."""
    if not is_url(args.store):
        raise UsageError("--cluster keeps documents in PostgreSQL: give --store postgresql://...")
    if args.memory:
        raise UsageError("--cluster cannot be used with --memory")
    if not 1 <= args.hosts <= MAX_HOSTS:
        raise UsageError(f"--hosts is 1 to {MAX_HOSTS}")
    if not args.host_cpus >= 0:
        raise UsageError("--host-cpus is 0 or more")
    if not 0 <= args.host_full_mb < float("inf"):
        raise UsageError("--host-full-mb is a number of MB, 0 or more (0: no threshold)")


def serve(args, programs) -> ExitCode:
    """Place the hosts, serve the gateway until a signal, stop the hosts."""
    check_serving(args)
    if len(programs) != 1 or programs[0][0] != "default":
        raise UsageError("--cluster serves one FILE (spaces are not served in a cluster yet)")
    from ..net.tokens import KEY_FILE, load_key

    module_bytes = programs[0][1].module.to_bytes()
    load_key(DEFAULT_DIR)  # made on first use; every host checks tokens with it (README)
    with open(os.path.join(DEFAULT_DIR, KEY_FILE), "rb") as f:
        key = f.read()
    ray = _ray(args.cluster)
    try:
        from ..net.cluster import start_hosts

        try:
            hosts = start_hosts(ray, args.hosts, module_bytes, args.store, key,
                                num_cpus=args.host_cpus, idle_unload_s=args.idle,
                                memory_mb=args.memory_budget, full_mb=args.host_full_mb)
        except Exception as e:  # the store unreachable, the program refused on a node
            raise Failure(f"advm: error: a document host failed to start: {e}") from None
        for _, info in hosts:
            print(f"advm: host {info['name']} ({info['owner']}, pid {info['pid']}) at "
                  f"{info['ws_url']}", flush=True)
        asyncio.run(_gateway(args, ray))
        for handle, _ in hosts:
            try:
                ray.get(handle.stop.remote(), timeout=30)
            except Exception:  # its node died meanwhile: its leases run out by themselves
                pass
    finally:
        ray.shutdown()
    say(args, "advm: stopped", event="stopped")
    return ExitCode.OK


async def _gateway(args, ray) -> None:
    from ..net.cluster import Directory, Gateway

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    gateway = Gateway(Directory(ray, args.store), bind=args.bind, port=args.port)
    try:
        await gateway.start()
    except OSError as e:
        raise Failure(f"advm: error: cannot listen on {args.bind}:{args.port}: "
                      f"{e.strerror or e}") from None
    print(f"advm: cluster gateway at {gateway.ws_url} ({len(gateway.directory.hosts)} hosts live)",
          flush=True)
    await stop.wait()
    say(args, "advm: shutting down", event="stopping")
    await gateway.close()


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    st = sub.add_parser("status", help="hosts, documents per host, leases, due timers")
    st.add_argument("--address", required=True, metavar="RAY_ADDRESS",
                    help="the Ray cluster (host:port of its head)")
    st.add_argument("--store", required=True, metavar="URL", help="the PostgreSQL store's URL")
    add_json_flag(st, "the status")
    dr = sub.add_parser("drain", help="stop a host: its documents go to the other hosts "
                                      "(its leases given back at once)")
    dr.add_argument("name", metavar="HOST", help="the host's name (advm-host:..., from status)")
    dr.add_argument("--address", required=True, metavar="RAY_ADDRESS")
    add_json_flag(dr, "the outcome")


def run(args: argparse.Namespace) -> ExitCode:
    if args.action == "status":
        if not is_url(args.store):
            raise UsageError("--store is the cluster's PostgreSQL URL (postgresql://...)")
        ray = _ray(args.address)
        try:
            from ..net.cluster import status

            data = status(ray, args.store)
        finally:
            ray.shutdown()
        if args.json:
            out_json(data)
            return ExitCode.OK
        print(f"hosts: {len(data['hosts'])}")
        leased = {l["owner"]: l for l in data["leases"]}
        for h in data["hosts"]:
            if "error" in h:
                print(f"  {h['name']}  unreachable ({h['error']})")
                continue
            lease = leased.get(h["owner"], {})
            print(f"  {h['name']}  {h['owner']}  {h['ws_url']}  loaded {h['documents']}  "
                  f"leased {lease.get('documents', 0)}  cpu {h['cpu_s']:.1f}s  "
                  f"rss {h['rss_mb']:.0f} MB  metrics {h['metrics']}")
        orphans = [l for l in data["leases"] if l["owner"] not in {h.get("owner") for h in data["hosts"]}]
        for l in orphans:
            print(f"  (no live host) {l['owner']}  leased {l['documents']}  "
                  f"lease ends in {l['renew_in_s']:.1f}s")
        t = data["timers"]
        print(f"documents: {data['documents']}; due timers: {t['count']} ({t['overdue']} overdue)")
        for d in t["next"]:
            print(f"  {d['due_ms']}  {d['doc']}")
        return ExitCode.OK
    ray = _ray(args.address)
    try:
        from ..net.cluster import HOST_PREFIX, NAMESPACE

        if not args.name.startswith(HOST_PREFIX):
            raise UsageError(f"a host's name starts with {HOST_PREFIX!r} (advm cluster status)")
        try:
            handle = ray.get_actor(args.name, namespace=NAMESPACE)
        except ValueError:
            raise Failure(f"advm: error: no host {args.name} in the cluster") from None
        ray.get(handle.stop.remote(), timeout=60)
        ray.kill(handle)
    finally:
        ray.shutdown()
    if args.json:
        out_json({"ok": True, "drained": args.name})
    else:
        print(f"advm: {args.name} drained: its documents go to the other hosts", file=sys.stdout)
    return ExitCode.OK


COMMAND = Command(
    "cluster",
    "a Ray cluster's document hosts: status (hosts, documents, leases, timers), drain HOST",
    add_arguments,
    run,
    success="the status was printed, or the host was drained",
    failure="the Ray cluster or the store cannot be reached, or the host is unknown",
)

__all__ = ["COMMAND", "serve"]
