"""Semantic types: what the checker knows about a value.

The AST holds type *syntax* (`TypeRef`); these are the resolved types the
checker puts in every `Expr.ty`. They are small immutable values, compared by
structure, and print the way a user writes them (`maybe<int>`, `Todo[]`), so a
diagnostic can name them directly.

Records, messages and enums are referred to by name; their members live in the
`DocumentInfo` (see docinfo.py). `ERROR` is the type of anything that already
failed to check: every rule accepts it, so one mistake gives one diagnostic.
"""
from __future__ import annotations

from dataclasses import dataclass


class Type:
    __slots__ = ()

    def __repr__(self) -> str:
        return f"<type {self}>"


@dataclass(frozen=True, slots=True, repr=False)
class Prim(Type):
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True, repr=False)
class ErrorType(Type):
    def __str__(self) -> str:
        return "<error>"


@dataclass(frozen=True, slots=True, repr=False)
class VoidType(Type):
    def __str__(self) -> str:
        return "void"


@dataclass(frozen=True, slots=True, repr=False)
class EnumType(Type):
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True, repr=False)
class RecordType(Type):
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True, repr=False)
class MessageType(Type):
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True, repr=False)
class MaybeType(Type):
    inner: Type

    def __str__(self) -> str:
        return f"maybe<{self.inner}>"


@dataclass(frozen=True, slots=True, repr=False)
class ListType(Type):
    """A read-only sequence view: what `iterate` yields."""

    element: Type

    def __str__(self) -> str:
        return f"list<{self.element}>"


@dataclass(frozen=True, slots=True, repr=False)
class ArrayType(Type):
    """`T[]`: a read-only array (literals, `@convert`, channel options)."""

    element: Type

    def __str__(self) -> str:
        return f"{self.element}[]"


@dataclass(frozen=True, slots=True, repr=False)
class NativeTableType(ListType):
    """`table<M>` of a message M: Adama's native table, a local (or parameter) that
    values are inserted into (`t <- m`) and that reads as a list<M> (language.md 3.7.1)."""

    def __str__(self) -> str:
        return f"table<{self.element}>"


@dataclass(frozen=True, slots=True, repr=False)
class MapType(Type):
    key: Type
    value: Type

    def __str__(self) -> str:
        return f"map<{self.key}, {self.value}>"


@dataclass(frozen=True, slots=True, repr=False)
class PairType(Type):
    """One entry of a map, as `foreach (kv in m)` sees it: `kv.key`, `kv.value`."""

    key: Type
    value: Type

    def __str__(self) -> str:
        return f"pair<{self.key}, {self.value}>"


@dataclass(frozen=True, slots=True, repr=False)
class TableType(Type):
    record: Type

    def __str__(self) -> str:
        return f"table<{self.record}>"


@dataclass(frozen=True, slots=True, repr=False)
class FutureType(Type):
    inner: Type

    def __str__(self) -> str:
        return f"future<{self.inner}>"


@dataclass(frozen=True, slots=True, repr=False)
class ResultType(FutureType):
    """`result<T>`: a service call's outcome (spec/language.md 4.27). A kind of
    future (it lives in locals and is awaited), which a formula may also hold."""

    def __str__(self) -> str:
        return f"result<{self.inner}>"


@dataclass(frozen=True, slots=True, repr=False)
class ChannelType(Type):
    """`channel<M>` or `channel<M[]>`; `complete` when it has a handler body."""

    message: Type
    complete: bool = False

    def __str__(self) -> str:
        return f"channel<{self.message}>"


@dataclass(frozen=True, slots=True, repr=False)
class AnonType(Type):
    """An anonymous object `{a: 1}` met where no record or message was expected."""

    fields: tuple[tuple[str, Type], ...]

    def __str__(self) -> str:
        inner = ", ".join(f"{n}: {t}" for n, t in self.fields)
        return "{" + inner + "}"


@dataclass(frozen=True, slots=True, repr=False)
class LibraryType(Type):
    """A standard-library namespace used as a call receiver (`Math`, `Time`)."""

    name: str

    def __str__(self) -> str:
        return f"library {self.name}"


ERROR = ErrorType()
VOID = VoidType()
BOOL = Prim("bool")
INT = Prim("int")
LONG = Prim("long")
DOUBLE = Prim("double")
STRING = Prim("string")
PRINCIPAL = Prim("principal")
LABEL = Prim("label")
DATE = Prim("date")
DATETIME = Prim("datetime")
TIME = Prim("time")
TIMESPAN = Prim("timespan")
DYNAMIC = Prim("dynamic")
# Adama's `json`: a JSON value read by path (deref) and by kind (to_b, to_i, to_s); held as
# `dynamic` is (language.md 3.13)
JSON = Prim("json")
# Adama's collaborative `text` (language.md 3.13.1): a field's text that clients edit with
# operational transforms; held as the dynamic {"fragments", "order", "changes", "seq"} Adama shows.
TEXT = Prim("text")
# An uploaded file (language.md 4.29): id, name, content type, size and hashes, held as the
# dynamic {"id", "name", "type", "size", "md5", "sha384"} (null: no asset).
ASSET = Prim("asset")
# The connection context (`@context`) of static policies: origin and ip.
CONTEXT = Prim("context")
# Adama's complex numbers: the message `complex` of two doubles, r and i, that the parser
# declares for a document using them (language.md 3.12); numbers widen to it.
COMPLEX = MessageType("complex")

PRIMITIVES: dict[str, Prim] = {
    p.name: p
    for p in (BOOL, INT, LONG, DOUBLE, STRING, PRINCIPAL, LABEL, DATE, DATETIME, TIME, TIMESPAN, DYNAMIC, JSON,
              ASSET, TEXT)
}
# `client` is Adama's older spelling of `principal`; old documents still use it.
PRIMITIVE_ALIASES = {"client": PRINCIPAL}

# Generic type constructors and how many arguments each takes.
GENERICS: dict[str, int] = {"maybe": 1, "list": 1, "map": 2, "table": 1, "future": 1, "result": 1, "channel": 1, "pair": 2}

NUMERIC_RANK = {INT: 0, LONG: 1, DOUBLE: 2}
# Fields of built-in struct-like values.
BUILTIN_FIELDS: dict[Type, dict[str, Type]] = {CONTEXT: {"origin": STRING, "ip": STRING}}


def is_error(t: Type | None) -> bool:
    return t is None or isinstance(t, ErrorType)


def is_numeric(t: Type) -> bool:
    return t in NUMERIC_RANK


def is_sequence(t: Type) -> bool:
    return isinstance(t, (ListType, ArrayType))


def element_of(t: Type) -> Type | None:
    if isinstance(t, (ListType, ArrayType)):
        return t.element
    return None


def is_struct(t: Type) -> bool:
    return isinstance(t, (RecordType, MessageType))


def wider(a: Type, b: Type) -> Type:
    """The wider of two numeric types (int < long < double)."""
    return a if NUMERIC_RANK[a] >= NUMERIC_RANK[b] else b


def widens(src: Type, dst: Type) -> bool:
    return src in NUMERIC_RANK and dst in NUMERIC_RANK and NUMERIC_RANK[src] <= NUMERIC_RANK[dst]


# Types whose values can be compared with < > <= >= (and sorted by `order by`).
ORDERED = frozenset({INT, LONG, DOUBLE, STRING, DATE, DATETIME, TIME, TIMESPAN})
# Types a table can keep an `index` on (equality lookups).
INDEXABLE = frozenset({INT, LONG, STRING, BOOL, PRINCIPAL, DATE, DATETIME, TIME})
# Types a map can be keyed by.
MAP_KEYS = frozenset({INT, LONG, STRING, PRINCIPAL})


def is_orderable(t: Type) -> bool:
    return t in ORDERED or isinstance(t, EnumType)


def is_indexable(t: Type) -> bool:
    return t in INDEXABLE or isinstance(t, EnumType)


def assignable(src: Type, dst: Type, fields_of=None) -> bool:
    """Can a value of `src` be stored where `dst` is expected?

    Widening int -> long -> double is implicit; a T goes where maybe<T> is
    expected; list<T> and T[] are interchangeable read-only sequences; an
    anonymous object fits a record or message whose fields accept it
    (`fields_of(name) -> dict[str, Type] | None` looks those up).
    """
    if is_error(src) or is_error(dst):
        return True
    if src == dst:
        return True
    if widens(src, dst):
        return True
    if dst == COMPLEX and src in NUMERIC_RANK:  # x is x + 0 * @i
        return True
    if dst == TEXT and src == STRING:  # a text field is set from a string (language.md 3.13.1)
        return True
    if isinstance(dst, MaybeType):
        if isinstance(src, MaybeType):
            return assignable(src.inner, dst.inner, fields_of)
        return assignable(src, dst.inner, fields_of)
    if is_sequence(src) and is_sequence(dst):
        se, de = element_of(src), element_of(dst)
        return se == de or is_error(se) or is_error(de) or (
            isinstance(se, AnonType) and assignable(se, de, fields_of)
        )
    if isinstance(src, AnonType) and is_struct(dst) and fields_of is not None:
        fields = fields_of(dst)
        if fields is None:
            return False
        for name, ft in src.fields:
            if name not in fields or not assignable(ft, fields[name], fields_of):
                return False
        return True
    if isinstance(src, ChannelType) and isinstance(dst, ChannelType):
        return src.message == dst.message
    return False


def unify(a: Type, b: Type, fields_of=None) -> Type | None:
    """The common type of two branches (`?:`, array items), or None."""
    if is_error(a):
        return b
    if is_error(b):
        return a
    if assignable(a, b, fields_of):
        return b
    if assignable(b, a, fields_of):
        return a
    if isinstance(a, MaybeType) or isinstance(b, MaybeType):
        ia = a.inner if isinstance(a, MaybeType) else a
        ib = b.inner if isinstance(b, MaybeType) else b
        inner = unify(ia, ib, fields_of)
        if inner is not None:
            return MaybeType(inner)
    return None


def comparable(a: Type, b: Type) -> bool:
    """Can `a == b` be asked? Same type, numbers of any width, or a value
    against a maybe of it."""
    if is_error(a) or is_error(b):
        return True
    if is_numeric(a) and is_numeric(b):
        return True
    if (a == COMPLEX and is_numeric(b)) or (b == COMPLEX and is_numeric(a)):  # x is x + 0 * @i
        return True
    if isinstance(a, (ListType, ArrayType, TableType, FutureType, ChannelType, LibraryType)):
        return False
    if isinstance(a, (RecordType, AnonType)) or a == VOID:
        return False
    if a == b:
        return True
    ia = a.inner if isinstance(a, MaybeType) else a
    ib = b.inner if isinstance(b, MaybeType) else b
    if (ia is not a) or (ib is not b):
        return comparable(ia, ib)
    return False


def strip_maybe(t: Type) -> Type:
    return t.inner if isinstance(t, MaybeType) else t
