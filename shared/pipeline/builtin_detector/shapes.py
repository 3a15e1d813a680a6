"""The shape of a blob: how wide its strokes are, how convex it is, and whether its outline
was drawn with a ruler."""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError

MIN_STROKE = 0.4  # a seed's width over the root of its area; strokes of text are thinner
_NEAREST_PAIRS = 400_000  # strays times kept pixels measured one by one; more: a distance map


def stroke_widths(stroked: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Return the width of the strokes that reach `where` at each of their pixels (zero
    elsewhere): twice the distance to the nearest pixel that is not stroked, the frame's edge
    counting as not stroked, less one pixel (the distance runs between pixels' centres, so a
    line one pixel wide is 1, not 2: a fibre two or three pixels wide would otherwise count
    as half as thick again). Stroke by stroke on its box, not on the frame: the same, as the
    pixel nearest any of a stroke's that is not its own is not stroked."""
    thickness = np.zeros(stroked.shape)
    strokes, _ = ndimage.label(stroked)
    boxes = ndimage.find_objects(strokes)
    for label in np.unique(strokes[where & stroked]):
        rows, cols = boxes[label - 1]
        own = strokes[rows, cols] == label
        distance = ndimage.distance_transform_edt(np.pad(own, 1))[1:-1, 1:-1]
        thickness[rows, cols][own] = 2 * distance[own] - 1
    return thickness


def rectilinear(edge: np.ndarray) -> bool:
    """Whether an outline, on its box, runs straight along a row for most of the box's
    width and along a column for most of its height: a drawn shape, not a seed."""
    h, w = edge.shape
    return _longest_run(edge) >= 0.6 * w and _longest_run(edge.T) >= 0.6 * h


def _longest_run(pixels: np.ndarray) -> int:
    """Return the longest run of set pixels along any row."""
    padded = np.pad(pixels.astype(np.int8), ((0, 0), (1, 1)))
    steps = np.diff(padded, axis=1)
    starts, ends = np.nonzero(steps == 1)[1], np.nonzero(steps == -1)[1]
    return int((ends - starts).max(initial=0))  # runs come in order, row by row


def convex_hull(blob: np.ndarray) -> ConvexHull | None:
    """Return the convex hull of a blob's pixel centres (x, y), None if they are on a line."""
    # The hull of each row's first and last pixels is the blob's.
    filled = blob.any(axis=1)
    ys = np.flatnonzero(filled)
    first = blob[filled].argmax(axis=1)
    last = blob.shape[1] - 1 - blob[filled][:, ::-1].argmax(axis=1)
    return _hull_of(np.concatenate([ys, ys]), np.concatenate([first, last]))


def _hull_of(ys: np.ndarray, xs: np.ndarray) -> ConvexHull | None:
    """Return the convex hull of pixel centres (rows `ys`, columns `xs`), None if on a line."""
    try:
        return ConvexHull(np.stack([xs, ys], axis=1).astype(float))
    except (QhullError, ValueError):
        return None


def _pixel_area(hull: ConvexHull) -> float:
    """Return the area of a hull through pixel centres, with the half pixel of outline round
    them that it misses."""
    return float(hull.volume + hull.area / 2)


def hull_area(ys: np.ndarray, xs: np.ndarray) -> float:
    """Return the area of the convex hull of pixels (rows `ys`, columns `xs`), their outline
    included; 0 if they are on a line."""
    hull = _hull_of(ys, xs)
    return 0.0 if hull is None else _pixel_area(hull)


def solidity(blob: np.ndarray, hidden: np.ndarray | None = None) -> float:
    """Return the share of its convex hull a blob fills: 1 if convex, less if it has bays.
    The hull runs through pixel centres: half a pixel of outline is missing from its area.
    The `hidden` pixels in the hull (another seed's, over part of this one) are no bay."""
    hull = convex_hull(blob)
    if hull is None:
        return 0.0
    area = _pixel_area(hull)
    if hidden is not None:
        ys, xs = np.nonzero(hidden)
        inside = hull.equations[:, :2] @ np.stack([xs, ys]) + hull.equations[:, 2:] <= 0
        area -= np.count_nonzero(inside.all(axis=0))
    return float(min(1.0, blob.sum() / max(area, 1.0)))


def largest_pieces(labels: np.ndarray, present: list[int]) -> np.ndarray:
    """Return `labels` with each label keeping only its largest connected piece, and the
    pixels of its other pieces given to the label nearest them (a seed is one piece)."""
    kept = np.zeros_like(labels)
    for k in present:
        window = box_around(labels == k, 0)
        if window is not None:  # labelled on its own box: a seed's is a part of its blob's
            parts = ndimage.label(labels[window] == k)[0]
            kept[window][parts == np.bincount(parts.ravel())[1:].argmax() + 1] = k
    strays = np.nonzero((kept == 0) & (labels > 0))
    if len(strays[0]) == 0:
        return kept  # each label one piece already: nothing to give away
    given = _nearest_label(kept, *strays)
    if given is not None:
        kept[strays] = given
        return kept
    nearest = ndimage.distance_transform_edt(kept == 0, return_indices=True)[1]
    return kept[nearest[0], nearest[1]] * (labels > 0)


def _nearest_label(kept: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray | None:
    """Return the label of the `kept` pixels nearest each pixel (`ys`, `xs`), if those are all
    of one label, pixel by pixel: a few strays, measured against each kept pixel, cost less
    than a map of the whole array. None if they are too many to measure so, or if a stray's
    nearest pixels are of two labels (the distance map's own choice breaks that tie)."""
    kept_y, kept_x = np.nonzero(kept)
    if len(kept_y) == 0 or len(ys) * len(kept_y) > _NEAREST_PAIRS:
        return None
    squared = (ys[:, None] - kept_y) ** 2 + (xs[:, None] - kept_x) ** 2
    nearest = squared == squared.min(axis=1, keepdims=True)
    own = kept[kept_y, kept_x]
    low = np.where(nearest, own, np.iinfo(own.dtype).max).min(axis=1)
    high = np.where(nearest, own, 0).max(axis=1)
    return low if np.array_equal(low, high) else None


def distance_within(piece: np.ndarray, reach: float) -> np.ndarray:
    """Return each pixel's distance to the nearest pixel of `piece` where that is at most
    `reach`, and more than `reach` (at most infinite) elsewhere: what
    `ndimage.distance_transform_edt(~piece)` gives up to `reach`, on the piece's box and
    `reach` around it alone (its nearest pixel of the piece is inside that)."""
    distance = np.full(piece.shape, np.inf)
    window = box_around(piece, int(reach) + 1)
    if window is not None:
        distance[window] = ndimage.distance_transform_edt(~piece[window])
    return distance


def beside_outline(mask: np.ndarray, *, frame_outside: bool) -> np.ndarray:
    """Return the pixels with one of their four neighbours on the other side of a mask's
    outline; beyond the array's edge is outside the mask if `frame_outside`, else on each
    pixel's own side. Erosion and dilation by the cross are built from it (`eroded`,
    `dilated`): the same pixels as `ndimage`'s, at a fraction of its cost on a seed's box."""
    padded = np.pad(mask, 1) if frame_outside else np.pad(mask, 1, mode="edge")
    return ((padded[:-2, 1:-1] != mask) | (padded[2:, 1:-1] != mask)
            | (padded[1:-1, :-2] != mask) | (padded[1:-1, 2:] != mask))


def eroded(mask: np.ndarray, times: int = 1) -> np.ndarray:
    """Return `ndimage.binary_erosion(mask, iterations=times)`: beyond the edge is outside."""
    for _ in range(times):
        mask = mask & ~beside_outline(mask, frame_outside=True)
    return mask


def dilated(mask: np.ndarray, times: int = 1) -> np.ndarray:
    """Return `ndimage.binary_dilation(mask, iterations=times)`: beyond the edge is outside."""
    for _ in range(times):
        mask = mask | beside_outline(mask, frame_outside=True)
    return mask


def box_around(pixels: np.ndarray, margin: int) -> tuple[slice, slice] | None:
    """Return the box of the set `pixels` and `margin` around it (inside the array), None if
    none is set: a step that reaches no further than that runs on the box alone."""
    rows, cols = np.flatnonzero(pixels.any(axis=1)), np.flatnonzero(pixels.any(axis=0))
    if len(rows) == 0:
        return None
    return (slice(max(0, rows[0] - margin), rows[-1] + margin + 1),
            slice(max(0, cols[0] - margin), cols[-1] + margin + 1))


def ellipse_misfit(ys: np.ndarray, xs: np.ndarray) -> float:
    """Return how many pixels a piece (its pixels' rows and columns) and the solid ellipse of
    its own area, centre and spread do not share: about 0 for an ellipse, a quarter of its
    area for two equal discs side by side, a sixth for a half ellipse."""
    # A solid ellipse's pixels spread with covariance (semi-axes / 2)²: inside it, the
    # Mahalanobis distance is under 2, and its area is 4π√det.
    spread = np.cov(ys, xs) + np.eye(2) / 12
    offsets = np.stack([ys - ys.mean(), xs - xs.mean()], axis=1)
    inside = np.count_nonzero(np.einsum("ij,jk,ik->i", offsets, np.linalg.inv(spread), offsets) <= 4)
    return float(len(ys) + 4 * np.pi * np.sqrt(np.linalg.det(spread)) - 2 * inside)


def ellipse_inside(ys: np.ndarray, xs: np.ndarray, shape: tuple[int, ...]) -> np.ndarray | None:
    """Return where, on an array of `shape`, lies the ellipse that fits points of an outline
    best (rows `ys`, columns `xs`; direct least squares, Fitzgibbon's, in Halíř and Flusser's
    stable form), or None if no ellipse fits them (too few, or on a line)."""
    if len(ys) < 6:
        return None
    # Centred and scaled, for a well-conditioned fit.
    centre_y, centre_x = ys.mean(), xs.mean()
    scale = max(float(np.std(ys) + np.std(xs)), 1.0)
    x, y = (xs - centre_x) / scale, (ys - centre_y) / scale
    quadratic = np.stack([x * x, x * y, y * y], axis=1)
    linear = np.stack([x, y, np.ones_like(x)], axis=1)
    s1, s2, s3 = quadratic.T @ quadratic, quadratic.T @ linear, linear.T @ linear
    try:
        t = -np.linalg.solve(s3, s2.T)
    except np.linalg.LinAlgError:
        return None
    m = s1 + s2 @ t
    vectors = np.real(np.linalg.eig(np.stack([m[2] / 2, -m[1], m[0] / 2]))[1])
    is_ellipse = 4 * vectors[0] * vectors[2] - vectors[1] ** 2 > 0
    if not is_ellipse.any():
        return None
    a, b, c = vectors[:, int(np.argmax(is_ellipse))]
    d, e, f = t @ np.array([a, b, c])
    # A row of columns and a column of rows: the conic's terms broadcast to the ellipse's box,
    # each as computed on the whole array, at a fraction of the work.
    rows, cols = _ellipse_box((a, b, c, d, e, f), (centre_y, centre_x), scale, shape)
    x = (np.arange(shape[1])[None, cols] - centre_x) / scale
    y = (np.arange(shape[0])[rows, None] - centre_y) / scale
    inside = np.zeros(shape, bool)
    # An ellipse's a and c share their sign, which the conic takes outside it.
    inside[rows, cols] = (a * x * x + b * x * y + c * y * y + d * x + e * y + f) * np.sign(a) < 0
    return inside


def _ellipse_box(
    conic: tuple[float, ...], centre: tuple[float, float], scale: float, shape: tuple[int, ...]
) -> tuple[slice, slice]:
    """Return the rows and columns of an array of `shape` that hold the ellipse where a conic
    (in coordinates centred on `centre` and divided by `scale`) is below zero, and a margin of
    two pixels against rounding: the whole array if the conic is no real ellipse."""
    a, b, c, d, e, f = (np.sign(conic[0]) * value for value in conic)
    det = a * c - b * b / 4
    whole = slice(0, shape[0]), slice(0, shape[1])
    if det <= 0:
        return whole
    x0, y0 = np.linalg.solve([[2 * a, b], [b, 2 * c]], [-d, -e])
    level = -(f + (d * x0 + e * y0) / 2)  # the quadratic part's value on the outline
    if not level > 0:
        return whole
    half_x, half_y = np.sqrt(level * c / det), np.sqrt(level * a / det)
    spans = []
    for mid, half, start, size in ((y0, half_y, centre[0], shape[0]), (x0, half_x, centre[1], shape[1])):
        low, high = start + scale * (mid - half) - 2, start + scale * (mid + half) + 2
        spans.append(slice(int(np.clip(np.floor(low), 0, size)), int(np.clip(np.ceil(high) + 1, 0, size))))
    return spans[0], spans[1]
