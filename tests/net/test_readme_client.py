"""README's Python client example, run as written against `advm run` on
127.0.0.1 (a free port: the example's URL is the one line the test changes),
serving the starter of `advm new notes` with a token from `advm token`."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WAIT = 60  # seconds any one process may take before the test gives up on it
DEFAULT_URL = '"ws://127.0.0.1:8080/~s"'


def example() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(r"<!-- readme: client -->\n```python\n(.*?)^```$", readme, re.S | re.M)
    assert m, "README has no marked client example"
    return m.group(1)


def advm(*args: str, cwd: Path) -> str:
    r = subprocess.run([sys.executable, "-m", "advm", *args], cwd=cwd, capture_output=True,
                       text=True, timeout=WAIT)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_the_readme_client_example_runs(tmp_path):
    code = example()
    assert code.count(DEFAULT_URL) == 1 and "from advm.net.client import" in code
    advm("new", "notes", cwd=tmp_path)
    (tmp_path / "alice.token").write_text(advm("token", "alice", cwd=tmp_path))
    server = subprocess.Popen([sys.executable, "-m", "advm", "run", "notes.adb", "--port", "0"],
                              cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        first = server.stdout.readline()
        assert "serving" in first, first + server.stderr.read()
        url = first.split("(WebSocket ", 1)[1].split(")", 1)[0]
        assert url.startswith("ws://127.0.0.1:")
        script = tmp_path / "client.py"
        script.write_text(code.replace(DEFAULT_URL, f'"{url}"'), encoding="utf-8")
        r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                           text=True, timeout=WAIT,
                           env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
        assert (r.returncode, r.stderr) == (0, ""), r.stderr
        # What the README says it prints.
        assert r.stdout == "1 hello\nabort 1\n"
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGINT)
            _, err = server.communicate(timeout=WAIT)
            assert server.returncode == 0, err
