"""POST /api/delete-with-archive {"container_name", "folder_uuid"} -> true: the folder's validated
pictures are moved to the archive user, then the folder is deleted; 400 for the default folder."""

import azure.functions as func

from shared.http import deletion, handle
from shared.services.deletion import delete_with_archive


def main(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return handle(req, deletion.folder_id, delete_with_archive, keep_connection=True, context=context)
