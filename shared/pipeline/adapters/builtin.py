"""In-process models: the built-in seed detector, and the fixed-box test model."""

from __future__ import annotations

from typing import TYPE_CHECKING

from shared.pipeline.types import Detection, FractionBox, Guess, ModelSpec

if TYPE_CHECKING:
    from shared.images import DecodedImage


def detect(model: ModelSpec, picture: DecodedImage, detections: list[Detection]) -> list[Detection]:
    """The seeds on a plain background, each labelled `seed` (MODELS.md)."""
    from shared.pipeline.builtin_detector import detect_seeds

    return detect_seeds(picture.image)


def fixed_box(model: ModelSpec, picture: DecodedImage, detections: list[Detection]) -> list[Detection]:
    """One fixed box labelled Ambrosia artemisiifolia with score 1.0, for wiring checks."""
    return [Detection(FractionBox(0.25, 0.25, 0.75, 0.75), (Guess("Ambrosia artemisiifolia", 1.0),))]
