# The machine's C-level records (see spec/bytecode.md, "Frames").


cdef struct FnInfo:
    uint32_t* code      # the function's words
    int64_t* kint       # its int constants
    double* kdbl        # its double constants
    int32_t ncode       # words of code; also what a call to it charges the budget
    int32_t ni          # registers in the int bank
    int32_t nd          # registers in the double bank
    int32_t no          # registers in the object bank


cdef struct Frame:
    int32_t fid         # function index in the module
    int32_t pc          # next word to run (saved when this frame calls out or suspends)
    int64_t ibase       # window start in the int bank
    int64_t dbase       # window start in the double bank
    int64_t obase       # window start in the object bank


cdef struct HostInfo:
    PyObject* fn        # the callable (kept alive by Machine.hostkeep)
    const char* params  # parameter kind letters (the bytes in Machine.hostkeep)
    Py_ssize_t nparams
    char result         # result kind letter, 0 for none
    bint wants_machine  # the machine is passed first
