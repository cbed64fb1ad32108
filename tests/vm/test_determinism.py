"""The same program and inputs give bit-identical machine state in any process
(spec/bytecode.md section 10): map order is insertion order, doubles print
one way, the PRNG state is part of the snapshot, nothing depends on string
hashing or object addresses."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from advm.vm._machine import Machine, Suspended
from advm.vm.assembler import ModuleAsm

HERE = Path(__file__).resolve().parent


def dice_module():
    """play(rounds): each round draws r in [0, 100) and a double, writes
    scores["p" + r % 5] = r (dropping "p0" on odd r, so keys move), adds the
    double to `total` and logs `total` printed as text. ask(): awaits a word
    and appends it to `text`."""
    m = ModuleAsm("dice.adb")
    m.record("Doc", ["scores", "rolls", "total", "text"], "oodo", [{}, [], 0.0, ""])
    m.document = 0
    m.host("Random.genBoundInt", "i", "i")
    m.host("Random.genDouble", "", "d")
    f = m.function("play", "i", "")
    top, keep = f.label("top"), f.label("keep")
    f.emit("ILOADI", 1, 0)
    f.emit("FGETO", 0, 0)
    f.emit("FGETO", 1, 1)
    f.mark(top)
    f.emit("ILOADI", 2, 100)
    f.emit("CALLHOST", 2, "Random.genBoundInt")
    f.emit("IMODK", 3, 2, 5)
    f.emit("ITOS", 2, 3)
    f.emit("OLOADK", 3, "p")
    f.emit("SCAT", 2, 3, 2)
    f.emit("IBOX", 3, 2)
    f.emit("MPUTL", 0, 2, 3)
    f.emit("IMODK", 4, 2, 2)
    f.emit("IEQJK", 4, 0, 1, keep)
    f.emit("OLOADK", 4, "p0")
    f.emit("MDELL", 0, 4)
    f.mark(keep)
    f.emit("CALLHOST", 5, "Random.genDouble")
    f.emit("FGETD", 0, 2)
    f.emit("DADD", 0, 0, 5)
    f.emit("DMULK", 0, 0, 1.0000001)
    f.emit("FSETD", 0, 2)
    f.emit("DTOS", 5, 0)
    f.emit("LPUSHL", 1, 5)
    f.emit("IFORLT", 1, 0, 1, top)
    f.emit("RET")
    g = m.function("ask", "", "")
    g.emit("OLOADK", 0, "word?")
    g.emit("SUSPEND", 1, 0)
    g.emit("FGETO", 2, 3)
    g.emit("SCAT", 2, 2, 1)
    g.emit("FSETO", 2, 3)
    g.emit("RET")
    return m.assemble()


def session() -> list[bytes]:
    """A fixed sequence of transactions; the snapshot after the await and at the end."""
    m = Machine(dice_module(), seed=42)
    m.begin()
    m.call("play", 300)
    m.commit()
    m.begin()
    assert isinstance(m.call("ask"), Suspended)
    m.commit()
    waiting = m.snapshot()
    m.begin()
    m.resume("hello")
    m.commit()
    m.begin()
    m.call("play", 50)
    m.rollback()  # an aborted transaction leaves no trace, PRNG included
    m.begin()
    m.call("play", 20)
    m.commit()
    return [waiting, m.snapshot()]


SCRIPT = f"""
import sys
sys.path.insert(0, {str(HERE)!r})
from test_determinism import session
print(" ".join(s.hex() for s in session()))
"""


def run_fresh(hashseed: str) -> list[bytes]:
    env = dict(os.environ, PYTHONHASHSEED=hashseed)
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=120, env=env, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    return [bytes.fromhex(h) for h in proc.stdout.split()]


def test_two_fresh_processes_give_identical_snapshot_bytes():
    first = run_fresh("1")
    second = run_fresh("987654")
    assert len(first) == 2
    assert first == second
    assert session() == first


def test_the_session_exercises_what_could_differ():
    m = Machine.from_snapshot(dice_module(), session()[1])
    scores, rolls, total, text = m.doc.f
    assert list(scores) != sorted(scores)  # insertion order, not sorted or hashed
    assert len(rolls) == 320 and all(isinstance(r, str) for r in rolls)
    assert float(rolls[-1]) == total  # doubles print as the shortest text that reads back
    assert text == "hello"


def scratch_module():
    """dirty() fills registers with values; outer() calls inner(), which
    waits twice and reads registers it never wrote only after both waits (so
    whatever sits there when it waits is dead)."""
    m = ModuleAsm("scratch.adb")
    m.record("Doc", ["n"], "i", [0])
    m.document = 0
    d = m.function("dirty", "", "")
    for r in range(8):
        d.emit("ILOADI", r, 1000 + r)
        d.emit("OLOADK", r, f"left {r}")
    d.emit("CALL", 4, "dirty_inner")
    d.emit("RET")
    di = m.function("dirty_inner", "", "")
    for r in range(8):
        di.emit("ILOADI", r, 2000 + r)
        di.emit("OLOADK", r, f"deep {r}")
    di.emit("RET")
    outer = m.function("outer", "", "")
    outer.emit("CALL", 1, "inner")
    outer.emit("RET")
    inner = m.function("inner", "", "")
    inner.emit("OLOADK", 0, "first?")
    inner.emit("SUSPEND", 1, 0)
    inner.emit("OLOADK", 0, "second?")
    inner.emit("SUSPEND", 1, 0)
    inner.emit("ILOADI", 5, 1)
    inner.emit("OLOADK", 6, "late")
    inner.emit("RET")
    return m.assemble()


def test_what_earlier_calls_left_in_registers_never_reaches_a_snapshot():
    """Spec/snapshot.md 6: bytes are canonical. A runtime that evaluated
    other functions between inputs (views do) snapshots a waiting block with
    the same bytes as one that did not, at a first wait and at a wait after
    the computation was set aside and resumed."""
    def run(noisy: bool) -> list[bytes]:
        m = Machine(scratch_module(), seed=1)
        out = []
        if noisy:
            m.call("dirty")
        assert isinstance(m.call("outer"), Suspended)
        out.append(m.snapshot())
        cont = m.detach()
        if noisy:
            m.call("dirty")
        assert isinstance(m.resume_detached(cont, "one"), Suspended)
        out.append(m.snapshot())
        return out

    assert run(True) == run(False)
