"""docs/first-document.md, run as written: every marked command block in
order, in an empty folder, and what each prints compared with the guide.

Markers (HTML comments, invisible on the rendered page) say what a block is:
`guide: run` (run with bash; it must exit 0), `guide: serve` (the server,
started in the background with `--port 0` added so the test never depends on
port 8080), `guide: client` (run with the served WebSocket URL added as its
argument, which the guide's script otherwise defaults to 8080 for), `guide:
stop` (Ctrl-C for the server: SIGINT, and it must stop cleanly with exit 0),
`guide: output` (exactly what the previous command printed, stdout and stderr)
and `guide: output lines` (lines it printed among others).
"""
from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "first-document.md"
STEP = re.compile(r"<!-- guide: (run|serve|client|output|output lines|stop) -->\n"
                  r"(?:```(\w+)\n(.*?)^```$)?", re.S | re.M)
WAIT = 60  # seconds any one command may take before the test gives up on it


def steps(text: str) -> list[tuple[str, str | None]]:
    return [(m.group(1), m.group(3)) for m in STEP.finditer(text)]


def lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.rstrip("\n").split("\n")]


def test_the_guide_marks_every_command_block():
    text = GUIDE.read_text(encoding="utf-8")
    fenced = re.findall(r"^```sh$", text, re.M)
    marked = [s for s in steps(text) if s[0] in ("run", "serve", "client")]
    assert len(fenced) == len(marked) >= 8
    assert [kind for kind, _ in steps(text)].count("stop") == 2


def test_the_readme_quick_start_links_the_guide():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quick start\n", 1)[1].split("\n## ", 1)[0]
    assert "(docs/first-document.md)" in quick


class Server:
    def __init__(self, command: str, cwd: Path, env: dict):
        args = shlex.split(command.strip())
        assert args[:2] == ["advm", "run"] and "--port" not in args, command
        self.proc = subprocess.Popen(args + ["--port", "0"], cwd=cwd, env=env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        first = self.proc.stdout.readline()
        if "serving" not in first:
            self.proc.kill()
            out, err = self.proc.communicate()
            raise AssertionError(f"the server did not start: {first}{out}{err}")
        self.ws_url = first.split("(WebSocket ", 1)[1].split(")", 1)[0]

    def stop(self) -> str:
        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=WAIT)
        assert self.proc.returncode == 0, err
        return err


def test_the_guide_runs_as_written(tmp_path):
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               PYTHONUNBUFFERED="1")
    env.pop("ADVM_STORE", None)
    printed: str | None = None
    server: Server | None = None
    ran = []
    try:
        for kind, block in steps(GUIDE.read_text(encoding="utf-8")):
            ran.append(kind)
            if kind == "run":
                r = subprocess.run(["bash", "-e", "-c", block], cwd=tmp_path, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   timeout=WAIT)
                assert r.returncode == 0, f"{block}\n{r.stdout}"
                printed = r.stdout
            elif kind == "serve":
                assert server is None
                server = Server(block, tmp_path, env)
            elif kind == "client":
                assert server is not None
                args = shlex.split(block.strip()) + [server.ws_url]
                r = subprocess.run(args, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, timeout=WAIT)
                assert r.returncode == 0, f"{block}\n{r.stdout}"
                printed = r.stdout
            elif kind == "stop":
                assert server is not None
                err = server.stop()
                assert err.rstrip().endswith("advm: stopped"), err
                server = None
            elif kind == "output":
                assert lines(printed) == lines(block)
            else:  # "output lines": each shown line is one of those printed
                got = lines(printed)
                missing = [line for line in lines(block) if line not in got]
                assert not missing, f"not printed: {missing}\n{printed}"
    finally:
        if server is not None and server.proc.poll() is None:
            server.proc.kill()
            server.proc.communicate()
    assert ran.count("serve") == 2 and ran.count("client") == 2 and ran.count("output") >= 5
    # The folder holds what the guide made, and the store the served game.
    assert {"rps.adb", "rps.jsonl", "play.py", ".advm"} <= {p.name for p in tmp_path.iterdir()}
