"""POST /api/image-validation {"image": data URL} -> ["<sha256 hex of the bytes>"], or
400/413/415 naming the first rule broken (shared/services/image_checks.py lists them)."""

import azure.functions as func

from shared.http import handle, image_checks
from shared.services.image_checks import validate_image


def main(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return handle(req, image_checks.sent_image, validate_image, context=context)
