"""What a module's documents share (issue 12 point 3, runtime/engine.py
_shared_caches): function indexes, record makers and channel decoders are
built once per module, and a document takes its own copy only when a type's
defaults need code run on its own machine (a `new` maker)."""
from __future__ import annotations

import gc

from advm.compiler.build import build_source
from advm.runtime import engine as enginemod
from advm.runtime.living import LivingDocument
from advm.views.viewers import Viewers

T0 = 1_700_000_000_000

SOURCE = """
@static { create { return true; } }
public int n;
function one() -> int { return 1; }
message Add { int k; }
message Inner { int a = 2 * 3 + one(); }
message Boxed { Inner inner; int q = one(); }
channel add(principal who, Add a) { n += a.k; }
channel boxed(principal who, Boxed b) { n += b.q + b.inner.a; }
"""


def make(module, key):
    doc = LivingDocument(module, key=key, viewers=Viewers)
    doc.create("ann@", None, T0)
    return doc


def n_of(living):
    machine = living.engine.machine
    return machine.doc.f[living.engine.module.records[machine.doc.layout].fields.index("n")]


def test_documents_share_decoders_until_one_needs_its_own():
    module = build_source(SOURCE, "share.adb")
    assert module.meta["messages"]["Add"]["new"] is None
    assert module.meta["messages"]["Boxed"]["new"] == "new.Boxed"
    a, b, c = (make(module, k) for k in "abc")
    for d in (a, b, c):
        d.send("ann@", "add", {"k": 2}, T0 + 1)
    da, db, dc = a.engine, b.engine, c.engine
    assert da._channels is db._channels is dc._channels
    assert da.channel("add") is db.channel("add")  # one decoder for the module
    assert da._makers is db._makers

    a.send("ann@", "boxed", {}, T0 + 2)  # Boxed's defaults run on a's machine
    assert n_of(a) == 2 + 1 + 7
    assert da._channels is not db._channels and da._makers is not db._makers
    assert "boxed" not in db._channels and ("message", "Boxed") not in db._makers
    assert db._channels is dc._channels  # the others still share
    assert da.channel("add") is db.channel("add")  # what was shared stays the same object

    b.send("ann@", "boxed", {"q": 10}, T0 + 2)
    assert n_of(b) == 2 + 10 + 7
    assert db.channel("boxed") is not da.channel("boxed")
    assert n_of(c) == 2 and dc._channels is not db._channels
    c.send("ann@", "add", {"k": 5}, T0 + 3)
    assert n_of(c) == 7


def test_a_module_dropped_is_forgotten():
    module = build_source(SOURCE, "drop.adb")
    doc = make(module, "x")
    doc.send("ann@", "add", {"k": 1}, T0 + 1)
    key = id(module)
    assert key in enginemod._shared_by_module
    del doc, module
    gc.collect()
    assert key not in enginemod._shared_by_module
