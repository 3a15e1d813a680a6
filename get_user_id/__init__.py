"""POST /api/get-user-id {"email"} -> {"user_id"}: the caller's id, registered on first sight."""

import azure.functions as func

from shared.http import Request, handle


def main(req: func.HttpRequest) -> func.HttpResponse:
    return handle(req, _user_id)


def _user_id(request: Request) -> dict:
    return {"user_id": str(request.caller.user_id)}
