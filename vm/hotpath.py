"""Check that the numeric dispatch paths of the hot loop make no Python calls.

    python -m advm.vm.hotpath      # exit 1 and list the lines when one does

Runs `cython -a` on vm/_machine.pyx into a temporary folder (nothing lands in
the tree) and reads the annotation's per-line score: a line with a non-zero
score touches the Python C API. Inside the dispatch loop, from its first line
up to the first object-register case (CALLHOST), only cold error exits
(`raise`) and the few cases that handle object registers may do so.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DIRECTIVES = ["boundscheck=False", "wraparound=False", "cdivision=True",
              "initializedcheck=False", "infer_types=True"]
# Cold exits, object-register cases and the object bank's growth on a deep call.
ALLOWED = ("raise ", "obank", "if (obank[", "ocap = len(obank)")


def python_lines() -> list[tuple[int, int, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        for f in list(HERE.glob("*.pyx")) + list(HERE.glob("*.pxi")):
            shutil.copy(f, tmp)
        cmd = [sys.executable, "-m", "cython", "-a", "-3", "_machine.pyx"]
        for d in DIRECTIVES:
            cmd += ["-X", d]
        subprocess.run(cmd, cwd=tmp, check=True, capture_output=True)
        html = (Path(tmp) / "_machine.html").read_text()
    src = (HERE / "_machine.pyx").read_text().splitlines()
    start = next(i for i, line in enumerate(src)
                 if line.strip() == "while True:" and "ins = code[pc]" in src[i + 1]) + 1
    end = next(i for i, line in enumerate(src) if "elif op == OP_CALLHOST" in line) + 1
    rows = re.findall(r'<pre class="cython line score-(\d+)"[^>]*>.<span class="">(\d+)</span>',
                      html)
    return [(int(n), int(s), src[int(n) - 1].strip()) for s, n in rows
            if start <= int(n) < end and int(s) > 0]


def main() -> int:
    bad = [row for row in python_lines() if not row[2].startswith(ALLOWED)]
    for line, score, text in bad:
        print(f"vm/_machine.pyx:{line}: score {score}: {text}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
