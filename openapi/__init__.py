"""GET /api/openapi.json -> the OpenAPI 3.1 document of the API (anonymous: it holds no secret)."""

import azure.functions as func

from shared.contract import openapi_document
from shared.http import handle
from shared.http.request import no_input


def main(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return handle(req, no_input, lambda _: openapi_document(), identify=False, context=context)
