"""POST /api/get-picture: the image with its real type, the latest inference or null, ownership."""

from __future__ import annotations

import base64
import uuid

import pytest
from azure.storage.blob import BlobServiceClient

from shared import storage
from shared.errors import DependencyUnavailable
from tests.conftest import Client, assert_error
from tests.support.folders import User, add_inference, image_bytes
from tests.support.images import data_url


@pytest.fixture
def user(app, client) -> User:
    return User(client)


def only_picture(app) -> str:
    return app.sql("SELECT id::text FROM picture")[0][0]


def test_returns_the_bytes_with_their_real_type_and_no_inference(app, user):
    session = user.new_batch()
    jpeg = image_bytes(2, fmt="JPEG", size=(40, 30))
    user.upload(session, jpeg, image=data_url(jpeg, "image/gif"))
    picture_id = only_picture(app)
    body = user.ok("get-picture", {"container_name": user.id, "picture_id": picture_id})
    assert set(body) == {"picture_id", "inference", "image", "thumbnail"}
    assert body["picture_id"] == picture_id
    assert body["inference"] is None
    header, payload = body["image"].split(",", 1)
    assert header == "data:image/jpeg;base64"
    assert base64.b64decode(payload) == jpeg


def test_includes_the_latest_inference_object(app, user):
    session = user.new_batch()
    user.upload(session, image_bytes(1))
    picture_id = only_picture(app)
    add_inference(app, picture_id, user.id)
    latest = add_inference(app, picture_id, user.id)
    app.sql("UPDATE inference SET created_at = now() + interval '1 minute' WHERE id = %s", [latest])
    inference = user.ok("get-picture", {"container_name": user.id, "picture_id": picture_id})["inference"]
    assert isinstance(inference, dict)
    assert inference["inference_id"] == latest
    assert inference["picture_id"] == picture_id
    assert inference["boxes"] == [] and inference["totalBoxes"] == 0


def test_someone_elses_picture_is_403_and_unknown_is_404(app, make_client):
    alice, bob = User(make_client()), User(make_client())
    alice.upload(alice.new_batch(), image_bytes(1))
    picture_id = only_picture(app)

    def get(owner: str, picture: str):
        return bob.post("get-picture", {"container_name": owner, "picture_id": picture})

    assert_error(get(bob.id, picture_id), 403, "not yours")
    assert_error(get(alice.id, picture_id), 403)
    assert_error(get(bob.id, str(uuid.uuid4())), 404, "picture")


def test_bad_input_is_400(app, user):
    for body, words in [
        ({"container_name": user.id}, ["picture_id is missing"]),
        ({"container_name": user.id, "picture_id": "42"}, ["picture_id is not a valid id"]),
        ({"container_name": user.id, "picture_id": 42}, ["picture_id must be a string"]),
        ({"picture_id": str(uuid.uuid4())}, ["container_name is missing"]),
    ]:
        assert_error(user.post("get-picture", body), 400, *words)


def test_storage_down_is_503(app, user, monkeypatch):
    user.upload(user.new_batch(), image_bytes(1))
    picture_id = only_picture(app)

    def down(*args, **kwargs):
        raise DependencyUnavailable("the storage is unavailable")

    monkeypatch.setattr(storage, "download", down)
    body = {"container_name": user.id, "picture_id": picture_id}
    assert_error(user.post("get-picture", body), 503, "storage")


def test_no_identity_is_401(app):
    body = {"container_name": str(uuid.uuid4()), "picture_id": str(uuid.uuid4())}
    assert_error(Client(app.base_url, None).post("get-picture", body), 401)


def test_picture_whose_bytes_are_gone_is_a_404_naming_no_storage_path(app, user):
    user.upload(user.new_batch(), image_bytes(1))
    [(picture_id, blob_name)] = app.sql("SELECT id::text, blob_name FROM picture")
    service = BlobServiceClient.from_connection_string(app.storage)
    service.get_container_client(app.pictures_container).delete_blob(blob_name)
    r = user.post("get-picture", {"container_name": user.id, "picture_id": picture_id})
    assert_error(r, 404, "no longer stored")
    for revealing in (blob_name, app.pictures_container, user.id, picture_id, "blob"):
        assert revealing not in r.text
