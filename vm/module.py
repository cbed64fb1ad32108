"""The code object (functions, constants, positions, layouts) and its CBOR container.

A module file is a 14-byte header followed by one CBOR map:

    offset  size  field
    0       4     magic b"ADVC"
    4       2     format version, big endian (FORMAT_VERSION)
    6       4     CRC-32 of the payload, big endian
    10      4     payload length in bytes, big endian
    14      n     payload: CBOR map (keys in spec/bytecode.md)

Reading checks each of these and the payload's shape, and says which one failed.
"""
from __future__ import annotations

import hashlib
import sys
import zlib
from array import array
from dataclasses import dataclass, field

import cbor2

from .errors import ModuleFormatError

MAGIC = b"ADVC"
FORMAT_VERSION = 1
HEADER_SIZE = 14

# Value kinds of parameters, results and record fields, and the bank each lives in.
KIND_BANK = {"i": "i", "l": "i", "b": "i", "d": "d", "o": "o"}
KIND_NAMES = {"i": "int", "l": "long", "b": "bool", "d": "double", "o": "object"}


@dataclass
class Function:
    name: str
    params: str = ""  # one kind letter per parameter, in order
    result: str = ""  # a kind letter, or "" for no value
    nregs: tuple[int, int, int] = (0, 0, 0)  # registers used in the int, double, object banks
    code: list[int] = field(default_factory=list)
    kint: list[int] = field(default_factory=list)
    kdbl: list[float] = field(default_factory=list)
    kobj: list = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # source line of each code word
    cols: list[int] = field(default_factory=list)  # source column of each code word

    def param_slots(self) -> list[tuple[str, int]]:
        """(bank, register) of each parameter: numbered per bank in declaration order."""
        seen = {"i": 0, "d": 0, "o": 0}
        slots = []
        for kind in self.params:
            bank = KIND_BANK[kind]
            slots.append((bank, seen[bank]))
            seen[bank] += 1
        return slots

    def params_per_bank(self) -> tuple[int, int, int]:
        counts = {"i": 0, "d": 0, "o": 0}
        for kind in self.params:
            counts[KIND_BANK[kind]] += 1
        return counts["i"], counts["d"], counts["o"]

    def position(self, pc: int) -> tuple[int, int]:
        if 0 <= pc < len(self.lines):
            return self.lines[pc], self.cols[pc]
        return 0, 0


@dataclass
class RecordLayout:
    name: str
    fields: list[str] = field(default_factory=list)
    kinds: str = ""  # one kind letter per field
    defaults: list = field(default_factory=list)  # value of each field in a new record


@dataclass
class HostImport:
    """A host function the module calls, with the signature it was compiled against."""

    name: str
    params: str = ""
    result: str = ""

    def params_per_bank(self) -> tuple[int, int, int]:
        return Function("", self.params).params_per_bank()


@dataclass
class Module:
    filename: str = "<input>"
    source_hash: str = ""
    functions: list[Function] = field(default_factory=list)
    records: list[RecordLayout] = field(default_factory=list)
    hosts: list[HostImport] = field(default_factory=list)  # CALLHOST's Bx indexes this
    document: int = -1  # record layout of the document root, -1 when there is none
    meta: dict = field(default_factory=dict)  # compiler tables (channels, states, formulas)

    def function_index(self, name: str) -> int:
        for i, f in enumerate(self.functions):
            if f.name == name:
                return i
        raise KeyError(f"no function named {name!r}")

    def to_bytes(self) -> bytes:
        payload = cbor2.dumps(_encode(self), canonical=True)
        header = (MAGIC + FORMAT_VERSION.to_bytes(2, "big")
                  + zlib.crc32(payload).to_bytes(4, "big") + len(payload).to_bytes(4, "big"))
        return header + payload

    def module_id(self) -> str:
        """Identity of the code: snapshots refuse to resume on a different module.
        Computed once (encoding the module costs about as much as waking a small
        document): a Module is not changed once it has an id or runs on a Machine."""
        known = self.__dict__.get("_module_id")
        if known is None:
            known = self.__dict__["_module_id"] = hashlib.sha256(self.to_bytes()).hexdigest()[:32]
        return known

    @classmethod
    def from_bytes(cls, data: bytes) -> "Module":
        return _decode(_payload(bytes(data)))

    def write(self, path) -> None:
        with open(path, "wb") as fh:
            fh.write(self.to_bytes())

    @classmethod
    def read(cls, path) -> "Module":
        with open(path, "rb") as fh:
            data = fh.read()
        try:
            return cls.from_bytes(data)
        except ModuleFormatError as e:
            raise ModuleFormatError(f"{path}: {e}") from None


def _code_bytes(words: list[int]) -> bytes:
    arr = array("I", words)
    if sys.byteorder == "big":
        arr.byteswap()
    return arr.tobytes()


def _code_words(data: bytes) -> list[int]:
    if len(data) % 4:
        raise ModuleFormatError("corrupt module: code length is not a multiple of 4")
    arr = array("I")
    arr.frombytes(data)
    if sys.byteorder == "big":
        arr.byteswap()
    return arr.tolist()


def _encode(m: Module) -> dict:
    return {
        "filename": m.filename,
        "source_hash": m.source_hash,
        "functions": [{
            "name": f.name, "params": f.params, "result": f.result, "nregs": list(f.nregs),
            "code": _code_bytes(f.code), "kint": f.kint, "kdbl": [float(x) for x in f.kdbl],
            "kobj": f.kobj, "lines": f.lines, "cols": f.cols,
        } for f in m.functions],
        "records": [{"name": r.name, "fields": r.fields, "kinds": r.kinds,
                     "defaults": r.defaults} for r in m.records],
        "hosts": [[h.name, h.params, h.result] for h in m.hosts],
        "document": m.document,
        "meta": m.meta,
    }


def _payload(data: bytes):
    if len(data) < HEADER_SIZE:
        if not MAGIC.startswith(data[:4]) or not data:
            raise ModuleFormatError("not an advm module (bad magic)")
        raise ModuleFormatError(f"truncated module: {len(data)} bytes, the header alone is "
                                f"{HEADER_SIZE}")
    if data[:4] != MAGIC:
        raise ModuleFormatError(f"not an advm module (magic {data[:4]!r}, expected {MAGIC!r})")
    version = int.from_bytes(data[4:6], "big")
    if version != FORMAT_VERSION:
        raise ModuleFormatError(f"module format version {version}, this advm reads version "
                                f"{FORMAT_VERSION}; recompile the document")
    crc = int.from_bytes(data[6:10], "big")
    size = int.from_bytes(data[10:14], "big")
    payload = data[HEADER_SIZE:]
    if len(payload) < size:
        raise ModuleFormatError(f"truncated module: header announces {size} payload bytes, "
                                f"found {len(payload)}")
    if len(payload) > size:
        raise ModuleFormatError(f"corrupt module: {len(payload) - size} bytes after the payload")
    if zlib.crc32(payload) != crc:
        raise ModuleFormatError("corrupt module: payload checksum mismatch")
    try:
        return cbor2.loads(payload)
    except Exception as e:  # cbor2 raises several types; all mean the same here
        raise ModuleFormatError(f"corrupt module: bad CBOR payload ({e})") from None


def _need(d, key: str, typ, where: str):
    if not isinstance(d, dict) or key not in d:
        raise ModuleFormatError(f"corrupt module: {where} has no {key!r}")
    value = d[key]
    if not isinstance(value, typ):
        raise ModuleFormatError(f"corrupt module: {where}.{key} should be {typ.__name__}, "
                                f"got {type(value).__name__}")
    return value


def _host(h, i: int) -> HostImport:
    if (not isinstance(h, list) or len(h) != 3 or not all(isinstance(x, str) for x in h)
            or any(k not in KIND_BANK for k in h[1]) or (h[2] and h[2] not in KIND_BANK)):
        raise ModuleFormatError(f"corrupt module: host import {i} should be [name, params, result]")
    return HostImport(*h)


def _decode(p) -> Module:
    if not isinstance(p, dict):
        raise ModuleFormatError("corrupt module: payload is not a map")
    funcs = []
    for i, f in enumerate(_need(p, "functions", list, "module")):
        where = f"function {i}"
        nregs = _need(f, "nregs", list, where)
        if len(nregs) != 3 or not all(isinstance(n, int) for n in nregs):
            raise ModuleFormatError(f"corrupt module: {where}.nregs should be 3 integers")
        fn = Function(
            name=_need(f, "name", str, where), params=_need(f, "params", str, where),
            result=_need(f, "result", str, where), nregs=tuple(nregs),
            code=_code_words(_need(f, "code", bytes, where)),
            kint=_need(f, "kint", list, where), kdbl=_need(f, "kdbl", list, where),
            kobj=_need(f, "kobj", list, where), lines=_need(f, "lines", list, where),
            cols=_need(f, "cols", list, where))
        if len(fn.lines) != len(fn.code) or len(fn.cols) != len(fn.code):
            raise ModuleFormatError(f"corrupt module: {where} position table does not match "
                                    f"its code length")
        if any(k not in KIND_BANK for k in fn.params) or (fn.result and fn.result not in KIND_BANK):
            raise ModuleFormatError(f"corrupt module: {where} has an unknown value kind")
        funcs.append(fn)
    records = []
    for i, r in enumerate(_need(p, "records", list, "module")):
        where = f"record {i}"
        rec = RecordLayout(_need(r, "name", str, where), _need(r, "fields", list, where),
                           _need(r, "kinds", str, where), _need(r, "defaults", list, where))
        if not (len(rec.fields) == len(rec.kinds) == len(rec.defaults)):
            raise ModuleFormatError(f"corrupt module: {where} fields, kinds and defaults "
                                    f"differ in length")
        records.append(rec)
    return Module(
        filename=_need(p, "filename", str, "module"),
        source_hash=_need(p, "source_hash", str, "module"),
        functions=funcs, records=records,
        hosts=[_host(h, i) for i, h in enumerate(_need(p, "hosts", list, "module"))],
        document=_need(p, "document", int, "module"),
        meta=_need(p, "meta", dict, "module"))
