"""What the checker learned about a document: the input of code generation.

`DocumentInfo` lists every declaration with resolved types. Expressions in the
AST point into it: `Name.ref` and `Call.ref` hold a `Ref` (or a library
`LibEntry` for library calls), so code generation never resolves a name again.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import ast
from .types import Type


@dataclass(eq=False)
class LocalVar:
    """One local variable or parameter. Identity (not name) tells two apart,
    so `x` in two sibling blocks are different variables."""

    name: str
    type: Type
    kind: str = "local"  # 'local' | 'param' | 'iter' (foreach) | 'as' (if-as / ingest-as)
    node: Any = None
    mutable: bool = True  # False for the message parameters of channels and handlers

    def __repr__(self) -> str:
        return f"LocalVar({self.name}: {self.type})"


@dataclass(frozen=True, eq=False)
class Ref:
    """What a Name or Call resolved to.

    kind: 'local' | 'field' (document field) | 'record_field' (owner = record)
    | 'formula' | 'bubble' | 'channel' | 'function' | 'procedure' | 'method'
    (owner = record) | 'library' (a namespace) | 'builtin_method' | 'channel_op'.
    `target` is the LocalVar, FieldInfo, FormulaInfo, FuncInfo, ChannelInfo or
    LibEntry the name stands for.
    """

    kind: str
    name: str
    target: Any = None
    owner: str | None = None

    def __repr__(self) -> str:
        where = f" of {self.owner}" if self.owner else ""
        return f"Ref({self.kind} {self.name}{where})"


@dataclass
class FieldInfo:
    name: str
    type: Type
    privacy: str  # 'public' | 'private' | 'viewer_is' | 'use_policy'
    privacy_names: list[str] = field(default_factory=list)
    default: ast.Expr | None = None
    readonly: bool = False
    decl: ast.FieldDecl | None = None


@dataclass
class Effects:
    """What a body reads and may do, through the procedures and methods it
    calls (compiler/effects.py finds it once the document is checked)."""

    doc: set[str] = field(default_factory=set)  # document fields, formulas and bubbles read
    row: set[str] = field(default_factory=set)  # fields and formulas read of the record in scope
    time: bool = False  # reads the event's clock
    transition: bool = False  # may schedule a transition
    destroy: bool = False  # may destroy the document

    def meta(self) -> dict:
        """The part the views read (the module's meta["views"], views/privacy.py)."""
        return {"reads": sorted(self.row), "doc_reads": sorted(self.doc), "time": self.time}


@dataclass
class FormulaInfo:
    """A formula or a bubble. `reads` names the fields/formulas of its scope
    (the document, or the record for record formulas) it depends on; for a
    record formula, `doc_reads` names the document fields it also reads."""

    name: str
    value: ast.Expr
    type: Type | None = None
    privacy: str = "private"
    privacy_names: list[str] = field(default_factory=list)
    reads: set[str] = field(default_factory=set)
    doc_reads: set[str] = field(default_factory=set)
    bubble: bool = False
    owner: str | None = None  # record name for record formulas
    decl: Any = None
    effects: Effects | None = None  # set by effects.py after checking
    # a record's bubble that reads @viewer, itself or through the bubbles it reads: it takes the
    # viewer's state after its row (set by the checker; a document's bubbles all take it)
    viewer: bool = False


@dataclass
class FuncInfo:
    name: str
    kind: str  # 'function' | 'procedure' | 'method'
    params: list[tuple[str, Type]]
    returns: Type  # types.VOID when nothing is returned
    readonly: bool = False
    aborts: bool = False
    owner: str | None = None  # record name for methods
    decl: ast.Function | None = None
    symbol: str | None = None  # an overload's own name in the module (`f#1`); None: the name
    effects: Effects | None = None  # set by effects.py when a caller's rules need it


@dataclass
class PolicyInfo:
    name: str
    owner: str | None = None
    decl: ast.Policy | None = None
    effects: Effects | None = None  # set by effects.py after checking


@dataclass
class StructInfo:
    """A record or a message."""

    name: str
    kind: str  # 'record' | 'message'
    fields: dict[str, FieldInfo] = field(default_factory=dict)
    methods: dict[str, FuncInfo] = field(default_factory=dict)
    policies: dict[str, PolicyInfo] = field(default_factory=dict)
    formulas: dict[str, FormulaInfo] = field(default_factory=dict)
    requires: list[str] = field(default_factory=list)
    indexes: list[str] = field(default_factory=list)
    decl: Any = None


@dataclass
class EnumInfo:
    name: str
    values: dict[str, int] = field(default_factory=dict)
    decl: ast.EnumDecl | None = None
    default_name: str | None = None  # the value marked @default, if any
    # `dispatch` methods: name -> [(pattern, FuncInfo)] in declaration order
    dispatchers: dict = field(default_factory=dict)
    # and for each, value name -> the FuncInfo that value runs (check_decl.py dispatch_table)
    dispatch_tables: dict = field(default_factory=dict)

    @property
    def default(self) -> str | None:
        """The value a field of this enum starts with: @default, else the first."""
        return self.default_name if self.default_name is not None else next(iter(self.values), None)


@dataclass
class ChannelInfo:
    name: str
    message: Type  # the MessageType (element type for array channels)
    is_array: bool = False
    complete: bool = False
    who: str | None = None
    param: str | None = None
    decl: ast.Channel | None = None


@dataclass
class ServiceMethodInfo:
    name: str
    input: Type  # a MessageType
    output: Type  # a MessageType
    idempotent: bool = False


@dataclass
class ServiceInfo:
    """`service name { ... }` (spec/language.md 4.27)."""

    name: str
    methods: dict[str, ServiceMethodInfo] = field(default_factory=dict)
    decl: ast.ServiceDecl | None = None
    # `space NAME;` (language.md 4.32): the program served as space NAME; its
    # methods are `create` and its complete channels, the first argument a key
    space: bool = False
    used: set = field(default_factory=set)  # the methods this document calls


@dataclass
class StateInfo:
    name: str
    decl: ast.StateBlock | None = None


@dataclass
class HandlerInfo:
    """An event's first declaration; `more` holds the later ones, which all
    run after it in order (Adama's repeated events, language.md 4.18)."""

    event: str
    param: str | None = None
    param_type: Type | None = None
    decl: ast.Handler | None = None
    more: list["HandlerInfo"] = field(default_factory=list)

    @property
    def all(self) -> list["HandlerInfo"]:
        return [self, *self.more]

    @property
    def message(self) -> Type | None:
        """@construct's message: the one its declarations with an argument take."""
        if self.event != "construct":
            return None
        return next((h.param_type for h in self.all if h.param_type is not None), None)


@dataclass
class CronInfo:
    name: str
    schedule: str
    values: list[int]
    decl: ast.Cron | None = None


@dataclass
class WebInfo:
    """`@web METHOD /path {...}` (language.md 4.28): `segments` [(kind, text or
    name, Type or None)], `message` the body's message type (put) or None."""

    method: str
    segments: list
    message: Any
    decl: ast.WebDecl
    fn: str = ""


@dataclass
class StaticInfo:
    policies: dict[str, ast.StaticPolicy] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)  # name -> constant value


@dataclass
class AssocInfo:
    """`assoc<From, To> name;` and its joins (language.md 4.25)."""

    name: str
    source: Type
    target: Type
    decl: ast.AssocDecl
    joins: list = field(default_factory=list)  # (record name or None, ast.JoinDecl), in order


@dataclass
class DocumentInfo:
    records: dict[str, StructInfo] = field(default_factory=dict)
    messages: dict[str, StructInfo] = field(default_factory=dict)
    enums: dict[str, EnumInfo] = field(default_factory=dict)
    fields: dict[str, FieldInfo] = field(default_factory=dict)
    formulas: dict[str, FormulaInfo] = field(default_factory=dict)  # formulas and bubbles
    policies: dict[str, PolicyInfo] = field(default_factory=dict)
    channels: dict[str, ChannelInfo] = field(default_factory=dict)
    services: dict[str, ServiceInfo] = field(default_factory=dict)
    agents: dict = field(default_factory=dict)  # name -> ast.AgentDecl (language.md 4.31)
    states: dict[str, StateInfo] = field(default_factory=dict)
    handlers: dict[str, HandlerInfo] = field(default_factory=dict)
    crons: dict[str, CronInfo] = field(default_factory=dict)
    static: StaticInfo = field(default_factory=StaticInfo)
    functions: dict[str, FuncInfo] = field(default_factory=dict)  # functions and procedures
    # Further functions or procedures of a name in `functions`, with other parameter types.
    overloads: dict[str, list[FuncInfo]] = field(default_factory=dict)
    tests: dict[str, ast.TestDecl] = field(default_factory=dict)
    unsupported: list[ast.Unsupported] = field(default_factory=list)
    webs: list = field(default_factory=list)  # WebInfo, in declaration order (language.md 4.28)
    assocs: dict[str, AssocInfo] = field(default_factory=dict)
    templates: dict[str, ast.TemplateDecl] = field(default_factory=dict)

    def struct(self, name: str) -> StructInfo | None:
        return self.records.get(name) or self.messages.get(name)

    @property
    def bubbles(self) -> dict[str, FormulaInfo]:
        return {n: f for n, f in self.formulas.items() if f.bubble}

    def formula_order(self) -> list[str]:
        """Document formulas in dependency order (each after what it reads)."""
        order, seen = [], set()

        def visit(name: str) -> None:
            if name in seen:
                return
            seen.add(name)
            for dep in sorted(self.formulas[name].reads):
                if dep in self.formulas:
                    visit(dep)
            order.append(name)

        for name in self.formulas:
            visit(name)
        return order
