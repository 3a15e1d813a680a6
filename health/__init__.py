"""GET /api/health -> {"status", "database", "storage"}; 503 naming the part that is down."""

import azure.functions as func

from shared.http import handle
from shared.http.request import no_input
from shared.services.health import check_health


def main(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return handle(req, no_input, lambda _: check_health(), identify=False, context=context)
