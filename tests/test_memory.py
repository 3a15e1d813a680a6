"""shared.memory: glibc takes the malloc settings that keep the serving process's memory
flat (the effect itself is measured by bench/bench_memory.py), and reuses freed large
blocks only while the built-in detector runs."""

from __future__ import annotations

import ctypes
import platform
import resource

import pytest

from shared.memory import large_arrays_reused, tune_malloc


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the settings are glibc's")
def test_glibc_takes_the_settings():
    assert tune_malloc()  # done when shared was imported; true again, not redone


def _faults_of_second_block(nbytes: int) -> int:
    """Page faults taken by a fresh block of `nbytes`, written through, after one of the
    same size was written and freed."""
    first = ctypes.create_string_buffer(nbytes)  # zero-filled: every page touched
    del first
    before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
    second = ctypes.create_string_buffer(nbytes)
    faults = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before
    del second
    return faults


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the settings are glibc's")
def test_large_blocks_are_reused_only_inside_the_block():
    pages = 3 * 1024 * 1024 // resource.getpagesize()
    assert _faults_of_second_block(3 * 1024 * 1024) > pages // 2  # mapped afresh: every page faults
    with large_arrays_reused():
        assert _faults_of_second_block(3 * 1024 * 1024) < pages // 10  # the freed block, its pages kept
    assert _faults_of_second_block(3 * 1024 * 1024) > pages // 2  # the settings restored
