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
"""

from __future__ import annotations

import ctypes
import logging

log = logging.getLogger(__name__)

# mallopt parameters (glibc's malloc.h)
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
MMAP_THRESHOLD_BYTES = 128 * 1024  # glibc's initial value, kept: no longer raised
ARENA_MAX = 2

_tuned = False


def tune_malloc() -> bool:
    """Fix glibc's mmap threshold and cap its arenas, once per process; False where the
    C library is not glibc (nothing to do there)."""
    global _tuned
    if _tuned:
        return True
    libc = ctypes.CDLL(None)  # the symbols the process has loaded, the C library's among them
    if not hasattr(libc, "gnu_get_libc_version"):
        return False
    _tuned = bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        libc.mallopt(_M_ARENA_MAX, ARENA_MAX))
    if not _tuned:
        log.warning("glibc refused the malloc settings; memory may grow with large requests")
    return _tuned
