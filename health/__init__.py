"""GET /api/health -> {"status", "database", "storage"}; 503 naming the part that is down."""

import azure.functions as func

from shared.http import handle
from shared.services.health import check_health


def main(req: func.HttpRequest) -> func.HttpResponse:
    return handle(req, lambda _: check_health(), identify=False)
