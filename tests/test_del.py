"""POST /api/del: the web client's delete, by folder id or name; validated pictures are archived."""

from __future__ import annotations

import uuid

from tests.conftest import Client, assert_error
from tests.support.folders import User, assert_consistent, mixed_folder, state


def delete(user: User, folder_name: object):
    return user.post("del", {"container_name": user.id, "folder_name": folder_name})


def test_by_id_archives_validated_pictures_and_answers_true_in_a_list(app, client):
    user = User(client)
    folder, validated, _ = mixed_folder(app, user, "Lot A")
    r = delete(user, folder)
    assert r.status_code == 200 and r.json() == [True]
    assert [f["folder_name"] for f in user.folders()] == ["General"]
    assert sorted(r[0] for r in app.sql("SELECT id::text FROM picture")) == sorted(validated)
    assert app.sql("SELECT ps.name FROM picture p JOIN picture_set ps ON ps.id = p.picture_set_id"
                   " GROUP BY ps.name") == [(f"{user.id}/Lot A",)]
    assert_consistent(app)


def test_by_name_in_any_case(app, client):
    user = User(client)
    user.create_dir("Old Lot")
    assert delete(user, "  old LOT ").json() == [True]
    assert [f["folder_name"] for f in user.folders()] == ["General"]


def test_default_folder_cannot_be_deleted_by_name_or_id(app, client):
    user = User(client)
    general = user.folders()[0]["picture_set_id"]
    assert_error(delete(user, "General"), 400, "default folder")
    assert_error(delete(user, general), 400, "default folder")
    assert [f["folder_name"] for f in user.folders()] == ["General"]


def test_ownership_and_bad_input_change_nothing(app, make_client):
    alice, bob = User(make_client()), User(make_client())
    folder, _, _ = mixed_folder(app, alice, "Alices lot")
    before = state(app)
    assert_error(delete(bob, folder), 403, "not yours")
    assert_error(bob.post("del", {"container_name": alice.id, "folder_name": folder}), 403)
    assert_error(delete(bob, "Alices lot"), 404)  # a name only ever names the caller's folders
    assert_error(delete(bob, str(uuid.uuid4())), 404)
    assert_error(delete(bob, ""), 400, "folder_name")
    assert_error(delete(bob, 7), 400, "folder_name must be a string")
    assert_error(bob.post("del", {"container_name": bob.id}), 400, "folder_name is missing")
    anonymous = Client(app.base_url, None)
    assert_error(anonymous.post("del", {"container_name": alice.id, "folder_name": folder}), 401)
    assert state(app) == before
    assert len(alice.folders()) == 2
