"""POST /api/delete-with-archive: validated pictures move, rows and blobs, to the archive user;
the rest goes; a storage or database failure half-way changes nothing."""

from __future__ import annotations

import uuid

import psycopg
import pytest
import requests
from azure.storage.blob import BlobServiceClient

from devhost.blob_triggers import BlobTriggerRunner
from shared import storage
from shared.db.queries import pictures as picture_queries
from shared.errors import DependencyUnavailable, NotFound
from shared.picture_blobs import thumbnail_blob_name
from tests.conftest import ROOT, Client, assert_error
from tests.support.folders import User, assert_consistent, image_bytes, mixed_folder, state

ARCHIVE = "archive@nachet.local"


class Archivist:
    """What the archive user owns, read through the services in process: it cannot sign in."""

    def __init__(self, app) -> None:
        self.id = uuid.UUID(app.sql("SELECT id::text FROM users WHERE email = %s", [ARCHIVE])[0][0])

    def folder(self, folder_id: str) -> dict:
        from shared.services.folders import Listing, list_directories

        listing = list_directories(Listing(self.id))["folders"]
        return next(f for f in listing if f["picture_set_id"] == folder_id)

    def picture(self, picture_id: str) -> dict:
        from shared.services.pictures import PictureId, get_picture

        return get_picture(PictureId(self.id, uuid.UUID(picture_id)))


def archive(user: User, folder: str):
    return user.post("delete-with-archive", {"container_name": user.id, "folder_uuid": folder})


def archive_folders(app) -> list[tuple]:
    return app.sql("SELECT ps.id::text, ps.name FROM picture_set ps JOIN users u ON u.id = ps.owner_id"
                   " WHERE u.email = %s AND ps.id <> u.default_set_id ORDER BY ps.created_at", [ARCHIVE])


def test_validated_pictures_move_to_the_archive_the_rest_goes(app, client):
    user = User(client)
    folder, validated, plain = mixed_folder(app, user, "Canola")
    # Thumbnails, as the blob trigger writes them, go with their old blobs.
    for (blob,) in app.sql("SELECT blob_name FROM picture"):
        storage.upload(app.thumbnails_container, thumbnail_blob_name(blob), b"w", content_type="image/webp")
    labels_before = app.sql("SELECT picture_id::text, seed_id FROM picture_seed ORDER BY 1")
    r = archive(user, folder)
    assert r.status_code == 200 and r.json() is True

    assert [f["folder_name"] for f in user.folders()] == ["General"]
    [(archive_id, archive_name)] = archive_folders(app)
    assert archive_name == f"{user.id}/Canola"
    archive_user = app.sql("SELECT id::text FROM users WHERE email = %s", [ARCHIVE])[0][0]
    rows = app.sql("SELECT id::text, picture_set_id::text, blob_name, metadata FROM picture ORDER BY id")
    assert [r[0] for r in rows] == sorted(validated)
    for picture_id, folder_id, blob, metadata in rows:
        assert folder_id == archive_id
        assert blob == f"{archive_user}/{archive_id}/{picture_id}.png"
        audit = metadata["archived_from"]
        assert (audit["user_id"], audit["folder_id"], audit["folder_name"]) == (user.id, folder, "Canola")
    # Labels and the inference moved with their pictures; nothing of the plain ones is left.
    assert app.sql("SELECT picture_id::text, seed_id FROM picture_seed ORDER BY 1") == labels_before
    assert app.sql("SELECT picture_id::text FROM inference") == [(validated[0],)]
    assert not set(plain) & {r[0] for r in app.sql("SELECT id::text FROM picture")}
    assert app.blobs() == sorted(r[2] for r in rows)
    assert app.blobs(app.thumbnails_container) == []
    assert_consistent(app)


def test_archived_pictures_show_no_thumbnail_until_the_trigger_makes_theirs(app, client):
    user = User(client)
    folder, validated, _ = mixed_folder(app, user, "Thumbs")
    runner = BlobTriggerRunner(ROOT)
    try:
        assert {i.outcome for i in runner.run_once()} == {"done"}
        old = dict(app.sql("SELECT id::text, metadata->>'thumbnail' FROM picture WHERE id = ANY(%s::uuid[])",
                           [validated]))
        assert all(old.values())
        assert archive(user, folder).json() is True

        # The old thumbnails are deleted with the old blobs: the rows no longer name them.
        assert app.sql("SELECT count(*) FROM picture WHERE metadata ? 'thumbnail'") == [(0,)]
        archivist = Archivist(app)
        [(archive_id, _)] = archive_folders(app)
        listed = archivist.folder(archive_id)["pictures"]
        assert sorted(p["picture_id"] for p in listed) == sorted(validated)
        assert [p["thumbnail"] for p in listed] == [None, None]
        for picture_id in validated:
            assert archivist.picture(picture_id)["thumbnail"] is None

        # The trigger processes the moved blobs and records their thumbnails.
        assert {i.outcome for i in runner.run_once()} == {"done"}
    finally:
        runner.stop()
    new = dict(app.sql("SELECT id::text, metadata->>'thumbnail' FROM picture"))
    assert sorted(new) == sorted(validated) and all(new.values())
    assert not set(new.values()) & set(old.values())
    for picture in archivist.folder(archive_id)["pictures"]:
        got = requests.get(picture["thumbnail"], timeout=10)
        assert got.status_code == 200 and got.content[8:12] == b"WEBP"
    assert_consistent(app)


def test_the_archive_folder_of_a_name_is_reused(app, client):
    user = User(client)
    first, _, _ = mixed_folder(app, user, "Again")
    assert archive(user, first).json() is True
    second = user.new_batch(1, "Again")
    user.upload(second, image_bytes(150))
    # The same bytes as a picture already archived from another session are kept too.
    user.upload(second, image_bytes(101))
    assert archive(user, second).json() is True
    [(archive_id, _)] = archive_folders(app)
    assert app.sql("SELECT count(*) FROM picture WHERE picture_set_id = %s", [archive_id]) == [(4,)]
    assert_consistent(app)


def test_without_validated_pictures_nothing_is_archived(app, client):
    user = User(client)
    folder = user.create_dir("Empty")
    assert archive(user, folder).json() is True
    assert user.folders()[1:] == []
    assert app.sql("SELECT count(*) FROM users WHERE email = %s", [ARCHIVE]) == [(0,)]


def test_default_folder_and_ownership(app, make_client):
    alice, bob = User(make_client()), User(make_client())
    folder, _, _ = mixed_folder(app, alice)
    before = state(app)
    general = alice.folders()[0]["picture_set_id"]
    assert_error(archive(alice, general), 400, "default folder")
    assert_error(archive(bob, folder), 403, "not yours")
    assert_error(bob.post("delete-with-archive", {"container_name": alice.id, "folder_uuid": folder}), 403)
    assert_error(archive(bob, str(uuid.uuid4())), 404)
    assert_error(archive(bob, "Mixed"), 400, "folder_uuid is not a valid id")
    body = {"container_name": alice.id, "folder_uuid": folder}
    assert_error(Client(app.base_url, None).post("delete-with-archive", body), 401)
    assert state(app) == before
    assert archive_folders(app) == []


def test_storage_failing_during_the_copies_changes_nothing(app, client, monkeypatch):
    user = User(client)
    folder, _, _ = mixed_folder(app, user)
    before = state(app)
    real_copy = storage.copy
    calls: list[str] = []

    def failing_second(container, source, destination, **kwargs):
        calls.append(destination)
        if len(calls) == 2:
            raise DependencyUnavailable("the storage is unavailable")
        real_copy(container, source, destination, **kwargs)

    monkeypatch.setattr(storage, "copy", failing_second)
    assert_error(archive(user, folder), 503, "storage")
    assert len(calls) == 2
    assert state(app) == before  # the first copy was deleted again
    assert archive_folders(app) == []
    assert user.folder(folder)["nb_pictures"] == 4


def test_database_failing_after_the_copies_changes_nothing(app, client, monkeypatch):
    user = User(client)
    folder, _, _ = mixed_folder(app, user)
    before = state(app)
    copies: list[str] = []
    real_copy = storage.copy

    def recording_copy(container, source, destination, **kwargs):
        real_copy(container, source, destination, **kwargs)
        copies.append(destination)

    def db_down(*args, **kwargs):
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(storage, "copy", recording_copy)
    monkeypatch.setattr(picture_queries, "move", db_down)
    assert_error(archive(user, folder), 503, "database")
    assert len(copies) == 2  # both blobs were copied, then deleted again
    assert state(app) == before
    assert archive_folders(app) == []


def test_a_picture_validated_while_copying_makes_it_409_and_changes_nothing(app, client, monkeypatch):
    user = User(client)
    folder, _, plain = mixed_folder(app, user)
    real_copy = storage.copy

    def copy_then_validate(container, source, destination, **kwargs):
        real_copy(container, source, destination, **kwargs)
        # Feedback on another picture of the folder validates it meanwhile.
        app.sql("INSERT INTO picture_seed (picture_id, seed_id) SELECT %s, id FROM seed LIMIT 1"
                " ON CONFLICT DO NOTHING", [plain[0]])

    monkeypatch.setattr(storage, "copy", copy_then_validate)
    before_blobs = app.blobs()
    assert_error(archive(user, folder), 409, "try again")
    assert app.blobs() == before_blobs
    assert user.folder(folder)["nb_pictures"] == 4
    monkeypatch.setattr(storage, "copy", real_copy)
    assert archive(user, folder).json() is True  # trying again archives all three
    assert app.sql("SELECT count(*) FROM picture") == [(3,)]
    assert_consistent(app)


def test_validated_picture_whose_bytes_are_gone_is_archived_without_them(app, client):
    user = User(client)
    folder, validated, _ = mixed_folder(app, user, "Lost")
    [(lost_blob,)] = app.sql("SELECT blob_name FROM picture WHERE id = %s", [validated[0]])
    BlobServiceClient.from_connection_string(app.storage).get_container_client(
        app.pictures_container).delete_blob(lost_blob)
    labels_before = app.sql("SELECT picture_id::text, seed_id FROM picture_seed ORDER BY 1")
    r = archive(user, folder)
    assert r.status_code == 200 and r.json() is True
    # The folder goes; both validated pictures keep their rows, labels and inference in the
    # archive; the one whose bytes were lost stays a row without a blob for `repair` to report.
    assert [f["folder_name"] for f in user.folders()] == ["General"]
    rows = dict(app.sql("SELECT id::text, blob_name FROM picture"))
    assert sorted(rows) == sorted(validated)
    assert app.sql("SELECT picture_id::text, seed_id FROM picture_seed ORDER BY 1") == labels_before
    assert app.blobs() == [rows[validated[1]]]
    with pytest.raises(NotFound, match="no longer stored"):
        Archivist(app).picture(validated[0])
