"""Helpers for the views tests (imported as `viewkit`): clients that apply the
frames a Viewers instance sends, and the reference they are compared with."""
from __future__ import annotations

from pathlib import Path

from advm.views import ViewState, encode_view
from advm.views.privacy import render_view

DOCS = Path(__file__).resolve().parent / "docs"


def source(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


class Clients:
    """One reference client per principal, fed every frame (checks seq order)."""

    def __init__(self):
        self.states: dict[str, ViewState] = {}
        self.frames: list[dict] = []

    def feed(self, frames: list[dict]) -> list[dict]:
        for frame in frames:
            assert set(frame) == {"to", "delta", "seq"}, frame
            assert frame["delta"], f"an empty patch was sent: {frame}"
            state = self.states.setdefault(frame["to"], ViewState())
            if frame["seq"] == 1:
                state.reset()
            state.apply(frame["delta"], frame["seq"])
            self.frames.append(frame)
        return frames

    def view(self, who: str) -> dict:
        return self.states[who].view

    def encoded(self, who: str) -> dict:
        return self.states[who].encoded


def assert_current(document, clients: Clients, who: str, schema=None) -> None:
    """What the client rebuilt is exactly the reference view, in both forms."""
    reference = render_view(document, who, schema)
    assert clients.view(who) == reference
    assert clients.encoded(who) == encode_view(reference)


# ---------------------------------------------------------------- nested documents

NESTINGS = ("record", "map", "table")


def nested_source(path: tuple) -> str:
    """A document whose table of `Cell` rows sits at the end of `path`: each
    step is how the level above holds the next record, `N0` held by the
    document, `N1` by `N0`, ...: "record" (a field `N<i> n<i>`), "map" (a field
    `map<int, N<i>> n<i>`) or "table" (a field `table<N<i>> n<i>`, its rows
    shown by a formula). The last record holds `table<Cell> _cells` and
    formulas that list its rows; a Cell has public, `viewer_is`, `use_policy`
    and private fields, a record formula, a bubble, and a `require` that hides
    the rows whose `v` is 13. Every channel takes an `Op`: `k0`, `k1`, ... pick
    the map key or row id at each level, `c` a cell id, `v` a value, and
    channel `<what>_<level>` acts on what is held at that level (0 is the
    document, len(path) the record that holds the cells)."""
    depth = len(path)
    out = ["@static {\n  create {\n    return true;\n  }\n}\n",
           "@connected {\n  return true;\n}\n",
           "record Cell {\n  public int v;\n  public principal who;\n  viewer_is<who> int mine;\n"
           "  use_policy<odd> int odd_only;\n  private int hidden;\n  public formula twice = v * 2;\n"
           "  bubble is_mine = who == @who;\n  require shown;\n"
           "  policy odd {\n    return v % 2 == 1;\n  }\n"
           "  policy shown {\n    return v != 13;\n  }\n}\n"]
    for i in reversed(range(depth)):
        body = ["  public int w;"]
        if i + 1 < depth:
            body += member_lines(path[i + 1], i + 1)
        else:
            body += ["  table<Cell> _cells;", "  public formula cells = iterate _cells;",
                     "  public formula odd_cells = iterate _cells where v % 2 == 1 order by v;",
                     "  public formula count = _cells.size();"]
        out.append(f"record N{i} {{\n" + "\n".join(body) + "\n}\n")
    out.append("\n".join(member_lines(path[0], 0, top=True)) + "\n")
    if all(step == "record" for step in path):
        cells = ".".join(f"n{i}" for i in range(depth)) + "._cells"
        out.append(f"public formula all_cells = iterate {cells};\n"
                   f"public formula big_cells = iterate {cells} where v > 2;\n")
    fields = " ".join(f"int k{i};" for i in range(depth))
    out.append(f"message Op {{ {fields} int c; int v; }}\n")
    for level in range(depth + 1):
        for what, action in level_actions(path, level):
            out.append(f"channel {what}_{level}(Op o) {{\n  {navigate(path, level, action)}\n}}\n")
    return "\n".join(out)


def member_lines(step: str, i: int, top: bool = False) -> list:
    indent = "" if top else "  "
    if step == "record":
        return [f"{indent}public N{i} n{i};"]
    if step == "map":
        return [f"{indent}public map<int, N{i}> n{i};"]
    return [f"{indent}table<N{i}> n{i};", f"{indent}public formula rows{i} = iterate n{i};"]


def navigate(path: tuple, level: int, action) -> str:
    """Code that reaches the record at `level` (`x<level>`; the document at
    0) through keys o.k0, o.k1, ... and runs `action(holder prefix)`."""
    def go(i: int, prefix: str) -> str:
        if i == level:
            return action(prefix)
        step = path[i]
        member = f"{prefix}n{i}"
        if step == "record":
            return go(i + 1, f"{member}.")
        if step == "map":
            return f"if ({member}[o.k{i}] as x{i + 1}) {{ {go(i + 1, f'x{i + 1}.')} }}"
        return f"foreach (x{i + 1} in iterate {member} where id == o.k{i}) {{ {go(i + 1, f'x{i + 1}.')} }}"

    return go(0, "")


def level_actions(path: tuple, level: int) -> list:
    """(name, action) for the channels acting at `level`."""
    if level == len(path):
        cells = lambda p: f"{p}_cells"  # noqa: E731
        return [
            ("add", lambda p: f"{cells(p)} <- {{v: o.v, who: @who, mine: o.v, odd_only: o.v, hidden: o.v}};"),
            ("set", lambda p: f"foreach (c in iterate {cells(p)} where id == o.c) {{ c.v = o.v; }}"),
            ("bump", lambda p: f"foreach (c in iterate {cells(p)}) {{ c.v = c.v + 1; c.mine = c.mine + 1; }}"),
            ("same", lambda p: f"foreach (c in iterate {cells(p)}) {{ c.v = c.v; }}"),
            ("take", lambda p: f"foreach (c in iterate {cells(p)} where id == o.c) {{ c.who = @who; }}"),
            ("hide", lambda p: f"foreach (c in iterate {cells(p)} where id == o.c) {{ c.hidden = o.v; }}"),
            ("drop", lambda p: f"(iterate {cells(p)} where id == o.c).delete();"),
            ("w", lambda p: f"{p}w = o.v;"),
        ]
    step = path[level]
    member = lambda p: f"{p}n{level}"  # noqa: E731
    if step == "record":
        return [("new", lambda p: f"{member(p)} = {{w: o.v}};"), ("w", lambda p: f"{member(p)}.w = o.v;")]
    if step == "map":
        return [("new", lambda p: f"{member(p)}[o.k{level}] = {{w: o.v}};"),
                ("drop", lambda p: f"{member(p)}.remove(o.k{level});")]
    return [("new", lambda p: f"{member(p)} <- {{w: o.v}};"),
            ("drop", lambda p: f"(iterate {member(p)} where id == o.k{level}).delete();")]


__all__ = ["Clients", "DOCS", "NESTINGS", "assert_current", "level_actions", "nested_source", "source"]
