"""The caller, as get-user-id answers it."""

from __future__ import annotations

from shared.http.request import Request
from shared.identity import Caller


def caller(request: Request) -> Caller:
    """Who is asking, registered on first sight. Raises Unauthorized, BadRequest."""
    return request.caller
