"""The checker's contract: DocumentInfo, annotations on the tree, hints,
cascade suppression, and the tables that documents are generated from.

Diagnostic codes and positions of single mistakes are pinned by the
conformance cases (tests/compiler/test_cases.py); these tests pin what code generation
reads and the properties no single case shows.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from advm.compiler import ast, compile_source
from advm.compiler import library as L
from advm.compiler import types as T
from advm.compiler.checker import Checker, check
from advm.compiler.diagnostics import CODES
from advm.compiler.docinfo import FuncInfo, LocalVar, Ref
from advm.compiler.source import Source

ROOT = Path(__file__).resolve().parents[2]


def compiled(text: str):
    comp = compile_source(text, "t.adb")
    assert comp.program is not None, comp.render()
    return comp


def clean(text: str):
    comp = compiled(text)
    assert comp.diagnostics == [], comp.render()
    return comp


def codes(text: str) -> list[str]:
    return [d.code for d in compiled(text).diagnostics]


def walk(node):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        for v in vars(n).values():
            if isinstance(v, ast.Node):
                stack.append(v)
            elif isinstance(v, list):
                stack.extend(x for x in v if isinstance(x, ast.Node))


def find(program, cls, pred=lambda n: True):
    return [n for n in walk(program) if isinstance(n, cls) and pred(n)]


# ---------------------------------------------------------------- generated tables


def test_errors_md_lists_exactly_the_codes():
    text = (ROOT / "spec" / "errors.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| ([EW]\d{4}) \| ([a-z-]+) \|", text, re.M))
    assert rows == CODES


def test_library_md_is_generated_from_the_table():
    text = (ROOT / "spec" / "library.md").read_text(encoding="utf-8")
    assert text == L.render_markdown(), "run render_markdown() to regenerate spec/library.md"


@pytest.mark.parametrize("entry", L.ENTRIES, ids=lambda e: f"{e.owner}.{e.signature}")
def test_every_library_row_has_resolvable_types(entry):
    bindings = {"T": T.INT, "K": T.STRING, "V": T.DOUBLE}
    for text in (*entry.params, entry.result):
        assert isinstance(L.parse_type(text, bindings), T.Type)
    assert entry.effect in ("pure", "time", "random", "document", "writes", "destroy", "await", "viewstate")


def test_library_keys_are_unique_per_overload():
    keys = [(e.key, e.params) for e in L.ENTRIES]
    assert len(keys) == len(set(keys))


# ---------------------------------------------------------------- types


def test_assignability_rules():
    fields = {"P": {"x": T.INT, "y": T.INT}}

    def fields_of(t):
        return fields.get(t.name)

    P = T.MessageType("P")
    assert T.assignable(T.INT, T.LONG) and T.assignable(T.INT, T.DOUBLE) and T.assignable(T.LONG, T.DOUBLE)
    assert not T.assignable(T.DOUBLE, T.INT) and not T.assignable(T.LONG, T.INT)
    assert T.assignable(T.INT, T.MaybeType(T.INT)) and T.assignable(T.INT, T.MaybeType(T.LONG))
    assert not T.assignable(T.MaybeType(T.INT), T.INT)
    assert T.assignable(T.ListType(T.INT), T.ArrayType(T.INT))
    assert T.assignable(T.ArrayType(T.INT), T.ListType(T.INT))
    assert not T.assignable(T.ArrayType(T.INT), T.ArrayType(T.LONG))
    assert T.assignable(T.AnonType((("x", T.INT),)), P, fields_of)
    assert not T.assignable(T.AnonType((("z", T.INT),)), P, fields_of)
    assert T.assignable(T.ERROR, T.STRING) and T.assignable(T.STRING, T.ERROR)


def test_unify_and_names():
    assert T.unify(T.INT, T.DOUBLE) == T.DOUBLE
    assert T.unify(T.INT, T.MaybeType(T.INT)) == T.MaybeType(T.INT)
    assert T.unify(T.STRING, T.INT) is None
    shown = [T.MaybeType(T.INT), T.ArrayType(T.RecordType("Todo")), T.MapType(T.STRING, T.INT),
             T.TableType(T.RecordType("Todo")), T.FutureType(T.MessageType("M"))]
    assert [str(t) for t in shown] == ["maybe<int>", "Todo[]", "map<string, int>", "table<Todo>", "future<M>"]


# ---------------------------------------------------------------- DocumentInfo

DOC = """
enum Suit { Hearts, Spades:5, Clubs }
record Card {
  public int id;
  public Suit suit;
  viewer_is<holder> int rank = 2;
  private principal holder;
  index suit;
  method flip() -> bool readonly { return rank > 2; }
  policy mine { return holder == @who; }
  require mine;
  formula high = rank > 10;
}
message Move { int x; int y; }
table<Card> _deck;
public int x;
readonly principal owner;
use_policy<open> int y = 3;
public formula sum = x + y;
public formula doubled = sum * 2;
public formula highs = iterate _deck where high;
bubble mine = iterate _deck where holder == @who;
policy open { return true; }
channel<Move> move;
channel<Move[]> moves;
channel play(principal who, Move m) { x = m.x; }
function add(int a, int b) -> int { return a + b; }
procedure bump(int by) aborts { x += by; }
#turn { future<Move> f = move.fetch(owner); Move m = f.await(); x = m.y; }
@construct { owner = @who; }
@connected (who) { return true; }
@cron nightly daily 2:30 { x = 0; }
@cron top hourly 5 { x = 1; }
@static { create { return true; } maximum_history = 50; timezone = "UTC"; }
test t { assert (add(1, 2) == 3); }
"""


@pytest.fixture(scope="module")
def info():
    return clean(DOC).info


def test_info_types_and_enums(info):
    assert info.enums["Suit"].values == {"Hearts": 0, "Spades": 5, "Clubs": 6}
    card = info.records["Card"]
    assert card.kind == "record" and card.fields["suit"].type == T.EnumType("Suit")
    assert card.fields["rank"].privacy == "viewer_is" and card.fields["rank"].privacy_names == ["holder"]
    assert card.indexes == ["suit"] and card.requires == ["mine"]
    assert card.methods["flip"].returns == T.BOOL and card.methods["flip"].readonly
    assert card.formulas["high"].type == T.BOOL and card.formulas["high"].reads == {"rank"}
    assert list(info.messages["Move"].fields) == ["x", "y"]


def test_info_fields(info):
    assert info.fields["_deck"].type == T.TableType(T.RecordType("Card"))
    assert info.fields["_deck"].privacy == "private"  # the default
    assert info.fields["owner"].readonly and info.fields["owner"].type == T.PRINCIPAL
    assert info.fields["y"].privacy == "use_policy" and isinstance(info.fields["y"].default, ast.IntLit)


def test_info_formulas_and_dependencies(info):
    assert info.formulas["sum"].reads == {"x", "y"}
    assert info.formulas["doubled"].reads == {"sum"}
    assert info.formulas["doubled"].type == T.INT
    assert info.formulas["highs"].reads == {"_deck"}
    assert info.formulas["highs"].type == T.ListType(T.RecordType("Card"))
    assert info.formulas["mine"].bubble and set(info.bubbles) == {"mine"}
    order = info.formula_order()
    assert order.index("sum") < order.index("doubled")


def test_info_channels_states_handlers(info):
    assert not info.channels["move"].complete and not info.channels["move"].is_array
    assert info.channels["moves"].is_array and info.channels["moves"].message == T.MessageType("Move")
    play = info.channels["play"]
    assert play.complete and play.who == "who" and play.param == "m"
    assert set(info.states) == {"turn"}
    assert set(info.handlers) == {"construct", "connected"}
    assert info.handlers["connected"].param_type == T.PRINCIPAL
    assert (info.crons["nightly"].schedule, info.crons["nightly"].values) == ("daily", [2, 30])
    assert info.crons["top"].values == [5]
    assert info.static.properties == {"maximum_history": 50, "timezone": "UTC"}
    assert set(info.static.policies) == {"create"}
    assert set(info.tests) == {"t"}


def test_formula_dependencies_follow_procedure_calls():
    info = clean("""
public int a;
public int b;
record R { public int id; public int v; formula w = v + a; }
table<R> _rs;
procedure peek() -> int readonly { return inner(); }
procedure inner() -> int readonly { return b; }
public formula f = peek() + 1;
""").info
    assert info.formulas["f"].reads == {"b"}
    w = info.records["R"].formulas["w"]
    assert w.reads == {"v"} and w.doc_reads == {"a"}


def test_info_functions(info):
    add = info.functions["add"]
    assert add.kind == "function" and add.params == [("a", T.INT), ("b", T.INT)] and add.returns == T.INT
    bump = info.functions["bump"]
    assert bump.kind == "procedure" and bump.aborts and bump.returns == T.VOID


# ---------------------------------------------------------------- annotations


CLEAN_FILES = [
    p for p in sorted((ROOT / "examples").rglob("*.adb")) + sorted((ROOT / "spec" / "cases").rglob("ok_*.adb"))
    if not p.name.endswith("_unsupported.adb")
]


@pytest.mark.parametrize("path", CLEAN_FILES, ids=lambda p: p.name)
def test_every_expression_gets_a_type(path):
    # The full path: examples/lobby's programs name each other (`space`), found beside them.
    comp = compile_source(path.read_text(encoding="utf-8"), str(path))
    assert comp.diagnostics == [], comp.render()
    missing = [type(e).__name__ for e in find(comp.program, ast.Expr) if e.ty is None]
    assert missing == [], f"{path.name}: untyped {missing}"
    unresolved = [n.id for n in find(comp.program, ast.Name) if n.ref is None and not T.is_error(n.ty)]
    assert unresolved == [], f"{path.name}: names without a ref {unresolved}"


def test_names_resolve_to_what_they_mean():
    comp = clean("""
record Row { public int id; public int score; }
table<Row> _rows;
public int limit;
public formula top = iterate _rows where score > limit;
procedure p(int k) {
  int local = k;
  foreach (r in iterate _rows) { r.score = local; }
}
""")
    refs = {n.id: n.ref for n in find(comp.program, ast.Name) if n.ref is not None}
    assert refs["score"].kind == "record_field" and refs["score"].owner == "Row"
    assert refs["limit"].kind == "field"
    assert refs["_rows"].kind == "field"
    assert refs["k"].kind == "local" and refs["k"].target.kind == "param"
    assert refs["local"].kind == "local" and isinstance(refs["local"].target, LocalVar)
    assert refs["r"].target.type == T.RecordType("Row")


def test_two_sibling_locals_are_different_variables():
    comp = clean("""
procedure p() -> int {
  int n = 0;
  if (true) { int t = 1; n += t; }
  if (true) { int t = 2; n += t; }
  return n;
}
""")
    ts = [n.ref.target for n in find(comp.program, ast.Name, lambda n: n.id == "t")]
    assert len(ts) == 2 and ts[0] is not ts[1]


def test_calls_record_their_target():
    comp = clean("""
message Move { int x; }
channel<Move> move;
principal p;
public int n;
function twice(int x) -> int { return x * 2; }
#s {
  n = twice(Math.abs(-2)) + "ab".length();
  future<Move> f = move.fetch(p);
}
""")
    calls = {}
    for c in find(comp.program, ast.Call):
        name = c.func.id if isinstance(c.func, ast.Name) else c.func.name
        calls[name] = c.ref
    assert isinstance(calls["twice"], Ref) and isinstance(calls["twice"].target, FuncInfo)
    assert isinstance(calls["abs"], L.LibEntry) and calls["abs"].key == "Math.abs/1"
    assert calls["abs"].params == ("int",)  # the exact overload, not the first one
    assert calls["length"].key == "string.length/0"
    assert calls["fetch"].kind == "channel_op" and calls["fetch"].target.name == "move"


def test_overloads_pick_the_exact_match_first():
    comp = clean("function f(long a, double d) -> double { return Math.max(a, a) + Math.max(d, 1); }")
    picked = [c.ref.params for c in find(comp.program, ast.Call)]
    assert sorted(picked) == [("double", "double"), ("long", "long")]


def test_channel_method_types():
    comp = clean("""
message M { int x; }
channel<M> one;
channel<M[]> many;
principal p;
#s {
  M[] opts = [{x: 1}];
  let a = one.fetch(p);
  let b = many.fetch(p);
  let c = one.decide(p, opts);
  let d = many.choose(p, opts, 2);
}
""")
    types = {d.name: d.value.ty for d in find(comp.program, ast.VarDecl) if d.keyword}
    m = T.MessageType("M")
    assert types == {
        "a": T.FutureType(m),
        "b": T.FutureType(T.ArrayType(m)),
        "c": T.FutureType(T.MaybeType(m)),
        "d": T.FutureType(T.MaybeType(T.ArrayType(m))),
    }


def test_division_and_modulo_types():
    comp = clean("function f(int a, long b) -> int { let q = a / b; let r = a % b; let s = a % a; return 0; }")
    types = {d.name: d.value.ty for d in find(comp.program, ast.VarDecl)}
    assert types == {"q": T.MaybeType(T.DOUBLE), "r": T.MaybeType(T.LONG), "s": T.MaybeType(T.INT)}


# ---------------------------------------------------------------- errors people act on


def test_all_errors_are_reported_not_just_the_first():
    got = codes("""
public int a = "x";
function f() -> int { return missing; }
procedure p() { abort; }
""")
    assert got == ["E0301", "E0201", "E0407"]


def test_an_error_is_reported_once_not_cascaded():
    got = codes("""
record R { public int id; }
procedure p() -> int {
  int v = missing.field.deeper(1) + 2 * missing2;
  R r;
  int w = r.nope + r.nope2.x;
  return v;
}
""")
    assert got == ["E0201", "E0201", "E0203", "E0203"]


@pytest.mark.parametrize("text,hint", [
    ("public int score; procedure p() { scroe = 1; }", "did you mean 'score'?"),
    ("record R { public int id; public string text; } procedure p(R r) { r.txt = \"\"; }",
     "did you mean 'text'?"),
    ("public maybe<int> m; procedure p() { int v = m; }", "if (value as x)"),
    ("procedure p() { abort; }", "declare the procedure `aborts`"),
    ("public int x; function f() -> int { return x; }", "pass the value as a parameter"),
    ("function f(Strng s) -> int { return 0; }", "did you mean 'string'?"),
    ("#setup { } #start { transition #setpu; }", "did you mean '#setup'?"),
    ("function f(string s) -> int { return s.size(); }", "use .length()"),
    ("function f(int[] xs) -> int { return xs.length(); }", "use .size()"),
    ("public maybe<int> m; public formula f = m + 1;", "unwrap it with `if (value as x)"),
])
def test_hints_say_what_to_do(text, hint):
    comp = compiled(text)
    assert len(comp.diagnostics) == 1, comp.render()
    assert hint in (comp.diagnostics[0].hint or ""), comp.diagnostics[0].hint


# ---------------------------------------------------------------- robustness


def _span(i):
    from advm.compiler.source import Span
    return Span(i, i + 1)


def test_check_survives_odd_trees_the_parser_could_build():
    weird = ast.Program(decls=[
        ast.FieldDecl("f", ast.TypeRef("map", [ast.TypeRef("int")]), ast.Privacy("public")),
        ast.FieldDecl("g", ast.ArrayTypeRef(ast.TypeRef("table", [ast.TypeRef("nope")])), ast.Privacy("public")),
        ast.RecordDecl("R", [ast.Unsupported("agent", "A"), ast.Require("zzz"), ast.IndexHint("q")]),
        ast.Formula("h", ast.Privacy("public"), ast.Call(ast.IntLit(3), [ast.Name("nothing")])),
        ast.Formula("i", ast.Privacy("public"), ast.Iterate(ast.Name("f"), [ast.OrderBy([ast.OrderKey("x")])])),
        ast.Function("function", "k", [], ast.TypeRef("int"), ast.Block([
            ast.Switch(ast.Name("zz"), [ast.Case(None), ast.Case(None)]),
            ast.Transition(ast.IntLit(1), ast.StringLit("soon")),
            ast.Ingest(ast.IntLit(1), ast.ArrayLit([]), "id"),
            ast.Return(ast.Convert(ast.TypeRef("int"), ast.AnonObject([]))),
        ])),
        ast.Handler("construct", ast.Block([]), "m", None),
        ast.Handler("explode", ast.Block([])),
        ast.Cron("c", "weekly", [1], ast.Block([])),
        ast.Channel("c", ast.ArrayTypeRef(ast.TypeRef("int")), None, None, None),
        ast.Static([ast.StaticPolicy("send", ast.Block([]))], [ast.StaticProperty("timezone", ast.Name("x"))]),
        ast.Unsupported("service", "svc"),
    ])
    info, diags = check(weird, Source("x" * 10))
    assert diags and all(d.code in CODES for d in diags)
    assert "E0999" not in [d.code for d in diags], [d.message for d in diags if d.code == "E0999"]


def test_an_internal_error_becomes_a_diagnostic(monkeypatch):
    def boom(self, program):
        raise RuntimeError("checker bug")

    monkeypatch.setattr(Checker, "run", boom)
    info, diags = check(ast.Program(), Source(""))
    assert [d.code for d in diags] == ["E0999"] and "checker bug" in diags[0].message
