"""Host functions the runtime binds are bound by their declaration (vm/host.py
RuntimeBound), not by matching names: the compiler imports the declared name,
the host table makes every import of it from the binding it was given."""
from __future__ import annotations

from advm.compiler.build import build_source
from advm.vm.host import ASK, RuntimeBound
from advm.vm.stdlib import IMPLS, host_table, split_name

CHANNEL_ASK = """
message Answer { int v; }
channel<Answer> answer;
public int got;
#start {
  future<Answer> f = answer.fetch(@no_one);
  got = f.await().v;
}
"""


def test_the_compiler_imports_the_declared_name():
    module = build_source(CHANNEL_ASK, "ask.adb")
    bases = [split_name(h.name)[0] for h in module.hosts]
    assert ASK.name in bases


def test_a_binding_makes_every_import_of_the_declared_function():
    def opened(machine, spec, who, options, limit):
        return ("opened", spec, who, limit)

    table = host_table(bindings={ASK: opened})
    for name in (f"{ASK.name}(oooi)o", f"{ASK.name}(oooi)"):
        made = table[name]
        assert made.fn is opened
        assert made.wants_machine is ASK.wants_machine
        _, params, result = split_name(name)
        assert (made.params, made.result) == (params, result)


def test_without_a_binding_the_library_stand_in_answers():
    made = host_table()[f"{ASK.name}(oooi)o"]
    assert made.fn is IMPLS[ASK.name][0]
    assert made.wants_machine is False
    assert made.fn(["answer", "fetch"], "ann", None, 1) == {
        "channel": "answer", "kind": "fetch", "who": "ann", "options": None, "limit": 1}


def test_a_binding_of_another_declaration_leaves_the_rest_to_the_library():
    other = RuntimeBound("other.thing", False, "a declaration no module imports")
    table = host_table(bindings={other: lambda: None})
    assert table["Math.abs/1(d)d"].fn(-2.0) == 2.0
    assert table[f"{ASK.name}(oooi)o"].fn is IMPLS[ASK.name][0]
