"""Seeds lying over each other's edge, parted piece by piece: between two notches, by
colour, or from one notch."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from shared.pipeline.builtin_detector.colours import part_by_colour, smoothed_colours
from shared.pipeline.builtin_detector.notches import cut_between_notches, cut_from_notch


def cut_overlaps(
    segments: np.ndarray, count: int, body: np.ndarray, rgb: np.ndarray, min_area: float
) -> tuple[np.ndarray, int]:
    """Return the segments with seeds lying over each other's edge cut apart: their outline
    bends inwards where the two outlines cross, and the short straight cut between two such
    notches parts them (a single seed, even a kidney-shaped one, has at most one notch);
    or they are of two clearly different colours, each in one seed-shaped piece."""
    out = np.zeros_like(segments)
    total = 0
    pending = [(rows, cols, segments[rows, cols] == label)
               for label, (rows, cols) in enumerate(ndimage.find_objects(segments), start=1)]
    while pending:
        rows, cols, blob = pending.pop()
        area = blob.sum()
        # A thin piece (a scale bar with its end ticks) is no pair of seeds, whatever its notches.
        wide = 2 * ndimage.distance_transform_edt(np.pad(blob, 1)).max() >= 0.3 * np.sqrt(area)
        open_ = ~body[rows, cols]  # notches open onto the background, not onto a neighbour
        halves = None
        if area >= 2 * min_area and wide:
            halves = (cut_between_notches(blob, open_, min_area)
                      or part_by_colour(blob, smoothed_colours(rgb, rows, cols), min_area)
                      or cut_from_notch(blob, open_, min_area))
        if halves is None:
            out[rows, cols][blob] = total + 1
            total += 1
            continue
        pending.extend((rows, cols, half) for half in halves)
    return out, total
