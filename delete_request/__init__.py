"""POST /api/delete-request {"container_name", "folder_uuid"} -> true when the folder holds
validated pictures, else false."""

import azure.functions as func

from shared.http import deletion, handle
from shared.services.deletion import has_validated_pictures


def main(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return handle(req, deletion.folder_id, has_validated_pictures, keep_connection=True, context=context)
