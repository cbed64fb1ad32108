"""Viewers: each connected principal's privacy-filtered view, kept current as a
stream of merge patches (spec/protocol.md sections 1-3 and 9).

The runtime calls `after_commit()` after every committed transaction. What it
does, cheapest first:

1. `ChangeTracker` says which fields, rows and clock changed; `Formulas` drops
   the formulas whose dependency closure changed. Nothing changed: no work.
2. Each top-level member (field, formula, bubble) is *dirty* when its value or
   anything its rendering reads changed. A member whose rendering does not
   depend on the viewer (`Schema.varies`) is encoded once per transaction and
   the encoded object is shared by every viewer that may see it; one that does
   is encoded per viewer, and only when dirty.
3. Lists and tables of records keep, per viewer (or shared), the rows they
   were built from; when the rows are the same objects as last time, only the
   rows the transaction changed are re-rendered, into a copy of the previous
   encoding. Encoded rows are cached per row and per *decision mask* (which of
   its members the viewer sees), so viewers with the same rights share them.
4. Policy results are cached per viewer (document policies) and per viewer and
   row (record policies) and dropped when what they read changes.
5. Each viewer's new encoded view is diffed against the last one sent; patches
   of a member whose old and new encodings are the same two objects for many
   viewers are computed once.

Every one of these caches is checked by tests/test_views_props.py against
`privacy.render_view`, which evaluates everything from scratch.
"""
from __future__ import annotations

from contextlib import contextmanager

from ..net.delta import diff, encode_view
from ._machine import Record
from .docslots import WHO, as_principal
from .document import gc_paused
from .privacy import FreshContext, Renderer, Schema, decisions, render_view, visible
from .reactive import ChangeTracker, Changes, Formulas
from .table import rows as table_rows

STATE_VERSION = 1
_MISSING = object()


def _in_table(rec) -> bool:
    """Only table rows are tracked row by row (vm/reactive.py), so only their
    policy results, formula values and encodings may be cached by identity; a
    row's last slot is its table while it is in one (vm/table.py)."""
    return type(rec.f[-1]) is Record


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


class _Viewer:
    __slots__ = ("who", "seq", "sent", "items", "lists", "doc_pol", "row_pol", "ctx")

    def __init__(self, who: str, seq: int = 0, sent: dict | None = None):
        self.who = who
        self.seq = seq
        self.sent = sent if sent is not None else {}
        self.items: dict = {}  # member name -> its encoding for this viewer (viewer-dependent members)
        self.lists: dict = {}  # member name -> _ListState
        self.doc_pol: dict = {}  # policy name -> bool
        self.row_pol: dict = {}  # row -> {policy name: bool}
        self.ctx = None  # its _Context, made once


class _Item:
    """A top-level member and what its rendering depends on."""

    __slots__ = ("member", "name", "always", "shared", "rows_of", "type_fields", "type_time")

    def __init__(self, member, schema, formulas):
        self.member = member
        self.name = member.name
        self.always = member.kind == "bubble" or member.privacy == "public"
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


class _Context(FreshContext):
    """A viewer (or, with who=None, nobody in particular) seen through the caches."""

    def __init__(self, views: "Viewers", viewer: _Viewer | None):
        super().__init__(views.machine, viewer.who if viewer is not None else None)
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
        if self.who is None:
            return None
        return FreshContext.formula(self, member, rec)  # per viewer: never from the shared caches


class _Txn:
    """What one after_commit() learned, shared by every viewer it updates."""

    __slots__ = ("changes", "dirty", "type_dirty", "shared_prev", "same_rows", "row_sets", "memo")

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


class Viewers:
    def __init__(self, document):
        self.document = document
        self.machine = document.machine
        self.schema = Schema(document.meta)
        self.schema.bind(self.machine.module)
        self.renderer = Renderer(self.schema, self.machine)
        self.tracker = ChangeTracker(self.machine, document.meta)
        self.formulas = Formulas(self.machine, self.schema)
        self.viewers: dict[str, _Viewer] = {}
        self.items = [_Item(m, self.schema, self.formulas) for m in self.schema.document.members
                      if m.kind == "bubble" or m.privacy != "private"]
        self.layouts = {info["layout"]: name for name, info in document.meta["records"].items()}
        self.type_closure = {name: self.formulas.closure(s.doc_deps, s.time)
                             for name, s in self.schema.records.items()}
        self.policy_closure = {}  # document policy -> (fields, clock) it depends on
        self.row_policies = {}  # record type -> {row policy name: Policy}
        for s in [self.schema.document, *self.schema.records.values()]:
            for p in [*s.requires, *(p for m in s.members for p in m.policies)]:
                if p.row:
                    self.row_policies.setdefault(s.name, {})[p.name] = p
                else:
                    self.policy_closure[p.name] = self.formulas.closure(p.doc_reads, p.time)
        # document fields (and the clock) that decide whether a top-level member shows
        shown_by, shown_by_time = set(), False
        for item in self.items:
            m = item.member
            shown_by |= {self.schema.doc_field_name(slot) for _, slot in m.viewer_is}
            for p in m.policies:
                deps, time = self.policy_closure[p.name]
                shown_by |= deps
                shown_by_time |= time
        self.shown_by, self.shown_by_time = frozenset(shown_by), shown_by_time
        # encoded tables shared between viewers: interned by their row objects,
        # and patched versions by (base, replaced rows); emptied at every commit
        self.tables: dict = {}
        self.shared_enc: dict = {}  # shared member name -> encoding (current)
        self.shared_lists: dict = {}  # shared member name -> _ListState
        self.rf_cache: dict = {}  # row -> {record formula: value}
        self.row_cache: dict = {}  # row -> {mask: encoded row}
        self.policy_evaluations = 0
        self._txn: _Txn | None = None

    # ------------------------------------------------------------ the contract

    @property
    def evaluations(self):
        """Machine evaluations per document formula (a Counter)."""
        return self.formulas.evaluations

    def connect(self, who: str) -> list[dict]:
        """Add a viewer (a reconnecting one starts over). Viewers already
        connected are brought up to date first, so their frames come first;
        the last frame is the newcomer's full view, seq 1."""
        frames = self.after_commit()
        who = as_principal(who)
        viewer = self.viewers[who] = _Viewer(who)
        with self._who_kept():
            self._txn = _Txn(Changes())
            try:
                view = self._build(viewer, {})
            finally:
                self._txn = None
        viewer.sent = view
        viewer.seq = 1
        frames.append({"to": who, "delta": dict(view), "seq": 1})
        return frames

    def disconnect(self, who: str) -> None:
        who = as_principal(who)
        if self.viewers.pop(who, None) is not None:
            # encodings of rows that embed this viewer's bubbles are its alone
            for masks in self.row_cache.values():
                for key in [k for k in masks if len(k) == 2 and type(k[0]) is tuple and k[1] == who]:
                    del masks[key]

    def connected(self) -> list[str]:
        return list(self.viewers)

    def plain_view(self, who: str) -> dict:
        """What `who` may see now, as the client holds it (tables and lists as
        arrays); computed from scratch, so it never depends on a cache."""
        return render_view(self.document, who, self.schema)

    def after_commit(self) -> list[dict]:
        """Delta frames for every viewer whose view changed in the transactions
        committed since the last call; none for the others."""
        changes = self.tracker.observe()
        if not changes:
            return []
        txn = self._begin(changes)
        frames = []
        if not self.viewers:
            return frames
        if not txn.dirty and not (changes.time and self.shown_by_time) \
                and self.shown_by.isdisjoint(changes.fields):
            return frames  # nothing anyone sees, nor whether they see it, changed
        # like a transaction, fan-out allocates many small containers; the
        # cyclic collector would rescan every viewer's state again and again
        with self._who_kept(), gc_paused():
            self._txn = txn
            try:
                for viewer in self.viewers.values():
                    hints = {}
                    new = self._build(viewer, hints)
                    patch = self._diff(viewer.sent, new, txn.memo, hints)
                    viewer.sent = new
                    if patch is not None:
                        viewer.seq += 1
                        frames.append({"to": viewer.who, "delta": patch, "seq": viewer.seq})
            finally:
                self._txn = None
        return frames

    def state(self) -> dict:
        """The viewers and what each was last sent (CBOR-able)."""
        return {"version": STATE_VERSION,
                "viewers": [{"who": v.who, "seq": v.seq, "view": v.sent} for v in self.viewers.values()]}

    def load(self, state: dict) -> None:
        """Viewers back from `state()`; every cache starts empty, so the next
        after_commit() compares against exactly what each viewer holds."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"viewer state version {state.get('version')!r}, expected {STATE_VERSION}")
        self.viewers = {v["who"]: _Viewer(v["who"], v["seq"], v["view"]) for v in state["viewers"]}
        self.tracker.reset()
        self.formulas.clear()
        self.shared_enc.clear()
        self.shared_lists.clear()
        self.rf_cache.clear()
        self.row_cache.clear()
        self.tables.clear()

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
            for viewer in self.viewers.values():
                for name in stale_policies:
                    viewer.doc_pol.pop(name, None)
                self._invalidate_viewer_rows(viewer, changes, txn.type_dirty)
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

    def _forget_gone(self, changes: Changes) -> None:
        for rec in changes.gone:
            self.rf_cache.pop(rec, None)
            self.row_cache.pop(rec, None)
            for viewer in self.viewers.values():
                viewer.row_pol.pop(rec, None)

    def _invalidate_viewer_rows(self, viewer: _Viewer, changes: Changes, type_dirty: set) -> None:
        row_pol = viewer.row_pol
        if not row_pol:
            return
        if type_dirty:
            for rec in [r for r in row_pol if self._of_type(r) in type_dirty]:
                del row_pol[rec]
        for rec, slots in changes.rows.items():
            cached = row_pol.get(rec)
            if cached is None:
                continue
            shape = self.schema.records.get(self._of_type(rec))
            if shape is None:
                del row_pol[rec]
                continue
            policies = self.row_policies.get(shape.name, {})
            for name in list(cached):
                p = policies.get(name)
                if p is None or not p.slots.isdisjoint(slots):
                    del cached[name]

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
                    enc, state = self._encode(item, self._value(m, ctx), ctx, prev)
                    viewer.items[name] = enc
                    if state is not None:
                        viewer.lists[name] = state
                        if state.keys is not None:
                            hints[name] = (state.base, enc, state.keys)
            if enc is not None:
                out[name] = enc
        return out

    def _value(self, m, ctx):
        if m.kind == "field":
            return self.machine.doc.f[m.slot]
        if m.kind == "formula":
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
        enc, state = self._encode(item, self._value(item.member, ctx), ctx, prev_state)
        if prev_enc is not None and enc is not None and enc is not prev_enc \
                and type(enc) is dict and type(prev_enc) is dict and diff(prev_enc, enc) is None:
            enc = prev_enc  # same content: keep the object every viewer already holds
        self.shared_enc[name] = enc
        if state is not None:
            self.shared_lists[name] = state
        return enc

    def _encode(self, item: _Item, value, ctx, prev: _ListState | None):
        """(encoding, list state or None) of one member's value for `ctx`."""
        shape = item.rows_of
        if shape is not None and value is not None:
            rows = value if type(value) is list else table_rows(value)
            made = self._encode_rows(rows, shape, ctx, prev)
            if made is not None:
                return made
        return _encode_member(self.renderer.value(value, item.member.desc, ctx)), None

    def _row(self, rec, shape, ctx, doc_f):
        seen = decisions(shape, rec, ctx, doc_f)
        if seen is None:
            return None
        if not _in_table(rec):
            return encode_view(self.renderer.record_as(rec, shape, ctx, seen, row=True))
        key = seen if shape.maskable else (seen, ctx.who)
        per = self.row_cache.get(rec)
        if per is None:
            per = self.row_cache[rec] = {}
        enc = per.get(key)
        if enc is None:
            enc = per[key] = encode_view(self.renderer.record_as(rec, shape, ctx, seen, row=True))
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
            enc = {"@s": 0}
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

    # ------------------------------------------------------------ patches

    @staticmethod
    def _diff(old: dict, new: dict, memo: dict, hints: dict | None = None):
        """diff(old, new) for two encoded views (the rules are net.delta.diff's),
        sharing the patch of a member whose old and new encodings are the same
        pair of objects as for a viewer already done, and, for a member `hints`
        says was patched from its old encoding, diffing only the rows named."""
        patch = None
        added = 0
        for key, now in new.items():
            before = old.get(key)
            if before is now:
                continue
            if before is None:
                added += 1
                change = now
            elif type(before) is not type(now):
                change = now
            elif type(now) is dict:
                hint = hints.get(key) if hints else None
                # one changed row: its patch alone (several: a full diff keeps
                # the patch's member order that of the table, as from scratch)
                if hint is not None and hint[0] is before and hint[1] is now and len(hint[2]) == 1:
                    change = Viewers._diff_rows(before, now, hint[2], memo)
                else:
                    change = Viewers._diff_memo(before, now, memo)
                if change is None:
                    continue
            elif before == now:
                continue
            else:
                change = now
            if patch is None:
                patch = {}
            patch[key] = change
        if len(new) - added != len(old):
            for key in old:
                if key not in new:
                    if patch is None:
                        patch = {}
                    patch[key] = None
        return patch

    @staticmethod
    def _diff_memo(before: dict, now: dict, memo: dict):
        pair = (id(before), id(now))
        known = memo.get(pair)
        if known is None or known[0] is not before or known[1] is not now:
            known = memo[pair] = (before, now, diff(before, now))
        return known[2]

    @staticmethod
    def _diff_rows(before: dict, now: dict, keys: list, memo: dict):
        """The patch between two encoded tables that differ only in the rows
        `keys` names (present in both: membership and order are unchanged)."""
        patch = None
        for key in keys:
            change = Viewers._diff_memo(before[key], now[key], memo)
            if change is not None:
                if patch is None:
                    patch = {}
                patch[key] = change
        return patch


__all__ = ["Viewers"]
