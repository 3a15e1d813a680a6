"""Helpers for the folder, picture and batch-import tests: small real images and a
signed-in user driving the routes."""

from __future__ import annotations

import io
import uuid
from typing import Any

from PIL import Image

from tests.conftest import App, Client
from tests.support.images import data_url


def image_bytes(shade: int = 0, *, fmt: str = "PNG", size: tuple[int, int] = (12, 8)) -> bytes:
    """A small image; each `shade` gives different bytes."""
    img = Image.new("RGB", size, (shade % 256, (shade * 7) % 256, (shade * 13) % 256))
    img.putpixel((0, 0), (255 - shade % 256, 0, 0))
    out = io.BytesIO()
    img.save(out, format=fmt)
    return out.getvalue()


class User:
    """A signed-in user of the app, with the routes of this area as methods."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.id = client.user_id()

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self.client.post(path, body)

    def ok(self, path: str, body: dict[str, Any]) -> Any:
        """POST and return the JSON of a 200 answer."""
        r = self.client.post(path, body)
        assert r.status_code == 200, (path, r.status_code, r.text)
        return r.json()

    def folders(self) -> list[dict]:
        return self.ok("get-directories", {"container_name": self.id})["folders"]

    def folder(self, folder_id: str) -> dict:
        return next(f for f in self.folders() if f["picture_set_id"] == folder_id)

    def create_dir(self, name: str) -> str:
        return self.ok("create-dir", {"container_name": self.id, "folder_name": name})[0]

    def new_batch(self, nb_pictures: int = 3, folder_name: str = "") -> str:
        body = {"container_name": self.id, "user_id": self.id, "nb_pictures": nb_pictures,
                "folder_name": folder_name}
        return self.ok("new-batch-import", body)["session_id"]

    def upload_body(self, session_id: str, data: bytes, **extra: Any) -> dict[str, Any]:
        body = {"container_name": self.id, "user_id": self.id, "session_id": session_id,
                "seed_name": "Ambrosia trifida", "image": data_url(data), "zoom_level": 1.5,
                "nb_seeds": 3}
        return {**body, **extra}

    def upload(self, session_id: str, data: bytes, **extra: Any) -> None:
        assert self.ok("upload-picture", self.upload_body(session_id, data, **extra)) == [True]


def add_inference(app: App, picture_id: str, user_id: str) -> str:
    """Insert an inference (no boxes) for the picture directly; return its id."""
    inference_id = str(uuid.uuid4())
    pipeline_id = str(uuid.uuid4())
    app.sql("INSERT INTO pipeline (id, name, version) VALUES (%s, %s, '1')",
            [pipeline_id, f"p-{pipeline_id}"])
    app.sql("INSERT INTO inference (id, picture_id, user_id, pipeline_id, result)"
            " VALUES (%s, %s, %s, %s, '{}')", [inference_id, picture_id, user_id, pipeline_id])
    return inference_id


def state(app: App) -> tuple[list[tuple], list[str]]:
    """Every picture row (id, folder, blob name) and every blob: to show that nothing changed."""
    rows = app.sql("SELECT id::text, picture_set_id::text, blob_name FROM picture ORDER BY blob_name")
    return rows, app.blobs()


def assert_consistent(app: App) -> None:
    """Every picture row has its blob and every blob its row."""
    rows, blobs = state(app)
    assert sorted(r[2] for r in rows) == blobs


def add_plain_picture(app: App, user_id: str, folder_id: str, data: bytes) -> str:
    """Store a picture that is not validated (as /inf stores one): blob, then row. Returns its id."""
    from azure.storage.blob import BlobServiceClient, ContentSettings

    picture_id = str(uuid.uuid4())
    name = f"{user_id}/{folder_id}/{picture_id}.png"
    service = BlobServiceClient.from_connection_string(app.storage)
    container = service.get_container_client(app.pictures_container)
    if not container.exists():
        container.create_container()
    container.upload_blob(name, data, content_settings=ContentSettings(content_type="image/png"))
    app.sql("INSERT INTO picture (id, picture_set_id, blob_name, content_type, width, height, sha256)"
            " VALUES (%s, %s, %s, 'image/png', 12, 8, md5(%s))", [picture_id, folder_id, name, picture_id])
    return picture_id


def mixed_folder(app: App, user: User, name: str = "Mixed") -> tuple[str, list[str], list[str]]:
    """A folder of `user` with two validated pictures (one with an inference) and two plain
    ones; returns (folder id, validated picture ids, plain picture ids)."""
    folder = user.new_batch(2, name)
    user.upload(folder, image_bytes(101))
    user.upload(folder, image_bytes(102))
    validated = [r[0] for r in app.sql(
        "SELECT id::text FROM picture WHERE picture_set_id = %s ORDER BY id", [folder])]
    add_inference(app, validated[0], user.id)
    plain = [add_plain_picture(app, user.id, folder, image_bytes(n)) for n in (103, 104)]
    return folder, validated, plain
