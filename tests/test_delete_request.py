"""POST /api/delete-request: a bare true or false, whether the folder holds validated pictures."""

from __future__ import annotations

import uuid

from tests.conftest import Client, assert_error
from tests.support.folders import User, add_plain_picture, image_bytes, state


def ask(user: User, folder: str):
    r = user.post("delete-request", {"container_name": user.id, "folder_uuid": folder})
    assert r.status_code == 200, r.text
    assert r.text.strip() in ("true", "false")
    return r.json()


def test_tells_whether_validated_pictures_are_there(app, client):
    user = User(client)
    folder = user.create_dir("Lot")
    assert ask(user, folder) is False
    add_plain_picture(app, user.id, folder, image_bytes(1))
    assert ask(user, folder) is False
    session = user.new_batch()
    user.upload(session, image_bytes(2))
    assert ask(user, session) is True
    general = user.folders()[0]["picture_set_id"]
    assert ask(user, general) is False
    before = state(app)
    ask(user, session)
    assert state(app) == before  # it only asks


def test_ownership_and_bad_input(app, make_client):
    alice, bob = User(make_client()), User(make_client())
    folder = alice.create_dir("Alices")

    def ask(owner: str, folder: str):
        return bob.post("delete-request", {"container_name": owner, "folder_uuid": folder})

    assert_error(ask(bob.id, folder), 403, "not yours")
    assert_error(ask(alice.id, folder), 403)
    assert_error(ask(bob.id, str(uuid.uuid4())), 404)
    assert_error(ask(bob.id, "Alices"), 400, "folder_uuid is not a valid id")
    assert_error(bob.post("delete-request", {"container_name": bob.id}), 400, "folder_uuid is missing")
    body = {"container_name": alice.id, "folder_uuid": folder}
    assert_error(Client(app.base_url, None).post("delete-request", body), 401)
