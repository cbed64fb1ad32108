"""Helpers for the VM tests (imported as `vmkit`; pytest puts this folder on sys.path)."""
from __future__ import annotations

from advm.vm.assembler import ModuleAsm
from advm.vm.host import core_library


def build(params: str, result: str, body, *, records=(), hosts=(), document=None,
          extra=None, filename: str = "t.adb"):
    """A module whose function `t(params) -> result` is written by `body(f)`."""
    m = ModuleAsm(filename)
    for name, fields, kinds, defaults in records:
        m.record(name, fields, kinds, defaults)
    if document is not None:
        m.document = m.record_index(document)
    for name, p, r in hosts:
        m.host(name, p, r)
    f = m.function("t", params, result)
    if extra is not None:
        extra(m)
    body(f)
    return m.assemble()


def run_module(module, *args, **machine_kw):
    from advm.vm._machine import Machine

    machine_kw.setdefault("host", core_library())
    return Machine(module, **machine_kw).call("t", *args)


