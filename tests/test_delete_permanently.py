"""POST /api/delete-permanently: everything goes, rows and blobs; the default folder stays;
storage failing half-way leaves blobs that the repair command removes."""

from __future__ import annotations

import uuid

from admin.repair import repair
from shared import storage
from shared.errors import DependencyUnavailable
from tests.conftest import Client, assert_error
from tests.support.folders import User, assert_consistent, image_bytes, mixed_folder, state


def delete(user: User, folder: str):
    return user.post("delete-permanently", {"container_name": user.id, "folder_uuid": folder})


def test_deletes_every_picture_row_and_blob(app, client):
    user = User(client)
    folder, _, _ = mixed_folder(app, user)
    keep = user.create_dir("Kept")
    user.upload(user.new_batch(1, "Other"), image_bytes(7))
    kept_rows = app.sql("SELECT id FROM picture WHERE picture_set_id <> %s", [folder])
    r = delete(user, folder)
    assert r.status_code == 200 and r.json() is True
    assert [f["folder_name"] for f in user.folders()] == ["General", "Kept", "Other"]
    assert app.sql("SELECT id FROM picture") == kept_rows
    assert app.sql("SELECT count(*) FROM inference") == [(0,)]
    assert app.sql("SELECT count(*) FROM picture_seed") == [(1,)]
    assert not [b for b in app.blobs() if f"/{folder}/" in b]
    assert_consistent(app)
    assert keep in [f["picture_set_id"] for f in user.folders()]
    # Nothing was archived.
    assert app.sql("SELECT count(*) FROM users WHERE email = 'archive@nachet.local'") == [(0,)]


def test_default_folder_cannot_be_deleted(app, client):
    user = User(client)
    general = user.folders()[0]["picture_set_id"]
    assert_error(delete(user, general), 400, "default folder")
    assert [f["folder_name"] for f in user.folders()] == ["General"]


def test_ownership_and_bad_input_change_nothing(app, make_client):
    alice, bob = User(make_client()), User(make_client())
    folder, _, _ = mixed_folder(app, alice)
    before = state(app)
    assert_error(delete(bob, folder), 403, "not yours")
    assert_error(bob.post("delete-permanently", {"container_name": alice.id, "folder_uuid": folder}), 403)
    assert_error(delete(bob, str(uuid.uuid4())), 404)
    assert_error(delete(bob, "Mixed"), 400, "folder_uuid is not a valid id")
    assert_error(bob.post("delete-permanently", {"container_name": bob.id}), 400, "folder_uuid is missing")
    body = {"container_name": alice.id, "folder_uuid": folder}
    assert_error(Client(app.base_url, None).post("delete-permanently", body), 401)
    assert state(app) == before


def test_storage_failing_half_way_leaves_only_blobs_that_repair_removes(app, client, monkeypatch):
    user = User(client)
    folder, _, _ = mixed_folder(app, user)
    real_delete = storage.delete
    calls: list[str] = []

    def failing_after_one(container, name):
        calls.append(name)
        if len(calls) > 1:
            raise DependencyUnavailable("the storage is unavailable")
        real_delete(container, name)

    monkeypatch.setattr(storage, "delete", failing_after_one)
    r = delete(user, folder)
    assert r.status_code == 200 and r.json() is True  # the rows are gone: the delete happened
    assert app.sql("SELECT count(*) FROM picture") == [(0,)]
    assert len(calls) == 2  # it stopped at the first failure instead of hammering the storage
    left = app.blobs()
    assert len(left) == 3
    monkeypatch.setattr(storage, "delete", real_delete)
    report = repair(grace_minutes=0)
    assert report.deleted_blobs == [f"{app.pictures_container}/{name}" for name in left]
    assert report.missing_blobs == []
    assert app.blobs() == []
