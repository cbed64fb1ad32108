# The advm register machine: typed register banks, an explicit frame stack,
# one dispatch loop. See spec/bytecode.md for the instruction set, frames,
# calling convention, budget rule and snapshot format.
#
# Performance rules this file follows (measured, see bench/README.md):
# raw C pointers to the banks and the code are taken once per frame switch,
# never through memoryviews inside the loop; numeric cases call no Python API;
# int and double registers are never boxed; errors leave through cold paths.
from cpython.long cimport PyLong_AsLongLong
from cpython.ref cimport PyObject, Py_INCREF, Py_XINCREF, Py_XDECREF
from cpython.object cimport PyTypeObject
from cpython.bytearray cimport PyByteArray_AS_STRING, PyByteArray_FromStringAndSize
from cpython.dict cimport PyDict_Next
from libc.stdint cimport int64_t, uint64_t, uint32_t, int32_t, INT64_MIN, INT64_MAX
from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memcpy, memset
from libc.math cimport fabs, fmod, isnan, isfinite, fmax, INFINITY

import gc as _gc
import weakref as _weakref

from .errors import SizeBoundError, VMAbort, VMBudgetExhausted, VMError
from .continuation import Continuation, Savepoint
from .host import core_library
from .verify import verify_module

cdef extern from "Python.h":
    PyTypeObject PyList_Type
    # Calls without building an argument tuple (PEP 590). With the offset flag
    # the callee may use args[-1] as scratch, so the machine leaves it free.
    object PyObject_Vectorcall(object callable, PyObject** args, size_t nargsf, PyObject* kwnames)
    size_t PY_VECTORCALL_ARGUMENTS_OFFSET

include "opcodes.pxi"
include "frames.pxi"
include "prng.pxi"

DEFAULT_MAX_DEPTH = 10_000
# Frames a machine allocates at first (a document's handlers rarely nest
# deeper); a deeper call doubles them up to
# max_depth (a Frame is 32 bytes: 10,000 of them per idle document was 320 KB
# of address space).
cdef enum:
    FRAMES_AT_START = 4
# Units per transaction (spec/bytecode.md section 4). The compiled benchmarks
# use about 137 million (a 10-million-iteration loop at 12 words per pass plus
# fib(30)); a runaway loop is stopped after about a second.
DEFAULT_BUDGET = 250_000_000
# Size bounds of one document's values (spec/bytecode.md section 4, "Size
# bounds"): the longest string and the most items of one list, map or table.
# Past either the transaction fails ("string too long: ..."), so a handler
# doubling a string stops at a few MB instead of holding gigabytes within its
# budget. A document's `@static { maximum_string_length = N;
# maximum_collection_size = N; }` replaces them.
DEFAULT_MAX_STRING = 4 * 1024 * 1024   # characters
DEFAULT_MAX_ITEMS = 1_000_000
# Machine.yield_every of the machines made from now on in this process
# (yield_by_default): 0 until a host that runs documents on several threads
# sets it (net/worker.py).
cdef int64_t _yield_default = 0


def yield_by_default(int64_t every):
    """Every Machine created from now on in this process offers the GIL to a
    waiting thread after each `every` units of budget it spends (0: never;
    spec/bytecode.md 4). Returns the previous setting."""
    global _yield_default
    previous = _yield_default
    _yield_default = every if every > 0 else 0
    return previous


class Suspended:
    """What `call`/`resume` return when the program executed SUSPEND."""

    __slots__ = ("payload",)

    def __init__(self, payload):
        self.payload = payload

    def __repr__(self):
        return f"Suspended({self.payload!r})"


cdef class Record:
    """A record value: its layout index and one slot per field (its
    attributes are declared in vm/_machine.pxd, where vm/_restore.pyx sees
    them)."""

    def __init__(self, int layout, list f):
        self.layout = layout
        self.f = f
        self.logged_epoch = 0
        self.logged_mask = 0
        self.logged = None

    def __repr__(self):
        return f"Record({self.layout}, {self.f!r})"


cpdef Record make_record(int layout, list f):
    """Record(layout, f) without a call through the type (no argument
    parsing): for decoders that build many records (vm/_restore.pyx). `f` is
    taken, not copied."""
    cdef Record r = Record.__new__(Record)
    r.layout = layout
    r.f = f
    return r


include "objops.pxi"
include "txn.pxi"
include "tables.pxi"


BUDGET_MESSAGE = "instruction budget exhausted"


cdef inline Py_ssize_t _jump(const uint32_t* code, Py_ssize_t pc, int64_t* budget,
                             int64_t* mark, int64_t every) except -1:
    # Take the JMP word at `pc` that follows a fused branch (Lua's
    # donextjump): where it leads, offsets counting from the word after it. A
    # backward branch pays the budget for the words it jumps back over, and a
    # taken branch compares the budget with the loop's mark (see _charged).
    # Inline, so `budget` and `mark` stay the loop's registers.
    cdef Py_ssize_t npc = pc + 1 + (<Py_ssize_t>(code[pc] >> POS_SJ) - OFFSET_SJ)
    if npc < pc:
        budget[0] -= pc - npc
    if budget[0] < mark[0]:
        mark[0] = _charged(budget[0], every)
    return npc


cdef inline Py_ssize_t _condjump(bint cond, int k, const uint32_t* code, Py_ssize_t pc,
                                 int64_t* budget, int64_t* mark, int64_t every) except -1:
    # The body every compare-and-branch shares (Lua's docondjump): the JMP
    # word at `pc` is taken when the condition equals the instruction's flag
    # `k`, otherwise skipped. Returns the next pc; on a fault (budget) the
    # loop's pc still points at the JMP word, as before the helper.
    if cond == k:
        return _jump(code, pc, budget, mark, every)
    return pc + 1


# A function of Python bytecode (a `def` here would be C): calling it runs the
# interpreter's check at function entry, which hands the GIL to a thread that
# asked for it (after sys.getswitchinterval()), as any Python code would. A
# bare release (`with nogil`) would not: re-taken at once, it lets the waiter
# in only by chance, and counts as a switch, so the waiter never asks.
_plain_pause = eval("lambda: None")
_pause = _plain_pause


def pause_with(fn):
    """Every machine of this process calls `fn()` (a Python function: its
    entry is where a waiting thread takes the GIL) each time it offers the
    GIL, on the thread running the transaction; None: the plain pause.
    Returns the previous one. A worker's lanes (net/lanes.py) learn this way
    that a transaction is long, without polling a clock."""
    global _pause
    previous = _pause
    _pause = _plain_pause if fn is None else fn
    return None if previous is _plain_pause else previous


cdef int64_t _charged(int64_t budget, int64_t every) except -1:
    # The budget went below the loop's mark (every charging site compares
    # with it: one compare on the fast path, as against zero before). Below
    # zero the budget is exhausted; otherwise `every` more units were spent
    # since the last mark (Machine.yield_every > 0): let a waiting thread
    # have the GIL, then set the next mark. Nothing the machine computes
    # depends on it (spec/bytecode.md 4).
    if budget < 0:
        raise _Fault(BUDGET_MESSAGE)
    _pause()
    budget -= every
    return budget if budget > 0 else 0


cdef inline int64_t _i32(uint64_t x) noexcept nogil:
    return <int64_t><int32_t><uint32_t>x


cdef class _Code:
    """A module's functions in the form the loop runs them: per function one
    block of code words then int then double constants, its object constants
    and what call() needs of its parameters. Read-only once made, so every
    Machine of the module shares one (_code_for): a document woken pays no
    copy of its code."""
    cdef FnInfo* fns
    cdef int nfns
    cdef list kobj
    cdef list fentry
    cdef list layouts  # per record layout: (template, indices of mutable defaults), read-only
    # The widest window of any function, per bank (at least 1): what a
    # machine's banks start at, so a document holds registers for its own
    # code rather than a fixed 1,024 per bank (spec/bytecode.md 2).
    cdef Py_ssize_t wide_i, wide_d, wide_o
    cdef object __weakref__

    def __cinit__(self):
        self.fns = NULL
        self.nfns = 0

    def __dealloc__(self):
        cdef int i
        if self.fns != NULL:
            for i in range(self.nfns):
                free(self.fns[i].code)
            free(self.fns)

    cdef int load(self, module) except -1:
        cdef int i, j
        cdef FnInfo* fn
        n = len(module.functions)
        self.fns = <FnInfo*>malloc(sizeof(FnInfo) * max(n, 1))
        if self.fns == NULL:
            raise MemoryError()
        self.nfns = 0
        self.kobj = []
        self.fentry = []
        self.layouts = [_layout(r) for r in module.records]
        self.wide_i = self.wide_d = self.wide_o = 1
        for i, f in enumerate(module.functions):
            fn = &self.fns[i]
            fn.code = <uint32_t*>malloc(4 * len(f.code) + 8 * (len(f.kint) + len(f.kdbl)) + 8)
            if fn.code == NULL:
                raise MemoryError()
            self.nfns = i + 1
            for j, w in enumerate(f.code):
                fn.code[j] = w
            fn.kint = <int64_t*>(<char*>fn.code + 4 * len(f.code) + 4 * (len(f.code) & 1))
            for j, v in enumerate(f.kint):
                fn.kint[j] = v
            fn.kdbl = <double*>(fn.kint + len(f.kint))
            for j, v in enumerate(f.kdbl):
                fn.kdbl[j] = v
            fn.ncode = len(f.code)
            fn.ni, fn.nd, fn.no = f.nregs
            self.wide_i = max(self.wide_i, fn.ni)
            self.wide_d = max(self.wide_d, fn.nd)
            self.wide_o = max(self.wide_o, fn.no)
            self.kobj.append(list(f.kobj))
            # what call() needs per argument, worked out once rather than per call
            self.fentry.append((tuple(("ido".index(bank), reg, kind)
                                      for (bank, reg), kind in zip(f.param_slots(), f.params)),
                                f.result, f.name))
        return 0


# module (by identity) -> (weak reference to it, its _Code); a module is not
# changed once it runs (vm/module.py), and a module dropped is forgotten
_codes = {}


cdef _Code _code_for(module):
    known = _codes.get(id(module))
    if known is not None and known[0]() is module:
        return <_Code>known[1]
    cdef _Code block = _Code.__new__(_Code)
    block.load(module)
    key = id(module)
    _codes[key] = (_weakref.ref(module, lambda _, key=key: _codes.pop(key, None)), block)
    return block


cdef class Machine:
    """One persistent machine per module: load once, call many times."""

    cdef readonly object module
    cdef readonly str module_id  # identity of the code, recorded in snapshots and continuations
    cdef FnInfo* fns
    cdef int nfns
    cdef list kobj            # per function: its object constants
    cdef list fentry          # per function: (params as ((bank 0/1/2, register, kind), ...), result kind, name)
    cdef _Code code_block     # the module's functions in C form (shared, read-only)
    cdef Frame* frames
    cdef int fcap             # frames allocated (grown at a deep call, up to max_depth)
    cdef readonly int depth   # live frames
    cdef readonly int max_depth
    cdef int64_t* ibank
    cdef double* dbank
    cdef Py_ssize_t icap
    cdef Py_ssize_t dcap
    # How far calls have used each bank since the last wipe (_wipe_above): the
    # registers past them are as _grow_* left them (zero, None)
    cdef Py_ssize_t hw_i
    cdef Py_ssize_t hw_d
    cdef Py_ssize_t hw_o
    cdef list obank
    cdef readonly int64_t remaining  # budget left in the current (or last) call
    cdef public int64_t budget_limit
    cdef uint64_t rng[4]
    cdef HostInfo* hostinfo   # per host import, what CALLHOST needs in C
    cdef list hostkeep        # per host import: (callable, params bytes, name), owning hostinfo's pointers
    cdef PyObject** hostargv  # argument vector for host calls (slot 0 left free, see _callhost)
    cdef list layouts         # per record layout: (template, indices of mutable defaults)
    cdef public object doc    # the document root record, or None
    cdef list undo            # the open transaction's undo log (entries: txn.pxi)
    cdef list kept            # the logs of the last keep_written committed transactions, oldest first
    cdef public int keep_written
    cdef readonly int64_t commits  # transactions committed so far
    cdef bint logging         # a transaction is open
    cdef int64_t txn          # counts transactions, so a savepoint knows its own
    cdef list marks           # live savepoints of the open transaction, oldest first
    cdef dict ordered         # maps whose key order is logged since the newest savepoint
    cdef dict seen            # log_once(): id -> object seen since the newest savepoint
    cdef bint running
    cdef readonly bint suspended
    cdef readonly object payload  # what the last SUSPEND handed out
    cdef public Py_ssize_t max_string   # characters in one string (DEFAULT_MAX_STRING)
    cdef public Py_ssize_t max_items    # items in one list, map or table (DEFAULT_MAX_ITEMS)
    # Units of budget between two offers of the GIL to a waiting thread while
    # the machine runs (0: never, the default). A host running documents on
    # several threads sets it so a long transaction lets the others run
    # (spec/bytecode.md 4).
    cdef public int64_t yield_every


    def __cinit__(self):
        self.fns = NULL
        self.frames = NULL
        self.hostinfo = NULL
        self.hostargv = NULL
        self.ibank = NULL
        self.dbank = NULL

    def __init__(self, module, host=None, int max_depth=DEFAULT_MAX_DEPTH,
                 int64_t budget=DEFAULT_BUDGET, seed=0):
        verify_module(module)
        if max_depth < 1:
            raise ValueError("max_depth must be at least 1")
        self.module = module
        self.module_id = module.module_id()
        self.max_depth = max_depth
        self.budget_limit = budget
        self.remaining = budget
        self.max_string = DEFAULT_MAX_STRING
        self.max_items = DEFAULT_MAX_ITEMS
        self.yield_every = _yield_default
        self._load_functions(module)
        self.fcap = 0
        self._grow_frames(FRAMES_AT_START)
        self.depth = 0
        self.icap = 0
        self.dcap = 0
        # Sized for the module's widest function; deeper calls grow them
        self._grow_i(self.code_block.wide_i)
        self._grow_d(self.code_block.wide_d)
        self.obank = [None] * self.code_block.wide_o
        _load_hosts(self, _resolve_hosts(module, host))
        self.layouts = self.code_block.layouts
        self.doc = self._new_record(module.document) if module.document >= 0 else None
        self.undo = None  # a list while a transaction is open
        self.kept = []
        self.keep_written = 1
        self.commits = 0
        self.logging = False
        self.txn = 0
        self.marks = None  # a list while a transaction is open
        self.ordered = {}
        self.seen = {}
        self.running = False
        self.suspended = False
        self.payload = None
        self.seed(seed)

    def __dealloc__(self):
        # self.fns belongs to self.code_block, shared by every machine of the module
        free(self.frames)
        free(self.hostinfo)
        free(self.hostargv)
        free(self.ibank)
        free(self.dbank)

    def _load_functions(self, module):
        cdef _Code block = _code_for(module)
        self.code_block = block  # owns the FnInfo array and the code it points to
        self.fns = block.fns
        self.nfns = block.nfns
        self.kobj = block.kobj
        self.fentry = block.fentry

    cdef int _grow_frames(self, Py_ssize_t need) except -1:
        # Room for `need` frames (callers check max_depth first): doubled,
        # never past max_depth.
        cdef Py_ssize_t cap = min(max(need, 2 * self.fcap), self.max_depth)
        cdef Frame* p = <Frame*>realloc(self.frames, sizeof(Frame) * cap)
        if p == NULL:
            raise MemoryError()
        self.frames = p
        self.fcap = <int>cap
        return 0

    cdef int _grow_i(self, Py_ssize_t need) except -1:
        cdef Py_ssize_t cap = max(need, 2 * self.icap)
        cdef int64_t* p = <int64_t*>realloc(self.ibank, sizeof(int64_t) * cap)
        if p == NULL:
            raise MemoryError()
        for i in range(self.icap, cap):
            p[i] = 0
        self.ibank = p
        self.icap = cap
        return 0

    cdef int _grow_d(self, Py_ssize_t need) except -1:
        cdef Py_ssize_t cap = max(need, 2 * self.dcap)
        cdef double* p = <double*>realloc(self.dbank, sizeof(double) * cap)
        if p == NULL:
            raise MemoryError()
        for i in range(self.dcap, cap):
            p[i] = 0.0
        self.dbank = p
        self.dcap = cap
        return 0

    @property
    def capacities(self):
        """What the machine has allocated now: (int registers, double
        registers, object registers, frames). They start at the module's
        widest function window and 4 frames, and grow at a deeper call."""
        return (self.icap, self.dcap, len(self.obank), self.fcap)

    # ------------------------------------------------------------- public API
    def seed(self, seed):
        """Reset the PRNG from a 64-bit seed (taken modulo 2^64)."""
        _rng_seed(self.rng, <uint64_t>(int(seed) & 0xFFFFFFFFFFFFFFFF))

    @property
    def rng_state(self):
        return (self.rng[0], self.rng[1], self.rng[2], self.rng[3])

    @rng_state.setter
    def rng_state(self, state):
        s = [int(x) for x in state]
        if len(s) != 4 or not any(s) or not all(0 <= x < 2 ** 64 for x in s):
            raise ValueError("PRNG state is four 64-bit words, not all zero")
        for i in range(4):
            self.rng[i] = s[i]

    def rng_next(self):
        """Next raw 64-bit output of the document's xoshiro256**."""
        return _rng_next(self.rng)

    def rng_below(self, n):
        """A uniform integer in [0, n) for 0 < n < 2^64."""
        if not 0 < n < 2 ** 64:
            raise ValueError("bound must be in 1 .. 2^64-1")
        return _rng_below(self.rng, <uint64_t>n)

    def rng_double(self):
        """A uniform double in [0, 1)."""
        return _rng_double(self.rng)

    def call(self, function, *args, budget=None):
        """Run `function` (name or index) to completion or suspension.

        Returns the function's value (None for no value), or a `Suspended`
        when it executed SUSPEND; raises VMError on a runtime error. Inside a
        transaction the call draws on the transaction's budget; outside one it
        starts with `budget_limit`; `budget=n` overrides either.
        """
        cdef FnInfo need
        cdef tuple entry, params, p
        cdef Py_ssize_t k, n, reg
        cdef int bank
        if self.running:
            raise RuntimeError("the machine is already running (host functions may not re-enter)")
        if self.suspended:
            raise RuntimeError("the machine is suspended: resume() or reset() first")
        fid = function if type(function) is int else (
            function if isinstance(function, int) else self.module.function_index(function))
        if not 0 <= fid < self.nfns:
            raise IndexError(f"no function {fid}")
        entry = <tuple>self.fentry[fid]
        params = <tuple>entry[0]
        n = len(params)
        if len(args) != n:
            raise TypeError(f"{entry[2]} takes {n} argument(s), got {len(args)}")
        need = self.fns[fid]
        if need.ni > self.icap:
            self._grow_i(need.ni)
        if need.nd > self.dcap:
            self._grow_d(need.nd)
        if need.no > len(self.obank):
            self.obank.extend([None] * (need.no - len(self.obank)))
        # Every call starts on clean registers: what an earlier call left (a
        # view's formula between two inputs, say) can never reach a snapshot
        # through a register the code has not written yet.
        self._wipe_above(0, 0, 0)
        self.hw_i, self.hw_d, self.hw_o = need.ni, need.nd, need.no
        for k in range(n):
            p = <tuple>params[k]
            bank = p[0]
            reg = p[1]
            if bank == 0:
                self.ibank[reg] = _arg_int(p[2], args[k])
            elif bank == 1:
                self.dbank[reg] = float(args[k])
            else:
                self.obank[reg] = args[k]
        if budget is not None:
            self.remaining = budget
        elif not self.logging:
            self.remaining = self.budget_limit
        self.remaining -= need.ncode
        if self.remaining < 0:
            f = self.module.functions[fid]
            raise VMBudgetExhausted(BUDGET_MESSAGE, self.module.filename,
                                    *f.position(0), f.name, 0)
        self.depth = 1
        self.frames[0].fid = fid
        self.frames[0].pc = 0
        self.frames[0].ibase = 0
        self.frames[0].dbase = 0
        self.frames[0].obase = 0
        return self._go(entry[1])

    def resume(self, value=None, budget=None):
        """Continue a suspended machine; `value` becomes the SUSPEND's result.
        The remaining budget carries over unless `budget` is given."""
        cdef Frame* fr
        cdef uint32_t ins
        if not self.suspended:
            raise RuntimeError("the machine is not suspended")
        fr = &self.frames[self.depth - 1]
        ins = self.fns[fr.fid].code[fr.pc - 1]
        self.obank[fr.obase + ((ins >> POS_A) & 0xFF)] = value
        self.suspended = False
        self.payload = None
        if budget is not None:
            self.remaining = budget
        return self._go((<tuple>self.fentry[self.frames[0].fid])[1])

    def reset(self):
        """Drop every frame (after an error or an abandoned suspension)."""
        self.depth = 0
        self.suspended = False
        self.payload = None

    cdef int _wipe_above(self, Py_ssize_t ti, Py_ssize_t td, Py_ssize_t to) except -1:
        """Registers from ti/td/to up to the high-water marks back to 0, 0.0
        and None; the marks come down to ti/td/to."""
        cdef list obank = self.obank
        cdef Py_ssize_t k
        if self.hw_i > ti:
            memset(self.ibank + ti, 0, 8 * (self.hw_i - ti))
        if self.hw_d > td:
            memset(self.dbank + td, 0, 8 * (self.hw_d - td))
        for k in range(to, min(self.hw_o, len(obank))):
            if obank[k] is not None:
                obank[k] = None
        self.hw_i, self.hw_d, self.hw_o = ti, td, to
        return 0

    cdef object _go(self, str result_kind):
        cdef int status
        self.running = True
        try:
            status = self._run()
        except _Fault as e:
            raise self._error(str(e), e.abort) from None
        except VMError:
            raise
        except MemoryError:
            raise self._error("out of memory") from None
        except Exception as e:
            raise self._error(f"internal error: {type(e).__name__}: {e}") from e
        finally:
            self.running = False
            if self.logging:
                _promote_survivors()
        if status == 1:
            self.suspended = True
            return Suspended(self.payload)
        if not result_kind:
            value = None
        elif result_kind == "b":
            value = self.ibank[0] != 0
        elif result_kind in "il":
            value = self.ibank[0]
        elif result_kind == "d":
            value = self.dbank[0]
        else:
            value = self.obank[0]
        # What the call left in its registers is garbage now: let it go while
        # the document sits idle, rather than at the next call's wipe (which
        # then finds nothing to do).
        self._wipe_above(0, 0, 0)
        return value

    def _error(self, message, abort=False):
        """A VMError at the innermost frame's faulting instruction, with the call trace."""
        cdef Frame fr
        trace = []
        for k in range(self.depth - 1, -1, -1):
            fr = self.frames[k]
            f = self.module.functions[fr.fid]
            # The innermost frame points past the faulting word; callers past their CALL.
            line, col = f.position(fr.pc - 1)
            trace.append((f.name, fr.pc - 1, line, col))
        name, pc, line, col = trace[0] if trace else ("", -1, 0, 0)
        kind = VMAbort if abort else VMBudgetExhausted if message == BUDGET_MESSAGE else VMError
        err = kind(message, self.module.filename, line, col, name, pc)
        err.trace = trace
        self.depth = 0
        self.suspended = False
        return err

    def frames_info(self):
        """The live frames, outermost first: (function, pc, line, col)."""
        cdef Frame fr
        out = []
        for k in range(self.depth):
            fr = self.frames[k]
            f = self.module.functions[fr.fid]
            out.append((f.name, fr.pc) + tuple(f.position(fr.pc)))
        return out

    # ------------------------------------------------------- transactions
    # One transaction at a time (spec/bytecode.md section 9). While it is open
    # every write to state that may be the document's is undo-logged: FSET*,
    # the logged container opcodes, the write helpers below and whatever host
    # functions log through log_undo(). A savepoint remembers the log's length,
    # the PRNG state and the execution state (idle, or the suspended frames);
    # rolling back to it restores all three. begin() takes the first savepoint.

    @property
    def in_transaction(self):
        return self.logging

    @property
    def undo_length(self):
        """Entries in the open transaction's undo log."""
        return _count_entries(self.undo) if self.undo is not None else 0

    def begin(self, budget=None):
        """Open a transaction with `budget` units (default `budget_limit`)
        shared by every call and resume until commit or rollback."""
        if self.running:
            raise RuntimeError("cannot begin a transaction while the machine runs")
        if self.logging:
            raise RuntimeError("a transaction is already open: commit() or rollback() first")
        self.txn += 1
        _new_undo_epoch()
        self.undo = []
        self.logging = True
        self.marks = [self._mark()]  # before the budget is granted: rollback() gives it back
        if self.ordered:  # empty ones are reused: most transactions never touch them
            self.ordered = {}
        if self.seen:
            self.seen = {}
        self.remaining = self.budget_limit if budget is None else budget

    def commit(self):
        """Keep every write of the open transaction (a no-op when none is open)."""
        if self.running:
            raise RuntimeError("cannot commit while the machine runs")
        if self.logging:
            # kept, not copied (written() walks it only when asked)
            self.commits += 1
            if self.keep_written > 0:
                self.kept.append(self.undo)
            if len(self.kept) > self.keep_written:
                del self.kept[:len(self.kept) - max(self.keep_written, 0)]
        self.undo = None  # lists only while a transaction is open
        self.marks = None
        if self.ordered:
            self.ordered = {}
        if self.seen:
            self.seen = {}
        self.logging = False

    def rollback(self):
        """Undo the open transaction: every logged write newest first, the PRNG,
        the execution state and the remaining budget begin() saw, so the
        machine is exactly as before it (a no-op when none is open)."""
        if not self.logging:
            return
        base = self.marks[0]
        try:
            self.rollback_to(base)
        finally:
            self.remaining = base.remaining
            self.undo = None
            self.marks = None
            self.ordered = {}
            self.seen = {}
            self.logging = False

    def savepoint(self):
        """A mark of the open transaction to roll back to (the runtime takes one
        at every await, spec/language.md section 8)."""
        if not self.logging:
            raise RuntimeError("savepoint() needs an open transaction")
        if self.running:
            raise RuntimeError("cannot take a savepoint while the machine runs")
        mark = self._mark()
        self.marks.append(mark)
        _new_undo_epoch()  # writes after the mark must log their old values again
        self.ordered = {}  # a rollback to this mark must find its own order entries
        self.seen = {}
        return mark

    def rollback_to(self, mark):
        """Undo what was written after `mark`, restore the PRNG and put the
        machine back as it was then: idle, or suspended at the same SUSPEND
        with the same payload, locals and frames. The mark stays usable;
        later marks are dropped."""
        if self.running:
            raise RuntimeError("cannot roll back while the machine runs")
        if not self.logging or type(mark) is not Savepoint or mark.txn != self.txn:
            raise ValueError("not a savepoint of the open transaction")
        index = next((i for i, m in enumerate(self.marks) if m is mark), -1)
        if index < 0:
            raise ValueError("the savepoint was discarded by an earlier rollback")
        del self.marks[index + 1:]
        self.ordered = {}
        self.seen = {}
        _new_undo_epoch()
        try:
            _revert_to(self.undo, mark.log_length)
        finally:
            self.rng_state = mark.rng
            cont = mark.cont
            if cont is None:
                self.reset()
            else:
                _install(self, cont.frames, cont.ibank, cont.dbank, cont.obank)
                self.suspended = True
                self.payload = cont.payload

    def _mark(self):
        cont = None
        if self.suspended:
            state = _export_frames(self)
            cont = Continuation(state[0], state[1], state[2], state[3], self.payload,
                                self.module_id)
        return Savepoint(self.txn, len(self.undo), self.rng_state, cont, self.remaining)

    # What committed transactions wrote (spec/bytecode.md 14, written()): the
    # logs of the last `keep_written` commits (default 1) are kept as they
    # were, references only, so views can learn what changed in O(writes).

    def written(self, bint detail=False):
        """What the last committed transaction wrote, oldest first, or None
        when no log is kept (none committed, or keep_written is 0).
        One `(target, key)` per kept undo entry: (record, slot), (list, None)
        for an append, (list, index), (dict, key), (dict, None) for a map's
        key order, (table, first id) for the rows inserted from that id on,
        (entry tuple, None) for a host's log_undo() entry. Entries a
        rollback_to() undid are gone from the log. With `detail`, each is
        `(kind, target, key, old)`: kind one of "field", "append", "set",
        "add", "put", "order", "insert", "entry"; old the value the entry
        would restore (None where there is none)."""
        if not self.kept or self.commits == 0:
            return None
        return _written(self.kept[len(self.kept) - 1], detail)

    def written_since(self, int64_t commits, bint detail=False):
        """written() of every transaction committed after the `commits`-th,
        oldest first, as one list; None when some of those logs are no
        longer kept (raise keep_written to keep more)."""
        cdef int64_t n = self.commits - commits
        if n < 0:
            raise ValueError(f"only {self.commits} transactions committed, not {commits}")
        if n > len(self.kept):
            return None
        out = []
        for log in self.kept[len(self.kept) - n:]:
            out += _written(log, detail)
        return out

    def log_once(self, obj):
        """True the first time `obj` (by identity) is passed since the newest
        savepoint of the open transaction, False after that and outside a
        transaction: for host functions that log a whole structure once
        rather than each change. Kept by the machine, not in the document, so
        it leaves nothing in snapshots."""
        if not self.logging or id(obj) in self.seen:
            return False
        self.seen[id(obj)] = obj  # holding it keeps its id from being reused
        return True

    def log_undo(self, entry):
        """For host functions: append an undo entry (shapes in spec/bytecode.md
        section 9; `(callable,)` runs the callable on rollback). Returns whether
        it was logged (False outside a transaction, when nothing is kept)."""
        if not self.logging:
            return False
        _check_entry(entry)
        self.undo.append(entry)
        self.undo.append(U_ENTRY)
        return True

    # The logged writes, for host functions (the same code the opcodes run).
    def write_field(self, Record record, Py_ssize_t slot, value):
        """record.f[slot] = value, logged."""
        try:
            _rset_logged(self.undo if self.logging else None, record, slot, value)
        except _Fault as e:
            raise IndexError(str(e)) from None

    def list_append(self, list items, value):
        _lpush_logged(self.undo if self.logging else None, items, value)

    def list_set(self, list items, int64_t index, value):
        try:
            _lset_logged(self.undo if self.logging else None, items, index, value)
        except _Fault as e:
            raise IndexError(str(e)) from None

    def map_put(self, dict d, key, value):
        _mput_logged(self.undo if self.logging else None, d, key, value)

    def map_delete(self, dict d, key):
        """Remove `key` if present, logged; returns its value or None."""
        return _mdel_logged(self.undo if self.logging else None, self.ordered, d, key)

    def table_insert(self, table, row):
        """What TINSERT does: add a detached row to a table, logged; returns its id."""
        try:
            return _tinsert(self.undo if self.logging else None, table, row)
        except _Fault as e:
            raise ValueError(str(e)) from None

    cdef int _fset(self, int slot, object value) except -1:
        cdef Record doc = self.doc
        if self.logging:
            _log_field(self.undo, doc, slot)
        doc.f[slot] = value
        return 0

    def new_record(self, int layout):
        """A record of `layout` at its defaults, as RNEW makes it (for the runtime,
        which builds messages from JSON)."""
        if not 0 <= layout < len(self.layouts):
            raise IndexError(f"no record layout {layout}")
        return self._new_record(layout)

    cdef object _new_record(self, int layout):
        cdef tuple lay = <tuple>self.layouts[layout]
        cdef list slots = (<list>lay[0])[:]
        if <tuple>lay[1]:
            for i in <tuple>lay[1]:
                v = slots[i]
                slots[i] = type(v)(v)
        cdef Record r = Record.__new__(Record)  # tp_new alone: __init__ would parse arguments for nothing
        r.layout = layout
        r.f = slots
        return r

    # ------------------------------------------------------------ snapshots
    def snapshot(self):
        """The whole machine as CBOR bytes (see spec/bytecode.md, "Snapshots")."""
        if self.running:
            raise RuntimeError("cannot snapshot a running machine; suspend it first")
        if self.logging:
            # A snapshot is a committed state: the runtime takes one between
            # transactions, and an open log may hold host callbacks.
            raise RuntimeError("cannot snapshot inside a transaction: commit() or rollback() first")
        from .snapshot import encode_machine
        return encode_machine(self)

    @classmethod
    def from_snapshot(cls, module, data, host=None):
        """A machine in exactly the state `snapshot()` captured, ready to resume()."""
        from .snapshot import decode_machine
        return decode_machine(cls, module, data, host)

    # The state vm/snapshot.py encodes and decodes (export and install are
    # in snapshots.pxi).
    def _export(self):
        return _export_state(self)

    def _import(self, state):
        _import_state(self, state)

    # ------------------------------------------------------- continuations
    def detach(self):
        """Take the suspended computation out of the machine as a Continuation
        (plain data), leaving the machine idle for other calls."""
        if not self.suspended:
            raise RuntimeError("the machine is not suspended")
        frames, ib, db, ob = _export_frames(self)
        cont = Continuation(frames, ib, db, ob, self.payload, self.module_id)
        self.reset()
        return cont

    def resume_detached(self, cont, value=None, budget=None):
        """Reinstall a Continuation in this idle machine and resume it with `value`."""
        if self.running or self.suspended or self.depth:
            raise RuntimeError("the machine is busy: finish, detach or reset first")
        if cont.module_id != self.module_id:
            raise ValueError("the continuation was taken on a different module")
        _install(self, cont.frames, cont.ibank, cont.dbank, cont.obank)
        self.suspended = True
        self.payload = cont.payload
        if budget is not None:
            self.remaining = budget
        elif not self.logging:
            self.remaining = self.budget_limit
        return self.resume(value)

    # ---------------------------------------------------------- the loop
    cdef int _run(self) except -1:
        """Execute from the top frame until the outermost frame returns (0) or SUSPEND (1)."""
        cdef Frame* frames = self.frames
        cdef int depth = self.depth
        cdef Frame* fr = &frames[depth - 1]
        cdef FnInfo* fns = self.fns
        cdef FnInfo* fn = &fns[fr.fid]
        cdef const uint32_t* code = fn.code
        cdef const int64_t* ki = fn.kint
        cdef const double* kd = fn.kdbl
        cdef int64_t* ibank = self.ibank
        cdef double* dbank = self.dbank
        cdef int64_t* ir = ibank + fr.ibase
        cdef double* dr = dbank + fr.dbase
        cdef list obank = self.obank
        cdef Py_ssize_t ob = fr.obase
        cdef Py_ssize_t ocap = len(obank)  # object bank size, kept in C for the call path
        cdef Py_ssize_t pc = fr.pc
        cdef Py_ssize_t npc
        cdef int64_t budget = self.remaining
        # The charging sites compare the budget with `mark` (see _charged).
        cdef int64_t every = self.yield_every if self.yield_every > 0 else 0
        cdef int64_t mark = budget - every if every > 0 and budget > every else 0
        cdef int max_depth = self.max_depth
        cdef int fcap = self.fcap
        cdef uint32_t ins, op, a, b, c
        cdef int64_t x, y
        cdef double u, v
        cdef FnInfo* callee
        cdef int64_t nib, ndb, nob
        cdef object val
        try:
            while True:
                ins = code[pc]
                pc += 1
                op = ins & 0xFF
                a = (ins >> POS_A) & 0xFF
                b = (ins >> POS_B) & 0xFF
                c = ins >> POS_C
                # -------------------------------------------- int32 (wrapping)
                if op == OP_IADD:
                    ir[a] = _i32(<uint64_t>ir[b] + <uint64_t>ir[c])
                elif op == OP_ISUB:
                    ir[a] = _i32(<uint64_t>ir[b] - <uint64_t>ir[c])
                elif op == OP_IMUL:
                    ir[a] = _i32(<uint64_t>ir[b] * <uint64_t>ir[c])
                elif op == OP_IADDI:
                    ir[a] = _i32(<uint64_t>ir[b] + <uint64_t>(<int64_t>c - OFFSET_SC))
                elif op == OP_IADDK:
                    ir[a] = _i32(<uint64_t>ir[b] + <uint64_t>ki[c])
                elif op == OP_ISUBK:
                    ir[a] = _i32(<uint64_t>ir[b] - <uint64_t>ki[c])
                elif op == OP_IMULK:
                    ir[a] = _i32(<uint64_t>ir[b] * <uint64_t>ki[c])
                elif op == OP_INEG:
                    ir[a] = _i32(<uint64_t>0 - <uint64_t>ir[b])
                elif op == OP_IDIV or op == OP_LDIV:
                    y = ir[c]
                    if y == 0:
                        pc = _jump(code, pc, &budget, &mark, every)
                    else:
                        x = ir[b]
                        # -1 is the one divisor that can trap (MIN / -1): negate instead.
                        if y == -1:
                            x = <int64_t>(<uint64_t>0 - <uint64_t>x)
                        else:
                            x = x / y
                        ir[a] = _i32(<uint64_t>x) if op == OP_IDIV else x
                        pc += 1
                elif op == OP_IMOD or op == OP_LMOD:
                    y = ir[c]
                    if y == 0:
                        pc = _jump(code, pc, &budget, &mark, every)
                    else:
                        ir[a] = 0 if y == -1 else ir[b] % y
                        pc += 1
                elif op == OP_IDIVK:
                    y = ki[c]
                    ir[a] = _i32(<uint64_t>0 - <uint64_t>ir[b]) if y == -1 else _i32(<uint64_t>(ir[b] / y))
                elif op == OP_IMODK or op == OP_LMODK:
                    y = ki[c]
                    ir[a] = 0 if y == -1 else ir[b] % y
                # -------------------------------------------- int64 (wrapping)
                elif op == OP_LADD:
                    ir[a] = <int64_t>(<uint64_t>ir[b] + <uint64_t>ir[c])
                elif op == OP_LSUB:
                    ir[a] = <int64_t>(<uint64_t>ir[b] - <uint64_t>ir[c])
                elif op == OP_LMUL:
                    ir[a] = <int64_t>(<uint64_t>ir[b] * <uint64_t>ir[c])
                elif op == OP_LADDI:
                    ir[a] = <int64_t>(<uint64_t>ir[b] + <uint64_t>(<int64_t>c - OFFSET_SC))
                elif op == OP_LADDK:
                    ir[a] = <int64_t>(<uint64_t>ir[b] + <uint64_t>ki[c])
                elif op == OP_LSUBK:
                    ir[a] = <int64_t>(<uint64_t>ir[b] - <uint64_t>ki[c])
                elif op == OP_LMULK:
                    ir[a] = <int64_t>(<uint64_t>ir[b] * <uint64_t>ki[c])
                elif op == OP_LNEG:
                    ir[a] = <int64_t>(<uint64_t>0 - <uint64_t>ir[b])
                elif op == OP_LDIVK:
                    y = ki[c]
                    ir[a] = <int64_t>(<uint64_t>0 - <uint64_t>ir[b]) if y == -1 else ir[b] / y
                # -------------------------------------------- double
                elif op == OP_DADD:
                    dr[a] = dr[b] + dr[c]
                elif op == OP_DSUB:
                    dr[a] = dr[b] - dr[c]
                elif op == OP_DMUL:
                    dr[a] = dr[b] * dr[c]
                elif op == OP_DADDK:
                    dr[a] = dr[b] + kd[c]
                elif op == OP_DSUBK:
                    dr[a] = dr[b] - kd[c]
                elif op == OP_DMULK:
                    dr[a] = dr[b] * kd[c]
                elif op == OP_DNEG:
                    dr[a] = -dr[b]
                elif op == OP_DDIV or op == OP_DMOD:
                    v = dr[c]
                    if v == 0.0:
                        pc = _jump(code, pc, &budget, &mark, every)
                    else:
                        dr[a] = dr[b] / v if op == OP_DDIV else fmod(dr[b], v)
                        pc += 1
                elif op == OP_DDIVK:
                    dr[a] = dr[b] / kd[c]
                # -------------------------------------------- conversions, booleans
                elif op == OP_I2D:
                    dr[a] = <double>ir[b]
                elif op == OP_L2I:
                    ir[a] = _i32(<uint64_t>ir[b])
                elif op == OP_D2I:
                    ir[a] = _sat32(dr[b])
                elif op == OP_D2L:
                    ir[a] = _sat64(dr[b])
                elif op == OP_NOT:
                    ir[a] = ir[b] == 0
                elif op == OP_ILT:
                    ir[a] = ir[b] < ir[c]
                elif op == OP_ILE:
                    ir[a] = ir[b] <= ir[c]
                elif op == OP_IEQ:
                    ir[a] = ir[b] == ir[c]
                elif op == OP_INE:
                    ir[a] = ir[b] != ir[c]
                elif op == OP_DLT:
                    ir[a] = dr[b] < dr[c]
                elif op == OP_DLE:
                    ir[a] = dr[b] <= dr[c]
                elif op == OP_DEQ:
                    ir[a] = _near(dr[b], dr[c])
                elif op == OP_DNE:
                    ir[a] = not _near(dr[b], dr[c])
                # -------------------------------------------- compare and branch
                elif op == OP_ILTJ:
                    pc = _condjump(ir[a] < ir[b], c, code, pc, &budget, &mark, every)
                elif op == OP_ILEJ:
                    pc = _condjump(ir[a] <= ir[b], c, code, pc, &budget, &mark, every)
                elif op == OP_IEQJ:
                    pc = _condjump(ir[a] == ir[b], c, code, pc, &budget, &mark, every)
                elif op == OP_ILTJK:
                    pc = _condjump(ir[a] < ki[b], c, code, pc, &budget, &mark, every)
                elif op == OP_ILEJK:
                    pc = _condjump(ir[a] <= ki[b], c, code, pc, &budget, &mark, every)
                elif op == OP_IGTJK:
                    pc = _condjump(ir[a] > ki[b], c, code, pc, &budget, &mark, every)
                elif op == OP_IGEJK:
                    pc = _condjump(ir[a] >= ki[b], c, code, pc, &budget, &mark, every)
                elif op == OP_IEQJK:
                    pc = _condjump(ir[a] == ki[b], c, code, pc, &budget, &mark, every)
                elif op == OP_DLTJ:
                    pc = _condjump(dr[a] < dr[b], c, code, pc, &budget, &mark, every)
                elif op == OP_DLEJ:
                    pc = _condjump(dr[a] <= dr[b], c, code, pc, &budget, &mark, every)
                elif op == OP_DEQJ:
                    pc = _condjump(_near(dr[a], dr[b]), c, code, pc, &budget, &mark, every)
                elif op == OP_TESTJ:
                    pc = _condjump(ir[a] != 0, c, code, pc, &budget, &mark, every)
                elif op == OP_NULLJ:
                    pc = _condjump(_oreg(obank, ob + a) == <PyObject*>None, c, code, pc, &budget, &mark, every)
                elif op == OP_IFORLT:
                    x = _i32(<uint64_t>ir[a] + <uint64_t>(<int64_t>c - OFFSET_SC))
                    ir[a] = x
                    pc = _condjump(x < ir[b], 1, code, pc, &budget, &mark, every)
                elif op == OP_LFORLT:
                    x = <int64_t>(<uint64_t>ir[a] + <uint64_t>(<int64_t>c - OFFSET_SC))
                    ir[a] = x
                    pc = _condjump(x < ir[b], 1, code, pc, &budget, &mark, every)
                elif op == OP_JMP:
                    npc = pc + (<Py_ssize_t>(ins >> POS_SJ) - OFFSET_SJ)
                    if npc < pc:
                        budget -= pc - npc
                        if budget < mark:
                            mark = _charged(budget, every)
                    pc = npc
                # -------------------------------------------- moves and constants
                elif op == OP_IMOV:
                    ir[a] = ir[b]
                elif op == OP_DMOV:
                    dr[a] = dr[b]
                elif op == OP_ILOADI:
                    ir[a] = <int64_t>(ins >> POS_BX) - OFFSET_SBX
                elif op == OP_ILOADK:
                    ir[a] = ki[ins >> POS_BX]
                elif op == OP_DLOADK:
                    dr[a] = kd[ins >> POS_BX]
                # -------------------------------------------- calls and returns
                elif op == OP_CALL:
                    callee = &fns[ins >> POS_BX]
                    if depth >= fcap:
                        if depth >= max_depth:
                            raise _Fault(f"stack overflow: more than {max_depth} nested calls")
                        self._grow_frames(depth + 1)
                        frames = self.frames
                        fr = &frames[depth - 1]
                        fcap = self.fcap
                    budget -= callee.ncode
                    if budget < mark:
                        mark = _charged(budget, every)
                    fr.pc = <int32_t>pc
                    nib = fr.ibase + a
                    ndb = fr.dbase + a
                    nob = fr.obase + a
                    # A bank grows only when a call reaches past its high-water
                    # mark (the marks never pass the banks' sizes: _grow_i,
                    # _grow_d, _wipe_above), so the usual call, below both,
                    # pays one compare per bank (bench/README.md, issue 11: fib).
                    if nib + callee.ni > self.hw_i:
                        if nib + callee.ni > self.icap:
                            self._grow_i(nib + callee.ni)
                            ibank = self.ibank
                        self.hw_i = nib + callee.ni
                    if ndb + callee.nd > self.hw_d:
                        if ndb + callee.nd > self.dcap:
                            self._grow_d(ndb + callee.nd)
                            dbank = self.dbank
                        self.hw_d = ndb + callee.nd
                    if nob + callee.no > ocap:
                        obank.extend([None] * (nob + callee.no + ocap))
                        ocap = len(obank)
                    if nob + callee.no > self.hw_o:
                        self.hw_o = nob + callee.no
                    depth += 1
                    fr = &frames[depth - 1]
                    fr.fid = ins >> POS_BX
                    fr.ibase = nib
                    fr.dbase = ndb
                    fr.obase = nob
                    fn = callee
                    code = fn.code
                    ki = fn.kint
                    kd = fn.kdbl
                    ir = ibank + nib
                    dr = dbank + ndb
                    ob = nob
                    pc = 0
                elif op == OP_RET or op == OP_IRET or op == OP_DRET or op == OP_ORET:
                    if op == OP_IRET:
                        ir[0] = ir[a]
                    elif op == OP_DRET:
                        dr[0] = dr[a]
                    elif op == OP_ORET:
                        obank[ob] = obank[ob + a]
                    depth -= 1
                    if depth == 0:
                        self.depth = 0
                        self.remaining = budget
                        return 0
                    fr = &frames[depth - 1]
                    fn = &fns[fr.fid]
                    code = fn.code
                    ki = fn.kint
                    kd = fn.kdbl
                    ir = ibank + fr.ibase
                    dr = dbank + fr.dbase
                    ob = fr.obase
                    pc = fr.pc
                elif op == OP_CALLHOST:
                    fr.pc = <int32_t>pc
                    self.depth = depth
                    _callhost(self, ins >> POS_BX, ir + a, dr + a, ob + a)
                elif op == OP_SUSPEND:
                    self.payload = obank[ob + b]
                    fr.pc = <int32_t>pc
                    self.depth = depth
                    self.remaining = budget
                    return 1
                elif op == OP_ABORT:
                    raise _Fault("abort", True)
                elif op == OP_FAIL:
                    raise _Fault(str((<list>self.kobj[fr.fid])[ins >> POS_BX]))
                # -------------------------------------------- object registers
                elif op == OP_OMOV:
                    _oset(obank, ob + a, _oreg(obank, ob + b))
                elif op == OP_OLOADK:
                    obank[ob + a] = (<list>self.kobj[fr.fid])[ins >> POS_BX]
                elif op == OP_ONULL:
                    obank[ob + a] = None
                elif op == OP_IBOX:
                    obank[ob + a] = ir[b]
                elif op == OP_BBOX:
                    obank[ob + a] = ir[b] != 0
                elif op == OP_DBOX:
                    obank[ob + a] = dr[b]
                elif op == OP_IUNBOX:
                    ir[a] = _unbox_int(obank[ob + b])
                elif op == OP_DUNBOX:
                    dr[a] = _unbox_double(obank[ob + b])
                elif op == OP_OEQ:
                    ir[a] = obank[ob + b] == obank[ob + c]
                elif op == OP_SCAT:
                    obank[ob + a] = _concat(obank[ob + b], obank[ob + c], self.max_string)
                elif op == OP_SLEN:
                    ir[a] = len(_str(obank[ob + b]))
                elif op == OP_SLT:
                    ir[a] = _str(obank[ob + b]) < _str(obank[ob + c])
                elif op == OP_SLE:
                    ir[a] = _str(obank[ob + b]) <= _str(obank[ob + c])
                elif op == OP_ITOS:
                    obank[ob + a] = str(ir[b])
                elif op == OP_DTOS:
                    obank[ob + a] = _dtos(dr[b])
                elif op == OP_BTOS:
                    obank[ob + a] = "true" if ir[b] else "false"
                elif op == OP_LNEW:
                    obank[ob + a] = []
                elif op == OP_LPUSH:
                    _room(_list(obank[ob + a]), self.max_items, "list")
                    (<list>obank[ob + a]).append(obank[ob + b])
                elif op == OP_LLEN:
                    ir[a] = len(_list(obank[ob + b]))
                elif op == OP_LGET:
                    _oset(obank, ob + a, _litem(_oreg(obank, ob + b), ir[c]))
                elif op == OP_LSET:
                    _lset(obank[ob + a], ir[b], obank[ob + c])
                elif op == OP_MNEW:
                    obank[ob + a] = {}
                elif op == OP_MPUT:
                    _room_for(_dict(obank[ob + a]), obank[ob + b], self.max_items)
                    (<dict>obank[ob + a])[obank[ob + b]] = obank[ob + c]
                elif op == OP_MGET:
                    obank[ob + a] = _dict(obank[ob + b]).get(obank[ob + c])
                elif op == OP_MHAS:
                    ir[a] = obank[ob + c] in _dict(obank[ob + b])
                elif op == OP_MDEL:
                    _dict(obank[ob + a]).pop(obank[ob + b], None)
                elif op == OP_MLEN:
                    ir[a] = len(_dict(obank[ob + b]))
                elif op == OP_MKEYS:
                    obank[ob + a] = list(_dict(obank[ob + b]))
                elif op == OP_RNEW:
                    obank[ob + a] = self._new_record(ins >> POS_BX)
                elif op == OP_RGETI:
                    ir[a] = _int_at(_fieldp(_oreg(obank, ob + b), c))
                elif op == OP_RGETD:
                    dr[a] = _double_at(_fieldp(_oreg(obank, ob + b), c))
                elif op == OP_RGETO:
                    _oset(obank, ob + a, _fieldp(_oreg(obank, ob + b), c))
                elif op == OP_RSETI:
                    _rset(_oreg(obank, ob + a), b, ir[c])
                elif op == OP_RSETD:
                    _rset(_oreg(obank, ob + a), b, dr[c])
                elif op == OP_RSETO:
                    _rset(_oreg(obank, ob + a), b, <object>_oreg(obank, ob + c))
                elif op == OP_FGETI:
                    ir[a] = _unbox_int((<Record>self.doc).f[ins >> POS_BX])
                elif op == OP_FGETD:
                    dr[a] = _unbox_double((<Record>self.doc).f[ins >> POS_BX])
                elif op == OP_FGETO:
                    _oset(obank, ob + a, _list_item(<PyObject*>(<Record>self.doc).f, ins >> POS_BX))
                elif op == OP_FSETI:
                    self._fset(ins >> POS_BX, ir[a])
                elif op == OP_FSETD:
                    self._fset(ins >> POS_BX, dr[a])
                elif op == OP_FSETO:
                    self._fset(ins >> POS_BX, obank[ob + a])
                elif op == OP_RSETIL or op == OP_RSETDL or op == OP_RSETOL:
                    val = _record(obank[ob + a])
                    _field(<Record>val, b)
                    if self.logging:
                        _log_field(self.undo, <Record>val, b)
                    if op == OP_RSETIL:
                        (<Record>val).f[b] = ir[c]
                    elif op == OP_RSETDL:
                        (<Record>val).f[b] = dr[c]
                    else:
                        (<Record>val).f[b] = obank[ob + c]
                elif op == OP_LPUSHL:
                    _room(_list(obank[ob + a]), self.max_items, "list")
                    _lpush_logged(self.undo if self.logging else None, obank[ob + a],
                                  obank[ob + b])
                elif op == OP_LSETL:
                    _lset_logged(self.undo if self.logging else None, _list(obank[ob + a]), ir[b],
                                 obank[ob + c])
                elif op == OP_MPUTL:
                    _room_for(_dict(obank[ob + a]), obank[ob + b], self.max_items)
                    _mput_logged(self.undo if self.logging else None, obank[ob + a],
                                 obank[ob + b], obank[ob + c])
                elif op == OP_MDELL:
                    _mdel_logged(self.undo if self.logging else None, self.ordered, _dict(obank[ob + a]),
                                 obank[ob + b])
                elif op == OP_TINSERT:
                    _room(_table(obank[ob + b]).f[T_ROWS], self.max_items, "table")
                    ir[a] = _tinsert(self.undo if self.logging else None, obank[ob + b], obank[ob + c])
                elif op == OP_TNEXT:
                    pc = _condjump(_tnext(obank, ob + a, obank[ob + b], &ir[c]), 0,
                                   code, pc, &budget, &mark, every)
                else:
                    raise _Fault(f"unknown opcode {op}")
        except BaseException:
            # Leave the frame stack pointing at the faulting instruction.
            fr.pc = <int32_t>pc
            self.depth = depth
            self.remaining = budget
            raise


def _too_long(str what, Py_ssize_t n, Py_ssize_t bound):
    unit = "characters" if what == "string" else "items"
    setting = "maximum_string_length" if what == "string" else "maximum_collection_size"
    return (f"{what} too long: {n} {unit}, past this document's bound of {bound} "
            f"(@static {setting})")


cdef int _room(object items, Py_ssize_t bound, str what) except -1:
    """Fail when a list, map or table already holds `bound` items (one more
    is about to be added)."""
    if len(items) >= bound:
        raise _Fault(_too_long(what, len(items) + 1, bound))
    return 0


cdef object _concat(object x, object y, Py_ssize_t bound):
    """x + y, two strings, unless the result would be longer than `bound`
    characters (checked before the copy is made)."""
    cdef Py_ssize_t n = len(<str>_str(x)) + len(<str>_str(y))
    if n > bound:
        raise _Fault(_too_long("string", n, bound))
    return <str>x + <str>y


cdef int _room_for(dict items, object key, Py_ssize_t bound) except -1:
    """As _room for a map write, which adds an item only for a new key."""
    if len(items) >= bound and key not in items:
        raise _Fault(_too_long("map", len(items) + 1, bound))
    return 0


cdef int _promote_survivors() except -1:
    """Move every object the collector tracks into its oldest generation, when
    the caller paused the collector for the transaction (runtime/engine.py does).
    What a transaction creates and keeps is document state, long-lived by
    nature; left young, the first collection after the pause scans all of it
    at once (about 25 ms after inserting 200,000 rows, bench/README.md). Two
    list splices, O(1); skipped when anything is frozen (gc.freeze() is then
    someone else's, and unfreeze() would undo it)."""
    if not _gc.isenabled() and _gc.get_freeze_count() == 0:
        _gc.freeze()
        _gc.unfreeze()
    return 0


def _layout(rec):
    template = list(rec.defaults)
    mutable = tuple(i for i, v in enumerate(template) if type(v) in (list, dict))
    return template, mutable


include "hostcall.pxi"
include "snapshots.pxi"
