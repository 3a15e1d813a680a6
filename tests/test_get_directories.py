"""POST /api/get-directories: the exact JSON, ordering, flags, a fixed number of queries, identity."""

from __future__ import annotations

import uuid

import psycopg

from tests.conftest import Client, assert_error
from tests.support.folders import User, add_inference, image_bytes


def test_new_user_has_only_general_with_empty_pictures(app, client):
    user = User(client)
    body = user.ok("get-directories", {"container_name": user.id})
    assert list(body) == ["folders"]
    [general] = body["folders"]
    assert set(general) == {"picture_set_id", "folder_name", "nb_pictures", "pictures"}
    assert general["folder_name"] == "General"
    assert general["nb_pictures"] == 0
    assert general["pictures"] == []
    assert app.sql("SELECT default_set_id::text FROM users") == [(general["picture_set_id"],)]


def test_folders_pictures_and_flags(app, client):
    user = User(client)
    first = user.create_dir("Wheat lot")
    session = user.new_batch(2, "Batch")
    user.upload(session, image_bytes(1))
    user.upload(session, image_bytes(2))
    # A picture that is neither validated nor inferred, and one that was inferred.
    general = user.folders()[0]["picture_set_id"]
    app.sql("INSERT INTO picture (picture_set_id, blob_name, content_type, width, height, sha256)"
            " VALUES (%s, 'x/plain.png', 'image/png', 1, 1, 'a'),"
            " (%s, 'x/inferred.png', 'image/png', 1, 1, 'b')", [general, general])
    inferred = app.sql("SELECT id::text FROM picture WHERE blob_name = 'x/inferred.png'")[0][0]
    add_inference(app, inferred, user.id)

    folders = user.folders()
    assert [f["folder_name"] for f in folders] == ["General", "Wheat lot", "Batch"]
    assert [f["picture_set_id"] for f in folders[1:]] == [first, session]
    by_name = {f["folder_name"]: f for f in folders}
    assert by_name["Wheat lot"] == {"picture_set_id": first, "folder_name": "Wheat lot",
                                    "nb_pictures": 0, "pictures": []}
    batch = by_name["Batch"]
    assert batch["nb_pictures"] == 2 and len(batch["pictures"]) == 2
    for picture in batch["pictures"]:
        assert set(picture) == {"picture_id", "is_validated", "inference_exist", "thumbnail"}
        assert picture["is_validated"] is True and picture["inference_exist"] is False
        uuid.UUID(picture["picture_id"])
    flags = {p["picture_id"]: (p["is_validated"], p["inference_exist"])
             for p in by_name["General"]["pictures"]}
    assert flags[inferred] == (False, True)
    assert sorted(flags.values()) == [(False, False), (False, True)]


def test_default_folder_stays_first_whatever_its_age(app, client):
    user = User(client)
    user.create_dir("Older")
    app.sql("UPDATE picture_set SET created_at = now() + interval '1 day' WHERE name = 'General'")
    assert [f["folder_name"] for f in user.folders()] == ["General", "Older"]


def test_only_the_callers_folders(app, make_client):
    alice, bob = User(make_client()), User(make_client())
    alice.create_dir("Alice only")
    assert [f["folder_name"] for f in bob.folders()] == ["General"]


def test_query_count_does_not_grow_with_folders_and_pictures(app, client, monkeypatch):
    user = User(client)
    executed: list[str] = []
    real_execute = psycopg.Cursor.execute

    def counting(self, query, *args, **kwargs):
        executed.append(str(query))
        return real_execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Cursor, "execute", counting)

    def count() -> int:
        executed.clear()
        user.folders()
        return len(executed)

    small = count()
    folder_ids = [user.create_dir(f"Folder {n}") for n in range(30)]
    app.sql("""INSERT INTO picture (picture_set_id, blob_name, content_type, width, height, sha256)
               SELECT f, f::text || '/' || n || '.png', 'image/png', 1, 1, md5(f::text || n)
               FROM unnest(%s::uuid[]) f, generate_series(1, 20) n""", [folder_ids])
    large = count()
    assert small == large
    # Two queries for the listing itself (folders, pictures with their flags); the rest is
    # the pool's connection checks, search_path and the caller's identity.
    assert len([q for q in executed if "picture" in q]) == 2, executed
    assert large <= 7, executed
    assert sum(f["nb_pictures"] for f in user.folders()) == 600


def test_someone_elses_container_is_403(app, make_client):
    alice, bob = User(make_client()), User(make_client())
    assert_error(bob.post("get-directories", {"container_name": alice.id}), 403)


def test_no_identity_is_401(app):
    r = Client(app.base_url, None).post("get-directories", {"container_name": str(uuid.uuid4())})
    assert_error(r, 401)


def test_missing_or_bad_container_name_is_400(app, client):
    user = User(client)
    assert_error(user.post("get-directories", {}), 400, "container_name")
    assert_error(user.post("get-directories", {"container_name": "not-a-uuid"}), 400, "container_name")
    assert_error(user.post("get-directories", {"container_name": 7}), 400, "container_name")
