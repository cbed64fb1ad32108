"""What one reconnect costs the server's event loop (issue 23 point 3).

    python bench/reconnect_cpu.py [--reconnects 200]

Starts `advm run` (2 workers, LMDB in a temporary folder) with its main
thread's CPU time (`time.thread_time`, the event loop's thread: not the
workers, not the store's committer) printed at exit, and makes N reconnects
one after another as bench/soak.py's waves do: an anonymous connection,
`identity/mint`, close, a connection with the token, a stream on one
document, its end, close. It runs the server twice, with no reconnect and
with N, and prints the difference per reconnect: CPU, so it holds better
than a latency on a loaded machine, but a loaded machine still slows each
instruction (bench/README.md says the load with every figure).
"""
from __future__ import annotations

import argparse
import asyncio
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

LAUNCH = ("import time, runpy, sys, atexit; "
          "atexit.register(lambda: print('MAIN_CPU', time.thread_time(), file=sys.stderr, flush=True)); "
          "sys.argv = ['advm'] + sys.argv[1:]; runpy.run_module('advm', run_name='__main__')")
PROGRAM = """
@static { create { return true; } }
record Line { public int id; public string text; }
message Say { string text; }
table<Line> _lines;
public formula recent = iterate _lines order by id desc limit 50;
@connected { return true; }
channel say(Say s) { _lines <- {text: s.text}; }
"""


async def server_cpu(reconnects: int) -> float:
    """The server main thread's CPU seconds over a run with `reconnects` reconnects."""
    from advm.net.client import Client

    with tempfile.TemporaryDirectory(prefix="advm-reconnect-") as tmp:
        program = Path(tmp) / "doc.adb"
        program.write_text(PROGRAM)
        proc = subprocess.Popen([sys.executable, "-c", LAUNCH, "run", str(program), "--store", f"{tmp}/store",
                                 "--host", "127.0.0.1", "--port", "0", "--workers", "2", "--idle", "600"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp)
        try:
            url = proc.stdout.readline().split("(WebSocket ")[1].rstrip().rstrip(")")

            async def client(who: str):
                anon = await Client.connect(url)
                token = (await anon.request("identity/mint", principal=who))["identity"]
                await anon.close()
                return await Client.connect(url, token)

            owner = await client("owner@")
            await owner.create("doc")
            await owner.close()
            for i in range(reconnects):
                c = await client(f"v{i}@")
                conn = await c.open("doc")
                await conn.end()
                await c.close()
        finally:
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=120)
        return float(re.search(r"MAIN_CPU ([\d.]+)", err).group(1))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--reconnects", type=int, default=200)
    args = p.parse_args(argv)
    none = asyncio.run(server_cpu(0))
    some = asyncio.run(server_cpu(args.reconnects))
    print(f"server main-thread CPU: {none:.3f} s with no reconnect, {some:.3f} s with {args.reconnects}: "
          f"{(some - none) / args.reconnects * 1e3:.2f} ms a reconnect")
    return 0


if __name__ == "__main__":
    sys.exit(main())
