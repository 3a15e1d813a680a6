"""The seeds' pixels: strong pixels and the weaker ones joined to them, holes filled, the
soft rim and cast shadow left out."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from shared.pipeline.builtin_detector.pixels import ring_around

SURE_LEVEL = 1.0  # strength is in units of what alone marks a seed (background.pixel_strength)
WEAK_LEVEL = 0.6  # hysteresis: pixels this strong count when joined to a sure one
_LOCAL_SIDE = 0.015  # of the longest side: a neighbourhood within the smallest seed


def seed_mask(strength: np.ndarray) -> np.ndarray:
    """Return the seed pixels: sure ones and the weaker ones joined to them (holes open)."""
    labels, count = ndimage.label(strength >= WEAK_LEVEL)
    keep = np.zeros(count + 1, bool)
    keep[labels[strength >= SURE_LEVEL]] = True
    keep[0] = False
    mask = keep[labels]
    # Closing mends a seed split by a crease; padding by repetition keeps it from eating seeds
    # that touch the border.
    return ndimage.binary_closing(np.pad(mask, 2, mode="edge"))[2:-2, 2:-2]


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Return the mask with its holes filled: the stretches of background off the border, and
    those the frame's edge cuts from the rest of the background (round a highlight of a seed
    cut by the edge): smaller than the one blob round them, and holding no blob that borders
    other background (a highlight's bright core, which stands out too, is inside them)."""
    outside, count = ndimage.label(~mask)
    reaches_border = np.zeros(count + 1, bool)
    for edge in (outside[0], outside[-1], outside[:, 0], outside[:, -1]):
        reaches_border[edge] = True
    reaches_border[0] = False
    filled = ~reaches_border[outside]
    cut_off = np.flatnonzero(reaches_border)
    if len(cut_off) < 2:
        return filled  # the background in one piece: nothing cut from it
    sizes = np.bincount(outside.ravel(), minlength=count + 1)
    cut_off = np.delete(cut_off, sizes[cut_off].argmax())  # the background itself
    blobs, _ = ndimage.label(filled)
    blob_sizes = np.bincount(blobs.ravel())
    cut_off = cut_off[sizes[cut_off] < blob_sizes[1:].max(initial=0)]
    if len(cut_off) == 0:
        return filled
    where_outside = ndimage.find_objects(outside)
    where_blob = ndimage.find_objects(blobs)
    for label in cut_off:
        around = _neighbours(blobs, outside, label, where_outside[label - 1])
        if len(around) == 0:
            continue
        host = around[blob_sizes[around].argmax()]
        inside = all(
            np.array_equal(_neighbours(outside, blobs, blob, where_blob[blob - 1]), [label])
            for blob in around if blob != host
        )
        if inside and sizes[label] < blob_sizes[host]:
            filled |= outside == label
    return filled


def _neighbours(labels: np.ndarray, of: np.ndarray, label: int, where: tuple[slice, slice]) -> np.ndarray:
    """Return the labels (of `labels`, zero left out) next to the pixels of `label` in `of`,
    whose box is `where`."""
    found = np.unique(ring_around(of, label, where, labels))
    return found[found > 0]


def bodies(mask: np.ndarray, strength: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the blobs without their soft rim (and the shadow beside a seed): the pixels at
    least half as strong as the typical pixel of the seed they are in, holes filled (their
    outlines are the seeds' own, with the notches where two seeds overlap); and fuller bodies.

    What is typical is the mean of the blob's core, its sure pixels away from its edge: its
    mean over all its pixels, or over all its sure ones, diluted by its rim, its shadow, the
    noise of a dark ground joined to it and JPEG's ringing round a small seed, would let them
    in. A seed weaker than the rest of its blob (a pale seed touching a dark one, a dark coat
    round a bright highlight) is judged against its own core nearby instead, unless that is
    fainter than a quarter of the mean of the blob's sure pixels (a halo or a shadow fading
    out). The fuller bodies are cut at half the mean of the sure pixels: a letter's strokes
    are measured against those (cut closer, a bold letter is as thick as a seed).
    """
    blobs, count = ndimage.label(mask)
    means = ndimage.mean(strength, blobs, np.arange(1, count + 1))
    body, fuller = np.zeros_like(mask), np.zeros_like(mask)
    size = int(_LOCAL_SIDE * max(mask.shape)) | 1
    height, width = mask.shape
    # Blob by blob on its box: levels over the whole frame cost more than the cuts.
    for label, where in enumerate(ndimage.find_objects(blobs), start=1):
        own = blobs[where] == label
        rows, cols = where
        at_edge = (rows.start == 0, rows.stop == height, cols.start == 0, cols.stop == width)
        for cut, level in zip((body, fuller), _levels(own, strength[where], float(means[label - 1]), size),
                              strict=True):
            cut[where] |= _cut(own, strength[where], level, at_edge)
    return body, fuller


def _levels(own: np.ndarray, strength: np.ndarray, mean: float, size: int) -> tuple[np.ndarray | float, ...]:
    """Return the typical strength of a blob's seeds (`own`, on its box) at each of its pixels,
    for its body and for its fuller body (see `bodies`); `mean` is the blob's mean strength."""
    if own.sum() <= size * size:
        return mean, mean  # one seed at most, its rim a large part of it: the blob's mean holds
    sure = own & (strength >= SURE_LEVEL)
    core = ndimage.binary_erosion(sure, iterations=size // 4)
    if not core.any():
        return mean, mean  # no sure pixel away from the edge to judge by
    nearby = ndimage.uniform_filter(np.where(core, strength, 0), size, mode="constant")
    share = ndimage.uniform_filter(core.astype(nearby.dtype), size, mode="constant")
    nearby /= np.maximum(share, 1e-6)  # no core pixel nearby: 0, the blob's level stays
    # A halo is told by the mean of all the sure pixels: the core's, higher, would take a
    # dark seed beside bright ones for one.
    floor = 0.25 * float(strength[sure].mean())
    return tuple(np.where((nearby < level) & (nearby >= floor), nearby, level).astype(np.float64)
                 for level in (float(strength[core].mean()), 4 * floor))


def _cut(
    own: np.ndarray, strength: np.ndarray, typical: np.ndarray | float, at_edge: tuple[bool, ...]
) -> np.ndarray:
    """Return the pixels of a blob (`own`, on its box) at least half as strong as `typical`
    there, holes filled; `at_edge` tells which sides of the box (top, bottom, left, right) are
    the frame's edge."""
    body = own & (strength >= np.maximum(WEAK_LEVEL, 0.5 * typical))
    # Weak pixels inside a blob (a highlight, even one cut by the frame's edge) are holes to
    # fill; those joined to the background are the rim, and the notches between seeds.
    weak, count = ndimage.label(own & ~body)
    if count == 0:
        return body
    # By the background: a pixel with one of its four neighbours off the blob, inside the
    # frame (beyond the box is background, as a blob is in one piece; beyond the frame is not).
    padded = np.pad(own, 1)
    for side, edge in zip((padded[0], padded[-1], padded[:, 0], padded[:, -1]), at_edge, strict=True):
        side[:] = edge
    surrounded = padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    hole = np.ones(count + 1, bool)
    hole[0] = False
    hole[weak[~surrounded & (weak > 0)]] = False
    return body | hole[weak]
