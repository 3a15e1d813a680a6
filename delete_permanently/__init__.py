"""POST /api/delete-permanently {"container_name", "folder_uuid"} -> true: the folder and all its
pictures, validated ones too, are deleted; 400 for the default folder."""

import azure.functions as func

from shared.http import deletion, handle
from shared.services.deletion import delete_permanently


def main(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return handle(req, deletion.folder_id, delete_permanently, keep_connection=True, context=context)
