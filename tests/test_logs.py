"""What the logs hold: a scripted run of every route of the published document and of the
blob trigger, in production mode with remote models whose endpoints and key rest encrypted,
with every logger at DEBUG (the app's, the Azure SDK's, urllib3's, psycopg's and the local
host's). No line may hold a model key, a Fernet key or token, a cookie or JWT, a principal
header, a SAS signature, a connection string or account key, or a picture's bytes; a
request path in a line is cut to a sane length and holds no control character."""

from __future__ import annotations

import base64
import logging
import re
import socket
from urllib.parse import urlsplit

import pytest

from devhost.blob_triggers import BlobTriggerRunner
from shared import settings
from shared.contract import openapi_document
from shared.settings import DEVELOPMENT_STORAGE
from tests.conftest import ROOT, App, Client, principal_header
from tests.support import hostile
from tests.support.feedback import Analyst
from tests.support.inference import body, sample_url
from tests.support.model_server import ModelServer
from tests.support.synthetic_seeds import SAMPLE_PATH

LOGGERS = ("nachet", "shared", "azure", "urllib3", "psycopg", "devhost")
MODEL_KEY = "model-key-that-must-stay-secret-0123456789"
VOUCH_SECRET = "vouch-secret-for-the-log-test-" + "0123456789abcdef" * 3
MAX_PATH = 200  # characters of a request path in a log line (shared.http)
_FORMAT = logging.Formatter("%(name)s %(levelname)s %(message)s")


def debug_everywhere(caplog: pytest.LogCaptureFixture) -> None:
    """Every logger of the app and its libraries at DEBUG, captured (set again after the
    storage client and the model session are made: they quiet the Azure SDK and urllib3)."""
    caplog.set_level(logging.DEBUG)
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)


def raw_get(app: App, path: bytes) -> bytes:
    """A GET whose request line carries `path` as it is (no client escapes it)."""
    address, port = urlsplit(app.base_url).netloc.split(":")
    with socket.create_connection((address, int(port)), timeout=30) as s:
        s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return s.recv(65536)  # the status line is all the test reads


def script(app: App, analyst: Analyst, model_server: ModelServer, caplog) -> dict[str, str]:
    """Every route and the blob trigger, as a day of use; returns the secrets it used."""
    from shared.pipeline.encryption import encrypt

    fernet_key = settings.get_settings().blob_pipeline_decryption_key
    assert fernet_key
    token = encrypt(MODEL_KEY, fernet_key)
    app.sql("UPDATE model SET api_key_encrypted = %s, api_key_setting = NULL", [token])
    client = analyst.client
    assert client.get("health").status_code == 200  # makes the storage client
    debug_everywhere(caplog)

    user = analyst.id
    vouch = hostile.vouch_cookie(hostile._jwt(hostile.vouch_claims("vouched@example.org"), VOUCH_SECRET))
    anonymous = Client(app.base_url, None)
    assert anonymous.post("get-user-id", headers={"Cookie": f"jxVouchCookie={vouch}"}).status_code == 200
    assert anonymous.post("get-user-id", headers={"X-MS-CLIENT-PRINCIPAL": "eyJub3QiOiAib2sifQ=="}
                          ).status_code == 401
    assert client.post("get-user-id", {"email": ""}).status_code == 200
    for path in ("health", "model-endpoints-metadata", "seeds", "seed-data/Ambrosia%20trifida",
                 "openapi.json"):
        assert client.get(path).status_code == 200, path
    assert client.get("seed-data/" + "x" * 3000).status_code == 400  # too long a name
    assert b" 401 " in raw_get(app, b"/api/seed-data/a\x1b[31mred\x07")  # no identity: logged all the same

    folder = client.post("create-dir", {"container_name": user, "folder_name": "Lot 7"}).json()[0]
    inference = analyst.infer(folder_name=folder)
    debug_everywhere(caplog)  # the model session quiets urllib3 when it is made
    boxes = [b["box_id"] for b in inference["boxes"]]
    assert analyst.positive(inference, boxes[:1]).status_code == 200
    assert analyst.negative(inference, [{"boxId": boxes[1], "label": "Carex nova"},
                                        {"boxId": boxes[2]}]).status_code == 200
    model_server.classifier(answer=lambda call: [{"label": "x", "score": 2}], fail_first=10, fail_status=500)
    assert analyst.client.post("inf", body(user, sample_url())).status_code == 502

    session = client.post("new-batch-import", {"container_name": user, "user_id": user, "nb_pictures": 1,
                                               "folder_name": "Batch 7"}).json()["session_id"]
    upload = {"container_name": user, "user_id": user, "session_id": session, "seed_name": "Ambrosia trifida",
              "image": sample_url()}
    assert client.post("upload-picture", upload).json() == [True]
    assert client.post("image-validation", {"image": sample_url()}).status_code == 200
    runner = BlobTriggerRunner(ROOT, poll_interval_s=0.2)
    try:
        assert all(i.outcome == "done" for i in runner.run_once())
    finally:
        runner.stop()

    listing = client.post("get-directories", {"container_name": user}).json()
    thumbnails = [p["thumbnail"] for f in listing["folders"] for p in f["pictures"] if p["thumbnail"]]
    assert thumbnails and "sig=" in thumbnails[0]  # signed URLs are answered, never logged
    shown = client.post("get-picture", {"container_name": user, "picture_id": inference["picture_id"]})
    assert shown.status_code == 200
    for path, ref in (("delete-request", session), ("delete-with-archive", session),
                      ("delete-permanently", folder)):
        assert client.post(path, {"container_name": user, "folder_uuid": ref}).status_code == 200, path
    # The operator routes: the verified data exported (a signed URL answered), and measured.
    exported = client.post("export-dataset", {"format": "coco", "name": "logged"})
    assert exported.status_code == 200 and "sig=" in exported.json()["url"], exported.text
    assert client.post("model-accuracy", {"png": True}).status_code == 200
    other = client.post("create-dir", {"container_name": user, "folder_name": "Lot 8"}).json()[0]
    assert client.post("del", {"container_name": user, "folder_name": other}).json() == [True]
    return {
        "model key": MODEL_KEY, "model key token": token, "Fernet key": fernet_key,
        "Vouch cookie": vouch, "Vouch secret": VOUCH_SECRET,
        "principal": principal_header(analyst.client.email),
        "account key": DEVELOPMENT_STORAGE.split("AccountKey=")[1].split(";")[0],
        "database URL": app.db_url, "SAS of a thumbnail": urlsplit(thumbnails[0]).query,
        "a picture's bytes": base64.b64encode(SAMPLE_PATH.read_bytes()).decode()[400:460],
    }


_PATTERNS = {
    "SAS signature": re.compile(r"sig=(?!\*)", re.I),
    "account key": re.compile(r"AccountKey=", re.I),
    "Fernet token": re.compile(r"gAAAAA[A-Za-z0-9_-]{20}"),
    "JWT or base64 JSON": re.compile(r"eyJ[A-Za-z0-9_-]{10}"),
    "bearer token": re.compile(r"Bearer\s+\S", re.I),
    "data URL": re.compile(r"data:image/[a-z]+;base64,[A-Za-z0-9+/]{8}"),
}


def test_logs_of_every_route_hold_no_secret_and_cut_paths(app, analyst, remote, monkeypatch, caplog):
    monkeypatch.setenv("NACHET_VOUCH_JWT_SECRET", VOUCH_SECRET)
    settings.reset()
    secrets = script(app, analyst, remote, caplog)
    # The test's own HTTP client logs through urllib3 too, from the main thread: not the app.
    lines = [_FORMAT.format(r) for r in caplog.records
             if not (r.name.startswith("urllib3") and r.threadName == "MainThread")]

    # The run reached every route, and every logger was heard: the checks below see it all.
    requests = " ".join(line for line in lines if line.startswith("nachet.request"))
    routes = [p.replace("{seed_name}", "") for p in openapi_document()["paths"]]
    assert [p for p in routes if f"/api{p}" not in requests] == []
    for name in (*LOGGERS, "shared.services.picture_processing"):
        assert any(line.startswith(name) for line in lines), name

    leaks = [(what, line[:300]) for line in lines for what, secret in secrets.items() if secret in line]
    leaks += [(what, line[:300]) for line in lines for what, found in _PATTERNS.items() if found.search(line)]
    assert leaks == []

    paths = [m.group() for line in lines for m in re.finditer(r"/api/\S*", line)]
    assert any("seed-data/xxx" in p for p in paths)  # the long path was logged, cut
    assert [p for p in paths if len(p) > MAX_PATH + 3] == []
    assert [line for line in lines if re.search(r"[\x00-\x08\x0b-\x1f\x7f]", line)] == []
