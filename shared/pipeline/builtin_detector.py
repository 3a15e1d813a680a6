"""The built-in seed detector: seeds on a plain bright background, by classical image processing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.pipeline.types import Detection, FractionBox, Guess

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image

LABEL = "seed"

_WORK_SIDE_PX = 640  # longest side of the working copy: small seeds keep ~15 px, speed stays high
_FIT_SIDE_PX = 96  # longest side of the grid the background surface is fitted on
_FIT_DEGREE = 4  # of the background polynomial: enough for a vignette and a lighting gradient
_LUMA_STEP = 0.22  # brightness change that alone marks a seed (a soft shadow stays below)
_CHROMA_STEP = 0.05  # colour change that alone marks a seed (pale seeds differ mostly in hue)
_WEAK_LEVEL = 0.6  # hysteresis: pixels this strong count when joined to a sure one (1.0)
_RIM_LEVEL = 0.4  # a seed's box leaves out its rim: pixels under this share of the contrast nearby
_MIN_SIDE_FRACTION = 0.015  # a seed is at least this long, relative to the longest side

_Box = tuple[int, int, int, int]  # left, top, right, bottom in working pixels, right exclusive


def detect_seeds(image: Image.Image) -> list[Detection]:
    """Return one `seed` box per seed in an upright picture, top to bottom then left to right.

    The picture should show seeds on a plain bright background (a stereo microscope view);
    dust, shadows and a scale-bar overlay in a corner are ignored. Zero boxes is a valid
    answer. The score is a confidence from the seed's contrast, compactness and size. Any
    Pillow mode is accepted; nothing is raised for a decoded image.
    """
    import numpy as np
    from scipy import ndimage

    working = _working_copy(image)
    rgb = np.asarray(working, dtype=np.float32) / 255.0
    height, width = rgb.shape[:2]
    brightness, chroma = _contrast(rgb, _fit_background(working))
    luma = np.abs(1 - brightness) / _LUMA_STEP
    strength = np.maximum(luma, chroma / _CHROMA_STEP)

    # Averaging neighbours steadies the mask against noise; the boxes still come from the pixels.
    mask = _seed_mask(ndimage.uniform_filter(strength, size=3))
    for left, top, right, bottom in _scale_bars(brightness < 0.4):
        # The overlay with its line and text, and a margin for its soft edge.
        mask[max(0, top - 2) : bottom + 2, max(0, left - 2) : right + 2] = False
    labels, count = ndimage.label(mask)
    if count == 0:
        return []
    index = np.arange(1, count + 1)
    areas = ndimage.sum_labels(labels > 0, labels, index)
    contrasts = ndimage.mean(strength, labels, index)
    tight_boxes = _tight_boxes(labels, count, luma, strength)

    min_side = _MIN_SIDE_FRACTION * max(height, width)
    found: list[tuple[_Box, float]] = []
    for label, (rows, cols) in enumerate(ndimage.find_objects(labels), start=1):
        box = (cols.start, rows.start, cols.stop, rows.stop)
        box_w, box_h = box[2] - box[0], box[3] - box[1]
        area = float(areas[label - 1])
        if max(box_w, box_h) < min_side or area < min_side**2 / 2:
            continue  # dust
        if area / np.hypot(box_w, box_h) < min_side / 4:
            continue  # too thin for a seed: a hair, a fibre, a drawn line
        blob = labels[rows, cols] == label
        size_score = min(1.0, area / (4 * min_side**2))
        contrast_score = 1 - np.exp(-float(contrasts[label - 1]) / 2)
        confidence = contrast_score * _fill(blob) * size_score**0.5
        found.append((tight_boxes[label - 1] or box, round(float(confidence), 3)))

    detections = []
    for box, confidence in sorted(found, key=lambda item: (item[0][1], item[0][0])):
        left, top, right, bottom = box
        fractions = FractionBox(left / width, top / height, right / width, bottom / height)
        detections.append(Detection(fractions, (Guess(LABEL, confidence),)))
    return detections


def _working_copy(image: Image.Image) -> Image.Image:
    """Return the picture in RGB, shrunk (by averaging) to at most the working size."""
    from PIL import Image

    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        # Transparent pixels show the bright background they were cut from.
        image = image.convert("RGBA")
        image = Image.alpha_composite(Image.new("RGBA", image.size, (255, 255, 255, 255)), image)
    if image.mode != "RGB":
        image = image.convert("RGB")
    factor = max(image.size) / _WORK_SIDE_PX
    if factor > 1:
        size = (max(1, round(image.width / factor)), max(1, round(image.height / factor)))
        image = image.resize(size, Image.Resampling.BOX)
    return image


def _fit_background(working: Image.Image) -> np.ndarray:
    """Return the background colour (0..1) at every pixel: a smooth surface, fitted robustly."""
    import numpy as np
    from PIL import Image

    step = max(1, round(max(working.size) / _FIT_SIDE_PX))
    small = np.asarray(working.reduce(step), dtype=np.float64) / 255.0
    rows, cols = small.shape[:2]
    y, x = np.meshgrid(np.linspace(-1, 1, rows), np.linspace(-1, 1, cols), indexing="ij")
    design = np.stack(
        [(x**i * y**j).ravel() for i in range(_FIT_DEGREE + 1) for j in range(_FIT_DEGREE + 1 - i)],
        axis=1,
    )
    values = small.reshape(-1, 3)

    # Start from the brighter half (the background is bright), then alternate fitting and
    # keeping the cells the fit explains, so that seeds, shadows and the scale bar drop out.
    brightness = values.mean(axis=1)
    inliers = brightness >= np.median(brightness)
    for _ in range(4):
        kept = design[inliers]
        # A whisker of ridge keeps the system solvable for pictures of a few pixels.
        normal = kept.T @ kept + 1e-9 * len(kept) * np.eye(design.shape[1])
        fitted = design @ np.linalg.solve(normal, kept.T @ values[inliers])
        residual = np.abs(values / np.maximum(fitted, 1e-3) - 1).max(axis=1)
        spread = 1.4826 * np.median(residual[inliers])
        inliers = residual <= max(4 * spread, 0.03)
        if inliers.sum() < 4 * design.shape[1]:
            break

    # The surface is smooth, so enlarging the fitted grid loses nothing and costs little.
    surface = np.maximum(fitted, 1e-3).astype(np.float32).reshape(rows, cols, 3)
    channels = [Image.fromarray(surface[..., c], "F") for c in range(3)]
    return np.stack(
        [np.asarray(c.resize(working.size, Image.Resampling.BILINEAR)) for c in channels], axis=-1
    )


def _contrast(rgb: np.ndarray, background: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return each pixel's brightness relative to the background, and its change of hue.

    Dark seeds differ in brightness, pale seeds on a pale background in hue; a vignette or a
    shadow only dims the background, which leaves the hue alone.
    """
    import numpy as np

    ratio = rgb / background
    brightness = ratio.mean(axis=2)
    hue = ratio / np.maximum(brightness, 1e-3)[..., None] - 1
    return brightness, np.sqrt((hue**2).sum(axis=2))


def _seed_mask(strength: np.ndarray) -> np.ndarray:
    """Return the seed pixels: sure ones, the weaker ones joined to them, holes filled."""
    import numpy as np
    from scipy import ndimage

    labels, count = ndimage.label(strength >= _WEAK_LEVEL)
    keep = np.zeros(count + 1, bool)
    keep[labels[strength >= 1.0]] = True
    keep[0] = False
    mask = keep[labels]
    # Closing mends a seed split by a crease, filling takes in highlights and pale patches.
    # Padding by repetition keeps the closing from eating seeds that touch the border.
    return _fill_holes(ndimage.binary_closing(np.pad(mask, 2, mode="edge"))[2:-2, 2:-2])


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


def _tight_boxes(
    labels: np.ndarray, count: int, luma: np.ndarray, strength: np.ndarray
) -> list[_Box | None]:
    """Return each blob's box without its soft rim, None for a blob that is all rim.

    A blob's box spans its pixels with at least _RIM_LEVEL of the contrast nearby; the soft rim
    would widen the boxes of small seeds. Blobs that stand out in brightness are judged on
    brightness alone, as cameras and JPEG smear colour further than brightness.
    """
    import numpy as np
    from scipy import ndimage

    by_luma = ndimage.mean(luma, labels, np.arange(1, count + 1)) >= 1.0
    by_luma = np.concatenate(([False], by_luma))[labels]
    core = np.where(
        by_luma,
        (luma >= _RIM_LEVEL * ndimage.maximum_filter(luma, size=7)) & (luma >= _WEAK_LEVEL),
        strength >= _RIM_LEVEL * ndimage.maximum_filter(strength, size=7),
    )
    return [
        None if found is None else (found[1].start, found[0].start, found[1].stop, found[0].stop)
        for found in ndimage.find_objects(labels * core, max_label=count)
    ]


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


def _scale_bars(dark: np.ndarray) -> list[_Box]:
    """Return the boxes of the microscope's scale-bar overlay: a wide dark box in a corner.

    `dark` marks the pixels under 0.4 of the background's brightness; the overlay's bright
    line and text are holes in it. The overlay sits a little inside the picture: a dark seed
    cut by two borders can look as boxy, but it touches them.
    """
    from scipy import ndimage

    labels, _ = ndimage.label(_fill_holes(dark))
    height, width = dark.shape
    near = 0.08 * max(width, height)
    bars = []
    for label, (rows, cols) in enumerate(ndimage.find_objects(labels), start=1):
        left, top, right, bottom = cols.start, rows.start, cols.stop, rows.stop
        in_corner = min(left, width - right) <= near and min(top, height - bottom) <= near
        inset = left > 0 and top > 0 and right < width and bottom < height
        wide = 1.4 * (bottom - top) <= right - left <= 0.4 * width
        if in_corner and inset and wide:
            extent = (labels[rows, cols] == label).mean()
            if extent >= 0.84:
                bars.append((left, top, right, bottom))
    return bars
