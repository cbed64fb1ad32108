# Host calls (spec/bytecode.md, CALLHOST): each import resolved once at load
# into a C record (HostInfo, frames.pxi); a call's arguments marshalled from
# the registers into a vectorcall and its result back into a register.
# `_arg_int` is also how Machine.call() takes int arguments.


def _resolve_hosts(module, host):
    if host is None:
        host = core_library()
    resolved = []
    for imp in module.hosts:
        if imp.name not in host:
            raise VMError(f"host function {imp.name} is not provided to the machine",
                          module.filename)
        h = host[imp.name]
        if (h.params, h.result) != (imp.params, imp.result):
            raise VMError(f"host function {imp.name}: module expects ({imp.params}){imp.result}, "
                          f"machine provides ({h.params}){h.result}", module.filename)
        resolved.append((h.fn, h.params, h.result, h.wants_machine, imp.name))
    return resolved


cdef int _load_hosts(Machine m, list resolved) except -1:
    cdef HostInfo* h
    cdef Py_ssize_t widest = 0
    m.hostkeep = []
    m.hostinfo = <HostInfo*>malloc(sizeof(HostInfo) * max(len(resolved), 1))
    if m.hostinfo == NULL:
        raise MemoryError()
    for i, (fn, params, result, wants_machine, name) in enumerate(resolved):
        kinds = params.encode("ascii")
        m.hostkeep.append((fn, kinds, name))
        h = &m.hostinfo[i]
        h.fn = <PyObject*>fn
        h.params = kinds
        h.nparams = len(kinds)
        h.result = ord(result) if result else 0
        h.wants_machine = wants_machine
        widest = max(widest, len(kinds) + 1)
    m.hostargv = <PyObject**>malloc(sizeof(PyObject*) * (widest + 1))
    if m.hostargv == NULL:
        raise MemoryError()
    return 0


cdef int _callhost(Machine m, int index, int64_t* ir, double* dr, Py_ssize_t ob) except -1:
    # Arguments go straight from the registers into a C vector and the
    # call is a vectorcall: no list, no tuple, no per-call kind strings.
    cdef HostInfo* h = &m.hostinfo[index]
    cdef PyObject** argv = m.hostargv + 1
    cdef list obank = m.obank
    cdef Py_ssize_t n = 0, k, ni = 0, nd = 0, no = 0
    cdef char kind
    cdef object v
    try:
        if h.wants_machine:
            Py_INCREF(m)
            argv[0] = <PyObject*>m
            n = 1
        for k in range(h.nparams):
            kind = h.params[k]
            if kind == c'o':
                v = obank[ob + no]
                no += 1
            elif kind == c'd':
                v = dr[nd]
                nd += 1
            elif kind == c'b':
                v = ir[ni] != 0
                ni += 1
            else:
                v = ir[ni]
                ni += 1
            Py_INCREF(v)
            argv[n] = <PyObject*>v
            n += 1
        value = PyObject_Vectorcall(<object>h.fn, argv, <size_t>n | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL)
    except _Fault:
        raise
    except SizeBoundError as e:  # a library function would pass a size bound
        raise _Fault(str(e))
    except Exception as e:
        raise _Fault(f"host function {m.hostkeep[index][2]} failed: {type(e).__name__}: {e}")
    finally:
        for k in range(n):
            Py_XDECREF(argv[k])
    kind = h.result
    if kind == 0:
        return 0
    if kind == c'o':
        obank[ob] = value
    elif kind == c'd':
        if type(value) is not float:
            raise _Fault(f"host function {m.hostkeep[index][2]} returned {_kind(value)}, not a double")
        dr[0] = value
    else:
        try:
            ir[0] = _arg_int(kind, value)
        except (TypeError, OverflowError) as e:
            raise _Fault(f"host function {m.hostkeep[index][2]} returned a bad value: {e}")
    return 0


cdef int64_t _arg_int(Py_UCS4 kind, object value) except? -1:
    """An int-bank value from Python: bools as 0/1, ints range-checked for their kind."""
    cdef int64_t x
    if kind == "b":
        if type(value) is not bool:
            raise TypeError(f"expected a bool, got {type(value).__name__}")
        return 1 if value else 0
    if type(value) is not int:
        raise TypeError(f"expected an int, got {type(value).__name__}")
    x = PyLong_AsLongLong(value)  # OverflowError beyond 64 bits
    if kind == "i" and not -2147483648 <= x <= 2147483647:
        raise OverflowError(f"{value} does not fit in a 32-bit int")
    return x
