"""A stored picture as get-picture shows it: its latest inference and its bytes."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import pybase64

from shared import images, storage
from shared.db import connection
from shared.db.queries import pictures
from shared.errors import Forbidden, NotFound
from shared.services.annotation import annotate
from shared.services.inference_view import load_latest_for_picture
from shared.services.thumbnails import thumbnail_url
from shared.settings import get_settings


@dataclass(frozen=True)
class PictureId:
    """get-picture: a user's picture."""

    user_id: UUID
    picture_id: UUID
    annotated: bool = False  # the image with the latest inference's boxes drawn on it


def get_picture(req: PictureId) -> dict:
    """{"picture_id", "inference": the latest inference object or None, "image": a data URL
    with the picture's real content type, "thumbnail": its URL or None (thumbnails.py)}.
    Annotated, "image" is the upright picture with the inference's boxes drawn
    (services.annotation), a JPEG for a JPEG, else a PNG; as stored when it has no inference.

    Raises NotFound (no such picture, or its blob is gone), Forbidden (another user's),
    DependencyUnavailable; annotated, PayloadTooLarge (past the pixel cap).
    """
    with connection() as conn:
        row = pictures.find(conn, req.picture_id)
        if row is None:
            raise NotFound("no such picture")
        if row.owner_id != req.user_id:
            raise Forbidden("this picture is not yours")
        inference = load_latest_for_picture(conn, req.picture_id)
    # Read after the transaction, so that no connection is held during the download.
    try:
        data = storage.download(get_settings().pictures_container, row.blob_name)
    except NotFound:
        raise NotFound("this picture's image is no longer stored") from None
    content_type = row.content_type
    if req.annotated and inference is not None:
        picture = images.decode(data, max_pixels=get_settings().max_image_pixels)
        data, content_type = annotate(picture, inference)
    return {
        "picture_id": str(req.picture_id),
        "inference": inference,
        "image": f"data:{content_type};base64,{pybase64.b64encode(data).decode()}",
        "thumbnail": thumbnail_url(row.thumbnail),
    }
