"""Viewers: each connected principal's privacy-filtered view, kept current as a
stream of merge patches (spec/protocol.md sections 1-3 and 9).

The runtime calls `after_commit()` after every committed transaction. What it
does, cheapest first:

0. Nobody connected: nothing at all (not even change detection; the first
   connect() catches up, with everything counted as changed). A Viewers
   builds its parts only when first used, from a per-module plan.
1. `ChangeTracker` says which fields, rows and clock changed, from the undo
   logs of the committed transactions (O(writes)); `Formulas` drops the
   formulas whose dependency closure changed. Nothing changed: no work.
   Only fields nothing else reads changed, each shown to all as a scalar or
   to nobody: their new values go into each distinct last view, no more
   (_plain_commit).
2. Each top-level member (field, formula, bubble) is *dirty* when its value or
   anything its rendering reads changed. A member whose rendering does not
   depend on the viewer (`Schema.varies`) is encoded once per transaction and
   the encoded object is shared by every viewer that may see it; one that does
   is encoded per viewer, and only when dirty.
3. A member whose value is a document table's rows in id order (a table
   field, `iterate t`, `iterate t where P`) is *kept* (_Live): its encoding,
   per viewer (or shared), is changed in place by the rows the transaction
   inserted, deleted and changed, and its patch made from those rows alone,
   whatever the table's size. An ordered or limited query (`order by`,
   `limit`) keeps its rows sorted once per document (_Ranked) and gives its
   window without sorting the table again. spec/protocol.md 9.6 says which
   clause is kept and when each falls back to a full evaluation.
   Other lists and tables of records keep, per viewer (or shared), the rows they
   were built from; when the rows are the same objects as last time, only the
   rows the transaction changed are re-rendered, into a copy of the previous
   encoding. Encoded rows are cached per row and per *decision mask* (which of
   its members the viewer sees), so viewers with the same rights share them.
4. Policy results are cached per viewer (document policies) and per viewer and
   row (record policies, and the row's decision mask) and dropped when what
   they read changes.
5. Each viewer's new encoded view is diffed against the last one sent; patches
   of a member whose old and new encodings are the same two objects for many
   viewers are computed once.
6. Viewers bound to get the same new view are grouped and served once: when
   only viewer-independent members changed and nothing that decides who sees
   what, by their last view's objects (and one patch object goes to all of
   them); when per-viewer lists or tables changed only in some rows, by their
   last encoding of those and the changed rows' encodings for each viewer.
   Viewers in a group share their view objects (views are never changed in
   place).

Every one of these caches is checked by tests/views/test_properties.py against
`privacy.render_view`, which evaluates everything from scratch, and the kept
tables, queries and plain commits by tests/views/test_incremental.py against
the encoder from before them (`incremental = False`), frame for frame.
"""
from __future__ import annotations

import gc
import weakref
from bisect import bisect_left, insort
from contextlib import contextmanager

from ..runtime.engine import gc_paused, promote_young
from ..vm._machine import Record
from ..vm.docslots import WHO, as_principal
from ..vm.disasm import instructions
from ..vm.errors import VMError
from ..vm.table import ID_SLOT as TABLE_ID_SLOT, NEXT as TABLE_NEXT, OWNER_SLOT as TABLE_OWNER_SLOT, \
    ROWS as TABLE_ROWS, rows as table_rows
from .delta import MIN_RUN, diff, diff_objects, encode_view
from .privacy import (FreshContext, Renderer, Schema, decisions, records_in, render_view, shown_members,
                      viewer_state, visible)
from .reactive import ChangeTracker, Changes, Formulas

STATE_VERSION = 1
_MISSING = object()
# Key, in a viewer's per-row policy cache, of the row's decisions() (not a
# str, so no policy name can be it)
_MASK = ("decisions",)


def _promote_young() -> None:
    # What a fan-out made (views, patches, frames for thousands of viewers) is
    # promoted as a paused region's survivors are (runtime/engine.py).
    promote_young()


def _in_table(rec) -> bool:
    """Only table rows are tracked row by row (views/reactive.py), so only their
    policy results, formula values and encodings may be cached by identity; a
    row's last slot is its table while it is in one (vm/table.py)."""
    return type(rec.f[-1]) is Record


# Types whose plain value (Renderer.scalar) is already its encoded value: JSON
# scalars, None for a double that is not finite, a principal's two strings
_OWN_ENCODING = frozenset(["int", "long", "bool", "double", "timespan", "principal", "string", "label", "date",
                           "datetime", "time"])


def _encode_member(plain):
    """A member's encoded value, or None when the member is absent."""
    return encode_view({"v": plain}).get("v")


class _ListState:
    """What a list of rows was last encoded from, for patching it next time.
    When `enc` was patched from `base`, `keys` names the rows that differ, so
    the viewer's patch is computed from those rows alone."""

    __slots__ = ("rows", "enc", "base", "keys")

    def __init__(self, rows, enc, base=None, keys=None):
        self.rows = rows
        self.enc = enc
        self.base = base
        self.keys = keys


class _Live:
    """A table member's encoding kept current in place (issue 12): the rows of
    a document table in id order (a `table<R>` field, or a formula that is
    exactly `iterate t`), as the encoded table `enc` (str(id) -> row encoding,
    then "@o": `order`, the shown ids ascending; or {"@s": 0} when no row
    shows), always in the key order a from-scratch encoding has. A
    transaction's inserts, deletes and changed rows are applied to it and its
    patch is made from them alone (_Viewers._live_update), so their cost does
    not grow with the table. `private`: held by one viewer (or, for a shared
    member, by the Viewers) alone, so it may be changed in place; viewers
    grouped by a fan-out share one, which the next change copies first."""

    __slots__ = ("table", "next", "enc", "order", "private")

    def __init__(self, table, next_id, enc, order):
        self.table = table
        self.next = next_id  # the table's next id when `enc` was last brought up to date
        self.enc = enc
        self.order = order
        self.private = True


class _Ranked:
    """An ordered or limited query's rows (the where clause's), sorted as
    seq.order sorts them: `entries` are (key..., id, row) ascending, the id
    standing for the rows' order in their table (a stable sort keeps it);
    `value` the window the formula gives (None: to be made again)."""

    __slots__ = ("table", "next", "entries", "key_of", "value", "last")

    def __init__(self, table, next_id, entries, key_of):
        self.table = table
        self.next = next_id
        self.entries = entries
        self.key_of = key_of  # row -> its entry
        self.value = None
        self.last = None  # the last value made: kept when the window did not change


class _Desc:
    """A string key sorted descending."""

    __slots__ = ("v",)

    def __init__(self, v):
        self.v = v

    def __lt__(self, other):
        return other.v < self.v

    def __eq__(self, other):
        return self.v == other.v

    __hash__ = None


def _rank_entry(keys: list, rec, id_slot: int) -> tuple:
    f = rec.f
    out = []
    for slot, desc, insensitive in keys:
        v = f[slot]
        kind = type(v)
        if kind is str:
            if insensitive:
                v = v.lower()
            out.append(_Desc(v) if desc else v)
        elif kind is int or kind is bool:
            out.append(-v if desc else v)
        else:
            raise TypeError(kind.__name__)
    out.append(f[id_slot])
    out.append(rec)
    return tuple(out)


class _Viewer:
    __slots__ = ("who", "seq", "sent", "items", "lists", "doc_pol", "row_pol", "ctx", "data", "state")

    def __init__(self, who: str, seq: int = 0, sent: dict | None = None, data=None, state=None):
        self.who = who
        self.data = data  # its own state as its client sent it (JSON), or None
        self.state = state  # that state as the machine holds it (@viewer), or None
        self.seq = seq
        self.sent = sent if sent is not None else {}
        self.items: dict = {}  # member name -> its encoding for this viewer (viewer-dependent members)
        self.lists: dict = {}  # member name -> _ListState
        self.doc_pol: dict = {}  # policy name -> bool
        self.row_pol: dict = {}  # row -> {policy name: bool}
        self.ctx = None  # its _Context, made once


class _Item:
    """A top-level member and what its rendering depends on."""

    __slots__ = ("member", "name", "always", "shared", "rows_of", "type_fields", "type_time", "live_slot",
                 "live_where", "where_deps", "where_time", "rank")

    def __init__(self, member, schema, formulas):
        self.member = member
        self.name = member.name
        self.always = member.privacy == "public"  # an unguarded bubble's too
        self.shared = member.kind != "bubble" and not schema.varies(member.desc)
        desc = member.desc
        # list<R> and table<R> members get the row-patching encoder
        self.rows_of = None
        if not isinstance(desc, str) and desc[0] in ("list", "table"):
            inner = desc[1] if desc[0] == "list" else ["record", desc[1]]
            if not isinstance(inner, str) and inner[0] == "record":
                self.rows_of = schema.records[inner[1]]
        deps, time = schema.type_deps(desc)
        self.type_fields, self.type_time = formulas.closure(deps, time)
        # the document slot of the table whose rows, in id order, are the value
        # (kept in place: _Live); set by _Plan
        self.live_slot = None
        # a formula `iterate t where P` (P per row: _where_form): its code is
        # also P's, run on the rows a change touched; what else P reads of
        # the document (and the clock) makes a change re-evaluate it whole
        self.live_where = False
        self.where_deps = frozenset()
        self.where_time = False
        self.rank = None  # a _RankPlan: an ordered or limited query kept sorted (Viewers._ranked)


class _Context(FreshContext):
    """A viewer (or, with who=None, nobody in particular) seen through the caches."""

    def __init__(self, views: "Viewers", viewer: _Viewer | None):
        super().__init__(views.machine, viewer.who if viewer is not None else None,
                         viewer.state if viewer is not None else None)
        self.views = views
        self.viewer = viewer

    def passes(self, policy, rec) -> bool:
        viewer = self.viewer
        if viewer is None:
            return False
        if policy.row:
            if not _in_table(rec):
                return FreshContext.passes(self, policy, rec)
            cache = viewer.row_pol.get(rec)
            if cache is None:
                cache = viewer.row_pol[rec] = {}
        else:
            cache = viewer.doc_pol
        result = cache.get(policy.name)
        if result is None:
            self.views.policy_evaluations += 1
            result = cache[policy.name] = FreshContext.passes(self, policy, rec)
        return result

    def formula(self, member, rec):
        if rec is None:
            return self.views.formulas.get(member.name)
        if not _in_table(rec):
            return FreshContext.formula(self, member, rec)
        cache = self.views.rf_cache.get(rec)
        if cache is None:
            cache = self.views.rf_cache[rec] = {}
        value = cache.get(member.name, _MISSING)
        if value is _MISSING:
            value = cache[member.name] = FreshContext.formula(self, member, rec)
        return value

    def bubble(self, member, rec):
        return FreshContext.bubble(self, member, rec)  # per viewer: never from the shared caches


class _Txn:
    """What one after_commit() learned, shared by every viewer it updates."""

    __slots__ = ("changes", "dirty", "type_dirty", "shared_prev", "same_rows", "row_sets", "memo", "table_rows",
                 "decided", "hints", "live", "kept")

    def __init__(self, changes: Changes):
        self.changes = changes
        self.dirty: set = set()  # top-level member names to re-encode
        self.type_dirty: set = set()  # record types whose rows must be re-rendered
        self.shared_prev: dict = {}  # shared member name -> (prev encoding, prev list state)
        self.same_rows: dict = {}  # (id old rows, id new rows) -> bool
        self.row_sets: dict = {}  # id(rows) -> (rows, set(rows))
        # (id old, id new) -> (old, new, patch); the objects are kept so that
        # an id cannot be reused by another object during the transaction
        self.memo: dict = {}
        self.table_rows: dict = {}  # id(table) -> (table, its rows as a list)
        self.decided: list = []  # changed members whose visibility is decided per viewer
        # the viewer being diffed: member name -> (previous encoding, new
        # one, changed row keys) for the members patched from their previous
        # encoding (Viewers._build)
        self.hints: dict | None = None
        # member name -> {id(enc): (enc, its patch)} for the _Live tables
        # changed in place: a view holding `enc` before and after gets the patch
        self.live: dict = {}
        self.kept: dict = {}  # (where member, the table's next id before) -> the rows its clause keeps (_kept)

    def __call__(self, key, before: dict, now: dict):
        """The patch of the top-level member `key` (views.delta.diff's
        `members` hook): the patch of a pair of encodings is made once per
        transaction and shared by every viewer that holds that pair; for a
        member the viewer's hints say was patched from its previous encoding
        by one row, that row's patch alone (several: a full diff keeps the
        patch's member order that of the table, as from scratch)."""
        hints = self.hints
        hint = hints.get(key) if hints else None
        if hint is not None and hint[0] is before and hint[1] is now and len(hint[2]) == 1:
            return _diff_rows(before, now, hint[2], self.memo)
        return _diff_memo(before, now, self.memo)


def _first(entry):
    return entry[0]


def _second(entry):
    return entry[1]


def _copy_table(enc: dict) -> dict:
    out = dict(enc)
    order = out.get("@o")
    if order is not None:
        out["@o"] = list(order)
    return out


def _diff_memo(before: dict, now: dict, memo: dict):
    pair = (id(before), id(now))
    known = memo.get(pair)
    if known is None or known[0] is not before or known[1] is not now:
        known = memo[pair] = (before, now, diff(before, now))
    return known[2]


def _diff_rows(before: dict, now: dict, keys: list, memo: dict):
    """The patch between two encoded tables that differ only in the rows
    `keys` names (present in both: membership and order are unchanged)."""
    patch = None
    for key in keys:
        change = _diff_memo(before[key], now[key], memo)
        if change is not None:
            if patch is None:
                patch = {}
            patch[key] = change
    return patch


class _Plan:
    """What Viewers need that depends on the module alone: the schema (bound
    to the module's function indices), the members views show and what their
    rendering depends on. Made once per module (_plan_for)."""

    def __init__(self, module):
        meta = module.meta
        self.schema = schema = Schema(meta)
        schema.bind(module)
        formulas = Formulas(None, schema)  # for closures only: they need no machine
        self.items = [_Item(m, schema, formulas) for m in schema.document.members
                      if m.kind == "bubble" or m.privacy != "private"]
        self.item_by_name = {item.name: item for item in self.items}
        for item in self.items:
            if item.rows_of is not None:
                item.live_slot = _table_slot(module, meta, item)
                if item.live_slot is None and item.member.kind == "formula" and item.member.index >= 0:
                    slot = _where_form(module, meta, item)
                    rank = _rank_form(module, meta, item) if slot is None else None
                    if slot is not None:
                        item.live_slot, item.live_where = slot, True
                    elif rank is not None:
                        item.rank = rank
                        slot = rank.slot
                    if slot is not None:
                        deps, time = formulas.deps(item.name)
                        table = next(f["name"] for f in meta["document"]["fields"] if f["slot"] == slot)
                        item.where_deps, item.where_time = deps - {table}, time
        self.layouts = {info["layout"]: name for name, info in meta["records"].items()}
        # per record type, the row slots its decisions() read (row policies of
        # `require` and `use_policy`, `viewer_is` on the row); what they read of
        # the document makes the type dirty (type_closure)
        self.decision_slots = {
            s.name: frozenset().union(*(p.slots for p in s.requires if p.row),
                                      *(p.slots for m in s.members for p in m.policies if p.row),
                                      (slot for m in s.members for on_row, slot in m.viewer_is if on_row))
            for s in schema.records.values()}
        self.type_closure = {name: formulas.closure(s.doc_deps, s.time) for name, s in schema.records.items()}
        self.policy_closure = {}  # document policy -> (fields, clock) it depends on
        self.row_policies = {}  # record type -> {row policy name: Policy}
        for s in [schema.document, *schema.records.values()]:
            for p in [*s.requires, *(p for m in s.members for p in m.policies)]:
                if p.row:
                    self.row_policies.setdefault(s.name, {})[p.name] = p
                else:
                    self.policy_closure[p.name] = formulas.closure(p.doc_reads, p.time)
        # document fields (and the clock) that decide whether a top-level member shows
        shown_by, shown_by_time = set(), False
        for item in self.items:
            m = item.member
            shown_by |= {schema.doc_field_name(slot) for _, slot in m.viewer_is}
            for p in m.policies:
                deps, time = self.policy_closure[p.name]
                shown_by |= deps
                shown_by_time |= time
        self.shown_by, self.shown_by_time = frozenset(shown_by), shown_by_time
        # Document fields nothing else reads (no formula, bubble, policy, row
        # type or visibility), each shown by a public field member whose
        # value is its own encoding, or by nothing: name -> (item, its index
        # among the items) or None. A commit that changed only such fields
        # (and no row) is served by Viewers._plain_commit.
        read = set(shown_by)
        time_read = shown_by_time
        for m in formulas.members.values():
            deps, time = formulas.deps(m.name)
            read |= deps
            time_read |= time
        for deps, time in [*self.policy_closure.values(), *self.type_closure.values()]:
            read |= deps
            time_read |= time
        for item in self.items:
            read |= item.type_fields
            time_read |= item.type_time
        self.time_read = time_read
        self.ranked = [item for item in self.items if item.rank is not None]
        position = {item.name: k for k, item in enumerate(self.items)}
        self.plain_fields = {}
        for m in schema.document.members:
            if m.kind != "field" or m.name in read:
                continue
            item = self.item_by_name.get(m.name)
            if item is None:
                self.plain_fields[m.name] = None
            elif item.always and item.shared and isinstance(m.desc, str) and m.desc in _OWN_ENCODING:
                self.plain_fields[m.name] = (item, position[m.name])


def _table_slot(module, meta: dict, item: _Item) -> int | None:
    """The slot of the document table whose rows, in id order, are `item`'s
    value: a `table<R>` field's own, or that of a formula whose code is
    exactly `iterate t` (FGETO t; CALLHOST table.rows; ORET: the compiler's
    code for it); None for anything else (a where, order by or limit clause,
    any other expression: evaluated and encoded as before)."""
    m = item.member
    tables = {f["slot"]: f["type"][1] for f in meta["document"]["fields"]
              if not isinstance(f["type"], str) and f["type"][0] == "table"}
    if m.kind == "field":
        slot = m.slot
    elif m.kind == "formula" and m.index >= 0:
        code = list(instructions(module, module.functions[m.index]))
        if len(code) != 3 or [ins.op for ins in code] != ["FGETO", "CALLHOST", "ORET"]:
            return None
        get, call, ret = (ins.operands for ins in code)
        reg = get[0].value
        if (len(get) != 2 or get[1].kind != "fld" or len(call) != 2 or call[0].value != reg
                or call[1].kind != "host" or module.hosts[call[1].value].name.partition("(")[0] != "table.rows"
                or len(ret) != 1 or ret[0].value != reg):
            return None
        slot = get[1].value
    else:
        return None
    return slot if tables.get(slot) == item.rows_of.name else None


# Instructions a `where` clause may hold to be run row by row on the rows a
# change touched (_where_form): register moves and constants, arithmetic and
# comparisons, jumps, boxing, strings, reads of rows and of document fields,
# reads of lists and maps. No call (a procedure or host could read the table,
# or write), no write anywhere.
_WHERE_OPS = frozenset("""
JMP IMOV DMOV OMOV ILOADI ILOADK DLOADK OLOADK ONULL
IADD ISUB IMUL IADDI IADDK ISUBK IMULK INEG IDIV IMOD IDIVK IMODK
LADD LSUB LMUL LADDI LADDK LSUBK LMULK LNEG LDIV LMOD LDIVK LMODK
DADD DSUB DMUL DADDK DSUBK DMULK DNEG DDIV DMOD DDIVK I2D L2I D2I D2L NOT
ILT ILE IEQ INE DLT DLE DEQ DNE ILTJ ILEJ IEQJ ILTJK ILEJK IGTJK IGEJK IEQJK DLTJ DLEJ DEQJ
TESTJ NULLJ IBOX BBOX DBOX IUNBOX DUNBOX OEQ SCAT SLEN SLT SLE ITOS DTOS BTOS
LLEN LGET MGET MHAS MLEN RGETI RGETD RGETO FGETI FGETD FGETO
""".split())


def _where_form(module, meta: dict, item: _Item) -> int | None:
    """The table slot of a formula whose code is exactly the compiler's
    `iterate t where P` loop (FGETO t; LNEW; ILOADI 0; TNEXT row -> end; P,
    jumping back to TNEXT to skip; LPUSH row; JMP TNEXT; end: ORET list)
    with a P of _WHERE_OPS alone that reads no other slot of t's field, nor
    the table, list or row registers but to read the row; else None. Such a
    formula run on a table holding some rows gives those of them P keeps, in
    id order: views run it on the rows a change touched."""
    code = list(instructions(module, module.functions[item.member.index]))
    made = _where_loop(code)
    if made is None:
        return None
    slot, out, end = made
    if end != len(code) - 1 or code[end].op != "ORET" or code[end].operands[0].value != out:
        return None
    return _table_of(meta, item, slot)


def _table_of(meta: dict, item: _Item, slot: int) -> int | None:
    tables = {f["slot"]: f["type"][1] for f in meta["document"]["fields"]
              if not isinstance(f["type"], str) and f["type"][0] == "table"}
    return slot if tables.get(slot) == item.rows_of.name else None


def _where_loop(code: list):
    """(table slot, list register, index of the instruction after the loop)
    when `code` opens with the compiler's `iterate t where P` loop (see
    _where_form), else None."""
    if len(code) < 7:
        return None
    ops = [ins.op for ins in code]
    if ops[:4] != ["FGETO", "LNEW", "ILOADI", "TNEXT"]:
        return None
    get, new, zero, walk = (ins.operands for ins in code[:4])
    if get[1].kind != "fld" or zero[1].value != 0 or walk[3].kind != "sj":
        return None
    slot, table, out, row, pos = get[1].value, get[0].value, new[0].value, walk[0].value, walk[2].value
    loop = code[3].pc
    end_pc = code[3].pc + code[3].width + walk[3].value
    end = next((k for k, ins in enumerate(code) if ins.pc == end_pc), None)
    if end is None or end < 7 or ops[end - 2:end] != ["LPUSH", "JMP"]:
        return None
    push, back = code[end - 2].operands, code[end - 1].operands
    if (walk[1].value != table or push[0].value != out or push[1].value != row
            or code[end - 1].pc + code[end - 1].width + back[0].value != loop):
        return None
    for ins in code[4:end - 2]:
        if ins.op not in _WHERE_OPS:
            return None
        first = True
        for operand in ins.operands:
            if operand.kind == "o" and (operand.value in (table, out) or (first and operand.value == row)):
                return None  # the table or the list touched, or the row register written
            if operand.kind == "i" and first and operand.value == pos:
                return None
            if operand.kind == "fld" and ins.op.startswith("FGET") and operand.value == slot:
                return None
            if operand.kind == "sj" and not loop <= ins.pc + ins.width + operand.value <= code[end - 2].pc:
                return None  # a jump out of the clause (only back to TNEXT, or on inside it)
            first = False
    return slot, out, end


# Types whose values sort in Python as seq.order sorts them, with no NaN
_SORTABLE = frozenset(["int", "long", "bool", "string"])


class _RankPlan:
    """A formula `iterate t [where P] [order by k, ...] [limit n]` with an
    order or a limit (_rank_form): what views need to keep its value
    current without running it over every row."""

    __slots__ = ("slot", "where", "keys", "limit")

    def __init__(self, slot, where, keys, limit):
        self.slot = slot
        self.where = where  # whether a where clause filters the rows (run on rows: Viewers._kept)
        self.keys = keys  # [(slot, descending, insensitive)], most significant first; [] for none
        self.limit = limit  # int, or None


def _rank_form(module, meta: dict, item: _Item):
    """The _RankPlan of a formula whose code is the compiler's `iterate t`
    (FGETO t; CALLHOST table.rows) or `iterate t where P` loop (_where_loop),
    then `order by` with a constant key list (OMOV; OLOADK keys; CALLHOST
    seq.order) on keys of _SORTABLE types and/or `limit` with a constant
    (OMOV; ILOADI or ILOADK n; CALLHOST seq.limit), then ORET; else None."""
    fn = module.functions[item.member.index]
    code = list(instructions(module, fn))
    hosts = module.hosts

    def host(ins):
        return hosts[ins.operands[1].value].name.partition("(")[0] if ins.op == "CALLHOST" else None

    made = _where_loop(code)
    if made is not None:
        slot, reg, at = made
        where = True
    elif len(code) > 2 and code[0].op == "FGETO" and code[0].operands[1].kind == "fld" \
            and host(code[1]) == "table.rows" and code[1].operands[0].value == code[0].operands[0].value:
        slot, reg, at, where = code[0].operands[1].value, code[0].operands[0].value, 2, False
    else:
        return None
    keys, limit = None, None
    while at + 2 < len(code) and code[at].op == "OMOV" and code[at].operands[1].value == reg:
        base = code[at].operands[0].value
        arg, call = code[at + 1], code[at + 2]
        if call.op != "CALLHOST" or call.operands[0].value != base or arg.operands[0].value != base + (
                1 if arg.op == "OLOADK" else 0):
            return None
        name = host(call)
        if name == "seq.order" and arg.op == "OLOADK" and keys is None and limit is None:
            spec = fn.kobj[arg.operands[1].value]
            keys = [(int(k[0]), bool(k[1]), len(k) > 2 and bool(k[2])) for k in spec]
        elif name == "seq.limit" and arg.op in ("ILOADI", "ILOADK") and limit is None:
            limit = arg.operands[1].value if arg.op == "ILOADI" else fn.kint[arg.operands[1].value]
        else:
            return None
        reg, at = base, at + 3
    if at != len(code) - 1 or code[at].op != "ORET" or code[at].operands[0].value != reg:
        return None
    if (keys is None and limit is None) or (limit is not None and limit <= 0):
        return None
    record = meta["records"][item.rows_of.name]
    types = {f["slot"]: f["type"] for f in record["fields"]}
    for key_slot, _, insensitive in keys or ():
        desc = types.get(key_slot)
        if not (desc in _SORTABLE or (not isinstance(desc, str) and desc[0] == "enum")) \
                or (insensitive and desc != "string"):
            return None
    if _table_of(meta, item, slot) is None:
        return None
    return _RankPlan(slot, where, keys or [], limit)


# module -> its _Plan, by identity (weak: a module dropped is forgotten; a
# module does not change once it runs, vm/module.py)
_plans: dict = {}


def _plan_for(module) -> _Plan:
    known = _plans.get(id(module))
    if known is not None and known[0]() is module:
        return known[1]
    plan = _Plan(module)
    key = id(module)
    _plans[key] = (weakref.ref(module, lambda _, key=key: _plans.pop(key, None)), plan)
    return plan


# Viewers' parts made on first use (_setup): a document nobody views never
# makes them (a replay, a document woken for a timer).
_LAZY = frozenset(["schema", "renderer", "tracker", "formulas", "items", "item_by_name", "layouts",
                   "type_closure", "policy_closure", "row_policies", "shown_by", "shown_by_time",
                   "decision_slots", "plain_fields", "time_read", "ranked"])


class Viewers:
    # Tables kept in place (_Live); False: every table member is encoded from
    # its rows as before issue 12 (the tests' oracle for byte-identical frames)
    incremental = True

    def __init__(self, engine):
        self.engine = engine
        self.machine = engine.machine
        self.viewers: dict[str, _Viewer] = {}
        # encoded tables shared between viewers: interned by their row objects,
        # and patched versions by (base, replaced rows); emptied at every commit
        self.tables: dict = {}
        self.shared_enc: dict = {}  # shared member name -> encoding (current)
        self.shared_lists: dict = {}  # shared member name -> _ListState
        self.rf_cache: dict = {}  # row -> {record formula: value}
        self.row_cache: dict = {}  # row -> {mask: encoded row}
        self.policy_evaluations = 0
        self._txn: _Txn | None = None
        self._with_records: dict = {}  # id(type descriptor) -> (it, whether records are inside)
        self._pruned = 0  # the tracker's rebuilds at the last _prune()
        self.rank_state: dict = {}  # ordered or limited query's name -> its _Ranked

    def __getattr__(self, name):
        if name in _LAZY and "tracker" not in self.__dict__:
            self._setup()
            return getattr(self, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _setup(self) -> None:
        plan = _plan_for(self.machine.module)
        for name in ("schema", "items", "item_by_name", "layouts", "type_closure", "policy_closure",
                     "row_policies", "shown_by", "shown_by_time", "decision_slots", "plain_fields", "time_read",
                     "ranked"):
            setattr(self, name, getattr(plan, name))
        self.renderer = Renderer(self.schema, self.machine)
        self.formulas = Formulas(self.machine, self.schema)
        self.tracker = ChangeTracker(self.machine, self.engine.meta)  # its first observation: everything

    # ------------------------------------------------------------ the contract

    @property
    def evaluations(self):
        """Machine evaluations per document formula (a Counter)."""
        return self.formulas.evaluations

    def connect(self, who: str, state=None) -> list[dict]:
        """Add a viewer (a reconnecting one starts over) with its own state
        (`state`: the JSON its client sent, for @viewer; None: the defaults).
        Viewers already connected are brought up to date first, so their
        frames come first; the last frame is the newcomer's full view, seq 1.
        Raises ValueError, before anything changes, when `state` does not fit
        the document's `view` declarations."""
        held = viewer_state(self.engine, state)
        if self.viewers:
            frames = self.after_commit()
        else:
            # nobody watched: catch the caches up with what changed meanwhile
            # (everything, when after_commit() stopped following)
            frames = []
            self._begin(self.tracker.observe())
        who = as_principal(who)
        if who in self.viewers:  # starting over: its rows' bubbles may have read its old state
            self._forget_rows(who)
        viewer = self.viewers[who] = _Viewer(who, data=state, state=held)
        with self._who_kept():
            self._txn = _Txn(Changes())
            try:
                view = self._build(viewer, {})
            finally:
                self._txn = None
        viewer.sent = view
        viewer.seq = 1
        frames.append({"to": who, "delta": self._escape(view, viewer), "seq": 1})
        return frames

    def update(self, who: str, state) -> list[dict]:
        """A connected viewer's new own state (JSON, as its client sent it):
        its bubbles are computed again with it (the document's, and the rows'
        when a record has bubbles), and the frame is its patch (none when its
        view did not change). Other viewers are brought up to date first.
        Raises KeyError for a viewer not connected and ValueError when `state`
        does not fit the `view` declarations."""
        who = as_principal(who)
        if who not in self.viewers:
            raise KeyError(who)
        held = viewer_state(self.engine, state)
        frames = self.after_commit()
        viewer = self.viewers[who]
        viewer.data, viewer.state = state, held
        viewer.ctx = None
        if self.schema.filters:  # view filters read the state: what they decided is decided again
            viewer.doc_pol = {n: v for n, v in viewer.doc_pol.items() if not n.startswith("|")}
            viewer.row_pol.clear()  # rows' decisions (masks) may hold a filter's answer
        if self.schema.filters or \
                any(m.kind == "bubble" for shape in self.schema.records.values() for m in shape.members):
            # rows' bubbles read @viewer too: this viewer's rows and members are made again
            viewer.items.clear()
            viewer.lists.clear()
            self._forget_rows(who)
        for item in self.items:
            if item.member.kind == "bubble":
                viewer.items.pop(item.name, None)
                viewer.lists.pop(item.name, None)
        with self._who_kept(), gc_paused():
            txn = self._txn = _Txn(Changes())
            try:
                hints = {}
                new = self._build(viewer, hints)
                txn.hints = hints
                patch = self._finish(viewer.sent, new, diff_objects(viewer.sent, new, txn), txn, viewer)
            finally:
                self._txn = None
                self.tables.clear()
        viewer.sent = new
        if patch is not None:
            viewer.seq += 1
            frames.append({"to": who, "delta": patch, "seq": viewer.seq})
        return frames

    def disconnect(self, who: str) -> None:
        who = as_principal(who)
        if self.viewers.pop(who, None) is not None:
            self._forget_rows(who)

    def _forget_rows(self, who: str) -> None:
        # encodings of rows that embed this viewer's bubbles are its alone
        for masks in self.row_cache.values():
            for key in [k for k in masks if len(k) == 2 and type(k[0]) is tuple and k[1] == who]:
                del masks[key]

    def connected(self) -> list[str]:
        return list(self.viewers)

    def plain_view(self, who: str) -> dict:
        """What `who` may see now, as the client holds it (tables and lists as
        arrays); computed from scratch, so it never depends on a cache."""
        viewer = self.viewers.get(as_principal(who))
        return render_view(self.engine, who, self.schema, viewer.data if viewer is not None else None)

    def invalidate(self) -> None:
        """Something formulas read besides the document's fields changed (a
        service call's result arrived, runtime/services.py): the next
        after_commit() evaluates every member again and sends what differs."""
        if "tracker" in self.__dict__:
            self.tracker.reset()
            self.formulas.clear()

    def after_commit(self) -> list[dict]:
        """Delta frames for every viewer whose view changed in the transactions
        committed since the last call; none for the others."""
        if not self.viewers:
            # Nobody to tell: do not even look (a document replaying or serving
            # nobody pays nothing here); the first connect() catches up.
            if "tracker" in self.__dict__:
                self.tracker.lose()
                self.rank_state.clear()  # the first connect sorts again (it sees everything as changed)
            return []
        changes = self.tracker.observe()
        if not changes:
            return []
        if self.incremental and not changes.rows and not changes.gone and not changes.everything \
                and not (changes.time and self.time_read) \
                and self.tracker.rebuilds == self._pruned:
            frames = self._plain_commit(changes.fields)
            if frames is not None:
                return frames
        txn = self._begin(changes)
        frames = []
        if not txn.dirty and not (changes.time and self.shown_by_time) \
                and self.shown_by.isdisjoint(changes.fields):
            return frames  # nothing anyone sees, nor whether they see it, changed
        # like a transaction, fan-out allocates many small containers; the
        # cyclic collector would rescan every viewer's state again and again
        with self._who_kept(), gc_paused():
            self._txn = txn
            try:
                if self._only_shared(txn):
                    self._fan_out_shared(txn, frames)
                else:
                    self._fan_out(txn, frames)
            finally:
                self._txn = None
                # the tables interned for this fan-out go with it, not with the
                # next commit (which may have nothing to show)
                self.tables.clear()
            _promote_young()
        return frames

    def _plain_commit(self, fields: set):
        """The frames of a commit that changed only document fields nothing
        else reads (_Plan.plain_fields), each shown to every viewer alike as
        its own encoding, or shown to nobody: the new values replace the old
        ones in each view (views holding the same object get one new view and
        one patch); None when this commit is not one (a field read by
        something, a member that appears or goes: after_commit's general way)."""
        plain = self.plain_fields
        changed = []
        for name in fields:
            known = plain.get(name, _MISSING)
            if known is _MISSING:
                return None
            if known is not None:
                changed.append(known)
        if not changed:
            return []  # nothing anyone sees changed
        f = self.machine.doc.f
        scalar = self.renderer.scalar
        values = []
        if len(changed) > 1:
            changed.sort(key=_second)
        for item, _ in changed:
            m = item.member
            enc = scalar(f[m.slot], m.desc)
            if enc is None or type(enc) is dict:
                return None  # a member that goes (diff() orders its deletion), or an object (diffed inside)
            values.append((item.name, enc))
        shared = self.shared_enc
        frames = []
        made: dict = {}  # id(last view) -> (last view, new view, patch)
        for viewer in self.viewers.values():
            sent = viewer.sent
            if id(sent) not in made:
                patch = None
                new = None
                for name, enc in values:
                    before = sent.get(name, _MISSING)
                    if before is _MISSING:
                        return None  # a member that appears: its place is the items' order
                    if before is enc or (before == enc and type(before) is type(enc)):
                        continue
                    if new is None:
                        new = dict(sent)
                        patch = {}
                    new[name] = enc
                    patch[name] = enc
                made[id(sent)] = (sent, new, patch)
        for viewer in self.viewers.values():  # every view known: now they change
            known = made[id(viewer.sent)]
            if known[2] is not None:
                viewer.sent = known[1]
                viewer.seq += 1
                frames.append({"to": viewer.who, "delta": known[2], "seq": viewer.seq})
        for name, enc in values:
            shared[name] = enc
        return frames

    def _fan_out(self, txn: _Txn, frames: list) -> None:
        """Each viewer's new view and patch. Viewers whose new view is bound to
        be the same (_class_key) take the first one's, made once."""
        grouped = self._groupable(txn)
        classes: dict = {}
        views: dict = {}  # id(last view) -> (it, its part of a class key), made once per distinct view
        for viewer in self.viewers.values():
            key = self._class_key(viewer, txn, grouped, views) if grouped is not None else None
            known = classes.get(key) if key is not None else None
            if known is not None:
                _, new, patch, items, lists = known
                viewer.items.update(items)
                if lists:
                    viewer.lists.update(lists)
                    if known[0] is not None:
                        for state in lists.values():
                            if type(state) is _Live:
                                state.private = False  # held by several viewers now: copied before a change
                        classes[key] = (None, new, patch, items, lists)  # `views` keeps the last view
            else:
                hints = {}
                sent = viewer.sent
                new = self._build(viewer, hints)
                txn.hints = hints
                patch = self._finish(sent, new, diff_objects(sent, new, txn), txn, viewer)
                if key is not None:
                    names = [entry[0].name for entry in grouped]
                    # `sent` is kept so that the ids in `key` stay its values'
                    classes[key] = (sent, new, patch, {n: viewer.items[n] for n in names if n in viewer.items},
                                    {n: viewer.lists[n] for n in names if n in viewer.lists})
            viewer.sent = new
            if patch is not None:
                viewer.seq += 1
                frames.append({"to": viewer.who, "delta": patch, "seq": viewer.seq})

    def _groupable(self, txn: _Txn):
        """The changed per-viewer members as (item, its rows, the changed rows
        among them), when viewers can be grouped by what they will see of them
        (every one is a list or table of records that only changed rows, of no
        changed type and with the same ids, can have changed), else None."""
        changes = txn.changes
        if changes.everything or (changes.time and self.shown_by_time) \
                or not self.shown_by.isdisjoint(changes.fields) or len(self.viewers) < 2:
            return None
        txn.decided = [self.item_by_name[name] for name in txn.dirty if not self.item_by_name[name].always]
        out = []
        for name in txn.dirty:
            item = self.item_by_name[name]
            if item.shared:
                continue
            shape = item.rows_of
            if item.member.kind == "bubble" or shape is None or shape.name in txn.type_dirty:
                return None
            out.append([item, None, None])  # its rows and changed rows: on first need (_rows_touched)
        return out

    def _rows_touched(self, entry: list) -> bool:
        """Fill a _groupable() entry's rows and changed rows (its value is the
        same for every viewer: not a bubble); False when the value cannot be
        patched by rows (absent, or a changed row changed its id)."""
        item = entry[0]
        changed = self._txn.changes.rows
        if item.live_slot is not None and self.incremental:
            table = self.machine.doc.f[item.live_slot]
            if type(table) is not Record:
                entry[1] = entry[2] = False
                return False
            touched = []
            for rec, slots in changed.items():
                if rec.f[-1] is table:
                    if item.rows_of.id_slot in slots:
                        entry[1] = entry[2] = False
                        return False
                    touched.append(rec)
            entry[1], entry[2] = table, touched  # the inserted rows: per _Live (_class_key)
            return True
        value = self._value(item.member, None)
        if value is None:
            entry[1] = entry[2] = False
            return False
        rows = self._rows_of(value)
        members = self._row_set(rows) if len(changed) > 4 or len(rows) > 8 else rows
        touched = []
        for rec, slots in changed.items():
            if rec in members:
                if item.rows_of.id_slot in slots:
                    entry[1] = entry[2] = False
                    return False
                touched.append(rec)
        entry[1], entry[2] = rows, touched
        return True

    def _class_key(self, viewer: _Viewer, txn: _Txn, grouped: list, views: dict):
        """What decides this viewer's new view, as a key, or None when that is
        not known without building it. The view is its last one (`sent`: its
        members and their objects) with the changed members replaced; shared
        ones are the same for all; a changed list or table of records whose
        rows are the same objects as last time is its last encoding (the
        object) with the changed rows' encodings for this viewer put in, so
        those encodings (objects, cached per row and decision mask) decide it."""
        sent = viewer.sent
        ctx = viewer.ctx
        if ctx is None:
            ctx = viewer.ctx = _Context(self, viewer)
        doc_f = self.machine.doc.f
        known = views.get(id(sent))
        if known is None or known[0] is not sent:
            # `views` keeps `sent`, so the ids in its part stay its values'
            known = views[id(sent)] = (sent, (tuple(sent), tuple(map(id, sent.values()))))
        parts = [known[1]]
        if txn.decided:
            doc = self.machine.doc
            for item in txn.decided:
                parts.append(visible(item.member, doc, ctx, doc_f))
        lists = viewer.lists
        for entry in grouped:
            item, rows, touched = entry
            if not item.always and not visible(item.member, self.machine.doc, ctx, doc_f):
                continue
            if rows is None:
                if not self._rows_touched(entry):
                    return None
                rows, touched = entry[1], entry[2]
            elif rows is False:
                return None
            prev = lists.get(item.name)
            shape = item.rows_of
            if type(prev) is _Live:
                # its last encoding, and this viewer's encodings of the rows
                # changed and inserted (deletes are the same for all who hold it)
                if prev.table is not rows or prev.order is None:
                    return None
                parts.append(id(prev.enc))
                if prev.next != rows.f[TABLE_NEXT]:
                    by_id = rows.f[TABLE_ROWS]
                    touched = [*touched, *(rec for rid in range(prev.next, rows.f[TABLE_NEXT])
                                           if (rec := by_id.get(rid)) is not None)]
            elif prev is None or type(rows) is not list or \
                    (prev.rows is not rows and not self._same_rows(prev.rows, rows)):
                return None
            else:
                parts.append(id(prev.enc))
            for rec in touched:
                row = self._row(rec, shape, ctx, doc_f)
                parts.append(0 if row is None else id(row))
        return tuple(parts)

    def _only_shared(self, txn: _Txn) -> bool:
        """Whether only members every viewer sees alike changed, and nothing
        that decides who sees what: then each viewer's new view is its last
        one with those members replaced."""
        changes = txn.changes
        if changes.everything or (changes.time and self.shown_by_time) \
                or not self.shown_by.isdisjoint(changes.fields):
            return False
        by_name = self.item_by_name
        return all(by_name[name].shared for name in txn.dirty)

    def _fan_out_shared(self, txn: _Txn, frames: list) -> None:
        """after_commit() when _only_shared(): viewers that held the same view
        and see the same changed members get the same new view and the same
        patch, made once (views are never changed in place, so sharing is safe)."""
        dirty = [item for item in self.items if item.name in txn.dirty]
        decided = [item for item in dirty if not item.always]
        doc = self.machine.doc
        doc_f = doc.f
        # (last view's members, their objects, visibility) -> (last view, new view, patch);
        # the last views are kept alive here, so the ids in a key stay theirs
        made: dict = {}
        same: dict = {}  # id(last view) -> made[...] (viewers that share one view object)
        held: list = []
        patches: dict = {}  # (member, id of its change) per member -> the patch (which holds them)
        for viewer in self.viewers.values():
            sent = viewer.sent
            if not decided:
                known = same.get(id(sent))
                if known is not None:
                    viewer.sent = known[1]
                    if known[2] is not None:
                        viewer.seq += 1
                        frames.append({"to": viewer.who, "delta": known[2], "seq": viewer.seq})
                    continue
            if decided:
                ctx = viewer.ctx
                if ctx is None:
                    ctx = viewer.ctx = _Context(self, viewer)
                key = (tuple(sent), tuple(map(id, sent.values())),
                       tuple([visible(item.member, doc, ctx, doc_f) for item in decided]))
            else:
                key = (tuple(sent), tuple(map(id, sent.values())))
            known = made.get(key)
            if known is None:
                shown = set(item.name for item in dirty) if not decided else \
                    {item.name for item, seen in zip(decided, key[2]) if seen} | \
                    {item.name for item in dirty if item.always}
                new = {}
                for item in self.items:
                    name = item.name
                    if name in txn.dirty:
                        # encoded on first need: a member nobody sees is never evaluated
                        value = self._shared(item) if name in shown else None
                        if value is not None:
                            new[name] = value
                    elif name in sent:
                        new[name] = sent[name]
                patch = self._finish(sent, new, diff_objects(sent, new, txn), txn, None)
                if patch is not None:
                    # viewers whose views differ elsewhere mostly get equal patches: one object
                    pkey = tuple([(k, id(v)) for k, v in patch.items()])
                    patch = patches.setdefault(pkey, patch)
                known = made[key] = (sent, new, patch)
            if not decided:
                same[id(sent)] = known
                held.append(sent)  # its id must stay its own while `same` is in use
            viewer.sent = known[1]
            patch = known[2]
            if patch is not None:
                viewer.seq += 1
                frames.append({"to": viewer.who, "delta": patch, "seq": viewer.seq})

    def state(self) -> dict:
        """The viewers and what each was last sent (CBOR-able)."""
        return {"version": STATE_VERSION,
                "viewers": [{"who": v.who, "seq": v.seq, "view": self._escape(v.sent, v),
                             **({"state": v.data} if v.data is not None else {})} for v in self.viewers.values()]}

    def load(self, state: dict) -> None:
        """Viewers back from `state()`; every cache starts empty, so the next
        after_commit() compares against exactly what each viewer holds."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"viewer state version {state.get('version')!r}, expected {STATE_VERSION}")
        self.viewers = {v["who"]: _Viewer(v["who"], v["seq"], v["view"], v.get("state"),
                                          viewer_state(self.engine, v.get("state")))
                        for v in state["viewers"]}
        if "tracker" in self.__dict__:
            # Made already (_setup): forget what they saw. Not made yet (a
            # wake): they start empty when first used, so a document woken
            # for a timer or a replay never makes them (issue 12 point 5).
            self.tracker.reset()
            self.formulas.clear()
        self.shared_enc.clear()
        self.shared_lists.clear()
        self.rf_cache.clear()
        self.row_cache.clear()
        self.tables.clear()
        self.rank_state.clear()

    # ------------------------------------------------------------ one transaction

    @contextmanager
    def _who_kept(self):
        # policies and bubbles run with @who = the viewer; the document's own
        # @who slot must read afterwards as the transaction left it
        f = self.machine.doc.f
        saved = f[WHO]
        try:
            yield
        finally:
            f[WHO] = saved

    def _begin(self, changes: Changes) -> _Txn:
        txn = _Txn(changes)
        self.tables.clear()
        stale = self.formulas.stale(changes)
        fields = changes.fields
        if self.rank_state:
            self._rank_follow(changes, txn)
        if self.tracker.rebuilds != self._pruned:
            self._pruned = self.tracker.rebuilds
            if not changes.everything:
                self._prune()
        if changes.everything:
            txn.type_dirty = set(self.schema.records)
            self.rf_cache.clear()
            self.row_cache.clear()
            self.shared_lists.clear()
            self.shared_enc.clear()
            for viewer in self.viewers.values():
                viewer.items.clear()
                viewer.lists.clear()
                viewer.doc_pol.clear()
                viewer.row_pol.clear()
        else:
            for name, (deps, time) in self.type_closure.items():
                if (time and changes.time) or not deps.isdisjoint(fields):
                    txn.type_dirty.add(name)
            self._invalidate_rows(changes, txn.type_dirty)
            stale_policies = [name for name, (deps, time) in self.policy_closure.items()
                              if (time and changes.time) or not deps.isdisjoint(fields)]
            drops = self._row_policy_drops(changes) if changes.rows else []
            if stale_policies or drops or txn.type_dirty:
                for viewer in self.viewers.values():
                    for name in stale_policies:
                        viewer.doc_pol.pop(name, None)
                    if viewer.row_pol:
                        self._invalidate_viewer_rows(viewer, drops, txn.type_dirty)
        for item in self.items:
            name = item.name
            if (changes.everything or name in fields or name in stale
                    or (item.type_time and changes.time) or not item.type_fields.isdisjoint(fields)):
                txn.dirty.add(name)
                if item.shared:
                    txn.shared_prev[name] = (self.shared_enc.pop(name, None), self.shared_lists.pop(name, None))
                else:
                    for viewer in self.viewers.values():
                        viewer.items.pop(name, None)
        return txn

    def _of_type(self, rec) -> str | None:
        return self.layouts.get(rec.layout)

    def _invalidate_rows(self, changes: Changes, type_dirty: set) -> None:
        for rec in changes.rows:
            self.rf_cache.pop(rec, None)
            self.row_cache.pop(rec, None)
        self._forget_gone(changes)
        if type_dirty:
            for cache in (self.rf_cache, self.row_cache):
                for rec in [r for r in cache if self._of_type(r) in type_dirty]:
                    del cache[rec]

    def _prune(self) -> None:
        """Drop what is cached for rows no table of the document holds any
        more: a nested table's rows go with the record, map entry or row that
        held the table, and no delete reports them. Run when the tracker has
        just rebuilt its map of owners (which it does as the map grows), so
        the caches hold no more dead rows than the map grew by."""
        holds = self.tracker.holds
        for cache in (self.rf_cache, self.row_cache, *(v.row_pol for v in self.viewers.values())):
            dead = [rec for rec in cache if not holds(rec)]
            for rec in dead:
                del cache[rec]

    def _forget_gone(self, changes: Changes) -> None:
        for rec in changes.gone:
            self.rf_cache.pop(rec, None)
            self.row_cache.pop(rec, None)
            for viewer in self.viewers.values():
                viewer.row_pol.pop(rec, None)

    def _row_policy_drops(self, changes: Changes) -> list:
        """Per changed row whose change makes something of a viewer's cache
        for it stale: (row, the row policies and decisions (_MASK) to drop)
        (None: a row of no known type: drop all); worked out once per
        transaction, applied to each viewer's cache. A viewer's cache for a row
        only ever holds that row type's policies and _MASK."""
        out = []
        for rec, slots in changes.rows.items():
            shape = self.schema.records.get(self._of_type(rec))
            if shape is None:
                out.append((rec, None))
                continue
            policies = self.row_policies.get(shape.name, {})
            names = [n for n, p in policies.items() if not p.slots.isdisjoint(slots)]
            if not self.decision_slots[shape.name].isdisjoint(slots):
                names.append(_MASK)
            if names:  # a change no decision reads leaves every viewer's cache as it is
                out.append((rec, names))
        return out

    def _invalidate_viewer_rows(self, viewer: _Viewer, drops: list, type_dirty: set) -> None:
        row_pol = viewer.row_pol
        if type_dirty:
            for rec in [r for r in row_pol if self._of_type(r) in type_dirty]:
                del row_pol[rec]
        for rec, names in drops:
            cached = row_pol.get(rec)
            if cached is None:
                continue
            if names is None:
                del row_pol[rec]
                continue
            for name in names:
                cached.pop(name, None)

    # ------------------------------------------------------------ building views

    def _build(self, viewer: _Viewer, hints: dict) -> dict:
        """The viewer's encoded view; `hints` gets, per member patched from its
        previous encoding, (previous, new, changed row keys)."""
        txn = self._txn
        ctx = viewer.ctx
        if ctx is None:
            ctx = viewer.ctx = _Context(self, viewer)
        doc = self.machine.doc
        doc_f = doc.f
        out = {}
        for item in self.items:
            m = item.member
            name = item.name
            if not item.always and not visible(m, doc, ctx, doc_f):
                if name in txn.dirty:
                    # the rows it was built from changed unseen: start over when it shows again
                    viewer.lists.pop(name, None)
                continue
            if item.shared:
                enc = self._shared(item)
            else:
                enc = viewer.items.get(name, _MISSING)
                if enc is _MISSING:
                    prev = viewer.lists.pop(name, None)
                    made = self._encode_live(item, ctx, prev) \
                        if item.live_slot is not None and self.incremental else None
                    if made is None:
                        made = self._encode(item, self._value(m, ctx), ctx,
                                            prev if type(prev) is _ListState else None)
                    enc, state = made
                    viewer.items[name] = enc
                    if state is not None:
                        viewer.lists[name] = state
                        if type(state) is _ListState and state.keys is not None:
                            hints[name] = (state.base, enc, state.keys)
            if enc is not None:
                out[name] = enc
        return out

    def _value(self, m, ctx):
        if m.kind == "field":
            return self.machine.doc.f[m.slot]
        if m.kind == "formula":
            if self.incremental:
                item = self.item_by_name.get(m.name)
                if item is not None and item.rank is not None:
                    return self._ranked(item)
            return self.formulas.get(m.name)
        return ctx.bubble(m, None)

    def _shared(self, item: _Item):
        name = item.name
        enc = self.shared_enc.get(name, _MISSING)
        if enc is not _MISSING:
            return enc
        prev_enc, prev_state = self._txn.shared_prev.pop(name, (None, None))
        if prev_state is None:
            prev_state = self.shared_lists.pop(name, None)
        ctx = _Context(self, None)
        made = self._encode_live(item, ctx, prev_state) \
            if item.live_slot is not None and self.incremental else None
        if made is None:
            made = self._encode(item, self._value(item.member, ctx), ctx,
                                prev_state if type(prev_state) is _ListState else None)
        enc, state = made
        if type(state) is not _Live and prev_enc is not None and enc is not None and enc is not prev_enc \
                and type(enc) is dict and type(prev_enc) is dict and diff(prev_enc, enc) is None:
            enc = prev_enc  # same content: keep the object every viewer already holds
        self.shared_enc[name] = enc
        if state is not None:
            self.shared_lists[name] = state
        return enc

    # ------------------------------------------------------------ live tables

    def _encode_live(self, item: _Item, ctx, prev):
        """(encoding, _Live) of a member whose value is a document table's rows
        in id order (item.live_slot), brought up to date from `prev` by the
        transaction's changes when it can be, else encoded from the rows;
        None when the rows cannot be a table (then the caller evaluates the
        member as any other)."""
        table = self.machine.doc.f[item.live_slot]
        if type(table) is not Record:
            return None
        shape = item.rows_of
        txn = self._txn
        changes = txn.changes
        if (type(prev) is _Live and prev.table is table and prev.order is not None
                and not changes.everything and shape.name not in txn.type_dirty
                and not (item.live_where and ((item.where_time and changes.time)
                                              or not item.where_deps.isdisjoint(changes.fields)))):
            made = self._live_update(item, prev, shape, ctx)
            if made is not None:
                return made
        rows = None
        if item.live_where:
            rows = self.formulas.get(item.name)  # the clause over every row, in the machine
            if type(rows) is not list:
                return None
        return self._live_build(table, shape, ctx, None if ctx.viewer is None else item.name, rows)

    def _live_build(self, table, shape, ctx, intern: str | None, rows=None):
        """A _Live from every row: what _encode_rows makes from scratch. With
        `intern` (the member's name, for a per-viewer member), viewers that get
        the same rows' encodings (the same objects) share one _Live, which is
        then copied before it changes (views grouped by a fan-out share it).
        `rows`: those a where clause keeps (default: all the table's)."""
        doc_f = self.machine.doc.f
        row_of = self._row
        id_slot = shape.id_slot
        enc = {}
        order = []
        ascending = True
        last = None
        for rec in table.f[TABLE_ROWS].values() if rows is None else rows:
            row = row_of(rec, shape, ctx, doc_f)
            if row is None:
                continue
            rid = rec.f[id_slot]
            key = str(rid)
            if type(rid) is not int or key in enc:
                return None
            if last is not None and rid <= last:
                ascending = False
            last = rid
            enc[key] = row
            order.append(rid)
        if intern is not None:
            key = ("live", intern, table, *map(id, enc.values()))
            known = self.tables.get(key)
            if known is not None:
                known[1].private = False
                return known[1].enc, known[1]
        if order:
            enc["@o"] = order
        else:
            enc = {"@s": 0}
        # rows out of id order (an id written by the program) are not kept in
        # place: order None makes every change encode the rows again
        made = _Live(table, table.f[TABLE_NEXT], enc, order if ascending else None)
        if intern is not None:
            # the key holds the table, and the _Live its rows' encodings: no id reused while interned
            self.tables[key] = (None, made)
        return enc, made

    def _live_update(self, item: _Item, live: _Live, shape, ctx):
        """`live` brought up to date with the transaction's inserts (the ids
        the table gave since), deletes (Changes.gone) and changed rows
        (Changes.rows), each re-rendered for `ctx`; the patch a diff of the
        old and new encodings would make is made from those rows alone and
        noted in txn.live (in place) or txn.memo (when `live` was shared and
        is copied first). O(rows changed, times log of the table's size);
        None when it cannot be done so (a row changed its id, a where clause
        failed). A where clause is run on the rows touched (_kept)."""
        name = item.name
        txn = self._txn
        changes = txn.changes
        table = live.table
        tf = table.f
        by_id = tf[TABLE_ROWS]
        nxt = tf[TABLE_NEXT]
        id_slot = shape.id_slot
        doc_f = self.machine.doc.f
        row_of = self._row
        enc = live.enc
        touched = []
        for rec in changes.rows:
            if rec.f[-1] is table:
                if id_slot in changes.rows[rec]:
                    return None  # a row changed its id: encode the rows again
                touched.append(rec)
        for rid in range(live.next, nxt):
            rec = by_id.get(rid)
            if rec is not None:
                touched.append(rec)
        if len(touched) > 1:
            touched = list(dict.fromkeys(touched))  # a row twice would be added twice
        kept = None
        if item.live_where and touched:
            kept = self._kept(item, table, touched, live.next)
            if kept is None:
                return None
        added = []  # (id, encoding)
        replaced = []  # (id, old encoding, new)
        removed = set()
        for rec in touched:
            rid = rec.f[id_slot]
            if type(rid) is not int:
                return None
            row = row_of(rec, shape, ctx, doc_f) if kept is None or rec in kept else None
            old = enc.get(str(rid))
            if row is None:
                if old is not None:
                    removed.add(rid)
            elif old is None:
                added.append((rid, row))
            elif row is not old:
                replaced.append((rid, old, row))
        if changes.gone:
            of_type = self._of_type
            for rec in changes.gone:
                if of_type(rec) != shape.name:
                    continue
                rid = rec.f[id_slot]
                # a gone row of another table may have the same id: ours is gone
                # when our table has no row of that id any more
                if type(rid) is int and rid not in by_id and str(rid) in enc:
                    removed.add(rid)
        if not added and not replaced and not removed:
            if live.next != nxt:
                if not live.private:
                    live = _Live(table, nxt, enc, live.order)
                    live.private = False  # its encoding is still the shared one
                else:
                    live.next = nxt
            return enc, live
        old_enc = enc
        order = live.order
        cow = None
        if not live.private:
            # viewers that held this encoding and get the same rows share one copy
            cow = ("cow", id(old_enc), *((rid, id(row)) for rid, row in added),
                   *((rid, id(row)) for rid, _, row in replaced), *sorted(removed))
            known = self.tables.get(cow)
            if known is not None and known[0] is old_enc:
                known[1].private = False
                return known[1].enc, known[1]
            enc = dict(enc)  # in C; the held encoding stays as its viewers have it
            order = list(order)
            if "@o" in enc:
                enc["@o"] = order
            live = _Live(table, nxt, enc, order)
        else:
            live.next = nxt
        memo = txn.memo
        patch = {}
        if added:
            added.sort()
        if replaced:
            replaced.sort(key=_first)
        # rows in the new encoding's key order (ascending ids), as diff() visits them
        i = j = 0
        while i < len(added) or j < len(replaced):
            if j == len(replaced) or (i < len(added) and added[i][0] < replaced[j][0]):
                rid, row = added[i]
                patch[str(rid)] = row
                i += 1
            else:
                rid, old, row = replaced[j]
                change = _diff_memo(old, row, memo)
                if change is not None:
                    patch[str(rid)] = change
                enc[str(rid)] = row
                j += 1
        gone = sorted(removed)
        count = len(order) - len(gone) + len(added)
        if added or gone:
            if not order:
                # from no row shown ({"@s": 0}) to some
                order.extend(rid for rid, _ in added)
                enc.clear()
                for rid, row in added:
                    enc[str(rid)] = row
                enc["@o"] = order
                patch["@o"] = list(order)
                patch["@s"] = None
            elif count == 0:
                # every row gone: the empty table's encoding
                patch = {"@s": 0}
                for rid in order:
                    patch[str(rid)] = None
                patch["@o"] = None
                del order[:]
                enc.clear()
                enc["@s"] = 0
            else:
                patch["@o"] = self._live_order(order, gone, added)
                for rid in gone:
                    patch[str(rid)] = None
                self._live_apply(enc, order, gone, added)
        if not patch:
            patch = None
        if live.enc is old_enc:
            txn.live.setdefault(name, {})[id(enc)] = (enc, patch)
        else:
            memo[(id(old_enc), id(enc))] = (old_enc, enc, patch)
            # kept with the encodings whose ids the key names (the tables are emptied with the fan-out)
            self.tables[cow] = (old_enc, live, added, replaced)
        return enc, live

    def _kept(self, item: _Item, table, rows: list, since: int, memo: dict | None = None):
        """The rows of `rows` (rows of `table`) that `item`'s where clause
        keeps, as a set: its formula run on a stand-in table holding those
        rows alone (_where_form; an ordered query with a limit n, on n rows
        at a time, so that the limit drops none: _rank_form), once per
        transaction for every viewer; None when it fails."""
        if memo is None:
            memo = self._txn.kept
        key = (item.name, since)
        known = memo.get(key)
        if known is not None:
            return known
        tf = table.f
        id_slot = tf[TABLE_ID_SLOT]
        ordered = sorted(rows, key=lambda r: r.f[id_slot])
        step = item.rank.limit if item.rank is not None and item.rank.limit is not None else len(ordered)
        f = self.machine.doc.f
        slot = item.rank.slot if item.rank is not None else item.live_slot
        known = set()
        try:
            for at in range(0, len(ordered), max(step, 1)):
                part = ordered[at:at + step]
                f[slot] = Record(table.layout, [tf[TABLE_NEXT], {r.f[id_slot]: r for r in part}, {}, id_slot,
                                                tf[TABLE_OWNER_SLOT]])
                out = self.machine.call(item.member.index)
                if type(out) is not list:
                    return None
                known.update(out)
        except VMError:
            return None
        finally:
            f[slot] = table
        memo[key] = known
        return known

    # ------------------------------------------------------------ ordered queries

    def _ranked(self, item: _Item):
        """The value of an ordered or limited query (item.rank): its window of
        the rows its where clause keeps, kept sorted (_Ranked) and brought up
        to date by each change (_rank_follow); from scratch (every row sorted
        once) when there is none; the formula itself when that fails."""
        name = item.name
        state = self.rank_state.get(name)
        table = self.machine.doc.f[item.rank.slot]
        if state is None or state.table is not table:
            state = self._rank_build(item, table) if type(table) is Record else None
            if state is None:
                self.rank_state.pop(name, None)
                return self.formulas.get(name)
            self.rank_state[name] = state
        if state.value is None:
            limit = item.rank.limit
            entries = state.entries if limit is None else state.entries[:limit]
            value = [entry[-1] for entry in entries]
            old = state.last
            state.value = state.last = old if old is not None and old == value else value
        return state.value

    def _rank_build(self, item: _Item, table):
        plan = item.rank
        tf = table.f
        rows = list(tf[TABLE_ROWS].values())
        if plan.where and rows:
            kept = self._kept(item, table, rows, -1, {})
            if kept is None:
                return None
            rows = [r for r in rows if r in kept]
        id_slot = tf[TABLE_ID_SLOT]
        try:
            entries = sorted(_rank_entry(plan.keys, r, id_slot) for r in rows)
        except TypeError:
            return None  # a key of an unexpected type: the formula decides
        return _Ranked(table, tf[TABLE_NEXT], entries, {entry[-1]: entry for entry in entries})

    def _rank_follow(self, changes: Changes, txn: _Txn) -> None:
        """Bring every kept query up to date with one commit's changes: the
        rows it changed, inserted and deleted leave their place and, when
        the where clause keeps them, take their new one (bisection);
        a change it cannot follow drops the query (made again when next read)."""
        f = self.machine.doc.f
        for name, state in list(self.rank_state.items()):
            item = self.item_by_name[name]
            plan = item.rank
            table = state.table
            if (changes.everything or f[plan.slot] is not table or (item.where_time and changes.time)
                    or not item.where_deps.isdisjoint(changes.fields)):
                del self.rank_state[name]
                continue
            tf = table.f
            id_slot = tf[TABLE_ID_SLOT]
            touched = {}
            for rec, slots in changes.rows.items():
                if rec.f[-1] is table:
                    if id_slot in slots:
                        touched = None  # an id written: the table's order is no longer the ids'
                        break
                    touched[rec] = None
            if touched is None:
                del self.rank_state[name]
                continue
            by_id = tf[TABLE_ROWS]
            for rid in range(state.next, tf[TABLE_NEXT]):
                rec = by_id.get(rid)
                if rec is not None:
                    touched[rec] = None
            key_of = state.key_of
            for rec in changes.gone:
                if rec in key_of:
                    touched[rec] = None
            state.next = tf[TABLE_NEXT]
            if not touched:
                continue
            alive = [rec for rec in touched if rec.f[-1] is table]
            kept = set(alive) if not plan.where or not alive else self._kept(item, table, alive, -2, txn.kept)
            if kept is None:
                del self.rank_state[name]
                continue
            entries = state.entries
            try:
                for rec in touched:
                    old = key_of.pop(rec, None)
                    if old is not None:
                        del entries[bisect_left(entries, old)]
                    if rec in kept:
                        entry = key_of[rec] = _rank_entry(plan.keys, rec, id_slot)
                        insort(entries, entry)
            except TypeError:
                del self.rank_state[name]
                continue
            state.value = None

    @staticmethod
    def _live_order(order: list, gone: list, added: list) -> list:
        """compress_order(order, new order) for the new order that is `order`
        without the ids `gone` and with the ids `added` put in id order (both
        sorted): the kept rows between two changes are one run."""
        events = [(bisect_left(order, rid), 0, rid) for rid, _ in added]
        events += [(bisect_left(order, rid), 1, rid) for rid in gone]
        events.sort()
        out = []
        cur = 0
        for pos, kind, rid in events:
            if pos > cur:
                if pos - cur >= MIN_RUN:
                    out.append([cur, pos - 1])
                else:
                    out.extend(order[cur:pos])
            if kind == 0:
                out.append(rid)
                if pos > cur:
                    cur = pos
            else:
                cur = pos + 1
        end = len(order)
        if end > cur:
            if end - cur >= MIN_RUN:
                out.append([cur, end - 1])
            else:
                out.extend(order[cur:end])
        return out

    @staticmethod
    def _live_apply(enc: dict, order: list, gone: list, added: list) -> None:
        """Make `enc` and `order` the new encoding, keys in the from-scratch
        order (ascending ids, then "@o")."""
        for rid in reversed(gone):
            del order[bisect_left(order, rid)]
            del enc[str(rid)]
        if not added:
            return
        if not order or added[0][0] > order[-1]:
            # the common case, new rows: at the end, before "@o" (moved last)
            del enc["@o"]
            for rid, row in added:
                enc[str(rid)] = row
                order.append(rid)
            enc["@o"] = order
            return
        # a row shown again before the newest (a row policy's answer changed):
        # the keys are put in order again, a pass over this encoding
        rows = dict(enc)
        for rid, row in added:
            insort(order, rid)
            rows[str(rid)] = row
        keys = list(map(str, order))
        enc.clear()
        enc.update(zip(keys, map(rows.__getitem__, keys)))  # in C, not a Python loop per row
        enc["@o"] = order

    def _finish(self, sent: dict, new: dict, patch, txn: _Txn, viewer: _Viewer | None):
        """A viewer's patch from diff_objects(sent, new), completed for the live
        tables: the patch of a table changed in place (the same object in
        `sent` and `new`, so the diff skipped it), and a copy of a live table
        the patch holds whole (it goes on changing in place)."""
        for name, made in txn.live.items():
            now = new.get(name)
            if now is None or sent.get(name) is not now:
                continue
            known = made.get(id(now))
            if known is None or known[0] is not now or known[1] is None:
                continue
            if patch is None:
                patch = {name: known[1]}
                continue
            out = {}
            for key in new:
                if key == name:
                    out[key] = known[1]
                elif key in patch:
                    out[key] = patch[key]
            for key, value in patch.items():
                if key not in out:
                    out[key] = value  # members gone: after the others, as diff() puts them
            patch = out
        if patch is not None:
            for name, value in patch.items():
                if type(value) is dict and value is new.get(name) and self._is_live(name, value, viewer):
                    patch[name] = _copy_table(value)
        return patch

    def _is_live(self, name: str, enc, viewer: _Viewer | None) -> bool:
        item = self.item_by_name.get(name)
        if item is None or item.live_slot is None:
            return False
        state = self.shared_lists.get(name) if item.shared or viewer is None else viewer.lists.get(name)
        return type(state) is _Live and state.enc is enc

    def _escape(self, view: dict, viewer: _Viewer | None) -> dict:
        """A shallow copy of `view` whose live tables are copies (for a frame or
        a state that outlives this transaction)."""
        out = dict(view)
        for name, value in view.items():
            if type(value) is dict and self._is_live(name, value, viewer):
                out[name] = _copy_table(value)
        return out

    def _encode(self, item: _Item, value, ctx, prev: _ListState | None):
        """(encoding, list state or None) of one member's value for `ctx`."""
        shape = item.rows_of
        if shape is not None and value is not None:
            rows = self._rows_of(value)
            made = self._encode_rows(rows, shape, ctx, prev)
            if made is not None:
                return made
        return self._enc(value, item.member.desc, ctx), None

    def _enc(self, value, desc, ctx):
        """`_encode_member(renderer.value(value, desc, ctx))`, made directly
        where records are inside: lists and tables of records from the rows'
        encodings cached per row and decision mask (_row), so that a change
        inside nested state (a table held by a record, a map of records)
        re-renders the rows that changed, not all of them."""
        if isinstance(desc, str):
            if desc in _OWN_ENCODING:
                return self.renderer.scalar(value, desc)
            return _encode_member(self.renderer.value(value, desc, ctx))
        if not self._holds_records(desc):
            return _encode_member(self.renderer.value(value, desc, ctx))
        head = desc[0]
        if head == "maybe":
            return None if value is None else self._enc(value, desc[1], ctx)
        if head == "record":
            if value is None:
                return None
            shape = self.schema.records[desc[1]]
            seen = decisions(shape, value, ctx, self.machine.doc.f)
            return None if seen is None else self._enc_record(value, shape, ctx, seen, False)
        if head in ("list", "table"):
            inner = desc[1] if head == "list" else ["record", desc[1]]
            if not isinstance(inner, str) and inner[0] == "record":
                made = self._encode_rows(self._rows_of(value), self.schema.records[inner[1]], ctx, None)
                if made is not None:
                    return made[0]
        elif head == "map":
            kdesc, vdesc = desc[1], desc[2]
            key = self.renderer.key
            out = {}
            for k, x in value.items():
                enc = self._enc(x, vdesc, ctx)
                if enc is not None:  # an absent value and a hidden record alike
                    name = key(k, kdesc)
                    out["@" + name if name[:1] == "@" else name] = enc
            return out
        return _encode_member(self.renderer.value(value, desc, ctx))

    def _holds_records(self, desc) -> bool:
        known = self._with_records.get(id(desc))
        if known is None or known[0] is not desc:
            known = self._with_records[id(desc)] = (desc, bool(records_in(desc)))
        return known[1]

    def _enc_record(self, rec, shape, ctx, seen: tuple, row: bool) -> dict:
        """encode_view(renderer.record_as(rec, shape, ctx, seen, row)), made
        member by member with _enc (the members privacy.shown_members walks)."""
        out = {}
        for name, value, desc in shown_members(rec, shape, ctx, seen, row):
            if desc is None:
                out[name] = value
                continue
            enc = self._enc(value, desc, ctx)
            if enc is not None:
                out[name] = enc
            else:
                out.pop(name, None)
        return out

    def _rows_of(self, value) -> list:
        """A list's rows, or a table's as a list: one list per table and
        transaction, so that viewers compare rows against the same object."""
        if type(value) is list:
            return value
        txn = self._txn
        if txn is None:
            return table_rows(value)
        known = txn.table_rows.get(id(value))
        if known is None or known[0] is not value:
            known = txn.table_rows[id(value)] = (value, table_rows(value))
        return known[1]

    def _row(self, rec, shape, ctx, doc_f):
        if shape.requires or shape.decided:
            viewer = ctx.viewer
            if viewer is not None and type(rec.f[-1]) is Record:
                # kept with the viewer's row policies, and dropped with them
                # or when a slot the decisions read changes
                per = viewer.row_pol.get(rec)
                if per is None:
                    per = viewer.row_pol[rec] = {}
                seen = per.get(_MASK, _MISSING)
                if seen is _MISSING:
                    seen = per[_MASK] = decisions(shape, rec, ctx, doc_f)
            else:
                seen = decisions(shape, rec, ctx, doc_f)
            if seen is None:
                return None
        else:
            seen = shape.fixed  # what decisions() gives when nothing is decided per viewer
        if type(rec.f[-1]) is not Record:  # not a table row (_in_table)
            return self._enc_record(rec, shape, ctx, seen, True)
        key = seen if shape.maskable else (seen, ctx.who)
        per = self.row_cache.get(rec)
        if per is None:
            per = self.row_cache[rec] = {}
        enc = per.get(key)
        if enc is None:
            enc = per[key] = self._enc_record(rec, shape, ctx, seen, True)
        return enc

    def _same_rows(self, old: list, new: list) -> bool:
        if old is new:
            return True
        key = (id(old), id(new))
        known = self._txn.same_rows.get(key)
        if known is None or known[0] is not old or known[1] is not new:
            # Records have no __eq__, so list equality is identity per item, in C
            known = self._txn.same_rows[key] = (old, new, old == new)
        return known[2]

    def _row_set(self, rows: list) -> set:
        known = self._txn.row_sets.get(id(rows))
        if known is None or known[0] is not rows:
            known = self._txn.row_sets[id(rows)] = (rows, set(rows))
        return known[1]

    def _encode_rows(self, rows: list, shape, ctx, prev: _ListState | None):
        """Rows as an encoded table, patched from `prev` when the rows are the
        same objects as then; None when they cannot be a table (repeated ids)."""
        txn = self._txn
        doc_f = self.machine.doc.f
        if (prev is not None and shape.name not in txn.type_dirty and not txn.changes.everything
                and self._same_rows(prev.rows, rows)):
            changed = txn.changes.rows
            if not changed:
                return prev.enc, _ListState(rows, prev.enc)
            members = self._row_set(rows) if len(changed) > 4 or len(rows) > 8 else rows
            base = prev.enc
            replaced = []
            for rec, slots in changed.items():
                if rec not in members:
                    continue
                if shape.id_slot in slots:
                    break  # a row changed its id: rebuild
                key = str(rec.f[shape.id_slot])
                row = self._row(rec, shape, ctx, doc_f)
                old = base.get(key)
                if (row is None) != (old is None):
                    break  # membership changed: rebuild the order
                if row is not old:
                    replaced.append((key, row))
            else:
                if not replaced:
                    return base, _ListState(rows, base)
                enc = self._patched(base, replaced)
                return enc, _ListState(rows, enc, base, [key for key, _ in replaced])
        enc = {}
        order = []
        shown = []
        id_slot = shape.id_slot
        for rec in rows:
            row = self._row(rec, shape, ctx, doc_f)
            if row is None:
                continue
            rid = rec.f[id_slot]
            key = str(rid)
            if type(rid) is not int or key in enc:
                return None
            enc[key] = row
            order.append(rid)
            shown.append(row)
        if order:
            enc["@o"] = order
            enc = self._intern(enc, shown)
        else:
            enc = self._intern({"@s": 0}, shown)  # one empty table for every viewer, too
        return enc, _ListState(rows, enc)

    def _patched(self, base: dict, replaced: list) -> dict:
        """`base` with some rows replaced; viewers that held the same table and
        get the same rows share one result (one copy of the table, not one each)."""
        key = (id(base), *((k, id(row)) for k, row in replaced))
        known = self.tables.get(key)
        if known is not None and known[0] is base:
            return known[1]
        enc = dict(base)
        for k, row in replaced:
            enc[k] = row
        self.tables[key] = (base, enc)
        return enc

    def _intern(self, enc: dict, shown: list) -> dict:
        """One object for equal tables, so that what is derived from one (its
        patched versions, diffs) is derived once. Tables whose encoded rows
        are the same objects in the same order are equal (a row's encoding
        holds its id, hence the order too); the interned table keeps those
        objects alive, so their ids cannot be reused while it is here."""
        key = tuple(map(id, shown))
        known = self.tables.get(key)
        if known is not None:
            return known[1]
        self.tables[key] = (None, enc)
        return enc


__all__ = ["Viewers"]
