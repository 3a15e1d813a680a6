"""POST /api/get-user-id: identity sources, registration with the default folder, bad input."""

from __future__ import annotations

import base64
import gzip
import json
import time

import jwt
import pytest

from shared import settings
from tests.conftest import Client, assert_error


def vouch_cookie(email: str, secret: str, *, expires_in: int = 3600) -> str:
    token = jwt.encode({"username": email, "CustomClaims": {"email": email},
                        "exp": int(time.time()) + expires_in}, secret, algorithm="HS256")
    return base64.urlsafe_b64encode(gzip.compress(token.encode())).decode().rstrip("=")


def test_principal_registers_once_with_general_folder(app, client):
    first = client.user_id()
    assert client.user_id() == first
    rows = app.sql("SELECT u.email, s.name FROM users u JOIN picture_set s ON s.id = u.default_set_id")
    assert rows == [(client.email.lower(), "General")]


def test_email_case_does_not_make_a_second_user(app, make_client):
    a = make_client("Analyst@Example.org").user_id()
    b = make_client("analyst@example.org").user_id()
    assert a == b
    assert app.sql("SELECT count(*) FROM users") == [(1,)]


def test_no_identity_is_401(app):
    r = Client(app.base_url, None).post("get-user-id", {"email": "someone@example.org"})
    assert_error(r, 401, "identity")
    assert app.sql("SELECT count(*) FROM users") == [(0,)]


def test_forged_principal_while_easy_auth_off_is_401(app, monkeypatch):
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "false")
    settings.reset()
    r = Client(app.base_url, "mallory@example.org").post("get-user-id")
    assert_error(r, 401, "not trusted")
    assert app.sql("SELECT count(*) FROM users") == [(0,)]


def test_malformed_principal_is_401(app):
    r = Client(app.base_url, None).post("get-user-id", headers={"X-MS-CLIENT-PRINCIPAL": "%%%"})
    assert_error(r, 401, "malformed")


@pytest.mark.parametrize("principal", [
    {"name_typ": ["x"], "claims": [{"typ": "name", "val": "n"}]},
    {"name_typ": {"a": 1}, "claims": []},
    {"claims": [{"typ": ["email"], "val": "a@example.org"}]},
    {"claims": [{"typ": {"a": 1}, "val": "a@example.org"}]},
    {"claims": {"typ": "email"}},
    {"claims": [1, "x", None]},
    {"claims": "email"},
    [1, 2],
    "principal",
    17,
])
@pytest.mark.parametrize("path", ["get-user-id", "get-directories"])
def test_principal_of_the_wrong_shape_is_401(app, principal, path):
    # Client-sent JSON of any shape is a 401 on every route, never a 500.
    header = base64.b64encode(json.dumps(principal).encode()).decode()
    r = Client(app.base_url, None).post(path, {}, headers={"X-MS-CLIENT-PRINCIPAL": header})
    assert r.status_code == 401, r.text
    assert isinstance(r.json(), list) and len(r.json()) == 1
    assert app.sql("SELECT count(*) FROM users") == [(0,)]


def test_principal_with_name_claim_only(app):
    principal = {"name_typ": "name", "claims": [{"typ": "name", "val": "Named@Example.org"}]}
    header = base64.b64encode(json.dumps(principal).encode()).decode()
    r = Client(app.base_url, None).post("get-user-id", headers={"X-MS-CLIENT-PRINCIPAL": header})
    assert r.status_code == 200, r.text
    assert app.sql("SELECT email FROM users") == [("named@example.org",)]


def test_principal_without_an_email_is_401(app):
    principal = {"name_typ": "name", "claims": [{"typ": "email", "val": "not an email"},
                                                {"typ": "name", "val": "Jane Doe"}]}
    header = base64.b64encode(json.dumps(principal).encode()).decode()
    r = Client(app.base_url, None).post("get-user-id", headers={"X-MS-CLIENT-PRINCIPAL": header})
    assert_error(r, 401, "email")
    assert app.sql("SELECT count(*) FROM users") == [(0,)]


def test_principal_display_name_is_passed_over_for_an_email_claim(app):
    principal = {"name_typ": "name", "claims": [{"typ": "name", "val": "Jane Doe"},
                                                {"typ": "preferred_username", "val": "Jane@Example.org"}]}
    header = base64.b64encode(json.dumps(principal).encode()).decode()
    r = Client(app.base_url, None).post("get-user-id", headers={"X-MS-CLIENT-PRINCIPAL": header})
    assert r.status_code == 200, r.text
    assert app.sql("SELECT email FROM users") == [("jane@example.org",)]


def test_vouch_cookie_that_inflates_past_the_cap_is_401(app, vouch):
    bomb = base64.urlsafe_b64encode(gzip.compress(b"a" * (20 * 1024 * 1024))).decode().rstrip("=")
    r = vouch.post("get-user-id", headers={"Cookie": f"jxVouchCookie={bomb}"})
    assert_error(r, 401, "malformed")


@pytest.fixture
def vouch(app, monkeypatch):
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "false")
    monkeypatch.setenv("NACHET_VOUCH_JWT_SECRET", "s3cret-for-tests-0123456789abcdef0123")
    settings.reset()
    return Client(app.base_url, None)


def test_vouch_cookie_with_valid_signature(app, vouch):
    cookie = vouch_cookie("vouched@example.org", "s3cret-for-tests-0123456789abcdef0123")
    r = vouch.post("get-user-id", headers={"Cookie": f"jxVouchCookie={cookie}"})
    assert r.status_code == 200, r.text
    assert app.sql("SELECT email FROM users") == [("vouched@example.org",)]


def test_vouch_cookie_with_bad_signature_is_401(app, vouch):
    cookie = vouch_cookie("vouched@example.org", "another-secret-0123456789abcdef0123456")
    r = vouch.post("get-user-id", headers={"Cookie": f"jxVouchCookie={cookie}"})
    assert_error(r, 401, "signature")
    assert app.sql("SELECT count(*) FROM users") == [(0,)]


def test_expired_vouch_cookie_is_401(app, vouch):
    cookie = vouch_cookie("vouched@example.org", "s3cret-for-tests-0123456789abcdef0123", expires_in=-60)
    r = vouch.post("get-user-id", headers={"Cookie": f"jxVouchCookie={cookie}"})
    assert_error(r, 401, "expired")


def test_garbage_vouch_cookie_is_401(app, vouch):
    r = vouch.post("get-user-id", headers={"Cookie": "jxVouchCookie=not-gzip"})
    assert_error(r, 401, "malformed")


def test_vouch_cookie_refused_without_secret_outside_local_mode(app, monkeypatch):
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "false")
    settings.reset()
    cookie = vouch_cookie("vouched@example.org", "whatever-0123456789abcdef0123456789ab")
    r = Client(app.base_url, None).post("get-user-id", headers={"Cookie": f"jxVouchCookie={cookie}"})
    assert_error(r, 401, "NACHET_VOUCH_JWT_SECRET")


@pytest.fixture
def local(app, monkeypatch):
    monkeypatch.setenv("NACHET_ENV", "local")
    settings.reset()
    return Client(app.base_url, None)


def test_local_mode_body_email(app, local):
    r = local.post("get-user-id", {"email": "analyst@example.org"})
    assert r.status_code == 200
    again = local.post("get-user-id", {"email": "analyst@example.org"})
    assert again.json() == r.json()


def test_local_mode_dev_email(app, local, monkeypatch):
    monkeypatch.setenv("NACHET_DEV_USER_EMAIL", "dev@example.org")
    settings.reset()
    r = local.post("get-user-id", {"email": ""})
    assert r.status_code == 200
    assert app.sql("SELECT email FROM users") == [("dev@example.org",)]


@pytest.mark.parametrize("body", [{}, {"email": ""}])
def test_local_mode_without_any_email_is_the_default_analyst(app, local, body):
    # What the published web client sends: no cookie, an empty email, nothing configured.
    r = local.post("get-user-id", body)
    assert r.status_code == 200
    assert app.sql("SELECT email FROM users") == [("analyst@nachet.local",)]


@pytest.mark.parametrize("email", ["not-an-email", "a@b", "a b@example.org", "x" * 300 + "@example.org",
                                   "<script>@example.org"])
def test_local_mode_bad_email_is_400(app, local, email):
    assert_error(local.post("get-user-id", {"email": email}), 400, "email")
    assert app.sql("SELECT count(*) FROM users") == [(0,)]


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe"])
def test_body_that_is_not_a_json_object_is_400(app, local, body):
    assert_error(local.post("get-user-id", data=body), 400, "JSON")


def test_email_of_wrong_type_is_400(app, local):
    assert_error(local.post("get-user-id", {"email": 42}), 400, "email must be a string")


def test_oversized_body_is_413(app, local, monkeypatch):
    monkeypatch.setenv("NACHET_MAX_CONTENT_LENGTH", "1")
    settings.reset()
    body = json.dumps({"email": "a@example.org", "pad": "x" * (1024 * 1024 + 10)})
    assert_error(local.post("get-user-id", data=body), 413, "larger")
    assert app.sql("SELECT count(*) FROM users") == [(0,)]


ARCHIVE = "archive@nachet.local"  # NACHET_ARCHIVE_USER_EMAIL's default


def test_the_archive_user_cannot_sign_in_by_vouch_cookie(app, vouch):
    cookie = vouch_cookie(ARCHIVE, "s3cret-for-tests-0123456789abcdef0123")
    assert_error(vouch.post("get-user-id", headers={"Cookie": f"jxVouchCookie={cookie}"}), 401, "archive")
    assert app.sql("SELECT count(*) FROM users") == [(0,)]


def test_the_archive_user_cannot_sign_in_by_principal(app):
    # It owns every archived picture of every analyst.
    assert_error(Client(app.base_url, "Archive@Nachet.local").post("get-user-id"), 401,
                 "archive user", "cannot sign in")
    assert app.sql("SELECT count(*) FROM users") == [(0,)]


def test_the_archive_user_cannot_sign_in_in_local_mode(app, local):
    assert_error(local.post("get-user-id", {"email": ARCHIVE}), 401, "archive")
    assert app.sql("SELECT count(*) FROM users") == [(0,)]


def test_the_dev_email_may_not_be_the_archive_users():
    from shared.errors import ConfigurationError
    from shared.settings import load_settings

    env = {"NACHET_DB_URL": "postgresql://localhost/x",
           "NACHET_AZURE_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true",
           "NACHET_DEV_USER_EMAIL": "Keeper@example.org", "NACHET_ARCHIVE_USER_EMAIL": "keeper@example.org"}
    with pytest.raises(ConfigurationError, match="NACHET_DEV_USER_EMAIL must not be NACHET_ARCHIVE_USER"):
        load_settings(env)


def test_concurrent_first_sight_registers_one_user(app):
    from concurrent.futures import ThreadPoolExecutor

    clients = [Client(app.base_url, "race@example.org") for _ in range(8)]
    with ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(lambda c: c.user_id(), clients))
    assert len(ids) == 1
    assert app.sql("SELECT count(*) FROM picture_set") == [(1,)]
