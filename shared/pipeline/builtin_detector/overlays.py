"""The microscope's overlays: drawn shapes (badges, bars, frames), rows of letters, and
letters of a bold label by the frame's edge, with their neighbours in its row."""

from __future__ import annotations

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse.csgraph import connected_components
from scipy.spatial import ConvexHull, QhullError

from shared.pipeline.builtin_detector.colours import part_by_colour, smoothed_colours
from shared.pipeline.builtin_detector.shapes import rectilinear, solidity

_BADGE_FILL = 0.92  # of its box, at least, for a badge with corners rounded a quarter of the way
_GLYPH_MAX = 0.12  # labels' letters are at most this tall, against the shorter side
_MAX_TILT = 0.25  # a line of text rises at most this much per unit of its length
_EDGE_BAND = 0.15  # labels sit this close to the frame's edge, against the shorter side
_MIN_SOLIDITY = 0.8  # a seed near the edge fills at least this share of its convex hull
_MAX_HOLES = 0.08  # holes (highlights) make at most this share of a seed near the edge
_SEED_THICKNESS = 0.55  # widest stroke over root of area: less for letters, 1.13 x root(aspect) for ovals
# and a piece filling this much of its convex hull is a seed's body (JPEG's ringing joined to a
# small seed's outline makes it a little less convex; a letter as thick, a bold "0", is a ring)
_SEED_SOLIDITY = 0.9


def drawn_shapes(mask: np.ndarray, min_side: float, holding: np.ndarray | None = None) -> np.ndarray:
    """Return the pixels of drawn shapes: badges, scale bars, frames. Their outline runs
    straight along a row for most of their width and along a column for most of their
    height; a seed's outline is curved (the frame's edge, which cuts seeds straight, is no
    outline; the flat arc of a seed cut lengthwise is straight one way only). A badge whose
    corners are rounded so far that its sides are short still fills nearly all its box; a
    seed, an oval, fills about π/4 of it, even cut by one side of the frame.

    With `holding`, the shapes are looked for on bodies whose soft rim was cut at a level:
    only the pieces holding some of its pixels count (a badge holds its text and scale bar; a
    small seed's body can be a rounded box too), and their outline need only run straight
    within a pixel (a level cuts a drawn edge blurred by the lens or JPEG a pixel in or out)."""
    height, width = mask.shape
    outline = mask & ~ndimage.binary_erosion(mask, border_value=1)
    if holding is not None:
        outline = ndimage.binary_dilation(outline, ndimage.generate_binary_structure(2, 1)) & mask
    labels, _ = ndimage.label(mask)
    found = np.zeros_like(mask)
    for label, (rows, cols) in enumerate(ndimage.find_objects(labels), start=1):
        h, w = rows.stop - rows.start, cols.stop - cols.start
        if max(h, w) < min_side or min(h, w) < 4:
            continue
        own = labels[rows, cols] == label
        if holding is not None and not holding[rows, cols][own].any():
            continue
        # A seed in a corner of the frame, cut by two of its sides, can fill its box too.
        sides = (rows.start == 0) + (cols.start == 0) + (rows.stop == height) + (cols.stop == width)
        badge = sides <= 1 and own.sum() >= _BADGE_FILL * h * w
        if badge or rectilinear(outline[rows, cols] & own):
            found[max(0, rows.start - 2) : rows.stop + 2, max(0, cols.start - 2) : cols.stop + 2] = True
    return found


def text_lines(
    inked: np.ndarray, rgb: np.ndarray, strength: np.ndarray, min_height: float, max_height: float
) -> tuple[np.ndarray, list[int]]:
    """Return the pixels of lines of text, found from their letters (see `_in_rows`), and
    the height of each line found."""
    found = np.zeros(inked.shape, bool)
    heights: list[int] = []
    # Letters of bold text touch each other by a pixel or two: thinned, they come apart.
    for ink in (inked, ndimage.binary_erosion(inked)):
        letters, count = ndimage.label(ink)
        if count < 3:
            continue
        boxes = _boxes(letters)
        inks = _ink_colours(rgb, strength, letters, count)
        height = boxes[:, 3] - boxes[:, 1]
        fits = np.flatnonzero((height >= min_height) & (height <= max_height))
        lines = _in_rows(boxes[fits], inks[fits], inked.shape)
        for line in np.unique(lines[lines >= 0]):
            left, top, right, bottom = boxes[fits[lines == line]].T
            margin = max(3, round(0.3 * float(np.median(bottom - top))))
            found[max(0, top.min() - margin) : bottom.max() + margin,
                  max(0, left.min() - margin) : right.max() + margin] = True
            heights.append(int(bottom.max() - top.min()))
    return found, heights


def _in_rows(boxes: np.ndarray, inks: np.ndarray, frame: tuple[int, int]) -> np.ndarray:
    """Return the line of text each box belongs to, -1 for none.

    Pieces of one ink, side by side and close together, overlapping in height, chain into a
    line: four or more are text (letters, or words whose letters touch) if their middles lie
    on a straight line, about level (JPEG's ringing round a small seed, pieces on a curve
    round it, is no text; see `_on_a_line`); three are text if
    they sit on one straight line (a chain of seeds wanders up and down); two are text if
    they also share a baseline near the frame's edge, where the microscope writes its
    labels, and span a few letters (a bold label such as "4.0x" whose letters touch).
    """
    if len(boxes) < 2:
        return np.full(len(boxes), -1)
    left, top, right, bottom = boxes.T.astype(float)
    height = bottom - top
    taller = np.maximum(height[:, None], height[None, :])
    neighbours = _side_by_side(boxes, inks, 0.6)
    count, line = connected_components(sparse.csr_matrix(neighbours), directed=False)
    sizes = np.bincount(line, minlength=count)
    centre = (top + bottom) / 2
    straight = np.array(
        [np.ptp(centre[line == k]) <= 0.3 * np.median(height[line == k]) for k in range(count)]
    )
    rows, cols = frame
    margin = 0.12 * min(rows, cols)
    near_edge = (left < margin) | (top < margin) | (right > cols - margin) | (bottom > rows - margin)
    # A pair: on one baseline, nearly touching, at the edge, as wide as a few letters.
    level = np.abs(bottom[:, None] - bottom[None, :]) <= np.maximum(1.5, 0.1 * taller)
    wide = np.maximum(right[:, None], right[None, :]) - np.minimum(left[:, None], left[None, :]) >= 2 * taller
    twin = _side_by_side(boxes, inks, 0.3) & level & wide & near_edge[:, None] & near_edge[None, :]
    np.fill_diagonal(twin, False)
    pair = np.bincount(line, weights=twin.sum(axis=1), minlength=count) >= 2  # both ways
    lined = np.zeros(count, bool)
    for k in np.flatnonzero(sizes >= 4):
        member = line == k
        lined[k] = _on_a_line(left[member], right[member], centre[member], float(np.median(height[member])))
    text = ((sizes >= 4) & lined) | (straight & ((sizes == 3) | ((sizes == 2) & pair)))
    # A word set apart by a wide space (the "µm" of a large bold "100 µm") joins its line:
    # pieces of the line's ink in its row, no further from it than they are tall.
    _, phrase = connected_components(sparse.csr_matrix(_side_by_side(boxes, inks, 1.0)), directed=False)
    with_text = np.zeros(phrase.max() + 1, bool)
    with_text[phrase[text[line]]] = True
    return np.where(with_text[phrase], phrase, -1)


def _side_by_side(boxes: np.ndarray, inks: np.ndarray, spacing: float) -> np.ndarray:
    """Return which pairs of boxes (left, top, right, bottom) could be neighbours in a row of
    text: of one ink, of about one height, overlapping in height by half the shorter, and
    apart by at most `spacing` times the taller."""
    left, top, right, bottom = boxes.T.astype(float)
    height = bottom - top
    shorter = np.minimum(height[:, None], height[None, :])
    taller = np.maximum(height[:, None], height[None, :])
    gap = np.maximum(left[None, :] - right[:, None], left[:, None] - right[None, :])
    overlap = np.minimum(bottom[:, None], bottom[None, :]) - np.maximum(top[:, None], top[None, :])
    same_ink = np.abs(inks[:, None, :] - inks[None, :, :]).max(axis=2) <= 0.25
    return (taller <= 2.2 * shorter) & (gap <= spacing * taller) & (overlap >= 0.5 * shorter) & same_ink


def _on_a_line(left: np.ndarray, right: np.ndarray, centre: np.ndarray, height: float) -> bool:
    """Whether pieces' middles lie on a straight, about level line (a line of text, even a
    tilted photograph of one), within half a letter's height (capitals, small letters and
    descenders shift a letter's middle by less)."""
    middle = (left + right) / 2
    if len(middle) < 3 or np.ptp(middle) == 0:
        return True
    slope, offset = np.polyfit(middle, centre, 1)
    return abs(slope) <= _MAX_TILT and bool(np.ptp(centre - (slope * middle + offset)) <= 0.5 * height)


def _boxes(labels: np.ndarray) -> np.ndarray:
    """Return the box (left, top, right, bottom) of each label 1..n, as an n x 4 array."""
    found = ndimage.find_objects(labels)
    return np.array([(c.start, r.start, c.stop, r.stop) for r, c in found], int).reshape(len(found), 4)


def _ink_colours(rgb: np.ndarray, strength: np.ndarray, labels: np.ndarray, count: int) -> np.ndarray:
    """Return the colour of each label's strongest pixel, as a count x 3 array: the ink
    itself, which a thin letter's mean (mixed with the background at its edges) is not."""
    # ndimage.maximum_position sorts the whole frame; only the labelled pixels need sorting.
    pixels = np.flatnonzero(labels)
    order = pixels[np.argsort(strength.ravel()[pixels])]
    strongest = np.zeros(count + 1, np.intp)
    strongest[labels.ravel()[order]] = order  # the last, strongest, pixel of each label wins
    return rgb.reshape(-1, 3)[strongest[1:]]


def _small_by_the_edge(boxes: np.ndarray, frame: tuple[int, int]) -> np.ndarray:
    """Return which boxes (left, top, right, bottom) are of a label's letter size and by the
    frame's edge: where the letters the rows of text missed can be."""
    left, top, right, bottom = boxes.T
    height, width = frame
    unit = min(height, width)
    margin = _EDGE_BAND * unit
    small = np.maximum(bottom - top, right - left) <= _GLYPH_MAX * unit
    return small & ((top < margin) | (left < margin) | (bottom > height - margin) | (right > width - margin))


def _glyph_like(blob: np.ndarray, inked: np.ndarray, stroked: np.ndarray, width_of_strokes: float) -> bool:
    """Whether a piece (small and by the frame's edge, see `_small_by_the_edge`) is shaped
    like a letter of the microscope's labels: either far from convex (a seed, even two
    touching, fills most of its convex hull; a letter, even bold, leaves bays) or a ring of
    ink (an "0", an "o": a seed's only holes are small highlights); never a convex piece as
    thick as a seed (`width_of_strokes`, its widest stroke), which a letter's strokes are not."""
    # A faint or speckled seed's ink is patchy (holes, bays), but its body is whole.
    if width_of_strokes >= _SEED_THICKNESS * np.sqrt(blob.sum()) and solidity(blob) >= _SEED_SOLIDITY:
        return False
    holes, count = ndimage.label(blob & ~inked)
    if count:
        touches_outside = np.unique(holes[ndimage.binary_dilation(~blob) & (holes > 0)])
        sizes = np.bincount(holes.ravel(), minlength=count + 1)
        sizes[touches_outside] = 0
        # Counters (an "8" or a slashed "0" has two), not the pinholes of a faint seed's noise.
        counters = sizes[1:][sizes[1:] >= 0.02 * blob.sum()]
        if counters.sum() > _MAX_HOLES * blob.sum():
            return True
    ys, xs = np.nonzero(blob & stroked)  # the mask's closing and blur fill a letter's bays
    if len(xs) < 3:
        return False  # no ink to judge by
    try:
        hull = ConvexHull(np.stack([xs, ys], axis=1).astype(float))
    except QhullError:
        return True  # all on a line
    # The hull runs through pixel centres: half a pixel of outline is missing from its area.
    return len(xs) < _MIN_SOLIDITY * (hull.volume + hull.area / 2)


def letter_pieces(
    pieces: np.ndarray, where: list[tuple[slice, slice]], widest: np.ndarray, inked: np.ndarray,
    stroked: np.ndarray, rgb: np.ndarray, strength: np.ndarray, min_area: float,
) -> np.ndarray:
    """Return which pieces (labelled 1..n in `pieces`, their boxes `where`, their widest
    strokes `widest`) are letters of a label the rows of text missed (a bold or monospaced
    font, letters touching): those shaped like a letter (see `_glyph_like`) and of one ink,
    and the others of their row (see `_beside_letters`). A few seeds touching by the frame's
    edge can be shaped like a letter too, but a label is of one ink: pieces that are seeds of
    two kinds (see `colours.part_by_colour`; `min_area` is a seed's least) are no letters."""
    boxes = np.array([(c.start, r.start, c.stop, r.stop) for r, c in where], int).reshape(len(where), 4)
    near = np.flatnonzero(_small_by_the_edge(boxes, (pieces.shape[0], pieces.shape[1])))
    letters = np.zeros(len(where), bool)
    for label in (near + 1).tolist():
        box = where[label - 1]
        piece = pieces[box] == label
        letters[label - 1] = (
            _glyph_like(piece, inked[box], stroked[box], float(widest[label - 1]))
            and part_by_colour(piece, smoothed_colours(rgb, *box), min_area) is None
        )
    return letters | _beside_letters(pieces, boxes, near, letters, rgb, strength)


def _beside_letters(
    labels: np.ndarray, boxes: np.ndarray, near: np.ndarray, letters: np.ndarray, rgb: np.ndarray,
    strength: np.ndarray,
) -> np.ndarray:
    """Return which pieces (labelled 1..n in `labels`, their boxes (left, top, right, bottom)
    `boxes`; `near` lists those small and by the frame's edge, `letters` flags those shaped
    like a letter, all among them) are letters by their place: of a letter's size, by the
    frame's edge, in a row with a letter and of its ink. A bold "8" or "4" is as solid as a
    seed, but it stands next to the "X" or "x" of its label."""
    found = np.zeros(len(letters), bool)
    if not letters.any():
        return found
    kept = np.zeros(len(letters) + 1, bool)
    kept[near + 1] = True
    inks = _ink_colours(rgb, strength, np.where(kept[labels], labels, 0), len(letters))[near]
    # Rows of such pieces, as `_in_rows` chains them: a row holding a letter is one of letters.
    _, row = connected_components(sparse.csr_matrix(_side_by_side(boxes[near], inks, 0.6)), directed=False)
    lettered_rows = np.zeros(row.max() + 1, bool)
    lettered_rows[row[letters[near]]] = True
    found[near] = lettered_rows[row] & ~letters[near]
    return found
