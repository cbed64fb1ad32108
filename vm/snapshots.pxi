# What a snapshot or a Continuation holds of the machine's execution
# (spec/bytecode.md "Snapshots", spec/snapshot.md): the live frames and the
# registers their windows cover, exported as plain data and installed back
# with the checks that it is a state the machine itself could have left.
# vm/snapshot.py is the CBOR codec around _export_state and _import_state
# (Machine._export and Machine._import).


cdef tuple _tops(Machine m):
    """How far each bank is live: the highest window end over the live frames."""
    cdef Frame fr
    cdef FnInfo fn
    ti = td = to = 0
    for k in range(m.depth):
        fr = m.frames[k]
        fn = m.fns[fr.fid]
        ti = max(ti, fr.ibase + fn.ni)
        td = max(td, fr.dbase + fn.nd)
        to = max(to, fr.obase + fn.no)
    return ti, td, to


cdef tuple _export_frames(Machine m):
    """(frames, live int bank bytes, live double bank bytes, live object registers)."""
    ti, td, to = _tops(m)
    return ([[m.frames[k].fid, m.frames[k].pc, m.frames[k].ibase,
              m.frames[k].dbase, m.frames[k].obase] for k in range(m.depth)],
            (<char*>m.ibank)[:ti * 8], (<char*>m.dbank)[:td * 8], m.obank[:to])


cdef dict _export_state(Machine m):
    frames, ib, db, ob = _export_frames(m)
    return {
        "frames": frames,
        "ibank": ib,
        "dbank": db,
        "obank": ob,
        "remaining": m.remaining,
        "budget_limit": m.budget_limit,
        "rng": list(m.rng_state),
        "suspended": bool(m.suspended),
        "payload": m.payload,
        "doc": m.doc,
    }


cdef int _install(Machine m, frames, ib_bytes, db_bytes, obank) except -1:
    """Load a suspended frame stack and its live registers (from a snapshot or a
    Continuation), checking that it is one the machine itself could have left."""
    cdef uint32_t word
    cdef int k
    if not frames:
        if ib_bytes or db_bytes or obank:
            raise ValueError("registers without frames")
        m.depth = 0
        return 0
    if len(frames) > m.max_depth:
        raise ValueError("more frames than this machine allows")
    for k, (fid, pc, ib, db, ob) in enumerate(frames):
        if not 0 <= fid < m.nfns or not 0 < pc < m.fns[fid].ncode:
            raise ValueError(f"frame {k} is not a valid position")
        word = m.fns[fid].code[pc - 1]
        last = k == len(frames) - 1
        if (word & 0xFF) != (OP_SUSPEND if last else OP_CALL):
            raise ValueError(f"frame {k} is not stopped at a {'SUSPEND' if last else 'CALL'}")
        if k == 0 and (ib, db, ob) != (0, 0, 0):
            raise ValueError("the outermost frame must start at register 0")
        if not last:
            a = (word >> POS_A) & 0xFF
            nxt = frames[k + 1]
            if nxt[0] != word >> POS_BX or list(nxt[2:]) != [ib + a, db + a, ob + a]:
                raise ValueError(f"frame {k + 1} does not match the call in frame {k}")
    if len(frames) > m.fcap:
        m._grow_frames(len(frames))
    for k, (fid, pc, ib, db, ob) in enumerate(frames):
        m.frames[k].fid = fid
        m.frames[k].pc = pc
        m.frames[k].ibase = ib
        m.frames[k].dbase = db
        m.frames[k].obase = ob
    m.depth = len(frames)
    ti, td, to = _tops(m)
    if len(ib_bytes) != 8 * ti or len(db_bytes) != 8 * td or len(obank) != to:
        m.depth = 0
        raise ValueError("register banks do not match the frames")
    if ti > m.icap:
        m._grow_i(ti)
    if td > m.dcap:
        m._grow_d(td)
    memcpy(m.ibank, <char*>ib_bytes, 8 * ti)
    memcpy(m.dbank, <char*>db_bytes, 8 * td)
    obank = list(obank)
    m.obank = obank + [None] * max(0, m.code_block.wide_o - len(obank))
    # what lies above the installed frames is another call's: clean it
    m.hw_o = 0  # the object bank is a fresh list, None past `to`
    m._wipe_above(ti, td, to)
    return 0


cdef int _import_state(Machine m, state) except -1:
    if bool(state["frames"]) != bool(state["suspended"]):
        raise ValueError("a snapshot has frames exactly when it is suspended")
    _install(m, state["frames"], state["ibank"], state["dbank"], state["obank"])
    m.remaining = state["remaining"]
    m.budget_limit = state["budget_limit"]
    m.rng_state = state["rng"]
    m.suspended = state["suspended"]
    m.payload = state["payload"]
    m.doc = state["doc"]
    return 0
