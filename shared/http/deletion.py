"""The bodies of the folder deletes (del, delete-request, delete-permanently,
delete-with-archive), as services.deletion takes them."""

from __future__ import annotations

from shared.http.request import Request
from shared.services.deletion import FolderId, FolderRef


def folder_id(request: Request) -> FolderId:
    """The caller's folder by `folder_uuid`. Raises BadRequest, Unauthorized, Forbidden, NotFound."""
    return FolderId(request.user_id("container_name"), request.body.id("folder_uuid"))


def folder_ref(request: Request) -> FolderRef:
    """The caller's folder by id or name in `folder_name`. Raises BadRequest, Unauthorized,
    Forbidden, NotFound."""
    return FolderRef(request.user_id("container_name"), request.body.text("folder_name"))
