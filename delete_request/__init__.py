"""POST /api/delete-request {"container_name", "folder_uuid"} -> true when the folder holds
validated pictures, else false."""

import azure.functions as func

from shared.http import handle
from shared.services.deletion import has_validated_pictures


def main(req: func.HttpRequest) -> func.HttpResponse:
    return handle(
        req, lambda r: has_validated_pictures(r.user_id("container_name"), r.body.id("folder_uuid"))
    )
