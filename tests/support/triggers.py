"""Pictures put straight into the test's database and containers, as the routes store them,
for the blob trigger tests."""

from __future__ import annotations

import uuid
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import BlobServiceClient, ContentSettings

from tests.conftest import App, Client


@dataclass(frozen=True)
class Row:
    """A picture row as the trigger leaves it."""

    content_type: str
    width: int
    height: int
    sha256: str
    metadata: dict


def container(app: App, name: str):
    """The container `name` of the test's storage account, created if needed."""
    client = BlobServiceClient.from_connection_string(app.storage).get_container_client(name)
    with suppress(ResourceExistsError):
        client.create_container()
    return client


def default_folder(app: App, client: Client) -> tuple[str, str]:
    """(user id, id of the user's General folder), registering the user."""
    user_id = client.user_id()
    [(folder_id,)] = app.sql("SELECT default_set_id FROM users WHERE id = %s", [user_id])
    return user_id, str(folder_id)


def put_picture(
    app: App, owner: tuple[str, str], data: bytes, *, ext: str = "png",
    content_type: str = "image/png", row: bool = True,
) -> str:
    """Upload `data` as a new picture of `owner` (user id, folder id) and, with `row`, insert
    its row with placeholder facts (1x1, no sha256) that the trigger must correct.
    Returns the blob name."""
    user_id, folder_id = owner
    picture_id = uuid.uuid4()
    blob_name = f"{user_id}/{folder_id}/{picture_id}.{ext}"
    container(app, app.pictures_container).upload_blob(
        blob_name, data, overwrite=True, content_settings=ContentSettings(content_type=content_type))
    if row:
        insert_row(app, folder_id, blob_name, content_type=content_type)
    return blob_name


def insert_row(app: App, folder_id: str, blob_name: str, *, content_type: str = "image/png") -> None:
    """Insert the picture row of `blob_name` (its id is the blob's file name)."""
    picture_id = blob_name.rsplit("/", 1)[1].split(".")[0]
    app.sql(
        "INSERT INTO picture (id, picture_set_id, blob_name, content_type, width, height, sha256) "
        "VALUES (%s, %s, %s, %s, 1, 1, '')",
        [picture_id, folder_id, blob_name, content_type],
    )


def row(app: App, blob_name: str) -> Row:
    """The picture row stored for `blob_name`."""
    [found] = app.sql(
        "SELECT content_type, width, height, sha256, metadata FROM picture WHERE blob_name = %s",
        [blob_name],
    )
    return Row(*found)


def thumbnail(app: App, picture_blob_name: str) -> bytes:
    """The bytes of the picture's thumbnail blob."""
    name = picture_blob_name.rsplit(".", 1)[0] + ".webp"
    return container(app, app.thumbnails_container).download_blob(name).readall()


class Clock:
    """A UTC clock that moves only when told, for the blob trigger's retry times."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
