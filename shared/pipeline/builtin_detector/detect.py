"""The detector's entry point: from a picture to one `seed` box per seed, step by step."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import ndimage

from shared import images
from shared.memory import large_arrays_reused
from shared.pipeline.builtin_detector.background import fit_background, pixel_strength
from shared.pipeline.builtin_detector.colours import BlobColours, follow_colour_edges, merge_enclosed
from shared.pipeline.builtin_detector.mask import SURE_LEVEL, WEAK_LEVEL, bodies, fill_holes, seed_mask
from shared.pipeline.builtin_detector.overlaps import cut_overlaps
from shared.pipeline.builtin_detector.overlays import drawn_shapes, letter_pieces, text_lines
from shared.pipeline.builtin_detector.pixels import closed_3x3, local_max, local_mean, luma_of
from shared.pipeline.builtin_detector.scoring import scored_boxes
from shared.pipeline.builtin_detector.shapes import MIN_STROKE, stroke_widths
from shared.pipeline.builtin_detector.watershed import split_at_necks
from shared.pipeline.types import Detection, FractionBox, Guess

if TYPE_CHECKING:
    from shared.images import Image

LABEL = "seed"

_WORK_SIDE_PX = 1024  # longest side of the working copy: small seeds keep ~15 px, text strokes ~1
_MIN_SIDE_FRACTION = 0.015  # a seed is at least this long, relative to the longest side
_PAGE_LINES = 12  # lines of text that make a page: a microscope's overlays hold a few


@large_arrays_reused()  # frame-sized arrays come and go at every step
def detect_seeds(image: Image) -> list[Detection]:
    """Return one `seed` box per seed in an upright picture, top to bottom then left to right.

    The picture should show seeds on a plain background, bright, dark or coloured (a stereo
    microscope view); dust, fibres, shadows and the microscope's overlays (scale bars, labels)
    are ignored. Zero boxes is a valid answer. The score is a confidence from the seed's
    contrast, shape and size. Any Pillow mode is accepted; nothing is raised for a decoded image.
    """
    rgb = images.rgb_array(image, longest_px=_WORK_SIDE_PX)
    height, width = rgb.shape[:2]
    luma = luma_of(rgb)
    fit = fit_background(rgb, luma)
    if fit is None:
        return []  # no plain background: not a picture of seeds
    surface, ground = fit
    sharp = pixel_strength(rgb, luma, surface, ground)
    # Averaging neighbours steadies the mask against noise; the boxes still come from the pixels.
    strength = local_mean(sharp)
    mask = fill_holes(seed_mask(strength))
    blobs = mask.copy()  # everything that stands out, overlays too: no background round a seed
    min_side = _MIN_SIDE_FRACTION * max(height, width)
    min_area = min_side**2 / 2  # a seed's least area, for the steps that part pieces by colour or cut
    # Inked pixels: at least half as strong as the strongest nearby. Letters stay apart and
    # keep their thin strokes; a seed's coat is one piece.
    half_peak = 0.5 * local_max(sharp, 5)
    inked = (sharp >= SURE_LEVEL) & (sharp >= half_peak)
    # Overlays: drawn shapes (a badge, or a bar over a badge of the background's colour) and text.
    drawn = drawn_shapes(mask, min_side) | drawn_shapes(inked, min_side)
    text, line_heights = text_lines(inked, rgb, sharp, min_side / 4, 0.1 * min(height, width))
    lettered = mask & (drawn | text)  # what the overlays took from the blobs
    mask &= ~(drawn | text)
    # A page of text (a document photographed, not a microscope's view, whose overlays hold
    # a few lines): its words that the rows missed (letters blurred together, a word alone
    # at a line's end) are no taller than its lines, and no seed is that small beside them.
    word_height = 2 * float(np.median(line_heights)) if len(line_heights) >= _PAGE_LINES else 0.0
    body, fuller = bodies(mask, strength)
    # A faint shadow round a badge (or a ground of nearly its colour) joins them into one
    # ragged blob; without that rim, its body with its text and scale bar put back is the
    # badge's own rounded box.
    badges = drawn_shapes(fill_holes(body | lettered), min_side, lettered)
    body &= ~badges
    fuller &= ~badges
    # Strokes: the pixels from the weak level up that are at least half as strong as the
    # strongest nearby, pinholes closed (a faint seed's noise makes them): a seed's coat is
    # one piece, a line stays as thin as it was and a letter keeps its bays.
    stroked = (sharp >= WEAK_LEVEL) & (sharp >= half_peak)
    stroked = closed_3x3(stroked)
    # The frame's edge counts as background here: a fibre cut by the edge is still thin.
    thickness = stroke_widths(stroked, fuller)
    # Letters of a label the text rows missed (a bold or monospaced font, letters touching),
    # words of a page, and hairs and fibres whole, before a split cuts them into short pieces;
    # judged on the fuller bodies, as on what their strokes are measured against.
    pieces, count = ndimage.label(fuller)
    where_pieces = ndimage.find_objects(pieces)
    # Piece by piece on its box: ndimage.maximum sorts the whole frame.
    widest = np.array([thickness[where][pieces[where] == label].max()
                       for label, where in enumerate(where_pieces, start=1)]).reshape(count)
    thin = widest < MIN_STROKE * np.sqrt(np.bincount(pieces.ravel(), minlength=count + 1)[1:])
    words = np.array([rows.stop - rows.start <= word_height for rows, _ in where_pieces], bool)
    dropped = thin | words | letter_pieces(pieces, where_pieces, widest, inked, stroked, rgb, sharp, min_area)
    body &= np.concatenate(([False], ~dropped))[pieces]
    # The seeds' blobs, labelled once for the steps that part touching seeds.
    seed_blobs = BlobColours(rgb, ndimage.label(body)[0])
    segments, count = split_at_necks(seed_blobs.labels, seed_blobs.boxes, min_side / 5)
    segments, count = cut_overlaps(segments, count, seed_blobs, min_area)
    segments = merge_enclosed(follow_colour_edges(segments, seed_blobs))
    if count == 0:
        return []
    found = scored_boxes(segments, count, body, fuller, strength, thickness, min_side, rgb, blobs, ground)

    detections = []
    for box, confidence in sorted(found, key=lambda item: (item[0][1], item[0][0])):
        left, top, right, bottom = box
        fractions = FractionBox(left / width, top / height, right / width, bottom / height)
        detections.append(Detection(fractions, (Guess(LABEL, confidence),)))
    return detections
