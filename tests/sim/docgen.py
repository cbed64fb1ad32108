"""Random well-typed Adama documents, each with the oracle of its privacy rules.

`gen_doc(draw)` builds a `DocSpec` from a small grammar of the language
(spec/language.md): principal and bool fields that policies read, string and
date fields under every privacy modifier (public, private, viewer_is<f>,
use_policy<p>), a table of records with per-field privacy, record policies
and `require`, a map, bubbles over @who (plain and guarded by a policy), a
state machine with timers (`transition #s in N`), asks (`fetch`, `decide`,
`choose`), a cron job, channels that abort, and a private journal every
accepted message appends its tag to (the durability check reads it).

The spec renders the Adama text (`DocSpec.source`) and answers, for a state
read from the runtime, which values each viewer may receive (`allowed`):
the privacy rules evaluated in Python from the generated rules, apart from
the views code the simulator checks.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from draw import Draw

PEOPLE = ["u0@sim", "u1@sim", "u2@sim"]

# The table's formula: every row (kept in place by the views), a where, an order and a limit.
FORMULAS = {"all": "iterate _rows", "shown": "iterate _rows where !hid",
            "top2": "iterate _rows order by id desc limit 2"}

# A privacy modifier: ("public",), ("private",), ("viewer_is", owner field), ("policy", name).


@dataclass
class DocSpec:
    owners: list[str]                     # principal fields (public), claimed by channels
    flags: list[str]                      # bool fields (public), flipped by channels
    policies: dict[str, tuple]            # document policy name -> condition
    strings: dict[str, tuple]             # string field -> privacy
    dates: dict[str, tuple]               # date field -> privacy
    aborting: set[str]                    # channels that abort while flag_0 is set
    peeks: dict[str, tuple[str, str]] = field(default_factory=dict)    # bubble -> (string, owner)
    guarded: dict[str, tuple[str, str]] = field(default_factory=dict)  # bubble -> (policy, string)
    # {"a": privacy, "b": privacy, "require": policy or None, "formula": FORMULAS key or None,
    #  "formula_privacy": privacy, "bubble": bool}
    table: dict | None = None
    map_privacy: tuple | None = None
    asks: list[str] = field(default_factory=list)   # of "fetch", "decide", "choose"
    ask_target: str = "creator"           # principal field asked
    fetch_into: str | None = None         # string field a fetch answer is stored in
    timer: int | None = None              # seconds between #tick runs
    cron: bool = False
    shift_from: str | None = None         # a date field `due` is computed from (Date.offsetDay)
    probe: str | None = None              # a string field a failing assert writes first
    spin: bool = False                    # a channel that runs out of budget
    statics: dict = field(default_factory=dict)  # @static properties
    start: str | None = None              # the state @construct moves to
    maybe_privacy: tuple | None = None    # `maybe<string> last` (kept, forgotten), an enum, a switch
    paged: bool = False                   # `view int pg;` and a bubble of the rows past it

    # ------------------------------------------------------------ channels

    def channels(self) -> dict[str, str]:
        """Channel name -> its message type (what a session may send)."""
        out = {}
        for o in self.owners:
            out[f"claim_{o}"] = "Tag"
        for f in self.flags:
            out[f"flip_{f}"] = "Tag"
        for s in self.strings:
            out[f"set_{s}"] = "SetS"
        for d in self.dates:
            out[f"set_{d}"] = "SetD"
        if self.table is not None:
            out.update(add_row="AddR", edit_row="EditR", del_row="RowId", hide_row="RowId",
                       give_row="RowId")
        if self.map_privacy is not None:
            out.update(put="PutM", unput="PutM")
        if self.asks:
            out["go_ask"] = "Tag"
        if self.timer is not None:
            out["go_tick"] = "Tag"
        if self.asks or self.timer is not None:
            out["go_idle"] = "Tag"
        if self.shift_from is not None:
            out["shift"] = "Tag"
        if self.maybe_privacy is not None:
            out.update(keep="SetS", forget="Tag", mood_next="Tag")
        if self.probe is not None:
            out["probe"] = "SetS"
        if self.spin:
            out["spin"] = "SetS"
        return out

    # ------------------------------------------------------------ the text

    def source(self) -> str:
        w: list[str] = ["@static {", "  create {", "    return true;", "  }",
                        *[f"  {k} = {v};" for k, v in self.statics.items()], "}", ""]
        w += ["message Tag {", "  string tag;", "}", "",
              "message SetS {", "  string tag;", "  string v;", "}", "",
              "message SetD {", "  string tag;", "  date d;", "}", "",
              "message AddR {", "  string tag;", "  string a;", "  string b;", "  bool h;", "}", "",
              "message EditR {", "  string tag;", "  int id;", "  string a;", "}", "",
              "message RowId {", "  string tag;", "  int id;", "}", "",
              "message PutM {", "  string tag;", "  int k;", "  string v;", "}", "",
              "message Ans {", "  string v;", "}", "",
              "message Pick {", "  int n;", "}", ""]
        w += ["record J {", "  public int id;", "  private string tag;", "}", "",
              "table<J> _journal;", "public formula journal = iterate _journal;", ""]
        w.append("readonly principal creator;")
        for o in self.owners:
            w.append(f"public principal {o};")
        for f in self.flags:
            w.append(f"public bool {f};")
        for s, p in self.strings.items():
            w.append(f"{modifier(p)} string {s};")
        for d, p in self.dates.items():
            w.append(f"{modifier(p)} date {d};")
        if self.shift_from is not None:
            w.append("public date due;")
        for name, cond in self.policies.items():
            w += [f"policy {name} {{", f"  return {cond_text(cond)};", "}"]
        for b, (s, o) in self.peeks.items():
            w.append(f'bubble {b} = @who == {o} ? {s} : "-";')
        for b, (p, s) in self.guarded.items():
            w.append(f"bubble<{p}> {b} = {s};")
        t = self.table
        if t is not None:
            w += ["", "record R {", "  public int id;", "  public principal owner;", "  public bool hid;",
                  f"  {modifier(t['a'])} string a;", f"  {modifier(t['b'])} string b;",
                  "  policy mine {", "    return owner == @who;", "  }",
                  "  policy shown {", "    return !hid || owner == @who;", "  }",
                  "  bubble is_mine = owner == @who;"]
            if t["require"]:
                w.append(f"  require {t['require']};")
            w += ["  index owner;", "}", "", "table<R> _rows;"]
            if t["formula"]:
                w.append(f"{modifier(t['formula_privacy'])} formula rows = {FORMULAS[t['formula']]};")
            if t["bubble"]:
                w.append("bubble my_rows = iterate _rows where owner == @who;")
            if self.paged:
                w += ["view int pg;", "bubble paged = iterate _rows where id > @viewer.pg;"]
            w.append("public formula row_count = _rows.size();")
        if self.map_privacy is not None:
            w.append(f"{modifier(self.map_privacy)} map<int, string> mp;")
        if self.maybe_privacy is not None:
            w += ["enum Mood { Calm, Busy, Gone }", "public Mood mood;",
                  f"{modifier(self.maybe_privacy)} maybe<string> last;",
                  "public formula has_last = last.has();",
                  "procedure bump(int by) -> int {", "  return by + 1;", "}"]
        w.append("public int ticks;")
        w.append("public int picked;")
        w.append("public int crons;")
        if self.asks:
            w += ["channel<Ans> ans_ch;", "channel<Pick> pick_ch;", "channel<Pick[]> picks_ch;"]
        w += ["", "@construct {", "  creator = @who;",
              *([f"  transition #{self.start};"] if self.start else []), "}", "",
              "@connected {", "  return true;", "}", "",
              "@delete {", "  return @who == creator;", "}", "",
              "procedure note(string t) {", "  _journal <- {tag: t};", "}", ""]

        def channel(name: str, msg: str, body: list[str]) -> None:
            nonlocal w
            w.append(f"channel {name}({msg} m) {{")
            if name in self.aborting:
                w += ["  if (flag_0) {", "    abort;", "  }"]
            w += ["  " + line for line in body]
            w += ["  note(m.tag);", "}", ""]

        for o in self.owners:
            channel(f"claim_{o}", "Tag", [f"{o} = @who;"])
        for f in self.flags:
            channel(f"flip_{f}", "Tag", [f"{f} = !{f};"])
        for s in self.strings:
            channel(f"set_{s}", "SetS", [f"{s} = m.v;"])
        for d in self.dates:
            channel(f"set_{d}", "SetD", [f"{d} = m.d;"])
        if t is not None:
            channel("add_row", "AddR", ["_rows <- {owner: @who, hid: m.h, a: m.a, b: m.b};"])
            channel("edit_row", "EditR", ["(iterate _rows where id == m.id).a = m.a;"])
            channel("del_row", "RowId", ["(iterate _rows where id == m.id && owner == @who).delete();"])
            channel("give_row", "RowId", ["(iterate _rows where id == m.id).owner = @who;"])
            channel("hide_row", "RowId", ["foreach (r in iterate _rows where id == m.id) {",
                                          "  r.hid = !r.hid;", "}"])
        if self.map_privacy is not None:
            channel("put", "PutM", ["mp[m.k] = m.v;"])
            channel("unput", "PutM", ["mp.remove(m.k);"])
        if self.maybe_privacy is not None:
            channel("keep", "SetS", ["last = m.v;"])
            channel("forget", "Tag", ["last = @maybe<string>;"])
            channel("mood_next", "Tag", ["switch (mood) {", "  case Mood::Calm:", "    mood = Mood::Busy;",
                                         "    break;", "  case Mood::Busy:", "    mood = Mood::Gone;",
                                         "    break;", "  default:", "    mood = Mood::Calm;", "}",
                                         "picked = bump(picked);"])
        if self.shift_from is not None:
            channel("shift", "Tag", [f"due = Date.offsetDay({self.shift_from}, 7);"])
        if self.probe is not None:  # the value is written, then the assertion fails: all undone
            channel("probe", "SetS", [f"{self.probe} = m.v;", "assert (m.v.length() < 3);"])
        if self.spin:
            channel("spin", "SetS", [f"{self.probe or 's_0'} = m.v;", "while (true) {", "  picked++;", "}"])
        if self.asks:
            channel("go_ask", "Tag", ["transition #asking;"])
            w += ["#asking {"]
            for i, kind in enumerate(self.asks):
                if kind == "fetch":
                    w += [f"  Ans a{i} = ans_ch.fetch({self.ask_target}).await();"]
                    if self.fetch_into is not None:
                        w += [f"  {self.fetch_into} = a{i}.v;"]
                elif kind == "decide":
                    w += [f"  Pick[] one{i} = [{{n: 1}}, {{n: 2}}, {{n: 3}}];",
                          f"  if (pick_ch.decide({self.ask_target}, one{i}).await() as p{i}) {{",
                          f"    picked += p{i}.n;", "  }"]
                else:
                    w += [f"  Pick[] many{i} = [{{n: 4}}, {{n: 5}}, {{n: 6}}];",
                          f"  if (picks_ch.choose({self.ask_target}, many{i}, 2).await() as ps{i}) {{",
                          f"    picked += ps{i}.size();", "  }"]
            w += ["  transition #asking;", "}", ""]
        if self.timer is not None:
            channel("go_tick", "Tag", ["transition #tick;"])
            w += ["#tick {", "  ticks++;", f"  transition #tick in {self.timer};", "}", ""]
        if self.asks or self.timer is not None:
            channel("go_idle", "Tag", ["transition #idle;"])
            w += ["#idle {", "}", ""]
        if self.cron:
            w += ["@cron nightly daily 3:00 {", "  crons++;", "}", ""]
        return "\n".join(w) + "\n"

    # ------------------------------------------------------------ the oracle

    def allowed(self, state: dict, who: str) -> set[str]:
        """The values `who` may receive now, given the document's fields
        (`state`: name -> value as Engine.field gives it). The `paged`
        bubble lists every row: a viewer's own state (`@viewer.pg`) narrows
        what it is sent, but is no privacy rule (the viewer may send pg 0)."""
        ok: set[str] = set()

        def sees(priv: tuple, row: dict | None = None) -> bool:
            kind = priv[0]
            if kind == "public":
                return True
            if kind == "private":
                return False
            if kind == "viewer_is":
                holder = row["owner"] if priv[1] == "owner" and row is not None else state[priv[1]]
                return principal(holder) == who
            if kind == "policy":
                if row is not None and priv[1] in ("mine", "shown"):
                    return row_policy(priv[1], row, who)
                return self.holds(self.policies[priv[1]], state, who)
            raise AssertionError(priv)

        for s, p in self.strings.items():
            if sees(p):
                ok.add(state[s])
        for d, p in self.dates.items():
            if sees(p):
                ok.add(state[d])
        for b, (s, o) in self.peeks.items():
            if principal(state[o]) == who:
                ok.add(state[s])
        for b, (p, s) in self.guarded.items():
            if self.holds(self.policies[p], state, who):
                ok.add(state[s])
        t = self.table
        if t is not None:
            rows = state["_rows"]
            kind = t["formula"]
            if kind == "shown":
                rows_in = [r for r in rows if not r["hid"]]
            elif kind == "top2":
                rows_in = sorted(rows, key=lambda r: -r["id"])[:2]
            else:
                rows_in = rows if kind else []
            in_formula = {id(r) for r in rows_in}
            for row in rows:
                listed = ((id(row) in in_formula and sees(t["formula_privacy"]))
                          or (t["bubble"] and principal(row["owner"]) == who)
                          or self.paged) and (
                    not t["require"] or row_policy(t["require"], row, who))
                if listed:
                    for f in ("a", "b"):
                        if sees(t[f], row):
                            ok.add(row[f])
        if self.map_privacy is not None and sees(self.map_privacy):
            ok.update(state["mp"].values())
        if self.maybe_privacy is not None and sees(self.maybe_privacy) and state["last"] is not None:
            ok.add(state["last"])
        return ok

    def holds(self, cond: tuple, state: dict, who: str) -> bool:
        kind = cond[0]
        if kind == "who_is":
            return principal(state[cond[1]]) == who
        if kind == "flag":
            return bool(state[cond[1]])
        if kind == "not":
            return not self.holds(cond[1], state, who)
        if kind == "and":
            return self.holds(cond[1], state, who) and self.holds(cond[2], state, who)
        if kind == "or":
            return self.holds(cond[1], state, who) or self.holds(cond[2], state, who)
        raise AssertionError(cond)

    def fields(self) -> list[str]:
        """The fields `allowed` reads."""
        names = [*self.owners, *self.flags, *self.strings, *self.dates, "_journal"]
        if self.table is not None:
            names.append("_rows")
        if self.map_privacy is not None:
            names.append("mp")
        if self.maybe_privacy is not None:
            names.append("last")
        return names


def row_policy(name: str, row: dict, who: str) -> bool:
    mine = principal(row["owner"]) == who
    return mine if name == "mine" else (not row["hid"] or mine)


def principal(value) -> str:
    if isinstance(value, dict):
        return f"{value['agent']}@{value['authority']}"
    return str(value)


def modifier(priv: tuple) -> str:
    kind = priv[0]
    if kind in ("public", "private"):
        return kind
    if kind == "viewer_is":
        return f"viewer_is<{priv[1]}>"
    return f"use_policy<{priv[1]}>"


def cond_text(cond: tuple) -> str:
    kind = cond[0]
    if kind == "who_is":
        return f"@who == {cond[1]}"
    if kind == "flag":
        return cond[1]
    if kind == "not":
        return f"!({cond_text(cond[1])})"
    op = "&&" if kind == "and" else "||"
    return f"({cond_text(cond[1])} {op} {cond_text(cond[2])})"


# ---------------------------------------------------------------- the grammar


def gen_cond(draw: Draw, owners: list[str], flags: list[str], depth: int = 0) -> tuple:
    k = draw.int(0, 4 if depth < 2 else 1)
    if k == 0:
        return ("who_is", draw.pick(owners))
    if k == 1:
        return ("flag", draw.pick(flags))
    if k == 2:
        return ("not", gen_cond(draw, owners, flags, depth + 1))
    return ("and" if k == 3 else "or", gen_cond(draw, owners, flags, depth + 1),
            gen_cond(draw, owners, flags, depth + 1))


def gen_privacy(draw: Draw, owners: list[str], policies: list[str]) -> tuple:
    k = draw.int(0, 3)
    if k == 0:
        return ("public",)
    if k == 1:
        return ("private",)
    if k == 2:
        return ("viewer_is", draw.pick(owners))
    return ("policy", draw.pick(policies))


def gen_doc(draw: Draw) -> DocSpec:
    owners = [f"owner_{k}" for k in range(draw.int(1, 2))]
    flags = [f"flag_{k}" for k in range(draw.int(1, 2))]
    policies = {f"pol_{j}": gen_cond(draw, owners, flags) for j in range(draw.int(1, 2))}
    names = list(policies)
    strings = {f"s_{i}": gen_privacy(draw, owners, names) for i in range(draw.int(1, 3))}
    dates = {f"d_{i}": gen_privacy(draw, owners, names) for i in range(draw.int(0, 2))}
    spec = DocSpec(owners=owners, flags=flags, policies=policies, strings=strings, dates=dates,
                   aborting=set())
    for i in range(draw.int(0, 2)):
        spec.peeks[f"peek_{i}"] = (draw.pick(list(strings)), draw.pick(owners))
    for i in range(draw.int(0, 1)):
        spec.guarded[f"guard_{i}"] = (draw.pick(names), draw.pick(list(strings)))
    if draw.chance(75):
        record_privacies = [("public",), ("private",), ("viewer_is", "owner"), ("policy", "mine"),
                            ("policy", "shown")]
        formula = draw.pick([None, *FORMULAS])
        spec.table = {"a": draw.pick(record_privacies), "b": draw.pick(record_privacies),
                      "require": draw.pick([None, "mine", "shown"]), "formula": formula,
                      "formula_privacy": draw.pick([("public",), ("public",), ("policy", draw.pick(names))]),
                      "bubble": formula is None or draw.bool()}
    if spec.table is not None and draw.chance(40):
        spec.paged = True
    if draw.chance(50):
        spec.map_privacy = gen_privacy(draw, owners, names)
    if draw.chance(50):
        spec.maybe_privacy = gen_privacy(draw, owners, names)
    if draw.chance(60):
        spec.asks = [draw.pick(["fetch", "decide", "choose"]) for _ in range(draw.int(1, 2))]
        spec.ask_target = draw.pick(["creator", *owners])
        if "fetch" in spec.asks and draw.bool():
            spec.fetch_into = draw.pick(list(strings))
    if draw.chance(50):
        spec.timer = draw.pick([900, 3600, 21600])
    if spec.asks and draw.chance(70):
        spec.start = "asking"
    elif spec.timer is not None and draw.bool():
        spec.start = "tick"
    spec.cron = draw.chance(30)
    if dates and draw.chance(50):
        spec.shift_from = draw.pick(list(dates))
    if draw.chance(40):
        spec.probe = draw.pick(list(strings))
    spec.spin = draw.chance(8)
    # a runaway loop costs ~15 ms, not the default half second
    spec.statics["instruction_budget"] = 2_000_000
    every = draw.pick([None, 2, 7])
    if every is not None:
        spec.statics["snapshot_every"] = every
    if draw.chance(20):
        spec.statics["maximum_history"] = draw.pick([3, 20])
    if draw.chance(30):
        spec.statics["timezone"] = '"' + draw.pick(["Asia/Kolkata", "America/New_York", "Pacific/Chatham"]) + '"'
    channels = list(spec.channels())
    for name in channels:
        if draw.chance(15):
            spec.aborting.add(name)
    return spec
