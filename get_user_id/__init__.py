"""POST /api/get-user-id {"email"} -> {"user_id"}: the caller's id, registered on first sight."""

import azure.functions as func

from shared.http import handle, users
from shared.services.users import user_id


def main(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return handle(req, users.caller, user_id, context=context)
