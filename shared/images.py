"""The only module that imports Pillow: decoding with size and pixel caps, the real
format from the bytes, EXIF orientation, RGB conversion, crops, thumbnails and pixel arrays."""

from __future__ import annotations

import hashlib
import io
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from shared.errors import PayloadTooLarge, UnsupportedMediaType

if TYPE_CHECKING:
    import numpy as np
    from PIL import ImageDraw
    from PIL.Image import Image

@dataclass(frozen=True)
class Format:
    """A supported format; FORMATS holds them by Pillow's name."""

    extension: str  # in blob names
    mime_type: str  # stored and sent back
    # How NACHET_VALID_EXTENSION and a claimed image/<type> may name it; the first is reported.
    names: tuple[str, ...]


_JPEG = Format("jpg", "image/jpeg", ("jpeg", "jpg", "pjpeg"))
FORMATS = {
    "JPEG": _JPEG,
    "MPO": _JPEG,  # a JPEG with extra frames (phone cameras)
    "PNG": Format("png", "image/png", ("png", "x-png")),
    "GIF": Format("gif", "image/gif", ("gif",)),
    "BMP": Format("bmp", "image/bmp", ("bmp", "x-ms-bmp", "x-bmp")),
    "TIFF": Format("tiff", "image/tiff", ("tiff", "tif")),
    "WEBP": Format("webp", "image/webp", ("webp",)),
}


def check_accepted(pillow_format: str, accepted: frozenset[str]) -> None:
    """Raises UnsupportedMediaType unless `accepted` (NACHET_VALID_EXTENSION) names the
    format by one of its names (jpg or jpeg, tif or tiff…)."""
    names = FORMATS[pillow_format].names
    if accepted.isdisjoint(names):
        raise UnsupportedMediaType(f"{names[0]} images are not accepted (NACHET_VALID_EXTENSION)")


def accepted_suffix(suffix: str, accepted: frozenset[str]) -> bool:
    """Whether a file named *.`suffix` (.JPG, tif…) is of a format that `accepted` names."""
    name = suffix.lower().lstrip(".")
    return any(name in f.names and not accepted.isdisjoint(f.names) for f in FORMATS.values())


@dataclass(frozen=True)
class SentImage:
    """A picture as a client sent it: its bytes, and the type it claims (image/jpeg…) or None."""

    data: bytes
    claimed_type: str | None


@dataclass(frozen=True)
class DecodedImage:
    """A picture whose header has been read: the facts of its file, and its upright RGB
    pixels (EXIF applied), which may still be decoding in the background."""

    format: str  # Pillow's name: JPEG, PNG…
    width: int  # of the upright image
    height: int
    sha256: str
    pixels: Future[Image] = field(repr=False)
    # The file itself when its pixels need no EXIF turn, else None: a remote model is
    # sent these bytes rather than a re-encoding (a second or more for a large PNG).
    upright_file: bytes | None = field(default=None, repr=False)

    @property
    def image(self) -> Image:
        """The upright RGB pixels, waiting for them if they are still being decoded.
        Raises UnsupportedMediaType (a truncated or corrupt file)."""
        return self.pixels.result()

    def wait_decoded(self) -> None:
        """Wait for the pixels. Raises UnsupportedMediaType (a truncated or corrupt file)."""
        self.pixels.result()

    @property
    def extension(self) -> str:
        return FORMATS[self.format].extension

    @property
    def content_type(self) -> str:
        return FORMATS[self.format].mime_type


def sha256_hex(data: bytes) -> str:
    """The sha256 of `data`, in hex."""
    return hashlib.sha256(data).hexdigest()


def _to_rgb(img: Image) -> Image:
    """`img` in RGB: 16-bit grey scaled to 8 bits, transparent pixels on white (pictures
    with transparency are cut-outs from a bright background), any other mode converted."""
    from PIL import Image as PILImage

    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit grey: scale to 8 bits instead of clipping everything to white.
        img = img.point(lambda v: v / 256).convert("L")
    # A transparency key (palette, grey or RGB) counts as an alpha channel.
    if img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info:
        img = img.convert("RGBA")
        background = PILImage.new("RGBA", img.size, (255, 255, 255, 255))
        img = PILImage.alpha_composite(background, img)
    return img if img.mode == "RGB" else img.convert("RGB")


def rgb_array(img: Image, *, longest_px: int) -> np.ndarray:
    """`img` as an array of RGB values in 0..1 (rows, columns, 3), float32, converted as
    `decode` converts (transparency on white) and shrunk by averaging so that its longest
    side is at most `longest_px`."""
    import numpy as np
    from PIL import Image as PILImage

    img = _to_rgb(img)
    factor = max(img.size) / longest_px
    if factor > 1:
        size = (max(1, round(img.width / factor)), max(1, round(img.height / factor)))
        img = img.resize(size, PILImage.Resampling.BOX)
    return np.asarray(img, dtype=np.float32) / np.float32(255)


@dataclass(frozen=True)
class ImageInfo:
    """What an image file's header says, read before any pixel is decoded."""

    format: str  # Pillow's name: JPEG, PNG…
    width: int  # of the upright image (EXIF orientation applied)
    height: int


@contextmanager
def _pillow_errors(max_pixels: int) -> Iterator[None]:
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    try:
        yield
    except UnidentifiedImageError:
        raise UnsupportedMediaType("the file is not a supported image") from None
    except PILImage.DecompressionBombError:
        raise PayloadTooLarge(f"the image has more than {max_pixels} pixels") from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise UnsupportedMediaType("the image is truncated or corrupt") from None


def _open(data: bytes, max_pixels: int) -> Image:
    from PIL import Image as PILImage

    PILImage.MAX_IMAGE_PIXELS = max_pixels  # Pillow's own bomb check, as a second line
    # Only the supported formats' parsers ever see the bytes. MPO has no opener of its
    # own (the JPEG parser opens it), and naming it raises KeyError for non-images.
    img = PILImage.open(io.BytesIO(data), formats=[f for f in FORMATS if f != "MPO"])
    if img.width * img.height > max_pixels:
        raise PayloadTooLarge(f"the image has more than {max_pixels} pixels")
    return img


def _format(img: Image) -> str:
    # Pillow names the format of every file it opens; only images made in memory lack one.
    if img.format is None:
        raise UnsupportedMediaType("the file is not a supported image")
    return img.format


def _orientation(img: Image) -> int:
    # A PNG whose eXIf chunk comes after the pixels would be decoded to find it: such
    # files are rare and read as upright here.
    if img.format == "PNG" and "exif" not in img.info:
        return 1
    return img.getexif().get(0x0112, 1)


def _header(data: bytes, max_pixels: int) -> tuple[Image, ImageInfo, int]:
    """The file opened (no pixel decoded yet), what its header says, and its EXIF orientation."""
    with _pillow_errors(max_pixels):
        img = _open(data, max_pixels)
        orientation = _orientation(img)
        width, height = img.size
        if orientation in (5, 6, 7, 8):  # a quarter turn: the sides swap
            width, height = height, width
        return img, ImageInfo(_format(img), width, height), orientation


def probe(data: bytes, *, max_pixels: int) -> ImageInfo:
    """The real format and upright size of an image file, from its header only.

    Raises UnsupportedMediaType (not an image of a supported format) and
    PayloadTooLarge (more than `max_pixels` pixels).
    """
    return _header(data, max_pixels)[1]


def decode(data: bytes, *, max_pixels: int, in_background: bool = False) -> DecodedImage:
    """Decode an image file: the real format from its bytes, the first frame, the EXIF
    orientation of its header applied, RGB.

    The header is read here; with `in_background` the pixels are decoded on another
    thread while the caller goes on (a remote detector is sent the file as it is, so
    decoding overlaps its call), and `image` waits for them.

    Raises UnsupportedMediaType (not an image of a supported format, or corrupt: with
    `in_background`, a file that is only found corrupt while decoding raises it from
    `image`) and PayloadTooLarge (more than `max_pixels` pixels, checked before any pixel
    is decoded).
    """
    img, info, orientation = _header(data, max_pixels)
    pixels: Future[Image]
    if in_background:
        pixels = _decoder().submit(_upright_rgb, img, orientation, max_pixels)
    else:
        pixels = Future()
        pixels.set_result(_upright_rgb(img, orientation, max_pixels))
    return DecodedImage(info.format, info.width, info.height, sha256_hex(data), pixels,
                        data if orientation == 1 else None)


def _upright_rgb(img: Image, orientation: int, max_pixels: int) -> Image:
    from PIL import ImageOps

    with _pillow_errors(max_pixels):
        img.load()
        if orientation != 1:  # exif_transpose copies even an upright image: only when needed
            img = ImageOps.exif_transpose(img)
        return _to_rgb(img)


_decoder_lock = threading.Lock()
_decoder_pool: ThreadPoolExecutor | None = None


def _decoder() -> ThreadPoolExecutor:
    """The threads that decode pictures in the background: a few per process (decoding
    holds a core; more would only take turns), kept for its life."""
    global _decoder_pool
    with _decoder_lock:
        if _decoder_pool is None:
            _decoder_pool = ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2),
                                               thread_name_prefix="picture-decode")
        return _decoder_pool


# Formats that training sets take as they are: Azure ML's JSON Lines schema lists these
# (and no GIF or WebP), and COCO tools read them.
_TRAINING_FORMATS = frozenset({"JPEG", "MPO", "PNG", "BMP", "TIFF"})


def training_file(data: bytes, *, max_pixels: int) -> tuple[bytes, str]:
    """The picture as a training set holds it, and its extension: the file itself when its
    pixels need no EXIF turn and its format is JPEG, PNG, BMP or TIFF; else its upright
    pixels as PNG, since boxes are in pixels of the upright picture.

    Raises UnsupportedMediaType and PayloadTooLarge.
    """
    with _pillow_errors(max_pixels):
        img = _open(data, max_pixels)
        fmt = _format(img)
        if fmt in _TRAINING_FORMATS and _orientation(img) == 1:
            return data, FORMATS[fmt].extension
    return encode(decode(data, max_pixels=max_pixels).image, "PNG"), "png"


def encode(img: Image, fmt: str, *, fast: bool = False) -> bytes:
    """`img` encoded in Pillow format `fmt` (JPEG, PNG…). With `fast`, a PNG is compressed
    at zlib's level 1 (for a crop sent to a model, decoded once: about 11% more bytes than
    Pillow's level 6, in a third less time); JPEG and the others as without."""
    out = io.BytesIO()
    if fmt in ("JPEG", "MPO"):
        img.save(out, format="JPEG", quality=92)
    elif fmt == "PNG" and fast:
        img.save(out, format="PNG", compress_level=1)
    else:
        img.save(out, format=fmt)
    return out.getvalue()


def crop(img: Image, box: tuple[int, int, int, int]) -> Image:
    """The region (left, top, right, bottom) of `img`, clamped to the image (at least 1 px)."""
    left = min(max(0, box[0]), img.width - 1)
    top = min(max(0, box[1]), img.height - 1)
    right = max(min(img.width, box[2]), left + 1)
    bottom = max(min(img.height, box[3]), top + 1)
    return img.crop((left, top, right, bottom))


def thumbnail_webp(img: Image, *, longest_px: int = 256) -> bytes:
    """A WebP thumbnail whose longest side is at most `longest_px`."""
    thumb = img.copy()
    thumb.thumbnail((longest_px, longest_px))
    out = io.BytesIO()
    thumb.save(out, format="WEBP", quality=80)
    return out.getvalue()


# ---- Drawing ----

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Outline:
    """A box to draw on a picture: its edges in pixels (left, top, right, bottom), its
    colour, its caption, and whether an analyst verified it (solid, with a check mark;
    else dashed)."""

    edges: tuple[int, int, int, int]
    color: RGB
    caption: str
    verified: bool


def _ink(background: RGB) -> RGB:
    """Black or white, whichever reads on `background` (its relative luminance)."""
    r, g, b = background
    return (0, 0, 0) if 0.299 * r + 0.587 * g + 0.114 * b > 150 else (255, 255, 255)


def draw_outlines(img: Image, outlines: Sequence[Outline]) -> Image:
    """A copy of `img` with each outline drawn, its caption on a tag of its colour above it
    (inside it when there is no room above). Line width and text size follow the
    picture's size, so that they read on a thumbnail and on a full camera frame."""
    from PIL import ImageDraw, ImageFont

    out = img.convert("RGB")
    draw = ImageDraw.Draw(out)
    side = min(out.width, out.height)
    width = max(2, round(side / 250))
    font = ImageFont.load_default(size=max(12, round(side / 40)))
    for outline in outlines:
        left, top, right, bottom = outline.edges
        if outline.verified:
            draw.rectangle((left, top, right - 1, bottom - 1), outline=outline.color, width=width)
        else:
            _dashed_rectangle(draw, outline.edges, outline.color, width)
        text_left, text_top, text_right, text_bottom = (
            round(v) for v in draw.textbbox((0, 0), outline.caption, font=font))
        pad = max(2, width)
        mark = (text_bottom - text_top) if outline.verified else 0  # room for the check mark
        tag_width = text_right - text_left + 2 * pad + (mark + pad if mark else 0)
        tag_height = text_bottom - text_top + 2 * pad
        x = min(max(0, left), max(0, out.width - tag_width))
        y = top - tag_height if top - tag_height >= 0 else top
        draw.rectangle((x, y, x + tag_width - 1, y + tag_height - 1), fill=outline.color)
        ink = _ink(outline.color)
        if mark:
            # A check mark drawn as lines: the default font has no such glyph.
            cx, cy = x + pad, y + pad
            draw.line([(cx, cy + mark * 0.55), (cx + mark * 0.38, cy + mark * 0.9),
                       (cx + mark, cy + mark * 0.1)], fill=ink, width=max(2, mark // 6), joint="curve")
        text_x = x + pad + (mark + pad if mark else 0) - text_left
        draw.text((text_x, y + pad - text_top), outline.caption, fill=ink, font=font)
    return out


def _dashed_rectangle(
    draw: ImageDraw.ImageDraw, edges: tuple[int, int, int, int], color: RGB, width: int,
) -> None:
    left, top, right, bottom = edges[0], edges[1], edges[2] - 1, edges[3] - 1
    dash, gap = 4 * width, 3 * width
    for x0, y0, x1, y1 in ((left, top, right, top), (right, top, right, bottom),
                           (right, bottom, left, bottom), (left, bottom, left, top)):
        length = max(abs(x1 - x0), abs(y1 - y0))
        for start in range(0, length + 1, dash + gap):
            end = min(start + dash, length)
            sx, sy = x0 + (x1 - x0) * start // max(length, 1), y0 + (y1 - y0) * start // max(length, 1)
            ex, ey = x0 + (x1 - x0) * end // max(length, 1), y0 + (y1 - y0) * end // max(length, 1)
            draw.line([(sx, sy), (ex, ey)], fill=color, width=width)


def draw_count_table(
    title: str, rows: Sequence[str], columns: Sequence[str], counts: Sequence[Sequence[int]], *,
    row_axis: str, column_axis: str, agree: Callable[[str, str], bool | None],
) -> bytes:
    """A PNG of `counts` (one list per row) as a grid a person reads at a glance: each
    cell holds its count, green where row and column `agree`, red where they do not, the
    deeper the more, grey where `agree` says None (a cell of both); empty cells white;
    totals in grey at the end of each row and column. Column labels are written upwards."""
    from PIL import Image as PILImage
    from PIL import ImageDraw, ImageFont

    font = ImageFont.load_default(size=15)
    bold = ImageFont.load_default(size=18)
    probe_draw = ImageDraw.Draw(PILImage.new("RGB", (1, 1)))

    def text_width(text: str, face: ImageFont.FreeTypeFont | ImageFont.ImageFont = font) -> int:
        box = probe_draw.textbbox((0, 0), text, font=face)
        return int(box[2] - box[0])

    row_totals = [sum(row) for row in counts]
    column_totals = [sum(row[j] for row in counts) for j in range(len(columns))]
    all_labels = [*columns, "total"]
    cell_w = max(52, max((text_width(str(v)) for v in [*row_totals, *column_totals, 0]), default=0) + 16)
    cell_h = 30
    pad = 12
    label_w = max((text_width(r) for r in [*rows, "total"]), default=0) + 2 * pad
    header_h = max(text_width(c) for c in all_labels) + 2 * pad
    title_h = 34
    axis_h = 24
    left = pad + axis_h + label_w
    top = title_h + axis_h + header_h
    width = left + cell_w * (len(columns) + 1) + pad
    height = top + cell_h * (len(rows) + 1) + pad
    img = PILImage.new("RGB", (max(width, text_width(title, bold) + 2 * pad), height), "white")
    draw = ImageDraw.Draw(img)
    draw.text((pad, 6), title, fill="black", font=bold)
    draw.text((left, title_h), column_axis, fill=(80, 80, 80), font=font)
    # The row axis' name, written upwards along the row labels.
    axis = PILImage.new("RGB", (max(text_width(row_axis), 1) + 4, axis_h), "white")
    ImageDraw.Draw(axis).text((2, 2), row_axis, fill=(80, 80, 80), font=font)
    img.paste(axis.rotate(90, expand=True), (pad, top))
    for j, label in enumerate(all_labels):
        tag = PILImage.new("RGB", (text_width(label) + 2 * pad, cell_w), "white")
        ImageDraw.Draw(tag).text((pad, (cell_w - 18) // 2), label, fill="black", font=font)
        img.paste(tag.rotate(90, expand=True), (left + j * cell_w, top - tag.width))
    most = max((v for row in counts for v in row), default=0) or 1
    for i, label in enumerate([*rows, "total"]):
        y = top + i * cell_h
        draw.text((left - pad - text_width(label), y + 6), label, fill="black", font=font)
        values = [*counts[i], row_totals[i]] if i < len(rows) else [*column_totals, sum(row_totals)]
        for j, value in enumerate(values):
            x = left + j * cell_w
            agreed = None if i == len(rows) or j == len(columns) else agree(rows[i], columns[j])
            if agreed is None:
                fill: RGB = (225, 225, 225)
            elif value == 0:
                fill = (255, 255, 255)
            else:
                strength = 0.25 + 0.75 * value / most
                hue = (26, 150, 65) if agreed else (215, 48, 39)
                fill = (round(255 + (hue[0] - 255) * strength), round(255 + (hue[1] - 255) * strength),
                        round(255 + (hue[2] - 255) * strength))
            draw.rectangle((x, y, x + cell_w - 1, y + cell_h - 1), fill=fill, outline=(190, 190, 190))
            if value or i == len(rows) or j == len(columns):
                text = str(value)
                draw.text((x + (cell_w - text_width(text)) // 2, y + 6), text, fill=_ink(fill), font=font)
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()
