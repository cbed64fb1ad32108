"""The syntax tree of an Adama document.

Every node carries the `span` of the source it came from. The parser builds
these; the checker fills the `ty` slot of expressions (and `ref` where a name
resolves to something) and never builds new syntax; code generation reads the
checked tree. Fields hold syntax only: semantic types live in `types.py`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .source import NOSPAN, Span


@dataclass(kw_only=True)
class Node:
    span: Span = NOSPAN


# ---------------------------------------------------------------- type syntax


@dataclass
class TypeRef(Node):
    """`int`, `Todo`, `maybe<int>`, `map<string, int>`, `table<Todo>`."""

    name: str
    args: list["TypeRef"] = field(default_factory=list)


@dataclass
class ArrayTypeRef(Node):
    """`T[]`: a read-only array (Adama's native array)."""

    element: "TypeRef | ArrayTypeRef"


TypeSyntax = TypeRef | ArrayTypeRef


# ---------------------------------------------------------------- expressions


@dataclass
class Expr(Node):
    # Filled by the checker: the semantic type (types.Type) and, for names,
    # what the name resolved to. Excluded from equality so tests can compare
    # parsed trees without caring about checking.
    ty: Any = field(default=None, compare=False, repr=False, kw_only=True)


@dataclass
class IntLit(Expr):
    value: int
    is_long: bool = False  # written with an L suffix


@dataclass
class DoubleLit(Expr):
    value: float


@dataclass
class StringLit(Expr):
    value: str  # escapes already decoded


@dataclass
class TemporalLit(Expr):
    """`@date 2024/1/31`, `@time 13:30`, `@timespan 5 min`, `@datetime "..."`.
    `parts` are the literal's pieces as written; the checker validates them and
    sets `value` to the runtime value (text, or seconds for a timespan)."""

    kind: str  # date | time | timespan | datetime
    parts: tuple
    value: object = field(default=None, compare=False)


@dataclass
class PairLit(Expr):
    """`@pair key -> value`."""

    key: Expr
    value: Expr


@dataclass
class BoolLit(Expr):
    value: bool


@dataclass
class Name(Expr):
    """A bare identifier: local, parameter, document field, record field
    (inside a record method or a `where` clause), enum name or function."""

    id: str
    ref: Any = field(default=None, compare=False, repr=False, kw_only=True)


@dataclass
class Special(Expr):
    """`@who`, `@no_one`, `@context`, `@nothing`: values spelled with an `@`."""

    name: str  # without the '@'


@dataclass
class StateLabel(Expr):
    """`#state` used as a value of type `label`."""

    name: str


@dataclass
class EnumValue(Expr):
    """`Suit::Hearts`; `value == "*"` for `Suit::*` (all values, as a list)."""

    enum: str
    value: str


@dataclass
class Unary(Expr):
    op: str  # '-', '!', '++pre', '--pre', '++post', '--post'
    operand: Expr


@dataclass
class Binary(Expr):
    op: str  # '*' '/' '%' '+' '-' '<' '>' '<=' '>=' '==' '!=' '&&' '||' '^^'
    left: Expr
    right: Expr
    # set by the checker when the operator is a row of Adama's table that is a
    # library call ('lift', 'repeat', 'scale'...: check_expr.py, gen_expr.py special_binary)
    special: str | None = field(default=None, compare=False, repr=False, kw_only=True)


@dataclass
class Ternary(Expr):
    cond: Expr
    then: Expr
    otherwise: Expr


@dataclass
class FieldAccess(Expr):
    """`obj.name`. On a list of records this projects the field (`list<T>`)."""

    obj: Expr
    name: str
    name_span: Span = NOSPAN


@dataclass
class Index(Expr):
    """`obj[key]`: lists and arrays give `maybe<T>`, maps give `maybe<V>`;
    `obj[x, y]` (`index2` = y): the cell of a grid (a map of maps)."""

    obj: Expr
    index: Expr
    index2: Expr | None = None


@dataclass
class Call(Expr):
    """`f(args)`, `obj.m(args)`, `Lib.f(args)`, `chan.fetch(who)`, `fut.await()`.

    `func` is a Name for plain calls or a FieldAccess for method calls.
    """

    func: Expr
    args: list[Expr] = field(default_factory=list)
    ref: Any = field(default=None, compare=False, repr=False, kw_only=True)
    # set by the checker for a library row called with maybes where it takes plain
    # values: the argument positions lifted, and whether the receiver is (gen_call.py)
    lift: tuple = field(default=(), compare=False, repr=False, kw_only=True)
    lift_recv: bool = field(default=False, compare=False, repr=False, kw_only=True)


@dataclass
class AnonField(Node):
    name: str
    value: Expr  # for shorthand `{a}` this is Name('a')


@dataclass
class AnonObject(Expr):
    """`{a: 1, b}`: typed against the message or record the context expects."""

    fields: list[AnonField] = field(default_factory=list)


@dataclass
class ArrayLit(Expr):
    """`[e1, e2, ...]`: typed as `T[]` from its elements or the expected type."""

    items: list[Expr] = field(default_factory=list)


@dataclass
class MaybeOf(Expr):
    """`@maybe(x)` (value given) or `@maybe<T>` (empty maybe of T)."""

    value: Expr | None = None
    type: TypeSyntax | None = None


@dataclass
class Convert(Expr):
    """`@convert<M>(x)`: a record, list of records or anon object to message M."""

    type: TypeSyntax
    value: Expr


@dataclass
class OrderKey(Node):
    field: str
    descending: bool = False
    insensitive: bool = False  # strings compared without regard to case


@dataclass
class Iterate(Expr):
    """`iterate t where c order by f desc limit n offset m shuffle`.

    The clauses apply in source order as Adama does; each is one step.
    """

    source: Expr
    steps: list["QueryStep"] = field(default_factory=list)
    explicit: bool = True  # written with `iterate`; False for clauses after another expression


@dataclass
class Where(Node):
    cond: Expr


@dataclass
class OrderBy(Node):
    keys: list[OrderKey]


@dataclass
class Limit(Node):
    count: Expr


@dataclass
class Offset(Node):
    count: Expr


@dataclass
class Shuffle(Node):
    pass


@dataclass
class WhereAs(Node):
    """`where_as x: cond`: keep the items for which `cond` holds, each named `x`."""

    alias: str
    cond: Expr


@dataclass
class Unique(Node):
    """`unique`, or `unique first key` / `unique last key` on a list of records."""

    last: bool = False
    key: str | None = None


@dataclass
class Lambda(Expr):
    """Adama's `@lambda x: expr` as a `map` or `reduce ... via` function: `expr`
    of each item (or group), named `x`; `ty` is the type of `expr`."""

    param: str
    body: Expr

    @property
    def returns(self):  # what a `map` or `reduce ... via` gives per item, as a function's result
        return self.ty


@dataclass
class MapStep(Node):
    """`map f`: the list of `f(item)` for every item."""

    func: Expr


@dataclass
class Reduce(Node):
    """`reduce [on] field [via f]`: the items grouped by `field` into a map, each
    group a list (or `f` of it)."""

    field: str
    func: Expr | None = None


@dataclass
class Traverse(Node):
    """`traverse a`: the rows the items lead to through assoc `a` (language.md 4.25)."""

    assoc: str
    # set by the checker: the assoc (docinfo.AssocInfo) and the document fields walked
    info: Any = field(default=None, compare=False, repr=False, kw_only=True)
    reads: list = field(default_factory=list, compare=False, repr=False, kw_only=True)


@dataclass
class OrderDyn(Node):
    """`order_dyn spec`: sort by a string of keys chosen at run time ("name,-score")."""

    spec: Expr


@dataclass
class Rank(Node):
    """`rank x: score [threshold t]`: the items whose score (a number, each item
    named `x`) is at least `t`, highest score first, ties in the order they came."""

    alias: str
    score: Expr
    threshold: Expr | None = None


@dataclass
class Materialize(Node):
    """`materialize`: Adama's caching hint; the list is already materialized here."""


QueryStep = Where | OrderBy | Limit | Offset | Shuffle | WhereAs | Unique | MapStep | Reduce | Materialize | OrderDyn | Rank


# ---------------------------------------------------------------- statements


@dataclass
class Stmt(Node):
    pass


@dataclass
class Block(Stmt):
    body: list[Stmt] = field(default_factory=list)


@dataclass
class VarDecl(Stmt):
    """`T x = e;`, `T x;`, `let x = e;`, `var x = e;`, `auto x = e;`.

    `type` is None for let/var/auto (inferred); `keyword` says which form.
    """

    name: str
    type: TypeSyntax | None
    value: Expr | None
    keyword: str = ""  # '', 'let', 'var', 'auto'
    name_span: Span = NOSPAN
    readonly: bool = False  # `readonly T x = e;`: assigned once, where declared


@dataclass
class Assign(Stmt):
    """`target op value;` with op in '=', '+=', '-=', '*='."""

    target: Expr
    op: str
    value: Expr


@dataclass
class ExprStmt(Stmt):
    """A call or `x++`/`--x` used for its effect."""

    expr: Expr


@dataclass
class Ingest(Stmt):
    """`table <- expr [as id];`: insert records into a table (or list)."""

    target: Expr
    value: Expr
    as_name: str | None = None


@dataclass
class If(Stmt):
    """`if (cond) ...` or `if (expr as name) ...` when `as_name` is set."""

    cond: Expr
    then: Block
    otherwise: Block | "If" | None = None
    as_name: str | None = None


@dataclass
class While(Stmt):
    cond: Expr
    body: Block


@dataclass
class DoWhile(Stmt):
    body: Block
    cond: Expr


@dataclass
class For(Stmt):
    init: Stmt | None
    cond: Expr | None
    step: Stmt | None
    body: Block


@dataclass
class ForEach(Stmt):
    """`foreach (x in e) body`."""

    name: str
    iterable: Expr
    body: Block


@dataclass
class Case(Node):
    value: Expr | None  # None for `default:`
    body: list[Stmt] = field(default_factory=list)


@dataclass
class Switch(Stmt):
    subject: Expr
    cases: list[Case] = field(default_factory=list)


@dataclass
class Break(Stmt):
    pass


@dataclass
class Continue(Stmt):
    pass


@dataclass
class Return(Stmt):
    value: Expr | None = None


@dataclass
class Abort(Stmt):
    pass


@dataclass
class Transition(Stmt):
    """`transition #s;`, `transition #s in N;`; target may be a label expr."""

    target: Expr
    delay: Expr | None = None


@dataclass
class Invoke(Stmt):
    state: str


@dataclass
class Destroy(Stmt):
    """`@destroy;`"""


@dataclass
class Debug(Stmt):
    """`@debug("fmt {0}", x, ...);`"""

    format: Expr
    args: list[Expr] = field(default_factory=list)


@dataclass
class Assert(Stmt):
    cond: Expr


@dataclass
class TestStep(Stmt):
    """`@step;` in a test: the pending transition runs now."""


@dataclass
class TestForward(Stmt):
    """`@forward seconds;` in a test: the clock moves on, due transitions run."""

    value: Expr


@dataclass
class TestPump(Stmt):
    """`@pump message into channel;` in a test: the channel's next ask takes it."""

    value: Expr
    channel: str
    channel_span: Span = NOSPAN


@dataclass
class TestSend(Stmt):
    """`@send channel(who, message);` in a test: the message goes to the channel's
    handler as `who`, a transaction of its own (language.md 4.24)."""

    channel: str
    who: Expr
    value: Expr
    channel_span: Span = NOSPAN


@dataclass
class TestAborts(Stmt):
    """`@aborts { ... }` in a test: the block must abort; its writes are undone."""

    body: "Block"


@dataclass
class Log(Stmt):
    """`log text;` in a test: a line of the test's report."""

    value: Expr


@dataclass
class Preempt(Stmt):
    """`preempt #s;` (state blocks): should the block then wait (an await that
    waits, or `block;`), what it wrote commits and #s runs now (language.md 6.9.1)."""

    target: Expr


@dataclass
class BlockState(Stmt):
    """`block;` (state blocks): the block gives up for now; it runs again after
    the document's next input, or goes to the state a `preempt` named (6.9.1)."""


# ---------------------------------------------------------------- declarations


@dataclass
class Privacy(Node):
    """`public`, `private`, `viewer_is<f>`, `use_policy<p>` (or `<p, q>`)."""

    kind: str  # 'public' | 'private' | 'viewer_is' | 'use_policy'
    names: list[str] = field(default_factory=list)
    explicit: bool = True  # False when defaulted (fields are private by default)


@dataclass
class Decl(Node):
    pass


@dataclass
class FieldDecl(Decl):
    """A field of the document, a record or a message: `[privacy] [readonly] T name [= e];`."""

    name: str
    type: TypeSyntax
    privacy: Privacy
    default: Expr | None = None
    readonly: bool = False
    name_span: Span = NOSPAN
    flags: list[str] = field(default_factory=list)  # Adama's `lossy`, `unique`, `required`
    was: list = field(default_factory=list)  # `@was(old, ...)`: earlier names (Toks), spec/runtime.md 9.2
    session: bool = False  # `session<Agent> name;`: one conversation with an agent (language.md 4.31)


@dataclass
class Formula(Decl):
    """`[privacy] formula name = expr;`: lazily recomputed from what it reads."""

    name: str
    privacy: Privacy
    value: Expr
    name_span: Span = NOSPAN


@dataclass
class Replication(Formula):
    """`replication<svc:method> name = expr;` (spec/language.md 4.30): a private
    formula whose value the host keeps copied at a service's method."""

    service: str = ""
    method: str = ""
    target_span: Span = NOSPAN


@dataclass
class Bubble(Decl):
    """`bubble name = expr;`: a per-viewer formula that may read `@who`;
    `bubble<p, q> name = expr;` is shown only to viewers every policy admits."""

    name: str
    value: Expr
    name_span: Span = NOSPAN
    guard: list[str] = field(default_factory=list)


@dataclass
class Policy(Decl):
    """`policy name { ... return bool; }`: evaluated per viewer."""

    name: str
    body: Block
    name_span: Span = NOSPAN
    # `filter name { ... }`: Adama's view filter, a document policy that may read @viewer and
    # is named after `|` in a guard (language.md 4.10.1)
    filter: bool = False


@dataclass
class Require(Decl):
    """`require policy;` inside a record: rows the viewer fails are hidden."""

    policy: str


@dataclass
class IndexHint(Decl):
    """`index field;` inside a record: tables keep a lookup on that field."""

    field: str


@dataclass
class Param(Node):
    name: str
    type: TypeSyntax
    readonly: bool = False  # `readonly T x`: the body may not assign it


@dataclass
class Function(Decl):
    """`function f(params) -> T {}` (pure) or `procedure p(params) [-> T] {}`,
    also record `method m(params) [-> T] {}`. `kind` says which."""

    kind: str  # 'function' | 'procedure' | 'method'
    name: str
    params: list[Param]
    returns: TypeSyntax | None
    body: Block
    readonly: bool = False
    aborts: bool = False
    name_span: Span = NOSPAN


@dataclass
class TemplateDecl(Decl):
    """`template name: `tag`text`tag``: Adama's named text (language.md 4.26)."""

    name: str
    text: str
    name_span: Span = NOSPAN


@dataclass
class AssocDecl(Decl):
    """`assoc<From, To> name;` (or `assoc<From, To, Edge>`): Adama's many-to-many
    index from rows of From to rows of To, filled by joins (language.md 4.25)."""

    name: str
    source: str
    target: str
    edge: str | None = None
    name_span: Span = NOSPAN
    source_span: Span = NOSPAN
    target_span: Span = NOSPAN


@dataclass
class JoinDecl(Decl):
    """`join a via t[x] from f to g;`: every item x of table t is an edge of assoc
    a, from the id f to the id g (in a record, f and g see its fields)."""

    assoc: str
    table: str
    item: str
    source: Expr
    target: Expr
    assoc_span: Span = NOSPAN
    table_span: Span = NOSPAN


@dataclass
class RecordDecl(Decl):
    """`record R { fields, methods, policies, require, index, formulas, bubbles }`."""

    name: str
    members: list[Decl] = field(default_factory=list)
    name_span: Span = NOSPAN


@dataclass
class MessageDecl(Decl):
    """`message M { fields and methods }` (messages carry no privacy)."""

    name: str
    fields: list[FieldDecl] = field(default_factory=list)
    name_span: Span = NOSPAN
    methods: list["Function"] = field(default_factory=list)
    # `@parsed { ... }`: the blocks run, in order, on a message of this type made from JSON
    parsed: list["Block"] = field(default_factory=list)


@dataclass
class EnumItem(Node):
    name: str
    value: int | None = None
    default: bool = False  # `@default Name`: the value a field of the enum starts with


@dataclass
class EnumDecl(Decl):
    name: str
    items: list[EnumItem] = field(default_factory=list)
    name_span: Span = NOSPAN


@dataclass
class Channel(Decl):
    """A complete channel `channel c([principal who,] M m) {}` (body set), or
    an incomplete one `channel<M> c;` / `channel<M[]> c;` (body None)."""

    name: str
    message: TypeSyntax
    param: str | None = None  # the message parameter's name
    who: str | None = None  # the seeds' explicit `principal who` parameter
    body: Block | None = None
    name_span: Span = NOSPAN
    open: bool = False  # Adama's `open` marker
    requires: list[str] = field(default_factory=list)  # `requires<p, q>`: policies the sender must pass


@dataclass
class Metric(Decl):
    """`metric name = expr;`: a value of the document reported to its operators."""

    name: str
    value: Expr
    name_span: Span = NOSPAN


@dataclass
class Dispatch(Decl):
    """`dispatch Enum::Value name(params) [-> T] { ... }` (also `Enum::*` and
    `Enum::Prefix*`): one case of a method of the enum's values, `v.name(...)`;
    the body sees the value as `self`."""

    enum: str
    pattern: str  # a value name, "*", or "Prefix*"
    name: str
    params: list["Param"] = field(default_factory=list)
    returns: TypeSyntax | None = None
    body: Block | None = None
    name_span: Span = NOSPAN


@dataclass
class RequireGuard(Stmt):
    """The `requires<p, ...>` of a channel, as the first statement of its body:
    each policy must hold for the sender, else the message is refused (abort)."""

    policies: list[str] = field(default_factory=list)


@dataclass
class StateBlock(Decl):
    """`#name { ... }`"""

    name: str
    body: Block
    name_span: Span = NOSPAN


@dataclass
class Handler(Decl):
    """Lifecycle hooks: `@construct`, `@load`, `@connected`, `@disconnected`,
    `@delete`. `param` is `(who)` in the seeds' form or `(M m)` for
    `@construct`; `param_type` is set only for the message form."""

    event: str  # 'construct' | 'load' | 'connected' | 'disconnected' | 'delete' | 'authorize' | ...
    body: Block
    param: str | None = None
    param_type: TypeSyntax | None = None
    # `@authorize (user, pass)`: the second name (param is the first); both strings
    param2: str | None = None


@dataclass
class Cron(Decl):
    """`@cron name daily H:MM {}`, `hourly M {}`, `monthly D {}`."""

    name: str
    schedule: str  # 'daily' | 'hourly' | 'monthly'
    values: list[int]  # daily: [hour, minute]; hourly: [minute]; monthly: [day]
    body: Block
    name_span: Span = NOSPAN


@dataclass
class StaticPolicy(Node):
    """`create { ... }` / `invent { ... }` inside `@static`: returns bool."""

    name: str
    body: Block


@dataclass
class StaticProperty(Node):
    """`name = expr;` inside `@static` (e.g. `maximum_history = 100;`)."""

    name: str
    value: Expr


@dataclass
class Static(Decl):
    policies: list[StaticPolicy] = field(default_factory=list)
    properties: list[StaticProperty] = field(default_factory=list)


@dataclass
class TestDecl(Decl):
    """`test name { ... }`"""

    name: str
    body: Block


@dataclass
class ViewDecl(Decl):
    """`view T name;`: a field of every viewer's own state, which its client
    sends; bubbles read it as `@viewer.name`. The parser gathers them into one
    message, VIEWER_MESSAGE, the type of `@viewer`."""

    name: str
    type: TypeSyntax
    name_span: Span = NOSPAN


VIEWER_MESSAGE = "@viewer"  # no declared name can be it

# Adama's `complex` (language.md 3.12) is a message of two doubles, r and i (its JSON, as
# Adama writes it); the parser declares it when a document names the type or `@i`.
COMPLEX_MESSAGE = "complex"
# advm's vectors and matrices (language.md 3.12.1): messages of doubles, each made when first used.
# A vector's fields are x, y, z, w; a matrix's mRC, row R and column C, in row-major order.
LINALG = {f"vec{n}": ("x", "y", "z", "w")[:n] for n in (2, 3, 4)}
LINALG.update({f"matrix{n}": tuple(f"m{r}{c}" for r in range(n) for c in range(n)) for n in (2, 3, 4)})

# Adama's tuples (language.md 3.11): the items of `(a, b, c)` and the fields of
# `tuple<A, B, C>` are named first, second, ... tenth, then pos_11, pos_12, ...
_TUPLE_FIELDS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
                 "tenth")


def tuple_field(i: int) -> str:
    """The name of a tuple's item `i` (counted from 0)."""
    return _TUPLE_FIELDS[i] if i < len(_TUPLE_FIELDS) else f"pos_{i + 1}"


def type_text(ts: "TypeSyntax") -> str:
    """A type as written, spaced one way (`tuple<int, list<string>>`): the
    name of the message a `tuple<...>` stands for, so equal tuples are one type."""
    if isinstance(ts, ArrayTypeRef):
        return type_text(ts.element) + "[]"
    name = "principal" if ts.name == "client" else ts.name
    return f"{name}<{', '.join(type_text(a) for a in ts.args)}>" if ts.args else name


@dataclass
class ServiceMethod(Node):
    """`method<In, Out> name [idempotent];` in a service."""

    name: str
    input: TypeRef
    output: TypeRef
    flags: list[str] = field(default_factory=list)
    name_span: Span = NOSPAN


@dataclass
class ServiceDecl(Decl):
    """`service name { messages; methods }` (spec/language.md 4.27): what the
    document may call; where the service lives is configuration outside it."""

    name: str
    methods: list[ServiceMethod] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)  # names of the messages declared inside it
    name_span: Span = NOSPAN


@dataclass
class SpaceDecl(Decl):
    """`space NAME;` (spec/language.md 4.32): the program served as space NAME,
    whose documents this one creates and sends to, checked against that
    program's @construct message and channels."""

    name: str
    name_span: Span = NOSPAN


@dataclass
class WebSegment(Node):
    """One part of a `@web` path: `text` (fixed), or a parameter `$name:type`
    (`kind` "param", `param` its Param) or `$name*` (`kind` "rest": the rest
    of the path as a string)."""

    kind: str  # 'fixed' | 'param' | 'rest'
    text: str = ""
    param: "Param | None" = None


@dataclass
class WebDecl(Decl):
    """`@web get|put|delete|options /path/$id:int/$rest* [(M m)] { ... }`
    (language.md 4.28): an HTTP handler returning a WebResponse."""

    method: str
    path: str
    segments: list[WebSegment]
    body: Block
    param: "Param | None" = None


@dataclass
class AgentSetting(Node):
    """`name = expr;` in an agent: instructions, model, temperature, max_tokens,
    max_tool_rounds, token_budget, staleness_timeout (language.md 4.31)."""

    name: str
    value: Expr
    name_span: Span = NOSPAN


@dataclass
class AgentTool(Node):
    """`[@description("...")] [mutating] tool<In, Out> name { ... }`: compiled as the
    agent record's method `name(In request) -> Out` (`method`)."""

    name: str
    input: TypeSyntax
    output: TypeSyntax
    mutating: bool
    description: str
    method: "Function"
    name_span: Span = NOSPAN


@dataclass
class AgentDecl(Decl):
    """`agent Name { settings, mutable fields, tools }` (language.md 4.31). The
    parser also gives the record `Name` that a `session<Name>` field holds (the
    conversation's state, the mutables and the tools as methods); this node
    keeps what the checker and the runtime need besides."""

    name: str
    settings: list[AgentSetting] = field(default_factory=list)
    mutables: list[str] = field(default_factory=list)
    tools: list[AgentTool] = field(default_factory=list)
    name_span: Span = NOSPAN


@dataclass
class Unsupported(Decl):
    """A construct the seeds use that a later issue implements (`service`,
    `replication`, `agent`, `session<A>`, `@asset`, `@can_attach`, `@web`).
    Parsed (balanced braces) so the checker can say so precisely."""

    what: str
    name: str | None = None


@dataclass
class Program(Node):
    decls: list[Decl] = field(default_factory=list)


def children(node: Node) -> list[Node]:
    """The nodes right under `node`, in the order of its fields."""
    out = []
    for value in vars(node).values():
        if isinstance(value, Node):
            out.append(value)
        elif isinstance(value, list):
            out += [v for v in value if isinstance(v, Node)]
    return out


def walk(node: Node):
    """Every node under `node` (statements and expressions), depth first: the
    one walk of the tree (the checker, effects.py, code generation and the
    lints search with it; locate.py descends with `children`)."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(children(n))
