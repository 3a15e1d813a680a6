"""What models answer, as typed values shared by every adapter and the post-processing."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Guess:
    """One label a model gives a box, with its score in 0..1."""

    label: str
    score: float


@dataclass(frozen=True)
class FractionBox:
    """A box as fractions 0..1 of the upright image's width and height."""

    top_x: float
    top_y: float
    bottom_x: float
    bottom_y: float


@dataclass(frozen=True)
class Detection:
    """A box found in the picture and its guesses, best first (never empty)."""

    box: FractionBox
    guesses: tuple[Guess, ...]
