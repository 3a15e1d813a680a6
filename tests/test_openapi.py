"""The published contract, shared/contract/openapi.json: a valid OpenAPI 3.1 document of
exactly the app's HTTP functions, served anonymously at GET /api/openapi.json with no
secret in it, listing every key spelling each route accepts for its user. That every answer
of the suite follows it is checked for every test by tests/support/contract.py."""

from __future__ import annotations

import ast
import json

import pytest
from openapi_spec_validator import validate

from devhost.functions import discover, http_routes
from shared.contract import DOCUMENT_PATH, openapi_document
from shared.http.request import Body
from tests.conftest import ROOT, Client
from tests.support.contract import VIOLATIONS, problems

DOCUMENT = openapi_document()
USER_KEYS = ("container_name", "user_id", "userId")


def operations() -> list[tuple[str, str, dict]]:
    return [(path, method, op) for path, item in DOCUMENT["paths"].items() for method, op in item.items()]


def request_schema(op: dict) -> dict:
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    assert "$ref" not in schema  # each route's body is spelled out where it is used
    return schema


def test_document_is_valid_openapi_3_1():
    assert DOCUMENT["openapi"].startswith("3.1.")
    validate(DOCUMENT)


def test_document_has_exactly_the_http_functions_with_their_methods():
    routes = {("/" + r.template, m.lower()) for r in http_routes(discover(ROOT)) for m in r.methods}
    documented = {(path, method) for path, method, _ in operations()}
    assert documented == routes


def test_every_error_answer_is_one_string_in_an_array():
    error = DOCUMENT["components"]["schemas"]["Error"]
    shape = {"type": "array", "minItems": 1, "maxItems": 1, "items": {"type": "string", "minLength": 1}}
    assert {key: error.get(key) for key in shape} == shape
    for path, method, op in operations():
        assert op["responses"]["200"]["content"]["application/json"]["schema"]
        for status, response in op["responses"].items():
            if status != "200":
                name = response["$ref"].rsplit("/", 1)[1]
                schema = DOCUMENT["components"]["responses"][name]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, status)
        # Every route can be sent too large a body, and fail without a client's fault.
        assert {"413", "500"} <= op["responses"].keys(), (method, path)


def test_served_anonymously_in_production_without_secrets(app, monkeypatch):
    from shared import settings

    secret = "vouch-secret-that-must-not-show-0123456789"
    monkeypatch.setenv("NACHET_VOUCH_JWT_SECRET", secret)
    settings.reset()
    r = Client(app.base_url, None).get("openapi.json")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json() == json.loads(DOCUMENT_PATH.read_text())
    text = r.text
    for value in (secret, app.db_url, app.storage, "AccountKey", app.pictures_container, "127.0.0.1"):
        assert value not in text


def test_a_principal_is_not_needed_nor_checked(app):
    r = Client(app.base_url, None).get("openapi.json", headers={"X-MS-CLIENT-PRINCIPAL": "not base64 !"})
    assert r.status_code == 200


def read_keys() -> set[str]:
    """Every body key the edge's parsers read by name (Body getters and Request.user_id)."""
    getters = {name for name in vars(Body) if not name.startswith("_")} | {"user_id"}
    keys = set()
    for path in (ROOT / "shared" / "http").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in getters:
                keys |= {a.value for a in node.args
                         if isinstance(a, ast.Constant) and isinstance(a.value, str)}
    return keys


def documented_keys() -> set[str]:
    """Every property of every request body of the document, nested ones too."""
    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                walk(DOCUMENT["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]])
            found.update(node.get("properties", {}))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for _, _, op in operations():
        if "requestBody" in op:
            walk(request_schema(op))
    return found


def test_every_body_key_the_parsers_read_is_documented():
    keys = read_keys()
    assert {"container_name", "userId", "boxId", "imageDims", "email"} <= keys  # the scan sees them
    assert keys - documented_keys() == set()


def user_routes() -> list[tuple[str, tuple[str, ...]]]:
    """(path, user keys the document lists) of every route whose body names its user."""
    found = []
    for path, method, op in operations():
        if method == "post":
            keys = tuple(k for k in USER_KEYS if k in request_schema(op).get("properties", {}))
            if keys:
                found.append((path, keys))
    return found


@pytest.mark.parametrize(("path", "keys"), user_routes())
def test_every_listed_user_key_is_accepted_and_no_other(client, path, keys):
    user_id = client.user_id()
    for key in USER_KEYS:
        r = client.post(path.lstrip("/"), {key: user_id})
        missing = any(f"{listed} is missing" in r.text for listed in keys)
        # A listed spelling names the user: the route goes on to the next key it needs.
        assert missing == (key not in keys), (path, key, r.status_code, r.text)


def test_the_suite_fails_on_an_answer_outside_the_document(client, monkeypatch):
    import get_user_id

    monkeypatch.setattr(get_user_id, "user_id", lambda caller: {"id": str(caller.user_id)})
    r = client.post("get-user-id", {})
    assert r.status_code == 200
    found = VIOLATIONS.take()  # taken here, so that this test itself passes
    assert found and "POST /get-user-id 200 does not match its schema" in found[0], found


@pytest.mark.parametrize(("status", "body", "words"), [
    (418, b'["x"]', ["418", "does not list"]),
    (409, b'{"message": "x"}', ["not of type 'array'"]),
    (400, b'["one", "two"]', ["too long"]),
    (200, b'["not-an-id"]', ["uuid"]),
])
def test_problems_names_what_is_outside_the_contract(status, body, words):
    [problem] = problems("/create-dir", "POST", status, "application/json", body)
    for word in words:
        assert word in problem


def test_problems_accepts_the_contract():
    assert problems("/create-dir", "POST", 409, "application/json; charset=utf-8", b'["exists"]') == []
    assert problems("/health", "GET", 503, "application/json", b'["unavailable: storage"]') == []
