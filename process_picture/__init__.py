"""Blob trigger on %NACHET_PICTURES_CONTAINER%/{user_id}/{picture_set_id}/{name}: a picture's
blob in; its row gets the real format, size, sha256 and checks, and its WebP thumbnail goes
to NACHET_THUMBNAILS_CONTAINER. Nothing is returned; an error raised makes the host retry."""

import azure.functions as func

from shared.services.picture_processing import process_picture
from shared.telemetry import blob_span


def main(blob: func.InputStream, context: func.Context) -> None:
    name = blob.name or ""
    with blob_span("process_picture", name, context):
        process_picture(name, blob.read())
