"""The body of get-picture, as services.pictures takes it."""

from __future__ import annotations

from shared.http.request import Request
from shared.services.pictures import PictureId


def picture_id(request: Request) -> PictureId:
    """The caller's picture, and whether to draw its boxes on it ("annotated", optional).
    Raises BadRequest, Unauthorized, Forbidden, NotFound."""
    return PictureId(request.user_id("container_name"), request.body.id("picture_id"),
                     request.body.flag("annotated"))
