"""Build script: maps the user's top-level folders into the one `advm` namespace
and compiles the VM's Cython modules.

`compiler/` becomes `advm.compiler`, `vm/` becomes `advm.vm`, `spec/` becomes
`advm.spec` (it ships the grammar the parser loads), so nothing with a generic
name lands in site-packages.
"""
import shutil
from glob import glob
from pathlib import Path

from setuptools import Extension, setup

HERE = Path(__file__).parent

PACKAGES = {
    "advm": "advm",
    "advm.commands": "advm/commands",
    "advm.compiler": "compiler",
    "advm.spec": "spec",
}
# A folder joins the namespace once it is a package; git keeps no empty
# folders, so a fresh clone may not have vm/ until the VM lands.
for optional in ("vm", "runtime", "views", "store", "durable", "net"):
    if (HERE / optional / "__init__.py").exists():
        PACKAGES[f"advm.{optional}"] = optional
# The JavaScript client ships beside the server that serves it at /advm/
# (net/clientjs.py): clients/js's modules become advm/net/js/.
if "advm.net" in PACKAGES:
    PACKAGES["advm.net.js"] = "clients/js"

# One fixed set of directives for every module: the hot loop is written for
# these and must not silently change behaviour with Cython's defaults.
DIRECTIVES = {
    "language_level": "3",
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": False,
    "infer_types": True,
    "embedsignature": True,
}


def extensions():
    from Cython.Build import cythonize

    mods = [
        Extension(
            f"advm.vm.{Path(pyx).stem}",
            [pyx],
            extra_compile_args=["-O3"],
        )
        for pyx in sorted(glob("vm/*.pyx"))
    ]
    if not mods:
        return []
    return cythonize(mods, compiler_directives=DIRECTIVES, include_path=["vm", _pxd_root()])


def _pxd_root() -> str:
    """A folder where vm/*.pxd sit as advm/vm/*.pxd: Cython looks a cimport
    (`from ._machine cimport Record` in vm/_restore.pyx) up by the module's
    dotted name, and vm/ is not laid out as advm/vm/. Copied with their
    times (copy2), so a changed .pxd rebuilds what cimports it."""
    root = HERE / "build" / "pxd"
    package = root / "advm" / "vm"
    package.mkdir(parents=True, exist_ok=True)
    for init in (root / "advm" / "__init__.pxd", package / "__init__.pxd"):
        if not init.exists():
            init.write_text("")
    for pxd in sorted((HERE / "vm").glob("*.pxd")):
        copy = package / pxd.name
        if not copy.exists() or copy.read_bytes() != pxd.read_bytes():
            shutil.copy2(pxd, copy)
    return str(root)


setup(
    packages=list(PACKAGES),
    package_dir=PACKAGES,
    package_data={"advm.spec": ["*.peg", "*.md"], "advm.vm": ["*.pyx", "*.pxd", "*.pxi"],
                  "advm.net": ["static/*"], "advm.net.js": ["*.js", "*.d.ts", "package.json"]},
    ext_modules=extensions(),
    zip_safe=False,
)
