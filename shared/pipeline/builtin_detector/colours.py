"""Touching seeds of two kinds: parted by their colours, the line between them moved onto
the edge between the colours, and a highlight parted from its seed given back to it."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from shared.pipeline.builtin_detector.pixels import luma_of, ring_around
from shared.pipeline.builtin_detector.shapes import (
    MIN_STROKE,
    distance_within,
    eroded,
    largest_pieces,
    solidity,
)

_COLOUR_SEPARATION = 8.0  # two seeds' colours: squared gap over their variances, at least
_HIGHLIGHT = 0.2  # brighter than a seed's typical pixel by this share of the way to white
_WHITENED = 0.2  # two hues this near the line from one to white: a seed and its highlight
_PIECE_SOLIDITY = 0.75  # a seed, even one partly hidden, is about convex; a strip along a line is not
_RING = 0.5  # a piece of one colour whose holes are as large as itself is a ring round the other
_ENCLOSED = 0.5  # a piece bordering one seed along this share of its outline, in its box, is part of it


def part_by_colour(
    blob: np.ndarray, colours: np.ndarray, min_area: float, beside: np.ndarray | None = None
) -> tuple[np.ndarray, ...] | None:
    """Return the blob parted into its seeds by their colours, if it has two clearly
    different ones (seeds of two kinds), each in pieces shaped like seeds (two small seeds
    of one kind on a large one of another are three); a seed's own shading (a darker rim
    round a paler middle) gives a ring, which is no seed. `beside` is the pixels of the
    seeds next to the blob: a seed the line to one of them bit into is still about convex
    with that bite.

    The colours themselves first, then their hue alone (each over its brightness): shading,
    blotches and speckles darken a seed without changing its hue, so two seeds of one
    brightness and two hues stand apart in hue where their textures blur them in colour.
    Highlights whiten the hue: they have no say in it, and go to the colour around them.
    """
    inner = eroded(blob, 2)  # the rim mixes in the background
    if inner.sum() < 2 * min_area:
        return None
    luma = luma_of(colours)
    median = float(np.median(luma[inner]))
    matte = inner & (luma <= median + _HIGHLIGHT * (1 - median))
    hue = colours / np.maximum(luma, 1e-3)[..., None]
    for features, where in ((colours, inner), (hue, matte)):
        side = _two_colours(features[where], where)
        if side is None:
            continue
        # The highlights left out go to the colour around them.
        nearest = ndimage.distance_transform_edt(side == 0, return_indices=True)[1]
        side = np.where(inner, side[nearest[0], nearest[1]], 0)
        # Each colour's seeds: its pieces of a seed's size and shape, together most of it.
        kinds = [_seeds_of(side == k, min_area, beside) for k in (1, 2)]
        if not all(kinds):
            continue
        if features is hue and _whitened(*(colours[matte & np.any(kind, axis=0)] for kind in kinds)):
            continue
        # The largest first: a small seed in a bay of a large one's colour keeps its pixels.
        pieces = sorted((piece for kind in kinds for piece in kind), key=np.count_nonzero, reverse=True)
        labels = np.zeros(blob.shape, np.int32)
        for k, piece in enumerate(pieces, start=1):
            labels[piece] = k
        nearest = ndimage.distance_transform_edt(labels == 0, return_indices=True)[1]
        labels = labels[nearest[0], nearest[1]]
        return tuple(blob & (labels == k) for k in range(1, len(pieces) + 1))
    return None


def _seeds_of(colour: np.ndarray, min_area: float, beside: np.ndarray | None) -> list[np.ndarray]:
    """Return the pieces of one colour's pixels that are seeds, each of a seed's size and
    shape (a strip along a line is not, nor a ring, a seed's shaded rim round its paler
    middle; the `beside` pixels, a neighbour's, in its hull are no bay), if they hold most
    of its pixels; else none."""
    parts, n = ndimage.label(colour)
    sizes = np.bincount(parts.ravel(), minlength=n + 1)[1:]
    seeds = []
    for k in np.flatnonzero(sizes >= min_area) + 1:
        # A seed's highlight, of the other colour, is no hole in it.
        piece = ndimage.binary_fill_holes(parts == k)
        area = piece.sum()
        width = 2 * ndimage.distance_transform_edt(piece).max()
        if (sizes[k - 1] >= _RING * area and width >= MIN_STROKE * np.sqrt(area)
                and solidity(piece, beside) >= _PIECE_SOLIDITY):
            seeds.append(piece)
    return seeds if sum(piece.sum() for piece in seeds) >= 0.8 * sizes.sum() else []


def _whitened(first: np.ndarray, second: np.ndarray) -> bool:
    """Whether the colours of two pieces (one per row) differ as a colour and that colour
    mixed with white do: a seed and the glow round its highlight, not two seeds."""
    if len(first) == 0 or len(second) == 0:
        return True
    a, b = np.median(first, axis=0), np.median(second, axis=0)
    if luma_of(a[None])[0] > luma_of(b[None])[0]:
        a, b = b, a
    towards = 1 - a  # from the darker colour towards white
    share = float(towards @ (b - a)) / max(float(towards @ towards), 1e-9)
    return bool(np.linalg.norm(b - a - share * towards) < _WHITENED * np.linalg.norm(b - a))


def _two_colours(features: np.ndarray, inner: np.ndarray) -> np.ndarray | None:
    """Return the `inner` pixels labelled 1 or 2 by which of two clearly different colours
    they have (`features`, one row per pixel), or None if they have one colour."""
    # Two-means along the colours' main axis, at its best cut of all (Otsu's): a small seed
    # against a large textured one is a small class, which two-means from the middle misses
    # for a cut through the large one's texture.
    centred = features - features.mean(axis=0)
    axis = np.linalg.svd(centred[:: max(1, len(centred) // 2000)], full_matrices=False)[2][0]
    position = (centred * axis).sum(axis=1)
    ordered = np.sort(position).astype(np.float64)
    if len(ordered) < 2:
        return None
    below = np.arange(1, len(ordered))  # pixels below each cut
    sums, squares = np.cumsum(ordered)[:-1], np.cumsum(ordered**2)[:-1]
    low, high = sums / below, (ordered.sum() - sums) / (len(ordered) - below)
    k = int(np.argmax(below * (len(ordered) - below) * (high - low) ** 2))
    low_var = squares[k] / below[k] - low[k] ** 2
    high_var = ((ordered**2).sum() - squares[k]) / (len(ordered) - below[k]) - high[k] ** 2
    separation = (high[k] - low[k]) ** 2 / (low_var + high_var + 1e-9)
    if separation < _COLOUR_SEPARATION or high[k] - low[k] < 0.1:
        return None
    side = np.zeros(inner.shape, np.int8)
    side[inner] = np.where(position > ordered[k], 2, 1)
    return side


def smoothed_colours(rgb: np.ndarray, rows: slice, cols: slice) -> np.ndarray:
    """Return the picture's colours in a box, each a Gaussian average of its neighbours (a
    seed's colour steadied against noise): filtered on the box and the filter's reach around
    it, so the same as on the whole frame, for the few boxes that need colours."""
    reach = 4  # of a Gaussian of one pixel, truncated at four
    top, left = max(0, rows.start - reach), max(0, cols.start - reach)
    blurred = ndimage.gaussian_filter(rgb[top : rows.stop + reach, left : cols.stop + reach], (1, 1, 0))
    return blurred[rows.start - top : rows.stop - top, cols.start - left : cols.stop - left]


class BlobColours:
    """The picture (`rgb`) and its blobs (`labels`, 1..n, and their `boxes`), with each
    blob's smoothed colours (`smoothed_colours`) and their edges computed when a step first
    needs them and kept for the next: the steps that part touching seeds walk the same blobs."""

    def __init__(self, rgb: np.ndarray, labels: np.ndarray) -> None:
        self.rgb = rgb
        self.labels = labels
        self.boxes: list[tuple[slice, slice]] = ndimage.find_objects(labels)
        self._smoothed: dict[int, np.ndarray] = {}
        self._edges: dict[int, np.ndarray] = {}

    def smoothed(self, label: int, where: tuple[slice, slice] | None = None) -> np.ndarray:
        """Return the smoothed colours on blob `label`'s box, or on a box inside it (`where`):
        the same numbers either way, as the filter's reach round the box is taken in."""
        box_rows, box_cols = self.boxes[label - 1]
        if label not in self._smoothed:
            self._smoothed[label] = smoothed_colours(self.rgb, box_rows, box_cols)
        rows, cols = where or (box_rows, box_cols)
        return self._smoothed[label][rows.start - box_rows.start : rows.stop - box_rows.start,
                                     cols.start - box_cols.start : cols.stop - box_cols.start]

    def edges(self, label: int) -> np.ndarray:
        """Return the strength of the smoothed brightness's edges on blob `label`'s box and a
        pixel round it (the box's own pixels repeated), kept like its colours."""
        if label not in self._edges:
            luma = np.pad(luma_of(self.smoothed(label)), 1, mode="edge")
            self._edges[label] = np.hypot(ndimage.sobel(luma, 0), ndimage.sobel(luma, 1))
        return self._edges[label]


def colour_stats(pixels: np.ndarray) -> tuple[np.ndarray, float]:
    """Return the median colour of some pixels (one per row) and its typical squared
    deviation: a highlight is no part of a seed's colour."""
    median = np.median(pixels, axis=0)
    return median, float(np.median(((pixels - median) ** 2).sum(axis=1))) + 1e-4


def clearly_different(first: tuple[np.ndarray, float], second: tuple[np.ndarray, float]) -> bool:
    """Whether two pieces' colours (`colour_stats`) are of two kinds of seed: three typical
    deviations apart."""
    return bool(((first[0] - second[0]) ** 2).sum() > 9 * (first[1] + second[1]))


def follow_colour_edges(segments: np.ndarray, blobs: BlobColours) -> np.ndarray:
    """Return the segments (each inside one of the `blobs`) with the line between two
    touching seeds of clearly different colours moved onto the edge between the colours:
    cuts made from the shape alone pass near it, not on it. Only pixels near the line move,
    each to the seed whose colour it is nearer; each seed then keeps its largest piece."""
    out = segments.copy()
    for label, (rows, cols) in enumerate(blobs.boxes, start=1):
        seg = segments[rows, cols]
        present = [k for k in np.unique(seg) if k > 0]
        if len(present) < 2:
            continue
        colour = blobs.smoothed(label)
        stats = {}
        for k in present:
            core = eroded(seg == k, 2)
            stats[k] = colour_stats(colour[core] if core.sum() >= 20 else colour[seg == k])
        own = seg.copy()
        best = np.full(seg.shape, np.inf)
        for k in present:
            mean, var = stats[k]
            distinct = [j for j in present if j != k and clearly_different(stats[j], stats[k])]
            if not distinct:
                continue  # no pixel moves to it, and none of its own to another
            # Near seed k: within a band as wide as a fifth of its radius.
            reach = max(2.0, 0.2 * np.sqrt((seg == k).sum() / np.pi))
            near = (distance_within(seg == k, reach) <= reach) & np.isin(seg, [k, *distinct])
            ys, xs = np.nonzero(near)
            cost = ((colour[ys, xs] - mean) ** 2).sum(axis=1)
            # A pixel moves only to a seed whose colour it has (a highlight has neither's).
            better = (cost < best[ys, xs]) & ((seg[ys, xs] == k) | (cost <= 9 * var))
            own[ys[better], xs[better]] = k
            best[ys[better], xs[better]] = cost[better]
        # Each seed keeps its largest piece; stray pixels go to the seed nearest them.
        refined = largest_pieces(own, present)
        view = out[rows, cols]
        view[seg > 0] = refined[seg > 0]
    return out


def merge_enclosed(segments: np.ndarray) -> np.ndarray:
    """Return the segments with each one that lies within another's box and borders it
    along most of its outline given to it: a highlight or blotch parted from its seed by
    colour, not a seed (one seed on another's edge reaches out of it)."""
    merged = segments.copy()
    boxes = ndimage.find_objects(segments)
    for label, where in enumerate(boxes, start=1):
        if where is None:
            continue
        rows, cols = where
        ring = ring_around(segments, label, where, segments, connectivity=2)
        if not ring.any():
            continue
        host = int(np.bincount(ring[ring != 0]).argmax())
        outer = boxes[host - 1]
        inside = outer is not None and all(
            o.start <= w.start and w.stop <= o.stop for o, w in zip(outer, where, strict=True)
        )
        if inside and np.count_nonzero(ring == host) >= _ENCLOSED * ring.size:
            merged[rows, cols][segments[rows, cols] == label] = host
    return merged
