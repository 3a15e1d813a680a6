"""Touching seeds cut along the necks of their distance to the background (a watershed)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from shared.pipeline.builtin_detector.pixels import local_max

_SPLIT_DIP = 0.12  # two touching seeds: the neck is this much narrower than the smaller seed
_MIN_DIP = 1.0  # and at least this many pixels: a thin seed's ridge wobbles by about one


def split_at_necks(mask: np.ndarray, min_radius: float) -> tuple[np.ndarray, int]:
    """Return the mask cut into seeds, labelled 1..count: touching seeds apart.

    Each blob is cut along the necks of its distance to the background: two seeds in contact
    meet at a neck clearly narrower than the smaller of them, while one elongated seed has a
    single ridge. Blobs too thin to hold two seeds stay whole.
    """
    blobs, _ = ndimage.label(mask)
    segments = np.zeros(mask.shape, np.int32)
    total = 0
    for label, (rows, cols) in enumerate(ndimage.find_objects(blobs), start=1):
        # The distance on the blob's box and a ring of background around it, not on the frame:
        # the same, as the pixel nearest any of a blob's that is not its own is background.
        top, left = max(0, rows.start - 1), max(0, cols.start - 1)
        around = blobs[top : rows.stop + 1, left : cols.stop + 1] == label
        inner = slice(rows.start - top, rows.stop - top), slice(cols.start - left, cols.stop - left)
        own = around[inner]
        heights = np.where(own, ndimage.distance_transform_edt(around)[inner], 0.0)
        peaks = _seed_peaks(heights, min_radius)
        if len(peaks) < 2:
            segments[rows, cols][own] = total + 1
            total += 1
            continue
        parts = _flood(heights, peaks)
        segments[rows, cols][own] = total + parts[own]
        total += len(peaks)
    return segments, total


def _levels(top: float) -> list[float]:
    """The levels a distance map is cut at, from `top` down: steps of 8%, then the floor."""
    levels = []
    while top >= 1:
        levels.append(top)
        top *= 0.92
    return [*levels, 0.5]


def _seed_peaks(distance: np.ndarray, min_radius: float) -> list[tuple[int, int]]:
    """Return the peak of each seed in one blob, from its distance map.

    Level sets of the distance, from the top down: a new peak starts a seed; when two meet,
    the lower is a seed of its own if the neck is clearly narrower than it (and it is wide
    enough for a seed), else a bump of the higher.
    """
    top = float(distance.max())
    if top < 2 * min_radius:
        return []  # too thin to hold two seeds side by side
    seeds: list[tuple[float, tuple[int, int]]] = []  # height, peak
    alive: list[bool] = []
    for level in _levels(top):
        level_sets, count = ndimage.label(distance >= level)
        members: dict[int, list[int]] = {}
        for k, (_, peak) in enumerate(seeds):
            if alive[k]:
                members.setdefault(int(level_sets[peak]), []).append(k)
        for blob in range(1, count + 1):
            if blob not in members:
                region = level_sets == blob
                y, x = np.unravel_index(np.argmax(np.where(region, distance, -1)), distance.shape)
                seeds.append((float(distance[y, x]), (int(y), int(x))))
                alive.append(True)
                continue
            neck = level / 0.96  # they met between this level and the one above
            for k in sorted(members[blob], key=lambda k: -seeds[k][0])[1:]:
                height = seeds[k][0]
                if height - neck < max(_SPLIT_DIP * height, _MIN_DIP) or height < min_radius:
                    alive[k] = False
    return [peak for (_, peak), keep in zip(seeds, alive, strict=True) if keep]


def _flood(distance: np.ndarray, peaks: list[tuple[int, int]]) -> np.ndarray:
    """Return the blob's pixels labelled 1..len(peaks) by the seed they belong to: a flood
    from the peaks down the distance map, level by level, so that seeds part at the necks."""
    parts = np.zeros(distance.shape, np.int32)
    for k, peak in enumerate(peaks, start=1):
        parts[peak] = k
    for level in _levels(float(distance.max())):
        open_ = (distance >= level) & (parts == 0)
        while True:
            grown = local_max(parts, 3)
            reached = open_ & (grown > 0)
            if not reached.any():
                break
            parts[reached] = grown[reached]
            open_ &= ~reached
    return parts
