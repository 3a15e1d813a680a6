"""POST /api/new-batch-import {"container_name", "user_id", "nb_pictures": int > 0, "folder_name": ""
or a name} -> {"session_id": "<picture_set_id>"}: a new folder, named after its id when unnamed."""

import azure.functions as func

from shared.http import batch, handle
from shared.services.batch import new_batch_import


def main(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return handle(req, batch.new_batch, new_batch_import, keep_connection=True, context=context)
