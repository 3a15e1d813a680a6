"""Blob trigger on %NACHET_PICTURES_CONTAINER%/{user_id}/{picture_set_id}/{name}: a picture's
blob in; its row gets the real format, size, sha256 and checks, and its WebP thumbnail goes
to NACHET_THUMBNAILS_CONTAINER. Nothing is returned; an error raised makes the host retry."""

import azure.functions as func

from shared.services.picture_processing import process_picture


def main(blob: func.InputStream) -> None:
    process_picture(blob.name or "", blob.read())
