"""POST /api/upload-picture {"container_name", "user_id", "session_id", "seed_id" or "seed_name",
"image": data URL, "zoom_level": number (optional), "nb_seeds": int (optional)} -> [true]: the
picture is stored in the session's folder, validated as that seed; the same bytes twice store one."""

import azure.functions as func

from shared.http import batch, handle
from shared.services.batch import upload_picture


def main(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return handle(req, batch.upload, upload_picture, context=context)
