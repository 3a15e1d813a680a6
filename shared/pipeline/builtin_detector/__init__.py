"""The built-in seed detector: seeds on a plain background, by classical image processing.

`detect_seeds` (detect.py) runs the steps in order: the background and each pixel's
strength against it (background.py), the seeds' mask (mask.py), the microscope's overlays
left out (overlays.py), touching seeds cut at the necks of their distance map
(watershed.py), seeds over each other's edge parted (overlaps.py, by notches.py and
colours.py), and each seed's box and score (scoring.py). numpy and scipy load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.pipeline.builtin_detector.detect import LABEL, detect_seeds

__all__ = ["LABEL", "detect_seeds"]


def __getattr__(name: str) -> Any:
    # The app imports its pipelines at start; numpy and scipy wait for the first picture.
    if name in __all__:
        from shared.pipeline.builtin_detector import detect

        return getattr(detect, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
