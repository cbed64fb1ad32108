"""The JavaScript client's TypeScript declarations (clients/js/index.d.ts,
react.d.ts) are checked by the TypeScript compiler: a usage file compiles under
`--strict`, its `@ts-expect-error` lines prove the types refuse misuse (tsc
fails on an expectation that no error meets), and every name index.js exports
is declared.

tsc comes from Debian's `node-typescript` package. Without it the tests skip,
except under CI=true, where they fail: CI installs it (.ci/run).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import ROOT

JS = ROOT / "clients" / "js"
TYPES = JS / "test" / "types"


def _tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        reason = f"no {name} (apt-get install {package})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must check the client's declarations: {reason}")
        pytest.skip(reason)
    return path


def _tsc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([_tool("tsc", "node-typescript"), *args], cwd=JS, capture_output=True,
                          text=True, timeout=300, stdin=subprocess.DEVNULL)


def test_the_declarations_type_check_a_strict_usage():
    r = _tsc("-p", str(TYPES))
    assert r.returncode == 0, r.stdout + r.stderr


def test_the_declarations_refuse_misuse(tmp_path):
    # Without its @ts-expect-error markers the usage file must fail, once per
    # marker: each marked line really is a type error.
    source = (TYPES / "usage.ts").read_text(encoding="utf-8")
    markers = len(re.findall(r"^\s*// @ts-expect-error", source, re.M))
    assert markers >= 7
    bare = tmp_path / "unmarked.ts"
    source = source.replace('"../../', f'"{JS.as_posix()}/')
    bare.write_text(re.sub(r"^\s*// @ts-expect-error.*\n", "", source, flags=re.M),
                    encoding="utf-8")
    r = _tsc("--noEmit", "--strict", "--target", "es2022", "--module", "es2022",
             "--moduleResolution", "node", str(bare))
    errors = re.findall(r"error TS\d+", r.stdout)
    assert r.returncode != 0 and len(errors) == markers, r.stdout + r.stderr


def test_every_export_of_the_client_is_declared():
    node = _tool("node", "nodejs")
    r = subprocess.run([node, "--input-type=module", "-e",
                        "const m = await import('./index.js');"
                        "console.log(JSON.stringify(Object.keys(m).sort()))"],
                       cwd=JS, capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    exported = json.loads(r.stdout)
    declared = set(re.findall(r"^export (?:declare )?(?:class|function|const|let)\s+(\w+)",
                              (JS / "index.d.ts").read_text(encoding="utf-8"), re.M))
    assert exported and set(exported) <= declared, sorted(set(exported) - declared)
