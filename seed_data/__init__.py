"""GET /api/seed-data/{seed_name} -> that seed's record; 404 if unknown."""

import azure.functions as func

from shared.http import handle, seeds
from shared.services.seeds import seed_record


def main(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return handle(req, seeds.seed_name, seed_record, keep_connection=True, context=context)
