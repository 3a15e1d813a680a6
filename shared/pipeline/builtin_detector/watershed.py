"""Touching seeds cut along the necks of their distance to the background (a watershed)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from shared.pipeline.builtin_detector.shapes import box_around, distance_within, largest_pieces, solidity

_SPLIT_DIP = 0.12  # two touching seeds: the neck is this much narrower than the smaller seed
_MIN_DIP = 1.0  # and at least this many pixels: a thin seed's ridge wobbles by about one
_LINE_BAND = 0.25  # pixels this far from the line, against the seed's radius, may change sides
_SETTLE_ROUNDS = 2  # ellipses fitted, pixels moved: twice settles the line


def split_at_necks(
    blobs: np.ndarray, boxes: list[tuple[slice, slice]], min_radius: float
) -> tuple[np.ndarray, int]:
    """Return the blobs (labelled 1..n, on these `boxes`, `ndimage.find_objects`') cut into
    seeds, labelled 1..count: touching seeds apart.

    Each blob is cut along the necks of its distance to the background: two seeds in contact
    meet at a neck clearly narrower than the smaller of them, while one elongated seed has a
    single ridge. Blobs too thin to hold two seeds stay whole.
    """
    segments = np.zeros(blobs.shape, np.int32)
    total = 0
    for label, (rows, cols) in enumerate(boxes, start=1):
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
        parts = _settle_line(_flood(heights, peaks), len(peaks))
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
    # A level set apart from those of the level above has its top on a summit of the
    # distance (as high as its four neighbours at least): where the level above was one
    # piece and no summit lies between the two levels, this level's one piece is that one
    # grown, and nothing changes (its seeds all met already; a lower neck passes more easily).
    padded = np.pad(distance, 1)
    summit = (distance > 0) & (distance >= padded[:-2, 1:-1]) & (distance >= padded[2:, 1:-1])
    summit &= (distance >= padded[1:-1, :-2]) & (distance >= padded[1:-1, 2:])
    summits = distance[summit]
    above_level, count = np.inf, 0
    for level in _levels(top):
        unchanged = count == 1 and not np.any((summits >= level) & (summits < above_level))
        above_level = level
        if unchanged:
            continue
        # On the box of the pixels at this level or above: the top levels are small.
        above = distance >= level
        rows, cols = box_around(above, 0) or (slice(0, 0), slice(0, 0))
        level_sets, count = ndimage.label(above[rows, cols])
        members: dict[int, list[int]] = {}
        for k, (_, (y, x)) in enumerate(seeds):
            if alive[k]:
                members.setdefault(int(level_sets[y - rows.start, x - cols.start]), []).append(k)
        for blob in range(1, count + 1):
            if blob not in members:
                region = np.where(level_sets == blob, distance[rows, cols], -1)
                top_y, top_x = np.unravel_index(np.argmax(region), region.shape)
                peak = int(top_y) + rows.start, int(top_x) + cols.start
                seeds.append((float(distance[peak]), peak))
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
    # Padded by a ring of zeros, flat: each step looks at the open pixels' eight neighbours
    # alone, not at the whole box (a front reaches a pixel with the highest label beside it).
    parts = np.zeros((distance.shape[0] + 2, distance.shape[1] + 2), np.int32)
    for k, (y, x) in enumerate(peaks, start=1):
        parts[y + 1, x + 1] = k
    heights = np.pad(distance, 1, constant_values=-np.inf).ravel()
    flat = parts.ravel()
    width = parts.shape[1]
    around = np.array([dy * width + dx for dy in (-1, 0, 1) for dx in (-1, 0, 1)])
    for level in _levels(float(distance.max())):
        open_ = np.flatnonzero((heights >= level) & (flat == 0))
        while len(open_):
            grown = flat[open_[:, None] + around].max(axis=1)
            reached = grown > 0
            if not reached.any():
                break
            flat[open_[reached]] = grown[reached]
            open_ = open_[~reached]
    return parts[1:-1, 1:-1]


def _settle_line(parts: np.ndarray, count: int) -> np.ndarray:
    """Return the parts with the line between them moved to where their ellipses meet.

    The flood parts seeds at the neck but, down the flanks, whichever front is nearer takes
    the pixels, so the line strays into one seed. Seeds are about elliptical: each pixel
    near the line goes to the part whose ellipse (from its pixels' spread) it lies deeper in.
    """
    labels = list(range(1, count + 1))
    for _ in range(_SETTLE_ROUNDS):
        ys, xs = np.nonzero(parts)
        owner = parts[ys, xs]
        sizes = np.bincount(owner, minlength=count + 1)
        fitted = [k for k in labels if sizes[k] >= 3]
        # Only pixels near another part (within a band a quarter of its radius wide) move.
        near = np.zeros(len(ys), bool)
        for k in fitted:
            band = max(2.0, _LINE_BAND * np.sqrt(sizes[k] / np.pi))
            near |= (owner != k) & (distance_within(parts == k, band)[ys, xs] <= band)
        ys_near, xs_near = ys[near], xs[near]
        depth = np.full((count, len(ys_near)), np.inf)
        for k in fitted:
            mine = owner == k
            centre = np.array([ys[mine].mean(), xs[mine].mean()])
            # A solid ellipse's pixels spread with covariance (semi-axes / 2)²: at its
            # outline the Mahalanobis distance is 2.
            spread = np.cov(ys[mine], xs[mine]) + np.eye(2) / 12
            offsets = np.stack([ys_near, xs_near], axis=1) - centre
            depth[k - 1] = np.einsum("ij,jk,ik->i", offsets, np.linalg.inv(spread), offsets) / 4
        # Only pixels outside their own part's ellipse move, into another's.
        outside = depth[owner[near] - 1, np.arange(len(ys_near))] > 1
        moves = outside & (depth.min(axis=0) < 1)
        moved = parts.copy()
        moved[ys_near[moves], xs_near[moves]] = depth[:, moves].argmin(axis=0) + 1
        moved = largest_pieces(moved, labels)
        # A part gives pixels away only if that leaves it as convex as it was: a tongue of a
        # neighbour's flank goes, but where one seed rests on another the line is the upper
        # one's outline, and taking a slice off it would bite into it.
        for k in labels:
            before, after = parts == k, moved == k
            if not np.array_equal(before, after) and solidity(after) < solidity(before):
                moved[before & ~after] = k
        parts = moved
    return parts
