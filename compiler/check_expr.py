"""Expression checking: every Expr gets `.ty`; names and calls get `.ref`.

`expr(e, expected)` checks `e`, passing down the type the context expects so
anonymous objects, array literals and `@maybe` can be typed from it. The
caller decides whether the result fits (and reports the mismatch), except
where the expression itself is malformed.
"""
from __future__ import annotations

import re

from . import ast
from . import library as L
from . import types as T
from .ast import LINALG, VIEWER_MESSAGE
from .check_base import a, did_you_mean
from .docinfo import FieldInfo, FormulaInfo, FuncInfo, Ref
from .effects import of_function

INT_MAX = 2**31 - 1
LONG_MAX = 2**63 - 1
ARITH = ("-", "*")
COMPARE = ("<", ">", "<=", ">=")
EQUALITY = ("==", "!=")
LOGIC = ("&&", "||", "^^")
CHANNEL_OPS = ("fetch", "decide", "choose", "enqueue")
# Method names from other languages, and what this one calls them.
SAME_MEANING = {
    "size": ("length",), "len": ("length", "size"), "count": ("size", "length"),
    "length": ("size",), "toUpperCase": ("upper",), "toLowerCase": ("lower",), "strip": ("trim",),
}
PLACEHOLDER = re.compile(r"\{(\d+)\}")



def lifted_result(e: ast.Call, t: T.Type) -> T.Type:
    """A library call with a maybe where the row takes a plain value gives a maybe."""
    if getattr(e, "lift", None) or getattr(e, "lift_recv", False):
        return t if isinstance(t, T.MaybeType) else T.MaybeType(t)
    return t


def unique_key(t: T.Type) -> bool:
    """Values `unique` can compare: numbers, strings, principals, dates and times, enums."""
    return T.is_error(t) or isinstance(t, T.EnumType) or t in (
        T.INT, T.LONG, T.DOUBLE, T.BOOL, T.STRING, T.PRINCIPAL, T.DATE, T.DATETIME, T.TIME, T.TIMESPAN)


# Methods of every enum value: what each gives (None: a value of the same enum).
ENUM_METHODS = {"to_int": T.INT, "to_string": T.STRING, "next": None, "prev": None}

TIMESPAN_UNITS = {"sec": 1.0, "min": 60.0, "hr": 3600.0, "day": 86400.0, "week": 604800.0}


def temporal_value(kind: str, parts: tuple) -> tuple[object, str | None]:
    """The runtime value of a date/time literal, or a message saying why it is not one."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    if kind == "date":
        y, m, d = parts
        try:
            return dt.date(y, m, d).isoformat(), None
        except ValueError:
            return None, f"the date {y}/{m}/{d} is invalid"
    if kind == "time":
        h, m = parts
        if 0 <= h <= 23 and 0 <= m <= 59:
            return f"{h:02d}:{m:02d}", None
        return None, f"the time {h}:{m:02d} is invalid: hours run 0-23, minutes 0-59"
    if kind == "timespan":
        n, unit = parts
        return n * TIMESPAN_UNITS[unit], None
    text = parts[0]
    body, _, zone = text.partition("[")
    try:
        v = dt.datetime.fromisoformat(body)
    except ValueError:
        return None, f"'{text}' is not an ISO-8601 date and time"
    if v.tzinfo is None:
        return None, f"'{text}' needs a time zone offset, e.g. {body}Z or {body}-05:00"
    if zone:
        try:
            v = v.astimezone(ZoneInfo(zone.rstrip("]")))
        except Exception:
            return None, f"'{zone.rstrip(']')}' is not a known time zone"
    return v.isoformat(timespec="milliseconds"), None

def linalg_dim(t) -> tuple[str, int] | None:
    """('vec', n) or ('matrix', n) for advm's vecN and matrixN messages (language.md 3.12.1)."""
    if isinstance(t, T.MessageType) and t.name in LINALG:
        return ("vec", int(t.name[3:])) if t.name.startswith("vec") else ("matrix", int(t.name[6:]))
    return None


def linalg_result(op: str, lt, rt):
    """The type of `lt op rt` for vectors and matrices, or None when the row is not theirs: + and -
    of two of one type; * by a number (either side); matrix * vector and matrix * matrix of one size."""
    a, b = linalg_dim(lt), linalg_dim(rt)
    if a is None and b is None:
        return None
    if op in ("+", "-") and a is not None and lt == rt:
        return lt
    if op == "*":
        if a is not None and T.is_numeric(rt):
            return lt
        if b is not None and T.is_numeric(lt):
            return rt
        if a is not None and b is not None and a[0] == "matrix" and a[1] == b[1]:
            return rt
    return None


class ExprChecker:
    def expr(self, e: ast.Expr, expected: T.Type | None = None) -> T.Type:
        method = getattr(self, "x_" + type(e).__name__, None)
        if method is None:
            t = self.err("E0901", f"expression {type(e).__name__} is not supported yet", e.span)
        else:
            t = method(e, expected)
        e.ty = t
        return t

    def x_Lambda(self, e: ast.Lambda, expected):  # only in `map` and `reduce ... via` (step_function)
        return self.err("E0303", "a @lambda is a query's `map` or `reduce ... via` function", e.span)

    def conversion_hint(self, got: T.Type, want: T.Type) -> str | None:
        if isinstance(got, T.MaybeType) and self.assignable(got.inner, want):
            return "unwrap it first: `if (value as x) { ... }`, or use .getOrDefaultTo(...)"
        if T.is_numeric(got) and T.is_numeric(want):
            return "narrowing needs a library call such as Math.toInt(...)"
        if T.is_struct(want) and isinstance(got, (T.RecordType, T.MessageType)):
            return f"convert it with @convert<{want}>(...)" if isinstance(want, T.MessageType) else None
        if T.is_sequence(got) and isinstance(want, T.MessageType):
            return None
        if isinstance(want, T.MaybeType) and not isinstance(got, T.MaybeType):
            return None
        return None

    # ------------------------------------------------------------ literals

    def x_IntLit(self, e: ast.IntLit, expected):
        if e.is_long:
            if not -LONG_MAX - 1 <= e.value <= LONG_MAX:
                return self.err("E0322", f"{e.value} does not fit in a long", e.span)
            return T.LONG
        if not -INT_MAX - 1 <= e.value <= INT_MAX:
            return self.err("E0322", f"{e.value} does not fit in an int", e.span,
                            "add an L suffix to make it a long")
        return T.INT

    def x_DoubleLit(self, e, expected):
        return T.DOUBLE

    def x_StringLit(self, e, expected):
        return T.STRING

    def x_BoolLit(self, e, expected):
        return T.BOOL

    def x_PairLit(self, e: ast.PairLit, expected):
        want = expected if isinstance(expected, T.PairType) else None
        kt = self.expr(e.key, want.key if want else None)
        vt = self.expr(e.value, want.value if want else None)
        for side, t in ((e.key, kt), (e.value, vt)):
            if t == T.VOID or isinstance(t, (T.TableType, T.ChannelType, T.FutureType, T.LibraryType)):
                return self.err("E0309", f"a pair cannot hold {a(t)}", side.span)
        return T.PairType(kt, vt)

    def x_TemporalLit(self, e: ast.TemporalLit, expected):
        value, problem = temporal_value(e.kind, e.parts)
        if problem is not None:
            self.err("E0322", problem, e.span)
            value = {"date": "1970-01-01", "time": "00:00", "timespan": 0.0,
                     "datetime": "1970-01-01T00:00:00.000+00:00"}[e.kind]
        e.value = value
        return {"date": T.DATE, "time": T.TIME, "timespan": T.TIMESPAN, "datetime": T.DATETIME}[e.kind]

    # ------------------------------------------------------------ names

    def visible_names(self) -> list[str]:
        names = list(self.scope.names())
        for r in self.rows:
            names += list(self.fields_of(r) or {})
            if r.name in self.info.records:
                names += list(self.info.records[r.name].formulas)
        if self.rules.record is not None:
            names += list(self.rules.record.fields) + list(self.rules.record.formulas)
        if self.rules.reads_doc:
            names += list(self.info.fields) + list(self.info.formulas) + list(self.info.channels)
        return names

    def x_Name(self, e: ast.Name, expected):
        name = e.id
        var = self.scope.lookup(name)
        if var is not None:
            e.ref = Ref("local", name, var)
            return var.type
        for row in reversed(self.rows):
            s = self.info.struct(row.name)  # a record's row, or a message's (a native table's items)
            if s is not None and name in s.fields:
                e.ref = Ref("record_field", name, s.fields[name], s.name)
                return s.fields[name].type
            if s is not None and name in s.formulas:
                e.ref = Ref("formula", name, s.formulas[name], s.name)
                return self.formula_type(s.formulas[name])
        rec = self.rules.record
        if rec is not None:
            if name in rec.fields:
                e.ref = Ref("record_field", name, rec.fields[name], rec.name)
                if self.reads is not None:
                    self.reads.add(name)
                return rec.fields[name].type
            if name in rec.formulas:
                e.ref = Ref("formula", name, rec.formulas[name], rec.name)
                if self.reads is not None:
                    self.reads.add(name)
                return self.formula_type(rec.formulas[name])
        info = self.info
        if name in info.channels:
            return self.err("E0315", f"channel '{name}' is not a value", e.span,
                            f"use it through {name}.fetch(...), {name}.decide(...) or {name}.choose(...)")
        target = info.fields.get(name) or info.formulas.get(name)
        if target is not None:
            return self.doc_name(e, target)
        if name in info.functions or (rec is not None and name in rec.methods):
            return self.err("E0303", f"'{name}' is a function; call it with {name}(...)", e.span)
        if name in L.NAMESPACES:
            e.ref = Ref("library", name)
            return T.LibraryType(name)
        if self.is_unsupported(name):
            return T.ERROR  # already reported as not supported yet
        if name in info.enums:
            vals = list(info.enums[name].values)
            example = f"{name}::{vals[0]}" if vals else f"{name}::Value"
            return self.err("E0201", f"'{name}' is an enum, not a value", e.span, f"name a value like {example}")
        if name in ("who", "no_one", "context"):
            return self.err("E0201", f"unknown name '{name}'", e.span, f"did you mean '@{name}'?")
        return self.err("E0201", f"unknown name '{name}'", e.span, did_you_mean(name, self.visible_names()))

    def doc_name(self, e: ast.Name, target) -> T.Type:
        name = e.id
        if not self.rules.reads_doc:
            hint = ("functions are pure: pass the value as a parameter, or use a procedure"
                    if self.rules.pure else "this code runs without a document")
            self.err("E0318", f"{self.rules.what} cannot read document {self.kind_of(target)} '{name}'",
                     e.span, hint)
        if self.doc_reads is not None:
            self.doc_reads.add(name)
        if isinstance(target, FieldInfo):
            e.ref = Ref("field", name, target)
            return target.type
        e.ref = Ref("bubble" if target.bubble else "formula", name, target)
        if target.bubble and not self.rules.who:
            self.err("E0213", f"bubble '{name}' depends on the viewer and cannot be read in {self.rules.what}",
                     e.span, "bubbles are computed per viewer; read them only from other bubbles")
        return self.formula_type(target)

    def is_unsupported(self, name: str) -> bool:
        return any(u.name == name for u in self.info.unsupported)

    @staticmethod
    def kind_of(target) -> str:
        if isinstance(target, FormulaInfo):
            return "bubble" if target.bubble else "formula"
        return "field"

    def x_Special(self, e: ast.Special, expected):
        if e.name == "no_one":
            return T.PRINCIPAL
        if e.name == "who":
            if not self.rules.who:
                return self.err("E0213", f"@who is not available in {self.rules.what}", e.span,
                                "@who exists where a person acts: channels, @construct, @connected, "
                                "@disconnected, @delete, policies, bubbles, static policies; "
                                "pass the principal as a parameter")
            return T.PRINCIPAL
        if e.name == "context":
            if not self.rules.context:
                return self.err("E0213", f"@context is not available in {self.rules.what}", e.span,
                                "@context exists only in @static policies, @connected, @disconnected and channels")
            return T.CONTEXT
        if e.name == "viewer":
            if not self.rules.viewer:
                where = self.rules.what + (f" of record {self.rules.record.name}" if self.rules.record else "")
                return self.err("E0213", f"@viewer is only available in bubbles and filters, not in {where}",
                                e.span, "the viewer's own state differs per viewer: read it in a bubble or a `filter`")
            if VIEWER_MESSAGE not in self.info.messages:
                return self.err("E0201", "@viewer has no fields: the document declares no viewer state", e.span,
                                "declare the viewer's state with `view T name;` at the document level")
            return T.MessageType(VIEWER_MESSAGE)
        if e.name == "self":
            rec = self.rules.record
            if rec is None:
                return self.err("E0213", f"@self is not available in {self.rules.what}", e.span,
                                "@self is the record (or message) whose method, policy or formula runs")
            e.owner = rec.name
            return T.MessageType(rec.name) if rec.kind == "message" else T.RecordType(rec.name)
        if e.name == "i":  # the imaginary unit (language.md 3.12)
            return T.COMPLEX
        if e.name == "null":  # Adama's @null: the dynamic JSON null (language.md 3.1)
            return T.DYNAMIC
        if e.name in ("parameters", "headers"):  # the request of a @web handler (language.md 4.28)
            if not self.rules.web:
                return self.err("E0213", f"@{e.name} is not available in {self.rules.what}", e.span,
                                f"@{e.name} is the HTTP request's, in @web handlers only")
            return T.DYNAMIC if e.name == "parameters" else T.MapType(T.STRING, T.STRING)
        return self.err("E0201", f"unknown value '@{e.name}'", e.span,
                        did_you_mean(e.name, ["who", "no_one", "context", "self", "i", "parameters",
                                              "headers", "null"]))

    def x_StateLabel(self, e: ast.StateLabel, expected):
        if e.name not in self.info.states:
            self.err("E0206", f"unknown state '#{e.name}'", e.span, self.state_hint(e.name))
        return T.LABEL

    def state_hint(self, name: str) -> str:
        found = did_you_mean(name, self.info.states)
        if found:
            return found.replace("'", "'#", 1) if found.count("'") == 2 else found
        return f"declare it with `#{name} {{ ... }}`"

    def x_EnumValue(self, e: ast.EnumValue, expected):
        en = self.info.enums.get(e.enum)
        if en is None:
            return self.err("E0202", f"unknown enum '{e.enum}'", e.span,
                            did_you_mean(e.enum, self.info.enums))
        if e.value == "*":
            return T.ArrayType(T.EnumType(e.enum))
        if e.value not in en.values:
            self.err("E0207", f"enum '{e.enum}' has no value '{e.value}'", e.span,
                     did_you_mean(e.value, en.values) or f"values: {', '.join(en.values)}")
        return T.EnumType(e.enum)

    # ------------------------------------------------------------ operators

    def x_Unary(self, e: ast.Unary, expected):
        if e.op == "-" and isinstance(e.operand, ast.IntLit) and not e.operand.is_long:
            # -2147483648 is an int even though 2147483648 alone is not.
            if e.operand.value > INT_MAX + 1:
                e.operand.ty = T.ERROR
                return self.err("E0322", f"-{e.operand.value} does not fit in an int", e.span,
                                "add an L suffix to make it a long")
            e.operand.ty = T.INT
            return T.INT
        if e.op in ("++pre", "--pre", "++post", "--post"):
            t = self.lvalue(e.operand, "increment" if e.op.startswith("++") else "decrement")
            if not T.is_error(t) and not T.is_numeric(t):
                return self.err("E0302", f"cannot {e.op[:2]} a value of type {t}", e.span)
            return t
        t = self.expr(e.operand)
        if T.is_error(t):
            return T.ERROR
        if e.op == "-":
            if T.is_numeric(t) or t == T.COMPLEX or linalg_dim(t):
                return t
            return self.err("E0302", f"cannot negate a value of type {t}", e.span, self.maybe_hint(t))
        if e.op == "!":
            if t == T.BOOL:
                return T.BOOL
            return self.err("E0302", f"'!' needs a bool, found {t}", e.span)
        return self.err("E0302", f"unknown operator '{e.op}'", e.span)

    def x_Binary(self, e: ast.Binary, expected):
        op = e.op
        lt = self.expr(e.left)
        rt = self.expr(e.right)
        if op in LOGIC:
            for side, t in ((e.left, lt), (e.right, rt)):
                if not T.is_error(t) and t != T.BOOL:
                    self.err("E0302", f"'{op}' needs bool operands, found {t}", side.span)
            return T.BOOL
        if op in EQUALITY:
            if not T.comparable(lt, rt):
                self.err("E0302", f"cannot compare {lt} with {rt}", e.span)
            return T.BOOL
        if T.is_error(lt) or T.is_error(rt):
            return T.BOOL if op in COMPARE else T.ERROR
        if op in COMPARE:
            if (T.is_numeric(lt) and T.is_numeric(rt)) or (lt == rt and T.is_orderable(lt)):
                return T.BOOL
            return self.err("E0302", f"cannot order {lt} against {rt} with '{op}'", e.span,
                            self.maybe_hint(lt) or self.maybe_hint(rt))
        if op == "+" and (lt == T.STRING or rt == T.STRING):
            for side, t in ((e.left, lt), (e.right, rt)):
                if not self.has_text(t):
                    self.err("E0302", f"a {t} has no text form to concatenate", side.span, self.maybe_hint(t))
            return T.STRING
        if op == "+" and lt == T.TIMESPAN and rt == T.TIMESPAN:
            return T.TIMESPAN
        # Adama's operator table beyond plain numbers (language.md 5.2):
        if op in ("+", "-", "*", "/") and T.COMPLEX in (lt, rt) and \
                all(t == T.COMPLEX or T.is_numeric(t) for t in (lt, rt)):
            e.special = "complex"  # complex arithmetic (3.12); a quotient is a maybe, empty for 0
            return T.MaybeType(T.COMPLEX) if op == "/" else T.COMPLEX
        lin = linalg_result(op, lt, rt)
        if lin is not None:
            e.special = "linalg"  # vectors and matrices (3.12.1)
            return lin
        md = T.MaybeType(T.DOUBLE)
        if op in ("+", "-", "*", "/") and md in (lt, rt) and all(t == md or T.is_numeric(t) for t in (lt, rt)):
            e.special = "lift"  # arithmetic with a maybe<double> gives a maybe<double>
            return md
        if op == "*" and {lt, rt} == {T.STRING, T.INT}:
            e.special = "repeat"  # a string repeated
            return T.STRING
        if op == "*" and T.TIMESPAN in (lt, rt) and (lt in (T.INT, T.DOUBLE) or rt in (T.INT, T.DOUBLE)):
            e.special = "scale"  # a timespan scaled
            return T.TIMESPAN
        if op in ("+", "-", "*", "/", "%") and T.is_numeric(lt) and T.is_numeric(rt):
            if op == "/":
                return T.MaybeType(T.DOUBLE)
            if op == "%":
                if lt == T.DOUBLE or rt == T.DOUBLE:
                    return self.err("E0302", "'%' works on int and long, not double", e.span,
                                    "convert with Math.toInt(...) or Math.toLong(...) first")
                return T.MaybeType(T.wider(lt, rt))
            return T.wider(lt, rt)
        return self.err("E0302", f"operator '{op}' cannot be applied to {lt} and {rt}", e.span,
                        self.operator_hint(op, lt, rt))

    @staticmethod
    def has_text(t: T.Type) -> bool:
        return T.is_error(t) or isinstance(t, (T.Prim, T.EnumType)) and t != T.CONTEXT

    @staticmethod
    def maybe_hint(t: T.Type) -> str | None:
        if isinstance(t, T.MaybeType):
            return "operators do not see inside a maybe: unwrap it with `if (value as x) { ... }`"
        return None

    def operator_hint(self, op, lt, rt) -> str | None:
        hint = self.maybe_hint(lt) or self.maybe_hint(rt)
        if hint:
            return hint
        if T.is_numeric(lt) != T.is_numeric(rt):
            return "both sides must be numbers (int, long, double)"
        return None

    def x_Ternary(self, e: ast.Ternary, expected):
        ct = self.expr(e.cond)
        if not T.is_error(ct) and ct != T.BOOL:
            self.err("E0311", f"the condition of '?:' must be a bool, found {ct}", e.cond.span)
        a = self.expr(e.then, expected)
        b = self.expr(e.otherwise, expected)
        u = T.unify(a, b, self.fields_of)
        if u is None:
            return self.err("E0301", f"the branches of '?:' differ: {a} and {b}", e.span)
        return u

    # ------------------------------------------------------------ members

    def x_FieldAccess(self, e: ast.FieldAccess, expected):
        obj = self.expr(e.obj)
        span = e.name_span if e.name_span.end > e.name_span.start else e.span
        if T.is_error(obj):
            return T.ERROR
        return self.member(obj, e.name, span, e)

    def member(self, obj: T.Type, name: str, span, e=None) -> T.Type:
        if isinstance(obj, T.LibraryType):
            c = L.constant(obj.name, name)
            if c is not None and e is not None:
                e.constant = c[1]
                return c[0]
            if L.namespace_functions(obj.name, name):
                return self.err("E0303", f"{obj.name}.{name} is a function; call it with {obj.name}.{name}(...)",
                                span)
            return self.err("E0205", f"{obj.name} has no function '{name}'", span,
                            did_you_mean(name, L.namespace_names(obj.name)))
        if isinstance(obj, T.PairType):
            if name in ("key", "value"):
                return obj.key if name == "key" else obj.value
            return self.err("E0203", f"{obj} has no field '{name}'", span, "a map entry has key and value")
        if obj == T.COMPLEX:
            return self.err("E0308", f"a complex number has no fields (reading '{name}')", span,
                            "complex numbers are used whole: with + - * / and ==")
        if isinstance(obj, T.AnonType):  # an object with no declared type, e.g. a tuple `(1, "a")`
            for fname, ft in obj.fields:
                if fname == name:
                    return ft
            return self.err("E0203", f"{obj} has no field '{name}'", span,
                            did_you_mean(name, [f for f, _ in obj.fields]))
        if isinstance(obj, (T.RecordType, T.MessageType)):
            s = self.info.struct(obj.name)
            if s is None:
                return T.ERROR
            if name in s.fields:
                return s.fields[name].type
            if name in s.formulas:
                return self.formula_type(s.formulas[name])
            if name in s.methods:
                return self.err("E0303", f"'{name}' is a method of {obj}; call it with .{name}(...)", span)
            return self.err("E0203", f"{s.kind} '{obj}' has no field '{name}'", span,
                            did_you_mean(name, list(s.fields) + list(s.formulas)))
        if T.is_sequence(obj):
            el = T.element_of(obj)
            if T.is_error(el):
                return T.ERROR
            if isinstance(el, (T.RecordType, T.MessageType)):
                ft = self.member(el, name, span)
                return T.ERROR if T.is_error(ft) else T.ListType(ft)
        if obj in T.BUILTIN_FIELDS:
            fields = T.BUILTIN_FIELDS[obj]
            if name in fields:
                return fields[name]
            return self.err("E0203", f"{obj} has no field '{name}'", span, did_you_mean(name, fields))
        if isinstance(obj, T.MaybeType) and T.is_struct(obj.inner):
            return self.err("E0308", f"cannot read '{name}' of {a(obj)}", span,
                            "unwrap it first: `if (value as x) { ... x." + name + " ... }`")
        if isinstance(obj, T.TableType):
            return self.err("E0308", f"a table has no field '{name}'", span,
                            f"read rows with `iterate`, e.g. (iterate t).{name}")
        return self.err("E0308", f"{obj} has no fields (reading '{name}')", span)

    def x_Index(self, e: ast.Index, expected):
        obj = self.expr(e.obj)
        if T.is_error(obj):
            self.expr(e.index)
            return T.ERROR
        if T.is_sequence(obj):
            it = self.expr(e.index, T.INT)
            if not T.is_error(it) and it != T.INT:
                self.err("E0316", f"a list index must be an int, found {it}", e.index.span)
            return T.MaybeType(T.element_of(obj))
        if e.index2 is not None:  # a grid's cell (language.md 3.6.1)
            if not (isinstance(obj, T.MapType) and isinstance(obj.value, T.MapType)):
                self.expr(e.index)
                self.expr(e.index2)
                return self.err("E0306", f"cannot index a value of type {obj} by two keys", e.span,
                                "g[x, y] reads a cell of a grid<K, V> (or a map of maps)")
            for key, m in ((e.index, obj), (e.index2, obj.value)):
                kt = self.expr(key, m.key)
                if not self.assignable(kt, m.key):
                    self.err("E0316", f"this grid is keyed by {m.key}, found {kt}", key.span)
            return T.MaybeType(obj.value.value)
        if isinstance(obj, T.MapType):
            kt = self.expr(e.index, obj.key)
            if not self.assignable(kt, obj.key):
                self.err("E0316", f"this map is keyed by {obj.key}, found {kt}", e.index.span)
            return T.MaybeType(obj.value)
        self.expr(e.index)
        return self.err("E0306", f"cannot index a value of type {obj}", e.span,
                        "only lists, arrays and maps can be indexed")

    # ------------------------------------------------------------ calls

    def x_Call(self, e: ast.Call, expected):
        f = e.func
        if isinstance(f, ast.Name):
            return self.call_name(e, f)
        if isinstance(f, ast.FieldAccess):
            span = f.name_span if f.name_span.end > f.name_span.start else f.span
            f.ty = T.ERROR
            obj = f.obj
            if isinstance(obj, ast.Name) and self.shadowing(obj.id) is None:
                if obj.id in L.NAMESPACES:
                    obj.ref = Ref("library", obj.id)
                    obj.ty = T.LibraryType(obj.id)
                    return self.call_library(e, obj.id, f.name, span)
                if obj.id in self.info.services:
                    return self.service_call(e, obj, f.name, span)
                if self.is_unsupported(obj.id):
                    # A call into a declaration that is not supported yet (a
                    # service): its arguments use constructs of that feature too.
                    obj.ty = T.ERROR
                    return T.ERROR
                if obj.id in self.info.channels:
                    ch = self.info.channels[obj.id]
                    obj.ref = Ref("channel", obj.id, ch)
                    obj.ty = T.ChannelType(ch.message, ch.complete)
                    return self.channel_op(e, ch, f.name, span)
                if f.name in CHANNEL_OPS and self.unknown_name(obj.id):
                    obj.ty = T.ERROR
                    self.args_only(e)
                    return self.err("E0208", f"unknown channel '{obj.id}'", obj.span,
                                    did_you_mean(obj.id, self.info.channels)
                                    or f"declare it with `channel<M> {obj.id};`")
            recv = self.expr(obj)
            if T.is_error(recv):
                self.args_only(e)
                return T.ERROR
            if f.name == "write" and self.holder(obj):
                # Adama's holder<M>.write(): the held message, to change in place (language.md 3.9.1)
                e.ref = Ref("holder_write", "write")
                self.check_args(e, [], "a holder's write()")
                return recv
            return self.call_method(e, recv, f.name, span)
        self.expr(f)
        self.args_only(e)
        return self.err("E0303", "this expression cannot be called", f.span)

    def holder(self, e: ast.Expr) -> bool:
        """Whether `e` names a field declared `holder<M>` (Adama's reactive holder)."""
        f, ref = None, getattr(e, "ref", None)
        if isinstance(e, ast.Name) and ref is not None and ref.kind in ("field", "record_field"):
            f = ref.target
        elif isinstance(e, ast.FieldAccess) and isinstance(e.obj.ty, T.RecordType):
            s = self.info.struct(e.obj.ty.name)
            f = s.fields.get(e.name) if s is not None else None
        ts = getattr(getattr(f, "decl", None), "type", None)
        return isinstance(ts, ast.TypeRef) and ts.name == "holder"

    def shadowing(self, name: str):
        """A local or document name that hides a library namespace or channel."""
        return self.scope.lookup(name) or self.info.fields.get(name) or self.info.formulas.get(name) or (
            self.rules.record is not None and (name in self.rules.record.fields)
        ) or any(name in (self.fields_of(r) or {}) for r in self.rows) or None

    def unknown_name(self, name: str) -> bool:
        return (name not in self.info.functions and name not in self.info.enums
                and name not in self.info.channels and not self.is_unsupported(name))

    def args_only(self, e: ast.Call) -> None:
        for a in e.args:
            self.expr(a)

    def call_name(self, e: ast.Call, f: ast.Name) -> T.Type:
        name = f.id
        rec = self.rules.record
        f.ty = T.ERROR
        if self.shadowing(name) is not None or name in self.info.channels:
            self.expr(f)
            self.args_only(e)
            return self.err("E0303", f"'{name}' is not a function", f.span)
        fn = None
        if rec is not None and name in rec.methods:
            fn = rec.methods[name]
        elif name in self.info.overloads:
            fn = self.pick_function(e, f, name)
            if fn is None:
                return T.ERROR
            f.ref = Ref(fn.kind, name, fn, fn.owner)
            e.ref = f.ref
            self.check_effects_of_call(fn, f.span)
            return fn.returns
        elif name in self.info.functions:
            fn = self.info.functions[name]
        if fn is None:
            self.args_only(e)
            cands = list(self.info.functions) + (list(rec.methods) if rec else [])
            hint = did_you_mean(name, cands)
            if hint is None and L.namespace_functions("Math", name):
                hint = f"use Math.{name}(...)"
            return self.err("E0205", f"unknown function '{name}'", f.span, hint)
        f.ref = Ref(fn.kind, name, fn, fn.owner)
        e.ref = f.ref
        self.check_effects_of_call(fn, f.span)
        self.check_args(e, [t for _, t in fn.params], f"{fn.kind} '{name}'")
        return fn.returns

    def pick_function(self, e: ast.Call, f: ast.Name, name: str):
        """The overload of `name` the arguments fit: exactly, else with widening."""
        group = [self.info.functions[name]] + self.info.overloads[name]
        got = [self.expr(a) for a in e.args]
        for exact in (True, False):
            for fn in group:
                params = [t for _, t in fn.params]
                if len(params) != len(got):
                    continue
                if all((g == p or T.is_error(g)) if exact else self.assignable(g, p) for g, p in zip(got, params)):
                    return fn
        shapes = " or ".join("(" + ", ".join(str(t) for _, t in fn.params) + ")" for fn in group)
        self.err("E0301", f"no {group[0].kind} '{name}' takes ({', '.join(str(g) for g in got)}); "
                 f"there are {shapes}", e.span)
        return None

    def check_effects_of_call(self, fn: FuncInfo, span) -> None:
        r = self.rules
        if fn.kind == "function" or (fn.kind == "method" and fn.owner in self.info.messages):
            return  # message methods are pure, like functions
        what = f"{fn.kind} '{fn.name}'"
        if r.tool is not None and not fn.readonly:  # an agent's tool (language.md 4.31)
            self.tool_write(f"what {what} may change", span, None)
            return
        if r.pure or not r.reads_doc:
            self.err("E0318", f"{r.what} cannot call {what}", span,
                     "functions are pure and may only call functions" if r.pure else None)
            return
        if not r.writes_doc and not fn.readonly:
            self.err("E0317", f"{r.what} only reads the document and cannot call {what}, which may change it",
                     span, f"declare {what} `readonly` if it only reads")
            return
        if fn.aborts and not r.abort:
            self.err("E0407", f"{r.what} cannot call {what}, which may abort", span,
                     r.hint_abort or "abort is allowed in channels, state blocks, @construct, @cron "
                     "and `aborts` procedures")
        if not (r.transition and r.destroy):
            # whether fn may transition or destroy is known once every body is checked
            self.calls_to_check.append((fn, span, r.what, r.transition, r.destroy))

    def check_calls_effects(self) -> None:
        """The calls of procedures and methods that may transition or destroy the
        document, from bodies that may not (effects.py follows what they call)."""
        for fn, span, what, transition, destroy in self.calls_to_check:
            effects = of_function(fn)
            if effects.transition and not transition:
                self.err("E0409", f"{what} cannot call {fn.kind} '{fn.name}', which may transition", span)
            if effects.destroy and not destroy:
                self.err("E0412", f"{what} cannot call {fn.kind} '{fn.name}', which may destroy the document", span)

    def check_args(self, e: ast.Call, params: list[T.Type], what: str) -> None:
        if len(e.args) != len(params):
            self.err("E0304", f"{what} takes {len(params)} argument(s), got {len(e.args)}", e.span)
            self.args_only(e)
            return
        for a, p in zip(e.args, params):
            got = self.expr(a, p)
            if not self.assignable(got, p):
                self.err("E0301", f"argument of {what} expects {p}, found {got}", a.span,
                         self.conversion_hint(got, p))

    def pick_overload(self, e: ast.Call, rows, what: str, lift: bool = False):
        """The first row whose parameters take the arguments exactly, else the
        first that takes them with widening; with `lift`, else the first that
        takes them when maybes are lifted (Adama's maybe overloads of the library)."""
        arity = [(r, b) for r, b in rows if len(r.params) == len(e.args)]
        if not arity:
            counts = sorted({len(r.params) for r, _ in rows})
            self.args_only(e)
            self.err("E0304", f"{what} takes {' or '.join(map(str, counts))} argument(s), got {len(e.args)}",
                     e.span)
            return None
        if len(arity) == 1:
            r, b = arity[0]
            params = [L.parse_type(p, b) for p in r.params]
            got = [self.expr(a, p) for a, p in zip(e.args, params)]
            if all(self.assignable(g, p) for g, p in zip(got, params)):
                return r, b
            if lift and self.lift_args(e, r, got, params):
                return r, b
            for a, g, p in zip(e.args, got, params):
                if not self.assignable(g, p):
                    self.err("E0301", f"argument of {what} expects {p}, found {g}", a.span,
                             self.conversion_hint(g, p))
            return r, b
        arg_types = [self.expr(a) for a in e.args]
        for exact in (True, False):
            for r, b in arity:
                params = [L.parse_type(p, b) for p in r.params]
                ok = all(
                    (a == p or T.is_error(a)) if exact else self.assignable(a, p)
                    for a, p in zip(arg_types, params)
                )
                if ok:
                    return r, b
        if lift:
            for r, b in arity:
                if self.lift_args(e, r, arg_types, [L.parse_type(p, b) for p in r.params]):
                    return r, b
        shapes = " or ".join(f"({', '.join(r.params)})" for r, _ in arity)
        got = ", ".join(str(t) for t in arg_types)
        self.err("E0301", f"{what} takes {shapes}, found ({got})", e.span)
        return None

    def lift_args(self, e: ast.Call, row, got: list, params: list, recv_lifted: bool = False) -> bool:
        """Do the arguments fit `row` when a `maybe<P>` may stand for a `P`? Marks
        the call (`e.lift`: the lifted positions) when they do."""
        if row.effect != "pure" or row.result == "void" or row.key in L.INLINE_KEYS:
            return False
        lifted = []
        for i, (g, p) in enumerate(zip(got, params)):
            if self.assignable(g, p):
                continue
            if isinstance(g, T.MaybeType) and not isinstance(p, T.MaybeType) and self.assignable(g.inner, p):
                lifted.append(i)
                continue
            return False
        if not lifted and not recv_lifted:
            return False
        e.lift = tuple(lifted)
        return True

    def call_library(self, e: ast.Call, ns: str, name: str, span) -> T.Type:
        rows = L.namespace_functions(ns, name)
        if not rows:
            self.args_only(e)
            return self.err("E0205", f"{ns} has no function '{name}'", span,
                            did_you_mean(name, L.namespace_names(ns)))
        picked = self.pick_overload(e, [(r, {}) for r in rows], f"{ns}.{name}", lift=True)
        if picked is None:
            return T.ERROR
        entry, b = picked
        e.ref = entry
        self.check_effect(entry.effect, f"{ns}.{name}", span)
        return lifted_result(e, L.parse_type(entry.result, b))

    def check_effect(self, effect: str, what: str, span, root=None) -> None:
        r = self.rules
        if effect == "pure":
            return
        if effect == "writes" and r.tool is not None:  # an agent's tool (language.md 4.31)
            self.tool_write(f"what {what} changes", span, root)
            return
        if effect == "await":
            if not r.await_:
                self.err("E0408", f".await() is not allowed in {r.what}", span,
                         "futures can be awaited only in #state blocks")
            return
        if effect == "destroy":
            if not r.destroy:
                self.err("E0412", f"{r.what} cannot destroy the document", span)
            return
        if effect == "viewstate":
            if r.pure or not r.who or not r.writes_doc:
                self.err("E0318", f"{r.what} cannot call {what}: it tells the connection that sent the "
                         "running message", span,
                         "call it in a channel, or in a handler, procedure or method with a sender")
            return
        if effect == "time" and r.pure and r.what.startswith("function"):
            return  # as in Adama, a function reads the clock: the input's time (language.md 4.12)
        if r.pure:
            self.err("E0318", f"{r.what} cannot call {what}", span,
                     "functions are pure; pass the value in as a parameter")
        elif effect in ("time", "document") and not r.reads_doc:
            self.err("E0318", f"{r.what} cannot call {what}", span, "this code runs without a document")
        elif effect == "random" and not r.random:
            self.err("E0318", f"{r.what} cannot call {what}: it advances the document's random stream", span,
                     "draw random numbers in a procedure, channel or state block")
        elif effect == "writes" and not r.writes_doc:
            if not r.reads_doc:
                self.err("E0318", f"{r.what} cannot call {what}, which changes the document", span)
            else:
                self.err("E0317", f"{r.what} only reads the document and cannot call {what}, which changes it",
                         span)

    def text_append(self, e: ast.Call, span, name: str = "append") -> T.Type:
        """`t.append(seq, changes)` and `t.compact(ratio)` on a text field (3.13.1): the field is
        written."""
        before = len(self.diags)
        self.lvalue(e.func.obj, "append to")  # reads the receiver again: one diagnostic per mistake
        seen = {(d.code, d.message, d.span) for d in self.diags[:before]}
        self.diags[before:] = [d for d in self.diags[before:] if (d.code, d.message, d.span) not in seen]
        if len(self.diags) == before:  # a body that may not write was told so by lvalue()
            self.check_effect("writes", f"text.{name}", span)
        if name == "compact":
            self.check_args(e, [T.DOUBLE], "text.compact")
            e.ref = Ref("text_append", "compact", None)
            return T.VOID
        self.check_args(e, [T.INT, T.DYNAMIC], "text.append")
        e.ref = Ref("text_append", "append", None)
        return T.BOOL

    def call_method(self, e: ast.Call, recv: T.Type, name: str, span) -> T.Type:
        if recv == T.TEXT and name in ("append", "compact") and isinstance(e.func, ast.FieldAccess):
            return self.text_append(e, span, name)
        if isinstance(recv, (T.RecordType, T.MessageType)):
            s = self.info.struct(recv.name)
            if s is not None and name in s.methods:
                fn = s.methods[name]
                e.ref = Ref("method", name, fn, s.name)
                self.check_effects_of_call(fn, span)
                self.check_args(e, [t for _, t in fn.params], f"method '{name}'")
                return fn.returns
        if isinstance(recv, T.LibraryType):
            return self.call_library(e, recv.name, name, span)
        each = self.method_each(e, recv, name, span)
        if each is not None:
            return each
        en = self.info.enums.get(recv.name) if isinstance(recv, T.EnumType) else None
        if en is not None and name in en.dispatchers:
            first = en.dispatchers[name][0][1]
            e.ref = Ref("dispatch", name, en)
            self.check_args(e, [t for _, t in first.params], f"{recv}.{name}")
            return first.returns
        if isinstance(recv, T.EnumType) and name in ENUM_METHODS:
            en = self.info.enums.get(recv.name)
            e.ref = Ref("enum_method", name, en)
            self.check_args(e, [], f".{name}()")
            return ENUM_METHODS[name] or recv
        rows = L.methods_of(recv, name)
        if not rows and isinstance(recv, T.MaybeType) and not T.is_error(recv.inner):
            # Adama's maybe overloads: `x.roundTo(2)` on a maybe<double> is a maybe.
            inner_rows = [(r, b) for r, b in L.methods_of(recv.inner, name)
                          if r.effect == "pure" and r.result != "void" and r.key not in L.INLINE_KEYS]
            if inner_rows:
                picked = self.pick_overload(e, inner_rows, f".{name}()", lift=True)
                if picked is None:
                    return T.ERROR
                entry, b = picked
                e.ref = entry
                e.lift_recv = True
                return lifted_result(e, L.parse_type(entry.result, b))
        if not rows:
            self.args_only(e)
            if name == "await":
                return self.err("E0314", f".await() needs a future, found {recv}", span)
            if name in CHANNEL_OPS:
                return self.err("E0315", f".{name}() needs a channel, found {recv}", span)
            names = L.method_names(recv)
            if isinstance(recv, T.EnumType):
                names += list(ENUM_METHODS)
            if isinstance(recv, (T.RecordType, T.MessageType)) and self.info.struct(recv.name) is not None:
                names += list(self.info.struct(recv.name).methods)
            hint = did_you_mean(name, names)
            for alias in SAME_MEANING.get(name, ()):
                if hint is None and alias in names:
                    hint = f"use .{alias}()"
            if hint is None and isinstance(recv, T.MaybeType):
                hint = "unwrap the maybe first: `if (value as x) { ... }`"
            return self.err("E0209", f"{recv} has no method '{name}'", span, hint)
        satisfied = [(r, b) for r, b in rows if L.constraint_holds(r, b)]
        if not satisfied:
            self.args_only(e)
            r, _ = rows[0]
            if r.constraint[1] == "numeric":
                return self.err("E0319", f".{name}() needs a list of numbers, found {recv}", span,
                                f"project a numeric field first, e.g. (iterate t).score.{name}()")
            return self.err("E0209", f".{name}() needs a list of table rows, found {recv}", span)
        picked = self.pick_overload(e, satisfied, f".{name}()", lift=True)
        if picked is None:
            return T.ERROR
        entry, b = picked
        e.ref = entry
        self.check_effect(entry.effect, f".{name}()", span, self.root_ref(getattr(e.func, "obj", None)))
        return lifted_result(e, L.parse_type(entry.result, b))

    def method_each(self, e: ast.Call, recv: T.Type, name: str, span) -> T.Type | None:
        """`(iterate t where ...).m(args)`: a record method that returns nothing,
        called on every row of the list, its arguments evaluated for each row
        (spec/language.md 5.19). None when `recv` is not such a list."""
        if not T.is_sequence(recv):
            return None
        el = T.element_of(recv)
        s = self.info.struct(el.name) if isinstance(el, T.RecordType) else None
        if s is None or name not in s.methods:
            return None
        fn = s.methods[name]
        if fn.returns != T.VOID:
            self.args_only(e)
            return self.err("E0209", f"method '{name}' returns {fn.returns}: only a method that returns "
                                     f"nothing is called on every row of {recv}", span,
                            f"use foreach (r in ...) {{ r.{name}(...); }}")
        e.ref = Ref("method_each", name, fn, s.name)
        self.check_effects_of_call(fn, span)
        self.check_args(e, [t for _, t in fn.params], f"method '{name}'")
        return T.VOID

    def service_call(self, e: ast.Call, obj: ast.Name, name: str, span) -> T.Type:
        """`svc.m(@who, msg)` or `svc.m(@no_cache, msg)`: a result<Out>
        (spec/language.md 4.27). Code that may change the document makes the
        call (it is sent once the transaction commits); a document formula
        asks for it, and re-evaluates when its result arrives."""
        svc = self.info.services[obj.id]
        obj.ref = Ref("service", svc.name, svc)
        obj.ty = T.ERROR
        m = svc.methods.get(name)
        if m is None:
            self.service_args_only(e)
            return self.err("E0330", f"service '{svc.name}' has no method '{name}'", span,
                            did_you_mean(name, svc.methods))
        r = self.rules
        if svc.space:
            return self.space_call(e, svc, m, span)
        in_formula = not r.writes_doc and r.what.startswith("formula") and r.record is None
        if not r.writes_doc and not in_formula:
            self.service_args_only(e)
            return self.err("E0330", f"{r.what} cannot call service '{svc.name}'", span,
                            "call services from code that may change the document (channels, states, "
                            "procedures, @construct, @cron) or from a document formula")
        if len(e.args) != 2:
            self.service_args_only(e)
            return self.err("E0304", f"{svc.name}.{name} takes 2 argument(s) (a principal or @no_cache, "
                                     f"and a {m.input}), got {len(e.args)}", e.span)
        first, msg = e.args
        no_cache = isinstance(first, ast.Special) and first.name == "no_cache"
        if no_cache:
            first.ty = T.PRINCIPAL
        else:
            got = self.expr(first, T.PRINCIPAL)
            if not self.assignable(got, T.PRINCIPAL):
                self.err("E0301", f"the first argument of {svc.name}.{name} is who calls (a principal, "
                                  f"or @no_cache), found {got}", first.span)
        got = self.expr(msg, m.input)
        if not self.assignable(got, m.input):
            self.err("E0301", f"argument of {svc.name}.{name} expects {m.input}, found {got}", msg.span,
                     self.conversion_hint(got, m.input))
        e.ref = Ref("service_call", name, (svc, m), ",".join(
            f for f, on in (("no_cache", no_cache), ("formula", in_formula)) if on))
        return T.ERROR if T.is_error(m.output) else T.ResultType(m.output)

    def space_call(self, e: ast.Call, svc, m, span) -> T.Type:
        """`space.create(key, arg)` or `space.channel(key, msg)` (language.md
        4.32): a result<SpaceReply>, from code that may change the document."""
        r = self.rules
        if not r.writes_doc:
            self.service_args_only(e)
            return self.err("E0330", f"{r.what} cannot create or send to documents of '{svc.name}'", span,
                            "do it from code that may change the document (channels, states, procedures, "
                            "@construct, @cron)")
        want = 1 if m.input is None else 2
        if len(e.args) != want:
            self.service_args_only(e)
            what = "a key" if m.input is None else f"a key and a {m.input}"
            return self.err("E0304", f"{svc.name}.{m.name} takes {want} argument(s) ({what}), "
                                     f"got {len(e.args)}", e.span)
        got = self.expr(e.args[0], T.STRING)
        if not self.assignable(got, T.STRING):
            self.err("E0301", f"the first argument of {svc.name}.{m.name} is the document's key (a string), "
                              f"found {got}", e.args[0].span)
        if m.input is not None:
            got = self.expr(e.args[1], m.input)
            if not self.assignable(got, m.input):
                what = "@construct" if m.name == "create" else f"channel '{m.name}'"
                self.err("E0301", f"{svc.name}.{m.name}: {what} of program '{svc.name}' takes {m.input}, "
                                  f"found {got}", e.args[1].span, self.conversion_hint(got, m.input))
        svc.used.add(m.name)
        e.ref = Ref("service_call", m.name, (svc, m), "space")
        return T.ResultType(m.output)

    def service_args_only(self, e: ast.Call) -> None:
        for a in e.args:
            if isinstance(a, ast.Special) and a.name == "no_cache":
                a.ty = T.PRINCIPAL
            else:
                self.expr(a)

    def channel_op(self, e: ast.Call, ch, name: str, span) -> T.Type:
        cname = ch.name
        if name not in CHANNEL_OPS:
            self.args_only(e)
            return self.err("E0209", f"channel '{cname}' has no method '{name}'", span,
                            did_you_mean(name, CHANNEL_OPS) or "channels offer fetch, decide, choose and enqueue")
        if ch.complete:
            self.args_only(e)
            return self.err("E0315", f"cannot {name} from channel '{cname}': it has a handler", span,
                            f"declare an incomplete channel, `channel<M> {cname};`, to ask a person for input")
        if not self.rules.writes_doc:
            self.args_only(e)
            return self.err("E0315", f"{self.rules.what} cannot ask for input with .{name}()", span,
                            "asking records an open request in the document; ask where it may change")
        element = ch.message
        e.ref = Ref("channel_op", name, ch)
        if name == "enqueue":  # as if `who` sent it (language.md 5.22)
            self.check_args(e, [T.PRINCIPAL, T.ArrayType(element) if ch.is_array else element], f"{cname}.enqueue")
            return T.VOID
        if name == "fetch":
            self.check_args(e, [T.PRINCIPAL], f"{cname}.fetch")
            if T.is_error(element):
                return T.ERROR
            return T.FutureType(T.ArrayType(element) if ch.is_array else element)
        if name == "decide":
            if ch.is_array:
                self.args_only(e)
                return self.err("E0315", f"decide picks one {element}; channel '{cname}' carries {element}[]",
                                span, f"use {cname}.choose(...), or declare `channel<{element}>` to decide")
            self.check_args(e, [T.PRINCIPAL, T.ArrayType(element)], f"{cname}.decide")
            return T.ERROR if T.is_error(element) else T.FutureType(T.MaybeType(element))
        if not ch.is_array:
            self.args_only(e)
            return self.err("E0315", f"choose answers with several; channel '{cname}' carries one {element}",
                            span, f"declare `channel<{element}[]> {cname}s;` to choose, or use decide")
        self.check_args(e, [T.PRINCIPAL, T.ArrayType(element), T.INT], f"{cname}.choose")
        return T.ERROR if T.is_error(element) else T.FutureType(T.MaybeType(T.ArrayType(element)))

    # ------------------------------------------------------------ constructors

    def expected_struct(self, expected: T.Type | None) -> T.Type | None:
        t = T.strip_maybe(expected) if expected is not None else None
        return t if isinstance(t, (T.RecordType, T.MessageType)) and t != T.COMPLEX else None

    def x_AnonObject(self, e: ast.AnonObject, expected):
        target = self.expected_struct(expected)
        seen = set()
        if target is None:
            fields = []
            for af in e.fields:
                t = self.expr(af.value)
                if af.name in seen:
                    self.err("E0212", f"field '{af.name}' is given twice", af.span)
                    continue
                seen.add(af.name)
                if t == T.VOID or isinstance(t, (T.LibraryType, T.ChannelType)):
                    t = self.err("E0313", f"field '{af.name}' has no storable value", af.value.span)
                fields.append((af.name, t))
            if expected is not None and not T.is_error(expected) and not isinstance(expected, T.AnonType):
                return self.err("E0313", f"an object {{...}} cannot be {a(expected)}", e.span,
                                "objects build records and messages")
            return T.AnonType(tuple(fields))
        s = self.info.struct(target.name)
        for af in e.fields:
            if af.name in seen:
                self.err("E0212", f"field '{af.name}' is given twice", af.span)
                self.expr(af.value)
                continue
            seen.add(af.name)
            f = s.fields.get(af.name) if s else None
            if f is None:
                self.expr(af.value)
                if target.name.startswith("tuple<") and s:  # (a, b, c) against tuple<A, B>
                    self.err("E0313", f"{target} has {len(s.fields)} items; this is item {af.name}", af.span)
                    continue
                self.err("E0313", f"{s.kind if s else 'type'} '{target}' has no field '{af.name}'", af.span,
                         did_you_mean(af.name, s.fields if s else []))
                continue
            got = self.expr(af.value, f.type)
            if not self.assignable(got, f.type):
                self.err("E0301", f"field '{af.name}' of {target} is {f.type}, found {got}", af.value.span,
                         self.conversion_hint(got, f.type))
        return target

    def x_ArrayLit(self, e: ast.ArrayLit, expected):
        want = T.element_of(expected) if expected is not None else None
        if want is not None:
            for item in e.items:
                got = self.expr(item, want)
                if not self.assignable(got, want):
                    self.err("E0301", f"array item should be {want}, found {got}", item.span,
                             self.conversion_hint(got, want))
            return T.ArrayType(want)
        if not e.items:
            return self.err("E0312", "cannot tell the type of an empty array", e.span,
                            "declare the variable's type, e.g. `int[] xs = [];`")
        t = self.expr(e.items[0])
        for item in e.items[1:]:
            got = self.expr(item, t)
            u = T.unify(t, got, self.fields_of)
            if u is None:
                self.err("E0301", f"array items differ: {t} and {got}", item.span)
            else:
                t = u
        return T.ArrayType(t)

    def x_MaybeOf(self, e: ast.MaybeOf, expected):
        if e.value is not None:
            want = expected.inner if isinstance(expected, T.MaybeType) else None
            t = self.expr(e.value, want)
            if T.is_error(t):
                return T.ERROR
            if isinstance(t, T.MaybeType):
                return self.err("E0309", f"@maybe(...) of {a(t)} would nest maybes", e.span,
                                "it already is a maybe; use it as it is")
            if t == T.VOID or isinstance(t, (T.TableType, T.ChannelType, T.FutureType, T.LibraryType)):
                return self.err("E0309", f"cannot make a maybe of {t}", e.value.span)
            return T.MaybeType(t)
        t = self.resolve_type(e.type)
        if isinstance(t, T.MaybeType):
            return self.err("E0309", f"@maybe<{t}> would nest maybes", e.type.span)
        return T.ERROR if T.is_error(t) else T.MaybeType(t)

    def x_Convert(self, e: ast.Convert, expected):
        target = self.resolve_type(e.type)
        if not T.is_error(target) and not isinstance(target, T.MessageType):
            self.expr(e.value)
            return self.err("E0320", f"@convert makes messages; {target} is not a message", e.type.span)
        src = self.expr(e.value, target if isinstance(e.value, ast.AnonObject) else None)
        if T.is_error(target) or T.is_error(src):
            return T.ERROR
        if isinstance(e.value, ast.AnonObject):
            return target
        if T.is_sequence(src):
            el = T.element_of(src)
            if T.is_struct(el) or isinstance(el, T.AnonType):
                self.convert_fields(el, target, e)
                return T.ArrayType(target)
        elif T.is_struct(src) or isinstance(src, T.AnonType):
            self.convert_fields(src, target, e)
            return target
        return self.err("E0320", f"cannot convert {src} to message {target}", e.value.span,
                        "@convert takes a record, a message, or a list of them")

    def convert_fields(self, src: T.Type, target: T.MessageType, e: ast.Convert) -> None:
        sf = dict(src.fields) if isinstance(src, T.AnonType) else (self.fields_of(src) or {})
        tf = self.fields_of(target) or {}
        for name, t in tf.items():
            # Fields the source lacks take their defaults; shared ones must fit.
            if name in sf and not self.assignable(sf[name], t):
                self.err("E0320", f"cannot convert field '{name}': {src} has {sf[name]}, {target} wants {t}",
                         e.value.span)

    # ------------------------------------------------------------ queries

    def traverse_step(self, step: ast.Traverse, row: T.Type) -> T.Type:
        """`traverse a` on a list of a's From rows: the list of its To rows (4.25)."""
        a = self.info.assocs.get(step.assoc)
        if a is None:
            return self.err("E0201", f"unknown assoc '{step.assoc}'", step.span,
                            did_you_mean(step.assoc, self.info.assocs) or "declare it with `assoc<From, To> name;`")
        if not T.is_error(row) and not T.is_error(a.source) and row != a.source:
            self.err("E0301", f"assoc '{a.name}' leads from {a.source} rows, but the items are {row}", step.span)
        step.info = a
        # what it walks: the tables holding the joins' records (or the joins' own tables)
        # and those holding the To rows, all document fields
        wanted = {r.name for r in (a.target,) if not T.is_error(r)}
        wanted |= {owner for owner, _ in a.joins if owner}
        step.reads = [n for n, f in self.info.fields.items()
                      if isinstance(f.type, T.TableType) and (f.type.record.name in wanted)]
        step.reads += [d.table for owner, d in a.joins if owner is None and d.table not in step.reads]
        if self.doc_reads is not None:
            self.doc_reads.update(step.reads)
        if not self.rules.reads_doc:
            self.err("E0318", f"{self.rules.what} cannot walk assoc '{a.name}': it reads the document's tables",
                     step.span, "traverse in formulas, bubbles, procedures and handlers")
        return T.ListType(a.target)

    def x_Iterate(self, e: ast.Iterate, expected):
        src = self.expr(e.source)
        if T.is_error(src):
            el = T.ERROR
        elif isinstance(src, T.TableType):
            el = src.record
        elif isinstance(src, T.NativeTableType):  # a local table of messages (3.7.1)
            el = src.element
        elif T.is_sequence(src) and (e.explicit is False or isinstance(T.element_of(src), T.RecordType)
                                     or T.is_error(T.element_of(src))):
            el = T.element_of(src)
        else:
            hint = "iterate works on a table or a list of records" if e.explicit else \
                "query clauses follow a table or a list"
            el = self.err("E0307", f"cannot iterate {a(src)}" if e.explicit else f"cannot query {a(src)}",
                          e.source.span, hint)
        result: T.Type = T.ListType(el)
        for i, step in enumerate(e.steps):
            if isinstance(result, T.MapType):
                self.err("E0306", "nothing may follow `reduce`: it makes a map, not a list", step.span)
                break
            result = self.query_step(step, el, result)
            el = result.element if isinstance(result, T.ListType) else el
        return result

    def query_step(self, step, row: T.Type, lt: T.Type) -> T.Type:
        """Check one clause applied to a list of `row`; gives the type it makes."""
        step.item = row  # the items' type, for code generation
        if isinstance(step, ast.Traverse):
            return self.traverse_step(step, row)
        if isinstance(step, ast.Where):
            if not T.is_error(row) and self.fields_of(row) is None:
                self.expr(step.cond)
                self.err("E0308", f"`where` reads the fields of records, but the items are {row}", step.span,
                         "name the item instead: `where_as x: ...`")
                return lt
            if not T.is_error(row):
                self.rows.append(row)
            try:
                t = self.expr(step.cond)
            finally:
                if not T.is_error(row):
                    self.rows.pop()
            if not T.is_error(t) and t != T.BOOL:
                self.err("E0311", f"a where clause must be a bool, found {t}", step.cond.span)
        elif isinstance(step, ast.WhereAs):
            self.scope.push()
            try:
                self.declare(step.alias, row, step.span, "as", step)
                t = self.expr(step.cond)
            finally:
                self.scope.pop()
            if not T.is_error(t) and t != T.BOOL:
                self.err("E0311", f"a where_as clause must be a bool, found {t}", step.cond.span)
        elif isinstance(step, ast.OrderBy):
            fields = self.fields_of(row) if not T.is_error(row) else None
            if fields is None and not T.is_error(row):
                self.err("E0308", f"`order` sorts records by their fields, but the items are {row}", step.span)
            for key in step.keys:
                if fields is None:
                    continue
                ft = fields.get(key.field)
                if ft is None:
                    self.err("E0203", f"record '{row}' has no field '{key.field}' to order by", key.span,
                             did_you_mean(key.field, fields))
                elif not T.is_error(ft) and not T.is_orderable(ft):
                    self.err("E0302", f"cannot order by '{key.field}' of type {ft}", key.span,
                             "order by a number, string, date/time or enum field")
                elif key.insensitive and not T.is_error(ft) and ft != T.STRING:
                    self.err("E0302", f"`insensitive` orders strings, and '{key.field}' is {ft}", key.span)
        elif isinstance(step, ast.Rank):
            if step.threshold is not None:  # evaluated once, outside the items' scope
                t = self.expr(step.threshold, T.DOUBLE)
                if not T.is_error(t) and not T.is_numeric(t):
                    self.err("E0301", f"a rank threshold must be a number, found {t}", step.threshold.span)
            if not T.is_error(row) and self.fields_of(row) is None:
                self.err("E0308", f"`rank` scores records or messages, but the items are {row}", step.span,
                         "rank a table, or a list of records or messages")
            self.scope.push()
            try:
                self.declare(step.alias, row, step.span, "as", step)
                t = self.expr(step.score, T.DOUBLE)
            finally:
                self.scope.pop()
            if not T.is_error(t) and not T.is_numeric(t):
                self.err("E0301", f"a rank score must be a number, found {t}", step.score.span,
                         "score each item with an int, long or double")
        elif isinstance(step, ast.OrderDyn):
            t = self.expr(step.spec, T.STRING)
            if not T.is_error(t) and t != T.STRING:
                self.err("E0301", f"order_dyn takes a string of keys, found {t}", step.spec.span,
                         'write the keys as text: "name,-score"')
            if not T.is_error(row) and self.fields_of(row) is None:
                self.err("E0308", f"`order_dyn` sorts records by their fields, but the items are {row}", step.span)
        elif isinstance(step, (ast.Limit, ast.Offset)):
            t = self.expr(step.count, T.INT)
            if not T.is_error(t) and t != T.INT:
                word = "limit" if isinstance(step, ast.Limit) else "offset"
                self.err("E0301", f"{word} must be an int, found {t}", step.count.span)
        elif isinstance(step, ast.Shuffle):
            if not self.rules.random:
                self.err("E0318", f"{self.rules.what} cannot shuffle", step.span,
                         "shuffling advances the document's random stream; shuffle where the document "
                         "may change (a procedure, channel or state block)")
        elif isinstance(step, ast.Unique):
            if step.key is not None:
                fields = self.fields_of(row) if not T.is_error(row) else None
                if fields is None:
                    if not T.is_error(row):
                        self.err("E0308", f"`unique {'last' if step.last else 'first'} {step.key}` needs "
                                 f"records, but the items are {row}", step.span)
                elif step.key not in fields:
                    self.err("E0203", f"record '{row}' has no field '{step.key}'", step.span,
                             did_you_mean(step.key, fields))
                elif not unique_key(fields[step.key]):
                    self.err("E0302", f"cannot compare '{step.key}' of type {fields[step.key]} for uniqueness",
                             step.span)
            elif not T.is_error(row) and not unique_key(row):
                self.err("E0302", f"`unique` compares the items themselves, and {row} cannot be compared",
                         step.span, "name a field: `unique first key`")
        elif isinstance(step, ast.MapStep):
            fn = self.step_function(step.func, [row], "map")
            if fn is None:
                return T.ListType(T.ERROR)
            return T.ListType(fn.returns)
        elif isinstance(step, ast.Reduce):
            fields = self.fields_of(row) if not T.is_error(row) else None
            kt = T.ERROR
            if fields is None:
                if not T.is_error(row):
                    self.err("E0308", f"`reduce` groups records by a field, but the items are {row}", step.span)
            elif step.field not in fields:
                self.err("E0203", f"record '{row}' has no field '{step.field}' to reduce on", step.span,
                         did_you_mean(step.field, fields))
            elif not T.is_error(fields[step.field]) and fields[step.field] not in T.MAP_KEYS \
                    and not isinstance(fields[step.field], T.EnumType):
                self.err("E0309", f"cannot group by '{step.field}' of type {fields[step.field]}: map keys are "
                         "int, long, string, principal or an enum", step.span)
            else:
                kt = fields[step.field]
            vt: T.Type = T.ListType(row)
            if step.func is not None:
                fn = self.step_function(step.func, [T.ListType(row)], "reduce")
                vt = fn.returns if fn is not None else T.ERROR
            return T.MapType(kt, vt)
        return lt

    def step_function(self, f: ast.Expr, args: list, what: str):
        """The function a `map` or `reduce ... via` clause names, checked to take `args`."""
        if isinstance(f, ast.Lambda):  # `@lambda x: expr`: expr with x the item (or the group)
            self.scope.push()
            try:
                self.declare(f.param, args[0], f.span, "as", f)
                f.ty = self.expr(f.body)
            finally:
                self.scope.pop()
            return None if T.is_error(f.ty) else f
        if not isinstance(f, ast.Name) or f.id not in self.info.functions or self.scope.lookup(f.id):
            self.expr(f) if not isinstance(f, ast.Name) else None
            self.err("E0303", f"`{what}` takes the name of a function", f.span,
                     "declare `function g(T x) -> R { ... }` and write `" + what + " g`")
            return None
        fn = self.info.functions[f.id]
        f.ref = Ref("function", f.id, fn)
        f.ty = T.ERROR
        if len(fn.params) != len(args):
            self.err("E0304", f"function '{fn.name}' takes {len(fn.params)} argument(s); `{what}` passes "
                     f"{len(args)}", f.span)
            return None
        for (_, p), t in zip(fn.params, args):
            if not T.is_error(t) and not self.assignable(t, p):
                self.err("E0301", f"function '{fn.name}' takes {p}; `{what}` passes {t}", f.span)
                return None
        if fn.returns == T.VOID or T.is_error(fn.returns):
            return None
        return fn

    # ------------------------------------------------------------ debug format

    def check_debug(self, s: ast.Debug) -> None:
        if not isinstance(s.format, ast.StringLit):
            self.expr(s.format)
            self.err("E0411", "@debug needs a string literal format", s.format.span)
        else:
            s.format.ty = T.STRING
            for m in PLACEHOLDER.finditer(s.format.value):
                if int(m.group(1)) >= len(s.args):
                    self.err("E0411", f"@debug format uses {{{m.group(1)}}} but has {len(s.args)} argument(s)",
                             s.format.span)
                    break
        for a in s.args:
            t = self.expr(a)
            if t == T.VOID:
                self.err("E0411", "@debug argument has no value", a.span)
