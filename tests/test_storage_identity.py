"""Identity-based storage, as the template configures it: the settings the Functions host
defines for an identity-based connection are read and checked, the managed identity's token
goes to Blob Storage, and read URLs are signed with a user delegation key that is cached and
renewed before a URL would outlive it.

Azurite signs account-key SAS only: the token endpoint and Get User Delegation Key are served
by tests/support/identity_storage.py over HTTPS. What stays untested here: that Azure Storage
accepts the signed URL (the signature is the SDK's), and the storage operations themselves
with a token (the connection-string path runs them against Azurite in every other test)."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from shared import settings, storage
from shared.errors import ConfigurationError
from shared.settings import DEVELOPMENT_STORAGE, STORAGE_SETTING, StorageIdentity, load_settings
from tests.support.identity_storage import (
    CLIENT_ID,
    OBJECT_ID,
    TENANT_ID,
)

DB = {"NACHET_DB_URL": "postgresql://localhost/x"}
URI = "https://nachetabc.blob.core.windows.net/"


@pytest.mark.parametrize(("env", "identity"), [
    ({f"{STORAGE_SETTING}__blobServiceUri": URI, f"{STORAGE_SETTING}__credential": "managedidentity",
      f"{STORAGE_SETTING}__clientId": CLIENT_ID}, StorageIdentity(URI, True, CLIENT_ID)),
    ({f"{STORAGE_SETTING}__serviceUri": URI, f"{STORAGE_SETTING}__credential": "ManagedIdentity"},
     StorageIdentity(URI, True, None)),  # the host's alias; a system-assigned identity
    ({f"{STORAGE_SETTING}__blobServiceUri": URI}, StorageIdentity(URI, False, None)),  # developer sign-in
])
def test_identity_based_connection_settings(env, identity):
    loaded = load_settings({**DB, **env})
    assert (loaded.storage_identity, loaded.storage_connection_string) == (identity, None)


def test_a_connection_string_wins_over_an_identity_based_connection():
    loaded = load_settings({**DB, STORAGE_SETTING: "UseDevelopmentStorage=true",
                            f"{STORAGE_SETTING}__blobServiceUri": URI})
    assert (loaded.storage_connection_string, loaded.storage_identity) == (DEVELOPMENT_STORAGE, None)


@pytest.mark.parametrize(("env", "problem"), [
    ({}, f"{STORAGE_SETTING} is not set (nor {STORAGE_SETTING}__blobServiceUri"),
    ({f"{STORAGE_SETTING}__blobServiceUri": URI.replace("https", "http")}, "__blobServiceUri must be"),
    ({f"{STORAGE_SETTING}__blobServiceUri": f"{URI}pictures/x"}, "__blobServiceUri must be"),
    ({f"{STORAGE_SETTING}__blobServiceUri": URI, f"{STORAGE_SETTING}__credential": "key"},
     "__credential must be managedidentity"),
    ({f"{STORAGE_SETTING}__blobServiceUri": URI, f"{STORAGE_SETTING}__clientId": "me"},
     "__clientId must be a managed identity's client id"),
])
def test_bad_identity_settings_are_named(env, problem):
    with pytest.raises(ConfigurationError) as caught:
        load_settings({**DB, **env})
    assert problem in str(caught.value)


def sas(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_read_urls_are_signed_with_a_cached_user_delegation_key(identity_storage):
    expiry = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=90)
    url = storage.read_url("nachet-thumbnails", "u1/s1/p 1.webp", expiry=expiry)
    assert url is not None and url.startswith(f"{identity_storage.blob_service_uri('nachetabc')}"
                                              "/nachet-thumbnails/u1/s1/p%201.webp?")
    query = sas(url)
    assert (query["sp"], query["sr"], query["skoid"], query["sktid"]) == ("r", "b", OBJECT_ID, TENANT_ID)
    assert query["se"] == expiry.strftime("%Y-%m-%dT%H:%M:%SZ") and query["sig"]
    # The managed identity's token, asked for storage with the template's client id.
    [token] = identity_storage.token_requests
    assert token["client_id"] == [CLIENT_ID] and token["resource"] == ["https://storage.azure.com"]
    [key] = identity_storage.key_requests
    assert key.token == "token-1"
    key_expiry = datetime.fromisoformat(key.expiry)
    assert key_expiry >= expiry + timedelta(hours=5)  # one key for hours of URLs
    assert query["ske"] == key.expiry

    # More URLs in the key's lifetime: no request.
    other = storage.read_url("nachet-thumbnails", "u1/s1/p2.webp", expiry=expiry)
    assert other is not None and sas(other)["ske"] == key.expiry
    assert len(identity_storage.key_requests) == 1

    # A URL that would outlive the key: a new key first, valid past it.
    later = key_expiry + timedelta(minutes=30)
    renewed = storage.read_url("nachet-thumbnails", "u1/s1/p3.webp", expiry=later)
    assert renewed is not None and len(identity_storage.key_requests) == 2
    assert datetime.fromisoformat(sas(renewed)["ske"].replace("Z", "+00:00")) > later


def test_the_health_ping_asks_storage_for_a_delegation_key(identity_storage):
    storage.ping()
    storage.ping()
    assert len(identity_storage.key_requests) == 2  # a real request each time
    assert len(identity_storage.token_requests) == 1  # the token is reused


def test_without_the_identity_endpoint_the_ping_is_a_dependency_error(identity_storage, monkeypatch):
    from shared.errors import DependencyUnavailable

    monkeypatch.setenv("IDENTITY_HEADER", f"wrong-{uuid.uuid4().hex}")
    settings.reset()
    with pytest.raises(DependencyUnavailable):
        storage.ping()
    assert identity_storage.key_requests == []


def test_a_key_that_cannot_be_had_leaves_thumbnails_null_and_is_not_asked_again_at_once(
        identity_storage, monkeypatch, caplog):
    from shared.services.thumbnails import thumbnail_url

    identity_storage.key_status = 403  # the identity lost its role, say
    with caplog.at_level(logging.WARNING, logger="shared.storage"):
        assert [thumbnail_url(f"u1/s1/p{n}.webp") for n in range(20)] == [None] * 20
    # A listing of 20 pictures asked once, and logged it once.
    assert identity_storage.key_attempts == 1
    assert [r.getMessage() for r in caplog.records] == [
        "storage error during user delegation key: HttpResponseError"]
    # Past the pause after a failure, a key is asked for again, and the URLs come back.
    identity_storage.key_status = 200
    monkeypatch.setattr(storage, "_KEY_RETRY_S", 0.0)
    assert thumbnail_url("u1/s1/p0.webp").startswith(identity_storage.blob_service_uri("nachetabc"))
    assert identity_storage.key_attempts == 2


def test_one_request_fetches_the_key_and_the_others_do_without_it_past_a_bound(identity_storage, monkeypatch):
    from shared.services.thumbnails import thumbnail_url

    monkeypatch.setattr(storage, "_KEY_WAIT_S", 0.2)
    identity_storage.key_gate.clear()  # the storage holds the first fetch
    first: list[str | None] = []
    fetching = threading.Thread(target=lambda: first.append(thumbnail_url("u1/s1/first.webp")))
    fetching.start()
    assert identity_storage.key_arrived.wait(10)
    # Another listing neither fetches a key too nor waits for the held fetch to end.
    others: list[list[str | None]] = []
    listing = threading.Thread(
        target=lambda: others.append([thumbnail_url(f"u1/s1/p{n}.webp") for n in range(3)]))
    listing.start()
    listing.join(30)  # a deadlock detector, not a timing: it ends in about 0.2 s
    identity_storage.key_gate.set()
    fetching.join(30)
    assert others == [[None, None, None]]
    assert identity_storage.key_attempts == 1
    assert first and first[0] is not None
    assert thumbnail_url("u1/s1/p0.webp") is not None and identity_storage.key_attempts == 1


def test_a_listing_without_a_delegation_key_answers_null_thumbnails(app, identity_storage, monkeypatch):
    from tests.conftest import Client

    client = Client(app.base_url, "analyst@example.org")
    user = client.user_id()
    [(folder,)] = app.sql("SELECT default_set_id::text FROM users WHERE id = %s", [user])
    picture = str(uuid.uuid4())
    app.sql("INSERT INTO picture (id, picture_set_id, blob_name, content_type, width, height, sha256,"
            " metadata) VALUES (%s, %s, %s, 'image/png', 10, 10, 'x', %s)",
            [picture, folder, f"{user}/{folder}/{picture}.png",
             json.dumps({"thumbnail": f"{user}/{folder}/{picture}.webp"})])
    identity_storage.key_status = 403

    def thumbnails() -> list[str | None]:
        r = client.post("get-directories", {"container_name": user})
        assert r.status_code == 200, r.text  # it was a 503: the listing needs no storage request
        return [p["thumbnail"] for f in r.json()["folders"] for p in f["pictures"]]

    assert thumbnails() == [None]
    identity_storage.key_status = 200
    monkeypatch.setattr(storage, "_KEY_RETRY_S", 0.0)
    [url] = thumbnails()
    assert url is not None and sas(url)["skoid"] == OBJECT_ID
