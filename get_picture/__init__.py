"""POST /api/get-picture {"container_name", "picture_id", "annotated": optional boolean} ->
{"picture_id", "inference": the latest inference object or null, "image": "data:<real content
type>;base64,…" (annotated: the picture with the inference's boxes drawn), "thumbnail": URL or
null}."""

import azure.functions as func

from shared.http import handle, pictures
from shared.services.pictures import get_picture


def main(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return handle(req, pictures.picture_id, get_picture, keep_connection=True, context=context)
