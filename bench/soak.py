"""A soak run of the real server (issue 23 point 4; bench/README.md).

    python bench/soak.py --minutes 10 [--docs 10] [--viewers 3] [--rate 50] [--idle 5]
                         [--wave 60] [--wave-share 1.0] [--extra 2] [--workers 2]
                         [--memory-budget MB]

Starts `advm run` (LMDB store in a temporary folder, 127.0.0.1, --workers 2)
on a chat program, and drives it: `--docs` chat documents with `--viewers`
viewers each, `--rate` messages a second in all (each acknowledged message
is counted per document), every `--wave` seconds every viewer (of
`--wave-share` of the documents) reconnects at once while the messages go on,
and each wave creates `--extra` documents that get one message and are
left to unload after `--idle`; every document wakes itself every 20 s (a
delayed transition), so sleeping ones are woken. Every 30 s (`--every`) it
prints the RSS, file descriptors and threads of each process (from /proc),
the store's size, and ack and delta p50/p99 (ack: a send's round trip;
delta: from the send to another viewer's frame showing it). At the end:
SIGINT (timed), a restart, and a check that every acknowledged message is in
its document. Exit status 0 when nothing acknowledged was lost.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT.parent))

PROGRAM = """
@static {
  create {
    return true;
  }
}

record Line {
  public int id;
  public string text;
}

message Say {
  string text;
  double at;
}

table<Line> _lines;
public formula recent = iterate _lines order by id desc limit 50;
public int total;
public double last_at;
public int ticks;

@connected {
  return true;
}

@construct {
  transition #tick in 20;
}

#tick {
  ticks++;
  transition #tick in 20;
}

channel say(Say s) {
  _lines <- {text: s.text};
  total++;
  last_at = s.at;
}
"""


def proc_stats(pid: int) -> tuple[int, int, int]:
    """(RSS kB, open file descriptors, threads) of process `pid`, from /proc."""
    rss = threads = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd")), threads


def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def tree(pid: int) -> list[int]:
    out = [pid]
    for c in children(pid):
        out += tree(c)
    return out


def folder_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


class Server:
    def __init__(self, program: Path, store: Path, idle: float, workers: int, budget: float | None = None):
        self.args = [sys.executable, "-m", "advm", "run", str(program), "--store", str(store),
                     "--host", "127.0.0.1", "--port", "0", "--workers", str(workers),
                     "--idle", str(idle)]
        if budget is not None:
            self.args += ["--memory-budget", str(budget)]
        self.proc = None
        self.url = None

    def start(self) -> str:
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, text=True, cwd=ROOT.parent)
        line = self.proc.stdout.readline()
        if "WebSocket" not in line:
            raise SystemExit(f"soak: the server did not start: {line!r}")
        self.url = line.split("(WebSocket ")[1].rstrip().rstrip(")")
        return self.url

    def stop(self) -> float:
        t = time.monotonic()
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=120)
        took = time.monotonic() - t
        self.proc.stdout.close()
        return took


class Load:
    def __init__(self, url: str, args):
        self.url = url
        self.args = args
        self.acked: dict[str, int] = {}
        self.acks: list[float] = []
        self.deltas: list[float] = []
        self.errors: list[str] = []
        self.conns: dict[str, list] = {}
        self.keys: list[str] = [f"chat-{i}" for i in range(args.docs)]
        self.extra = 0
        self.inflight: dict[str, int] = {}  # key -> sends not yet answered
        # Documents whose viewers the waves reconnect (--wave-share of them);
        # the others' acks while a wave runs are kept apart.
        self.waved = set(self.keys[:max(1, round(len(self.keys) * args.wave_share))])
        self.waving = False
        self.others: list[float] = []

    async def client(self, who: str):
        from advm.net.client import Client

        anon = await Client.connect(self.url)
        token = (await anon.request("identity/mint", principal=who))["identity"]
        await anon.close()
        return await Client.connect(self.url, token)

    async def open_viewers(self, key: str) -> None:
        conns = []
        for v in range(self.args.viewers):
            c = await self.client(f"v{v}@")
            try:
                conn = await c.open(key)
            except Exception as e:  # memory_full past a --memory-budget: counted, not fatal
                self.errors.append(f"{key}: open: {type(e).__name__}: {e}")
                await c.close()
                continue
            conns.append((c, conn))
            if v > 0 or self.args.viewers == 1:  # the first viewer sends, the others see it
                asyncio.get_running_loop().create_task(self.watch(conn))
        self.conns[key] = conns

    async def watch(self, conn) -> None:
        seen = None
        try:
            async for _ in conn.updates():
                at = conn.view.get("last_at")
                if at and at != seen:
                    seen = at
                    self.deltas.append(time.time() - at)
        except Exception:
            pass

    async def close_viewers(self, key: str) -> None:
        conns = self.conns.pop(key, [])  # no new send goes to them
        for _ in range(1000):  # the sends in flight are answered first
            if not self.inflight.get(key):
                break
            await asyncio.sleep(0.005)
        for c, conn in conns:
            try:
                await conn.end()
            except Exception:
                pass
            await c.close()

    async def setup(self) -> None:
        owner = await self.client("owner@")
        for key in self.keys:
            await owner.create(key)
            self.acked[key] = 0
        await owner.close()
        for key in self.keys:
            await self.open_viewers(key)

    async def send_one(self, key: str) -> None:
        conns = self.conns.get(key)
        if not conns:
            return
        _, conn = conns[0]
        t = time.perf_counter()
        self.inflight[key] = self.inflight.get(key, 0) + 1
        try:
            await conn.send("say", {"text": "hello " * 4, "at": time.time()})
        except Exception as e:
            self.errors.append(f"{key}: {type(e).__name__}: {e}")
            return
        finally:
            self.inflight[key] -= 1
        took = time.perf_counter() - t
        self.acks.append(took)
        if self.waving and key not in self.waved:
            self.others.append(took)
        self.acked[key] = self.acked.get(key, 0) + 1

    async def wave(self) -> None:
        """Every viewer of the waved documents reconnects at once (the
        messages to the others go on); some new documents are used once and
        left to sleep."""
        keys = [k for k in self.conns if k in self.waved]
        self.waving = True
        try:
            await asyncio.gather(*(self.close_viewers(k) for k in keys))
            await asyncio.gather(*(self.open_viewers(k) for k in keys))
        finally:
            self.waving = False
        owner = await self.client("owner@")
        for _ in range(self.args.extra):
            key = f"extra-{self.extra}"
            self.extra += 1
            try:
                await owner.create(key)
                self.acked[key] = 0
                conn = await owner.open(key)
                await conn.send("say", {"text": "left to sleep", "at": time.time()})
                self.acked[key] = 1
                await conn.end()
            except Exception as e:
                self.errors.append(f"{key}: {type(e).__name__}: {e}")
        await owner.close()


async def drive(args, server: Server, store: Path) -> Load:
    load = Load(server.url, args)
    await load.setup()
    start = time.monotonic()
    end = start + args.minutes * 60
    next_report = start + args.every
    next_wave = start + args.wave
    interval = 1.0 / args.rate
    tasks = set()
    print("  t s | RSS MB per process (server, workers) | fds | threads | store MB | loaded | "
          "estimate MB | budget unloads/refusals | acks | ack p50/p99 ms | delta p50/p99 ms | errors",
          flush=True)
    while time.monotonic() < end:
        now = time.monotonic()
        if now >= next_wave:
            next_wave += args.wave
            task = asyncio.get_running_loop().create_task(load.wave())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if now >= next_report:
            next_report += args.every
            report(load, server, store, now - start)
        task = asyncio.get_running_loop().create_task(load.send_one(random.choice(load.keys)))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        await asyncio.sleep(interval)
    if tasks:
        await asyncio.gather(*tasks)
    report(load, server, store, time.monotonic() - start)
    for key in list(load.conns):
        await load.close_viewers(key)
    return load


def metrics(ws_url: str) -> dict[str, float]:
    """The server's /metrics, each family's samples added up (labels dropped)."""
    import urllib.request

    url = ws_url.replace("ws://", "http://", 1).split("/", 3)
    out: dict[str, float] = {}
    try:
        with urllib.request.urlopen(f"{url[0]}//{url[2]}/metrics", timeout=10) as r:
            text = r.read().decode()
    except OSError:
        return out
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            name = name.split("{")[0]
            out[name] = out.get(name, 0.0) + float(value)
    return out


def report(load: Load, server: Server, store: Path, t: float) -> None:
    pids = tree(server.proc.pid)
    stats = [proc_stats(p) for p in pids if os.path.exists(f"/proc/{p}")]
    acks, deltas = load.acks, load.deltas
    load.acks, load.deltas = [], []
    m = metrics(server.url)
    print(f"{t:5.0f} | {', '.join(f'{s[0] / 1024:.0f}' for s in stats)} | "
          f"{sum(s[1] for s in stats)} | {sum(s[2] for s in stats)} | "
          f"{folder_bytes(store) / 1e6:.1f} | {m.get('advm_documents_loaded', 0):.0f} | "
          f"{m.get('advm_document_bytes', 0) / 1e6:.1f} | "
          f"{m.get('advm_budget_unloads', 0):.0f}/{m.get('advm_memory_refusals', 0):.0f} | "
          f"{sum(load.acked.values())} | "
          f"{pct(acks, .5) * 1e3:.1f}/{pct(acks, .99) * 1e3:.1f} | "
          f"{pct(deltas, .5) * 1e3:.1f}/{pct(deltas, .99) * 1e3:.1f} | {len(load.errors)}", flush=True)


async def check(url: str, load: Load) -> int:
    """Documents whose total is not every acknowledged message."""
    load.url = url  # the restarted server's
    c = await load.client("checker@")
    lost = 0
    try:
        for key, n in sorted(load.acked.items()):
            conn = await c.open(key)
            await conn.wait_for(lambda cn: "total" in cn.view, timeout=30)
            if conn.view["total"] < n:
                lost += 1
                print(f"soak: {key}: {conn.view['total']} messages, {n} acknowledged", flush=True)
            await conn.end()
    finally:
        await c.close()
    return lost


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--docs", type=int, default=10)
    p.add_argument("--viewers", type=int, default=3)
    p.add_argument("--rate", type=float, default=50.0, help="messages a second, in all")
    p.add_argument("--wave", type=float, default=60.0, help="seconds between reconnect waves")
    p.add_argument("--extra", type=int, default=2, help="documents made and left to sleep per wave")
    p.add_argument("--wave-share", dest="wave_share", type=float, default=1.0,
                   help="the share of the documents whose viewers a wave reconnects (default all)")
    p.add_argument("--idle", type=float, default=5.0, help="the server's --idle")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--every", type=float, default=30.0, help="seconds between reports")
    p.add_argument("--memory-budget", dest="budget", type=float, default=None, metavar="MB",
                   help="the server's --memory-budget (default: the server's default)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="advm-soak-") as tmp:
        program = Path(tmp) / "chat.adb"
        program.write_text(PROGRAM)
        store = Path(tmp) / "store"
        server = Server(program, store, args.idle, args.workers, args.budget)
        server.start()
        try:
            load = asyncio.run(drive(args, server, store))
        finally:
            took = server.stop()
        print(f"soak: SIGINT: stopped in {took:.2f} s, exit status {server.proc.returncode}; "
              f"{sum(load.acked.values())} messages acknowledged in {len(load.acked)} documents, "
              f"{len(load.errors)} errors", flush=True)
        for e in sorted(set(load.errors))[:5]:
            print(f"soak: error: {e}", flush=True)
        if load.others:
            print(f"soak: acks of documents outside the waves while a wave ran: "
                  f"p50 {pct(load.others, .5) * 1e3:.1f} ms, p99 {pct(load.others, .99) * 1e3:.1f} ms, "
                  f"max {max(load.others) * 1e3:.1f} ms ({len(load.others)} acks)", flush=True)
        server = Server(program, store, args.idle, args.workers, args.budget)
        url = server.start()
        try:
            lost = asyncio.run(check(url, load))
        finally:
            server.stop()
        print(f"soak: after a restart, {len(load.acked) - lost} of {len(load.acked)} documents hold every "
              f"acknowledged message", flush=True)
        return 1 if lost or server.proc.returncode else 0


if __name__ == "__main__":
    sys.exit(main())
