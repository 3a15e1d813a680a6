"""Seeds lying over each other's edge: the line laid on the upper one's outline, then parted
piece by piece (between two deep notches, by colour, between a deep and a shallow notch,
or from one notch), pieces of one seed joined, the lines laid on the outlines again, and
pieces joined again."""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from shared.pipeline.builtin_detector.colours import (
    BlobColours,
    clearly_different,
    colour_stats,
    part_by_colour,
)
from shared.pipeline.builtin_detector.notches import cut_between_notches, cut_from_notch
from shared.pipeline.builtin_detector.shapes import (
    beside_outline,
    box_around,
    convex_hull,
    dilated,
    distance_within,
    ellipse_inside,
    ellipse_misfit,
    eroded,
    hull_area,
    largest_pieces,
)

_TWO_SEEDS_GAIN = 0.0  # two ellipses fit two pieces better than one, by this share of the smaller
_FRAGMENT = 1 / 3  # a piece its own ellipse misfits by this share of it: no seed (half an ellipse, 1/6)
_UPPER_REACH = 0.5  # the line moves onto the upper seed's outline this far, against the smaller's radius
_UPPER_EDGE = 1.2  # the upper seed's outline is the stronger edge by this factor, or the line stays
_SOFT_RIM = 2.0  # pixels: a seed's blurred outline, outside the ellipse fitted to it


def cut_overlaps(
    segments: np.ndarray, count: int, blobs: BlobColours, min_area: float
) -> tuple[np.ndarray, int]:
    """Return the segments with seeds lying over each other's edge cut apart: their outline
    bends inwards where the two outlines cross, and the short straight cut between two such
    notches parts them (a single seed, even a kidney-shaped one, has at most one notch);
    or they are of two clearly different colours, each in seed-shaped pieces. The flood's
    lines are first laid on the upper seeds' outlines and pieces of one seed are joined;
    then the lines are laid on the outlines again (a straight cut between notches crosses
    the upper seed) and pieces joined again (a cap of one seed the line cut off, reshaped,
    may be fitted by one ellipse with it only now). Each segment lies inside one of the
    `blobs`."""
    segments = lay_lines_on_upper_seeds(segments, blobs)
    out = np.zeros_like(segments)
    total = 0
    pending = []
    for label, (rows, cols) in enumerate(ndimage.find_objects(segments), start=1):
        blob = segments[rows, cols] == label
        pending.append((rows, cols, blob, int(blobs.labels[rows, cols][blob][0])))
    while pending:
        rows, cols, blob, within = pending.pop()
        area = blob.sum()
        halves = None
        if area >= 2 * min_area and _wide(blob, area):
            in_blob = blobs.labels[rows, cols]
            open_ = in_blob == 0  # notches open onto the background, not onto a neighbour
            # The flood's line may bite into a seed of the other colour: the bite is its neighbour's.
            beside = (in_blob == within) & ~blob
            hull = convex_hull(blob)  # the notch steps' each
            halves = (cut_between_notches(blob, open_, min_area, hull=hull)
                      or part_by_colour(blob, blobs.smoothed(within, (rows, cols)), min_area, beside)
                      or cut_between_notches(blob, open_, min_area, one_deep=True, hull=hull)
                      or cut_from_notch(blob, open_, min_area, hull))
        if halves is None:
            out[rows, cols][blob] = total + 1
            total += 1
            continue
        pending.extend((rows, cols, half, within) for half in halves)
    laid = lay_lines_on_upper_seeds(join_pieces_of_one_seed(out, blobs), blobs)
    return join_pieces_of_one_seed(laid, blobs), total


def _wide(piece: np.ndarray, area: int) -> bool:
    """Whether a piece is wide enough to be two seeds: a thin one (a scale bar with its end
    ticks) is none, whatever its notches."""
    return bool(2 * ndimage.distance_transform_edt(np.pad(piece, 1)).max() >= 0.3 * np.sqrt(area))


def join_pieces_of_one_seed(segments: np.ndarray, blobs: BlobColours) -> np.ndarray:
    """Return the segments (each inside one of the `blobs`) with touching pieces that one
    ellipse fits as well as two put back together, the best fitted first: a seed cut in two
    by a ragged outline or a false neck. Two seeds in contact, even one resting a third of
    its width over the other, are fitted by two ellipses better than by one by a quarter of
    the smaller or more; one seed cut in two is fitted worse by two half ellipses. Pieces of
    two clearly different colours stay apart: two kinds of seed. Blob by blob on its box:
    pieces of two blobs never touch, and the frame holds few pairs."""
    out = segments
    for label, (rows, cols) in enumerate(blobs.boxes, start=1):
        own = blobs.labels[rows, cols] == label
        seg = np.where(own, segments[rows, cols], 0)
        joined = _joins(seg, blobs.rgb, (rows.start, cols.start))
        if joined is None:
            continue
        if out is segments:
            out = segments.copy()
        lookup = np.arange(seg.max() + 1, dtype=seg.dtype)
        for piece, into in joined.items():
            lookup[piece] = into
        out[rows, cols][own] = lookup[seg[own]]
    return out


def _joins(seg: np.ndarray, rgb: np.ndarray, origin: tuple[int, int]) -> dict[int, int] | None:
    """Return which piece each touching piece of one blob's segments (`seg`, on its box at
    `origin` in the picture `rgb`) joins, None if none does (`join_pieces_of_one_seed`)."""
    pairs = _touching_pairs(seg)
    if not pairs:
        return None
    boxes = ndimage.find_objects(seg)
    pixels: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for label in {k for pair in pairs for k in pair}:
        rows, cols = boxes[label - 1]
        ys, xs = np.nonzero(seg[rows, cols] == label)
        pixels[label] = (ys + rows.start + origin[0], xs + cols.start + origin[1])
    joined = {label: label for label in pixels}
    # Each piece's colour and misfit, measured once for all its pairs (again once it grows).
    colour_of: dict[int, tuple[np.ndarray, float]] = {}
    misfit_of: dict[int, float] = {}

    def gain(p: int, q: int) -> float:
        (py, px), (qy, qx) = pixels[p], pixels[q]
        smaller = min(len(py), len(qy))
        if smaller < 6:
            return np.inf
        for k in (p, q):
            if k not in colour_of:
                colour_of[k] = colour_stats(rgb[pixels[k]])
        if clearly_different(colour_of[p], colour_of[q]):
            return np.inf
        for k in (p, q):
            if k not in misfit_of:
                misfit_of[k] = ellipse_misfit(*pixels[k])
        p_misfit, q_misfit = misfit_of[p], misfit_of[q]
        union = np.concatenate([py, qy]), np.concatenate([px, qx])
        fits = (ellipse_misfit(*union) - p_misfit - q_misfit) / smaller
        # A piece its own ellipse fits far worse than half an ellipse is fitted by its own is
        # no seed (a cap of one seed cut off by the line): it joins its neighbour, first. Not
        # where the two meet in notches (their union's hull is larger than theirs): a cap and
        # the rest of its seed make one convex outline, a small seed against a larger does not.
        fragment = p_misfit if len(py) == smaller else q_misfit
        if fragment <= _FRAGMENT * smaller or fits - 1 >= _TWO_SEEDS_GAIN:
            return fits  # no cap, or one fitted too badly to join even as a cap
        notched = hull_area(*union) > hull_area(py, px) + hull_area(qy, qx)
        return fits if notched else fits - 1

    gains = {pair: gain(*pair) for pair in pairs}
    while gains:
        (p, q), best = min(gains.items(), key=lambda item: item[1])
        if best >= _TWO_SEEDS_GAIN:
            break
        (py, px), (qy, qx) = pixels[p], pixels.pop(q)
        pixels[p] = np.concatenate([py, qy]), np.concatenate([px, qx])
        del colour_of[p], misfit_of[p]
        for label, into in joined.items():
            if into == q:
                joined[label] = p
        neighbours = {k for pair in gains if p in pair or q in pair for k in pair} - {p, q}
        gains = {pair: g for pair, g in gains.items() if p not in pair and q not in pair}
        for k in neighbours:
            gains[(min(p, k), max(p, k))] = gain(min(p, k), max(p, k))
    return None if all(label == into for label, into in joined.items()) else joined


def lay_lines_on_upper_seeds(segments: np.ndarray, blobs: BlobColours) -> np.ndarray:
    """Return the segments (each inside one of the `blobs`) with the line between two
    touching seeds laid on the outline of the one on top, where the picture shows which one
    that is, and else between their outlines.

    Where one seed rests on another, the line between them is the upper one's outline: the
    arc of its ellipse fitted to its outline on the background. The flood's line cuts across
    (a tip of the upper seed goes to the lower one), and the seeds' shapes cannot tell which
    is upper: the other's ellipse, continued under it, makes the same pair. The picture can:
    the upper seed's outline is an edge (its rim against the lower one's body), while the
    lower one's arc runs across the upper one's body. So of the two arcs near the line, the
    one along the clearly stronger edge is the upper seed's, and the pixels near the line
    change sides to lie on it: the lower one's inside the upper's ellipse, the upper one's
    outside it and inside the lower's. Where neither edge is, only the pixels inside one
    ellipse alone change sides (the line stays inside both); the soft rim just outside both
    goes to the nearer.
    """
    out = segments.copy()
    height, width = segments.shape
    for label, (rows, cols) in enumerate(blobs.boxes, start=1):
        own = np.pad(blobs.labels[rows, cols] == label, 1)
        seg = np.where(own, np.pad(segments[rows, cols], 1), 0)
        pairs = _touching_pairs(seg)
        if not pairs:
            continue
        edge = blobs.edges(label)
        # Each seed's outline on the background: where the frame's edge cuts it is none.
        outside = ~own
        outside[0] &= rows.start > 0
        outside[-1] &= rows.stop < height
        outside[:, 0] &= cols.start > 0
        outside[:, -1] &= cols.stop < width
        rim = dilated(outside) & own
        # The outline's own edge, against the background, has no say in which arc is stronger.
        inner = ~dilated(~own, 2)
        present = sorted({k for pair in pairs for k in pair})
        # How far the line may move from each seed, and each seed's distance that far.
        reach = {k: _reach(seg == k) for k in present}
        away = {k: distance_within(seg == k, reach[k]) for k in present}
        ellipses = _outline_ellipses(rim, seg, present, away, reach)
        moved = seg.copy()
        for p, q in sorted(pairs):
            first, second = ellipses[p], ellipses[q]
            if first is None or second is None:
                continue
            moves = min(reach[p], reach[q])
            near = ((seg == p) & (away[q] <= moves)) | ((seg == q) & (away[p] <= moves))
            # A pixel just outside both ellipses (the soft rim where they meet) goes to the
            # nearer; one far outside both is a seed of its own, still unparted.
            outside_both = near & ~first & ~second
            ys, xs = np.nonzero(outside_both)
            off_p, off_q = _off_outline_at(first, ys, xs), _off_outline_at(second, ys, xs)
            soft = np.minimum(off_p, off_q) <= _SOFT_RIM
            moved[ys[soft], xs[soft]] = np.where(off_p <= off_q, p, q)[soft]
            strengths = _edge_along(first, near & inner, edge), _edge_along(second, near & inner, edge)
            if min(strengths) <= 0 or max(strengths) < _UPPER_EDGE * min(strengths):
                # Which is upper the picture cannot tell: only pixels inside one ellipse alone move.
                moved[near & (seg == p) & ~first & second] = q
                moved[near & (seg == q) & ~second & first] = p
                continue
            (upper, over), (lower, under) = (p, first), (q, second)
            if strengths[1] > strengths[0]:
                (upper, over), (lower, under) = (q, second), (p, first)
            moved[near & (seg == lower) & over] = upper
            moved[near & (seg == upper) & ~over & under] = lower
        moved = largest_pieces(moved, present)
        view = out[rows, cols]
        view[own[1:-1, 1:-1]] = moved[1:-1, 1:-1][own[1:-1, 1:-1]]
    return out


def _outline_ellipses(
    rim: np.ndarray, seg: np.ndarray, present: list[int], away: dict[int, np.ndarray],
    reach: dict[int, float],
) -> dict[int, np.ndarray | None]:
    """Return each seed's ellipse fitted to its outline on the background (`rim`), the
    outline near a neighbour first given to whichever of the two ellipses it lies nearer: a
    strip of one seed's flank that the line gave to the other would bend that one's ellipse."""
    owner = np.where(rim, seg, 0)
    ellipses = {k: _fitted(owner == k) for k in present}
    best = np.full(seg.shape, np.inf)
    for k, inside in ellipses.items():
        if inside is None:
            continue
        ys, xs = np.nonzero(rim & ((away[k] <= reach[k]) | (seg == k)))
        off = _off_outline_at(inside, ys, xs)
        closer = off < best[ys, xs]
        owner[ys[closer], xs[closer]] = k
        best[ys[closer], xs[closer]] = off[closer]
    # Refitted where the outline changed hands.
    return {k: _fitted(owner == k) if not np.array_equal(owner == k, rim & (seg == k)) else inside
            for k, inside in ellipses.items()}


def _reach(seed: np.ndarray) -> float:
    """Return how far from a seed the line between it and a neighbour may move."""
    return max(2.0, _UPPER_REACH * np.sqrt(np.count_nonzero(seed) / np.pi))


def _fitted(outline: np.ndarray) -> np.ndarray | None:
    """Return where the ellipse fitted to an outline's pixels lies, on the outline's array."""
    ys, xs = np.nonzero(outline)
    return ellipse_inside(ys, xs, outline.shape)


def _off_outline(inside: np.ndarray) -> np.ndarray:
    """Return how far each pixel lies from an ellipse's outline (`inside`, where it lies)."""
    return np.where(inside, ndimage.distance_transform_edt(inside), ndimage.distance_transform_edt(~inside))


def _off_outline_at(inside: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Return `_off_outline(inside)` at the pixels (`ys`, `xs`) alone: the nearest pixel on
    the other side of the outline is one of those next to it (a step towards the pixel from
    any other is nearer), so a tree of those answers without a distance map of the box."""
    off = np.empty(len(ys))
    if len(ys) == 0:
        return off
    # Both sides of the outline, 4-adjacent, on the ellipse's box and a pixel round it.
    window = box_around(inside, 1)
    if window is None:
        return _off_outline(inside)[ys, xs]
    ellipse = inside[window]
    edge = beside_outline(ellipse, frame_outside=False)
    mine = inside[ys, xs]
    for side in (True, False):
        ey, ex = np.nonzero(edge & (ellipse != side))  # the other side's pixels by the outline
        ey, ex = ey + window[0].start, ex + window[1].start
        at = mine == side
        if not at.any():
            continue
        if len(ey) == 0:
            return _off_outline(inside)[ys, xs]  # nothing on the other side: as the map has it
        off[at] = cKDTree(np.stack([ey, ex], axis=1)).query(np.stack([ys[at], xs[at]], axis=1))[0]
    return off


def _edge_along(inside: np.ndarray, where: np.ndarray, edge: np.ndarray) -> float:
    """Return the median edge strength along an ellipse's outline (`inside`, where it lies)
    within `where`, 0 if it barely crosses it."""
    window = box_around(inside, 1)
    if window is None:
        return 0.0
    ellipse = inside[window]
    arc = ellipse & ~eroded(ellipse) & where[window]
    return float(np.median(edge[window][arc])) if np.count_nonzero(arc) >= 3 else 0.0


def _touching_pairs(segments: np.ndarray) -> set[tuple[int, int]]:
    """Return the pairs of labels (smaller first) side by side, along rows or down columns."""
    a: list[np.ndarray] = []
    b: list[np.ndarray] = []
    for first, second in ((segments[:, :-1], segments[:, 1:]), (segments[:-1], segments[1:])):
        meet = first != second  # few: pick them, then those between two segments
        left, right = first[meet], second[meet]
        both = (left > 0) & (right > 0)
        a.append(left[both])
        b.append(right[both])
    left, right = np.concatenate(a), np.concatenate(b)
    return set(zip(np.minimum(left, right).tolist(), np.maximum(left, right).tolist(), strict=True))
