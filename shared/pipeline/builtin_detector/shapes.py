"""The shape of a blob: how wide its strokes are, how convex it is, and whether its outline
was drawn with a ruler."""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError

MIN_STROKE = 0.4  # a seed's width over the root of its area; strokes of text are thinner


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
    ys, xs = np.nonzero(blob & ~ndimage.binary_erosion(blob))  # the outline's hull is the blob's
    try:
        return ConvexHull(np.stack([xs, ys], axis=1).astype(float))
    except (QhullError, ValueError):
        return None


def solidity(blob: np.ndarray) -> float:
    """Return the share of its convex hull a blob fills: 1 if convex, less if it has bays.
    The hull runs through pixel centres: half a pixel of outline is missing from its area."""
    hull = convex_hull(blob)
    return 0.0 if hull is None else float(blob.sum() / (hull.volume + hull.area / 2))


def largest_pieces(labels: np.ndarray, present: list[int]) -> np.ndarray:
    """Return `labels` with each label keeping only its largest connected piece, and the
    pixels of its other pieces given to the label nearest them (a seed is one piece)."""
    kept = np.zeros_like(labels)
    for k in present:
        parts, n = ndimage.label(labels == k)
        if n:
            sizes = np.bincount(parts.ravel())[1:]
            kept[parts == sizes.argmax() + 1] = k
    nearest = ndimage.distance_transform_edt(kept == 0, return_indices=True)[1]
    return kept[nearest[0], nearest[1]] * (labels > 0)


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
    # A row of columns and a column of rows: the conic's terms broadcast to the whole array,
    # each as computed on it, at a fraction of the work.
    x = (np.arange(shape[1])[None, :] - centre_x) / scale
    y = (np.arange(shape[0])[:, None] - centre_y) / scale
    # An ellipse's a and c share their sign, which the conic takes outside it.
    return np.asarray((a * x * x + b * x * y + c * y * y + d * x + e * y + f) * np.sign(a) < 0)
