"""The detector's shifted-view filters give what the scipy filters they stand in for give."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from shared.pipeline.builtin_detector.pixels import closed_3x3, local_max, local_mean

SHAPES = [(1, 1), (1, 7), (6, 1), (2, 2), (5, 9), (31, 17)]


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(14)


@pytest.mark.parametrize("shape", SHAPES)
def test_local_mean_is_the_uniform_filter(shape: tuple[int, int], rng: np.random.Generator) -> None:
    values = rng.random(shape, dtype=np.float32)
    assert np.allclose(local_mean(values), ndimage.uniform_filter(values, 3), atol=1e-6)


@pytest.mark.parametrize("size", [3, 5, 9])
@pytest.mark.parametrize("shape", SHAPES)
def test_local_max_is_the_maximum_filter(shape: tuple[int, int], size: int, rng: np.random.Generator) -> None:
    values = rng.random(shape)
    assert np.array_equal(local_max(values, size), ndimage.maximum_filter(values, size))


@pytest.mark.parametrize("density", [0.2, 0.5, 0.8])
@pytest.mark.parametrize("shape", SHAPES)
def test_closed_3x3_is_the_binary_closing(
        shape: tuple[int, int], density: float, rng: np.random.Generator) -> None:
    mask = rng.random(shape) < density
    assert np.array_equal(closed_3x3(mask), ndimage.binary_closing(mask, np.ones((3, 3))))
