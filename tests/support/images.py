"""Picture files for the image tests, good and bad, made in memory, and data URLs of them."""

from __future__ import annotations

import base64
import io
import struct
import zlib

from PIL import Image

RED, GREEN, BLUE = (220, 20, 20), (20, 200, 40), (30, 40, 220)


def encode(img: Image.Image, fmt: str, **options: object) -> bytes:
    """`img` saved in Pillow format `fmt`."""
    out = io.BytesIO()
    img.save(out, format=fmt, **options)
    return out.getvalue()


def picture(width: int = 64, height: int = 48, fmt: str = "PNG", **options: object) -> bytes:
    """A green picture whose top rows are red, so that orientation shows."""
    img = Image.new("RGB", (width, height), GREEN)
    img.paste(RED, (0, 0, width, max(1, height // 4)))
    return encode(img, fmt, **options)


def exif_rotated_jpeg(width: int, height: int, orientation: int = 6) -> bytes:
    """A JPEG stored `width` x `height` (red top rows) whose EXIF says to turn it
    (6: a quarter turn clockwise, so that the red rows end on the right side)."""
    img = Image.open(io.BytesIO(picture(width, height)))
    exif = img.getexif()
    exif[0x0112] = orientation
    return encode(img, "JPEG", exif=exif.tobytes(), quality=95)


def cmyk_jpeg(width: int = 64, height: int = 48) -> bytes:
    """A CMYK JPEG, as Photoshop writes for print: pure red is C0 M255 Y255 K0."""
    return encode(Image.new("CMYK", (width, height), (0, 255, 255, 0)), "JPEG")


def tiff16_grey(width: int = 64, height: int = 48, level: int = 40000) -> bytes:
    """A 16-bit grey TIFF of one `level` (of 65535): 156 in 8 bits, where clipping gives white."""
    return encode(Image.new("I;16", (width, height), level), "TIFF")


def tiff16_rgb(width: int = 64, height: int = 48, rgb: tuple[int, int, int] = (56000, 8000, 8000)) -> bytes:
    """An uncompressed 48-bit RGB TIFF (3 x 16-bit samples), which Pillow cannot write."""
    pixels = struct.pack("<3H", *rgb) * (width * height)
    entries = [  # (tag, type, count, value); type 3 SHORT, 4 LONG
        (256, 3, 1, width), (257, 3, 1, height), (258, 3, 3, None), (259, 3, 1, 1), (262, 3, 1, 2),
        (273, 4, 1, None), (277, 3, 1, 3), (278, 3, 1, height), (279, 4, 1, len(pixels)),
        (284, 3, 1, 1),
    ]
    ifd_size = 2 + 12 * len(entries) + 4
    bits_offset = 8 + ifd_size
    data_offset = bits_offset + 6
    out = b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        if tag == 258:
            out += struct.pack("<HHII", tag, kind, count, bits_offset)
        elif tag == 273:
            out += struct.pack("<HHII", tag, kind, count, data_offset)
        elif kind == 3:
            out += struct.pack("<HHIHH", tag, kind, count, value, 0)
        else:
            out += struct.pack("<HHII", tag, kind, count, value)
    return out + struct.pack("<I", 0) + struct.pack("<3H", 16, 16, 16) + pixels


def animated_gif(width: int = 40, height: int = 30) -> bytes:
    """A three-frame animated GIF: red, then green, then blue."""
    frames = [Image.new("RGB", (width, height), c) for c in (RED, GREEN, BLUE)]
    return encode(frames[0], "GIF", save_all=True, append_images=frames[1:], loop=0, duration=100)


def truncated(data: bytes) -> bytes:
    """The first half of a file."""
    return data[: len(data) // 2]


def bomb_png(side: int = 8000) -> bytes:
    """A real decompression bomb: a valid `side` x `side` grey PNG of zeros, a few tens of
    KB on disk, `side`² bytes once decoded."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    compressor = zlib.compressobj(9)
    row = b"\x00" * (side + 1)  # filter byte + pixels
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"
SVG = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(1)</script><rect width='10' height='10'/></svg>"
)


def data_url(data: bytes | Image.Image, claimed: str | None = "image/png") -> str:
    """`data` (a file's bytes, or a Pillow image saved as PNG) as a data URL whose header
    claims `claimed` (None: no type at all)."""
    if isinstance(data, Image.Image):
        data = encode(data, "PNG")
    return f"data:{claimed or ''};base64,{base64.b64encode(data).decode()}"


def decode(data: bytes) -> Image.Image:
    """A test's view of an image file: opened and loaded."""
    img = Image.open(io.BytesIO(data))
    img.load()
    return img
