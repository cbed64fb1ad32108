"""Server benchmarks (group "server"): the whole stack on loopback next to a
plain `websockets` echo server measured in the same run.

    .venv/bin/python -m pytest bench/bench_server.py --benchmark-enable -s
    .venv/bin/python bench/bench_server.py            # the same, printed as a table

Load: CLIENTS WebSocket clients (one socket each) on DOCS documents, each
client a viewer of its document and a sender, in a closed loop: send one
message, wait until its reply arrives, send the next (throughput; latency is
then mostly queueing). A second run paces the same clients at PACED messages
per second in total, for latency at a load the server can carry. Each message bumps a
public counter, so every viewer of that document gets a delta: one input
makes DOCS_VIEWERS delta frames plus one reply. Latency is from send to the
sender's own delta for that change (the delta precedes the reply on the
socket). The echo server answers each frame with the same frame: one frame
out per frame in, no JSON, no documents; it is the library's own limit on this
machine. The server runs in its own process (`advm run`, documents in two
worker processes; in memory, and on the synced store: every input durable
before its frames go out), the load generator in this one.

Each load result also has `cpu_us_per_message`: CPU time (user and system,
from /proc) that the server process, its workers and the load generator
spent per message in the measured window. The machine is shared, and the
kernel gives each session's processes a share of the cores as a group, so
throughput follows what a run was given; CPU per message says what the
server needs, and compares with echo's whatever the machine is doing.

Fan-out: one change to FANOUT viewers of one document, from the router's input
to the last frame handed to the sockets, per viewer; the viewers' sockets are
read by a separate process. Baseline: `websockets.broadcast` of one message to
as many sockets, the library's fastest way to send one frame to many.

Results and the machine they came from: spec/protocol.md section 8.9.
"""
from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest
import websockets
from websockets.asyncio.client import connect as ws_connect
from websockets.asyncio.server import broadcast, serve

CLIENTS = int(os.environ.get("ADVM_BENCH_CLIENTS", 1000))
DOCS = 100
WARMUP = 1.0
DURATION = float(os.environ.get("ADVM_BENCH_SECONDS", 5.0))
FANOUT = 1000
PACED = 1000  # messages per second offered in the paced runs (one per client per second)
FANOUT_ROUNDS = 20
WORKERS = 2

DOC = """
@static {
  create {
    return true;
  }
}

message Bump {
  int by;
}

public int n;

@connected {
  return true;
}

channel bump(Bump b) {
  n += b.by;
}
"""

ECHO_SERVER = """
import asyncio, sys
from websockets.asyncio.server import serve

async def echo(ws):
    async for message in ws:
        await ws.send(message)

async def main():
    async with serve(echo, "127.0.0.1", 0, compression=None, max_queue=64) as server:
        print(f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/", flush=True)
        await asyncio.Future()

asyncio.run(main())
"""

# Opens N sockets, each a viewer of one document, then reads until killed.
FAN_READERS = """
import asyncio, json, sys
from websockets.asyncio.client import connect

async def reader(url, hello):
    ws = await connect(url, compression=None, max_queue=None)
    if hello:
        await ws.send(hello)
    async for _ in ws:
        pass

async def main():
    url, n, hello = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    tasks = []
    for i in range(n):
        tasks.append(asyncio.create_task(reader(url, hello)))
        if i % 50 == 49:
            await asyncio.sleep(0.01)
    print("ready", flush=True)
    await asyncio.gather(*tasks)

asyncio.run(main())
"""


def percentile(samples, q):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def python() -> str:
    return sys.executable


# ---------------------------------------------------------------- servers


class Child:
    """A server in a subprocess; its first stdout line is what it announces."""

    def __init__(self, args, env=None):
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL, text=True, env=env)
        self.line = self.proc.stdout.readline().strip()
        if not self.line:
            self.proc.kill()
            raise RuntimeError(f"{args[:3]} did not start")

    def close(self):
        self.proc.send_signal(2)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


def advm_server(tmp: Path, durable: bool, workers: int = WORKERS) -> tuple[Child, str]:
    doc = tmp / "bump.adb"
    doc.write_text(DOC)
    advm = Path(sys.executable).with_name("advm")
    child = Child([str(advm), "run", str(doc), "--port", "0", "--store", str(tmp / "store"),
                   "--workers", str(workers), *([] if durable else ["--memory"])])
    url = child.line.split("WebSocket ")[1].rstrip(")")
    return child, url


def echo_server() -> tuple[Child, str]:
    child = Child([python(), "-c", ECHO_SERVER])
    return child, child.line


# ---------------------------------------------------------------- load generator
#
# The load generator shares the machine's cores with the server, so it must
# cost little per frame: each client is a bare asyncio protocol speaking just
# enough WebSocket (RFC 6455: the opening handshake, masked client frames,
# unmasked server frames) and reading only what it needs from each frame (its
# reply's id and seq, each delta's seq) without parsing JSON. Both servers are
# driven by the same clients.

HANDSHAKE = ("GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             "Sec-WebSocket-Version: 13\r\n\r\n")


def client_frame(text: str) -> bytes:
    data = text.encode()
    n = len(data)
    # Masked with a zero key: the frame is valid and the payload needs no XOR.
    if n < 126:
        return bytes((0x81, 0x80 | n)) + b"\0\0\0\0" + data
    return bytes((0x81, 0x80 | 126)) + n.to_bytes(2, "big") + b"\0\0\0\0" + data


class Tally:
    def __init__(self):
        self.latencies: list[float] = []
        self.count = 0
        self.frames = 0
        self.window = (0.0, 0.0)
        self.stop = 0.0
        self.failures = 0
        self.pace: float | None = None  # seconds between one client's messages; None: closed loop


class LeanClient(asyncio.Protocol):
    """One socket, one closed loop: send, wait for the reply, send again."""

    def __init__(self, tally: Tally, kind: str, hello: str | None):
        self.tally = tally
        self.kind = kind
        self.hello = hello
        self.buf = b""
        self.upgraded = False
        self.ready = asyncio.get_running_loop().create_future()
        self.done = asyncio.get_running_loop().create_future()
        self.rid = 1
        self.sent_at = 0.0
        self.seen: dict[int, float] = {}
        self.running = False

    def connection_made(self, transport):
        self.transport = transport
        # Read 64 KiB at a time, not asyncio's 256 KiB, which glibc maps and
        # unmaps on every read (net/server.py READ_SIZE); the same for both servers.
        if getattr(transport, "max_size", 0) > 64 * 1024:
            transport.max_size = 64 * 1024
        host, port = transport.get_extra_info("peername")[:2]
        transport.write(HANDSHAKE.format(path="/", host=f"{host}:{port}").encode())

    def connection_lost(self, exc):
        for fut in (self.ready, self.done):
            if not fut.done():
                fut.set_exception(ConnectionError(f"socket closed: {exc}"))

    def data_received(self, data):
        self.buf += data
        if not self.upgraded:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            assert self.buf.startswith(b"HTTP/1.1 101"), self.buf[:80]
            self.buf = self.buf[end + 4:]
            self.upgraded = True
            if self.hello is None:
                self.ready.set_result(None)
            else:
                self.transport.write(client_frame(self.hello))
        buf = self.buf
        pos = 0
        while len(buf) - pos >= 2:
            n = buf[pos + 1] & 0x7F
            head = 2
            if n == 126:
                if len(buf) - pos < 4:
                    break
                n = int.from_bytes(buf[pos + 2:pos + 4], "big")
                head = 4
            elif n == 127:
                if len(buf) - pos < 10:
                    break
                n = int.from_bytes(buf[pos + 2:pos + 10], "big")
                head = 10
            if len(buf) - pos < head + n:
                break
            self.frame(buf[pos] & 0x0F, buf[pos + head:pos + head + n])
            pos += head + n
        self.buf = buf[pos:]

    def frame(self, opcode: int, payload: bytes) -> None:
        if opcode != 1 or payload.startswith(b'{"status"'):
            return
        now = time.perf_counter()
        tally = self.tally
        if tally.window[0] <= now < tally.window[1]:
            tally.frames += 1
        if self.kind == "echo":
            self.finish(now, now)
            return
        if not self.ready.done():  # the first frame of the stream: the whole view
            if payload.startswith(b'{"failure"'):
                tally.failures += 1
            self.ready.set_result(None)
            return
        if payload.startswith(b'{"deliver":1,'):
            seq = _seq(payload)
            if seq is not None:
                self.seen[seq] = now
        elif payload.startswith(b'{"deliver":%d,"done":true' % self.rid):
            self.finish(now, self.seen.get(_seq(payload), now))
        elif payload.startswith(b'{"failure"'):
            tally.failures += 1
            self.finish(now, now)

    def finish(self, now: float, delta_at: float) -> None:
        tally = self.tally
        if tally.window[0] <= self.sent_at < tally.window[1]:
            tally.count += 1
            tally.latencies.append(delta_at - self.sent_at)
        self.seen.clear()
        if tally.pace is None:
            self.next(now)
        else:  # paced: the next message at its slot, or now if the slot has passed
            due = self.sent_at + tally.pace
            loop = asyncio.get_running_loop()
            loop.call_at(loop.time() + max(0.0, due - now), self._paced)

    def _paced(self) -> None:
        self.next(time.perf_counter())

    def next(self, now: float) -> None:
        if now >= self.tally.stop:
            if not self.done.done():
                self.done.set_result(None)
            return
        self.rid += 1
        self.sent_at = now
        self.transport.write(client_frame(
            '{"id":%d,"method":"connection/send","connection":1,"channel":"bump",'
            '"message":{"by":1}}' % self.rid))


def _seq(payload: bytes) -> int | None:
    at = payload.rfind(b'"seq":')
    if at < 0:
        return None
    end = at + 6
    while end < len(payload) and 48 <= payload[end] <= 57:
        end += 1
    return int(payload[at + 6:end])


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of a process so far (Linux /proc), or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def process_tree(pid: int) -> list[int]:
    """`pid` and its children (the server and its worker processes)."""
    kids = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids += [int(k) for k in f.read().split()]
    except OSError:
        pass
    return [pid, *kids]


async def load(url: str, kind: str, tokens=None, rate: float | None = None,
               server_pids: list[int] = ()) -> dict:
    """Closed loop (rate None), or `rate` messages per second offered in total,
    spread evenly over the clients. With `server_pids` (the server process
    first, then its workers) the result also says how much CPU each side
    spent per message in the measured window: on a shared machine throughput
    follows the share of the cores a run gets, CPU per message much less."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    loop = asyncio.get_running_loop()
    tally = Tally()
    tally.pace = None if rate is None else CLIENTS / rate
    clients = []
    for i in range(CLIENTS):
        hello = None
        if kind == "advm":
            hello = json.dumps({"id": 1, "method": "connection/create",
                                "identity": tokens[i % len(tokens)], "key": f"doc-{i % DOCS}"})
        _, client = await loop.create_connection(
            lambda hello=hello: LeanClient(tally, kind, hello), parts.hostname, parts.port)
        clients.append(client)
        if kind == "advm" and i < DOCS:
            # Each document is created by the first client that views it: the
            # create goes out with the handshake, before that socket's
            # connection/create, and the router runs one document's requests in order.
            client.transport.write(client_frame(json.dumps(
                {"id": 10_000, "method": "document/create", "identity": tokens[i],
                 "key": f"doc-{i}"})))
            await asyncio.sleep(0.002)
        if kind == "advm" and i == DOCS - 1:
            # Every document exists before any other client asks to view it
            # (a loaded machine can take longer than the pacing above).
            await asyncio.gather(*(c.ready for c in clients))
    await asyncio.gather(*(c.ready for c in clients))
    if tally.failures:
        raise RuntimeError(f"{tally.failures} requests failed while connecting")
    begin = time.perf_counter() + 0.2
    tally.window = (begin + WARMUP, begin + WARMUP + DURATION)
    tally.stop = tally.window[1]
    await asyncio.sleep(max(0.0, begin - time.perf_counter()))
    start = time.perf_counter()
    pids = [*server_pids, os.getpid()]
    cpu: dict[str, list] = {}
    for edge, at in (("from", tally.window[0]), ("to", tally.window[1])):
        loop.call_later(max(0.0, at - start),
                        lambda edge=edge: cpu.__setitem__(edge, [cpu_seconds(p) for p in pids]))
    if tally.pace is None:
        for c in clients:
            c.next(start)
    else:  # staggered, so the offered load is even from the first second
        for i, c in enumerate(clients):
            loop.call_later(tally.pace * i / len(clients), c._paced)
    await asyncio.gather(*(c.done for c in clients))
    for c in clients:
        c.transport.close()
    result = {"clients": CLIENTS, **({} if rate is None else {"offered_per_second": rate}),
              "messages_per_second": round(tally.count / DURATION),
              "frames_received_per_second": round(tally.frames / DURATION),
              "p50_ms": round(percentile(tally.latencies, 0.50) * 1e3, 2),
              "p99_ms": round(percentile(tally.latencies, 0.99) * 1e3, 2),
              "failures": tally.failures}
    spent = [None if a is None or b is None else b - a
             for a, b in zip(cpu.get("from", ()), cpu.get("to", ()))]
    if server_pids and tally.count and None not in spent and spent:
        per = [round(x / tally.count * 1e6) for x in spent]
        result["cpu_us_per_message"] = {"server": per[0], "workers": sum(per[1:-1]),
                                        "load_generator": per[-1]}
    return result


def load_test(kind: str, durable: bool = False, rate: float | None = None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        if kind == "advm":
            from advm.net.tokens import Tokens

            tokens = Tokens.from_store_dir(Path(tmp) / "store")
            child, url = advm_server(Path(tmp), durable)
            toks = [tokens.mint(f"user{i}", ttl=3600) for i in range(CLIENTS)]
        else:
            child, url = echo_server()
            toks = None
        try:
            return asyncio.run(load(url, kind, toks, rate, process_tree(child.proc.pid)))
        finally:
            child.close()


# ---------------------------------------------------------------- fan-out


def _readers(url: str, n: int, hello: str) -> subprocess.Popen:
    proc = subprocess.Popen([python(), "-c", FAN_READERS, url, str(n), hello],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _stop(proc):
    proc.kill()
    proc.wait()
    proc.stdout.close()


async def _fanout_advm(workers: int) -> list[float]:
    from advm.compiler.build import build_source
    from advm.net.router import Router
    from advm.net.server import Server
    from advm.net.tokens import Tokens

    tokens = Tokens(b"bench-key-0123456789abcdef012345")
    server = Server(Router(build_source(DOC, "bump.adb"), workers=workers), tokens, port=0)
    await server.start()
    router = server.router
    await router.create("fan", "writer@", None)
    hello = json.dumps({"id": 1, "method": "connection/create", "identity": "anonymous",
                        "key": "fan"})
    loop = asyncio.get_running_loop()
    readers = await loop.run_in_executor(None, _readers, server.ws_url, FANOUT, hello)
    try:
        while sum(len(s.streams) for s in server.sockets) < FANOUT:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        times = []
        for _ in range(FANOUT_ROUNDS + 2):
            t0 = time.perf_counter()
            await router.send("fan", "writer@", "bump", {"by": 1})
            while any(s.outbox for s in server.sockets):
                await asyncio.sleep(0)
            times.append(time.perf_counter() - t0)
            await asyncio.sleep(0.05)
        return times[2:]
    finally:
        _stop(readers)
        await server.close()


async def _fanout_broadcast() -> list[float]:
    conns = set()

    async def handler(ws):
        conns.add(ws)
        try:
            await ws.wait_closed()
        finally:
            conns.discard(ws)

    async with serve(handler, "127.0.0.1", 0, compression=None) as server:
        url = f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
        loop = asyncio.get_running_loop()
        readers = await loop.run_in_executor(None, _readers, url, FANOUT, "")
        try:
            while len(conns) < FANOUT:
                await asyncio.sleep(0.05)
            frame = json.dumps({"deliver": 1, "done": False,
                                "response": {"delta": {"data": {"n": 1}, "seq": 2}}})
            times = []
            for _ in range(FANOUT_ROUNDS + 2):
                t0 = time.perf_counter()
                broadcast(conns, frame)
                times.append(time.perf_counter() - t0)
                await asyncio.sleep(0.05)
            return times[2:]
        finally:
            _stop(readers)


def fanout(kind: str, workers: int = 0) -> dict:
    times = asyncio.run(_fanout_advm(workers) if kind == "advm" else _fanout_broadcast())
    return {"viewers": FANOUT, "us_per_viewer_best": round(min(times) / FANOUT * 1e6, 2),
            "us_per_viewer_median": round(statistics.median(times) / FANOUT * 1e6, 2)}


# ---------------------------------------------------------------- pytest-benchmark


def _record(benchmark, fn):
    result = {}

    def run():
        result.update(fn())

    benchmark.pedantic(run, rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    print(json.dumps(result))


@pytest.mark.benchmark(group="server")
def test_load_echo_baseline(benchmark):
    _record(benchmark, lambda: load_test("echo"))


@pytest.mark.benchmark(group="server")
@pytest.mark.parametrize("store", ["memory", "durable"])
def test_load_advm(benchmark, store):
    _record(benchmark, lambda: dict(load_test("advm", store == "durable"), store=store))


@pytest.mark.benchmark(group="server")
@pytest.mark.parametrize("server", ["echo", "advm-memory", "advm-durable"])
def test_load_paced(benchmark, server):
    kind = "echo" if server == "echo" else "advm"
    _record(benchmark, lambda: dict(load_test(kind, server == "advm-durable", rate=PACED),
                                    server=server))


@pytest.mark.benchmark(group="server")
def test_fanout_broadcast_baseline(benchmark):
    _record(benchmark, lambda: fanout("broadcast"))


@pytest.mark.benchmark(group="server")
@pytest.mark.parametrize("workers", [0, 1])
def test_fanout_advm(benchmark, workers):
    _record(benchmark, lambda: dict(fanout("advm", workers), workers=workers))


def main() -> None:
    rows = [("load: websockets echo", load_test("echo")),
            ("load: advm run --memory", load_test("advm")),
            ("load: advm run (synced store)", load_test("advm", durable=True)),
            (f"paced {PACED}/s: websockets echo", load_test("echo", rate=PACED)),
            (f"paced {PACED}/s: advm run --memory", load_test("advm", rate=PACED)),
            (f"paced {PACED}/s: advm run (synced store)",
             load_test("advm", durable=True, rate=PACED)),
            ("fan-out: websockets.broadcast", fanout("broadcast")),
            ("fan-out: advm, documents on a thread", fanout("advm", 0)),
            ("fan-out: advm, one worker process", fanout("advm", 1))]
    print(f"websockets {websockets.__version__}, Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    for name, result in rows:
        print(f"{name:40} {json.dumps(result)}")


if __name__ == "__main__":
    main()
