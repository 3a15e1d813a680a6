"""Seeds resting on each other's edge: cut straight between the notches their outlines
make, or from the one deep notch of an L or a T."""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import ConvexHull

from shared.pipeline.builtin_detector.shapes import (
    MIN_STROKE,
    box_around,
    convex_hull,
    eroded,
    rectilinear,
    solidity,
)

_CUT_RATIO = 3.0  # two seeds overlap: the cut between notches is short against their depth
_BULGE = 0.5  # a piece cut off is at least this wide against the cut
_MIN_SHARE = 0.05  # a piece cut off has at least this share of the other's area
_NOTCH_SOLIDITY = 0.9  # a blob filling less of its convex hull may be two seeds
_PART_SOLIDITY = 0.93  # each piece cut off from a notch fills this much of its hull
_SOLIDITY_GAIN = 0.05  # and more of it, by this much, than the blob did
_CUT_DIRECTIONS = 48  # tried from the notch, all round
_WEDGE = 0.9  # a bay filling this share of the triangle on its mouth has straight sides
_MIN_NOTCH = 2.0  # pixels: a notch in an outline, not the wobble of a seed's coat


def cut_between_notches(
    blob: np.ndarray, background: np.ndarray, min_area: float, *, one_deep: bool = False,
    hull: ConvexHull | None = None,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Return the blob cut in two at its best pair of notches, both deep against the
    smaller piece, or None if it has none. With `one_deep`, the other notch may be shallow:
    a seed resting on another's edge crosses its outline in a deep notch on one side and,
    on the other, often a shallow one; but a corner left by an earlier cut is shallow too,
    so that is the last resort. `hull` is the blob's `convex_hull`, if known."""
    hull = hull if hull is not None else convex_hull(blob)
    if hull is None or blob.sum() >= 0.995 * hull.volume:
        return None  # convex: one seed
    depth = _bay_depth(blob, background, hull)
    bays, count = ndimage.label(depth >= _MIN_NOTCH)
    deepest = ndimage.maximum_position(depth, bays, np.arange(1, count + 1))
    notches = [(np.array(p, float), float(depth[p])) for p in deepest]
    # Pairs of notches, the shortest cuts against their depth first.
    pairs = sorted(
        (float(np.hypot(*(p - q))) / (dp + dq), i, j)
        for i, (p, dp) in enumerate(notches)
        for j, (q, dq) in enumerate(notches[:i])
    )
    for ratio, i, j in pairs:
        if ratio > _CUT_RATIO:
            break
        halves = _halves(blob, notches[i][0], notches[j][0], min_area)
        # Deep against the smaller piece: not a corner left by an earlier cut.
        deep = (max if one_deep else min)(notches[i][1], notches[j][1])
        if halves is not None and deep >= 0.15 * np.sqrt(
            min(half.sum() for half in halves)
        ):
            return halves
    return None


def cut_from_notch(
    blob: np.ndarray, background: np.ndarray, min_area: float, hull: ConvexHull | None = None
) -> tuple[np.ndarray, np.ndarray] | None:
    """Return a blob that is clearly not convex cut in two by a straight line from the apex of
    its deepest notch (where the outlines cross, deepest below the bay's mouth), the line
    that leaves the most convex pieces, if both are about convex.

    Two seeds side by side, one across the other's end (an L or a T), leave one deep notch
    and, on the other side, a shallow one or none; a single seed half hidden under another
    is bitten by a wide bay, and no straight cut leaves it in two convex pieces. `hull` is
    the blob's `convex_hull`, if known.
    """
    hull = hull if hull is not None else convex_hull(blob)
    if hull is None:
        return None
    whole = float(blob.sum() / (hull.volume + hull.area / 2))
    if whole >= _NOTCH_SOLIDITY:
        return None  # about convex
    depth = _bay_depth(blob, background, hull)
    if depth.max() < _MIN_NOTCH or rectilinear(_outline(blob)):
        return None  # no notch, or drawn (the corner of a badge)
    p = np.array(np.unravel_index(np.argmax(depth), depth.shape), float)
    # Two convex outlines that cross leave a bay narrower than the triangle on its mouth; a
    # wedge with straight sides (a disc with a slice out) fills that triangle. The mouth is
    # the hull's edge nearest most of the bay: a deep bay's deepest pixel may lie nearer
    # another, short one.
    bays, _ = ndimage.label(depth > 0)
    bay_y, bay_x = np.nonzero(bays == bays[tuple(p.astype(int))])
    heights = hull.equations[:, :2] @ np.stack([bay_x, bay_y]) + hull.equations[:, 2:]
    facet = int(np.bincount(heights.argmax(axis=0)).argmax())
    mouth = np.subtract(*hull.points[hull.simplices[facet]])
    if len(bay_y) >= _WEDGE * np.hypot(*mouth) * -heights[facet].min() / 2:
        return None
    apex = int(heights[facet].argmin())  # where the two outlines cross, deepest below the mouth
    p = np.array([bay_y[apex], bay_x[apex]], float)
    height, width = blob.shape
    steps = np.arange(2 * (height + width)) / 2
    best, best_score = None, whole + _SOLIDITY_GAIN
    for angle in np.linspace(0, 2 * np.pi, _CUT_DIRECTIONS, endpoint=False):
        ys = np.round(p[0] + steps * np.sin(angle)).astype(int)
        xs = np.round(p[1] + steps * np.cos(angle)).astype(int)
        inside = (ys >= 0) & (ys < height) & (xs >= 0) & (xs < width)
        end = len(steps) if inside.all() else int(np.argmin(inside))
        on = blob[ys[:end], xs[:end]]
        start = int(np.argmax(on))
        if not on.any() or start > 8:
            continue  # the line runs along the bay, not into the blob
        stop = start + (len(on) - start if on[start:].all() else int(np.argmin(on[start:])))
        halves = _halves(blob, p, np.array([ys[stop - 1], xs[stop - 1]], float), min_area)
        if halves is None:
            continue
        score = min(solidity(half) for half in halves)
        if score > best_score:
            best, best_score = halves, score
    return best if best_score >= _PART_SOLIDITY else None


def _halves(
    blob: np.ndarray, p: np.ndarray, q: np.ndarray, min_area: float
) -> tuple[np.ndarray, np.ndarray] | None:
    """Return the blob cut along the straight line from p to q, if that leaves two pieces
    of a seed's size; the cut's own pixels go back to the nearer piece."""
    cut = blob.copy()
    for t in np.linspace(0, 1, int(2 * np.hypot(*(p - q))) + 2):
        y, x = np.round(p + (q - p) * t).astype(int)
        cut[max(0, y - 1) : y + 2, max(0, x - 1) : x + 2] = False
    parts, n = ndimage.label(cut)
    if n < 2:
        return None
    sizes = np.bincount(parts.ravel(), minlength=n + 1)[1:]
    first, second = np.argsort(sizes)[::-1][:2] + 1
    if sizes[second - 1] < min_area:
        return None
    # Each piece is shaped like a seed, not a sliver along the line where two seeds meet;
    # the smaller one bulges out wider than the cut (a seed's beak or wing tapers from its
    # base), or runs along it as far as an ellipse as wide (a seed side by side with the
    # other; a cap of one seed, cut off at its base, is shorter), and is no mere fraction
    # of the other.
    widths = ndimage.maximum(ndimage.distance_transform_edt(parts > 0), parts, [first, second])
    if any(2 * w < MIN_STROKE * np.sqrt(sizes[k - 1]) for w, k in zip(widths, (first, second), strict=True)):
        return None
    cut_length = float(np.hypot(*(p - q)))
    alongside = sizes[second - 1] >= np.pi / 4 * 2 * widths[1] * cut_length
    if 2 * widths[1] < _BULGE * cut_length and not alongside:
        return None
    if sizes[second - 1] < _MIN_SHARE * sizes[first - 1]:
        return None
    labels = np.where(parts == first, 1, np.where(parts == second, 2, 0))
    nearest = ndimage.distance_transform_edt(labels == 0, return_indices=True)[1]
    labels = labels[nearest[0], nearest[1]]
    return blob & (labels == 1), blob & (labels == 2)



def _bay_depth(blob: np.ndarray, background: np.ndarray, hull: ConvexHull) -> np.ndarray:
    """Return how deep each pixel of the bays (the `background` inside the blob's hull) lies
    inside the hull, zero elsewhere: inside a convex polygon, the distance to its outline is
    the least over its edges."""
    normals, offsets = hull.equations[:, :2], hull.equations[:, 2]
    bay_y, bay_x = np.nonzero(~blob & background)
    depth = np.zeros(blob.shape)
    depth[bay_y, bay_x] = -(normals[:, :1] * bay_x + normals[:, 1:] * bay_y + offsets[:, None]).max(axis=0)
    return np.maximum(depth, 0)


def _outline(blob: np.ndarray) -> np.ndarray:
    """Return a blob's outline pixels on its own box."""
    window = box_around(blob, 0)
    own = blob[window] if window is not None else blob
    return own & ~eroded(own)
