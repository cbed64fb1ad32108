"""advm installs cleanly, both as a copy and in editable mode, into a fresh
virtual environment; and CI runs the test command the README shows."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

import advm

ROOT = Path(__file__).resolve().parents[2]

# The user's source folders; installed only as advm.<name>, never at top level.
SOURCE_FOLDERS = ("compiler", "vm", "runtime", "views", "spec", "store", "durable", "net")

# What advm itself may put at the top of site-packages: its package, its
# metadata, and in editable mode setuptools' path hook (a .pth and a finder).
OWN_ENTRY = re.compile(
    r"advm|advm-[\w.]+\.dist-info|__editable__\.advm-[\w.]+\.pth"
    r"|__editable___advm_\w+_finder\.py|__pycache__"
)


def quick_start() -> list[str]:
    """The commands of the README's Quick start block."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"^```\w*\n(.*?)^```", section, re.M | re.S)
    assert block, "the Quick start section has no code block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_quick_start_is_two_commands():
    install, tests = quick_start()
    assert install.startswith("pip install . && advm ")
    assert tests == "pip install -e '.[test]' && python -m pytest"


def test_ci_runs_exactly_the_readme_test_command():
    shown = subprocess.run(
        ["bash", str(ROOT / ".ci" / "run"), "--print"],
        capture_output=True, text=True, check=True, stdin=subprocess.DEVNULL,
    )
    assert shown.stdout.splitlines() == [quick_start()[1]]


def test_ci_script_fails_on_errors_and_treats_no_tests_as_failure():
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "set -euo pipefail" in script
    assert re.search(r"status -eq 5", script)
    assert re.search(r'exit "\$status"', script)


# ---------------------------------------------------------------- installing


def copy_project(dst: Path) -> Path:
    """The files a commit would hold (tracked, or new and not ignored), so the
    install sees what a fresh clone sees: no build output, no generated C."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, check=True,
    ).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():  # deleted but still tracked: skip
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel)
    return dst


def run(cmd: list, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(PIP_NO_INPUT="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return subprocess.run(
        [os.fspath(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
        text=True, timeout=timeout, stdin=subprocess.DEVNULL,
    )


SITE_REPORT = """
import importlib.metadata, importlib.util, json, sys, sysconfig
names = sys.argv[1:]
dist = importlib.metadata.distribution("advm")
print(json.dumps({
    "site": sysconfig.get_paths()["purelib"],
    "own": sorted({str(f).split("/")[0] for f in dist.files if not str(f).startswith("..")}),
    "bare": {n: importlib.util.find_spec(n) is not None for n in names},
    "namespaced": {n: importlib.util.find_spec("advm." + n) is not None for n in names},
}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("editable", [False, True], ids=["copy", "editable"])
def test_install_into_a_fresh_venv(tmp_path, editable, examples):
    project = copy_project(tmp_path / "project")
    env_dir = tmp_path / "env"
    # No pip inside: the running pip installs into it (--python), which saves
    # bootstrapping one; everything else about the environment is fresh.
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python, advm_bin = env_dir / "bin" / "python", env_dir / "bin" / "advm"
    elsewhere = tmp_path / "elsewhere"  # a cwd from which the source tree is not importable
    elsewhere.mkdir()

    install = [sys.executable, "-m", "pip", "--python", python, "install", "-q"]
    install += ["-e", project] if editable else [project]
    r = run(install, cwd=elsewhere)
    assert r.returncode == 0, r.stdout + r.stderr

    r = run([advm_bin, "--version"], cwd=elsewhere)
    assert (r.returncode, r.stdout) == (0, f"advm {advm.__version__}\n"), r.stderr
    r = run([python, "-m", "advm", "--version"], cwd=elsewhere)
    assert (r.returncode, r.stdout) == (0, f"advm {advm.__version__}\n"), r.stderr

    example = project / examples[0].relative_to(ROOT)
    r = run([advm_bin, "check", example], cwd=elsewhere)
    assert (r.returncode, r.stderr) == (0, f"{example}: ok\n"), r.stderr

    report = run([python, "-c", SITE_REPORT, *SOURCE_FOLDERS], cwd=elsewhere)
    assert report.returncode == 0, report.stderr
    info = json.loads(report.stdout)
    stray = [e for e in info["own"] if not OWN_ENTRY.fullmatch(e)]
    assert stray == [], f"advm put these at the top of site-packages: {stray}"
    site_entries = {p.name.split(".")[0] for p in Path(info["site"]).iterdir()}
    assert not site_entries & set(SOURCE_FOLDERS)
    assert not any(info["bare"].values()), info["bare"]
    packages = [n for n in SOURCE_FOLDERS if (ROOT / n / "__init__.py").exists()]
    assert packages, "no source folder is a package"
    assert all(info["namespaced"][n] for n in packages), info["namespaced"]
    if not editable:
        installed = Path(info["site"]) / "advm"
        for grammar in (ROOT / "spec").glob("*.peg"):
            assert (installed / "spec" / grammar.name).is_file(), grammar.name
        # The JavaScript client, which the server serves at /advm/ (net/clientjs.py).
        for module in (ROOT / "clients" / "js").glob("*.js"):
            assert (installed / "net" / "js" / module.name).is_file(), module.name
