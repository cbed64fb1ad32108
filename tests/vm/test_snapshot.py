"""Suspend -> CBOR snapshot -> resume, in this process and in a fresh one."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from advm.vm._machine import Machine, Record, Suspended
from advm.vm.assembler import ModuleAsm
from advm.vm.errors import SnapshotError


def nested_module():
    """walk(n, x, s): recurses n deep with live locals in every bank, suspends at
    the bottom asking for a word, then every level folds its locals into the result."""
    m = ModuleAsm("walk.adb")
    m.record("Box", ["n", "x", "items"], "ido", [0, 0.0, []])
    f = m.function("walk", "ido", "o")
    bottom = f.label("bottom")
    f.pos = (3, 5)
    f.emit("RNEW", 1, "Box")  # o1 = a record shared with o2's list
    f.emit("RSETI", 1, 0, 0)
    f.emit("RSETD", 1, 1, 0)
    f.emit("LNEW", 2)
    f.emit("LPUSH", 2, 1)
    f.emit("LPUSH", 2, 1)  # the same record twice: sharing must survive
    f.emit("DMULK", 1, 0, 3.0)  # d1 = x * 3 (a live double local)
    f.emit("IMULK", 1, 0, 1000)  # i1 = n * 1000 (a live int local)
    f.emit("IEQJK", 0, 0, 1, bottom)
    f.emit("IADDI", 3, 0, -1)  # call window at 3 in every bank
    f.emit("DMULK", 3, 0, 0.5)
    f.emit("ITOS", 4, 0)
    f.emit("SCAT", 3, 0, 4)
    f.pos = (9, 14)
    f.emit("CALL", 3, "walk")
    f.emit("OMOV", 0, 3)
    f.emit("JMP", fold := f.label("fold"))
    f.mark(bottom)
    f.pos = (5, 20)
    f.emit("SUSPEND", 3, 0)  # payload: the string built so far
    f.emit("SCAT", 0, 0, 3)
    f.mark(fold)
    f.pos = (11, 3)
    # mutate the shared record through the list, then read it through o1
    f.emit("ILOADI", 3, 1)
    f.emit("LGET", 4, 2, 3)
    f.emit("RSETI", 4, 0, 1)
    f.emit("RGETI", 2, 1, 0)
    f.emit("ITOS", 4, 2)
    f.emit("SCAT", 0, 0, 4)
    f.emit("DTOS", 4, 1)
    f.emit("SCAT", 0, 0, 4)
    f.emit("ORET", 0)
    return m.assemble()


def run_through(machine):
    got = machine.call("walk", 4, 1.5, "s")
    assert isinstance(got, Suspended)
    return got, machine


def test_snapshot_resume_in_process_matches_uninterrupted():
    module = nested_module()
    a = Machine(module)
    first, _ = run_through(a)
    assert first.payload == "s4321"
    expected = a.resume("!")
    b = Machine(module)
    run_through(b)
    data = b.snapshot()
    c = Machine.from_snapshot(module, data)
    assert c.suspended and c.depth == 5
    assert [f[0] for f in c.frames_info()] == ["walk"] * 5
    assert c.resume("!") == expected
    assert expected == "s4321!" + "".join(f"{n * 1000}{1.5 * 0.5 ** (4 - n) * 3}"
                                          for n in range(0, 5))


def test_snapshot_resumes_in_a_fresh_process(tmp_path):
    module = nested_module()
    reference = Machine(module)
    run_through(reference)
    expected = reference.resume("!")

    m = Machine(module, seed=99)
    m.rng_next()
    run_through(m)
    module.write(tmp_path / "walk.advc")
    (tmp_path / "walk.snap").write_bytes(m.snapshot())
    script = textwrap.dedent(f"""
        from advm.vm._machine import Machine
        from advm.vm.module import Module
        module = Module.read({str(tmp_path / "walk.advc")!r})
        data = open({str(tmp_path / "walk.snap")!r}, "rb").read()
        m = Machine.from_snapshot(module, data)
        print(repr(m.payload), m.depth, m.rng_next())
        print(repr(m.resume("!")))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"'s4321' 5 {m.rng_next()}"
    assert lines[1] == repr(expected)


def test_shared_and_cyclic_objects_survive():
    module = nested_module()
    m = Machine(module)
    shared = [1, 2]
    r = Record(0, [1, 2.0, shared])
    shared.append(r)  # a cycle: the list holds the record that holds the list
    m.doc = {"a": shared, "b": shared, "r": r}
    run_through(m)
    c = Machine.from_snapshot(module, m.snapshot())
    doc = c.doc
    assert doc["a"] is doc["b"]
    assert doc["a"][2] is doc["r"] and doc["r"].f[2] is doc["a"]
    assert doc["a"][:2] == [1, 2]


def test_idle_machine_snapshot_keeps_rng_and_budget():
    module = nested_module()
    m = Machine(module, seed=5, budget=12345)
    m.rng_next()
    c = Machine.from_snapshot(module, m.snapshot())
    assert not c.suspended and c.depth == 0
    assert c.rng_state == m.rng_state and c.budget_limit == 12345
    assert [c.rng_next() for _ in range(3)] == [m.rng_next() for _ in range(3)]


def test_snapshot_refuses_other_modules_and_corruption():
    module = nested_module()
    m = Machine(module)
    run_through(m)
    data = m.snapshot()
    other = ModuleAsm("other.adb")
    g = other.function("walk", "ido", "o")
    g.emit("ORET", 0)
    with pytest.raises(SnapshotError, match="different module"):
        Machine.from_snapshot(other.assemble(), data)
    with pytest.raises(SnapshotError, match="corrupt snapshot"):
        Machine.from_snapshot(module, data[: len(data) // 2])
    with pytest.raises(SnapshotError, match="not an advm machine snapshot"):
        Machine.from_snapshot(module, b"\xa0")


def test_unsnapshottable_values_are_reported():
    module = nested_module()
    m = Machine(module)
    m.doc = object()
    with pytest.raises(TypeError, match="cannot snapshot a value of type object"):
        m.snapshot()


def asker_module():
    """ask(who): suspends with `who`, returns who + ":" + answer."""
    m = ModuleAsm("ask.adb")
    f = m.function("ask", "o", "o")
    f.emit("SUSPEND", 1, 0)
    f.emit("OLOADK", 2, ":")
    f.emit("SCAT", 0, 0, 2)
    f.emit("SCAT", 0, 0, 1)
    f.emit("ORET", 0)
    return m.assemble()


def test_detached_continuations_interleave():
    from advm.vm.snapshot import dumps_values, loads_values

    module = asker_module()
    m = Machine(module)
    assert m.call("ask", "alice").payload == "alice"
    alice = m.detach()
    assert not m.suspended and m.depth == 0
    assert m.call("ask", "bob").payload == "bob"
    bob = m.detach()
    # answers arrive in any order, each resumes from its own saved frames
    assert m.resume_detached(bob, "rock") == "bob:rock"
    saved = dumps_values({"waiting": [alice, alice]})
    back = loads_values(saved)
    assert back["waiting"][0] is back["waiting"][1]
    fresh = Machine(module)
    assert fresh.resume_detached(back["waiting"][0], "paper") == "alice:paper"
    assert isinstance(fresh.call("ask", "carol"), Suspended)
    with pytest.raises(RuntimeError, match="busy"):
        fresh.resume_detached(alice, "x")


def test_continuation_from_other_code_is_refused():
    m = Machine(asker_module())
    m.call("ask", "a")
    cont = m.detach()
    with pytest.raises(ValueError, match="different module"):
        Machine(nested_module()).resume_detached(cont, "x")


@pytest.mark.parametrize("tamper, message", [
    (lambda s: s.update(frames=[[0, 999, 0, 0, 0]] + s["frames"][1:]), "not a valid position"),
    (lambda s: s.update(frames=[[0, 1, 0, 0, 0]] + s["frames"][1:]), "not stopped at a CALL"),
    (lambda s: s["frames"][1].__setitem__(2, 4), "does not match the call"),
    (lambda s: s.update(suspended=False), "frames exactly when it is suspended"),
    (lambda s: s.update(ibank=s["ibank"] + b"\0" * 8), "banks do not match"),
])
def test_tampered_snapshots_are_refused(tamper, message):
    import cbor2

    module = nested_module()
    m = Machine(module)
    run_through(m)
    body = cbor2.loads(m.snapshot())
    tamper(body)
    with pytest.raises(SnapshotError, match=message):
        Machine.from_snapshot(module, cbor2.dumps(body))
