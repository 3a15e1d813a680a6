"""The background: its colour at every pixel (a smooth surface fitted on the largest plain
region, bright, dark or coloured), and how much each pixel stands out from it."""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from shared.pipeline.builtin_detector.pixels import local_mean, luma_of

_GRID_SIDE = 96  # longest side of the grid of cells the background is found and fitted on
_FIT_DEGREE = 4  # of the background polynomial: enough for a vignette and a lighting gradient
_LUMA_STEP = 0.22  # brightness change that alone marks a seed (a soft shadow stays below)
_CHROMA_STEP = 0.06  # colour change that alone marks a seed (pale seeds differ mostly in hue)
_DARK_FLOOR = 0.25  # brightness changes are relative to the background, or to this if darker
_NOISE_MARGIN = 6  # a seed's change is at least this many times the background's typical one


def fit_background(rgb: np.ndarray, luma: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Return the background colour at every pixel, a smooth surface fitted on the largest
    plain region of the picture (`rgb`, its brightness `luma`), and the pixels it was fitted
    on; None when the picture has no plain background."""
    height, width = rgb.shape[:2]
    step = max(1, -(-max(height, width) // _GRID_SIDE))
    rows, cols = height // step, width // step
    # Sums over contiguous runs of memory: numpy's reductions over short strided axes are slow.
    sums = rgb[: rows * step, : cols * step].reshape(rows, step, cols, step * 3).sum(axis=1)
    means = sums.reshape(rows, cols, step, 3).sum(axis=2) / (step * step)
    spread = luma[: rows * step, : cols * step].reshape(rows, step, cols, step).std(axis=(1, 3))
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
    in_x = np.ascontiguousarray(in_x.transpose(2, 0, 1), np.float32)  # channel, power of y, column
    # Channel by channel in float32, each a plane of its own (the array returned is a view of
    # them: its channels are contiguous), products into one reused buffer: no full-frame
    # float64 temporaries, and no fresh ones at each term.
    surface = np.zeros((3, height, width), np.float32)
    term = np.empty((height, width), np.float32)
    for channel, rows_of in zip(surface, in_x, strict=True):
        for j in range(_FIT_DEGREE + 1):
            np.multiply(powers_y[:, j, None], rows_of[j], out=term)
            channel += term
    fitted_on = np.zeros((height, width), bool)
    cells_in = inliers.reshape(rows, cols)
    fitted_on[: rows * step, : cols * step] = np.repeat(np.repeat(cells_in, step, 0), step, 1)
    return np.moveaxis(np.maximum(surface, 1e-3, out=surface), 0, -1), fitted_on


def pixel_strength(
    rgb: np.ndarray, luma: np.ndarray, background: np.ndarray, plain: np.ndarray
) -> np.ndarray:
    """Return how much each pixel (`rgb`, its brightness `luma`) stands out from the
    background, in units of what alone marks a seed: a change of brightness, or of hue (pale
    seeds on a pale background).

    Brightness counts relative to the background's (a vignette dims seeds and background
    alike); a shadow darkens the background without changing its hue. Either change must
    also stand well clear of the noise of the `plain` background pixels.
    """
    base = luma_of(background)
    scale = np.maximum(base, _DARK_FLOOR)
    brightness = np.abs(luma - base)
    brightness /= scale
    # The hue the background would have at this pixel's brightness (a shadow keeps the hue).
    dimming = np.clip(luma / base, 0, 1)
    # Channel by channel, into reused buffers: no full-frame temporaries of three channels,
    # nor fresh ones at each step.
    chroma = np.zeros_like(luma)
    hue, shade = np.empty_like(luma), np.empty_like(luma)
    for c in range(3):
        np.subtract(rgb[..., c], luma, out=hue)
        np.subtract(background[..., c], base, out=shade)
        shade *= dimming
        hue -= shade
        hue *= hue
        chroma += hue
    np.sqrt(chroma, out=chroma)
    chroma /= scale
    strength = np.zeros_like(luma)
    for change, step in ((brightness, _LUMA_STEP), (chroma, _CHROMA_STEP)):
        # The background's typical change, on averaged neighbours as the mask will see it.
        noise = float(np.median(local_mean(change)[plain], overwrite_input=True)) if plain.any() else 0.0
        change /= max(step, _NOISE_MARGIN * noise)
        np.maximum(strength, change, out=strength)
    return strength
