"""Freed memory kept for the next array. The steps allocate and free frame-sized arrays one
after the other; glibc's allocator maps each large one afresh, or gives freed memory at the
top of its heap back to the system at once, and each new array faults its pages in again,
one by one: about 80,000 faults, a third of the detector's time, per 1920x1080 picture."""

from __future__ import annotations

import ctypes
import ctypes.util

# mallopt's parameters, and the values set: arrays up to this size come from the heap (a
# working copy's largest, three channels of float64, is 14 MB), and the heap keeps this much
# freed memory at its top (memory never touched is not resident: what it keeps is at most
# what one picture's arrays took).
_M_MMAP_THRESHOLD, _HEAP_ARRAYS_BYTES = -3, 32 << 20
_M_TOP_PAD, _KEPT_BYTES = -2, 256 << 20


def keep_freed_memory() -> None:
    """Have the C library's heap serve frame-sized arrays and keep them once freed, process
    wide, where the C library is glibc; elsewhere nothing changes."""
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt if name else None
    except (OSError, AttributeError):
        mallopt = None  # no C library to load, or one without mallopt (not glibc)
    if mallopt is not None:
        mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
        mallopt(_M_MMAP_THRESHOLD, _HEAP_ARRAYS_BYTES)
        mallopt(_M_TOP_PAD, _KEPT_BYTES)
