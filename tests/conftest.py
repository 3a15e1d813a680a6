"""Test harness: one embedded PostgreSQL and one Azurite per run, one local host serving
the app over real HTTP, and for each test a fresh database (a copy of a migrated
template) and fresh containers.

With NACHET_TEST_PGBOUNCER=1 (the second pass of .ci/run) the app reaches every test's
database through a PgBouncer in transaction mode, as in Azure; the harness's own work
(creating databases, the tests' SQL) still goes straight to PostgreSQL."""

from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from psycopg.conninfo import make_conninfo

from devhost.server import HostServer
from devhost.services import azurite_connection_string, free_port, start_azurite, start_postgres, stop
from devhost.settings_file import HostSettings
from tests.support.contract import VIOLATIONS, ContractDispatcher
from tests.support.feedback import DETECTIONS, GUESSES, Analyst
from tests.support.identity_storage import (
    CLIENT_ID,
    IDENTITY_HEADER,
    IdentityStorage,
    self_signed_certificate,
)
from tests.support.model_server import ModelServer
from tests.support.pgbouncer import PgBouncer, start_pgbouncer

ROOT = Path(__file__).resolve().parent.parent
# A valid configuration for modules that check the settings when they load; each test's
# `app` fixture points them at its own database and containers.
os.environ.update({
    "NACHET_DB_URL": "postgresql://placeholder/nachet",
    "NACHET_AZURE_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true",
})
SCHEMA = "nachet"
TEMPLATE_DB = "nachet_template"
WEB_ORIGIN = "http://localhost:5173"
PGBOUNCER_MODE = os.environ.get("NACHET_TEST_PGBOUNCER") == "1"


@dataclass
class Services:
    """The session's PostgreSQL server (admin URL), Azurite connection string, and in
    PgBouncer mode the PgBouncer in front of the server."""

    admin_url: str
    storage: str
    postgres: Any = field(repr=False)
    pgbouncer: PgBouncer | None = None

    def direct_url(self, dbname: str) -> str:
        """`dbname` on the server itself: for the harness's and the tests' own SQL."""
        return make_conninfo(self.admin_url, dbname=dbname)

    def db_url(self, dbname: str) -> str:
        """`dbname` as the app reaches it: through PgBouncer in PgBouncer mode."""
        return self.pgbouncer.url(dbname) if self.pgbouncer else self.direct_url(dbname)


@pytest.fixture(scope="session")
def scratch() -> Iterator[Path]:
    """A folder for the run's services, outside pytest's tmp_path, whose clean-up of old
    runs would pull the data folders from under a concurrent run."""
    path = Path(tempfile.mkdtemp(prefix="nachet-tests-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def services(scratch: Path) -> Iterator[Services]:
    from shared.db.migrate import migrate

    data = scratch / "services"
    postgres = start_postgres(data / "postgres")
    port = free_port()
    azurite = start_azurite(ROOT, data / "azurite", port)
    admin_url = postgres.get_uri()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE_DB}")
        conn.execute(f"CREATE DATABASE {TEMPLATE_DB}")
    migrate(make_conninfo(admin_url, dbname=TEMPLATE_DB), SCHEMA)
    # Ten server connections per database: more than one test's app pool (4) ever holds.
    bouncer = start_pgbouncer(admin_url, data / "pgbouncer", pool_size=10) if PGBOUNCER_MODE else None
    yield Services(admin_url, azurite_connection_string(port), postgres, bouncer)
    if bouncer is not None:
        bouncer.stop()
    stop(azurite)
    postgres.cleanup()


@pytest.fixture(scope="session")
def host() -> Iterator[str]:
    """The local host serving the app in this process; returns its base URL. Every answer of
    its functions is checked against the published contract (tests/support/contract.py)."""
    dispatcher = ContractDispatcher(ROOT)
    server = HostServer(("127.0.0.1", 0), dispatcher, HostSettings(0, (WEB_ORIGIN,), True))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api"
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def _answers_follow_the_contract() -> Iterator[None]:
    """Fails the test if the app answered it anything the OpenAPI document does not list."""
    VIOLATIONS.take()
    yield
    found = VIOLATIONS.take()
    assert not found, "answers outside shared/contract/openapi.json:\n" + "\n".join(found)


@dataclass
class App:
    """The app as one test sees it: its URL, database (as the app reaches it, and
    directly) and containers."""

    base_url: str
    db_url: str
    pictures_container: str
    thumbnails_container: str
    storage: str
    direct_url: str

    def sql(self, query: str, params: Any = None) -> list[tuple]:
        """Run SQL on the test's database (in the app's schema) and return the rows."""
        # Directly: a session-level search_path would not survive PgBouncer's transaction mode.
        with psycopg.connect(self.direct_url, autocommit=True) as conn:
            conn.execute(f"SET search_path TO {SCHEMA}")
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

    def blobs(self, container: str | None = None) -> list[str]:
        """Names of the blobs in a container (the pictures container by default)."""
        from azure.core.exceptions import ResourceNotFoundError
        from azure.storage.blob import BlobServiceClient

        client = BlobServiceClient.from_connection_string(self.storage)
        try:
            return sorted(b.name for b in client.get_container_client(
                container or self.pictures_container).list_blobs())
        except ResourceNotFoundError:
            return []


def app_env(services: Services, dbname: str, suffix: str) -> dict[str, str]:
    """The app settings of one test: production mode behind App Service Authentication."""
    return {
        "NACHET_DB_URL": services.db_url(dbname),
        "NACHET_SCHEMA": SCHEMA,
        "NACHET_AZURE_STORAGE_CONNECTION_STRING": services.storage,
        "AzureWebJobsStorage": services.storage,
        "NACHET_PICTURES_CONTAINER": f"pictures-{suffix}",
        "NACHET_THUMBNAILS_CONTAINER": f"thumbnails-{suffix}",
        "NACHET_EXPORTS_CONTAINER": f"exports-{suffix}",
        "NACHET_ENV": "production",
        "WEBSITE_AUTH_ENABLED": "true",
        "NACHET_DB_TIMEOUT_S": "3",
        "NACHET_MODEL_CONNECT_TIMEOUT_S": "2",
        "NACHET_MODEL_READ_TIMEOUT_S": "5",
    }


@pytest.fixture
def app(services: Services, host: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[App]:
    """A fresh database and fresh containers for this test, with the host pointed at them.
    Change settings with monkeypatch.setenv, then call shared.settings.reset()."""
    from shared import settings

    suffix = uuid.uuid4().hex[:12]
    dbname = f"test_{suffix}"
    with psycopg.connect(services.admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {dbname} TEMPLATE {TEMPLATE_DB}")
    env = app_env(services, dbname, suffix)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for key in ("NACHET_DEV_USER_EMAIL", "NACHET_VOUCH_JWT_SECRET", "NACHET_MAX_CONTENT_LENGTH"):
        monkeypatch.delenv(key, raising=False)
    settings.reset()
    yield App(host, env["NACHET_DB_URL"], env["NACHET_PICTURES_CONTAINER"],
              env["NACHET_THUMBNAILS_CONTAINER"], services.storage, services.direct_url(dbname))
    settings.reset()
    with psycopg.connect(services.admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")


def principal_header(email: str) -> str:
    """An App Service Authentication principal header for `email`."""
    principal = {
        "auth_typ": "aad",
        "name_typ": "name",
        "claims": [{"typ": "email", "val": email}, {"typ": "name", "val": "Analyst"}],
    }
    return base64.b64encode(json.dumps(principal).encode()).decode()


class Client:
    """Calls the app over HTTP as one signed-in user (App Service principal header)."""

    def __init__(self, base_url: str, email: str | None) -> None:
        self.base_url = base_url
        self.email = email
        self.session = requests.Session()

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        out = {"Content-Type": "application/json"}
        if self.email:
            out["X-MS-CLIENT-PRINCIPAL"] = principal_header(self.email)
        return {**out, **(headers or {})}

    def post(self, path: str, body: Any = None, *, headers: dict[str, str] | None = None,
             data: bytes | str | None = None, timeout: float = 60) -> requests.Response:
        payload = data if data is not None else json.dumps(body if body is not None else {})
        return self.session.post(f"{self.base_url}/{path.lstrip('/')}", data=payload,
                                 headers=self._headers(headers), timeout=timeout)

    def get(self, path: str, *, headers: dict[str, str] | None = None,
            timeout: float = 60) -> requests.Response:
        return self.session.get(f"{self.base_url}/{path.lstrip('/')}",
                                headers=self._headers(headers), timeout=timeout)

    def user_id(self) -> str:
        """This user's id (registering it on first call)."""
        r = self.post("get-user-id", {"email": ""})
        assert r.status_code == 200, r.text
        return r.json()["user_id"]


@pytest.fixture
def client(app: App) -> Client:
    """A signed-in user of its own."""
    return Client(app.base_url, f"analyst-{uuid.uuid4().hex[:8]}@example.org")


@pytest.fixture
def make_client(app: App):
    """Make more signed-in users: make_client() or make_client("name@example.org")."""
    def make(email: str | None = None) -> Client:
        return Client(app.base_url, email or f"user-{uuid.uuid4().hex[:8]}@example.org")
    return make


def assert_error(response: requests.Response, status: int, *words: str) -> None:
    """The response is the contract's error: `status`, a JSON array of one string
    that mentions each of `words` (case-insensitive)."""
    assert response.status_code == status, (response.status_code, response.text)
    body = response.json()
    assert isinstance(body, list) and len(body) == 1 and isinstance(body[0], str), body
    for word in words:
        assert word.lower() in body[0].lower(), (word, body[0])


@pytest.fixture
def run_command(app: App, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """Run manage.py in process against the test's settings: run_command("migrate")
    returns (exit code, stdout, stderr)."""
    import manage

    # The test's settings are already in the environment: keep local.settings.json out.
    monkeypatch.setattr(manage, "load_local_settings", lambda root: None)

    def run(*argv: str) -> tuple[int, str, str]:
        code = manage.main(list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def model_server() -> Iterator[ModelServer]:
    """Scripted Azure ML model endpoints on a local HTTP server, for this test
    (tests/support/model_server.py documents the API)."""
    server = ModelServer().start()
    yield server
    server.stop()


MODEL_KEY_SETTING = "NACHET_TEST_MODEL_KEY"


@pytest.fixture
def remote(app: App, model_server: ModelServer, monkeypatch: pytest.MonkeyPatch) -> ModelServer:
    """A default pipeline `remote`: detector then classifier, on the model server."""
    from cryptography.fernet import Fernet

    from shared import settings
    from shared.pipeline.encryption import encrypt

    endpoints_key = Fernet.generate_key().decode()  # the endpoints rest encrypted under it
    monkeypatch.setenv("NACHET_BLOB_PIPELINE_DECRYPTION_KEY", endpoints_key)
    monkeypatch.setenv(MODEL_KEY_SETTING, "key-for-tests")
    settings.reset()
    app.sql("UPDATE pipeline SET is_default = false")
    pipeline = app.sql("INSERT INTO pipeline (name, version, is_default) VALUES ('remote', '4', true)"
                       " RETURNING id")[0][0]
    for position, (name, kind, task, content_type) in enumerate([
        ("detector", "azureml-seed-detector", "object-detection", "application/json"),
        ("classifier", "azureml-classifier", "classification", "application/octet-stream"),
    ]):
        model_id = app.sql(
            "INSERT INTO model (name, type, task, endpoint_encrypted, api_key_setting, deployment,"
            " content_type, version) VALUES (%s, %s, %s, %s, %s, %s, %s, '4') RETURNING id",
            [name, kind, task, encrypt(f"{model_server.base_url}/{name}/score", endpoints_key),
             MODEL_KEY_SETTING, name, content_type],
        )[0][0]
        app.sql("INSERT INTO pipeline_model VALUES (%s, %s, %s)", [pipeline, model_id, position])
    return model_server


@pytest.fixture
def analyst(client: Client, remote: ModelServer) -> Analyst:
    """A user whose default pipeline is the remote detector and classifier of DETECTIONS
    (tests/support/feedback.py)."""
    remote.detector(boxes=DETECTIONS)
    remote.classifier(answer=lambda call: GUESSES)
    return Analyst(client)


@pytest.fixture
def listing(app: App, client: Client) -> dict:
    """The body of a get-directories of 40 pictures with thumbnails: well above the threshold."""
    user_id = client.user_id()
    [(folder_id,)] = app.sql("SELECT default_set_id FROM users WHERE id = %s", [user_id])
    app.sql(
        "INSERT INTO picture (picture_set_id, blob_name, content_type, width, height, sha256, metadata)"
        " SELECT %(f)s, %(u)s || '/' || %(f)s || '/' || n || '.png', 'image/png', 10, 10, md5(n::text),"
        "        jsonb_build_object('thumbnail', %(u)s || '/' || %(f)s || '/' || n || '.webp')"
        " FROM generate_series(1, 40) n", {"f": folder_id, "u": user_id})
    return {"container_name": user_id}


@pytest.fixture
def identity_storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[IdentityStorage]:
    """The app's storage through a managed identity, as the template configures it, against
    tests/support/identity_storage.py's HTTPS server (a token and user delegation keys only).
    After `app` when a test takes both: its connection string would win."""
    from shared import settings
    from shared.settings import STORAGE_SETTING

    cert_file, key_file = self_signed_certificate(tmp_path)
    server = IdentityStorage(cert_file).start(key_file)
    monkeypatch.delenv(STORAGE_SETTING, raising=False)
    for name, value in {
        f"{STORAGE_SETTING}__blobServiceUri": server.blob_service_uri("nachetabc"),
        f"{STORAGE_SETTING}__credential": "managedidentity",
        f"{STORAGE_SETTING}__clientId": CLIENT_ID,
        # What the platform gives a Flex Consumption app with a managed identity.
        "IDENTITY_ENDPOINT": server.identity_endpoint,
        "IDENTITY_HEADER": IDENTITY_HEADER,
        "REQUESTS_CA_BUNDLE": str(cert_file),
    }.items():
        monkeypatch.setenv(name, value)
    settings.reset()
    yield server
    settings.reset()
    server.stop()
