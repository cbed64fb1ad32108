"""The Quick start's first line, as a newcomer runs it: `pip install . &&
advm run examples/tictactoe.adb` from the root of a fresh clone, with a
non-editable install in a fresh virtual environment.

From the clone's root, the clone's own `advm/` folder (the command line,
without net/ or vm/ inside: those are mapped in at install time) sits in the
working directory, where a worker started with `python -c` looked first and
found it instead of the installed package. test_install.py installs from
another folder and the other server tests run on the editable install, so
neither could see it.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import venv
from pathlib import Path

import pytest
from websockets.sync.client import connect as ws_connect

ROOT = Path(__file__).resolve().parents[2]


def clean_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def lines_of(stream, out: list, seen: threading.Event) -> None:
    for line in stream:
        out.append(line)
        seen.set()


@pytest.mark.slow
def test_quick_start_from_a_fresh_clone_root(tmp_path):
    clone = tmp_path / "advm"
    r = subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(clone)],
                       capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert (clone / "advm").is_dir()  # the folder that hid the installed package

    env_dir = tmp_path / "env"
    # No pip inside: the running pip installs into it (--python), as
    # test_install.py does; the environment is otherwise fresh.
    venv.EnvBuilder(with_pip=False).create(env_dir)
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(env_dir / "bin" / "python"),
                        "install", "-q", "."], cwd=clone, env=clean_env(), capture_output=True,
                       text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stdout + r.stderr

    server = subprocess.Popen(
        [str(env_dir / "bin" / "advm"), "run", "examples/tictactoe.adb", "--port", "0"],
        cwd=clone, env=clean_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    out: list[str] = []
    seen = threading.Event()
    readers = [threading.Thread(target=lines_of, args=(s, out, seen), daemon=True)
               for s in (server.stdout, server.stderr)]
    for t in readers:
        t.start()
    try:
        deadline = time.monotonic() + 60
        while not (found := re.search(r" at (http://127\.0\.0\.1:\d+/?)", "".join(out))):
            assert server.poll() is None, f"advm run exited {server.returncode}: {''.join(out)}"
            assert time.monotonic() < deadline, f"advm run printed no URL: {''.join(out)}"
            seen.wait(0.5)
            seen.clear()
        url = found.group(1)
        ws_url = re.search(r"\(WebSocket (ws://\S+)\)", "".join(out)).group(1)

        with urllib.request.urlopen(url, timeout=10) as page:
            assert page.status == 200
            assert b"<html" in page.read()
        # The page's client, from the installed package (advm/net/js).
        with urllib.request.urlopen(url.rstrip("/") + "/advm/index.js", timeout=10) as module:
            assert module.status == 200
            assert re.search(rb"export \{[^}]*\bAdvmError, Client\b", module.read())

        origin = url.rstrip("/")
        with ws_connect(ws_url, origin=origin, open_timeout=10) as ws:
            assert json.loads(ws.recv(timeout=10))["status"] == "connected"
            ws.send(json.dumps({"id": 1, "method": "identity/mint", "principal": "alice"}))
            minted = json.loads(ws.recv(timeout=10))
            assert minted["deliver"] == 1, minted
            # A document runs in a worker process: it answers only if the
            # workers imported advm.
            ws.send(json.dumps({"id": 2, "method": "document/create",
                                "identity": minted["response"]["identity"], "key": "g1"}))
            assert json.loads(ws.recv(timeout=30)) == {"deliver": 2, "done": True, "response": {}}

        server.send_signal(signal.SIGINT)
        assert server.wait(60) == 0, "".join(out)
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        for t in readers:
            t.join(5)
        server.stdout.close()
        server.stderr.close()
