"""What one message of bench_server's load test costs the server and its
workers, counted rather than timed: for comparing two builds on a shared,
loaded machine (issue 10's load-test bound; bench/README.md).

    python bench/load_counts.py VENV memory|durable [--clients 1000] [--docs 100]
                                [--warm 3] [--msgs 20] [--strace PREFIX]

VENV is a virtual environment holding a non-editable install of the build to
measure (`python -m venv V && V/bin/pip install .` from a worktree of the
commit); its `advm run` serves bench_server's counter document from an empty
folder, in memory or on the synced store, with bench_server's two workers.
CLIENTS sockets on DOCS documents, each a viewer of its document (every
message makes DOCS_VIEWERS deltas and a reply, as in the load test); each
client sends WARM messages in a closed loop (not counted), then MSGS more,
which are counted: a fixed number of messages, whatever the machine does.
Printed, as one JSON line, per process (the server first, then its workers):
user and system CPU time per message and context switches per message
(/proc), writes of the workers' pipes per message (/proc/PID/io), and, with
--strace, `strace -c -f` of each process over the counted messages
(PREFIX.0 the server, PREFIX.1 and PREFIX.2 the workers): the server's
`sendto` calls per message are its socket writes. The load generator is
bench_server's (this interpreter runs it; it needs websockets).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import bench_server as bs  # noqa: E402


class Client(bs.LeanClient):
    """bench_server's client, sending `budget` messages, answering pings (a
    slow build is closed for a missed pong by websockets' keepalive)."""

    budget = 0

    def frame(self, opcode, payload):
        if opcode == 9:
            self.transport.write(bytes((0x8A, 0x80 | len(payload))) + b"\0\0\0\0" + payload)
            return
        super().frame(opcode, payload)

    def next(self, now):
        if self.budget <= 0:
            if not self.done.done():
                self.done.set_result(None)
            return
        self.budget -= 1
        self.rid += 1
        self.sent_at = now
        self.transport.write(bs.client_frame(
            '{"id":%d,"method":"connection/send","connection":1,"channel":"bump",'
            '"message":{"by":1}}' % self.rid))


def counters(pid: int) -> tuple:
    """(user s, system s, context switches of all threads, read calls, write calls)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tck = os.sysconf("SC_CLK_TCK")
    switches = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/status") as f:
                switches += sum(int(line.split()[1]) for line in f if "ctxt_switches" in line)
        except OSError:
            pass
    io = {}
    with open(f"/proc/{pid}/io") as f:
        for line in f:
            name, value = line.split(":")
            io[name] = int(value)
    return (int(fields[11]) / tck, int(fields[12]) / tck, switches, io.get("syscr", 0),
            io.get("syscw", 0))


def children(pid: int) -> list[int]:
    kids = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            kids += [int(k) for k in f.read().split()]
    return kids


async def drive(args, url: str, tokens: list[str], server_pid: int) -> dict:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    loop = asyncio.get_running_loop()
    tally = bs.Tally()
    tally.window = (0.0, float("inf"))
    tally.stop = float("inf")
    clients = []
    for i in range(args.clients):
        hello = json.dumps({"id": 1, "method": "connection/create", "identity": tokens[i],
                            "key": f"doc-{i % args.docs}"})
        _, c = await loop.create_connection(lambda h=hello: Client(tally, "advm", h),
                                            parts.hostname, parts.port)
        clients.append(c)
        if i < args.docs:  # its creator views it first
            c.transport.write(bs.client_frame(json.dumps(
                {"id": 10_000, "method": "document/create", "identity": tokens[i], "key": f"doc-{i}"})))
            await c.ready
    await asyncio.gather(*(c.ready for c in clients))
    if tally.failures:
        raise RuntimeError(f"{tally.failures} requests failed while connecting")

    async def phase(n: int) -> None:
        for c in clients:
            c.budget = n
            c.done = loop.create_future()
        now = time.perf_counter()
        for c in clients:
            c.next(now)
        await asyncio.gather(*(c.done for c in clients))

    await phase(args.warm)
    await asyncio.sleep(0.5)
    pids = [server_pid, *children(server_pid)]
    tracers = []
    if args.strace:
        tracers = [subprocess.Popen(["strace", "-c", "-f", "-o", f"{args.strace}.{k}", "-p", str(p)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                   for k, p in enumerate(pids)]
        await asyncio.sleep(1.0)
    before = [counters(p) for p in pids]
    counted = tally.count
    t0 = time.perf_counter()
    await phase(args.msgs)
    wall = time.perf_counter() - t0
    after = [counters(p) for p in pids]
    for t in tracers:
        t.send_signal(2)
    for t in tracers:
        t.wait()
    for c in clients:
        c.transport.close()
    n = tally.count - counted

    def per(i, scale=1e6, digits=1):
        return [round((a[i] - b[i]) / n * scale, digits) for a, b in zip(after, before)]

    return {"messages": n, "wall_s": round(wall, 3), "user_us": per(0), "sys_us": per(1),
            "cpu_us": [round(u + s, 1) for u, s in zip(per(0), per(1))],
            "switches_per_msg": per(2, 1, 3), "reads_per_msg": per(3, 1, 4),
            "writes_per_msg": per(4, 1, 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("venv", type=Path)
    ap.add_argument("store", choices=["memory", "durable"])
    ap.add_argument("--clients", type=int, default=bs.CLIENTS)
    ap.add_argument("--docs", type=int, default=bs.DOCS)
    ap.add_argument("--warm", type=int, default=3)
    ap.add_argument("--msgs", type=int, default=20)
    ap.add_argument("--strace", default="", help="write strace -c summaries to PREFIX.0, PREFIX.1 ...")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="advm-load-counts-"))
    try:
        (tmp / "bump.adb").write_text(bs.DOC)
        store = tmp / "store"
        mint = subprocess.run(
            [str(args.venv / "bin/python"), "-c",
             "import json, sys; from pathlib import Path; from advm.net.tokens import Tokens;"
             "t = Tokens.from_store_dir(Path(sys.argv[1]));"
             "print(json.dumps([t.mint(f'user{i}', ttl=3600) for i in range(int(sys.argv[2]))]))",
             str(store), str(args.clients)], capture_output=True, text=True, cwd=tmp, check=True)
        tokens = json.loads(mint.stdout)
        run = tmp / "run"
        run.mkdir()  # an empty folder: what the build imports is its own install
        proc = subprocess.Popen(
            [str(args.venv / "bin/advm"), "run", str(tmp / "bump.adb"), "--port", "0", "--store", str(store),
             "--workers", str(bs.WORKERS), *([] if args.store == "durable" else ["--memory"])],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True, cwd=run)
        try:
            url = proc.stdout.readline().strip().split("WebSocket ")[1].rstrip(")")
            result = asyncio.run(drive(args, url, tokens, proc.pid))
        finally:
            proc.send_signal(2)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            proc.stdout.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    result.update(venv=str(args.venv), store=args.store, clients=args.clients, docs=args.docs,
                  load=round(os.getloadavg()[0], 1))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
