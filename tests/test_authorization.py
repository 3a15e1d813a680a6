"""The authorization matrix. A first user owns a folder, an upload session, pictures (one
validated), an inference and its box; a second user sends every route that names one of
them with the first user's ids, and gets 403 or 404 while nothing changes, in the
database or in storage. In production mode behind App Service Authentication, a body
naming another user is a 403 on every route that names a user; with App Service
Authentication off, a principal header is forged by anyone and is a 401 on every route
that needs an identity. The routes come from the published document, so that a route
added to it is in the matrix or fails test_every_route_naming_an_object_is_in_the_matrix."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest

from shared import settings
from shared.contract import openapi_document
from tests.conftest import App, Client, principal_header
from tests.support.inference import sample_url
from tests.support.snapshot import changes, snapshot

DOCUMENT = openapi_document()
USER_KEYS = ("container_name", "user_id", "userId")
# Body keys naming an object, and the attribute of Owner holding one.
OBJECT_KEYS = {"folder_name": "folder", "folder_uuid": "folder", "session_id": "session",
               "picture_id": "picture", "inferenceId": "inference", "boxId": "box"}
# Routes whose folder_name names the folder they create, not an existing one.
CREATING = {"/create-dir", "/new-batch-import"}


@dataclass
class Owner:
    """A user and what it owns, made through the API."""

    client: Client
    email: str
    id: str = ""
    folder: str = ""  # a folder holding the inference's picture
    session: str = ""  # an upload session's folder, holding a validated picture
    picture: str = ""
    validated: str = ""
    inference: str = ""
    box: str = ""

    def ok(self, path: str, body: dict) -> Any:
        r = self.client.post(path, {"container_name": self.id, "user_id": self.id, **body})
        assert r.status_code == 200, (path, r.status_code, r.text)
        return r.json()


def owner(app: App, name: str, *, local: bool) -> Owner:
    email = f"{name}@example.org"
    user = Owner(Client(app.base_url, None if local else email), email)
    user.id = user.ok("get-user-id", {"email": email})["user_id"]
    user.folder = user.ok("create-dir", {"folder_name": f"{name} private"})[0]
    inference = user.ok("inf", {"image": sample_url(), "imageDims": [638, 559], "folder_name": user.folder})
    user.inference, user.picture = inference["inference_id"], inference["picture_id"]
    user.box = inference["boxes"][0]["box_id"]
    batch = {"nb_pictures": 1, "folder_name": f"{name} batch"}
    user.session = user.ok("new-batch-import", batch)["session_id"]
    user.ok("upload-picture", {"session_id": user.session, "seed_name": "Ambrosia trifida",
                               "image": sample_url()})
    [(validated,)] = app.sql("SELECT id::text FROM picture WHERE picture_set_id = %s", [user.session])
    user.validated = validated
    return user


def cross_user_bodies(a: Owner, b: Owner) -> dict[str, list[dict]]:
    """What the second user `b` sends, as itself, naming the first user's objects, by route."""
    image = sample_url()

    def feedback(inference: str) -> list[dict]:
        return [{"userId": b.id, "inferenceId": inference, "boxes": [{"boxId": a.box}]},
                {"userId": b.id, "inferenceId": inference, "boxes": [
                    {"boxId": a.box, "label": "Carex nova", "classId": "", "comment": "Wrong Seed"}]}]

    folders = [a.folder, a.session]
    return {
        "/del": [{"container_name": b.id, "folder_name": f} for f in folders],
        "/delete-request": [{"container_name": b.id, "folder_uuid": f} for f in folders],
        "/delete-permanently": [{"container_name": b.id, "folder_uuid": f} for f in folders],
        "/delete-with-archive": [{"container_name": b.id, "folder_uuid": f} for f in folders],
        "/inf": [{"container_name": b.id, "user_id": b.id, "image": image, "imageDims": [638, 559],
                  "folder_name": f} for f in folders],
        # Another user's inference; then the second user's own inference with another's box.
        "/feedback-positive": feedback(a.inference)[:1] + feedback(b.inference)[:1],
        "/feedback-negative": feedback(a.inference)[1:] + feedback(b.inference)[1:],
        "/upload-picture": [{"container_name": b.id, "user_id": b.id, "session_id": f,
                             "seed_name": "Ambrosia trifida", "image": image} for f in folders],
        "/get-picture": [{"container_name": b.id, "picture_id": p} for p in (a.picture, a.validated)],
    }


def request_schema(path: str) -> dict:
    return DOCUMENT["paths"][path]["post"]["requestBody"]["content"]["application/json"]


def names(path: str, keys: object) -> bool:
    """Whether the route's body (nested objects too) has one of `keys`."""
    def walk(schema: Any) -> bool:
        if isinstance(schema, dict):
            if "$ref" in schema:
                return walk(DOCUMENT["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]])
            return any(k in keys for k in schema.get("properties", {})) or any(map(walk, schema.values()))
        return isinstance(schema, list) and any(map(walk, schema))
    return walk(request_schema(path)["schema"])


def post_routes() -> list[str]:
    return [p for p, item in DOCUMENT["paths"].items() if "post" in item]


def identified_operations() -> list[tuple[str, str]]:
    """Every operation whose caller is a user (not health, the document or operator routes)."""
    return [(path, method) for path, item in DOCUMENT["paths"].items() for method, op in item.items()
            if {"appServicePrincipal": []} in op.get("security", DOCUMENT["security"])]


def is_id(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def as_owner(path: str, a: Owner) -> dict:
    """The route's example body (the web client's request), naming `a` and, where it names
    an object by id, `a`'s object of that kind."""
    def fill(key: str, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: fill(k, v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(key, v) for v in value]
        if key in USER_KEYS:
            return a.id
        if key in OBJECT_KEYS and is_id(value):
            return getattr(a, OBJECT_KEYS[key])
        return sample_url() if key == "image" else value
    return fill("", request_schema(path)["examples"]["web client"]["value"])


@pytest.fixture(params=["local", "production"])
def mode(request, app, monkeypatch) -> str:
    if request.param == "local":
        monkeypatch.setenv("NACHET_ENV", "local")
        settings.reset()
    return request.param


def test_every_route_naming_an_object_is_in_the_matrix():
    in_matrix = set(cross_user_bodies(Owner(Client("", None), ""), Owner(Client("", None), "")))
    naming = {p for p in post_routes() if names(p, OBJECT_KEYS)} - CREATING
    assert naming == in_matrix
    # Routes that name a user only (and the three that name nothing) are in the tests below.
    assert {p for p in post_routes() if names(p, USER_KEYS)} >= naming


def test_another_users_objects_are_403_or_404_and_change_nothing(app, mode, subtests):
    a = owner(app, "first", local=mode == "local")
    b = owner(app, "second", local=mode == "local")
    before = snapshot(app)
    for path, bodies in cross_user_bodies(a, b).items():
        for n, body in enumerate(bodies):
            with subtests.test(f"{path} #{n}"):
                r = b.client.post(path.lstrip("/"), body)
                assert r.status_code in (403, 404), (r.status_code, r.text)
                assert changes(before, snapshot(app)) == {}
    # The ids were real: the owner reaches each object.
    assert a.ok("get-picture", {"picture_id": a.validated})["picture_id"] == a.validated
    assert a.ok("delete-request", {"folder_uuid": a.session}) is True


def test_body_naming_another_user_is_403(app, subtests):
    # The app fixture is production mode behind App Service Authentication.
    a = owner(app, "first", local=False)
    b = owner(app, "second", local=False)
    before = snapshot(app)
    for path in (p for p in post_routes() if names(p, USER_KEYS)):
        with subtests.test(path):
            body = as_owner(path, a)
            r = b.client.post(path.lstrip("/"), body)
            assert r.status_code == 403, (body, r.status_code, r.text)
            assert changes(before, snapshot(app)) == {}


def test_email_in_the_body_is_ignored_outside_local_mode(app):
    a = owner(app, "first", local=False)
    b = Client(app.base_url, "second@example.org")
    r = b.post("get-user-id", {"email": a.email})
    assert r.status_code == 200 and r.json()["user_id"] != a.id


def test_forged_principal_is_401_when_app_service_authentication_is_off(app, monkeypatch, subtests):
    a = owner(app, "first", local=False)
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "false")
    settings.reset()
    forged = Client(app.base_url, None)
    headers = {"X-MS-CLIENT-PRINCIPAL": principal_header(a.email)}
    before = snapshot(app)
    for path, method in identified_operations():
        with subtests.test(f"{method.upper()} {path}"):
            url = path.lstrip("/").replace("{seed_name}", "Ambrosia%20trifida")
            r = (forged.post(url, as_owner(path, a), headers=headers) if method == "post"
                 else forged.get(url, headers=headers))
            assert r.status_code == 401, (r.status_code, r.text)
            assert "not trusted" in r.json()[0]
            assert changes(before, snapshot(app)) == {}
