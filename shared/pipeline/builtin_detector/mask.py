"""The seeds' pixels: strong pixels and the weaker ones joined to them, holes filled, the
soft rim and cast shadow left out."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

WEAK_LEVEL = 0.6  # hysteresis: pixels this strong count when joined to a sure one (1.0)
_LOCAL_SIDE = 0.015  # of the longest side: a neighbourhood within the smallest seed


def seed_mask(strength: np.ndarray) -> np.ndarray:
    """Return the seed pixels: sure ones and the weaker ones joined to them (holes open)."""
    labels, count = ndimage.label(strength >= WEAK_LEVEL)
    keep = np.zeros(count + 1, bool)
    keep[labels[strength >= 1.0]] = True
    keep[0] = False
    mask = keep[labels]
    # Closing mends a seed split by a crease; padding by repetition keeps it from eating seeds
    # that touch the border.
    return ndimage.binary_closing(np.pad(mask, 2, mode="edge"))[2:-2, 2:-2]


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Return the mask with its holes, the stretches of background off the border, filled."""
    outside, count = ndimage.label(~mask)
    reaches_border = np.zeros(count + 1, bool)
    for edge in (outside[0], outside[-1], outside[:, 0], outside[:, -1]):
        reaches_border[edge] = True
    reaches_border[0] = False
    return ~reaches_border[outside]


def bodies(mask: np.ndarray, strength: np.ndarray) -> np.ndarray:
    """Return the blobs without their soft rim (and the shadow beside a seed): the pixels at
    least half as strong as their blob's typical pixel (or their neighbourhood's, in a seed
    clearly weaker than the rest of its blob), holes filled. Their outlines are the
    seeds' own, with the notches where two seeds overlap."""
    blobs, count = ndimage.label(mask)
    typical = np.concatenate(([np.inf], ndimage.mean(strength, blobs, np.arange(1, count + 1))))[blobs]
    # A pale seed touching a dark one is weak beside it: where the typical pixel of the
    # blob's inner part nearby (a seed's, not its soft rim's) is less than half the blob's,
    # that seed's pixels are judged against it instead, unless it is fainter than a quarter
    # of the blob's (a halo or a shadow fading out, not a seed).
    size = int(_LOCAL_SIDE * max(mask.shape)) | 1
    for label, where in enumerate(ndimage.find_objects(blobs), start=1):
        own = blobs[where] == label
        if own.sum() > size * size:  # smaller blobs are one seed at most
            inner = ndimage.binary_erosion(own, iterations=size // 4)
            nearby = ndimage.uniform_filter(np.where(inner, strength[where], 0), size, mode="constant")
            share = ndimage.uniform_filter(inner.astype(nearby.dtype), size, mode="constant")
            nearby /= np.maximum(share, 1e-6)  # no inner pixel nearby: 0, the blob's typical stays
            view = typical[where]
            weaker = (nearby < 0.5 * view) & (nearby >= 0.25 * view)
            view[own] = np.where(weaker, nearby, view)[own]
    body = mask & (strength >= np.maximum(WEAK_LEVEL, 0.5 * typical))
    # Weak pixels inside a blob (a highlight, even one cut by the frame's edge) are holes to
    # fill; those joined to the background are the rim, and the notches between seeds.
    weak, _ = ndimage.label(mask & ~body)
    rim = np.unique(weak[ndimage.binary_dilation(~mask) & (weak > 0)])
    return body | ((weak > 0) & ~np.isin(weak, rim))
