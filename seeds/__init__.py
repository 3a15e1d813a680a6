"""GET /api/seeds -> {"seeds": [{"seed_id", "seed_name"}]}, sorted by name."""

import azure.functions as func

from shared.http import handle
from shared.http.request import no_input
from shared.services.seeds import list_seeds


def main(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return handle(req, no_input, lambda _: list_seeds(), keep_connection=True, context=context)
