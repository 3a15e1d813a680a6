"""The rules a picture must follow (API.md, image-validation), shared by the route and the blob trigger.

The rules, in the order they are checked (the first one broken is reported):
1. not empty (400); 2. at most NACHET_MAX_CONTENT_LENGTH MB (413); 3. an image of a
supported format, detected from the bytes: never an HTML or SVG document (415);
4. at most NACHET_MAX_IMAGE_PIXELS pixels, read from the header before any pixel is
decoded (413); 5. a format of NACHET_VALID_EXTENSION (415); 6. the claimed type
matches the real format (400); 7. the upright image (EXIF orientation applied) is
neither wider nor taller than NACHET_VALID_DIMENSION (400); 8. decodable and
resizable: the first frame decodes and gives a thumbnail (415).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shared import images
from shared.errors import AppError, BadRequest, PayloadTooLarge, UnsupportedMediaType, megabytes
from shared.settings import get_settings

THUMBNAIL_PX = 256


@dataclass(frozen=True)
class CheckedImage:
    """A picture that decodes: its pixels and facts, and its WebP thumbnail."""

    decoded: images.DecodedImage
    thumbnail: bytes


@dataclass(frozen=True)
class Inspection:
    """Everything the trigger records about a picture: the checks' verdict, and the decoded
    picture with its thumbnail when it decodes (even if it breaks another rule)."""

    checked: CheckedImage | None
    checks: dict[str, str | None]  # {"status": "ok" | "failed", "reason", "format"}


def format_name(pillow_format: str) -> str:
    """The format's lower-case name as API.md and NACHET_VALID_EXTENSION spell it (jpeg, png…)."""
    return images.FORMATS[pillow_format].names[0]


def _probe(data: bytes) -> images.ImageInfo:
    settings = get_settings()
    if not data:
        raise BadRequest("the image is empty")
    if len(data) > settings.max_content_bytes:
        raise PayloadTooLarge(
            f"the image is larger than {megabytes(settings.max_content_bytes)} MB "
            "(NACHET_MAX_CONTENT_LENGTH)"
        )
    # Markup is refused by name: an SVG or an HTML page can carry script, whatever its header claims.
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        raise UnsupportedMediaType("the file is an HTML or SVG document, not a supported image")
    return images.probe(data, max_pixels=settings.max_image_pixels)


def _check_facts(info: images.ImageInfo, claimed_type: str | None) -> None:
    settings = get_settings()
    images.check_accepted(info.format, settings.valid_extensions)
    names = images.FORMATS[info.format].names
    claimed = (claimed_type or "").lower()
    if not (claimed.startswith("image/") and claimed.removeprefix("image/") in names):
        raise BadRequest(
            f"header mismatch: the type claimed is {claimed or 'missing'} "
            f"but the bytes are a {names[0]} image"
        )
    if info.width > settings.max_width or info.height > settings.max_height:
        raise BadRequest(
            f"the image is {info.width}x{info.height} pixels, larger than the "
            f"{settings.max_width}x{settings.max_height} allowed (NACHET_VALID_DIMENSION)"
        )


def _decode(data: bytes) -> CheckedImage:
    return _with_thumbnail(images.decode(data, max_pixels=get_settings().max_image_pixels))


def _with_thumbnail(decoded: images.DecodedImage) -> CheckedImage:
    return CheckedImage(decoded, images.thumbnail_webp(decoded.image, longest_px=THUMBNAIL_PX))


def check_image(data: bytes, *, claimed_type: str | None) -> CheckedImage:
    """`data` decoded with its thumbnail, if it follows every rule of the module docstring;
    `claimed_type` is the MIME type the sender claims (image/jpeg…).

    Raises the error of the first rule broken: BadRequest, PayloadTooLarge or
    UnsupportedMediaType, with a message naming the rule.
    """
    _check_facts(_probe(data), claimed_type)
    return _decode(data)


def validate_image(image: images.SentImage) -> list[str]:
    """POST /api/image-validation: ["<sha256 hex of the bytes>"] when `image` follows every
    rule. Keeps nothing. Raises the error of the first rule broken."""
    return [check_image(image.data, claimed_type=image.claimed_type).decoded.sha256]


def inspect_image(data: bytes, *, claimed_type: str | None) -> Inspection:
    """The verdict of every rule on `data` and, whenever it decodes, the decoded picture
    and its thumbnail. Never raises for bad bytes."""
    try:
        info = _probe(data)
    except AppError as exc:  # nothing safe to decode
        return Inspection(None, {"status": "failed", "reason": exc.message, "format": None})
    return _inspection(info, claimed_type, lambda: _decode(data))


def inspect_decoded(decoded: images.DecodedImage) -> Inspection:
    """inspect_image's verdict on a picture's file that a route has decoded already (its
    pixels may still be decoding), claimed as its real type, without decoding it again.
    Its file kept rules 1 to 4 to be decoded. Never raises for bad bytes."""
    info = images.ImageInfo(decoded.format, decoded.width, decoded.height)
    return _inspection(info, decoded.content_type, lambda: _with_thumbnail(decoded))


def _inspection(info: images.ImageInfo, claimed_type: str | None,
                decode: Callable[[], CheckedImage]) -> Inspection:
    """The verdict of rules 5 to 8 on a file whose header gave `info`."""
    broken: AppError | None = None
    try:
        _check_facts(info, claimed_type)
    except AppError as exc:
        broken = exc
    try:
        checked: CheckedImage | None = decode()
    except AppError as exc:
        broken, checked = broken or exc, None
    return Inspection(checked, {
        "status": "failed" if broken else "ok",
        "reason": broken.message if broken else None,
        "format": format_name(info.format),
    })
