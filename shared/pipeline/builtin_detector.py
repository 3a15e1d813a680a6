"""The built-in seed detector: seeds on a plain background, by classical image processing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared import images
from shared.pipeline.types import Detection, FractionBox, Guess

if TYPE_CHECKING:
    import numpy as np
    from scipy.spatial import ConvexHull

    from shared.images import Image

LABEL = "seed"

_WORK_SIDE_PX = 1024  # longest side of the working copy: small seeds keep ~15 px, text strokes ~1
_GRID_SIDE = 96  # longest side of the grid of cells the background is found and fitted on
_FIT_DEGREE = 4  # of the background polynomial: enough for a vignette and a lighting gradient
_LUMA_STEP = 0.22  # brightness change that alone marks a seed (a soft shadow stays below)
_CHROMA_STEP = 0.06  # colour change that alone marks a seed (pale seeds differ mostly in hue)
_DARK_FLOOR = 0.25  # brightness changes are relative to the background, or to this if darker
_NOISE_MARGIN = 6  # a seed's change is at least this many times the background's typical one
_WEAK_LEVEL = 0.6  # hysteresis: pixels this strong count when joined to a sure one (1.0)
_MIN_SIDE_FRACTION = 0.015  # a seed is at least this long, relative to the longest side
_MIN_STROKE = 0.4  # a seed's width over the root of its area; strokes of text are thinner
_MIN_EDGE = 0.06  # a seed's edge rises by this share of its contrast per pixel, at least
_SPLIT_DIP = 0.12  # two touching seeds: the neck is this much narrower than the smaller seed
_CUT_RATIO = 3.0  # two seeds overlap: the cut between notches is short against their depth
_COLOUR_SEPARATION = 8.0  # two seeds' colours: squared gap over their variances, at least
_HIGHLIGHT = 0.2  # brighter than a seed's typical pixel by this share of the way to white
_WHITENED = 0.2  # two hues this near the line from one to white: a seed and its highlight
_BULGE = 0.5  # a piece cut off is at least this wide against the cut
_MIN_SHARE = 0.05  # a piece cut off has at least this share of the other's area
_NOTCH_SOLIDITY = 0.9  # a blob filling less of its convex hull may be two seeds
_PART_SOLIDITY = 0.93  # each piece cut off from a notch fills this much of its hull
_SOLIDITY_GAIN = 0.05  # and more of it, by this much, than the blob did
_CUT_DIRECTIONS = 48  # tried from the notch, all round
_WEDGE = 0.9  # a bay filling this share of the triangle on its mouth has straight sides
_MIN_NOTCH = 2.0  # pixels: a notch in an outline, not the wobble of a seed's coat
_PAGE_LINES = 12  # lines of text that make a page: a microscope's overlays hold a few
_MIN_SCORE = 0.2  # no box under this confidence: on both sets' pictures, none was a seed's
_MIN_BOX_FILL = 0.3  # a seed covers at least this share of its box
_GLYPH_MAX = 0.12  # labels' letters are at most this tall, against the shorter side
_EDGE_BAND = 0.15  # labels sit this close to the frame's edge, against the shorter side
_MIN_SOLIDITY = 0.8  # a seed near the edge fills at least this share of its convex hull
_MAX_HOLES = 0.08  # holes (highlights) make at most this share of a seed near the edge

_Box = tuple[int, int, int, int]  # left, top, right, bottom in working pixels, right exclusive


def detect_seeds(image: Image) -> list[Detection]:
    """Return one `seed` box per seed in an upright picture, top to bottom then left to right.

    The picture should show seeds on a plain background, bright, dark or coloured (a stereo
    microscope view); dust, fibres, shadows and the microscope's overlays (scale bars, labels)
    are ignored. Zero boxes is a valid answer. The score is a confidence from the seed's
    contrast, shape and size. Any Pillow mode is accepted; nothing is raised for a decoded image.
    """
    import numpy as np
    from scipy import ndimage

    rgb = images.rgb_array(image, longest_px=_WORK_SIDE_PX)
    height, width = rgb.shape[:2]
    fit = _fit_background(rgb)
    if fit is None:
        return []  # no plain background: not a picture of seeds
    sharp = _strength(rgb, *fit)
    # Averaging neighbours steadies the mask against noise; the boxes still come from the pixels.
    strength = _local_mean(sharp)
    mask = _fill_holes(_seed_mask(strength))
    min_side = _MIN_SIDE_FRACTION * max(height, width)
    # Inked pixels: at least half as strong as the strongest nearby. Letters stay apart and
    # keep their thin strokes; a seed's coat is one piece.
    half_peak = 0.5 * _local_max(sharp, 5)
    inked = (sharp >= 1.0) & (sharp >= half_peak)
    # Overlays: drawn shapes (a badge, or a bar over a badge of the background's colour) and text.
    mask &= ~(_drawn(mask, min_side) | _drawn(inked, min_side))
    text, line_heights = _text(inked, rgb, sharp, min_side / 4, 0.1 * min(height, width))
    mask &= ~text
    # A page of text (a document photographed, not a microscope's view, whose overlays hold
    # a few lines): its words that the rows missed (letters blurred together, a word alone
    # at a line's end) are no taller than its lines, and no seed is that small beside them.
    word_height = 2 * float(np.median(line_heights)) if len(line_heights) >= _PAGE_LINES else 0.0
    body = _bodies(mask, strength)
    # Strokes: the pixels from the weak level up that are at least half as strong as the
    # strongest nearby, pinholes closed (a faint seed's noise makes them): a seed's coat is
    # one piece, a line stays as thin as it was and a letter keeps its bays.
    stroked = (sharp >= _WEAK_LEVEL) & (sharp >= half_peak)
    stroked = ndimage.binary_closing(stroked, np.ones((3, 3)))
    # The frame's edge counts as background here: a fibre cut by the edge is still thin.
    thickness = _thickness(stroked, body)
    # Letters of a label the text rows missed (a bold or monospaced font, letters touching),
    # words of a page, and hairs and fibres whole, before a split cuts them into short pieces.
    pieces, _ = ndimage.label(body)
    for label, where in enumerate(ndimage.find_objects(pieces), start=1):
        piece = pieces[where] == label
        thin = thickness[where][piece].max() < _MIN_STROKE * np.sqrt(piece.sum())
        word = where[0].stop - where[0].start <= word_height
        if thin or word or _glyph_like(piece, inked[where], stroked[where], where, (height, width)):
            body[where] &= ~piece
    segments, count = _split(body, min_side / 5)
    segments, count = _cut_overlaps(segments, count, body, rgb, min_side**2 / 2)
    segments = _follow_colour_edges(segments, body, rgb)
    if count == 0:
        return []
    index = np.arange(1, count + 1)
    areas = ndimage.sum_labels(body, segments, index)
    contrasts = ndimage.mean(strength, segments, index)
    # How steeply each piece rises from the background, against its contrast: a seed's edge
    # is sharp, a patch of an uneven background (a gradient, a texture) fades in.
    outline = body & ~ndimage.binary_erosion(body, border_value=1)
    ys, xs = np.nonzero(outline)
    owners = segments[ys, xs]
    slope = np.bincount(owners, _slope_at(strength, ys, xs), minlength=count + 1)[1:]
    with np.errstate(invalid="ignore"):  # a piece with no outline of its own has no slope
        edges = np.nan_to_num(slope / np.bincount(owners, minlength=count + 1)[1:]) / contrasts

    found: list[tuple[_Box, float]] = []
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
        if area < _MIN_BOX_FILL * box_w * box_h or (box_w > 0.9 * width and box_h > 0.9 * height):
            continue  # a box mostly of background, or of the whole frame, is no seed's
        blob = segments[rows, cols] == label
        if thickness[rows, cols][blob].max() < _MIN_STROKE * np.sqrt(area):
            continue  # too thin for a seed: a hair, a fibre, a drawn line
        size_score = min(1.0, area / (4 * min_side**2))
        contrast_score = 1 - np.exp(-float(contrasts[label - 1]) / 2)
        confidence = contrast_score * _fill(blob) * size_score**0.5
        if confidence < _MIN_SCORE:
            continue  # faint, ragged and small at once: a speck, a bit of fibre, a streak
        found.append(((cols.start, rows.start, cols.stop, rows.stop), round(float(confidence), 3)))

    detections = []
    for box, confidence in sorted(found, key=lambda item: (item[0][1], item[0][0])):
        left, top, right, bottom = box
        fractions = FractionBox(left / width, top / height, right / width, bottom / height)
        detections.append(Detection(fractions, (Guess(LABEL, confidence),)))
    return detections


def _thickness(stroked: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Return the width of the strokes that reach `where` at each of their pixels (zero
    elsewhere): twice the distance to the nearest pixel that is not stroked, the frame's edge
    counting as not stroked, less one pixel (the distance runs between pixels' centres, so a
    line one pixel wide is 1, not 2: a fibre two or three pixels wide would otherwise count
    as half as thick again). Stroke by stroke on its box, not on the frame: the same, as the
    pixel nearest any of a stroke's that is not its own is not stroked."""
    import numpy as np
    from scipy import ndimage

    thickness = np.zeros(stroked.shape)
    strokes, _ = ndimage.label(stroked)
    boxes = ndimage.find_objects(strokes)
    for label in np.unique(strokes[where & stroked]):
        rows, cols = boxes[label - 1]
        own = strokes[rows, cols] == label
        distance = ndimage.distance_transform_edt(np.pad(own, 1))[1:-1, 1:-1]
        thickness[rows, cols][own] = 2 * distance[own] - 1
    return thickness


def _slope_at(values: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Return the steepness of `values` at the pixels (ys, xs): the Sobel gradient's length
    over 8, as `ndimage.sobel` (edges reflected) gives it, computed at those pixels only."""
    import numpy as np

    padded = np.pad(values, 1, mode="symmetric")  # numpy's "symmetric" is ndimage's "reflect"

    def at(dy: int, dx: int) -> np.ndarray:
        return padded[ys + 1 + dy, xs + 1 + dx]

    down = at(1, -1) + 2 * at(1, 0) + at(1, 1) - (at(-1, -1) + 2 * at(-1, 0) + at(-1, 1))
    across = at(-1, 1) + 2 * at(0, 1) + at(1, 1) - (at(-1, -1) + 2 * at(0, -1) + at(1, -1))
    return np.hypot(down, across) / 8


def _glyph_like(
    blob: np.ndarray, inked: np.ndarray, stroked: np.ndarray, where: tuple[slice, slice],
    frame: tuple[int, int],
) -> bool:
    """Whether a piece is shaped like a letter of the microscope's labels: small, by the
    frame's edge, and either far from convex (a seed, even two touching, fills most of its
    convex hull; a letter, even bold, leaves bays) or a ring of ink (an "0", an "o": a
    seed's only holes are small highlights)."""
    import numpy as np
    from scipy import ndimage
    from scipy.spatial import ConvexHull, QhullError

    rows, cols = where
    height, width = frame
    unit = min(height, width)
    if max(rows.stop - rows.start, cols.stop - cols.start) > _GLYPH_MAX * unit:
        return False
    margin = _EDGE_BAND * unit
    if not (rows.start < margin or cols.start < margin or rows.stop > height - margin
            or cols.stop > width - margin):
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


def _fit_background(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Return the background colour at every pixel, a smooth surface fitted on the largest
    plain region of the picture, and the pixels it was fitted on; None when the picture has
    no plain background."""
    import numpy as np
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    height, width = rgb.shape[:2]
    step = max(1, -(-max(height, width) // _GRID_SIDE))
    rows, cols = height // step, width // step
    # Sums over contiguous runs of memory: numpy's reductions over short strided axes are slow.
    sums = rgb[: rows * step, : cols * step].reshape(rows, step, cols, step * 3).sum(axis=1)
    means = sums.reshape(rows, cols, step, 3).sum(axis=2) / (step * step)
    luma = _luma(rgb)[: rows * step, : cols * step].reshape(rows, step, cols, step)
    spread = luma.std(axis=(1, 3))
    # Plain cells: no edge, no texture beyond the noise (the quietest quarter sets the noise).
    plain = spread <= max(0.012, 2.5 * float(np.percentile(spread, 25)))

    # Neighbouring plain cells of nearly the same colour form regions; the largest is the
    # background (a vignette changes the colour slowly, from cell to cell).
    ids = np.arange(rows * cols).reshape(rows, cols)
    tolerance = 0.04 * np.maximum(means.mean(axis=2), _DARK_FLOOR)
    edges = []
    for a, b, near in (
        (ids[:, :-1], ids[:, 1:], np.abs(means[:, :-1] - means[:, 1:]).max(axis=2) <= tolerance[:, :-1]),
        (ids[:-1], ids[1:], np.abs(means[:-1] - means[1:]).max(axis=2) <= tolerance[:-1]),
    ):
        keep = near & plain.ravel()[a] & plain.ravel()[b]
        edges.append((a[keep], b[keep]))
    start = np.concatenate([e[0] for e in edges])
    end = np.concatenate([e[1] for e in edges])
    graph = sparse.coo_matrix((np.ones(len(start)), (start, end)), shape=(rows * cols,) * 2)
    _, region = connected_components(graph, directed=False)
    region = np.where(plain.ravel(), region, -1)
    sizes = np.bincount(region[region >= 0], minlength=1)
    if sizes.max(initial=0) < 0.2 * rows * cols:
        return None
    inliers = region == sizes.argmax()

    y, x = np.meshgrid(np.linspace(-1, 1, rows), np.linspace(-1, 1, cols), indexing="ij")
    terms = [(i, j) for i in range(_FIT_DEGREE + 1) for j in range(_FIT_DEGREE + 1 - i)]
    design = np.stack([(x**i * y**j).ravel() for i, j in terms], axis=1)
    values = means.reshape(-1, 3).astype(np.float64)
    flat_plain = plain.ravel()
    for _ in range(4):
        kept = design[inliers]
        # A whisker of ridge keeps the system solvable for pictures of a few pixels.
        normal = kept.T @ kept + 1e-9 * len(kept) * np.eye(design.shape[1])
        coefficients = np.linalg.solve(normal, kept.T @ values[inliers])
        fitted = design @ coefficients
        scale = np.maximum(fitted.mean(axis=1), _DARK_FLOOR)
        residual = np.abs(values - fitted).max(axis=1) / scale
        spread_fit = 1.4826 * np.median(residual[inliers])
        inliers = flat_plain & (residual <= max(4 * spread_fit, 0.04))
        if inliers.sum() < 4 * design.shape[1]:
            break

    # Evaluate the polynomial at every pixel: x^i y^j summed, row polynomials in x first.
    # Cell k's centre is at pixel (k + 0.5)·step - 0.5 and at -1 + 2k/(cols - 1) on the fit's
    # axis; pixels past the outer centres extrapolate the surface a little. Broadcasting, not
    # a matrix product: BLAS's own threads, in many request threads at once, spin on a core.
    x_axis = -1 + 2 * ((np.arange(width) + 0.5) / step - 0.5) / max(cols - 1, 1)
    y_axis = -1 + 2 * ((np.arange(height) + 0.5) / step - 0.5) / max(rows - 1, 1)
    in_x = np.zeros((_FIT_DEGREE + 1, width, 3))  # the row polynomial of each power of y
    for (i, j), c in zip(terms, coefficients, strict=True):
        in_x[j] += x_axis[:, None] ** i * c
    powers_y = (y_axis[:, None] ** np.arange(_FIT_DEGREE + 1)).astype(np.float32)
    in_x = in_x.astype(np.float32)
    # Channel by channel in float32: plain 2-D arithmetic, no full-frame float64 temporaries.
    surface = np.empty((height, width, 3), np.float32)
    for c in range(3):
        channel = np.zeros((height, width), np.float32)
        for j in range(_FIT_DEGREE + 1):
            channel += powers_y[:, j, None] * in_x[j, None, :, c]
        surface[..., c] = channel
    fitted_on = np.zeros((height, width), bool)
    cells_in = inliers.reshape(rows, cols)
    fitted_on[: rows * step, : cols * step] = np.repeat(np.repeat(cells_in, step, 0), step, 1)
    return np.clip(surface, 1e-3, None), fitted_on


def _strength(rgb: np.ndarray, background: np.ndarray, plain: np.ndarray) -> np.ndarray:
    """Return how much each pixel stands out from the background, in units of what alone
    marks a seed: a change of brightness, or of hue (pale seeds on a pale background).

    Brightness counts relative to the background's (a vignette dims seeds and background
    alike); a shadow darkens the background without changing its hue. Either change must
    also stand well clear of the noise of the `plain` background pixels.
    """
    import numpy as np

    luma = _luma(rgb)
    base = _luma(background)
    scale = np.maximum(base, _DARK_FLOOR)
    brightness = np.abs(luma - base) / scale
    # The hue the background would have at this pixel's brightness (a shadow keeps the hue).
    dimming = np.clip(luma / base, 0, 1)
    chroma = np.zeros_like(luma)
    for c in range(3):  # channel by channel: no full-frame temporaries of three channels
        hue = (rgb[..., c] - luma) - (background[..., c] - base) * dimming
        chroma += hue * hue
    chroma = np.sqrt(chroma) / scale
    strength = np.zeros_like(luma)
    for change, step in ((brightness, _LUMA_STEP), (chroma, _CHROMA_STEP)):
        # The background's typical change, on averaged neighbours as the mask will see it.
        noise = float(np.median(_local_mean(change)[plain])) if plain.any() else 0.0
        np.maximum(strength, change / max(step, _NOISE_MARGIN * noise), out=strength)
    return strength


def _seed_mask(strength: np.ndarray) -> np.ndarray:
    """Return the seed pixels: sure ones and the weaker ones joined to them (holes open)."""
    import numpy as np
    from scipy import ndimage

    labels, count = ndimage.label(strength >= _WEAK_LEVEL)
    keep = np.zeros(count + 1, bool)
    keep[labels[strength >= 1.0]] = True
    keep[0] = False
    mask = keep[labels]
    # Closing mends a seed split by a crease; padding by repetition keeps it from eating seeds
    # that touch the border.
    return ndimage.binary_closing(np.pad(mask, 2, mode="edge"))[2:-2, 2:-2]


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """Return the mask with its holes, the stretches of background off the border, filled."""
    import numpy as np
    from scipy import ndimage

    outside, count = ndimage.label(~mask)
    reaches_border = np.zeros(count + 1, bool)
    for edge in (outside[0], outside[-1], outside[:, 0], outside[:, -1]):
        reaches_border[edge] = True
    reaches_border[0] = False
    return ~reaches_border[outside]


def _bodies(mask: np.ndarray, strength: np.ndarray) -> np.ndarray:
    """Return the blobs without their soft rim (and the shadow beside a seed): the pixels at
    least half as strong as their blob's typical pixel, holes filled. Their outlines are the
    seeds' own, with the notches where two seeds overlap."""
    import numpy as np
    from scipy import ndimage

    blobs, count = ndimage.label(mask)
    typical = np.concatenate(([np.inf], ndimage.mean(strength, blobs, np.arange(1, count + 1))))
    body = mask & (strength >= np.maximum(_WEAK_LEVEL, 0.5 * typical[blobs]))
    # Weak pixels inside a blob (a highlight, even one cut by the frame's edge) are holes to
    # fill; those joined to the background are the rim, and the notches between seeds.
    weak, _ = ndimage.label(mask & ~body)
    rim = np.unique(weak[ndimage.binary_dilation(~mask) & (weak > 0)])
    return body | ((weak > 0) & ~np.isin(weak, rim))


def _drawn(mask: np.ndarray, min_side: float) -> np.ndarray:
    """Return the pixels of drawn shapes: badges, scale bars, frames. Their outline runs
    straight along a row for most of their width and along a column for most of their
    height; a seed's outline is curved (the frame's edge, which cuts seeds straight, is no
    outline; the flat arc of a seed cut lengthwise is straight one way only)."""
    import numpy as np
    from scipy import ndimage

    outline = mask & ~ndimage.binary_erosion(mask, border_value=1)
    labels, _ = ndimage.label(mask)
    found = np.zeros_like(mask)
    for label, (rows, cols) in enumerate(ndimage.find_objects(labels), start=1):
        h, w = rows.stop - rows.start, cols.stop - cols.start
        if max(h, w) < min_side or min(h, w) < 4:
            continue
        if _rectilinear(outline[rows, cols] & (labels[rows, cols] == label)):
            found[max(0, rows.start - 2) : rows.stop + 2, max(0, cols.start - 2) : cols.stop + 2] = True
    return found


def _rectilinear(edge: np.ndarray) -> bool:
    """Whether an outline, on its box, runs straight along a row for most of the box's
    width and along a column for most of its height: a drawn shape, not a seed."""
    h, w = edge.shape
    return _longest_run(edge) >= 0.6 * w and _longest_run(edge.T) >= 0.6 * h


def _longest_run(pixels: np.ndarray) -> int:
    """Return the longest run of set pixels along any row."""
    import numpy as np

    padded = np.pad(pixels.astype(np.int8), ((0, 0), (1, 1)))
    steps = np.diff(padded, axis=1)
    starts, ends = np.nonzero(steps == 1)[1], np.nonzero(steps == -1)[1]
    return int((ends - starts).max(initial=0))  # runs come in order, row by row


def _split(mask: np.ndarray, min_radius: float) -> tuple[np.ndarray, int]:
    """Return the mask cut into seeds, labelled 1..count: touching seeds apart.

    Each blob is cut along the necks of its distance to the background: two seeds in contact
    meet at a neck clearly narrower than the smaller of them, while one elongated seed has a
    single ridge. Blobs too thin to hold two seeds stay whole.
    """
    import numpy as np
    from scipy import ndimage

    blobs, _ = ndimage.label(mask)
    segments = np.zeros(mask.shape, np.int32)
    total = 0
    for label, (rows, cols) in enumerate(ndimage.find_objects(blobs), start=1):
        # The distance on the blob's box and a ring of background around it, not on the frame:
        # the same, as the pixel nearest any of a blob's that is not its own is background.
        top, left = max(0, rows.start - 1), max(0, cols.start - 1)
        around = blobs[top : rows.stop + 1, left : cols.stop + 1] == label
        inner = slice(rows.start - top, rows.stop - top), slice(cols.start - left, cols.stop - left)
        own = around[inner]
        heights = np.where(own, ndimage.distance_transform_edt(around)[inner], 0.0)
        peaks = _seed_peaks(heights, min_radius)
        if len(peaks) < 2:
            segments[rows, cols][own] = total + 1
            total += 1
            continue
        parts = _flood(heights, peaks)
        segments[rows, cols][own] = total + parts[own]
        total += len(peaks)
    return segments, total


def _levels(top: float) -> list[float]:
    """The levels a distance map is cut at, from `top` down: steps of 8%, then the floor."""
    levels = []
    while top >= 1:
        levels.append(top)
        top *= 0.92
    return [*levels, 0.5]


def _seed_peaks(distance: np.ndarray, min_radius: float) -> list[tuple[int, int]]:
    """Return the peak of each seed in one blob, from its distance map.

    Level sets of the distance, from the top down: a new peak starts a seed; when two meet,
    the lower is a seed of its own if the neck is clearly narrower than it (and it is wide
    enough for a seed), else a bump of the higher.
    """
    import numpy as np
    from scipy import ndimage

    top = float(distance.max())
    if top < 2 * min_radius:
        return []  # too thin to hold two seeds side by side
    seeds: list[tuple[float, tuple[int, int]]] = []  # height, peak
    alive: list[bool] = []
    for level in _levels(top):
        level_sets, count = ndimage.label(distance >= level)
        members: dict[int, list[int]] = {}
        for k, (_, peak) in enumerate(seeds):
            if alive[k]:
                members.setdefault(int(level_sets[peak]), []).append(k)
        for blob in range(1, count + 1):
            if blob not in members:
                region = level_sets == blob
                y, x = np.unravel_index(np.argmax(np.where(region, distance, -1)), distance.shape)
                seeds.append((float(distance[y, x]), (int(y), int(x))))
                alive.append(True)
                continue
            neck = level / 0.96  # they met between this level and the one above
            for k in sorted(members[blob], key=lambda k: -seeds[k][0])[1:]:
                height = seeds[k][0]
                if neck >= (1 - _SPLIT_DIP) * height or height < min_radius:
                    alive[k] = False
    return [peak for (_, peak), keep in zip(seeds, alive, strict=True) if keep]


def _flood(distance: np.ndarray, peaks: list[tuple[int, int]]) -> np.ndarray:
    """Return the blob's pixels labelled 1..len(peaks) by the seed they belong to: a flood
    from the peaks down the distance map, level by level, so that seeds part at the necks."""
    import numpy as np

    parts = np.zeros(distance.shape, np.int32)
    for k, peak in enumerate(peaks, start=1):
        parts[peak] = k
    for level in _levels(float(distance.max())):
        open_ = (distance >= level) & (parts == 0)
        while True:
            grown = _local_max(parts, 3)
            reached = open_ & (grown > 0)
            if not reached.any():
                break
            parts[reached] = grown[reached]
            open_ &= ~reached
    return parts


def _cut_overlaps(
    segments: np.ndarray, count: int, body: np.ndarray, rgb: np.ndarray, min_area: float
) -> tuple[np.ndarray, int]:
    """Return the segments with seeds lying over each other's edge cut apart: their outline
    bends inwards where the two outlines cross, and the short straight cut between two such
    notches parts them (a single seed, even a kidney-shaped one, has at most one notch);
    or they are of two clearly different colours, each in one seed-shaped piece."""
    import numpy as np
    from scipy import ndimage

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
            halves = (_cut_once(blob, open_, min_area)
                      or _by_colour(blob, _colours(rgb, rows, cols), min_area)
                      or _cut_at_notch(blob, open_, min_area))
        if halves is None:
            out[rows, cols][blob] = total + 1
            total += 1
            continue
        pending.extend((rows, cols, half) for half in halves)
    return out, total


def _colours(rgb: np.ndarray, rows: slice, cols: slice) -> np.ndarray:
    """Return the picture's colours in a box, each a Gaussian average of its neighbours (a
    seed's colour steadied against noise): filtered on the box and the filter's reach around
    it, so the same as on the whole frame, for the few boxes that need colours."""
    from scipy import ndimage

    reach = 4  # of a Gaussian of one pixel, truncated at four
    top, left = max(0, rows.start - reach), max(0, cols.start - reach)
    blurred = ndimage.gaussian_filter(rgb[top : rows.stop + reach, left : cols.stop + reach], (1, 1, 0))
    return blurred[rows.start - top : rows.stop - top, cols.start - left : cols.stop - left]


def _follow_colour_edges(segments: np.ndarray, body: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """Return the segments with the line between two touching seeds of clearly different
    colours moved onto the edge between the colours: cuts made from the shape alone pass
    near it, not on it. Only pixels near the line move, each to the seed whose colour it
    is nearer; each seed then keeps its largest piece."""
    import numpy as np
    from scipy import ndimage

    blobs, _ = ndimage.label(body)
    out = segments.copy()
    for rows, cols in ndimage.find_objects(blobs):
        seg = segments[rows, cols] * body[rows, cols]
        present = [k for k in np.unique(seg) if k > 0]
        if len(present) < 2:
            continue
        colour = _colours(rgb, rows, cols)
        stats = {}
        for k in present:
            core = ndimage.binary_erosion(seg == k, iterations=2)
            pixels = colour[core] if core.sum() >= 20 else colour[seg == k]
            # Median and its typical deviation: a highlight is no part of the seed's colour.
            median = np.median(pixels, axis=0)
            stats[k] = (median, float(np.median(((pixels - median) ** 2).sum(axis=1))) + 1e-4)
        own = seg.copy()
        best = np.full(seg.shape, np.inf)
        for k in present:
            mean, var = stats[k]
            # Near seed k: within a band as wide as a fifth of its radius.
            reach = 0.2 * np.sqrt((seg == k).sum() / np.pi)
            near = (ndimage.distance_transform_edt(seg != k) <= max(2.0, reach)) & (seg > 0)
            others = [j for j in present if j != k]
            distinct = [j for j in others if ((stats[j][0] - mean) ** 2).sum() > 9 * (stats[j][1] + var)]
            if not distinct:
                near &= seg == k
            else:
                near &= np.isin(seg, [k, *distinct])
            cost = ((colour - mean) ** 2).sum(axis=2)
            # A pixel moves only to a seed whose colour it has (a highlight has neither's).
            better = near & (cost < best) & ((seg == k) | (cost <= 9 * var))
            own[better] = k
            best[better] = cost[better]
        # Each seed keeps its largest piece; stray pixels go to the seed nearest them.
        kept = np.zeros_like(own)
        for k in present:
            parts, n = ndimage.label(own == k)
            if n:
                sizes = np.bincount(parts.ravel())[1:]
                kept[parts == sizes.argmax() + 1] = k
        nearest = ndimage.distance_transform_edt(kept == 0, return_indices=True)[1]
        refined = kept[nearest[0], nearest[1]] * (seg > 0)
        view = out[rows, cols]
        view[seg > 0] = refined[seg > 0]
    return out


def _cut_once(
    blob: np.ndarray, background: np.ndarray, min_area: float
) -> tuple[np.ndarray, np.ndarray] | None:
    """Return the blob cut in two at its best pair of notches, or None if it has none."""
    import numpy as np
    from scipy import ndimage

    hull = _hull(blob)
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
        # Both notches deep against the smaller piece: not a corner left by an earlier cut.
        if halves is not None and min(notches[i][1], notches[j][1]) >= 0.15 * np.sqrt(
            min(half.sum() for half in halves)
        ):
            return halves
    return None


def _hull(blob: np.ndarray) -> ConvexHull | None:
    """Return the convex hull of a blob's pixel centres (x, y), None if they are on a line."""
    import numpy as np
    from scipy import ndimage
    from scipy.spatial import ConvexHull, QhullError

    ys, xs = np.nonzero(blob & ~ndimage.binary_erosion(blob))  # the outline's hull is the blob's
    try:
        return ConvexHull(np.stack([xs, ys], axis=1).astype(float))
    except (QhullError, ValueError):
        return None


def _bay_depth(blob: np.ndarray, background: np.ndarray, hull: ConvexHull) -> np.ndarray:
    """Return how deep each pixel of the bays (the `background` inside the blob's hull) lies
    inside the hull, zero elsewhere: inside a convex polygon, the distance to its outline is
    the least over its edges."""
    import numpy as np

    normals, offsets = hull.equations[:, :2], hull.equations[:, 2]
    bay_y, bay_x = np.nonzero(~blob & background)
    depth = np.zeros(blob.shape)
    depth[bay_y, bay_x] = -(normals[:, :1] * bay_x + normals[:, 1:] * bay_y + offsets[:, None]).max(axis=0)
    return np.maximum(depth, 0)


def _outline(blob: np.ndarray) -> np.ndarray:
    """Return a blob's outline pixels on its own box."""
    import numpy as np
    from scipy import ndimage

    rows, cols = np.flatnonzero(blob.any(axis=1)), np.flatnonzero(blob.any(axis=0))
    own = blob[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return own & ~ndimage.binary_erosion(own)


def _solidity(blob: np.ndarray) -> float:
    """Return the share of its convex hull a blob fills: 1 if convex, less if it has bays.
    The hull runs through pixel centres: half a pixel of outline is missing from its area."""
    hull = _hull(blob)
    return 0.0 if hull is None else float(blob.sum() / (hull.volume + hull.area / 2))


def _cut_at_notch(
    blob: np.ndarray, background: np.ndarray, min_area: float
) -> tuple[np.ndarray, np.ndarray] | None:
    """Return a blob that is clearly not convex cut in two by a straight line from its
    deepest notch, the line that leaves the most convex pieces, if both are about convex.

    Two seeds side by side, one across the other's end (an L or a T), leave one deep notch
    and, on the other side, a shallow one or none; a single seed half hidden under another
    is bitten by a wide bay, and no straight cut leaves it in two convex pieces.
    """
    import numpy as np
    from scipy import ndimage

    hull = _hull(blob)
    if hull is None:
        return None
    whole = float(blob.sum() / (hull.volume + hull.area / 2))
    depth = _bay_depth(blob, background, hull)
    if whole >= _NOTCH_SOLIDITY or depth.max() < _MIN_NOTCH or _rectilinear(_outline(blob)):
        return None  # about convex, or drawn (the corner of a badge)
    p = np.array(np.unravel_index(np.argmax(depth), depth.shape), float)
    # Two convex outlines that cross leave a bay narrower than the triangle on its mouth; a
    # wedge with straight sides (a disc with a slice out) fills that triangle.
    bays, _ = ndimage.label(depth > 0)
    facet = int(np.argmax(hull.equations[:, :2] @ p[::-1] + hull.equations[:, 2]))
    mouth = np.subtract(*hull.points[hull.simplices[facet]])
    if (bays == bays[tuple(p.astype(int))]).sum() >= _WEDGE * np.hypot(*mouth) * depth.max() / 2:
        return None
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
        score = min(_solidity(half) for half in halves)
        if score > best_score:
            best, best_score = halves, score
    return best if best_score >= _PART_SOLIDITY else None


def _by_colour(
    blob: np.ndarray, colours: np.ndarray, min_area: float
) -> tuple[np.ndarray, np.ndarray] | None:
    """Return the blob parted between its two colours, if it has two clearly different ones
    (two seeds of two kinds), each in one piece shaped like a seed; a seed's own shading
    (a darker rim round a paler middle) gives a ring, which is no seed.

    The colours themselves first, then their hue alone (each over its brightness): shading,
    blotches and speckles darken a seed without changing its hue, so two seeds of one
    brightness and two hues stand apart in hue where their textures blur them in colour.
    Highlights whiten the hue: they have no say in it, and go to the colour around them.
    """
    import numpy as np
    from scipy import ndimage

    inner = ndimage.binary_erosion(blob, iterations=2)  # the rim mixes in the background
    if inner.sum() < 2 * min_area:
        return None
    luma = _luma(colours)
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
        pieces = []
        for k in (1, 2):
            parts, n = ndimage.label(side == k)
            if n == 0:
                break
            sizes = np.bincount(parts.ravel(), minlength=n + 1)[1:]
            biggest = parts == sizes.argmax() + 1
            width = 2 * ndimage.distance_transform_edt(biggest).max()
            biggest_area = sizes.max()
            if (biggest_area < min_area or biggest_area < 0.8 * sizes.sum()
                    or width < _MIN_STROKE * np.sqrt(biggest_area)):
                break
            pieces.append(biggest)
        if len(pieces) < 2 or (features is hue and _whitened(*(colours[matte & piece] for piece in pieces))):
            continue
        labels = np.where(pieces[0], 1, np.where(pieces[1], 2, 0))
        nearest = ndimage.distance_transform_edt(labels == 0, return_indices=True)[1]
        labels = labels[nearest[0], nearest[1]]
        return blob & (labels == 1), blob & (labels == 2)
    return None


def _whitened(first: np.ndarray, second: np.ndarray) -> bool:
    """Whether the colours of two pieces (one per row) differ as a colour and that colour
    mixed with white do: a seed and the glow round its highlight, not two seeds."""
    import numpy as np

    if len(first) == 0 or len(second) == 0:
        return True
    a, b = np.median(first, axis=0), np.median(second, axis=0)
    if _luma(a[None])[0] > _luma(b[None])[0]:
        a, b = b, a
    towards = 1 - a  # from the darker colour towards white
    share = float(towards @ (b - a)) / max(float(towards @ towards), 1e-9)
    return bool(np.linalg.norm(b - a - share * towards) < _WHITENED * np.linalg.norm(b - a))


def _two_colours(features: np.ndarray, inner: np.ndarray) -> np.ndarray | None:
    """Return the `inner` pixels labelled 1 or 2 by which of two clearly different colours
    they have (`features`, one row per pixel), or None if they have one colour."""
    import numpy as np

    # Two-means along the colours' main axis.
    centred = features - features.mean(axis=0)
    axis = np.linalg.svd(centred[:: max(1, len(centred) // 2000)], full_matrices=False)[2][0]
    position = (centred * axis).sum(axis=1)
    cut = float(np.median(position))
    for _ in range(8):
        low, high = position[position < cut], position[position >= cut]
        if len(low) == 0 or len(high) == 0:
            return None
        cut = (low.mean() + high.mean()) / 2
    separation = (high.mean() - low.mean()) ** 2 / (low.var() + high.var() + 1e-9)
    if separation < _COLOUR_SEPARATION or high.mean() - low.mean() < 0.1:
        return None
    side = np.zeros(inner.shape, np.int8)
    side[inner] = np.where(position >= cut, 2, 1)
    return side


def _halves(
    blob: np.ndarray, p: np.ndarray, q: np.ndarray, min_area: float
) -> tuple[np.ndarray, np.ndarray] | None:
    """Return the blob cut along the straight line from p to q, if that leaves two pieces
    of a seed's size; the cut's own pixels go back to the nearer piece."""
    import numpy as np
    from scipy import ndimage

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
    # base) and is no mere fraction of the other.
    widths = ndimage.maximum(ndimage.distance_transform_edt(parts > 0), parts, [first, second])
    if any(2 * w < _MIN_STROKE * np.sqrt(sizes[k - 1]) for w, k in zip(widths, (first, second), strict=True)):
        return None
    if 2 * widths[1] < _BULGE * np.hypot(*(p - q)) or sizes[second - 1] < _MIN_SHARE * sizes[first - 1]:
        return None
    labels = np.where(parts == first, 1, np.where(parts == second, 2, 0))
    nearest = ndimage.distance_transform_edt(labels == 0, return_indices=True)[1]
    labels = labels[nearest[0], nearest[1]]
    return blob & (labels == 1), blob & (labels == 2)


def _text(
    inked: np.ndarray, rgb: np.ndarray, strength: np.ndarray, min_height: float, max_height: float
) -> tuple[np.ndarray, list[int]]:
    """Return the pixels of lines of text, found from their letters (see `_in_rows`), and
    the height of each line found."""
    import numpy as np
    from scipy import ndimage

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
    line: four or more are text (letters, or words whose letters touch); three are text if
    they sit on one straight line (a chain of seeds wanders up and down); two are text if
    they also share a baseline near the frame's edge, where the microscope writes its
    labels, and span a few letters (a bold label such as "4.0x" whose letters touch).
    """
    import numpy as np
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    if len(boxes) < 2:
        return np.full(len(boxes), -1)
    left, top, right, bottom = boxes.T.astype(float)
    height = bottom - top
    shorter = np.minimum(height[:, None], height[None, :])
    taller = np.maximum(height[:, None], height[None, :])
    gap = np.maximum(left[None, :] - right[:, None], left[:, None] - right[None, :])
    overlap = np.minimum(bottom[:, None], bottom[None, :]) - np.maximum(top[:, None], top[None, :])
    same_ink = np.abs(inks[:, None, :] - inks[None, :, :]).max(axis=2) <= 0.25
    neighbours = (taller <= 2.2 * shorter) & (gap <= 0.6 * taller) & (overlap >= 0.5 * shorter) & same_ink
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
    twin = neighbours & level & wide & (gap <= 0.3 * taller) & near_edge[:, None] & near_edge[None, :]
    np.fill_diagonal(twin, False)
    pair = np.bincount(line, weights=twin.sum(axis=1), minlength=count) >= 2  # both ways
    text = (sizes >= 4) | (straight & ((sizes == 3) | ((sizes == 2) & pair)))
    # A word set apart by a wide space (the "µm" of a large bold "100 µm") joins its line:
    # pieces of the line's ink in its row, no further from it than they are tall.
    loose = (taller <= 2.2 * shorter) & (gap <= taller) & (overlap >= 0.5 * shorter) & same_ink
    _, phrase = connected_components(sparse.csr_matrix(loose), directed=False)
    with_text = np.zeros(phrase.max() + 1, bool)
    with_text[phrase[text[line]]] = True
    return np.where(with_text[phrase], phrase, -1)


def _boxes(labels: np.ndarray) -> np.ndarray:
    """Return the box (left, top, right, bottom) of each label 1..n, as an n x 4 array."""
    import numpy as np
    from scipy import ndimage

    found = ndimage.find_objects(labels)
    return np.array([(c.start, r.start, c.stop, r.stop) for r, c in found], int).reshape(len(found), 4)


def _ink_colours(rgb: np.ndarray, strength: np.ndarray, labels: np.ndarray, count: int) -> np.ndarray:
    """Return the colour of each label's strongest pixel, as a count x 3 array: the ink
    itself, which a thin letter's mean (mixed with the background at its edges) is not."""
    import numpy as np

    # ndimage.maximum_position sorts the whole frame; only the labelled pixels need sorting.
    pixels = np.flatnonzero(labels)
    order = pixels[np.argsort(strength.ravel()[pixels])]
    strongest = np.zeros(count + 1, np.intp)
    strongest[labels.ravel()[order]] = order  # the last, strongest, pixel of each label wins
    return rgb.reshape(-1, 3)[strongest[1:]]


def _local_mean(values: np.ndarray) -> np.ndarray:
    """Return each pixel's mean over its 3 x 3 neighbours, edges reflected: what
    `ndimage.uniform_filter(values, 3)` gives, from sums of shifted views (three times faster)."""
    import numpy as np

    padded = np.pad(values, 1, mode="symmetric")  # numpy's "symmetric" is ndimage's "reflect"
    rows = padded[:-2] + padded[1:-1] + padded[2:]
    return (rows[:, :-2] + rows[:, 1:-1] + rows[:, 2:]) / np.asarray(9, values.dtype)


def _local_max(values: np.ndarray, size: int) -> np.ndarray:
    """Return each pixel's maximum over its `size` x `size` neighbours (size odd): what
    `ndimage.maximum_filter` gives, from maxima of shifted views (three times faster)."""
    import numpy as np

    reach = size // 2
    height, width = values.shape
    padded = np.pad(values, reach, mode="edge")  # the edge's value is already in the window
    rows = padded[:height].copy()
    for k in range(1, size):
        np.maximum(rows, padded[k : k + height], out=rows)
    out = rows[:, :width].copy()
    for k in range(1, size):
        np.maximum(out, rows[:, k : k + width], out=out)
    return out


def _luma(rgb: np.ndarray) -> np.ndarray:
    """Return the mean of the three channels (added one by one: `mean(axis=2)` is slower)."""
    return (rgb[..., 0] + rgb[..., 1] + rgb[..., 2]) / 3


def _fill(blob: np.ndarray) -> float:
    """Return how fully a blob fills its equivalent ellipse: 1 if solid, less if ragged."""
    import numpy as np

    ys, xs = np.nonzero(blob)
    if len(xs) < 3:
        return 0.0
    # A solid ellipse's area is 4π·sqrt(det covariance); the +1/12 is each pixel's own spread.
    cov = np.cov(xs, ys) + np.eye(2) / 12
    ellipse_area = 4 * np.pi * np.sqrt(max(np.linalg.det(cov), 1e-9))
    return float(min(1.0, len(xs) / ellipse_area / 0.9))  # solid seeds' outlines fill >= 0.9
