# cython: language_level=3
"""What other Cython modules of the VM see of vm/_machine.pyx: the Record
type, so the snapshot codec (vm/_restore.pyx) reads a record's layout and
fields and makes records without a call through Python."""
from libc.stdint cimport int64_t, uint32_t


cdef class Record:
    cdef public int layout
    # Which slots the undo log already holds for the current undo epoch: a
    # slot needs its old value logged once per transaction (or savepoint), so
    # a loop that writes one field a million times logs it once. The flags
    # are bits of logged_mask (beside `layout`, in what would be padding) for
    # a record of fewer than 32 slots, a bytearray for a wider one (txn.pxi
    # _flagged).
    cdef uint32_t logged_mask
    cdef public list f
    cdef int64_t logged_epoch
    cdef bytearray logged
