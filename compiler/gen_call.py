"""Calls -> instructions (a stage of code generation, wired by codegen.py):
the calling convention (argument windows, CALL and CALLHOST), functions,
procedures, record methods, channel asks and the standard library. Library
rows that are one or two instructions (size, has, getOrDefaultTo, length,
await...) are compiled inline (INLINE); the others are host functions
(vm/stdlib.py) named by row key and argument kinds, each declared in the
module's host imports (`host`). A channel's fetch/decide/choose is the host
function the instruction set declares as ASK (vm/host.py RuntimeBound): the
runtime binds its own implementation, its document's asks (runtime/asks.py).
"""
from __future__ import annotations

from . import ast
from . import library as L
from . import types as T
from .docinfo import Ref
from .emitter import CodegenError, Emitter, K
from .gen_expr import mod_by_constant
from .gen_types import bank_of, kind_of, result_kind
from .regalloc import Reg
from ..vm.host import ASK, SERVICE
from ..vm.table import ROWS


class Calls:
    """What calls become. Takes the emitter, the checked document, the layout
    and the module's host imports (`asm.host`); `connect` hands it the stages
    that compute arguments."""

    def __init__(self, em: Emitter, info, layout, asm):
        self.em, self.info, self.layout, self.asm = em, info, layout, asm
        self.emit, self.label, self.mark = em.emit, em.label, em.mark
        self.temp, self.free, self.move, self.unbox = em.temp, em.free, em.move, em.unbox
        self.target, self.scratch, self.finish, self.row_for = em.target, em.scratch, em.finish, em.row_for

    def connect(self, exprs, data, stmts) -> None:
        self.expr, self.expr_as, self.load_const = exprs.expr, exprs.expr_as, exprs.load_const
        self.convert, self.boxed = data.convert, data.boxed
        self.lvalue, self.store, self.release = stmts.lvalue, stmts.store, stmts.release
        self.load_lvalue = stmts.load

    # ================================================================ the calling convention

    def call(self, fn_name: str, args: list, ptypes: list, result: T.Type, dst: Reg | None = None,
             host: bool = False) -> Reg | None:
        """Call a module function (or a host function when `host`) with `args`
        (Expr, K or (Reg, Type) pairs) converted to `ptypes`; returns the
        result's register (None for void)."""
        regs = self.em.regs
        counts = [0, 0, 0]
        for t in ptypes:
            counts["ido".index(bank_of(t))] += 1
        rbank = bank_of(result) if result != T.VOID else None
        base, window = regs.window(tuple(counts), rbank)
        slots = {"i": iter([r for r in window if r.bank == "i"]),
                 "d": iter([r for r in window if r.bank == "d"]),
                 "o": iter([r for r in window if r.bank == "o"])}
        for a, pt in zip(args, ptypes):
            reg = next(slots[bank_of(pt)])
            if isinstance(a, tuple):
                src, st = a
                self.convert(src, st, pt, reg)
            elif isinstance(a, K):
                self.load_const(a.value, pt, reg)
            else:
                self.expr_as(a, pt, reg)
        self.emit("CALLHOST" if host else "CALL", base, fn_name)
        out = None
        for r in window:
            if rbank is not None and r.bank == rbank and r.n == base:
                continue
            regs.free(r)
        if rbank is not None:
            out = Reg(rbank, base, True)
            if dst is not None and dst != out:
                self.move(dst, out)
                regs.free(out)
                out = dst
        return out

    def host(self, base: str, args: list, ptypes: list, result: T.Type, dst: Reg | None = None):
        """Call host function `base` (a library row's key, or a helper of
        vm/stdlib.py), declaring it in the module's imports with its kinds."""
        params = "".join(kind_of(t) for t in ptypes)
        name = f"{base}({params}){result_kind(result)}"
        self.asm.host(name, params, result_kind(result))
        return self.call(name, args, ptypes, result, dst, host=True)

    # ================================================================ calls

    def g_Call(self, e: ast.Call, dst):
        ref = e.ref
        if isinstance(ref, L.LibEntry):
            return self.library_call(e, ref, dst)
        kind = ref.kind
        if kind in ("function", "procedure"):
            fn = ref.target
            return self.call(self.layout.function_fn(fn.symbol or fn.name), list(e.args), [t for _, t in fn.params],
                             fn.returns, dst)
        if kind == "method":
            fn = ref.target
            rt = T.RecordType(ref.owner)
            if isinstance(e.func, ast.FieldAccess):
                recv = self.expr(e.func.obj)
            else:
                recv = self.row_for(ref.owner)
            r = self.call(self.layout.method_fn(ref.owner, fn.name), [(recv, rt)] + list(e.args),
                          [rt] + [t for _, t in fn.params], fn.returns, dst)
            self.free(recv)
            return r
        if kind == "method_each":
            return self.method_each(e, ref)
        if kind == "channel_op":
            return self.channel_ask(e, ref, dst)
        if kind == "text_append":
            return self.text_append(e, dst)
        if kind == "service_call":
            return self.service_call(e, ref, dst)
        if kind == "enum_method":
            return self.enum_method(e, ref, dst)
        if kind == "dispatch":
            return self.dispatch_call(e, ref, dst)
        if kind == "holder_write":  # a holder's write(): its message, changed in place (language.md 3.9.1)
            return self.expr(e.func.obj, dst)
        raise CodegenError(f"internal: call of {kind}")

    def method_each(self, e: ast.Call, ref: Ref) -> None:
        """`(iterate t where ...).m(args)`: the method on every row still in
        its table, in the list's order, the arguments evaluated for each row."""
        fn = ref.target
        rt = T.RecordType(ref.owner)
        rows = self.expr(e.func.obj)
        name = self.layout.method_fn(ref.owner, fn.name)
        ptypes = [rt] + [t for _, t in fn.params]

        def each(row) -> None:
            self.call(name, [(row, rt)] + list(e.args), ptypes, fn.returns, None)

        self.each_item(rows, rt, each, skip_deleted=True)
        self.free(rows)
        return None

    def text_append(self, e: ast.Call, dst):
        """`t.append(seq, changes)`: the text with the change, stored back into the field when
        it applies (true), the field untouched when it does not (false) (language.md 3.13.1)."""
        lv = self.lvalue(e.func.obj)
        cur = self.load_lvalue(lv, None)
        if e.ref.name == "compact":  # `t.compact(ratio)`: always written back
            new = self.host("text.compact/1", [(cur, T.TEXT), e.args[0]], [T.TEXT, T.DOUBLE], T.TEXT)
            self.store(lv, new)
            self.free(new)
            if cur is not lv.reg:
                self.free(cur)
            self.release(lv)
            return None
        seq, changes = e.args
        new = self.host("text.append/2", [(cur, T.TEXT), seq, changes], [T.TEXT, T.INT, T.DYNAMIC], T.DYNAMIC)
        out = self.em.target(dst, "i")
        skip = self.em.label()
        self.host("text.applied", [(new, T.DYNAMIC)], [T.DYNAMIC], T.BOOL, out)
        self.emit("TESTJ", out.n, 0, skip)
        self.store(lv, new)
        self.mark(skip)
        self.free(new)
        if cur is not lv.reg:
            self.free(cur)
        self.release(lv)
        return out

    def dispatch_call(self, e: ast.Call, ref: Ref, dst):
        """`v.name(args)` on an enum with `dispatch` cases: compare the value with
        each case's values and call that case's function (every value has one)."""
        en = ref.target
        table = en.dispatch_tables[ref.name]
        et = T.EnumType(en.name)
        first = en.dispatchers[ref.name][0][1]
        ptypes = [et] + [t for _, t in first.params]
        v = self.expr(e.func.obj)
        out = self.target(dst, first.returns) if first.returns != T.VOID else None
        done = self.label()
        by_fn: dict = {}
        for value, fn in table.items():
            by_fn.setdefault(fn.symbol, (fn, []))[1].append(en.values[value])
        cases = list(by_fn.values())
        labels = [self.label() for _ in cases]
        for (fn, numbers), lab in zip(cases[:-1], labels[:-1]):
            for k in numbers:
                self.emit("IEQJK", v.n, k, 1, lab)
        # The last case needs no test (every value has a case): it follows the tests.
        order = [len(cases) - 1] + list(range(len(cases) - 1))
        for i in order:
            fn = cases[i][0]
            self.mark(labels[i])
            self.call(fn.symbol, [(v, et)] + list(e.args), ptypes, fn.returns, out)
            self.emit("JMP", done)
        self.mark(done)
        self.free(v)
        return out

    def enum_method(self, e: ast.Call, ref: Ref, dst):
        """`v.to_int()` is the value's number; `to_string`, `next` and `prev`
        look the value up in the enum's values in declaration order."""
        recv = e.func.obj
        if ref.name == "to_int":
            out = self.target(dst, T.INT)
            return self.expr_as(recv, T.INT, out)
        table = [[value, name] for name, value in ref.target.values.items()]
        return self.host(f"enum.{ref.name}", [K(table, T.DYNAMIC), recv], [T.DYNAMIC, recv.ty], e.ty, dst)

    def channel_ask(self, e: ast.Call, ref: Ref, dst):
        ch = ref.target
        spec = [ch.name, ref.name]
        who = e.args[0]
        if ref.name == "enqueue":  # the message as the one option (runtime/asks.py)
            mt = T.ArrayType(ch.message) if ch.is_array else ch.message
            box = self.boxed(e.args[1], mt)
            one = self.temp("o")
            self.emit("LNEW", one.n)
            self.emit("LPUSH", one.n, box.n)
            self.free(box)
            el = T.ArrayType(mt)
            r = self.host(ASK.name, [K(spec, T.DYNAMIC), who, (one, el), K(1, T.INT)],
                          [T.DYNAMIC, T.PRINCIPAL, el, T.INT], T.DYNAMIC)
            self.free(one, r)
            return None
        options = e.args[1] if len(e.args) > 1 else None
        limit = e.args[2] if len(e.args) > 2 else None
        el = T.ArrayType(ch.message)
        args = [K(spec, T.DYNAMIC), who, options if options is not None else K(None, el),
                limit if limit is not None else K(1, T.INT)]
        return self.host(ASK.name, args, [T.DYNAMIC, T.PRINCIPAL, el, T.INT], e.ty, dst)

    def service_call(self, e: ast.Call, ref: Ref, dst):
        """The host function the instruction set declares as SERVICE: its
        spec [service, method, flags] names the call; @no_cache calls as @no_one."""
        svc, m = ref.target
        flags = ref.owner.split(",") if ref.owner else []
        if "space" in flags:  # language.md 4.32: the key where the principal goes, then the message
            msg = e.args[1] if m.input is not None else K(None, T.DYNAMIC)
            return self.host(SERVICE.name, [K([svc.name, m.name, False, False, True], T.DYNAMIC), e.args[0], msg],
                             [T.DYNAMIC, T.PRINCIPAL, m.input if m.input is not None else T.DYNAMIC], e.ty, dst)
        who = e.args[0]
        if "no_cache" in flags:
            who = ast.Special("no_one", span=who.span)
            who.ty = T.PRINCIPAL
        spec = [svc.name, m.name, "no_cache" in flags, "formula" in flags]
        return self.host(SERVICE.name, [K(spec, T.DYNAMIC), who, e.args[1]], [T.DYNAMIC, T.PRINCIPAL, m.input],
                         e.ty, dst)

    def library_call(self, e: ast.Call, entry: L.LibEntry, dst):
        key = entry.key
        if entry.owner in L.NAMESPACES:
            recv_t, recv, bindings = None, None, {}
        else:
            recv = e.func.obj
            recv_t = recv.ty
            owner_t = recv_t.inner if e.lift_recv else recv_t
            bindings = next((b for r, b in L.methods_of(owner_t, entry.name) if r is entry), {})
        lifted = list(e.lift)
        if lifted or e.lift_recv:
            return self.lifted_library_call(e, entry, recv, recv_t, bindings, lifted, dst)
        inline = INLINE.get(key)
        if inline is not None:
            return getattr(self, inline)(e, recv, bindings, dst)
        ptypes = [L.parse_type(p, bindings) for p in entry.params]
        result = L.parse_type(entry.result, bindings)
        args = list(e.args)
        if recv is not None:
            ptypes = [recv_t] + ptypes
            args = [recv] + args
        if key == "sequence.sum/0":  # Adama's sum: a maybe, empty for no items (language.md 5.20)
            key = f"Statistics.sum_{kind_of(bindings['T'])}/1"
        return self.host(key, args, ptypes, result, dst)

    def lifted_library_call(self, e, entry, recv, recv_t, bindings, lifted, dst):
        """A library row called with maybes where it takes plain values: the host
        function `lift<positions>:<key>` gives empty when any of them is empty."""
        ptypes = [L.parse_type(p, bindings) for p in entry.params]
        args = list(e.args)
        positions = list(lifted)
        for i in lifted:
            ptypes[i] = T.MaybeType(ptypes[i])
        if recv is not None:
            positions = [i + 1 for i in positions] + ([0] if e.lift_recv else [])
            ptypes = [recv_t] + ptypes
            args = [recv] + args
        result = L.parse_type(entry.result, bindings)
        if not isinstance(result, T.MaybeType):
            result = T.MaybeType(result)
        mask = ",".join(str(i) for i in sorted(positions))
        return self.host(f"lift{mask}:{entry.key}", args, ptypes, result, dst)

    # ---------------------------------------------------------------- inline library rows

    def lib_has(self, e, recv, b, dst):
        m = self.expr(recv)
        out = self.scratch(dst, "i")
        done = self.label()
        self.emit("ILOADI", out.n, 1)
        self.emit("NULLJ", m.n, 0, done)
        self.emit("ILOADI", out.n, 0)
        self.mark(done)
        self.free(m)
        return self.finish(dst, out)

    def lib_get_or_default(self, e, recv, b, dst):
        t = b["T"]
        if mod_by_constant(recv):  # always full: the default is never used
            return self.expr_as(recv, t, dst)
        m = self.expr(recv)
        out = self.scratch(dst, t)
        empty, done = self.label(), self.label()
        self.emit("NULLJ", m.n, 1, empty)
        self.unbox(m, t, out)
        self.emit("JMP", done)
        self.mark(empty)
        self.expr_as(e.args[0], t, out)
        self.mark(done)
        self.free(m)
        return self.finish(dst, out)

    def lib_maybe_delete(self, e, recv, b, dst):
        lv = self.lvalue(recv)
        empty = self.temp("o")
        self.emit("ONULL", empty.n)
        self.store(lv, empty)
        self.free(empty)
        self.release(lv)
        return None

    def lib_len(self, op):
        def gen(e, recv, b, dst):
            r = self.expr(recv)
            out = self.target(dst, "i")
            self.emit(op, out.n, r.n)
            self.free(r)
            return out
        return gen

    def lib_seq_size(self, e, recv, b, dst):
        return self.lib_len("LLEN")(e, recv, b, dst)

    def lib_map_size(self, e, recv, b, dst):
        return self.lib_len("MLEN")(e, recv, b, dst)

    def lib_str_length(self, e, recv, b, dst):
        return self.lib_len("SLEN")(e, recv, b, dst)

    def lib_table_size(self, e, recv, b, dst):
        t = self.expr(recv)
        rows = self.temp("o")
        self.emit("RGETO", rows.n, t.n, ROWS)
        out = self.target(dst, "i")
        self.emit("MLEN", out.n, rows.n)
        self.free(t, rows)
        return out

    def lib_map_has(self, e, recv, b, dst):
        m = self.expr(recv)
        k = self.boxed(e.args[0], b["K"])
        out = self.target(dst, "i")
        self.emit("MHAS", out.n, m.n, k.n)
        self.free(m, k)
        return out

    def lib_map_remove(self, e, recv, b, dst):
        m = self.expr(recv)
        k = self.boxed(e.args[0], b["K"])
        out = self.target(dst, "o")
        self.emit("MGET", out.n, m.n, k.n)
        self.emit("MDELL", m.n, k.n)
        self.free(m, k)
        return out

    def lib_await(self, e, recv, b, dst):
        fut = self.expr(recv)
        got = self.scratch(None, "o")
        self.emit("SUSPEND", got.n, fut.n)
        self.free(fut)
        t = b["T"]
        if kind_of(t) == "o":
            return self.finish(dst, got)
        out = self.target(dst, t)
        self.unbox(got, t, out)
        self.free(got)
        return out

    def lib_result_await(self, e, recv, b, dst):
        """A result's await: SUSPEND on its map; the runtime answers with the
        finished result's map, whose `value` is the output message, or empty
        when the call failed (runtime/services.py)."""
        fut = self.expr(recv)
        got = self.temp("o")
        key = self.temp("o")
        self.emit("SUSPEND", got.n, fut.n)
        self.emit("OLOADK", key.n, "value")
        out = self.target(dst, "o")
        self.emit("MGET", out.n, got.n, key.n)
        self.free(fut, got, key)
        return out


INLINE = {
    "maybe.has/0": "lib_has",
    "maybe.getOrDefaultTo/1": "lib_get_or_default",
    "maybe.delete/0": "lib_maybe_delete",
    "sequence.size/0": "lib_seq_size",
    "map.size/0": "lib_map_size",
    "map.has/1": "lib_map_has",
    "map.remove/1": "lib_map_remove",
    "string.length/0": "lib_str_length",
    "table.size/0": "lib_table_size",
    "future.await/0": "lib_await",
    "result.await/0": "lib_result_await",
}
