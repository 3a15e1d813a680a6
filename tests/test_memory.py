"""shared.memory: glibc takes the malloc settings that keep the serving process's memory
flat (the effect itself is measured by bench/bench_memory.py), reuses freed large
blocks only while the built-in detector runs, and gives back soon after what was freed once
the window had closed."""

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

# A block taken from the heap inside the window and freed after it closed, below another one:
# the pages given back LATE_TRIM_S after the window closed.
_LATE = """
import ctypes, resource, time
from shared import memory

memory.LATE_TRIM_S = 0.2
page = resource.getpagesize()

def resident():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1])

size = 8 * 1024 * 1024
with memory.large_arrays_reused():
    block = ctypes.create_string_buffer(size)  # zero-filled: its pages resident
    above = ctypes.create_string_buffer(1024 * 1024)  # the block is not the heap's top
del block
held = resident()
time.sleep(1.0)
print(held - resident(), size // page)
"""


def _run(script: str) -> list[int]:
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                         check=True)
    return [int(word) for word in run.stdout.split()]


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the settings are glibc's")
def test_glibc_takes_the_settings():
    assert tune_malloc()  # done when shared was imported; true again, not redone


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the settings are glibc's")
def test_large_blocks_are_reused_only_inside_the_window():
    before, inside, after, pages = _run(_FAULTS)
    assert before > pages // 2  # mapped afresh: every page faults
    assert inside < pages // 10  # the freed block, its pages kept
    assert after > pages // 2  # the settings restored


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the settings are glibc's")
def test_what_is_freed_after_the_window_closed_is_given_back_soon():
    given_back, pages = _run(_LATE)
    assert given_back > pages * 3 // 4
