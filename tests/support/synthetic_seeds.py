"""Synthetic stereo-microscope seed pictures with known truth boxes, for the built-in detector."""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

Box = tuple[int, int, int, int]
"""A box in pixels: left, top, right, bottom (right and bottom exclusive)."""

SAMPLE_PATH = Path("/work/shared/samples/one-seed-white-background.png")
SAMPLE_SEED_BOX: Box = (143, 55, 456, 466)
"""Where the sample's one seed is, give or take a few pixels."""

# Mean RGB of each kind of seed; each seed varies around it.
SEED_COLOURS: dict[str, tuple[float, float, float]] = {
    "dark-brown": (92.0, 60.0, 36.0),
    "black": (38.0, 34.0, 32.0),
    "tan": (188.0, 150.0, 102.0),
    "cream": (226.0, 214.0, 172.0),
    "reddish": (152.0, 64.0, 42.0),
}


@dataclass(frozen=True)
class SeedScene:
    """A synthetic picture and where everything in it is."""

    image: Image.Image
    seeds: list[Box]
    colours: list[str]
    dust: list[Box]
    scale_bar: Box | None


@dataclass(frozen=True)
class _Seed:
    cx: float
    cy: float
    semi_major: float
    semi_minor: float
    angle: float
    colour: str

    @property
    def reach(self) -> float:
        # Radius of a circle that holds the seed's irregular outline (see `_draw_seed`).
        return self.semi_major * 1.3


def make_seed_picture(
    *,
    width: int = 1920,
    height: int = 1080,
    n_seeds: int = 8,
    seed: int = 0,
    **options: Any,
) -> tuple[Image.Image, list[Box]]:
    """Return a synthetic picture and the truth box of each seed (see `make_seed_scene`)."""
    scene = make_seed_scene(width=width, height=height, n_seeds=n_seeds, seed=seed, **options)
    return scene.image, scene.seeds


def make_seed_scene(
    *,
    width: int = 1920,
    height: int = 1080,
    n_seeds: int = 8,
    seed: int = 0,
    colours: tuple[str, ...] = tuple(SEED_COLOURS),
    size_range: tuple[float, float] | None = None,
    n_border_seeds: int | None = None,
    n_dust: int = 30,
    scale_bar: bool = True,
    shadow: float = 0.1,
    vignette: float = 0.15,
    noise_sigma: float = 2.5,
    jpeg_quality: int | None = None,
) -> SeedScene:
    """Draw `n_seeds` non-overlapping seeds on a bright background, deterministic given `seed`.

    `size_range` is the seeds' length as fractions of the shorter side (default: wide enough
    for the count); `n_border_seeds` seeds are cut by the image border (default: a quarter);
    `shadow` is the darkening beside each seed; `jpeg_quality` encodes the picture as JPEG.
    """
    rng = np.random.default_rng(seed)
    unit = min(width, height)
    if size_range is None:
        size_range = (0.045, float(np.clip(0.6 / math.sqrt(max(n_seeds, 1)), 0.08, 0.45)))
    if n_border_seeds is None:
        n_border_seeds = n_seeds // 4

    tint = np.array([236.0, 237.0, 234.0]) + rng.uniform(-6, 6) + rng.uniform(-3, 3, 3)
    canvas = np.empty((height, width, 3), np.float32)
    canvas[:] = tint
    bar_box = _scale_bar_box(width, height, rng) if scale_bar else None
    seeds = _place_seeds(
        width, height, rng, n_seeds, n_border_seeds, size_range, unit, colours, bar_box
    )
    seed_boxes = [_draw_seed(canvas, s, rng, shadow) for s in seeds]
    dust_boxes = _draw_dust(canvas, rng, n_dust, seeds, bar_box, unit)
    canvas *= _lighting(width, height, rng, vignette)[..., None]

    canvas += rng.standard_normal(canvas.shape, dtype=np.float32) * noise_sigma
    image = Image.fromarray(np.clip(canvas + 0.5, 0, 255).astype(np.uint8), "RGB")
    if bar_box is not None:
        _draw_scale_bar(image, bar_box)
    if jpeg_quality is not None:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=jpeg_quality)
        image = Image.open(io.BytesIO(buffer.getvalue()))
        image.load()
    return SeedScene(image, seed_boxes, [s.colour for s in seeds], dust_boxes, bar_box)


def sample_seed_picture() -> tuple[Image.Image, Box]:
    """Return the real sample picture and the rough box of its one seed."""
    image = Image.open(SAMPLE_PATH)
    image.load()
    return image, SAMPLE_SEED_BOX


def make_sample_picture(
    *, width: int = 1280, height: int = 720, n_copies: int = 4, seed: int = 0
) -> tuple[Image.Image, list[Box]]:
    """Return copies of the real sample's seed, cut out, turned, scaled and pasted on a
    synthetic background (vignette, dust, scale bar), and the truth box of each copy.
    """
    rng = np.random.default_rng(seed)
    image = make_seed_scene(width=width, height=height, n_seeds=0, seed=seed).image
    cutout = _sample_cutout()
    placed: list[Box] = []
    while len(placed) < n_copies:
        scale = min(width, height) * rng.uniform(0.12, 0.3) / max(cutout.size)
        copy = cutout.resize(
            (round(cutout.width * scale), round(cutout.height * scale)), Image.Resampling.LANCZOS
        )
        copy = copy.rotate(rng.uniform(0, 360), Image.Resampling.BICUBIC, expand=True)
        left = int(rng.integers(0, width - copy.width))
        top = int(rng.integers(0, height - copy.height))
        alpha = np.asarray(copy.getchannel("A")) >= 128
        rows, cols = np.flatnonzero(alpha.any(axis=1)), np.flatnonzero(alpha.any(axis=0))
        box = (
            left + int(cols[0]),
            top + int(rows[0]),
            left + int(cols[-1]) + 1,
            top + int(rows[-1]) + 1,
        )
        gap = 12
        if any(
            box[0] < b[2] + gap
            and b[0] < box[2] + gap
            and box[1] < b[3] + gap
            and b[1] < box[3] + gap
            for b in placed
        ):
            continue
        image.paste(copy, (left, top), copy)
        placed.append(box)
    return image, placed


def _sample_cutout() -> Image.Image:
    # The sample's background is plain: a pixel's colour distance to it gives a soft alpha.
    rgb = np.asarray(Image.open(SAMPLE_PATH).convert("RGB"), dtype=np.float32)
    left, top, right, bottom = SAMPLE_SEED_BOX
    background = np.median(rgb[:, :40].reshape(-1, 3), axis=0)
    distance = np.sqrt(((rgb - background) ** 2).sum(axis=2))
    alpha = np.clip((distance - 15) / 20, 0, 1)
    alpha = np.where(ndimage.binary_fill_holes(alpha > 0.5) & (alpha <= 0.5), 1.0, alpha)
    rgba = np.dstack([rgb, alpha * 255]).astype(np.uint8)
    return Image.fromarray(rgba[top - 4 : bottom + 4, left - 4 : right + 4], "RGBA")


def _lighting(width: int, height: int, rng: np.random.Generator, vignette: float) -> np.ndarray:
    # Darker towards the corners (around an off-centre point) and to one side.
    y, x = (a.astype(np.float32) for a in np.ogrid[0:height, 0:width])
    cx = width * rng.uniform(0.4, 0.6)
    cy = height * rng.uniform(0.4, 0.6)
    r2 = ((x - cx) / (width / 2)) ** 2 + ((y - cy) / (height / 2)) ** 2
    light = 1 - vignette * r2 / 2
    light *= 1 + rng.uniform(-0.04, 0.04) * (x - width / 2) / width
    return light


def _scale_bar_box(width: int, height: int, rng: np.random.Generator) -> Box:
    unit = min(width, height)
    w, h = round(unit * 0.16), round(unit * 0.065)
    margin = round(unit * rng.uniform(0.01, 0.03))
    right, bottom = bool(rng.integers(2)), bool(rng.integers(2))
    left = width - margin - w if right else margin
    top = height - margin - h if bottom else margin
    return (left, top, left + w, top + h)


def _place_seeds(
    width: int,
    height: int,
    rng: np.random.Generator,
    n_seeds: int,
    n_border: int,
    size_range: tuple[float, float],
    unit: int,
    colours: tuple[str, ...],
    bar_box: Box | None,
) -> list[_Seed]:
    seeds: list[_Seed] = []
    scale = 1.0
    while len(seeds) < n_seeds:
        for _attempt in range(400):
            length = unit * scale * rng.uniform(*size_range)
            semi_major = length / 2
            semi_minor = semi_major * rng.uniform(0.45, 0.95)
            if len(seeds) < n_border:
                # Centre just inside an edge, so that a fifth to a half of the seed is cut.
                inset = semi_minor * rng.uniform(0.2, 0.6)
                edge = rng.integers(4)
                cx = rng.uniform(0, width) if edge < 2 else (inset if edge == 2 else width - inset)
                cy = (
                    rng.uniform(0, height)
                    if edge >= 2
                    else (inset if edge == 0 else height - inset)
                )
            else:
                cx = rng.uniform(semi_major, width - semi_major)
                cy = rng.uniform(semi_major, height - semi_major)
            candidate = _Seed(
                cx, cy, semi_major, semi_minor, rng.uniform(0, math.pi), str(rng.choice(colours))
            )
            if _fits(candidate, seeds, bar_box):
                seeds.append(candidate)
                break
        else:
            scale *= 0.85  # crowded: make the remaining seeds smaller
    return seeds


def _fits(candidate: _Seed, seeds: list[_Seed], bar_box: Box | None) -> bool:
    for other in seeds:
        gap = max(candidate.semi_minor, other.semi_minor) * 0.3
        distance = math.hypot(candidate.cx - other.cx, candidate.cy - other.cy)
        if distance < candidate.reach + other.reach + gap:
            return False
    if bar_box is not None:
        nearest_x = min(max(candidate.cx, bar_box[0]), bar_box[2])
        nearest_y = min(max(candidate.cy, bar_box[1]), bar_box[3])
        if math.hypot(candidate.cx - nearest_x, candidate.cy - nearest_y) < candidate.reach + 10:
            return False
    return True


def _draw_seed(canvas: np.ndarray, seed: _Seed, rng: np.random.Generator, shadow: float) -> Box:
    height, width = canvas.shape[:2]
    reach = seed.reach + seed.semi_major * 0.4  # room for the shadow's blur
    x0, x1 = max(0, int(seed.cx - reach)), min(width, int(seed.cx + reach) + 1)
    y0, y1 = max(0, int(seed.cy - reach)), min(height, int(seed.cy + reach) + 1)
    y, x = (a.astype(np.float32) for a in np.ogrid[y0:y1, x0:x1])
    radius = math.sqrt(seed.semi_major * seed.semi_minor)

    # An ellipse whose radius wobbles with a few harmonics: an irregular outline, sometimes a
    # pointed end (first harmonic).
    harmonics = [
        (k, rng.uniform(0, 0.04 if k > 1 else 0.1), rng.uniform(0, 2 * math.pi))
        for k in range(1, 6)
    ]

    def distance(dx: float, dy: float) -> np.ndarray:
        cos, sin = math.cos(seed.angle), math.sin(seed.angle)
        u = ((x - seed.cx - dx) * cos + (y - seed.cy - dy) * sin) / seed.semi_major
        v = (-(x - seed.cx - dx) * sin + (y - seed.cy - dy) * cos) / seed.semi_minor
        theta = np.arctan2(v, u)
        wobble = 1 + sum(a * np.cos(k * theta + phase) for k, a, phase in harmonics)
        return np.hypot(u, v) / wobble

    d = distance(0.0, 0.0)
    alpha = np.clip((1 - d) * radius + 0.5, 0, 1)

    if shadow > 0:
        # Light from the upper left: a blurred copy of the seed, offset down and right.
        offset = radius * rng.uniform(0.05, 0.12)
        cast = (distance(offset, offset * 1.3) < 1).astype(np.float32)
        cast = ndimage.gaussian_filter(cast, radius * 0.15)
        canvas[y0:y1, x0:x1] *= (1 - shadow * rng.uniform(0.6, 1.0) * cast)[..., None]

    colour = np.array(SEED_COLOURS[seed.colour]) * rng.uniform(0.94, 1.05, 3)
    colour = np.clip(colour * rng.uniform(0.88, 1.1), 0, 250).astype(np.float32)
    # Rounded shading (darker rim), blotches, wrinkles and fine grain.
    shade = 0.74 + 0.26 * np.sqrt(np.clip(1 - d**2, 0, 1))
    blotches = _smooth_noise(rng, y1 - y0, x1 - x0, max(radius / 4, 2.0))
    wrinkles = _smooth_noise(rng, y1 - y0, x1 - x0, max(radius / 14, 1.5))
    grain = rng.standard_normal(d.shape, dtype=np.float32)
    texture = 1 + 0.08 * blotches + 0.05 * wrinkles + 0.03 * grain
    pixels = colour * (shade * texture)[..., None]

    # A soft specular highlight up and to the left of the centre.
    hx = seed.cx - radius * rng.uniform(0.15, 0.4)
    hy = seed.cy - radius * rng.uniform(0.15, 0.4)
    spot = np.exp(-((x - hx) ** 2 + (y - hy) ** 2) / (2 * (radius * rng.uniform(0.08, 0.18)) ** 2))
    spot *= rng.uniform(0.4, 0.85) * (d < 0.85)
    pixels += (255 - pixels) * spot[..., None]

    patch = canvas[y0:y1, x0:x1]
    patch[:] = patch * (1 - alpha[..., None]) + pixels * alpha[..., None]

    rows = np.flatnonzero((alpha >= 0.5).any(axis=1))
    cols = np.flatnonzero((alpha >= 0.5).any(axis=0))
    return (x0 + int(cols[0]), y0 + int(rows[0]), x0 + int(cols[-1]) + 1, y0 + int(rows[-1]) + 1)


def _smooth_noise(rng: np.random.Generator, h: int, w: int, grain: float) -> np.ndarray:
    # Unit-variance noise varying over about `grain` pixels: coarse noise, smoothly enlarged.
    small = rng.standard_normal((max(2, int(h / grain) + 2), max(2, int(w / grain) + 2)))
    noise = np.asarray(Image.fromarray(small.astype(np.float32), "F").resize((w, h), Image.BICUBIC))
    return noise / max(float(noise.std()), 1e-6)


def _draw_dust(
    canvas: np.ndarray,
    rng: np.random.Generator,
    n_dust: int,
    seeds: list[_Seed],
    bar_box: Box | None,
    unit: int,
) -> list[Box]:
    height, width = canvas.shape[:2]
    boxes: list[Box] = []
    while len(boxes) < n_dust:
        cx, cy = rng.uniform(4, width - 4), rng.uniform(4, height - 4)
        if any(math.hypot(cx - s.cx, cy - s.cy) < s.reach + 8 for s in seeds):
            continue  # dust on a seed is part of the seed
        if bar_box is not None and (
            bar_box[0] - 8 < cx < bar_box[2] + 8 and bar_box[1] - 8 < cy < bar_box[3] + 8
        ):
            continue
        radius = unit / 1080 * rng.uniform(0.6, 2.5)
        stretch = rng.uniform(1.0, 1.8)
        reach = int(radius * stretch * 3) + 2
        x0, x1 = max(0, int(cx) - reach), min(width, int(cx) + reach + 1)
        y0, y1 = max(0, int(cy) - reach), min(height, int(cy) + reach + 1)
        y, x = (a.astype(np.float32) for a in np.ogrid[y0:y1, x0:x1])
        blob = np.exp(-(((x - cx) / stretch) ** 2 + (y - cy) ** 2) / (2 * radius**2))
        canvas[y0:y1, x0:x1] *= (1 - rng.uniform(0.2, 0.7) * blob)[..., None]
        edge = radius * stretch * 2
        boxes.append((int(cx - edge), int(cy - edge), int(cx + edge) + 1, int(cy + edge) + 1))
    return boxes


def _draw_scale_bar(image: Image.Image, box: Box) -> None:
    # The microscope software's overlay: a dark rounded box, a white bar and its length.
    left, top, right, bottom = box
    h = bottom - top
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle(box, radius=h // 4, fill=(24, 24, 26))
    bar_y = top + h * 0.68
    draw.line(
        (left + h * 0.3, bar_y, right - h * 0.3, bar_y), fill=(250, 250, 250), width=max(2, h // 12)
    )
    font = ImageFont.load_default(size=max(10, round(h * 0.38)))
    draw.text(
        ((left + right) / 2, top + h * 0.32), "1mm", fill=(250, 250, 250), font=font, anchor="mm"
    )
