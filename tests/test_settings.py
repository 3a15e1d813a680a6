"""Settings that carry over from the current backend: NACHET_SCHEMA places the app's tables,
the blob pipeline settings are checked when set (the key never quoted), and every
function, the blob trigger included, refuses to load with a bad setting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import psycopg
import pytest
from cryptography.fernet import Fernet

from shared.errors import ConfigurationError
from shared.settings import load_settings
from tests.conftest import ROOT, Client

BASE = {"NACHET_DB_URL": "postgresql://localhost/x",
        "NACHET_AZURE_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"}


def test_blob_pipeline_settings_are_read_when_set():
    key = Fernet.generate_key().decode()
    settings = load_settings({**BASE, "NACHET_BLOB_PIPELINE_NAME": "nachet-pipelines",
                              "NACHET_BLOB_PIPELINE_VERSION": "0.1.3",
                              "NACHET_BLOB_PIPELINE_DECRYPTION_KEY": key})
    assert (settings.blob_pipeline_container, settings.blob_pipeline_version) == ("nachet-pipelines", "0.1.3")
    assert settings.blob_pipeline_decryption_key == key
    assert key not in repr(settings)
    unset = load_settings(BASE)
    assert (unset.blob_pipeline_container, unset.blob_pipeline_version,
            unset.blob_pipeline_decryption_key) == (None, None, None)


@pytest.mark.parametrize("key", [
    "not-a-key",
    Fernet.generate_key().decode()[:-2] + "==",  # 31 bytes
    Fernet.generate_key().decode().replace("=", "A") + "=",  # 33 bytes
    "Jx2k/Mq9+Lw3aP0cR7tY1uZ5vB8nE4hG6iK0oS2dF3w=",  # standard base64, not url-safe
])
def test_a_malformed_decryption_key_is_named_never_quoted(key):
    with pytest.raises(ConfigurationError) as caught:
        load_settings({**BASE, "NACHET_BLOB_PIPELINE_DECRYPTION_KEY": key})
    assert "NACHET_BLOB_PIPELINE_DECRYPTION_KEY is not a Fernet key" in str(caught.value)
    assert key not in str(caught.value)


@pytest.mark.parametrize(("name", "value"), [
    ("NACHET_BLOB_PIPELINE_NAME", "Pipelines_Container"),
    ("NACHET_BLOB_PIPELINE_VERSION", "../0.1.3"),
])
def test_malformed_blob_pipeline_settings_are_named(name, value):
    with pytest.raises(ConfigurationError, match=name):
        load_settings({**BASE, name: value})


def test_every_function_refuses_to_load_naming_the_bad_setting():
    folders = sorted(p.parent.name for p in ROOT.glob("*/function.json"))
    assert "process_picture" in folders
    code = (
        "import importlib, json\n"
        "failed = {}\n"
        f"for name in {folders!r}:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except Exception as exc:\n"
        "        failed[name] = str(exc)\n"
        "print(json.dumps(failed))\n"
    )
    env = {**os.environ, **BASE, "NACHET_BLOB_PIPELINE_DECRYPTION_KEY": "s3cret-but-no-key"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                         text=True, check=True, timeout=120)
    failed = json.loads(out.stdout)
    assert sorted(failed) == folders
    for message in failed.values():
        assert "NACHET_BLOB_PIPELINE_DECRYPTION_KEY is not a Fernet key" in message
        assert "s3cret-but-no-key" not in message


@pytest.fixture
def empty_database(app, services, monkeypatch):
    """The app pointed at a database with nothing in it, not even the app's schema."""
    from shared import settings

    dbname = f"empty_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(services.admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {dbname} TEMPLATE template0")
    url = services.db_url(dbname)
    monkeypatch.setenv("NACHET_DB_URL", url)
    yield url
    settings.reset()
    with psycopg.connect(services.admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)")


def test_nachet_schema_holds_every_table_of_the_app(app, empty_database, monkeypatch):
    from shared import settings

    monkeypatch.setenv("NACHET_SCHEMA", "carried_over")
    settings.reset()
    client = Client(app.base_url, "analyst@example.org")
    user_id = client.user_id()
    r = client.get("model-endpoints-metadata")
    assert r.status_code == 200, r.text

    with psycopg.connect(empty_database) as conn:
        schemas = conn.execute(
            "SELECT table_schema, count(*) FROM information_schema.tables"
            " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
            " GROUP BY table_schema").fetchall()
        tables = {row[0] for row in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'carried_over'")}
        users = conn.execute("SELECT id::text FROM carried_over.users").fetchall()
    assert [s for s, _ in schemas] == ["carried_over"]
    assert {"users", "picture_set", "picture", "inference", "object", "seed_obj", "seed", "model",
            "pipeline", "pipeline_model", "schema_version"} <= tables
    assert users == [(user_id,)]
