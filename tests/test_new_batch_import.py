"""POST /api/new-batch-import: a session folder, named or named after its id; nb_pictures checked."""

from __future__ import annotations

import json
import uuid

from tests.conftest import Client, assert_error
from tests.support.folders import User


def folder_rows(app) -> list[tuple]:
    return app.sql("SELECT id::text, name, metadata FROM picture_set"
                   " WHERE name <> 'General' ORDER BY created_at")


def test_unnamed_session_is_named_after_its_id(app, client):
    user = User(client)
    body = user.ok("new-batch-import", {"container_name": user.id, "user_id": user.id,
                                        "nb_pictures": 12, "folder_name": ""})
    assert list(body) == ["session_id"]
    session = body["session_id"]
    assert folder_rows(app) == [(session, session, {"nb_pictures": 12})]
    assert user.folder(session) == {"picture_set_id": session, "folder_name": session,
                                    "nb_pictures": 0, "pictures": []}


def test_named_session_and_missing_folder_name(app, client):
    user = User(client)
    named = user.new_batch(5, "Canola 2024")
    unnamed = user.ok("new-batch-import", {"container_name": user.id, "nb_pictures": 1})["session_id"]
    assert folder_rows(app) == [(named, "Canola 2024", {"nb_pictures": 5}),
                                (unnamed, unnamed, {"nb_pictures": 1})]


def test_user_id_alone_names_the_user(app, client):
    user = User(client)
    body = user.ok("new-batch-import", {"user_id": user.id, "nb_pictures": 2, "folder_name": ""})
    uuid.UUID(body["session_id"])


BAD = [
    ({"nb_pictures": 0}, 400, ["nb_pictures", "at least 1"]),
    ({"nb_pictures": -3}, 400, ["nb_pictures", "at least 1"]),
    ({"nb_pictures": "4"}, 400, ["nb_pictures", "whole number"]),
    ({"nb_pictures": 2.5}, 400, ["nb_pictures", "whole number"]),
    ({"nb_pictures": 3.0}, 400, ["nb_pictures", "whole number"]),
    ({"nb_pictures": True}, 400, ["nb_pictures", "whole number"]),
    ({"nb_pictures": None}, 400, ["nb_pictures is missing"]),
    ({"nb_pictures": [1]}, 400, ["nb_pictures", "whole number"]),
    ({"nb_pictures": 1, "folder_name": "   "}, 400, ["folder_name", "empty"]),
    ({"nb_pictures": 1, "folder_name": "a/b"}, 400, ["folder_name", "/"]),
    ({"nb_pictures": 1, "folder_name": "<b>x"}, 400, ["folder_name", "letters"]),
    ({"nb_pictures": 1, "folder_name": "x" * 101}, 400, ["folder_name", "100"]),
    ({"nb_pictures": 1, "folder_name": 5}, 400, ["folder_name must be a string"]),
    ({"nb_pictures": 1, "folder_name": "GENERAL"}, 409, ["already"]),
]


def test_bad_input_gets_its_status_and_changes_nothing(app, client):
    user = User(client)
    for extra, status, words in BAD:
        body = {"container_name": user.id, "user_id": user.id, "folder_name": "", **extra}
        if extra.get("nb_pictures", 0) is None:
            del body["nb_pictures"]
        assert_error(user.post("new-batch-import", body), status, *words)
    assert folder_rows(app) == []


def test_raw_float_in_json_is_refused(app, client):
    user = User(client)
    head = json.dumps({"container_name": user.id, "user_id": user.id, "folder_name": ""})
    raw = head[:-1] + ', "nb_pictures": 1e2}'
    assert_error(client.post("new-batch-import", data=raw), 400, "whole number")


def test_user_keys_must_agree_and_be_the_caller(app, make_client):
    alice, bob = User(make_client()), User(make_client())
    body = {"nb_pictures": 1, "folder_name": ""}
    assert_error(alice.post("new-batch-import", {**body, "container_name": alice.id, "user_id": bob.id}), 400,
                 "different users")
    assert_error(bob.post("new-batch-import", {**body, "container_name": alice.id, "user_id": alice.id}), 403)
    assert_error(bob.post("new-batch-import", {**body}), 400, "container_name is missing")
    assert folder_rows(app) == []


def test_no_identity_is_401(app):
    body = {"container_name": str(uuid.uuid4()), "nb_pictures": 1, "folder_name": ""}
    assert_error(Client(app.base_url, None).post("new-batch-import", body), 401)
