"""A stored picture as get-picture shows it: its latest inference and its bytes."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from uuid import UUID

from shared import storage
from shared.db import connection
from shared.db.queries import pictures
from shared.errors import Forbidden, NotFound
from shared.services.inference_view import load_latest_for_picture
from shared.services.thumbnails import thumbnail_url
from shared.settings import get_settings


@dataclass(frozen=True)
class PictureId:
    """get-picture: a user's picture."""

    user_id: UUID
    picture_id: UUID


def get_picture(req: PictureId) -> dict:
    """{"picture_id", "inference": the latest inference object or None, "image": a data URL
    with the picture's real content type, "thumbnail": its URL or None (thumbnails.py)}.

    Raises NotFound (no such picture, or its blob is gone), Forbidden (another user's),
    DependencyUnavailable.
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
    return {
        "picture_id": str(req.picture_id),
        "inference": inference,
        "image": f"data:{row.content_type};base64,{base64.b64encode(data).decode()}",
        "thumbnail": thumbnail_url(row.thumbnail),
    }
