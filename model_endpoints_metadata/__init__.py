"""GET /api/model-endpoints-metadata -> the active pipelines (never an endpoint or a key)."""

import azure.functions as func

from shared.http import handle
from shared.http.request import no_input
from shared.services.pipelines import pipelines_metadata


def main(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return handle(req, no_input, lambda _: pipelines_metadata(), keep_connection=True, context=context)
