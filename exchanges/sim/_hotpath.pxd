# Declarations only, read by Cython when build_core.py compiles hotpath.py as exchanges.sim._hotpath
# (the name this file is looked up by): the sha256 of the source the module is built from, passed to
# the C compiler as PERPFLOW_CORE_SHA (hotpath.py reads it as SOURCE_SHA when compiled).
cdef extern from *:
    """
    #ifndef PERPFLOW_CORE_SHA
    #define PERPFLOW_CORE_SHA "unknown"
    #endif
    """
    const char* PERPFLOW_CORE_SHA
