"""The body of image-validation, as services.image_checks takes it."""

from __future__ import annotations

from shared.http.request import Request, decode_data_url
from shared.images import SentImage


def sent_image(request: Request) -> SentImage:
    """The `image` data URL, decoded. Raises BadRequest, PayloadTooLarge."""
    return decode_data_url(request.body.raw("image"))
