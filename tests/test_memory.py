"""shared.memory: glibc takes the malloc settings that keep the serving process's memory
flat (the effect itself is measured by bench/bench_memory.py), and reuses freed large
blocks only while the built-in detector runs."""

from __future__ import annotations

import platform
import subprocess
import sys
from pathlib import Path

import pytest

from shared.memory import tune_malloc

ROOT = Path(__file__).resolve().parent.parent

# Run in a process of its own: mallopt is process-wide, and in the test process the host's
# threads (the blob trigger's post-processing) open the same window at any time.
_FAULTS = """
import ctypes, resource
from shared.memory import large_arrays_reused

def second_block_faults(nbytes):
    # Page faults taken by a fresh block, written through, after one of the same size was
    # written (create_string_buffer zero-fills it) and freed.
    first = ctypes.create_string_buffer(nbytes)
    del first
    before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
    second = ctypes.create_string_buffer(nbytes)
    return resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before

size = 3 * 1024 * 1024
outside = second_block_faults(size)
with large_arrays_reused():
    second_block_faults(size)  # the heap grows to hold one
    inside = second_block_faults(size)
print(outside, inside, second_block_faults(size), size // resource.getpagesize())
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the settings are glibc's")
def test_glibc_takes_the_settings():
    assert tune_malloc()  # done when shared was imported; true again, not redone


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the settings are glibc's")
def test_large_blocks_are_reused_only_inside_the_window():
    run = subprocess.run([sys.executable, "-c", _FAULTS], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    before, inside, after, pages = map(int, run.stdout.split())
    assert before > pages // 2  # mapped afresh: every page faults
    assert inside < pages // 10  # the freed block, its pages kept
    assert after > pages // 2  # the settings restored
