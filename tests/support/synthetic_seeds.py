"""Synthetic seed pictures with known truth boxes, for the built-in detector.

Stereo-microscope scenes of every kind the detector must handle (seeds apart, touching and
resting on each other, cut by the frame's edge, under scale-bar and magnification overlays,
on bright, dark and coloured backgrounds, through PNG, JPEG and TIFF at camera sizes up to
2592x1944 and 2688x1512), and pictures that hold no seed at all (documents, gradients,
textures, plain frames). Everything is drawn by code from a random seed and a `Style`, the
ranges a set of pictures is drawn from: `TUNING` is what the detector was tuned on, `FRESH` a
set made with other shapes, colours, fonts, placements and noise (looked at while fixing its
failures), and `HOLDOUT` a third set with other ranges again, kept unseen until the detector's
work was done, to judge it on pictures it never saw, and thirteen more (`UNSEEN` to
`SCREENED`), each made the same way one round later than the one before.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

from shared import images

Box = tuple[int, int, int, int]
"""A box in pixels: left, top, right, bottom (right and bottom exclusive)."""
RGB = tuple[float, float, float]

# A copy of the specification's real sample (../shared/samples/), kept in the repo so the tests
# need nothing outside it.
SAMPLE_PATH = Path(__file__).resolve().parent.parent / "data" / "samples" / "one-seed-white-background.png"
SAMPLE_SEED_BOX: Box = (143, 55, 456, 466)
"""Where the sample's one seed is, give or take a few pixels."""

# Mean RGB of each kind of seed; each seed varies around it.
SEED_COLOURS: dict[str, RGB] = {
    "dark-brown": (92.0, 60.0, 36.0),
    "black": (38.0, 34.0, 32.0),
    "tan": (188.0, 150.0, 102.0),
    "cream": (226.0, 214.0, 172.0),
    "reddish": (152.0, 64.0, 42.0),
}

CASES = ("plain", "touching", "border", "overlay", "dark", "coloured", "no-seed")
"""What each picture is mainly about; the benchmark scores each case on its own."""

OVERLAY_STYLES = ("bar", "badge-dark", "badge-light", "text")
ANCHORS = ("top-left", "top", "top-right", "left", "right", "bottom-left", "bottom", "bottom-right")
NO_SEED_KINDS = ("document", "gradient", "texture", "plain-frame")

_FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/liberation"))


@dataclass(frozen=True)
class Style:
    """The ranges one set of pictures is drawn from."""

    camera_sizes: tuple[tuple[int, int], ...]
    formats: tuple[str, ...]
    jpeg_quality: tuple[int, int]
    noise_sigma: tuple[float, float]  # camera noise, in 0..255 levels
    blur: tuple[float, float]  # defocus, Gaussian sigma in pixels of a 1080-line picture
    vignette: tuple[float, float]
    shadow: tuple[float, float]  # darkening of the background beside a seed
    seed_colours: dict[str, RGB]
    seed_length: tuple[float, float]  # of the shorter side; crowded pictures shrink it
    seed_aspect: tuple[float, float]  # width over length
    seed_wobble: float  # how irregular the outlines are (harmonics' amplitude)
    seed_texture: float  # strength of blotches on the coat
    speckled: float  # share of seeds with dark speckles
    bright_backgrounds: tuple[RGB, ...]
    dark_backgrounds: tuple[RGB, ...]
    coloured_backgrounds: tuple[RGB, ...]
    fonts: tuple[str | None, ...]  # TrueType files (None: Pillow's own font)
    bold: float  # share of overlays drawn with a stroke
    scale_labels: tuple[str, ...]
    magnification_labels: tuple[str, ...]
    text_height: tuple[float, float]  # overlay text, as a share of the shorter side
    overlay_margin: tuple[float, float]  # gap to the frame's edge, share of the shorter side
    overlay_styles: tuple[str, ...] = OVERLAY_STYLES
    n_dust: tuple[int, int] = (10, 60)
    n_fibres: tuple[int, int] = (0, 4)


TUNING = Style(
    camera_sizes=((640, 480), (1280, 720), (1280, 1024), (1600, 1200), (1920, 1080), (2048, 1536),
                  (2592, 1944)),
    formats=("PNG", "JPEG", "TIFF"),
    jpeg_quality=(70, 95),
    noise_sigma=(1.0, 4.0),
    blur=(0.0, 1.2),
    vignette=(0.0, 0.3),
    shadow=(0.0, 0.16),
    seed_colours=SEED_COLOURS,
    seed_length=(0.05, 0.3),
    seed_aspect=(0.45, 0.95),
    seed_wobble=0.04,
    seed_texture=0.08,
    speckled=0.0,
    bright_backgrounds=((236, 237, 234), (246, 244, 238), (222, 226, 230), (250, 250, 250)),
    dark_backgrounds=((18, 18, 20), (42, 42, 46), (20, 28, 58), (36, 24, 20)),
    coloured_backgrounds=((70, 110, 190), (90, 160, 90), (220, 160, 170), (230, 210, 120),
                          (128, 128, 128)),
    fonts=(None,),
    bold=0.3,
    scale_labels=("1mm", "1 mm", "500 µm", "0.5 mm", "2 mm", "200um"),
    magnification_labels=("40x", "10X", "x20", "Mag 40x", "4.0x"),
    text_height=(0.022, 0.05),
    overlay_margin=(0.0, 0.03),
)

FRESH = Style(
    camera_sizes=((800, 600), (1024, 768), (1360, 1024), (1440, 1080), (1920, 1200), (2560, 1440),
                  (2592, 1944)),
    formats=("JPEG", "PNG", "TIFF"),
    jpeg_quality=(55, 90),
    noise_sigma=(2.0, 6.0),
    blur=(0.3, 2.0),
    vignette=(0.1, 0.4),
    shadow=(0.05, 0.2),
    seed_colours={
        "olive": (112.0, 108.0, 58.0), "slate": (96.0, 96.0, 100.0), "yellow": (212.0, 178.0, 62.0),
        "mahogany": (108.0, 40.0, 30.0), "pale-green": (178.0, 188.0, 136.0),
        "chestnut": (140.0, 90.0, 50.0), "ivory": (236.0, 228.0, 200.0),
    },
    seed_length=(0.04, 0.34),
    seed_aspect=(0.28, 0.9),
    seed_wobble=0.06,
    seed_texture=0.12,
    speckled=0.4,
    bright_backgrounds=((240, 240, 240), (232, 236, 228), (244, 238, 226), (226, 230, 238)),
    dark_backgrounds=((10, 10, 10), (22, 46, 26), (50, 40, 34), (16, 20, 40), (34, 34, 34)),
    coloured_backgrounds=((60, 150, 150), (232, 150, 70), (130, 100, 170), (160, 200, 230),
                          (190, 64, 60), (150, 170, 70)),
    fonts=("DejaVuSans-Bold.ttf", "LiberationSerif-Regular.ttf", "DejaVuSansMono.ttf",
           "LiberationSans-Regular.ttf", None),
    bold=0.5,
    scale_labels=("100 µm", "1.0 mm", "250µm", "5 mm", "|-- 1 mm --|", "0.1mm"),
    magnification_labels=("Zoom 2.5x", "8X", "x 63", "Obj. 4x", "M=30x", "2024-05-14 10:32"),
    text_height=(0.018, 0.06),
    overlay_margin=(0.0, 0.05),
)


HOLDOUT = Style(
    camera_sizes=((720, 540), (1280, 960), (1600, 900), (1920, 1080), (2048, 1152), (2304, 1728),
                  (2592, 1944)),
    formats=("PNG", "JPEG", "TIFF"),
    jpeg_quality=(60, 92),
    noise_sigma=(1.5, 5.0),
    blur=(0.1, 1.6),
    vignette=(0.05, 0.35),
    shadow=(0.02, 0.18),
    seed_colours={
        "walnut": (84.0, 56.0, 40.0), "charcoal": (52.0, 50.0, 54.0), "straw": (204.0, 186.0, 120.0),
        "brick": (160.0, 78.0, 52.0), "sage": (140.0, 152.0, 110.0), "buff": (216.0, 196.0, 150.0),
    },
    seed_length=(0.045, 0.32),
    seed_aspect=(0.32, 0.92),
    seed_wobble=0.05,
    seed_texture=0.1,
    speckled=0.25,
    bright_backgrounds=((238, 238, 236), (248, 246, 240), (230, 234, 236), (242, 240, 232)),
    dark_backgrounds=((14, 14, 16), (30, 38, 30), (44, 34, 30), (24, 26, 48), (28, 28, 28)),
    coloured_backgrounds=((80, 130, 170), (210, 130, 90), (110, 150, 110), (180, 160, 210),
                          (200, 190, 90), (120, 120, 124)),
    fonts=("DejaVuSerif.ttf", "LiberationSansNarrow-Bold.ttf", "LiberationMono-Regular.ttf",
           "DejaVuSansCondensed.ttf", None),
    bold=0.4,
    scale_labels=("200 µm", "2.0 mm", "50µm", "1 mm", "0.25 mm", "10 mm"),
    magnification_labels=("6.3x", "Zoom 1.6X", "x12", "Obj 10x", "M 25x", "12/03/2025 14:07"),
    text_height=(0.02, 0.055),
    overlay_margin=(0.0, 0.04),
)


# Written at the end of the round that followed the hold-out set's run, once the detector's
# work of that round had landed; seen by nobody working on the detector.
UNSEEN = Style(
    camera_sizes=((1024, 1024), (1280, 800), (1440, 1080), (1800, 1200), (2000, 1500), (2560, 1600),
                  (2592, 1728)),
    formats=("JPEG", "TIFF", "PNG"),
    jpeg_quality=(65, 94),
    noise_sigma=(1.2, 5.5),
    blur=(0.2, 1.8),
    vignette=(0.0, 0.38),
    shadow=(0.03, 0.17),
    seed_colours={
        "umber": (110.0, 74.0, 46.0), "ash": (74.0, 72.0, 70.0), "honey": (196.0, 152.0, 80.0),
        "rust": (140.0, 66.0, 38.0), "moss": (104.0, 118.0, 70.0), "bone": (226.0, 218.0, 190.0),
        "plum": (92.0, 52.0, 64.0),
    },
    seed_length=(0.05, 0.3),
    seed_aspect=(0.3, 0.93),
    seed_wobble=0.055,
    seed_texture=0.11,
    speckled=0.3,
    bright_backgrounds=((244, 244, 242), (234, 236, 240), (250, 246, 236), (228, 232, 226)),
    dark_backgrounds=((12, 12, 14), (26, 32, 44), (40, 30, 26), (20, 36, 24), (36, 36, 38)),
    coloured_backgrounds=((70, 140, 200), (200, 120, 60), (100, 170, 130), (170, 140, 200),
                          (210, 200, 110), (140, 140, 140)),
    fonts=("DejaVuSans.ttf", "LiberationSerif-Bold.ttf", "DejaVuSansMono-Bold.ttf",
           "LiberationSansNarrow-Regular.ttf", "DejaVuSerifCondensed.ttf", None),
    bold=0.35,
    scale_labels=("500 µm", "1.5 mm", "100um", "3 mm", "0.2 mm", "20 mm"),
    magnification_labels=("5x", "Zoom 3.2X", "x16", "Obj. 20x", "M 40x", "2025-11-02 09:41"),
    text_height=(0.019, 0.052),
    overlay_margin=(0.0, 0.045),
)

# Written at the end of the round after UNSEEN's run, once that round's work on the detector
# had landed; seen by nobody working on the detector.
BLIND = Style(
    camera_sizes=((960, 720), (1152, 864), (1366, 768), (1536, 1024), (1920, 1440), (2272, 1704),
                  (2592, 1944)),
    formats=("TIFF", "PNG", "JPEG"),
    jpeg_quality=(62, 93),
    noise_sigma=(1.4, 5.2),
    blur=(0.15, 1.7),
    vignette=(0.02, 0.36),
    shadow=(0.04, 0.19),
    seed_colours={
        "cocoa": (98.0, 64.0, 44.0), "graphite": (62.0, 62.0, 66.0), "wheat": (214.0, 184.0, 112.0),
        "terracotta": (168.0, 88.0, 58.0), "fern": (118.0, 134.0, 82.0), "linen": (232.0, 224.0, 198.0),
        "wine": (104.0, 44.0, 56.0),
    },
    seed_length=(0.048, 0.31),
    seed_aspect=(0.3, 0.94),
    seed_wobble=0.052,
    seed_texture=0.105,
    speckled=0.35,
    bright_backgrounds=((240, 242, 244), (248, 244, 234), (232, 232, 228), (236, 240, 234)),
    dark_backgrounds=((16, 16, 18), (32, 28, 40), (46, 36, 28), (18, 30, 34), (30, 30, 30)),
    coloured_backgrounds=((90, 120, 180), (190, 110, 80), (90, 160, 120), (190, 150, 190),
                          (220, 190, 100), (130, 134, 130)),
    fonts=("DejaVuSans-Oblique.ttf", "LiberationMono-Bold.ttf", "DejaVuSerif-Bold.ttf",
           "LiberationSans-Italic.ttf", "DejaVuSansCondensed-Bold.ttf", None),
    bold=0.45,
    scale_labels=("300 µm", "2.5 mm", "150um", "4 mm", "0.3 mm", "50 µm"),
    magnification_labels=("7.5x", "Zoom 4.5X", "x25", "Obj. 5x", "M 12x", "2026-03-18 16:05"),
    text_height=(0.02, 0.054),
    overlay_margin=(0.0, 0.042),
)

# Written at the end of the round after BLIND's run, once that round's work on the detector
# had landed; seen by nobody working on the detector.
SEALED = Style(
    camera_sizes=((1000, 750), (1200, 900), (1296, 972), (1680, 1050), (2048, 1365), (2400, 1800),
                  (2592, 1944)),
    formats=("PNG", "JPEG", "TIFF"),
    jpeg_quality=(60, 92),
    noise_sigma=(1.3, 5.4),
    blur=(0.1, 1.75),
    vignette=(0.03, 0.37),
    shadow=(0.03, 0.18),
    seed_colours={
        "hazel": (124.0, 84.0, 50.0), "pewter": (86.0, 88.0, 92.0), "sand": (206.0, 176.0, 118.0),
        "copper": (150.0, 74.0, 44.0), "lichen": (128.0, 140.0, 96.0), "cream": (228.0, 220.0, 192.0),
        "aubergine": (86.0, 46.0, 66.0),
    },
    seed_length=(0.046, 0.31),
    seed_aspect=(0.31, 0.93),
    seed_wobble=0.054,
    seed_texture=0.1,
    speckled=0.32,
    bright_backgrounds=((242, 242, 240), (236, 238, 242), (246, 242, 232), (230, 234, 230)),
    dark_backgrounds=((14, 16, 16), (28, 30, 44), (42, 34, 30), (22, 34, 28), (32, 32, 34)),
    coloured_backgrounds=((80, 130, 190), (200, 130, 70), (100, 160, 120), (180, 150, 200),
                          (214, 196, 104), (136, 136, 138)),
    fonts=("DejaVuSans-BoldOblique.ttf", "LiberationSerif-Italic.ttf", "DejaVuSansMono-Oblique.ttf",
           "LiberationSans-Bold.ttf", "DejaVuSerif-Italic.ttf", None),
    bold=0.4,
    scale_labels=("400 µm", "1.2 mm", "80um", "6 mm", "0.4 mm", "25 µm"),
    magnification_labels=("3x", "Zoom 2X", "x32", "Obj. 8x", "M 18x", "2026-09-27 11:52"),
    text_height=(0.02, 0.053),
    overlay_margin=(0.0, 0.043),
)


# Written at the end of the round after SEALED's run, while that round's work on the detector
# went on; seen by nobody working on the detector.
LOCKED = Style(
    camera_sizes=((960, 720), (1152, 864), (1366, 768), (1600, 900), (1920, 1440), (2304, 1728),
                  (2592, 1944)),
    formats=("JPEG", "TIFF", "PNG"),
    jpeg_quality=(58, 94),
    noise_sigma=(1.1, 5.0),
    blur=(0.05, 1.6),
    vignette=(0.02, 0.34),
    shadow=(0.02, 0.17),
    seed_colours={
        "walnut": (110, 72, 46), "slate": (96, 100, 108), "straw": (214, 190, 128),
        "rust": (160, 82, 50), "moss": (110, 126, 80), "ivory": (232, 226, 204),
        "plum": (96, 54, 74), "chestnut": (132, 66, 40),
    },
    seed_length=(0.048, 0.3),
    seed_aspect=(0.33, 0.94),
    seed_wobble=0.05,
    seed_texture=0.095,
    speckled=0.28,
    bright_backgrounds=((240, 240, 236), (232, 236, 240), (248, 244, 236), (226, 230, 226)),
    dark_backgrounds=((16, 16, 18), (30, 28, 40), (40, 32, 28), (20, 32, 30), (36, 36, 38)),
    coloured_backgrounds=((74, 120, 184), (196, 136, 80), (96, 156, 112), (176, 144, 196),
                          (208, 192, 110), (132, 132, 134)),
    fonts=("DejaVuSansCondensed-Bold.ttf", "LiberationSansNarrow-Regular.ttf",
           "DejaVuSerifCondensed-Italic.ttf", "LiberationMono-Bold.ttf", "DejaVuSans.ttf", None),
    bold=0.35,
    scale_labels=("300 µm", "1.5 mm", "150um", "4 mm", "0.25 mm", "50 µm"),
    magnification_labels=("6x", "Zoom 4X", "x16", "Obj. 12x", "M 25x", "2026-11-03 09:14"),
    text_height=(0.021, 0.052),
    overlay_margin=(0.0, 0.041),
)


# Written at the end of the round after LOCKED's run, while that round's work on the detector
# went on; seen by nobody working on the detector.
VAULT = Style(
    camera_sizes=((1024, 768), (1280, 1024), (1440, 900), (1728, 1296), (1920, 1200), (2448, 1836),
                  (2592, 1944)),
    formats=("TIFF", "JPEG", "PNG"),
    jpeg_quality=(60, 93),
    noise_sigma=(1.3, 5.3),
    blur=(0.1, 1.7),
    vignette=(0.03, 0.36),
    shadow=(0.03, 0.18),
    seed_colours={
        "sepia": (118, 80, 52), "gunmetal": (80, 84, 92), "oat": (210, 186, 136),
        "cinnamon": (166, 96, 54), "olive": (116, 122, 74), "pearl": (230, 222, 206),
        "mulberry": (100, 50, 70), "mahogany": (124, 58, 42),
    },
    seed_length=(0.047, 0.31),
    seed_aspect=(0.32, 0.93),
    seed_wobble=0.053,
    seed_texture=0.1,
    speckled=0.3,
    bright_backgrounds=((242, 240, 238), (234, 238, 242), (246, 242, 234), (228, 232, 228)),
    dark_backgrounds=((14, 14, 16), (28, 30, 42), (42, 34, 30), (22, 34, 32), (34, 34, 36)),
    coloured_backgrounds=((78, 124, 188), (200, 132, 76), (98, 160, 118), (180, 146, 200),
                          (212, 196, 106), (134, 134, 136)),
    fonts=("LiberationSans-BoldItalic.ttf", "DejaVuSansCondensed-Oblique.ttf",
           "LiberationSerif-BoldItalic.ttf", "DejaVuSansMono-BoldOblique.ttf",
           "LiberationSansNarrow-Italic.ttf", None),
    bold=0.4,
    scale_labels=("250 µm", "1.25 mm", "120um", "3 mm", "0.5 mm", "40 µm"),
    magnification_labels=("4.5x", "Zoom 2.5X", "x20", "Obj. 6x", "M 30x", "2026-12-01 15:27"),
    text_height=(0.02, 0.053),
    overlay_margin=(0.0, 0.042),
)


# Written during the round after VAULT's run, while that round's work on the detector went on;
# seen by nobody working on the detector.
HIDDEN = Style(
    camera_sizes=((800, 600), (1296, 972), (1400, 1050), (1680, 1050), (2016, 1512), (2400, 1350),
                  (2592, 1944)),
    formats=("PNG", "TIFF", "JPEG"),
    jpeg_quality=(57, 92),
    noise_sigma=(1.2, 5.1),
    blur=(0.05, 1.65),
    vignette=(0.02, 0.35),
    shadow=(0.02, 0.175),
    seed_colours={
        "umber": (112, 76, 50), "pewter": (88, 92, 98), "wheat": (216, 192, 140),
        "copper": (170, 90, 56), "sage": (120, 130, 90), "bone": (226, 220, 200),
        "aubergine": (92, 52, 76), "auburn": (128, 62, 38),
    },
    seed_length=(0.049, 0.305),
    seed_aspect=(0.34, 0.92),
    seed_wobble=0.051,
    seed_texture=0.098,
    speckled=0.27,
    bright_backgrounds=((238, 238, 240), (244, 240, 232), (230, 236, 238), (236, 232, 226)),
    dark_backgrounds=((12, 14, 14), (26, 26, 36), (44, 36, 28), (18, 30, 26), (38, 38, 40)),
    coloured_backgrounds=((72, 116, 180), (204, 140, 84), (92, 152, 110), (172, 140, 192),
                          (216, 200, 112), (128, 130, 132)),
    fonts=("DejaVuSerif-Bold.ttf", "LiberationSansNarrow-BoldItalic.ttf", "DejaVuSansMono-Oblique.ttf",
           "LiberationMono-Italic.ttf", "DejaVuSans-BoldOblique.ttf", None),
    bold=0.38,
    scale_labels=("400 µm", "0.75 mm", "80um", "2.5 mm", "1.0 mm", "60 µm"),
    magnification_labels=("3x", "Zoom 8X", "x12", "Obj. 5x", "M 18x", "2026-12-07 10:02"),
    text_height=(0.021, 0.051),
    overlay_margin=(0.0, 0.04),
)


# Written during the round after HIDDEN's run, while that round's work on the detector went on;
# seen by nobody working on the detector.
VEILED = Style(
    camera_sizes=((864, 648), (1200, 800), (1344, 1008), (1600, 1000), (1944, 1296), (2304, 1296),
                  (2560, 1920)),
    formats=("JPEG", "PNG", "TIFF"),
    jpeg_quality=(60, 94),
    noise_sigma=(0.9, 4.8),
    blur=(0.1, 1.55),
    vignette=(0.03, 0.33),
    shadow=(0.015, 0.17),
    seed_colours={
        "fawn": (196, 160, 112), "slate": (94, 100, 108), "rust": (150, 74, 42),
        "olive": (128, 122, 70), "ivory": (230, 222, 196), "mahogany": (104, 48, 36),
        "plum": (104, 60, 90), "tawny": (178, 120, 62),
    },
    seed_length=(0.047, 0.31),
    seed_aspect=(0.33, 0.93),
    seed_wobble=0.049,
    seed_texture=0.094,
    speckled=0.29,
    bright_backgrounds=((242, 242, 238), (236, 238, 244), (246, 242, 236), (232, 234, 230)),
    dark_backgrounds=((14, 12, 16), (22, 30, 34), (40, 34, 30), (30, 22, 28), (34, 36, 34)),
    coloured_backgrounds=((84, 108, 172), (196, 132, 96), (104, 160, 120), (160, 132, 184),
                          (208, 196, 120), (120, 124, 128)),
    fonts=("DejaVuSerif-BoldItalic.ttf", "DejaVuSansCondensed-BoldOblique.ttf",
           "LiberationMono-BoldItalic.ttf", "DejaVuSerifCondensed-Bold.ttf", "LiberationSans-Regular.ttf",
           None),
    bold=0.36,
    scale_labels=("300 µm", "1.25 mm", "150um", "3 mm", "0.2 mm", "750 µm"),
    magnification_labels=("6x", "Zoom 9X", "x15", "Obj. 2.5x", "M 14x", "2026-12-07 11:20"),
    text_height=(0.02, 0.05),
    overlay_margin=(0.0, 0.04),
)


# Written during the round after VEILED's run, while that round's work on the detector went on;
# seen by nobody working on the detector.
SHROUDED = Style(
    camera_sizes=((720, 540), (1152, 864), (1280, 960), (1536, 864), (1800, 1200), (2048, 1152),
                  (2592, 1728)),
    formats=("TIFF", "JPEG", "PNG"),
    jpeg_quality=(58, 93),
    noise_sigma=(1.1, 4.9),
    blur=(0.05, 1.6),
    vignette=(0.01, 0.34),
    shadow=(0.02, 0.165),
    seed_colours={
        "buff": (206, 174, 124), "graphite": (82, 86, 92), "terracotta": (164, 86, 58),
        "khaki": (140, 132, 84), "cream": (232, 226, 204), "chestnut": (116, 58, 40),
        "mulberry": (98, 56, 84), "ochre": (186, 134, 58),
    },
    seed_length=(0.048, 0.308),
    seed_aspect=(0.32, 0.94),
    seed_wobble=0.05,
    seed_texture=0.096,
    speckled=0.31,
    bright_backgrounds=((240, 240, 236), (234, 238, 242), (248, 244, 238), (228, 232, 228)),
    dark_backgrounds=((16, 14, 12), (24, 28, 38), (38, 32, 26), (28, 20, 30), (32, 38, 36)),
    coloured_backgrounds=((78, 112, 176), (200, 136, 92), (98, 156, 116), (166, 136, 188),
                          (212, 198, 116), (124, 126, 130)),
    fonts=("DejaVuSans-ExtraLight.ttf", "DejaVuSerifCondensed-BoldItalic.ttf", "LiberationSerif-Italic.ttf",
           "DejaVuSansMono.ttf", "LiberationSansNarrow-Bold.ttf", None),
    bold=0.34,
    scale_labels=("250 µm", "1.5 mm", "120um", "4 mm", "0.3 mm", "900 µm"),
    magnification_labels=("7x", "Zoom 11X", "x16", "Obj. 4x", "M 12x", "2026-12-07 13:50"),
    text_height=(0.021, 0.052),
    overlay_margin=(0.0, 0.041),
)


# Written during the round after SHROUDED's run, while that round's work on the detector went on;
# seen by nobody working on the detector.
CLOAKED = Style(
    camera_sizes=((960, 720), (1248, 936), (1440, 960), (1680, 945), (1920, 1280), (2240, 1260),
                  (2448, 2048)),
    formats=("JPEG", "TIFF", "PNG"),
    jpeg_quality=(56, 91),
    noise_sigma=(1.0, 5.0),
    blur=(0.08, 1.62),
    vignette=(0.02, 0.36),
    shadow=(0.025, 0.17),
    seed_colours={
        "sand": (200, 178, 132), "charcoal": (78, 80, 86), "brick": (158, 78, 52),
        "moss": (112, 124, 74), "linen": (228, 222, 206), "walnut": (110, 66, 42),
        "damson": (94, 58, 88), "amber": (190, 128, 50),
    },
    seed_length=(0.046, 0.306),
    seed_aspect=(0.33, 0.93),
    seed_wobble=0.052,
    seed_texture=0.095,
    speckled=0.3,
    bright_backgrounds=((238, 240, 236), (232, 236, 240), (246, 242, 234), (230, 230, 226)),
    dark_backgrounds=((14, 16, 14), (26, 26, 40), (40, 34, 28), (24, 18, 26), (30, 36, 34)),
    coloured_backgrounds=((80, 116, 168), (196, 140, 96), (100, 150, 112), (164, 130, 180),
                          (214, 192, 120), (126, 128, 126)),
    fonts=("DejaVuMathTeXGyre.ttf", "LiberationSerif-BoldItalic.ttf", "DejaVuSerif-Italic.ttf",
           "LiberationMono-Regular.ttf", "DejaVuSansCondensed-Oblique.ttf", None),
    bold=0.35,
    scale_labels=("350 µm", "1.75 mm", "90um", "5 mm", "0.4 mm", "600 µm"),
    magnification_labels=("9x", "Zoom 7X", "x18", "Obj. 6x", "M 16x", "2026-12-07 16:40"),
    text_height=(0.02, 0.051),
    overlay_margin=(0.0, 0.039),
)


# Written during the round after CLOAKED's run, while that round's work on the detector went on;
# seen by nobody working on the detector.
COVERT = Style(
    camera_sizes=((800, 600), (1024, 768), (1366, 768), (1600, 900), (2000, 1500), (2400, 1350),
                  (2592, 1944)),
    formats=("PNG", "JPEG", "TIFF"),
    jpeg_quality=(57, 92),
    noise_sigma=(0.95, 5.1),
    blur=(0.06, 1.58),
    vignette=(0.015, 0.35),
    shadow=(0.02, 0.168),
    seed_colours={
        "straw": (210, 184, 128), "ash": (88, 90, 94), "cinnamon": (170, 96, 56),
        "sage": (124, 130, 86), "bone": (226, 218, 198), "umber": (100, 62, 40),
        "aubergine": (88, 52, 80), "honey": (196, 140, 60),
    },
    seed_length=(0.047, 0.307),
    seed_aspect=(0.32, 0.93),
    seed_wobble=0.051,
    seed_texture=0.097,
    speckled=0.32,
    bright_backgrounds=((240, 238, 234), (230, 234, 238), (248, 246, 240), (226, 230, 226)),
    dark_backgrounds=((12, 14, 16), (28, 24, 36), (36, 32, 24), (22, 20, 24), (28, 34, 38)),
    coloured_backgrounds=((86, 112, 164), (192, 136, 100), (96, 152, 116), (158, 126, 176),
                          (210, 196, 124), (122, 124, 128)),
    fonts=("LiberationSansNarrow-Italic.ttf", "DejaVuSerifCondensed-Italic.ttf", "LiberationMono-Italic.ttf",
           "DejaVuSansMono-BoldOblique.ttf", "LiberationSans-Bold.ttf", None),
    bold=0.33,
    scale_labels=("0.75 mm", "2.5 mm", "80 µm", "10 mm", "450 µm", "60um"),
    magnification_labels=("12.5x", "Zoom 5X", "x25", "Obj. 8x", "M 20x", "2026-12-07 19:05"),
    text_height=(0.021, 0.05),
    overlay_margin=(0.0, 0.04),
)


# Written during the round after COVERT's run, while that round's work on the detector went on;
# seen by nobody working on the detector.
MASKED = Style(
    camera_sizes=((720, 540), (1152, 864), (1280, 800), (1680, 1050), (1920, 1200), (2304, 1296),
                  (2560, 1920)),
    formats=("JPEG", "PNG", "TIFF"),
    jpeg_quality=(55, 93),
    noise_sigma=(0.9, 5.2),
    blur=(0.05, 1.6),
    vignette=(0.01, 0.37),
    shadow=(0.02, 0.172),
    seed_colours={
        "wheat": (214, 190, 136), "slate": (84, 88, 96), "rust": (164, 88, 50),
        "fern": (118, 128, 80), "ivory": (230, 224, 204), "cocoa": (104, 66, 44),
        "plum": (92, 54, 84), "mustard": (192, 150, 56),
    },
    seed_length=(0.045, 0.308),
    seed_aspect=(0.31, 0.94),
    seed_wobble=0.053,
    seed_texture=0.099,
    speckled=0.31,
    bright_backgrounds=((236, 238, 240), (242, 240, 232), (228, 232, 230), (246, 244, 244)),
    dark_backgrounds=((16, 14, 12), (24, 26, 34), (38, 30, 26), (20, 22, 22), (32, 30, 40)),
    coloured_backgrounds=((90, 120, 160), (198, 144, 92), (104, 146, 108), (160, 132, 172),
                          (206, 190, 128), (130, 126, 124)),
    fonts=("DejaVuSans-BoldOblique.ttf", "LiberationSerif-Italic.ttf", "DejaVuSansMono.ttf",
           "LiberationSansNarrow-Bold.ttf", "DejaVuSerifCondensed-Bold.ttf", None),
    bold=0.37,
    scale_labels=("1.25 mm", "400 µm", "3 mm", "70um", "0.6 mm", "20 mm"),
    magnification_labels=("15x", "Zoom 6X", "x14", "Obj. 5x", "M 25x", "2026-12-07 22:10"),
    text_height=(0.019, 0.052),
    overlay_margin=(0.0, 0.041),
)


# Written during the round after MASKED's run, while that round's work on the detector went on;
# seen by nobody working on the detector.
OBSCURED = Style(
    camera_sizes=((768, 576), (1120, 840), (1440, 900), (1600, 1200), (1920, 1080), (2048, 1536),
                  (2592, 1458)),
    formats=("TIFF", "JPEG", "PNG"),
    jpeg_quality=(56, 94),
    noise_sigma=(0.85, 5.3),
    blur=(0.05, 1.62),
    vignette=(0.012, 0.36),
    shadow=(0.018, 0.17),
    seed_colours={
        "barley": (206, 182, 124), "pewter": (92, 94, 100), "brick": (158, 84, 54),
        "moss": (112, 126, 84), "linen": (228, 220, 200), "walnut": (96, 64, 42),
        "mulberry": (96, 50, 78), "amber": (200, 146, 62),
    },
    seed_length=(0.046, 0.306),
    seed_aspect=(0.31, 0.93),
    seed_wobble=0.052,
    seed_texture=0.1,
    speckled=0.3,
    bright_backgrounds=((238, 236, 232), (232, 236, 240), (244, 242, 236), (230, 232, 228)),
    dark_backgrounds=((14, 16, 14), (26, 24, 32), (34, 30, 26), (18, 20, 26), (30, 32, 36)),
    coloured_backgrounds=((92, 116, 156), (196, 140, 96), (100, 148, 112), (154, 128, 170),
                          (204, 192, 126), (126, 124, 120)),
    fonts=("LiberationSerif-BoldItalic.ttf", "DejaVuSansCondensed-Oblique.ttf",
           "LiberationMono-Bold.ttf", "DejaVuSerif-Italic.ttf", "LiberationSans-Italic.ttf", None),
    bold=0.35,
    scale_labels=("1.5 mm", "250 µm", "4 mm", "90um", "0.8 mm", "15 mm"),
    magnification_labels=("18x", "Zoom 7X", "x16", "Obj. 6x", "M 30x", "2026-12-08 00:05"),
    text_height=(0.02, 0.051),
    overlay_margin=(0.0, 0.042),
)


# Written during the round after OBSCURED's run, while that round's work on the detector went
# on; seen by nobody working on the detector.
SCREENED = Style(
    camera_sizes=((832, 624), (1200, 900), (1536, 864), (1680, 1260), (1920, 1080), (2160, 1440),
                  (2688, 1512)),
    formats=("JPEG", "PNG", "TIFF"),
    jpeg_quality=(57, 93),
    noise_sigma=(0.9, 5.2),
    blur=(0.06, 1.6),
    vignette=(0.015, 0.35),
    shadow=(0.02, 0.168),
    seed_colours={
        "oat": (214, 196, 150), "slate": (84, 90, 98), "rust": (150, 76, 44),
        "fern": (104, 122, 74), "ivory": (232, 226, 208), "chestnut": (110, 70, 44),
        "plum": (88, 46, 70), "honey": (206, 160, 74),
    },
    seed_length=(0.047, 0.305),
    seed_aspect=(0.32, 0.93),
    seed_wobble=0.051,
    seed_texture=0.098,
    speckled=0.31,
    bright_backgrounds=((240, 238, 234), (234, 238, 242), (242, 240, 232), (228, 230, 226)),
    dark_backgrounds=((16, 14, 12), (24, 26, 34), (32, 28, 24), (20, 22, 28), (28, 30, 34)),
    coloured_backgrounds=((88, 120, 150), (200, 146, 100), (96, 144, 118), (150, 124, 166),
                          (198, 188, 120), (122, 120, 116)),
    fonts=("DejaVuSerifCondensed-Bold.ttf", "LiberationSansNarrow-BoldItalic.ttf",
           "DejaVuSansMono-Oblique.ttf", "LiberationSerif-Regular.ttf", "DejaVuSans-Oblique.ttf", None),
    bold=0.36,
    scale_labels=("2.5 mm", "300 µm", "6 mm", "120um", "0.6 mm", "12 mm"),
    magnification_labels=("22x", "Zoom 9X", "x14", "Obj. 5x", "M 35x", "2026-12-08 02:20"),
    text_height=(0.02, 0.052),
    overlay_margin=(0.0, 0.041),
)

@dataclass(frozen=True)
class Picture:
    """A synthetic picture as the app decodes it, and where everything in it is."""

    case: str
    kind: str  # what was drawn: seeds, or one of NO_SEED_KINDS
    image: Image.Image  # decoded from `data` by shared.images, as the app does
    data: bytes
    format: str  # PNG, JPEG or TIFF
    seeds: list[Box]
    overlays: list[Box]
    clutter: list[Box]  # dust and fibres


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
    colour: RGB
    speckled: bool = False

    @property
    def reach(self) -> float:
        # Radius of a circle that holds the seed's irregular outline (see `_draw_seed`).
        return self.semi_major * 1.3

    def radius_towards(self, theta: float) -> float:
        """The distance from the centre to the plain ellipse's outline in direction theta."""
        c, s = math.cos(theta - self.angle), math.sin(theta - self.angle)
        return 1 / math.hypot(c / self.semi_major, s / self.semi_minor)

    def holds(self, x: np.ndarray, y: np.ndarray, grow: float = 1.0) -> np.ndarray:
        c, s = math.cos(self.angle), math.sin(self.angle)
        u = ((x - self.cx) * c + (y - self.cy) * s) / (self.semi_major * grow)
        v = (-(x - self.cx) * s + (y - self.cy) * c) / (self.semi_minor * grow)
        return u * u + v * v < 1


@dataclass(frozen=True)
class _Overlay:
    style: str  # one of OVERLAY_STYLES
    anchor: str  # one of ANCHORS
    box: Box
    text: str
    text_px: int
    bar_px: int  # length of the scale bar, 0 for none
    font: str | None
    stroke: int  # extra width of the glyphs' strokes (bold)


@dataclass
class _Layout:
    """What a scene holds, in drawing order, before anything is painted."""

    width: int
    height: int
    background: RGB
    seeds: list[_Seed] = field(default_factory=list)
    overlays: list[_Overlay] = field(default_factory=list)


# --- the pictures of each case -------------------------------------------------------------


def make_picture(case: str, seed: int, style: Style = TUNING) -> Picture:
    """Draw one picture of `case` (see CASES), deterministic given `seed` and `style`."""
    if case not in CASES:
        raise ValueError(f"unknown case {case!r}")
    rng = np.random.default_rng([seed, CASES.index(case)])
    width, height = style.camera_sizes[int(rng.integers(len(style.camera_sizes)))]
    fmt = style.formats[int(rng.integers(len(style.formats)))]
    quality = int(rng.integers(style.jpeg_quality[0], style.jpeg_quality[1] + 1))
    if case == "no-seed":
        kind = NO_SEED_KINDS[int(rng.integers(len(NO_SEED_KINDS)))]
        image, overlays = _no_seed_picture(kind, width, height, rng, style)
        return _encoded(case, kind, image, fmt, quality, [], overlays, [])

    background = _pick(rng, {
        "dark": style.dark_backgrounds, "coloured": style.coloured_backgrounds,
    }.get(case, style.bright_backgrounds))
    background = tuple(float(np.clip(c + rng.uniform(-6, 6), 0, 255)) for c in background)
    layout = _Layout(width, height, background)
    n_overlays = {"overlay": int(rng.integers(1, 4)), "plain": 0}.get(case, int(rng.integers(0, 2)))
    for _ in range(n_overlays):
        _place_overlay(layout, rng, style)

    colours = _contrasting_colours(style.seed_colours, background)
    n_single = int(rng.integers(1, 21))
    clusters: list[int] = []
    n_border = 0
    if case == "touching":
        clusters = [int(rng.integers(2, 5)) for _ in range(int(rng.integers(1, 5)))]
        n_single = int(rng.integers(0, 9))
    elif case == "border":
        n_border = int(rng.integers(2, 9))
        n_single = int(rng.integers(0, 9))
    elif case in ("dark", "coloured"):
        if rng.random() < 0.4:
            clusters = [int(rng.integers(2, 4))]
        n_border = int(rng.integers(0, 4))
    n_seeds = n_single + n_border + sum(clusters)
    size_cap = float(np.clip(0.75 / math.sqrt(n_seeds), style.seed_length[0] * 1.5, style.seed_length[1]))
    _place_seeds(layout, rng, style, colours, n_single, n_border, clusters,
                 (style.seed_length[0], size_cap))

    options = _camera(rng, style, dark=case == "dark")
    image, seed_boxes, clutter = _paint(layout, rng, style, **options)
    return _encoded(case, "seeds", image, fmt, quality, seed_boxes, [o.box for o in layout.overlays],
                    clutter)


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
    """Draw `n_seeds` seeds apart on a bright background, deterministic given `seed`.

    `size_range` is the seeds' length as fractions of the shorter side (default: wide enough
    for the count); `n_border_seeds` seeds are cut by the image border (default: a quarter);
    a dark scale-bar badge sits in a corner; `jpeg_quality` encodes the picture as JPEG.
    """
    rng = np.random.default_rng(seed)
    if size_range is None:
        size_range = (0.045, float(np.clip(0.6 / math.sqrt(max(n_seeds, 1)), 0.08, 0.45)))
    if n_border_seeds is None:
        n_border_seeds = n_seeds // 4
    style = replace(TUNING, seed_colours={c: SEED_COLOURS[c] for c in colours}, fonts=(None,), bold=0)
    tint = np.array([236.0, 237.0, 234.0]) + rng.uniform(-6, 6) + rng.uniform(-3, 3, 3)
    layout = _Layout(width, height, (float(tint[0]), float(tint[1]), float(tint[2])))
    if scale_bar:
        _place_overlay(layout, rng, style, kind="badge-dark",
                       anchor=str(rng.choice(["top-left", "top-right", "bottom-left", "bottom-right"])))
    n_single = n_seeds - min(n_border_seeds, n_seeds)
    _place_seeds(layout, rng, style, list(style.seed_colours.values()), n_single,
                 n_seeds - n_single, [], size_range)
    image, seed_boxes, clutter = _paint(
        layout, rng, style, shadow=shadow, vignette=vignette, noise=noise_sigma, blur=0.0,
        n_dust=n_dust, n_fibres=0,
    )
    if jpeg_quality is not None:
        out = io.BytesIO()
        image.save(out, "JPEG", quality=jpeg_quality)
        image = images.decode(out.getvalue(), max_pixels=10**9).image
    names = {rgb: name for name, rgb in SEED_COLOURS.items()}
    return SeedScene(image, seed_boxes, [names.get(s.colour, "") for s in layout.seeds], clutter,
                     layout.overlays[0].box if layout.overlays else None)


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
        box = _mask_box(alpha, left, top)
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


def _encoded(
    case: str, kind: str, image: Image.Image, fmt: str, quality: int, seeds: list[Box],
    overlays: list[Box], clutter: list[Box],
) -> Picture:
    out = io.BytesIO()
    if fmt == "JPEG":
        image.save(out, "JPEG", quality=quality)
    elif fmt == "PNG":
        image.save(out, "PNG", compress_level=1)
    else:
        image.save(out, fmt)
    data = out.getvalue()
    decoded = images.decode(data, max_pixels=10**9)
    return Picture(case, kind, decoded.image, data, fmt, seeds, overlays, clutter)


def _pick(rng: np.random.Generator, options: tuple[RGB, ...]) -> RGB:
    return options[int(rng.integers(len(options)))]


def _luma(colour: RGB | np.ndarray) -> float:
    return float(0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2])


def _contrasting_colours(palette: dict[str, RGB], background: RGB) -> list[RGB]:
    """The seed colours a person would photograph on this background: clearly different."""
    far = [c for c in palette.values() if math.dist(c, background) >= 70]
    return far or [max(palette.values(), key=lambda c: math.dist(c, background))]


def _camera(rng: np.random.Generator, style: Style, *, dark: bool) -> dict[str, Any]:
    return {
        "shadow": 0.0 if dark else rng.uniform(*style.shadow),
        "vignette": rng.uniform(*style.vignette),
        "noise": rng.uniform(*style.noise_sigma),
        "blur": rng.uniform(*style.blur),
        "n_dust": int(rng.integers(style.n_dust[0], style.n_dust[1] + 1)),
        "n_fibres": int(rng.integers(style.n_fibres[0], style.n_fibres[1] + 1)),
    }


# --- placing seeds and overlays ------------------------------------------------------------


def _place_seeds(
    layout: _Layout,
    rng: np.random.Generator,
    style: Style,
    colours: list[RGB],
    n_single: int,
    n_border: int,
    clusters: list[int],
    size_range: tuple[float, float],
) -> None:
    """Place clusters of touching seeds, then seeds cut by the border, then single seeds."""
    unit = min(layout.width, layout.height)
    scale = 1.0

    def new_seed(cx: float, cy: float) -> _Seed:
        length = unit * scale * rng.uniform(*size_range)
        return _Seed(
            cx, cy, length / 2, length / 2 * rng.uniform(*style.seed_aspect),
            rng.uniform(0, math.pi), colours[int(rng.integers(len(colours)))],
            bool(rng.random() < style.speckled),
        )

    for size in clusters:
        for _attempt in range(200):
            members = _cluster(rng, size, new_seed, layout)
            if members and all(_fits(s, layout, inside=True) for s in members):
                layout.seeds.extend(members)
                break
        else:
            scale *= 0.85
    placed = 0
    while placed < n_border + n_single:
        for _attempt in range(300):
            candidate = new_seed(0.0, 0.0)
            if placed < n_border:
                # Centre just inside an edge, so that a fifth to a half of the seed is cut.
                inset = candidate.semi_minor * rng.uniform(0.2, 0.6)
                edge = int(rng.integers(4))
                cx = rng.uniform(0, layout.width) if edge < 2 else (
                    inset if edge == 2 else layout.width - inset)
                cy = rng.uniform(0, layout.height) if edge >= 2 else (
                    inset if edge == 0 else layout.height - inset)
            else:
                cx = rng.uniform(candidate.semi_major, layout.width - candidate.semi_major)
                cy = rng.uniform(candidate.semi_major, layout.height - candidate.semi_major)
            candidate = replace(candidate, cx=cx, cy=cy)
            if _fits(candidate, layout, inside=placed >= n_border):
                layout.seeds.append(candidate)
                placed += 1
                break
        else:
            scale *= 0.85  # crowded: make the remaining seeds smaller


def _cluster(rng: np.random.Generator, size: int, new_seed: Any, layout: _Layout) -> list[_Seed]:
    """Seeds in contact: each new one touches or rests on the edge of an earlier one."""
    members = [new_seed(rng.uniform(0, layout.width), rng.uniform(0, layout.height))]
    while len(members) < size:
        for _attempt in range(30):
            partner = members[int(rng.integers(len(members)))]
            candidate = new_seed(0.0, 0.0)
            theta = rng.uniform(0, 2 * math.pi)
            # From just touching to resting a third of its width over the partner's edge.
            depth = rng.uniform(-0.02, 0.35) * min(partner.semi_minor, candidate.semi_minor)
            distance = partner.radius_towards(theta) + candidate.radius_towards(theta + math.pi) - depth
            candidate = replace(candidate, cx=partner.cx + distance * math.cos(theta),
                                cy=partner.cy + distance * math.sin(theta))
            others = [m for m in members if m is not partner]
            if not any(_collide(candidate, m, 1.15) for m in others) and _contact_ok(candidate, partner):
                members.append(candidate)
                break
        else:
            return []
    return members


def _outline(seed: _Seed, grow: float, n: int = 48) -> tuple[np.ndarray, np.ndarray]:
    t = np.linspace(0, 2 * math.pi, n, endpoint=False)
    u, v = seed.semi_major * grow * np.cos(t), seed.semi_minor * grow * np.sin(t)
    c, s = math.cos(seed.angle), math.sin(seed.angle)
    return seed.cx + u * c - v * s, seed.cy + u * s + v * c


def _collide(a: _Seed, b: _Seed, grow: float) -> bool:
    """Whether the two ellipses, each grown by `grow`, overlap (checked on outline points)."""
    return bool(b.holds(*_outline(a, grow), grow).any() or a.holds(*_outline(b, grow), grow).any())


def _contact_ok(top: _Seed, under: _Seed) -> bool:
    """The seed underneath keeps most of itself in view: at most a third of its outline hidden."""
    return float(top.holds(*_outline(under, 1.0)).mean()) <= 0.3


def _fits(candidate: _Seed, layout: _Layout, *, inside: bool) -> bool:
    if inside and not (
        candidate.reach <= candidate.cx <= layout.width - candidate.reach
        and candidate.reach <= candidate.cy <= layout.height - candidate.reach
    ):
        return False
    for other in layout.seeds:
        gap = max(candidate.semi_minor, other.semi_minor) * 0.3
        distance = math.hypot(candidate.cx - other.cx, candidate.cy - other.cy)
        if distance < candidate.reach + other.reach + gap:
            return False
    for box in (o.box for o in layout.overlays):
        nearest_x = min(max(candidate.cx, box[0]), box[2])
        nearest_y = min(max(candidate.cy, box[1]), box[3])
        if math.hypot(candidate.cx - nearest_x, candidate.cy - nearest_y) < candidate.reach + 10:
            return False
    return True


def _place_overlay(
    layout: _Layout, rng: np.random.Generator, style: Style, *, kind: str | None = None,
    anchor: str | None = None,
) -> None:
    """Design an overlay and reserve its box at a free anchor on the frame's edge (it is
    drawn last, over the camera's picture)."""
    used = {o.anchor for o in layout.overlays}
    anchor = anchor or str(rng.choice([a for a in ANCHORS if a not in used]))
    kind = kind or str(rng.choice(style.overlay_styles))
    unit = min(layout.width, layout.height)
    margin = round(unit * rng.uniform(*style.overlay_margin))
    text_px = max(10, round(unit * rng.uniform(*style.text_height)))
    labels = style.magnification_labels if kind == "text" else style.scale_labels
    overlay = _Overlay(
        kind, anchor, (0, 0, 0, 0), str(rng.choice(labels)), text_px,
        0 if kind == "text" else round(unit * rng.uniform(0.08, 0.22)),
        style.fonts[int(rng.integers(len(style.fonts)))],
        int(rng.random() < style.bold) * max(1, text_px // 18),
    )
    text_w, text_h = _text_size(overlay)
    pad = _padding(overlay)
    w = max(overlay.bar_px, text_w) + 2 * pad
    h = text_h + (round(text_px * 0.9) if overlay.bar_px else 0) + 2 * pad
    column = 0 if anchor.endswith("left") else 2 if anchor.endswith("right") else 1
    row = 0 if anchor.startswith("top") else 2 if anchor.startswith("bottom") else 1
    left = (margin, (layout.width - w) // 2, layout.width - margin - w)[column]
    top = (margin, (layout.height - h) // 2, layout.height - margin - h)[row]
    layout.overlays.append(replace(overlay, box=(left, top, left + w, top + h)))


def _padding(overlay: _Overlay) -> int:
    return round(overlay.text_px * 0.4) if overlay.style.startswith("badge") else 0


def _font(overlay: _Overlay) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if overlay.font is not None:
        for folder in _FONT_DIRS:
            if (folder / overlay.font).exists():
                return ImageFont.truetype(str(folder / overlay.font), overlay.text_px)
    return ImageFont.load_default(size=overlay.text_px)


def _text_size(overlay: _Overlay) -> tuple[int, int]:
    left, top, right, bottom = _font(overlay).getbbox(overlay.text, stroke_width=overlay.stroke)
    return int(right - left), int(bottom - top)


# --- painting ------------------------------------------------------------------------------


def _paint(
    layout: _Layout,
    rng: np.random.Generator,
    style: Style,
    *,
    shadow: float,
    vignette: float,
    noise: float,
    blur: float,
    n_dust: int,
    n_fibres: int,
) -> tuple[Image.Image, list[Box], list[Box]]:
    """Paint the layout as a camera sees it, then the overlays; return the picture, each
    seed's box (of its visible part) and the clutter's boxes."""
    width, height = layout.width, layout.height
    unit = min(width, height)
    canvas = np.empty((height, width, 3), np.float32)
    canvas[:] = layout.background
    owner = np.full((height, width), -1, np.int32)
    for index, seed in enumerate(layout.seeds):
        _draw_seed(canvas, owner, index, seed, rng, shadow, style)
    seed_boxes = []
    for index, seed in enumerate(layout.seeds):
        x0, x1 = max(0, int(seed.cx - seed.reach)), min(width, int(seed.cx + seed.reach) + 2)
        y0, y1 = max(0, int(seed.cy - seed.reach)), min(height, int(seed.cy + seed.reach) + 2)
        seed_boxes.append(_mask_box(owner[y0:y1, x0:x1] == index, x0, y0))
    dark_background = _luma(layout.background) < 90
    overlay_boxes = [o.box for o in layout.overlays]
    clutter = _draw_dust(canvas, rng, n_dust, layout.seeds, overlay_boxes, unit, dark_background)
    clutter += _draw_fibres(canvas, rng, n_fibres, layout.seeds, overlay_boxes, unit, dark_background)
    canvas *= _lighting(width, height, rng, vignette)[..., None]
    if blur > 0:
        canvas = ndimage.gaussian_filter(canvas, (blur * unit / 1080, blur * unit / 1080, 0))
    canvas += rng.standard_normal(canvas.shape, dtype=np.float32) * noise
    image = Image.fromarray(np.clip(canvas + 0.5, 0, 255).astype(np.uint8), "RGB")
    for overlay in layout.overlays:
        _draw_overlay(image, overlay, layout.background, rng)
    return image, seed_boxes, clutter


def _mask_box(mask: np.ndarray, left: int, top: int) -> Box:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return (left + int(cols[0]), top + int(rows[0]), left + int(cols[-1]) + 1, top + int(rows[-1]) + 1)


def _draw_seed(
    canvas: np.ndarray,
    owner: np.ndarray,
    index: int,
    seed: _Seed,
    rng: np.random.Generator,
    shadow: float,
    style: Style,
) -> None:
    height, width = canvas.shape[:2]
    reach = seed.reach + seed.semi_major * 0.4  # room for the shadow's blur
    x0, x1 = max(0, int(seed.cx - reach)), min(width, int(seed.cx + reach) + 1)
    y0, y1 = max(0, int(seed.cy - reach)), min(height, int(seed.cy + reach) + 1)
    y, x = (a.astype(np.float32) for a in np.ogrid[y0:y1, x0:x1])
    radius = math.sqrt(seed.semi_major * seed.semi_minor)

    # An ellipse whose radius wobbles with a few harmonics: an irregular outline, sometimes a
    # pointed end (first harmonic).
    harmonics = [
        (k, rng.uniform(0, style.seed_wobble * (2.5 if k == 1 else 1)), rng.uniform(0, 2 * math.pi))
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

    colour = np.array(seed.colour) * rng.uniform(0.94, 1.05, 3)
    colour = np.clip(colour * rng.uniform(0.88, 1.1), 0, 250).astype(np.float32)
    # Rounded shading (darker rim), blotches, wrinkles and fine grain.
    shade = 0.74 + 0.26 * np.sqrt(np.clip(1 - d**2, 0, 1))
    blotches = _smooth_noise(rng, y1 - y0, x1 - x0, max(radius / 4, 2.0))
    wrinkles = _smooth_noise(rng, y1 - y0, x1 - x0, max(radius / 14, 1.5))
    grain = rng.standard_normal(d.shape, dtype=np.float32)
    texture = 1 + style.seed_texture * blotches + 0.05 * wrinkles + 0.03 * grain
    if seed.speckled:
        spots = _smooth_noise(rng, y1 - y0, x1 - x0, max(radius / 8, 1.5))
        texture *= 1 - 0.45 * np.clip(spots - 1.2, 0, 1)
    pixels = colour * (shade * texture)[..., None]

    # A soft specular highlight up and to the left of the centre.
    hx = seed.cx - radius * rng.uniform(0.15, 0.4)
    hy = seed.cy - radius * rng.uniform(0.15, 0.4)
    spot = np.exp(-((x - hx) ** 2 + (y - hy) ** 2) / (2 * (radius * rng.uniform(0.08, 0.18)) ** 2))
    spot *= rng.uniform(0.4, 0.85) * (d < 0.85)
    pixels += (255 - pixels) * spot[..., None]

    patch = canvas[y0:y1, x0:x1]
    patch[:] = patch * (1 - alpha[..., None]) + pixels * alpha[..., None]
    owner[y0:y1, x0:x1][alpha >= 0.5] = index


def _smooth_noise(rng: np.random.Generator, h: int, w: int, grain: float) -> np.ndarray:
    # Unit-variance noise varying over about `grain` pixels: coarse noise, smoothly enlarged.
    small = rng.standard_normal((max(2, int(h / grain) + 2), max(2, int(w / grain) + 2)))
    noise = np.asarray(Image.fromarray(small.astype(np.float32), "F").resize((w, h), Image.BICUBIC))
    return noise / max(float(noise.std()), 1e-6)


def _free_spot(
    rng: np.random.Generator, width: int, height: int, seeds: list[_Seed], overlays: list[Box],
    room: float,
) -> tuple[float, float]:
    """A random point at least `room` away from every seed and overlay."""
    while True:
        cx, cy = rng.uniform(4, width - 4), rng.uniform(4, height - 4)
        if any(math.hypot(cx - s.cx, cy - s.cy) < s.reach + room for s in seeds):
            continue  # dust on a seed is part of the seed
        if any(b[0] - room < cx < b[2] + room and b[1] - room < cy < b[3] + room for b in overlays):
            continue
        return cx, cy


def _draw_dust(
    canvas: np.ndarray,
    rng: np.random.Generator,
    n_dust: int,
    seeds: list[_Seed],
    overlays: list[Box],
    unit: int,
    bright: bool,
) -> list[Box]:
    """Specks: dark on a bright background, pale lint on a dark one."""
    height, width = canvas.shape[:2]
    boxes: list[Box] = []
    for _ in range(n_dust):
        cx, cy = _free_spot(rng, width, height, seeds, overlays, 8)
        radius = unit / 1080 * rng.uniform(0.6, 2.5)
        stretch = rng.uniform(1.0, 1.8)
        reach = int(radius * stretch * 3) + 2
        x0, x1 = max(0, int(cx) - reach), min(width, int(cx) + reach + 1)
        y0, y1 = max(0, int(cy) - reach), min(height, int(cy) + reach + 1)
        y, x = (a.astype(np.float32) for a in np.ogrid[y0:y1, x0:x1])
        blob = np.exp(-(((x - cx) / stretch) ** 2 + (y - cy) ** 2) / (2 * radius**2))
        _stain(canvas[y0:y1, x0:x1], rng.uniform(0.2, 0.7) * blob, bright)
        edge = radius * stretch * 2
        boxes.append((int(cx - edge), int(cy - edge), int(cx + edge) + 1, int(cy + edge) + 1))
    return boxes


def _draw_fibres(
    canvas: np.ndarray,
    rng: np.random.Generator,
    n_fibres: int,
    seeds: list[_Seed],
    overlays: list[Box],
    unit: int,
    bright: bool,
) -> list[Box]:
    """Hairs and fibres: thin curved lines a few percent of the frame long."""
    height, width = canvas.shape[:2]
    boxes: list[Box] = []
    for _ in range(n_fibres):
        length = unit * rng.uniform(0.04, 0.12)
        cx, cy = _free_spot(rng, width, height, seeds, overlays, length * 0.6 + 8)
        thickness = max(0.7, unit / 1080 * rng.uniform(0.8, 1.8))
        heading, bend = rng.uniform(0, 2 * math.pi), rng.uniform(-2.5, 2.5) / length
        steps = int(length) + 1
        angles = heading + bend * np.arange(steps)
        xs = cx + np.cumsum(np.cos(angles)) - length / 2 * math.cos(heading)
        ys = cy + np.cumsum(np.sin(angles)) - length / 2 * math.sin(heading)
        x0, x1 = max(0, int(xs.min()) - 6), min(width, int(xs.max()) + 7)
        y0, y1 = max(0, int(ys.min()) - 6), min(height, int(ys.max()) + 7)
        if x1 - x0 < 2 or y1 - y0 < 2:
            continue
        line = np.zeros((y1 - y0, x1 - x0), np.float32)
        inside = (xs >= x0) & (xs < x1) & (ys >= y0) & (ys < y1)
        line[(ys[inside] - y0).astype(int), (xs[inside] - x0).astype(int)] = 1
        line = np.clip(ndimage.gaussian_filter(line, thickness) * thickness * 2.5, 0, 1)
        _stain(canvas[y0:y1, x0:x1], rng.uniform(0.3, 0.6) * line, bright)
        boxes.append((x0, y0, x1, y1))
    return boxes


def _stain(patch: np.ndarray, strength: np.ndarray, bright: bool) -> None:
    """Darken the patch by `strength` (0..1), or lighten it towards pale lint when `bright`."""
    if bright:
        patch += (200 - patch) * strength[..., None]
    else:
        patch *= 1 - strength[..., None]


def _lighting(width: int, height: int, rng: np.random.Generator, vignette: float) -> np.ndarray:
    # Darker towards the corners (around an off-centre point) and to one side.
    y, x = (a.astype(np.float32) for a in np.ogrid[0:height, 0:width])
    cx = width * rng.uniform(0.4, 0.6)
    cy = height * rng.uniform(0.4, 0.6)
    r2 = ((x - cx) / (width / 2)) ** 2 + ((y - cy) / (height / 2)) ** 2
    light = 1 - vignette * r2 / 2
    light *= 1 + rng.uniform(-0.04, 0.04) * (x - width / 2) / width
    return light


def _draw_overlay(
    image: Image.Image, overlay: _Overlay, background: RGB, rng: np.random.Generator
) -> None:
    """The microscope software's overlay, drawn over the picture: a scale bar with its label
    (bare, or on a dark or light badge), or a text label such as the magnification."""
    left, top, right, bottom = overlay.box
    draw = ImageDraw.Draw(image)
    light_ink, dark_ink = (250, 250, 250), (20, 20, 24)
    if overlay.style.startswith("badge"):
        dark = overlay.style == "badge-dark"
        ink = light_ink if dark else dark_ink
        radius = round(min(right - left, bottom - top) * rng.uniform(0, 0.25))
        fill = (24, 24, 26) if dark else (248, 248, 246)
        draw.rounded_rectangle((left, top, right - 1, bottom - 1), radius=radius, fill=fill)
    else:
        # Bare ink shows on the background: dark on bright, light on dark, sometimes yellow.
        ink = dark_ink if _luma(background) > 140 else light_ink
        if rng.random() < 0.2:
            ink = (250, 230, 40)
    pad = _padding(overlay)
    text_h = _text_size(overlay)[1]
    x_mid = (left + right) / 2
    if overlay.bar_px:
        half = overlay.bar_px / 2
        bar_y = bottom - pad - round(overlay.text_px * 0.35)
        thick = max(2, round(overlay.text_px * rng.uniform(0.1, 0.22)))
        draw.rectangle((x_mid - half, bar_y - thick / 2, x_mid + half, bar_y + thick / 2), fill=ink)
        if rng.random() < 0.5:  # end ticks
            for x_end in (x_mid - half, x_mid + half - thick + 1):
                draw.rectangle((x_end, bar_y - thick * 2, x_end + thick - 1, bar_y + thick), fill=ink)
    draw.text((x_mid, top + pad + text_h / 2), overlay.text, fill=ink, font=_font(overlay), anchor="mm",
              stroke_width=overlay.stroke, stroke_fill=ink)


# --- pictures without seeds ----------------------------------------------------------------


def _no_seed_picture(
    kind: str, width: int, height: int, rng: np.random.Generator, style: Style
) -> tuple[Image.Image, list[Box]]:
    y, x = (a.astype(np.float32) for a in np.ogrid[0:height, 0:width])
    if kind == "document":
        canvas = _document(width, height, rng, style)
    elif kind == "gradient":
        # Two or three colours blended along a line or around a point.
        stops = [np.array(_random_colour(rng)) for _ in range(int(rng.integers(2, 4)))]
        if rng.random() < 0.5:
            angle = rng.uniform(0, 2 * math.pi)
            t = (x * math.cos(angle) + y * math.sin(angle)) / max(width, height)
        else:
            t = np.hypot(x - rng.uniform(0, width), y - rng.uniform(0, height)) / max(width, height)
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6) * (len(stops) - 1)
        low = np.clip(np.floor(t), 0, len(stops) - 2).astype(int)
        frac = (t - low)[..., None]
        stacked = np.stack(stops)
        canvas = stacked[low] * (1 - frac) + stacked[low + 1] * frac
    elif kind == "texture":
        canvas = _texture(width, height, rng)
    else:
        options = style.bright_backgrounds + style.dark_backgrounds + style.coloured_backgrounds
        canvas = np.empty((height, width, 3), np.float32)
        canvas[:] = _pick(rng, options)
        canvas *= _lighting(width, height, rng, rng.uniform(*style.vignette))[..., None]
    canvas = canvas + rng.standard_normal(canvas.shape, dtype=np.float32) * rng.uniform(*style.noise_sigma)
    image = Image.fromarray(np.clip(canvas + 0.5, 0, 255).astype(np.uint8), "RGB")
    overlays: list[Box] = []
    if kind == "plain-frame" and rng.random() < 0.5:
        layout = _Layout(width, height, tuple(float(c) for c in canvas[height // 2, width // 2]))
        _place_overlay(layout, rng, style)
        _draw_overlay(image, layout.overlays[0], layout.background, rng)
        overlays.append(layout.overlays[0].box)
    return image, overlays


def _random_colour(rng: np.random.Generator) -> RGB:
    return (rng.uniform(0, 255), rng.uniform(0, 255), rng.uniform(0, 255))


def _texture(width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """Natural-ish surfaces: clouds or stone (fractal noise), or wood grain (warped stripes)."""
    unit = min(width, height)
    octaves = sum(
        _smooth_noise(rng, height, width, unit / 2**k) * 0.6**k for k in range(1, 7)
    )
    octaves /= float(octaves.std())
    base = np.array(_random_colour(rng), np.float32) * 0.6 + 60
    tint = np.array(_random_colour(rng), np.float32) * 0.4
    if rng.random() < 0.5:
        shade = octaves * 0.5
    else:
        y = np.arange(height, dtype=np.float32)[:, None]
        shade = np.sin(y / unit * rng.uniform(20, 60) + 3 * octaves) * 0.5
    return base + tint * shade[..., None]


def _document(width: int, height: int, rng: np.random.Generator, style: Style) -> np.ndarray:
    """A photographed page: a heading, paragraphs of text, bullets and a rule."""
    unit = min(width, height)
    page = Image.new("RGB", (width, height), tuple(int(c) for c in _pick(rng, style.bright_backgrounds)))
    draw = ImageDraw.Draw(page)
    words = ("seed", "sample", "Ambrosia", "artemisiifolia", "lot", "germination", "test", "purity",
             "weed", "the", "of", "and", "per", "kg", "2024", "CFIA", "report", "analysis")
    margin = round(width * rng.uniform(0.05, 0.12))
    y = round(height * rng.uniform(0.04, 0.1))
    fonts = style.fonts
    heading = _Overlay("text", "top", (0, 0, 0, 0), "", round(unit * rng.uniform(0.04, 0.07)), 0,
                       fonts[int(rng.integers(len(fonts)))], 0)
    draw.text((margin, y), "Seed Analysis Report", fill=(20, 20, 20), font=_font(heading))
    y += round(heading.text_px * 1.8)
    body = replace(heading, text_px=round(unit * rng.uniform(0.015, 0.03)))
    font = _font(body)
    while y < height - body.text_px * 2:
        if rng.random() < 0.08:
            draw.line((margin, y, width - margin, y), fill=(40, 40, 40), width=max(1, body.text_px // 10))
            y += body.text_px
            continue
        x = margin
        if rng.random() < 0.2:
            r = body.text_px * 0.18
            draw.ellipse((x, y + body.text_px * 0.4 - r, x + 2 * r, y + body.text_px * 0.4 + r),
                         fill=(20, 20, 20))
            x += round(body.text_px * 1.2)
        line = " ".join(words[int(i)] for i in rng.integers(len(words), size=int(rng.integers(4, 14))))
        draw.text((x, y), line, fill=(20, 20, 20), font=font)
        y += round(body.text_px * rng.uniform(1.3, 1.8))
    canvas = np.asarray(page, np.float32) * _lighting(width, height, rng, 0.2)[..., None]
    return ndimage.gaussian_filter(canvas, (0.6, 0.6, 0))


def fake_camera_frame(width: int = 1920, height: int = 1080, mouth: float = 60.0) -> Image.Image:
    """A frame like Chromium's fake camera's (`--use-fake-device-for-media-stream`), as the
    web client CAPTUREs it: a bright green "pacman" disc with its mouth `mouth` degrees open
    in the middle of a dark green frame, a bright square in each corner and a timer at the
    top left."""
    image = Image.new("RGB", (width, height), (0, 135, 0))
    draw = ImageDraw.Draw(image)
    side = round(height / 9)
    for (x, y), fill in zip(((0, 0), (width - side, 0), (0, height - side), (width - side, height - side)),
                            ((0, 239, 0), (60, 255, 8), (0, 255, 0), (0, 216, 0)), strict=True):
        draw.rectangle((x, y, x + side - 1, y + side - 1), fill=fill)
    radius = height / 4
    centre = (width / 2, height / 2)
    draw.pieslice((centre[0] - radius, centre[1] - radius, centre[0] + radius, centre[1] + radius),
                  start=mouth / 2, end=360 - mouth / 2, fill=(74, 255, 22))
    font = ImageFont.load_default(size=max(10, round(height / 36)))
    draw.text((side + height / 100, height / 100), "00:01:550 31", fill=(74, 255, 22), font=font)
    return image


# --- scoring boxes against the truth -------------------------------------------------------


def iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two boxes (left, top, right, bottom)."""
    inter_w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    inter_h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = inter_w * inter_h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def match(found: list[tuple[float, ...]], truth: list[Box], min_iou: float = 0.7) -> dict[int, int]:
    """Pair found boxes and truth boxes one to one, best IoU first, keeping pairs at
    `min_iou` or more: {index in found: index in truth}."""
    candidates = sorted(
        ((iou(box, seed), k, j) for k, box in enumerate(found) for j, seed in enumerate(truth)),
        reverse=True,
    )
    pairs: dict[int, int] = {}
    used: set[int] = set()
    for overlap, k, j in candidates:
        if overlap >= min_iou and k not in pairs and j not in used:
            pairs[k] = j
            used.add(j)
    return pairs
