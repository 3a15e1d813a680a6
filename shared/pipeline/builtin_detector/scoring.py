"""Boxes and scores: which pieces are seeds, their boxes, and how sure each one is."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from shared.pipeline.builtin_detector.mask import SURE_LEVEL
from shared.pipeline.builtin_detector.shapes import MIN_STROKE

_MIN_EDGE = 0.06  # a seed's edge rises by this share of its contrast per pixel, at least
_MIN_BOX_FILL = 0.3  # a seed covers at least this share of its box
_MIN_SCORE = 0.2  # no box under this confidence: on both sets' pictures, none was a seed's
_RING = 3  # px: the background's ring round a piece starts this far out (past its soft rim) and is as wide
_MIN_STANDOUT = 4.0  # a seed differs from its surroundings' plane by this many times their noise
_MAX_FLAT = 0.5  # of a piece's inner pixels, at most, the same in all three channels as the next
_LARGE = 10  # a piece this many times a seed's least length each way is no noise, however faint

Box = tuple[int, int, int, int]  # left, top, right, bottom in working pixels, right exclusive


def scored_boxes(
    segments: np.ndarray, count: int, body: np.ndarray, fuller: np.ndarray, strength: np.ndarray,
    thickness: np.ndarray, min_side: float, rgb: np.ndarray, blobs: np.ndarray, ground: np.ndarray,
) -> list[tuple[Box, float]]:
    """Return the box and confidence of each segment (labelled 1..count) that is a seed.

    `body` is the seeds' pixels (`fuller`, cut from their blobs at a lower level),
    `strength` how much each stands out from the background,
    `thickness` the width of the strokes through it and `min_side` a seed's least length;
    `rgb` is the picture and `blobs` every pixel that stands out (the ring round a piece skips them);
    `ground` is the plain background the background's surface was fitted on.
    """
    height, width = body.shape
    index = np.arange(1, count + 1)
    areas = ndimage.sum_labels(body, segments, index)
    with np.errstate(invalid="ignore"):  # a piece merged into its host (merge_enclosed) has no pixels left
        contrasts = ndimage.mean(strength, segments, index)
    # How steeply each piece rises from the background, against its contrast: a seed's edge
    # is sharp, a patch of an uneven background (a gradient, a texture) fades in.
    # Measured on the fuller bodies' outline: cut closer (at half its core's level), a faint
    # seed's outline lies near the top of its flank, where the flank flattens out. Its pixels
    # beyond the segments go to a segment within 2 px.
    outline = fuller & ~ndimage.binary_erosion(fuller, border_value=1)
    ys, xs = np.nonzero(outline)
    owners = segments[ys, xs]
    beyond = owners == 0
    owners[beyond] = _largest_near(segments, ys[beyond], xs[beyond], 2)
    slope = np.bincount(owners, _slope_at(strength, ys, xs), minlength=count + 1)[1:]
    with np.errstate(invalid="ignore"):  # a piece with no outline of its own has no slope
        edges = np.nan_to_num(slope / np.bincount(owners, minlength=count + 1)[1:]) / contrasts

    # How flat the camera left the plain background: a JPEG can smooth its noise away.
    ground_flat = _flat(rgb, ground & ~blobs, inner=False)
    found: list[tuple[Box, float]] = []
    for label, where in enumerate(ndimage.find_objects(segments), start=1):
        if where is None:
            continue  # a seed whose pixels all went to a neighbour of its colour
        rows, cols = where
        box_w, box_h = cols.stop - cols.start, rows.stop - rows.start
        area = float(areas[label - 1])
        if max(box_w, box_h) < min_side or area < min_side**2 / 2:
            continue  # dust
        if area > 0.5 * height * width or edges[label - 1] < _MIN_EDGE:
            continue  # no seed: more than half the frame, or a patch of uneven background
        if contrasts[label - 1] < SURE_LEVEL and area < (_LARGE * min_side) ** 2:
            continue  # fainter on the whole than what alone marks a seed, and small: a JPEG's blocks of noise
        if area < _MIN_BOX_FILL * box_w * box_h or (box_w > 0.9 * width and box_h > 0.9 * height):
            continue  # a box mostly of background, or of the whole frame, is no seed's
        blob = segments[rows, cols] == label
        if thickness[rows, cols][blob].max() < MIN_STROKE * np.sqrt(area):
            continue  # too thin for a seed: a hair, a fibre, a drawn line
        flat = _flat(rgb[rows, cols], blob)
        if flat >= _MAX_FLAT and flat > ground_flat:
            continue  # flatter than the camera left the ground: drawn (a badge, a letter), a gradient
        if _standout(rgb, blobs, segments, label, where) < _MIN_STANDOUT:
            continue  # no compact blob, a bend of a smooth gradient: like its own surroundings
        size_score = min(1.0, area / (4 * min_side**2))
        contrast_score = 1 - np.exp(-float(contrasts[label - 1]) / 2)
        confidence = contrast_score * _fill(blob) * size_score**0.5
        if confidence < _MIN_SCORE:
            continue  # faint, ragged and small at once: a speck, a bit of fibre, a streak
        found.append(((cols.start, rows.start, cols.stop, rows.stop), round(float(confidence), 3)))
    return found


def _flat(rgb: np.ndarray, blob: np.ndarray, inner: bool = True) -> float:
    """Return the share of a blob's pixels (with `inner`, those two pixels in from its
    outline: a drawn edge is blurred; `rgb` is its box) that are the same, in all three
    channels, as the pixel to their right, in the blob too.

    A photographed seed has texture and the camera's noise: its neighbouring pixels differ,
    at least as often as the plain background's (of some 3,000 seeds, none was flatter than
    its background, and none had more than half its pixels alike, even under a JPEG that
    smoothed the background's noise away). What is drawn on the picture afterwards (a badge,
    a label's letters) is filled with one colour, and a smooth gradient is as flat where a
    JPEG smoothed its noise away. A camera's clipped pixels (0 or 255 in a channel) are flat
    too, and tell nothing: they count as unlike.
    """
    if inner:
        blob = ndimage.binary_erosion(blob, iterations=2)
    pairs = blob[:, :-1] & blob[:, 1:]
    if not pairs.any():
        return 0.0  # too thin to judge
    alike = pairs.copy()
    for channel in range(3):  # channel by channel: numpy's reductions over a short axis are slow
        left, right = rgb[:, :-1, channel], rgb[:, 1:, channel]
        alike &= (left == right) & (left > 0) & (left < 1)
    return float(alike.sum() / pairs.sum())


def _standout(rgb: np.ndarray, blobs: np.ndarray, segments: np.ndarray, label: int,
             where: tuple[slice, slice]) -> float:
    """Return how far a piece's median colour is from the plane fitted to the colours of the
    ring of background round it, in units of the ring's own noise (its median residual).

    A seed differs from the ground it lies on, however that ground is lit; a patch of a
    smooth gradient (where its colours bend, which the background's surface cannot follow)
    is what a plane through its surroundings predicts, give or take their noise.
    """
    height, width = segments.shape
    reach = 2 * _RING + 1
    rows = slice(max(0, where[0].start - reach), min(height, where[0].stop + reach))
    cols = slice(max(0, where[1].start - reach), min(width, where[1].stop + reach))
    own = segments[rows, cols] == label
    near = ndimage.binary_dilation(own, iterations=_RING)
    ring = ndimage.binary_dilation(near, iterations=_RING) & ~near & ~blobs[rows, cols]
    if ring.sum() < 12:
        return np.inf  # no background round it to judge by (a seed among others, or filling its corner)
    ys, xs = np.nonzero(ring)
    design = np.stack([np.ones(len(xs)), xs - xs.mean(), ys - ys.mean()], axis=1)
    colours = rgb[rows, cols][ring].astype(np.float64)
    plane, *_ = np.linalg.lstsq(design, colours, rcond=None)
    noise = float(np.median(np.linalg.norm(colours - design @ plane, axis=1)))
    py, px = np.nonzero(own)
    inside = np.stack([np.ones(len(px)), px - xs.mean(), py - ys.mean()], axis=1) @ plane
    step = float(np.linalg.norm(np.median(rgb[rows, cols][own] - inside, axis=0)))
    return step / max(noise, 1e-3)


def _largest_near(labels: np.ndarray, ys: np.ndarray, xs: np.ndarray, reach: int) -> np.ndarray:
    """Return the largest label within `reach` pixels each way of the pixels (ys, xs)."""
    padded = np.pad(labels, reach)
    found = np.zeros(len(ys), labels.dtype)
    for dy in range(2 * reach + 1):
        for dx in range(2 * reach + 1):
            np.maximum(found, padded[ys + dy, xs + dx], out=found)
    return found


def _slope_at(values: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Return the steepness of `values` at the pixels (ys, xs): the Sobel gradient's length
    over 8, as `ndimage.sobel` (edges reflected) gives it, computed at those pixels only."""
    padded = np.pad(values, 1, mode="symmetric")  # numpy's "symmetric" is ndimage's "reflect"

    def at(dy: int, dx: int) -> np.ndarray:
        return padded[ys + 1 + dy, xs + 1 + dx]

    down = at(1, -1) + 2 * at(1, 0) + at(1, 1) - (at(-1, -1) + 2 * at(-1, 0) + at(-1, 1))
    across = at(-1, 1) + 2 * at(0, 1) + at(1, 1) - (at(-1, -1) + 2 * at(0, -1) + at(1, -1))
    return np.hypot(down, across) / 8


def _fill(blob: np.ndarray) -> float:
    """Return how fully a blob fills its equivalent ellipse: 1 if solid, less if ragged."""
    ys, xs = np.nonzero(blob)
    if len(xs) < 3:
        return 0.0
    # A solid ellipse's area is 4π·sqrt(det covariance); the +1/12 is each pixel's own spread.
    cov = np.cov(xs, ys) + np.eye(2) / 12
    ellipse_area = 4 * np.pi * np.sqrt(max(np.linalg.det(cov), 1e-9))
    return float(min(1.0, len(xs) / ellipse_area / 0.9))  # solid seeds' outlines fill >= 0.9
