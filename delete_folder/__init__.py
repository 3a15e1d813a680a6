"""POST /api/del {"container_name", "folder_name": a picture_set_id or a folder name} -> [true]:
the folder's validated pictures are archived, then the folder is deleted; 400 for the default folder.

The folder is named `delete_folder` because `del` is a Python keyword; its route is `del`."""

import azure.functions as func

from shared.http import deletion, handle
from shared.services.deletion import delete_folder


def main(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return handle(req, deletion.folder_ref, delete_folder, keep_connection=True, context=context)
