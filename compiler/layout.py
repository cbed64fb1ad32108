"""Code generation's first stage: where every value lives and what every body is called.

Layouts: the document root ("$doc") starts with the hidden slots of
vm/docslots.py, then the document's fields in declaration order; every record
type gets its fields then the hidden owner slot (see vm/table.py); every
message type its fields; "$table" is the layout of tables. Defaults that are
constants sit in the layouts; the rest is computed by code: `$init` fills the
document's computed defaults and creates its tables, `new.<Type>` builds a
record or message whose defaults need code (gen_doc.py writes both).

Function names (what the runtime calls): `fn.<f>` for functions and
procedures, `method.<R>.<m>`, `channel.<c>`, `state.<s>`, `on.<event>`,
`cron.<job>`, `formula.<f>` and `bubble.<b>` (document), `rformula.<R>.<f>`,
`policy.<p>`, `rpolicy.<R>.<p>`, `static.<create|invent>`, `test.<t>`.

`lay_out(info, asm)` writes the layouts into the module and returns the
`Layout` the later stages look slots and names up in.
"""
from __future__ import annotations

from . import ast
from . import types as T
from .check_decl import constant_value
from .gen_types import constant_default, kind_of
from ..vm import docslots
from ..vm.table import TABLE_DEFAULTS, TABLE_FIELDS, TABLE_KINDS, TABLE_LAYOUT_NAME


def literal_default(e: ast.Expr | None, t: T.Type, info) -> tuple[bool, object]:
    """(True, value) when a field default is a literal the layout can hold."""
    if e is None:
        return constant_default(t, info)
    if isinstance(e, ast.EnumValue) and isinstance(t, T.EnumType) and e.value != "*":
        return True, info.enums[e.enum].values[e.value]
    if isinstance(e, ast.StateLabel) and t == T.LABEL:
        return True, e.name
    value = constant_value(e)
    if value is None or isinstance(t, T.MaybeType):
        return False, None
    k = kind_of(t)
    if k == "d" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return True, float(value)
    if k in ("i", "l") and type(value) is int:
        return True, value
    if k == "b" and type(value) is bool:
        return True, value
    if t == T.STRING and type(value) is str:
        return True, value
    return False, None


class Layout:
    """Slots, layouts, constructors and body names of one module (read-only
    once `lay_out` has filled it)."""

    def __init__(self, info, asm):
        self.info = info
        self.asm = asm  # vm.assembler.ModuleAsm: layouts are numbered in it
        self.slots: dict[str, dict[str, int]] = {}  # struct name -> field -> slot
        self.layout_names: dict[str, str] = {}  # struct name -> layout name
        self.defaults: dict[str, list] = {}  # struct name -> [FieldInfo] computed by code
        self.ctors: dict[str, str | None] = {}
        self.doc_slots: dict[str, int] = {}
        self.doc_computed: list = []  # the document's FieldInfos set by $init
        self.enum_maps: dict[str, dict] = {}

    # ---------------------------------------------------------------- slots and layouts

    def doc_slot(self, name: str) -> int:
        return self.doc_slots[name]

    def field_slot(self, struct: str, field: str) -> int:
        return self.slots[struct][field]

    def owner_slot(self, record: str) -> int:
        return self.slots[record][docslots.OWNER_FIELD]

    def layout_name(self, struct: str) -> str:
        return self.layout_names[struct]

    def constructor(self, struct: str) -> str | None:
        return self.ctors.get(struct)

    def is_indexed(self, struct: str, field: str) -> bool:
        rec = self.info.records.get(struct)
        return rec is not None and field in rec.indexes

    def table_spec(self, record: str) -> list:
        rec = self.info.records[record]
        return [self.asm.record_index(TABLE_LAYOUT_NAME), self.slots[record]["id"],
                self.owner_slot(record), [self.slots[record][f] for f in rec.indexes]]

    def enum_names(self, name: str) -> dict:
        if name not in self.enum_maps:
            # Two names may share a number: the first declared one prints.
            names = {}
            for n, v in self.info.enums[name].values.items():
                names.setdefault(v, n)
            self.enum_maps[name] = names
        return self.enum_maps[name]

    # ---------------------------------------------------------------- body names

    def function_fn(self, name: str) -> str:
        return f"fn.{name}"

    def method_fn(self, record: str, name: str) -> str:
        return f"method.{record}.{name}"

    def formula_fn(self, name: str) -> str:
        fo = self.info.formulas[name]
        return f"{'bubble' if fo.bubble else 'formula'}.{name}"

    def record_formula_fn(self, record: str, name: str) -> str:
        return f"rformula.{record}.{name}"

    def state_fn(self, name: str) -> str:
        return f"state.{name}"


def lay_out(info, asm) -> Layout:
    """Write the module's record layouts into `asm`; the Layout that names them."""
    lay = Layout(info, asm)
    asm.record(TABLE_LAYOUT_NAME, list(TABLE_FIELDS), TABLE_KINDS, list(TABLE_DEFAULTS))
    for kind, structs in (("record", info.records), ("message", info.messages)):
        for s in structs.values():
            _struct_layout(lay, s, kind)
    names, kinds, values = [], "", []
    for name, k, default in docslots.HIDDEN:
        names.append(name)
        kinds += k
        values.append(default)
    for f in info.fields.values():
        lay.doc_slots[f.name] = len(names)
        names.append(f.name)
        kinds += kind_of(f.type)
        values.append(_layout_value(f, lay.doc_computed, info))
    asm.document = asm.record("$doc", names, kinds, values)
    return lay


def _layout_value(f, computed: list, info):
    """The layout default of a field; fields whose default needs code go to
    `computed` and get a placeholder of their kind."""
    ok, value = literal_default(f.default, f.type, info)
    if ok:
        return value
    computed.append(f)
    return {"i": 0, "l": 0, "b": False, "d": 0.0, "o": None}[kind_of(f.type)]


def _struct_layout(lay: Layout, s, kind: str) -> None:
    names, kinds, values, computed = [], "", [], []
    slots = {}
    for f in s.fields.values():
        slots[f.name] = len(names)
        names.append(f.name)
        kinds += kind_of(f.type)
        values.append(_layout_value(f, computed, lay.info))
    if kind == "record":
        slots[docslots.OWNER_FIELD] = len(names)
        names.append(docslots.OWNER_FIELD)
        kinds += "o"
        values.append(docslots.DETACHED)
    layout = f"{kind}.{s.name}"
    lay.asm.record(layout, names, kinds, values)
    lay.layout_names[s.name] = layout
    lay.slots[s.name] = slots
    lay.defaults[s.name] = computed
    lay.ctors[s.name] = f"new.{s.name}" if computed else None


__all__ = ["Layout", "lay_out", "literal_default"]
