"""Imports go one way (README, Layout): pyproject.toml's import-linter
contracts hold for the installed advm, and a wrong arrow breaks them."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import advm

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "pyproject.toml"


def package_tree(where: Path) -> Path:
    """A folder holding advm as one tree of folders, made of links.

    setup.py maps top-level folders into advm (vm/ becomes advm.vm). A copy
    install lays them out under advm/ already; an editable one finds them
    through an import hook, which import-linter (it walks folders) does not
    see. So every entry of advm's own folder is linked into place, and so is
    each top-level folder that imports as advm.<name>."""
    top = where / "advm"
    top.mkdir()
    own = Path(advm.__file__).resolve().parent
    for entry in own.iterdir():
        (top / entry.name).symlink_to(entry)
    for folder in sorted(ROOT.iterdir()):
        name = folder.name
        if not (folder / "__init__.py").is_file() or (top / name).exists():
            continue
        spec = importlib.util.find_spec(f"advm.{name}")
        if spec is not None and spec.submodule_search_locations:
            (top / name).symlink_to(Path(spec.submodule_search_locations[0]))
    return where


def own_folder(where: Path, package: str, but: str = "") -> Path:
    """Make advm.<package> in the linked tree a folder of its own (its entries
    still linked, except `but`), so a test can add or replace a module there."""
    folder = where / "advm" / package
    real = folder.resolve()
    folder.unlink()
    folder.mkdir()
    for entry in real.iterdir():
        if entry.name != but:
            (folder / entry.name).symlink_to(entry)
    return folder


def lint(where: Path) -> subprocess.CompletedProcess:
    # Run from `where`, with it first on the path, so that `advm` is the
    # linked tree and not the editable install's hook or the source folder.
    env = {**os.environ, "PYTHONPATH": str(where)}
    return subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()",
         "--no-cache", "--no-logo", str(CONFIG)],
        cwd=where, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300,
    )


def test_import_contracts_hold(tmp_path):
    result = lint(package_tree(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout, result.stdout


def broken(tmp_path, package: str, name: str, text: str, arrow: str, contracts: int) -> None:
    """Lint the tree with `package`/`name` holding `text` (replacing the
    module of that name, if any): it must break exactly `contracts`
    contracts, naming `arrow`."""
    where = package_tree(tmp_path)
    folder = own_folder(where, package, but=name)
    (folder / name).write_text(text)
    result = lint(where)
    assert result.returncode != 0, result.stdout + result.stderr
    assert arrow in result.stdout, result.stdout
    assert f"{contracts} broken" in result.stdout, result.stdout


def test_a_wrong_arrow_breaks_a_contract(tmp_path):
    """The check sees the code: a views module that imports the server (one
    import inside a function, which counts the same) breaks the layers, and
    views-beside-the-store (the server reaches the store)."""
    broken(tmp_path, "views", "wrong_arrow.py", "def serve():\n    from ..net import server\n",
           "advm.views.wrong_arrow -> advm.net", 2)


def test_a_stage_of_code_generation_that_imports_another_breaks_the_stages(tmp_path):
    """codegen.Stages connects the stages that write bodies; a stage importing
    another (here statements reaching into queries, inside a function) is the
    circle issue 11 took out, and the codegen-stages contract says so."""
    source = (ROOT / "compiler" / "gen_stmt.py").read_text()
    broken(tmp_path, "compiler", "gen_stmt.py", source + "\n\ndef wrong():\n    from .gen_query import Queries\n",
           "advm.compiler.gen_stmt -> advm.compiler.gen_query", 1)


def test_the_lmdb_store_may_not_use_durability(tmp_path):
    """store/ is the LMDB store alone: a store module reaching for the
    durability built on it (durable/) breaks its own contract and the layers."""
    broken(tmp_path, "store", "wrong_arrow.py", "def replay_here():\n    from ..durable import replay\n",
           "advm.store.wrong_arrow -> advm.durable", 2)


def test_durability_may_not_import_the_views(tmp_path):
    """durable/ and views/ stand side by side (issue 11: durability -> runtime
    and store): the views factory is handed in by the caller above. A durable
    module reaching for the views, even inside a function, breaks the layers."""
    broken(tmp_path, "durable", "wrong_arrow.py",
           "def default_views():\n    from ..views.viewers import Viewers\n    return Viewers\n",
           "advm.durable.wrong_arrow -> advm.views.viewers", 1)
