"""The bodies of get-directories and create-dir, as services.folders takes them."""

from __future__ import annotations

from shared.http.request import Request
from shared.services.folders import Listing, NewFolder


def listing(request: Request) -> Listing:
    """Whose folders to list. Raises BadRequest, Unauthorized, Forbidden, NotFound."""
    return Listing(request.user_id("container_name"))


def new_folder(request: Request) -> NewFolder:
    """The folder to create. Raises BadRequest, Unauthorized, Forbidden, NotFound."""
    return NewFolder(request.user_id("container_name"), request.body.text("folder_name"))
