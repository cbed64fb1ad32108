"""(g) differential: check, compile, run (spec/simulation.md).

A generated document is mutated a few times (a line dropped, doubled,
copied elsewhere or swapped with its neighbour, one word replaced by another
word of the same program, a privacy modifier or an operator changed, the two
sides of an assignment swapped). Whatever `check`
accepts must compile, and must run a short random session without anything
escaping the runtime: every error a client gets is an error frame with a
documented code. Most mutants are refused by check, which is fine; the ones it
accepts are programs nobody wrote by hand.
"""
from __future__ import annotations

import json
import re

from docgen import PEOPLE, gen_doc
from draw import Draw
from sim import Marks, Problem, check_codes, compiled, message

ASSIGN = re.compile(r"^(\s*)([^=;{}]+?)\s*(=|\+=|-=)\s*([^=;{}]+);$")
WORD = re.compile(r"[A-Za-z_@#][A-Za-z0-9_]*")
SWAPS = [("public", "private"), ("private", "public"), ("==", "!="), ("&&", "||"), ("+=", "-="),
         ("true", "false"), ("int", "long"), ("string", "date"), ("await()", "await().v"),
         ("<-", "="), ("++", "--"), (";", ""), ("abort;", "return;"), ("#", "#x")]


def mutate(draw: Draw, text: str) -> str:
    lines = text.split("\n")
    for _ in range(draw.int(1, 3)):
        k = draw.int(0, 6)
        i = draw.int(0, len(lines) - 1)
        if k == 0:
            del lines[i]
        elif k == 1:
            lines.insert(i, lines[i])
        elif k == 2 and i + 1 < len(lines):
            lines[i], lines[i + 1] = lines[i + 1], lines[i]
        elif k == 3:
            words = sorted(set(WORD.findall(text)))
            spots = list(WORD.finditer(lines[i]))
            if spots:
                m = draw.pick(spots)
                lines[i] = lines[i][:m.start()] + draw.pick(words) + lines[i][m.end():]
        elif k == 4:
            old, new = draw.pick(SWAPS)
            if old in lines[i]:
                lines[i] = lines[i].replace(old, new, 1)
        elif k == 5:  # a line copied elsewhere (a statement into another block)
            lines.insert(draw.int(0, len(lines)), lines[i])
        else:  # the two sides of an assignment swapped
            m = ASSIGN.match(lines[i])
            if m:
                lines[i] = f"{m.group(1)}{m.group(4).strip()} {m.group(3)} {m.group(2).strip()};"
        if not lines:
            lines = [""]
    return "\n".join(lines)


def differential(draw: Draw, steps: int = 25) -> tuple[str, bool, Problem | None]:
    """One mutant: (its text, whether check accepted it, the problem or None)."""
    spec = gen_doc(draw)
    text = mutate(draw, spec.source())
    try:
        module = compiled(text, "mutant.adb")
        if module is None:
            return text, False, None
        run_mutant(draw, spec, module, steps)
    except Problem as p:
        return text, True, p
    return text, True, None


def run_mutant(draw: Draw, spec, module, steps: int) -> None:
    from advm.session import Session

    session = Session(module)
    marks = Marks()
    channels = spec.channels()
    _feed(session, {"op": "create", "as": PEOPLE[0]})
    _feed(session, {"op": "connect", "as": PEOPLE[0]})
    for _ in range(steps):
        who = draw.pick(PEOPLE)
        k = draw.int(0, 9)
        if k <= 5:
            name = draw.pick(sorted(channels))
            item = {"op": "send", "as": who, "channel": name, "message": message(draw, channels[name], marks)}
        elif k == 6:
            item = {"op": "connect", "as": who}
        elif k == 7:
            asks = session.living.asks_for(who)
            ask = asks[0] if asks else {"id": 1, "options": []}
            msg = draw.pick(ask.get("options") or [{"v": marks.text()}])
            item = {"op": "answer", "as": who, "ask": ask["id"], "message": msg}
        elif k == 8:
            item = {"op": "advance", "seconds": draw.pick([1, 61, 3600, 86400])}
        else:
            item = {"op": "restart"}
        _feed(session, item)


def _feed(session, item: dict) -> None:
    try:
        frames = session.feed(json.dumps(item), 1)
    except Exception as e:  # noqa: BLE001 - whatever escapes the runtime is the finding
        raise Problem("g", f"{json.dumps(item)}: {type(e).__name__}: {e}") from e
    check_codes(frames)
