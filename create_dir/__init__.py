"""POST /api/create-dir {"container_name", "folder_name"} -> ["<picture_set_id>"]; 409 if the
caller already has a folder of that name (in any case)."""

import azure.functions as func

from shared.http import folders, handle
from shared.services.folders import create_dir


def main(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return handle(req, folders.new_folder, create_dir, keep_connection=True, context=context)
