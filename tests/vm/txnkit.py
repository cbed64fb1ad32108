"""A module with one small function per kind of write, and helpers to look at
the object graph a document holds (for the transaction tests)."""
from __future__ import annotations

from advm.vm import table
from advm.vm._machine import Machine, Record
from advm.vm.docslots import DETACHED
from advm.vm.assembler import ModuleAsm
from advm.vm.host import HostFunction, core_library
from advm.vm.snapshot import dumps_values

DOC_FIELDS = ["n", "x", "s", "items", "tags", "node", "rows"]
DOC_KINDS = "idooooo"
NODE = 1  # layout index of Node: (int, double, object, object)
ROW = 2  # layout index of Row: (id, v, owner), a table's row type
TABLE = 3  # layout index of the tables (vm/table.py)

# name -> (params, opcode, operands after the parameters are placed)
WRITERS = {
    "set_n": ("i", [("FSETI", 0, 0)]),
    "set_x": ("d", [("FSETD", 0, 1)]),
    "set_s": ("o", [("FSETO", 0, 2)]),
    "set_items": ("o", [("FSETO", 0, 3)]),
    "set_tags": ("o", [("FSETO", 0, 4)]),
    "set_node": ("o", [("FSETO", 0, 5)]),
    "rset_i": ("oi", [("RSETIL", 0, 0, 0)]),
    "rset_d": ("od", [("RSETDL", 0, 1, 0)]),
    "rset_o2": ("oo", [("RSETOL", 0, 2, 1)]),
    "rset_o3": ("oo", [("RSETOL", 0, 3, 1)]),
    "lpush": ("oo", [("LPUSHL", 0, 1)]),
    "lset": ("oio", [("LSETL", 0, 0, 1)]),
    "mput": ("ooo", [("MPUTL", 0, 1, 2)]),
    "mdel": ("oo", [("MDELL", 0, 1)]),
    "hput": ("ooo", [("CALLHOST", 0, "h.put")]),
    "hdel": ("oo", [("CALLHOST", 0, "h.del")]),
    "hfield": ("oo", [("CALLHOST", 0, "h.field")]),
    "hpush": ("oo", [("CALLHOST", 0, "h.push")]),
    "hcallback": ("oo", [("CALLHOST", 0, "h.callback")]),
    "tinsert": ("oo", [("TINSERT", 0, 0, 1)]),
}


def new_table(indexed=()):
    """An empty table of Row (id slot 0, owner slot 2), indexing `indexed` slots."""
    return table.new([TABLE, 0, 2, list(indexed)])


def new_row(v=0):
    return Record(ROW, [0, v, DETACHED])


def _host_callback(m, items, value):
    # A host function keeping its own undo: the machine calls it back on rollback.
    items.append(value)
    m.log_undo((items.pop,))


def hosts():
    lib = core_library()
    lib.update({
        "h.put": HostFunction(lambda m, d, k, v: m.map_put(d, k, v), "ooo", "", True),
        "h.del": HostFunction(lambda m, d, k: m.map_delete(d, k), "oo", "", True),
        "h.field": HostFunction(lambda m, r, v: m.write_field(r, 2, v), "oo", "", True),
        "h.push": HostFunction(lambda m, xs, v: m.list_append(xs, v), "oo", "", True),
        "h.callback": HostFunction(_host_callback, "oo", "", True),
    })
    return lib


def txn_module():
    m = ModuleAsm("txn.adb")
    m.record("Doc", DOC_FIELDS, DOC_KINDS, [0, 0.0, "", [], {}, None, None])
    m.record("Node", ["a", "b", "c", "d"], "idoo", [0, 0.0, None, None])
    m.record("Row", ["id", "v", "$owner"], "iio", [0, 0, DETACHED])
    m.record(table.TABLE_LAYOUT_NAME, list(table.TABLE_FIELDS), table.TABLE_KINDS,
             list(table.TABLE_DEFAULTS))
    m.document = 0
    for name, params, result in (("h.put", "ooo", ""), ("h.del", "oo", ""), ("h.field", "oo", ""),
                                 ("h.push", "oo", ""), ("h.callback", "oo", ""),
                                 ("Random.genInt", "", "i")):
        m.host(name, params, result)
    for name, (params, steps) in WRITERS.items():
        f = m.function(name, params, "")
        for step in steps:
            f.emit(*step)
        f.emit("RET")
    draw = m.function("draw", "", "i")
    draw.emit("CALLHOST", 0, "Random.genInt")
    draw.emit("IRET", 0)
    return m.assemble()


def machine(module=None, **kw):
    return Machine(module or txn_module(), host=hosts(), **kw)


def containers(root) -> list:
    """Every list, map and record reachable from `root`, in first-seen order."""
    seen: dict[int, object] = {}
    stack = [root]
    while stack:
        v = stack.pop()
        t = type(v)
        if t not in (list, dict, Record) or id(v) in seen:
            continue
        seen[id(v)] = v
        children = v if t is list else list(v.values()) if t is dict else v.f
        stack.extend(reversed(children))
    return list(seen.values())


def state(m) -> tuple:
    """What a rollback must restore: the graph's exact contents (values, order of
    map keys, sharing and cycles, as the snapshot codec writes them), which
    objects make it up (restored in place, not replaced) and the PRNG."""
    return dumps_values(m.doc), [id(c) for c in containers(m.doc)], m.rng_state
