"""Whole-machine snapshots: frames, live registers, budget, PRNG, document, as CBOR.

Two codecs live here. `dumps_values`/`loads_values` write the document values
of a runtime snapshot (runtime/living.py), the format a waking document decodes;
they are in vm/_restore.pyx (spec/snapshot.md section 3). The machine format
below (`Machine.snapshot()`, spec/bytecode.md "Snapshots") keeps the heap:

Object values form a graph (two registers may hold the same list; a record
may be reachable from the document and from a local). The encoder numbers
every container (list, map, record) once, in first-seen order, stores its body
in a `heap` array and writes references as CBOR tag 40100 (heap index), so
sharing and cycles survive the round trip exactly. Scalars (null, bool, int,
float, string, bytes) are written as themselves.
"""
from __future__ import annotations

import sys
from array import array

import cbor2

from ._machine import Record
from ._restore import decode, encode
from .continuation import Continuation
from .errors import SnapshotError

SNAPSHOT_FORMAT = "advm-machine"
SNAPSHOT_VERSION = 2  # 2: no undo log (snapshots are taken between transactions)
TAG_REF = 40100
# The document values of a runtime snapshot (spec/snapshot.md section 3), their own codec:
# 3: trees inline, records as bare arrays, only shared or cyclic containers tagged (28/29).
VALUES_FORMAT = "advm-values"
VALUES_VERSION = 3

_SCALARS = (type(None), bool, int, float, str, bytes)


class _Heap:
    def __init__(self, record_type):
        self.record_type = record_type
        self.cont_type = Continuation
        self.ids: dict[int, int] = {}
        self.bodies: list = []
        self.keep: list = []  # keeps objects alive so id() stays unique while encoding

    def value(self, v):
        if isinstance(v, _SCALARS):
            return v
        key = id(v)
        if key in self.ids:
            return cbor2.CBORTag(TAG_REF, self.ids[key])
        index = len(self.bodies)
        self.ids[key] = index
        self.keep.append(v)
        self.bodies.append(None)
        t = type(v)
        if t is list:
            self.bodies[index] = ["list", [self.value(x) for x in v]]
        elif t is dict:
            for k in v:
                if not isinstance(k, _SCALARS):
                    raise TypeError(f"cannot snapshot a map key of type {type(k).__name__}")
            self.bodies[index] = ["map", [[k, self.value(x)] for k, x in v.items()]]
        elif t is self.record_type:
            self.bodies[index] = ["record", v.layout, [self.value(x) for x in v.f]]
        elif t is self.cont_type:
            self.bodies[index] = ["cont", v.frames, _little_endian(v.ibank, "q"),
                                  _little_endian(v.dbank, "d"), [self.value(x) for x in v.obank],
                                  self.value(v.payload), v.module_id]
        else:
            raise TypeError(f"cannot snapshot a value of type {t.__name__}")
        return cbor2.CBORTag(TAG_REF, index)


class _Loader:
    def __init__(self, record_type, bodies):
        if not isinstance(bodies, list):
            raise SnapshotError("corrupt snapshot: heap is not an array")
        self.bodies = bodies
        # Shells first, so references (shared or cyclic) resolve to one object each.
        self.objects = []
        for body in bodies:
            kind = body[0] if isinstance(body, list) and body else None
            if kind == "list":
                self.objects.append([])
            elif kind == "map":
                self.objects.append({})
            elif kind == "record":
                self.objects.append(record_type(int(body[1]), []))
            elif kind == "cont":
                self.objects.append(Continuation(body[1], _little_endian(body[2], "q"),
                                                 _little_endian(body[3], "d"), [], None, body[6]))
            else:
                raise SnapshotError(f"corrupt snapshot: bad heap entry {body!r:.60}")
        for obj, body in zip(self.objects, bodies):
            if body[0] == "list":
                obj.extend(self.value(x) for x in body[1])
            elif body[0] == "map":
                for k, x in body[1]:
                    obj[k] = self.value(x)
            elif body[0] == "record":
                obj.f.extend(self.value(x) for x in body[2])
            else:
                obj.obank.extend(self.value(x) for x in body[4])
                obj.payload = self.value(body[5])

    def value(self, v):
        if isinstance(v, cbor2.CBORTag):
            if v.tag != TAG_REF or not 0 <= v.value < len(self.objects):
                raise SnapshotError(f"corrupt snapshot: bad reference {v!r:.60}")
            return self.objects[v.value]
        return v


def _little_endian(raw: bytes, code: str) -> bytes:
    """Bank bytes in little-endian order whatever the host's order is (a swap is its own inverse)."""
    if sys.byteorder == "little":
        return raw
    values = array(code, raw)
    values.byteswap()
    return values.tobytes()


def dumps_values(value) -> bytes:
    """Any graph of snapshot values (records, lists, maps, continuations, scalars)
    as CBOR: trees inline, only shared or cyclic containers marked
    (spec/snapshot.md section 3; vm/_restore.pyx)."""
    return encode(value, VALUES_FORMAT, VALUES_VERSION)


def loads_values(data: bytes):
    """The inverse of dumps_values: shared references and cycles come back as they were."""
    if data[:1] and 0xa0 <= data[0] <= 0xbf:
        # Versions before 3 were maps; say which version it is rather than "corrupt".
        try:
            old = cbor2.loads(data)
        except Exception:  # not even CBOR: the decoder below says so
            old = None
        if isinstance(old, dict) and old.get("format") == VALUES_FORMAT:
            raise SnapshotError(f"snapshot version {old.get('version')}, this advm reads "
                                f"version {VALUES_VERSION}")
    return decode(data, VALUES_FORMAT, VALUES_VERSION)


def encode_machine(machine) -> bytes:
    state = machine._export()
    heap = _Heap(Record)
    body = {
        "format": SNAPSHOT_FORMAT,
        "version": SNAPSHOT_VERSION,
        "module": machine.module_id,
        "frames": state["frames"],
        "ibank": _little_endian(state["ibank"], "q"),
        "dbank": _little_endian(state["dbank"], "d"),
        "obank": [heap.value(v) for v in state["obank"]],
        "remaining": state["remaining"],
        "budget_limit": state["budget_limit"],
        "max_depth": machine.max_depth,
        "rng": state["rng"],
        "suspended": state["suspended"],
        "payload": heap.value(state["payload"]),
        "doc": heap.value(state["doc"]),
    }
    body["heap"] = heap.bodies
    return cbor2.dumps(body)


def decode_machine(cls, module, data: bytes, host=None):
    try:
        body = cbor2.loads(data)
    except Exception as e:  # every cbor2 failure means the same thing here
        raise SnapshotError(f"corrupt snapshot: bad CBOR ({e})") from None
    if not isinstance(body, dict) or body.get("format") != SNAPSHOT_FORMAT:
        raise SnapshotError("not an advm machine snapshot")
    if body.get("version") != SNAPSHOT_VERSION:
        raise SnapshotError(f"snapshot version {body.get('version')}, this advm reads "
                                f"version {SNAPSHOT_VERSION}")
    if body.get("module") != module.module_id():
        raise SnapshotError("snapshot was taken on a different module (code changed)")
    try:
        loader = _Loader(Record, body["heap"])
        state = {
            "frames": body["frames"],
            "ibank": _little_endian(body["ibank"], "q"),
            "dbank": _little_endian(body["dbank"], "d"),
            "obank": [loader.value(v) for v in body["obank"]],
            "remaining": body["remaining"],
            "budget_limit": body["budget_limit"],
            "rng": body["rng"],
            "suspended": body["suspended"],
            "payload": loader.value(body["payload"]),
            "doc": loader.value(body["doc"]),
        }
        machine = cls(module, host=host, max_depth=body["max_depth"])
        machine._import(state)
    except SnapshotError:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise SnapshotError(f"corrupt snapshot: {type(e).__name__}: {e}") from e
    return machine
