"""POST /api/upload-picture: storage as DATA.md says, labels, dedupe (also under a race), bad
input and storage or database faults that leave nothing behind."""

from __future__ import annotations

import base64
import hashlib
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from shared import settings, storage
from shared.db.queries import pictures as picture_queries
from shared.errors import DependencyUnavailable
from tests.conftest import Client, assert_error
from tests.support.feedback import Analyst, box_ids, ok
from tests.support.folders import User, assert_consistent, image_bytes, state
from tests.support.hung_storage import eventually, hung_uploads
from tests.support.images import data_url


def blob_content_type(app, name: str) -> str:
    from azure.storage.blob import BlobServiceClient

    client = BlobServiceClient.from_connection_string(app.storage)
    properties = client.get_blob_client(app.pictures_container, name).get_blob_properties()
    return properties.content_settings.content_type


def seed_count(app) -> int:
    return app.sql("SELECT count(*) FROM seed")[0][0]


@pytest.fixture
def user(app, client) -> User:
    return User(client)


def test_stores_blob_and_row_as_data_md_says(app, user):
    session = user.new_batch(1, "Lot")
    data = image_bytes(3, size=(30, 20))
    user.upload(session, data)
    [(picture_id, folder, blob, ctype, width, height, sha, metadata, upload_session)] = app.sql(
        "SELECT id::text, picture_set_id::text, blob_name, content_type, width, height, sha256, metadata,"
        " upload_session_id::text FROM picture")
    assert (folder, upload_session) == (session, session)
    assert blob == f"{user.id}/{session}/{picture_id}.png"
    assert (ctype, width, height) == ("image/png", 30, 20)
    assert sha == hashlib.sha256(data).hexdigest()
    assert metadata == {"zoom_level": 1.5, "nb_seeds": 3}
    assert app.blobs() == [blob]
    assert blob_content_type(app, blob) == "image/png"
    labels = app.sql("SELECT s.name FROM picture_seed ps JOIN seed s ON s.id = ps.seed_id")
    assert labels == [("Ambrosia trifida",)]
    assert user.folder(session)["pictures"] == [
        {"picture_id": picture_id, "is_validated": True, "inference_exist": False, "thumbnail": None}]


def test_real_type_is_detected_from_the_bytes(app, user):
    session = user.new_batch()
    jpeg = image_bytes(5, fmt="JPEG")
    user.upload(session, jpeg, image=data_url(jpeg, "image/png"))
    [(blob, ctype)] = app.sql("SELECT blob_name, content_type FROM picture")
    assert ctype == "image/jpeg" and blob.endswith(".jpg")
    assert blob_content_type(app, blob) == "image/jpeg"


def test_label_by_seed_id_and_optional_metadata(app, user):
    session = user.new_batch()
    seed_id = app.sql("SELECT id::text FROM seed WHERE name = 'Cirsium arvense'")[0][0]
    body = user.upload_body(session, image_bytes(1), seed_id=seed_id)
    del body["seed_name"], body["zoom_level"], body["nb_seeds"]
    assert user.ok("upload-picture", body) == [True]
    assert app.sql("SELECT ps.seed_id::text, p.metadata FROM picture_seed ps"
                   " JOIN picture p ON p.id = ps.picture_id") == [(seed_id, {})]


def test_web_client_shape_empty_seed_id_and_null_numbers(app, user):
    session = user.new_batch()
    user.upload(session, image_bytes(1), seed_id="", seed_name="Cirsium arvense",
                zoom_level=None, nb_seeds=None)
    assert app.sql("SELECT s.name, p.metadata FROM picture_seed ps JOIN seed s ON s.id = ps.seed_id"
                   " JOIN picture p ON p.id = ps.picture_id") == [("Cirsium arvense", {})]


def test_unknown_seed_name_joins_the_catalogue_once(app, user):
    session = user.new_batch()
    before = seed_count(app)
    user.upload(session, image_bytes(1), seed_name="Avena fatua")
    user.upload(session, image_bytes(2), seed_name="  avena   FATUA ")
    user.upload(session, image_bytes(3), seed_name="ambrosia TRIFIDA")
    assert seed_count(app) == before + 1
    assert app.sql("SELECT s.name, count(*) FROM picture_seed ps JOIN seed s ON s.id = ps.seed_id"
                   " GROUP BY s.name ORDER BY s.name") == [("Ambrosia trifida", 1), ("Avena fatua", 2)]
    seeds = user.client.get("seeds").json()["seeds"]
    assert "Avena fatua" in [s["seed_name"] for s in seeds]


def test_a_quoted_seed_name_and_a_feedback_label_name_one_new_seed(app, user):
    session = user.new_batch()
    before = seed_count(app)
    user.upload(session, image_bytes(1), seed_name='"Avena fatua"')
    analyst = Analyst(user.client)
    inference = analyst.infer(model_name="seed-detector-builtin")
    [box] = box_ids(inference)
    answer = ok(analyst.negative(inference, [{"boxId": box, "label": "Avena fatua"}]))
    assert answer["boxes"][0]["label"] == "Avena fatua"
    # One catalogue entry, named without the quotes, labels the uploaded picture, the box
    # and the inferred picture (its only box verified).
    assert seed_count(app) == before + 1
    [(avena,)] = app.sql("SELECT id FROM seed WHERE name ILIKE %s", ["%avena fatua%"])
    assert app.sql("SELECT name FROM seed WHERE id = %s", [avena]) == [("Avena fatua",)]
    assert app.sql("SELECT seed_id FROM picture_seed") == [(avena,), (avena,)]
    assert app.sql("SELECT so.seed_id FROM object o JOIN seed_obj so ON so.id = o.verified_id") == [(avena,)]


def test_same_bytes_twice_store_one_picture(app, user):
    session = user.new_batch()
    user.upload(session, image_bytes(1))
    user.upload(session, image_bytes(1), seed_name="Cirsium arvense")
    assert app.sql("SELECT count(*) FROM picture") == [(1,)]
    assert len(app.blobs()) == 1
    # Another session, or other bytes, are stored.
    other = user.new_batch()
    user.upload(other, image_bytes(1))
    user.upload(session, image_bytes(2))
    assert app.sql("SELECT count(*) FROM picture") == [(3,)]
    assert_consistent(app)


def test_racing_posts_of_the_same_bytes_store_one_picture(app, user):
    session = user.new_batch()
    body = user.upload_body(session, image_bytes(9, size=(400, 300)))
    clients = [Client(app.base_url, user.client.email) for _ in range(8)]
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda c: (c.post("upload-picture", body).status_code,
                                           c.post("get-user-id").status_code), clients))
    assert answers == [(200, 200)] * 8
    assert app.sql("SELECT count(*) FROM picture") == [(1,)]
    assert app.sql("SELECT count(*) FROM picture_seed") == [(1,)]
    assert_consistent(app)


def test_the_loser_of_a_race_deletes_its_blob_and_answers_true(app, user, monkeypatch):
    # Both posts pass the early check, as two posts that race do: the unique index decides.
    monkeypatch.setattr(picture_queries, "uploaded_in_session", lambda *a: False)
    session = user.new_batch()
    user.upload(session, image_bytes(4))
    user.upload(session, image_bytes(4))
    assert app.sql("SELECT count(*) FROM picture") == [(1,)]
    assert_consistent(app)


def test_inference_pictures_are_not_deduplicated(app, user):
    session = user.new_batch()
    data = image_bytes(1)
    user.upload(session, data)
    sha = app.sql("SELECT sha256 FROM picture")[0][0]
    # Pictures stored by /inf carry no upload session: the same bytes may be there twice.
    for n in range(2):
        app.sql("INSERT INTO picture (picture_set_id, blob_name, content_type, width, height, sha256)"
                " VALUES (%s, %s, 'image/png', 12, 8, %s)", [session, f"inf-{n}.png", sha])
    assert app.sql("SELECT count(*) FROM picture WHERE sha256 = %s", [sha]) == [(3,)]
    user.upload(session, data)
    assert app.sql("SELECT count(*) FROM picture WHERE sha256 = %s", [sha]) == [(3,)]


def not_an_image() -> str:
    return "data:image/png;base64," + base64.b64encode(b"just some text, not a picture").decode()


BAD = [
    ({"session_id": None}, 400, ["session_id is missing"]),
    ({"session_id": "not-a-uuid"}, 400, ["session_id is not a valid id"]),
    ({"session_id": 12}, 400, ["session_id must be a string"]),
    ({"session_id": str(uuid.uuid4())}, 404, ["folder"]),
    ({"seed_name": None}, 400, ["seed_id or seed_name is missing"]),
    ({"seed_name": "   "}, 400, ["seed_id or seed_name is missing"]),
    ({"seed_name": 42}, 400, ["seed_name must be a string"]),
    ({"seed_name": "x" * 201}, 400, ["seed_name", "200"]),
    ({"seed_id": "nope"}, 400, ["seed_id is not a valid id"]),
    ({"seed_id": str(uuid.uuid4())}, 404, ["seed"]),
    ({"image": None}, 400, ["image is missing"]),
    ({"image": 5}, 400, ["data URL"]),
    ({"image": "http://example.org/x.png"}, 400, ["data URL"]),
    ({"image": "data:image/png;base64,@@not base64@@"}, 400, ["base64"]),
    ({"image": "data:image/png;base64,"}, 400, ["empty"]),
    ({"image": not_an_image()}, 415, ["image"]),
    ({"zoom_level": "2"}, 400, ["zoom_level must be a number"]),
    ({"zoom_level": 0}, 400, ["zoom_level", "greater than 0"]),
    ({"nb_seeds": 2.5}, 400, ["nb_seeds must be a whole number"]),
    ({"nb_seeds": "3"}, 400, ["nb_seeds must be a whole number"]),
    ({"nb_seeds": -1}, 400, ["nb_seeds", "at least 0"]),
    ({"container_name": "not-a-uuid"}, 400, ["container_name"]),
]


def test_bad_input_gets_its_status_and_changes_nothing(app, user):
    session = user.new_batch()
    seeds_before, before = seed_count(app), state(app)
    for extra, status, words in BAD:
        body = {**user.upload_body(session, image_bytes(1), seed_name="Brand new seed"), **extra}
        body = {k: v for k, v in body.items() if v is not None}
        assert_error(user.post("upload-picture", body), status, *words)
    assert state(app) == before
    assert seed_count(app) == seeds_before


def test_someone_elses_session_is_403(app, make_client):
    alice, bob = User(make_client()), User(make_client())
    session = alice.new_batch()
    assert_error(bob.post("upload-picture", bob.upload_body(session, image_bytes(1))), 403, "not yours")
    body = {**bob.upload_body(session, image_bytes(1)), "container_name": alice.id, "user_id": alice.id}
    assert_error(bob.post("upload-picture", body), 403)
    assert state(app) == ([], [])


def test_format_not_in_valid_extensions_is_415(app, user, monkeypatch):
    monkeypatch.setenv("NACHET_VALID_EXTENSION", '["png"]')
    settings.reset()
    session = user.new_batch()
    jpeg = user.upload_body(session, image_bytes(1, fmt="JPEG"))
    assert_error(user.post("upload-picture", jpeg), 415, "JPEG", "NACHET_VALID_EXTENSION")
    user.upload(session, image_bytes(1))
    assert len(app.blobs()) == 1


def test_valid_extension_names_a_format_by_any_of_its_names(app, user, monkeypatch):
    # One table (shared.images.FORMATS) says which names each format goes by.
    monkeypatch.setenv("NACHET_VALID_EXTENSION", '["TIF", ".jpg"]')
    settings.reset()
    session = user.new_batch()
    user.upload(session, image_bytes(1, fmt="TIFF"))
    user.upload(session, image_bytes(2, fmt="JPEG"))
    assert_error(user.post("upload-picture", user.upload_body(session, image_bytes(3))), 415, "png")
    assert sorted(blob.rpartition(".")[2] for blob in app.blobs()) == ["jpg", "tiff"]


def test_image_over_the_size_limit_is_413(app, user, monkeypatch):
    monkeypatch.setenv("NACHET_MAX_CONTENT_LENGTH", "0.05")  # 52 kB
    settings.reset()
    session = user.new_batch()
    big = image_bytes(1, fmt="BMP", size=(150, 150))  # 67 kB
    assert_error(user.post("upload-picture", user.upload_body(session, big)), 413, "larger")
    assert state(app) == ([], [])


def test_image_over_the_pixel_cap_is_413(app, user, monkeypatch):
    monkeypatch.setenv("NACHET_MAX_IMAGE_PIXELS", "1000")
    settings.reset()
    session = user.new_batch()
    body = user.upload_body(session, image_bytes(1, size=(50, 50)))
    assert_error(user.post("upload-picture", body), 413, "pixels")
    assert state(app) == ([], [])


def test_storage_down_is_503_and_leaves_nothing(app, user, monkeypatch):
    session = user.new_batch()

    def down(*args, **kwargs):
        raise DependencyUnavailable("the storage is unavailable")

    monkeypatch.setattr(storage, "upload", down)
    assert_error(user.post("upload-picture", user.upload_body(session, image_bytes(1))), 503, "storage")
    assert state(app) == ([], [])


def test_storage_that_hangs_is_503_in_time_and_leaves_nothing_once_it_ends(app, user, monkeypatch):
    # Every request's upload goes through the same four threads: more requests than that
    # against a hung storage each answer within UPLOAD_WAIT_S, queued or not, and each blob
    # that a hung upload writes in the end is deleted then.
    session = user.new_batch()
    bodies = [user.upload_body(session, image_bytes(n)) for n in range(6)]
    with hung_uploads(monkeypatch) as hung, ThreadPoolExecutor(len(bodies)) as requests:
        answers = list(requests.map(lambda body: user.post("upload-picture", body), bodies))
    for r in answers:
        assert_error(r, 503, "storage", "in time")
    eventually(lambda: len(hung.written) == 4 and state(app) == ([], []))
    assert len(hung.written) == 4  # the two uploads still queued were never made
    assert state(app) == ([], [])


def test_a_repost_in_the_session_is_answered_without_storage(app, user, monkeypatch):
    # Re-posting a picture already in the session touches no blob: with storage down it
    # is still answered, and nothing is written or deleted (which would wake the trigger).
    session = user.new_batch()
    user.upload(session, image_bytes(1))
    before = state(app)
    calls = []

    def down(*args, **kwargs):
        calls.append(args)
        raise DependencyUnavailable("the storage is unavailable")

    for name in ("container", "upload", "download", "delete", "copy", "last_modified"):
        monkeypatch.setattr(storage, name, down)
    r = user.post("upload-picture", user.upload_body(session, image_bytes(1)))
    assert (r.status_code, r.json()) == (200, [True])
    assert calls == []
    assert state(app) == before


def test_storage_failing_after_writing_the_blob_leaves_nothing(app, user, monkeypatch):
    session = user.new_batch()
    real_upload = storage.upload

    def lost_answer(*args, **kwargs):
        real_upload(*args, **kwargs)
        raise DependencyUnavailable("the storage is unavailable")

    monkeypatch.setattr(storage, "upload", lost_answer)
    assert_error(user.post("upload-picture", user.upload_body(session, image_bytes(1))), 503)
    assert state(app) == ([], [])


def test_database_failing_after_the_blob_was_written_leaves_nothing(app, user, monkeypatch):
    session = user.new_batch()
    seeds_before = seed_count(app)
    written: list[str] = []
    real_upload = storage.upload

    def recording_upload(container, name, *args, **kwargs):
        real_upload(container, name, *args, **kwargs)
        written.append(name)

    def db_down(*args, **kwargs):
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(storage, "upload", recording_upload)
    monkeypatch.setattr(picture_queries, "insert", db_down)
    body = user.upload_body(session, image_bytes(1), seed_name="Seed added in vain")
    assert_error(user.post("upload-picture", body), 503, "database")
    assert len(written) == 1  # the blob was written, then deleted again
    assert state(app) == ([], [])
    assert seed_count(app) == seeds_before


def test_no_identity_is_401(app, user):
    session = user.new_batch()
    r = Client(app.base_url, None).post("upload-picture", user.upload_body(session, image_bytes(1)))
    assert_error(r, 401)
    assert state(app) == ([], [])


def test_local_mode_still_checks_the_folder_owner(app, make_client, monkeypatch):
    alice, bob = User(make_client()), User(make_client())
    session = alice.new_batch()
    monkeypatch.setenv("NACHET_ENV", "local")
    settings.reset()
    anonymous = Client(app.base_url, None)  # local mode: the named user is trusted
    assert_error(anonymous.post("upload-picture", bob.upload_body(session, image_bytes(1))), 403, "not yours")
    assert anonymous.post("upload-picture", alice.upload_body(session, image_bytes(1))).json() == [True]
    assert app.sql("SELECT count(*) FROM picture") == [(1,)]
