"""Pictures with their boxes drawn on them, from the inference object of API.md: each box
in its colour with its label and score; boxes an analyst verified drawn solid with a
check mark, the model's own dashed. get-picture ("annotated": true) and `manage.py
classify` draw with this."""

from __future__ import annotations

from typing import Any

from shared import images


def outlines(inference: dict[str, Any]) -> list[images.Outline]:
    """The boxes of an inference object as outlines to draw."""
    return [
        images.Outline(
            edges=(box["box"]["topX"], box["box"]["topY"], box["box"]["bottomX"], box["box"]["bottomY"]),
            color=_rgb(box["color"]),
            caption=f"{box['label'] or 'unlabelled'} {box['score']:.2f}",
            verified=bool(box["is_verified"]),
        )
        for box in inference["boxes"]
    ]


def annotate(picture: images.DecodedImage, inference: dict[str, Any]) -> tuple[bytes, str]:
    """The upright picture with the inference's boxes drawn (its boxes are in that space),
    encoded as a JPEG when it was one, else as a PNG; and its content type."""
    drawn = images.draw_outlines(picture.image, outlines(inference))
    fmt = "JPEG" if picture.format in ("JPEG", "MPO") else "PNG"
    return images.encode(drawn, fmt), images.FORMATS[fmt].mime_type


def _rgb(color: str | list[int]) -> tuple[int, int, int]:
    """A colour as the inference object gives it: "#RRGGBB" or [r, g, b]."""
    if isinstance(color, str):
        return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)
    red, green, blue = color
    return red, green, blue
