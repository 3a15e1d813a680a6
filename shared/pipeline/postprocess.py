"""Post-processing of MODELS.md: pixel boxes, overlap, colours and counts, as pure functions."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from shared.pipeline.types import Detection, FractionBox, Guess

COLOR_FORMATS = ("hex", "rgb")
# Two boxes overlap when they share this fraction of each one's area, unless /inf names another.
DEFAULT_AREA_RATIO = 0.5

# 9 strong colours, then 9 light ones; label n (0-based) takes PALETTE[n % 18], darkened
# by _SHADE_STEP once for every full turn of the palette.
PALETTE = (
    (0xED, 0x1C, 0x24), (0x22, 0xB1, 0x4C), (0x3F, 0x48, 0xCC), (0xFF, 0x7F, 0x27),
    (0xA3, 0x49, 0xA4), (0x00, 0xA2, 0xE8), (0xFF, 0xF2, 0x00), (0x88, 0x00, 0x15),
    (0xB9, 0x7A, 0x57),
    (0xFF, 0xAE, 0xC9), (0xB5, 0xE6, 0x1D), (0x70, 0x92, 0xBE), (0xFF, 0xC9, 0x0E),
    (0xC8, 0xBF, 0xE7), (0x99, 0xD9, 0xEA), (0xEF, 0xE4, 0xB0), (0xFF, 0xB0, 0x7F),
    (0xC3, 0xC3, 0xC3),
)
_SHADE_STEP = 0.7
_CATALOGUE_NUMBER = re.compile(r"^\s*[0-9]+\s+(?=\S)")

Color = str | list[int]


@dataclass(frozen=True)
class PixelBox:
    """A box in pixels of the upright image: left, top, right, bottom edges."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def area(self) -> int:
        return (self.right - self.left) * (self.bottom - self.top)

    def as_json(self) -> dict[str, int]:
        """The box as API.md writes it."""
        return {"topX": self.left, "topY": self.top, "bottomX": self.right, "bottomY": self.bottom}


@dataclass(frozen=True)
class Box:
    """A detection after post-processing (colours are left to the rendering)."""

    pixels: PixelBox
    guesses: tuple[Guess, ...]  # best first, labels without catalogue numbers
    overlapping: bool
    overlapping_indices: tuple[int, ...]  # 1-based positions of the boxes it overlaps

    @property
    def top(self) -> Guess:
        return self.guesses[0]


def strip_catalogue_number(label: str) -> str:
    """`label` without a leading all-digit token ("012 Ambrosia x" -> "Ambrosia x")."""
    return _CATALOGUE_NUMBER.sub("", label).strip()


def species_key(label: str) -> str:
    """What two labels share when they name one species: the label without its catalogue
    number, in any case ("012 Ambrosia trifida" and "ambrosia trifida")."""
    return strip_catalogue_number(label).casefold()


def to_pixels(box: FractionBox, width: int, height: int) -> PixelBox:
    """`box` in whole pixels of a `width` x `height` image, clamped inside it."""
    p = clamp_pixels(box.top_x * width, box.top_y * height, box.bottom_x * width, box.bottom_y * height,
                     width, height)
    left, right = sorted((p.left, p.right))
    top, bottom = sorted((p.top, p.bottom))
    return PixelBox(left, top, right, bottom)


def clamp_pixels(left: float, top: float, right: float, bottom: float, width: int, height: int) -> PixelBox:
    """A box given by its edges in pixels, in whole pixels (halves round up) clamped inside
    a `width` x `height` image; the edges keep their order, so the box may be empty."""

    def edge(value: float, size: int) -> int:
        if value != value:  # NaN: the safest reading is the image's edge
            value = 0.0
        return math.floor(min(float(size), max(0.0, value)) + 0.5)

    return PixelBox(edge(left, width), edge(top, height), edge(right, width), edge(bottom, height))


def overlap_indices(boxes: Sequence[PixelBox], area_ratio: float) -> list[tuple[int, ...]]:
    """For each box, the 1-based positions of the boxes it overlaps: their intersection
    covers at least `area_ratio` of the area of each of the two."""
    found: list[list[int]] = [[] for _ in boxes]
    for i, a in enumerate(boxes):
        for j in range(i + 1, len(boxes)):
            b = boxes[j]
            width = min(a.right, b.right) - max(a.left, b.left)
            height = min(a.bottom, b.bottom) - max(a.top, b.top)
            if width <= 0 or height <= 0:
                continue
            shared = width * height
            if shared >= area_ratio * a.area and shared >= area_ratio * b.area:
                found[i].append(j + 1)
                found[j].append(i + 1)
    return [tuple(f) for f in found]


def overlapping_flags(indices: Sequence[Sequence[int]], scores: Sequence[float]) -> list[bool]:
    """Which boxes are marked overlapping: of two overlapping boxes, the one with the lower
    score, or on a tie the later one. `indices` are 1-based, as overlap_indices gives."""
    return [
        any(scores[j - 1] > scores[i] or (scores[j - 1] == scores[i] and j - 1 < i) for j in others)
        for i, others in enumerate(indices)
    ]


def label_colors(labels: Sequence[str], color_format: str) -> list[Color]:
    """The colour of each label, one per distinct label in order of first appearance, in
    `color_format` (of COLOR_FORMATS). Raises ValueError for another format."""
    if color_format not in COLOR_FORMATS:
        raise ValueError(f"no colour format {color_format!r}")
    order: dict[str, int] = {}
    for label in labels:
        order.setdefault(label, len(order))
    return [_color(order[label], color_format) for label in labels]


def _color(n: int, color_format: str) -> Color:
    turn, index = divmod(n, len(PALETTE))
    rgb = [round(channel * _SHADE_STEP**turn) for channel in PALETTE[index]]
    if color_format == "rgb":
        return rgb
    return "#{:02X}{:02X}{:02X}".format(*rgb)


def label_occurrence(labels: Sequence[str], overlapping: Sequence[bool]) -> dict[str, int]:
    """The number of boxes per label, not counting boxes marked overlapping."""
    return dict(Counter(label for label, hidden in zip(labels, overlapping, strict=True) if not hidden))


def _clean_guesses(guesses: Sequence[Guess]) -> tuple[Guess, ...]:
    def unit(score: float) -> float:
        return min(1.0, max(0.0, score)) if score == score else 0.0

    cleaned = [Guess(strip_catalogue_number(g.label), unit(g.score)) for g in guesses]
    return tuple(sorted(cleaned, key=lambda g: -g.score))


def postprocess(
    detections: Sequence[Detection], *, width: int, height: int, area_ratio: float
) -> list[Box]:
    """The boxes of `detections` in a `width` x `height` upright image, in model order:
    pixels, guesses best first with clean labels and scores in 0..1, overlap marked."""
    pixels = [to_pixels(d.box, width, height) for d in detections]
    guesses = [_clean_guesses(d.guesses) for d in detections]
    indices = overlap_indices(pixels, area_ratio)
    flags = overlapping_flags(indices, [g[0].score for g in guesses])
    return [
        Box(p, g, flag, idx) for p, g, flag, idx in zip(pixels, guesses, flags, indices, strict=True)
    ]
