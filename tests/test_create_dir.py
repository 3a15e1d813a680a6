"""POST /api/create-dir: the name rules, duplicates in any case, identity; bad input changes nothing."""

from __future__ import annotations

import uuid

from tests.conftest import Client, assert_error
from tests.support.folders import User


def folder_rows(app) -> list[tuple]:
    return app.sql("SELECT owner_id::text, name FROM picture_set ORDER BY created_at")


def test_creates_a_folder_and_answers_its_id_in_a_list(app, client):
    user = User(client)
    body = user.ok("create-dir", {"container_name": user.id, "folder_name": "  Wheat lot 7  "})
    assert isinstance(body, list) and len(body) == 1
    assert app.sql("SELECT id::text, owner_id::text, name FROM picture_set WHERE name <> 'General'") == [
        (body[0], user.id, "Wheat lot 7")]
    assert [f["folder_name"] for f in user.folders()] == ["General", "Wheat lot 7"]


ACCEPTED = ["Lot 2024-05 (wheat) #3, part 1: ok", "Échantillon été", "種子", "under_score", "a" * 100, "v1.2"]

# Each bad name with words its message must hold. One test goes over them all, on one
# database, to keep the file fast.
BAD_NAMES = [
    ("", ["empty"]),
    ("   ", ["empty"]),
    ("a" * 101, ["longer than 100"]),
    ("seeds/2024", ["/"]),
    ("back\\slash", ["/"]),
    ("..", ["'..'"]),
    (".", ["letter or a digit"]),
    ("lot..2", ["'..'"]),
    ("../etc/passwd", ["/"]),
    ('the "best" lot', ["letters, digits"]),
    ("farmer's lot", ["letters, digits"]),
    ("<script>alert(1)</script>", ["/"]),
    ("<img src=x onerror=alert(1)>", ["letters, digits"]),
    ("<b>bold", ["letters, digits"]),
    ("'; DROP TABLE picture_set; --", ["letters, digits"]),
    ("x OR 1=1", ["letters, digits"]),
    ("line\nbreak", ["letters, digits"]),
    ("tab\there", ["letters, digits"]),
    ("nul\x00", ["not allowed"]),
    (str(uuid.uuid4()), ["id"]),
]


def test_names_that_are_accepted(app, client):
    user = User(client)
    for name in ACCEPTED:
        user.create_dir(name)
    assert [f["folder_name"] for f in user.folders()][1:] == ACCEPTED


def test_bad_names_are_400_and_change_nothing(app, client):
    user = User(client)
    before = folder_rows(app)
    for name, words in BAD_NAMES:
        assert_error(user.post("create-dir", {"container_name": user.id, "folder_name": name}), 400,
                     "folder_name", *words)
    assert folder_rows(app) == before


def test_duplicate_in_any_case_is_409_and_changes_nothing(app, client):
    user = User(client)
    user.create_dir("Wheat")
    before = folder_rows(app)
    for name in ["Wheat", "wheat", "WHEAT", " wHeAt ", "general"]:
        r = user.post("create-dir", {"container_name": user.id, "folder_name": name})
        assert_error(r, 409, "already", "folder named")
    assert folder_rows(app) == before


def test_two_users_may_use_the_same_name(app, make_client):
    alice, bob = User(make_client()), User(make_client())
    alice.create_dir("Shared name")
    bob.create_dir("Shared name")
    assert len(app.sql("SELECT 1 FROM picture_set WHERE name = 'Shared name'")) == 2


def test_concurrent_creates_of_one_name_make_one_folder(app, client):
    from concurrent.futures import ThreadPoolExecutor

    user = User(client)
    with ThreadPoolExecutor(6) as pool:
        statuses = list(pool.map(
            lambda _: user.post("create-dir", {"container_name": user.id, "folder_name": "Race"}).status_code,
            range(6)))
    assert sorted(statuses) == [200] + [409] * 5
    assert len(app.sql("SELECT 1 FROM picture_set WHERE name = 'Race'")) == 1


MISTYPED = [
    ({}, ["container_name is missing"]),
    ({"folder_name": "x"}, ["container_name is missing"]),
    ({"container_name": "me"}, ["folder_name is missing"]),
    ({"container_name": "me", "folder_name": 12}, ["folder_name must be a string"]),
    ({"container_name": "me", "folder_name": ["a"]}, ["folder_name must be a string"]),
    ({"container_name": "not-a-uuid", "folder_name": "x"}, ["container_name is not a valid id"]),
]


def test_missing_or_mistyped_keys_are_400(app, client):
    user = User(client)
    before = folder_rows(app)
    for body, words in MISTYPED:
        body = {k: (user.id if v == "me" else v) for k, v in body.items()}
        assert_error(user.post("create-dir", body), 400, *words)
    assert folder_rows(app) == before


def test_in_someone_elses_container_is_403(app, make_client):
    alice, bob = User(make_client()), User(make_client())
    before = folder_rows(app)
    assert_error(bob.post("create-dir", {"container_name": alice.id, "folder_name": "Intrusion"}), 403)
    assert folder_rows(app) == before


def test_no_identity_is_401(app):
    body = {"container_name": str(uuid.uuid4()), "folder_name": "x"}
    r = Client(app.base_url, None).post("create-dir", body)
    assert_error(r, 401)
    assert folder_rows(app) == []
