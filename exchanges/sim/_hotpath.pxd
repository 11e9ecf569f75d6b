cdef extern from *:
    """
    #ifndef PERPFLOW_CORE_SHA
    #define PERPFLOW_CORE_SHA "unknown"
    #endif
    """
    const char* PERPFLOW_CORE_SHA
