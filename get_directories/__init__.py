"""POST /api/get-directories {"container_name"} -> {"folders": [{"picture_set_id", "folder_name",
"nb_pictures", "pictures": [{"picture_id", "is_validated", "inference_exist", "thumbnail": URL or
null}]}]}, default folder first."""

import azure.functions as func

from shared.http import folders, handle
from shared.services.folders import list_directories


def main(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return handle(req, folders.listing, list_directories, keep_connection=True, context=context)
