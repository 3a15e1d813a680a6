"""shared.memory: glibc takes the malloc settings that keep the serving process's memory
flat (the effect itself is measured by bench/bench_memory.py)."""

from __future__ import annotations

import platform

import pytest

from shared.memory import tune_malloc


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the settings are glibc's")
def test_glibc_takes_the_settings():
    assert tune_malloc()  # done when shared was imported; true again, not redone
