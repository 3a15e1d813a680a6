"""glibc's malloc set for this process: megabyte-sized buffers (request bodies, decoded
pictures, model requests) allocated on many threads.

By default glibc raises its mmap threshold to the size of each large block freed, up to
32 MiB: after the first pictures, buffers of a few megabytes come from the heaps instead
of their own mappings, and each thread that allocates gets a heap (an arena) of its own,
up to eight per core. Freed, they stay resident, scattered over the arenas; the serving
process grew from 64 MiB to 390 after 20 inferences and 490 after 200
(bench/bench_memory.py). A fixed threshold gives every large block back to the system
when it is freed, and two arenas bound what the small ones can hold. The environment
variables that do the same (MALLOC_ARENA_MAX…) are read when a process starts, which the
Functions worker does before the app is loaded: mallopt works at any time.

The built-in detector is the exception, for as long as it runs (`large_arrays_reused`).
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

log = logging.getLogger(__name__)

# mallopt parameters (glibc's malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's initial value, kept: no longer raised
TRIM_THRESHOLD_BYTES = 128 * 1024  # glibc's initial value
ARENA_MAX = 2
# While the detector runs: its largest array (three float64 channels of its 1024-px working
# copy) is 14 MiB, and a picture's arrays take well under this many at once.
LARGE_ARRAY_BYTES = 32 << 20
KEPT_FREE_BYTES = 256 << 20
# Blocks other threads took from the heaps while the window was open and free just after it
# closes (a request's body, which the host drops once the answer is sent) stay resident, in
# the middle of a heap, until something trims: the window's end trims again this much later.
LATE_TRIM_S = 2.0

_tuned = False
_reusing = 0  # blocks inside large_arrays_reused, on all threads
_reusing_lock = threading.Lock()
_late_trim: threading.Timer | None = None  # the one pending, if any


@cache
def _glibc() -> ctypes.CDLL | None:
    libc = ctypes.CDLL(None)  # the symbols the process has loaded, the C library's among them
    return libc if hasattr(libc, "gnu_get_libc_version") else None


def tune_malloc() -> bool:
    """Fix glibc's mmap threshold and cap its arenas, once per process; False where the
    C library is not glibc (nothing to do there)."""
    global _tuned
    libc = _glibc()
    if _tuned or libc is None:
        return _tuned
    _tuned = bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        libc.mallopt(_M_ARENA_MAX, ARENA_MAX))
    if not _tuned:
        log.warning("glibc refused the malloc settings; memory may grow with large requests")
    return _tuned


@contextmanager
def large_arrays_reused() -> Iterator[None]:
    """While the block runs (on any thread), serve blocks up to LARGE_ARRAY_BYTES from the
    heaps and keep what is freed there; when the last such block ends, restore the settings
    and give every free page back (malloc_trim), so memory at rest stays as it was.

    The built-in detector makes and drops dozens of frame-sized arrays: each mapped afresh
    and its pages faulted in one by one took a third of its time (about 50,000 faults per
    1920x1080 picture; about 5,000 this way, the first use of each block)."""
    global _reusing, _late_trim
    libc = _glibc()
    if libc is None:
        yield
        return
    with _reusing_lock:
        if _reusing == 0:
            libc.mallopt(_M_MMAP_THRESHOLD, LARGE_ARRAY_BYTES)
            libc.mallopt(_M_TRIM_THRESHOLD, KEPT_FREE_BYTES)
        _reusing += 1
    try:
        yield
    finally:
        with _reusing_lock:
            _reusing -= 1
            if _reusing == 0:
                libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)
                libc.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
                libc.malloc_trim(0)
                if _late_trim is None:
                    _late_trim = threading.Timer(LATE_TRIM_S, _trim_late, (libc,))
                    _late_trim.daemon = True
                    _late_trim.start()


def _trim_late(libc: ctypes.CDLL) -> None:
    """Give back the free pages again, unless a window has opened since (its end will)."""
    global _late_trim
    with _reusing_lock:
        _late_trim = None
        if _reusing == 0:
            libc.malloc_trim(0)
