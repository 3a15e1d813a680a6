"""`python manage.py import-pipelines FILE`, in process against the test database: what it
writes, idempotence, new versions, refusals; then the pipelines as the client sees them
(GET /api/model-endpoints-metadata) and run through POST /api/inf."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import psycopg
import pytest
import yaml
from cryptography.fernet import Fernet

from shared import settings
from shared.db import connection
from shared.db import migrate as migrations
from shared.db.queries import pipelines
from shared.errors import ConfigurationError
from tests.conftest import assert_error
from tests.support.inference import body, nothing_stored, sample_url
from tests.support.model_server import box

KEY_SETTING = "NACHET_TEST_MODEL_KEY"
ENDPOINTS_KEY = Fernet.generate_key().decode()


@pytest.fixture(autouse=True)
def endpoints_key(app, monkeypatch):
    """The key that endpoints rest encrypted under."""
    monkeypatch.setenv("NACHET_BLOB_PIPELINE_DECRYPTION_KEY", ENDPOINTS_KEY)
    settings.reset()


def decrypted(token: str) -> str:
    return Fernet(ENDPOINTS_KEY).decrypt(token.encode()).decode()


def definition(detector_url: str = "https://detector.example.org/score",
               classifier_url: str = "https://swin.example.org/score", *, version: str = "1") -> dict:
    return {
        "version": f"0.{version}",
        "date": "2024-08-01",
        "models": [
            {"model_name": "seed-detector-1", "type": "azureml-seed-detector", "task": "object-detection",
             "endpoint": detector_url, "api_key_setting": KEY_SETTING, "deployment": "seed-detector-1",
             "content_type": "application/json", "version": version, "description": "Detector"},
            {"model_name": "swin-1", "type": "azureml-classifier", "task": "classification",
             "endpoint": classifier_url, "api_key_setting": KEY_SETTING, "deployment": "swin-dep",
             "content_type": "application/octet-stream", "version": version},
            {"model_name": "builtin", "type": "builtin-seed-detector", "task": "object-detection",
             "version": "1"},
        ],
        "pipelines": [
            {"pipeline_name": "builtin-only", "models": ["builtin"], "version": "1"},
            {"pipeline_name": "seed-detector-swin", "models": ["seed-detector-1", "swin-1"],
             "default": True, "version": version, "description": "Detector, then Swin",
             "created_by": "CFIA", "creation_date": "2024-08-01"},
        ],
    }


def write(tmp_path: Path, raw: dict, name: str = "pipelines.yaml") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(raw) if name.endswith(".json") else yaml.safe_dump(raw, sort_keys=False))
    return path


def active(app) -> list[tuple]:
    return app.sql("SELECT name, version, is_default FROM pipeline WHERE active ORDER BY name")


def test_import_writes_pipelines_and_models(app, run_command, tmp_path):
    code, out, _ = run_command("import-pipelines", str(write(tmp_path, definition())))
    assert code == 0
    assert "imported" in out and "2 pipeline(s), default 'seed-detector-swin'; 3 model(s)" in out
    assert active(app) == [("builtin-only", "1", False), ("seed-detector-swin", "1", True)]
    # The built-in pipeline that the app registers is replaced, kept inactive.
    assert app.sql("SELECT active, is_default FROM pipeline WHERE name = 'seed-detector-builtin'") == [
        (False, False)]
    [(token, *rest)] = app.sql("SELECT endpoint_encrypted, name, api_key_setting, api_key_encrypted,"
                               " deployment, content_type, data FROM model WHERE active AND name = 'swin-1'")
    assert rest == ["swin-1", KEY_SETTING, None, "swin-dep", "application/octet-stream", {}]
    # The endpoint rests encrypted under NACHET_BLOB_PIPELINE_DECRYPTION_KEY.
    assert "example.org" not in token and decrypted(token) == "https://swin.example.org/score"
    assert app.sql("SELECT endpoint_encrypted FROM model WHERE active AND name = 'builtin'") == [(None,)]
    with connection() as conn:
        spec = pipelines.load(conn, None)
    assert spec.name == "seed-detector-swin"
    assert [(m.name, m.type, m.deployment) for m in spec.models] == [
        ("seed-detector-1", "azureml-seed-detector", "seed-detector-1"),
        ("swin-1", "azureml-classifier", "swin-dep")]


def test_metadata_lists_the_imported_pipelines_without_endpoints(app, client, run_command, tmp_path):
    run_command("import-pipelines", str(write(tmp_path, definition())))
    r = client.get("model-endpoints-metadata")
    assert r.status_code == 200, r.text
    listed = r.json()
    assert [p["pipeline_name"] for p in listed] == ["seed-detector-swin", "builtin-only"]
    default = listed[0]
    assert {k: v for k, v in default.items() if k != "pipeline_id"} == {
        "model_name": "seed-detector-swin", "pipeline_name": "seed-detector-swin", "default": True,
        "models": ["seed-detector-1", "swin-1"], "version": "1", "description": "Detector, then Swin",
        "creation_date": "2024-08-01", "created_by": "CFIA"}
    assert listed[1]["default"] is False and listed[1]["models"] == ["builtin"]
    assert "example.org" not in r.text and KEY_SETTING not in r.text


def test_importing_the_same_definition_again_changes_nothing(app, run_command, tmp_path):
    run_command("import-pipelines", str(write(tmp_path, definition())))
    before = app.sql("SELECT id, active, is_default FROM pipeline ORDER BY id")
    models = app.sql("SELECT id, active FROM model ORDER BY id")
    # The same content, in the other format.
    code, out, _ = run_command("import-pipelines", str(write(tmp_path, definition(), "same.json")))
    assert code == 0 and "nothing changed" in out
    assert app.sql("SELECT id, active, is_default FROM pipeline ORDER BY id") == before
    assert app.sql("SELECT id, active FROM model ORDER BY id") == models
    assert app.sql("SELECT count(*) FROM pipeline_definition") == [(1,)]


def test_a_new_version_replaces_the_active_definitions(app, run_command, tmp_path):
    run_command("import-pipelines", str(write(tmp_path, definition())))
    old_ids = {r[0] for r in app.sql("SELECT id FROM pipeline WHERE active")}
    v2 = definition(version="2")
    v2["pipelines"][0]["default"], v2["pipelines"][1]["default"] = True, False
    code, out, _ = run_command("import-pipelines", str(write(tmp_path, v2, "v2.yaml")))
    assert code == 0 and "2 pipeline(s) made inactive" in out

    assert active(app) == [("builtin-only", "1", True), ("seed-detector-swin", "2", False)]
    assert old_ids.isdisjoint(r[0] for r in app.sql("SELECT id FROM pipeline WHERE active"))
    # The old rows are kept, inactive, for the inferences that used them.
    assert app.sql("SELECT count(*) FROM pipeline WHERE id = ANY(%s) AND NOT active", [list(old_ids)]) == [
        (2,)]
    assert app.sql("SELECT count(*) FROM pipeline WHERE is_default") == [(1,)]
    assert app.sql("SELECT version FROM model WHERE active AND name = 'swin-1'") == [("2",)]
    assert app.sql("SELECT count(*) FROM model WHERE name = 'swin-1'") == [(2,)]

    # Going back to version 1 is an import like any other.
    code, out, _ = run_command("import-pipelines", str(write(tmp_path, definition())))
    assert "imported" in out
    assert active(app) == [("builtin-only", "1", False), ("seed-detector-swin", "1", True)]


def test_inferences_keep_the_pipeline_they_ran_on(app, client, run_command, tmp_path):
    user = client.user_id()
    r = client.post("inf", body(user, sample_url()))  # the built-in default pipeline
    assert r.status_code == 200, r.text
    run_command("import-pipelines", str(write(tmp_path, definition())))
    assert app.sql("SELECT p.name, p.active FROM inference i JOIN pipeline p ON p.id = i.pipeline_id") == [
        ("seed-detector-builtin", False)]


def test_an_invalid_file_writes_nothing(app, run_command, tmp_path):
    before = app.sql("SELECT id, active, is_default FROM pipeline ORDER BY id")
    raw = definition()
    raw["models"][1]["api_key"] = "s3cret"
    raw["pipelines"][0]["models"] = ["nowhere"]
    path = write(tmp_path, raw)
    code, out, err = run_command("import-pipelines", str(path))
    assert code == 1 and out == ""
    assert f"{path}: model #2 'swin-1': api_key: a key in clear is refused" in err
    assert f"{path}: pipeline #1 'builtin-only': models: 'nowhere' is not a model" in err
    assert "s3cret" not in err
    assert app.sql("SELECT id, active, is_default FROM pipeline ORDER BY id") == before
    assert app.sql("SELECT count(*) FROM pipeline_definition") == [(0,)]


def test_check_only_validates(app, run_command, tmp_path):
    before = app.sql("SELECT id, active FROM pipeline ORDER BY id")
    code, out, _ = run_command("import-pipelines", "--check", str(write(tmp_path, definition())))
    assert code == 0 and "is valid" in out
    assert app.sql("SELECT id, active FROM pipeline ORDER BY id") == before


def test_concurrent_imports_leave_one_active_definition(app, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from shared.pipeline.definition_sources import read_definition_file
    from shared.services.pipelines import import_definition

    files = [read_definition_file(write(tmp_path, definition(version=str(v)), f"v{v}.yaml"))
             for v in (1, 2, 3)]
    with ThreadPoolExecutor(3) as pool:
        assert all(r.changed for r in pool.map(import_definition, files))
    assert app.sql("SELECT count(*), count(DISTINCT definition_id) FROM pipeline WHERE active") == [(2, 1)]
    assert app.sql("SELECT count(*) FROM pipeline WHERE is_default") == [(1,)]


@pytest.fixture
def imported(app, run_command, model_server, monkeypatch, tmp_path):
    """The definition imported with its models on the local model server."""
    monkeypatch.setenv(KEY_SETTING, "key-for-tests")
    settings.reset()
    raw = definition(f"{model_server.base_url}/detector/score", f"{model_server.base_url}/classifier/score")
    assert run_command("import-pipelines", str(write(tmp_path, raw)))[0] == 0
    return model_server


def test_inference_through_an_imported_pipeline(app, client, imported):
    imported.detector(boxes=[box(0.1, 0.1, 0.3, 0.3, score=0.8), box(0.5, 0.5, 0.9, 0.8, score=0.7)])
    imported.classifier(answer=lambda call: [{"label": "014 Ambrosia trifida", "score": 0.85},
                                             {"label": "Brassica napus", "score": 0.1}])
    user = client.user_id()
    r = client.post("inf", body(user, sample_url()))  # no model_name: the default pipeline
    assert r.status_code == 200, r.text
    inference = r.json()
    assert inference["models"] == [{"name": "seed-detector-1", "version": "1"},
                                   {"name": "swin-1", "version": "1"}]
    assert [b["label"] for b in inference["boxes"]] == ["Ambrosia trifida"] * 2
    detector_call = imported.calls("detector")[0]
    assert detector_call.headers["authorization"] == "Bearer key-for-tests"
    assert detector_call.headers["azureml-model-deployment"] == "seed-detector-1"
    assert {c.headers["azureml-model-deployment"] for c in imported.calls("classifier")} == {"swin-dep"}
    pipeline = app.sql("SELECT name, active FROM pipeline WHERE id = %s", [inference["pipeline_id"]])
    assert pipeline == [("seed-detector-swin", True)]


def test_failing_imported_classifier_is_502_and_stores_nothing(app, client, imported):
    imported.detector(boxes=[box(0.1, 0.1, 0.3, 0.3)])
    imported.classifier(fail_first=3, fail_status=503)
    user = client.user_id()
    assert_error(client.post("inf", body(user, sample_url())), 502, "swin-1")
    assert len(imported.calls("classifier")) == 3
    nothing_stored(app)


def test_hanging_imported_detector_is_504_and_stores_nothing(app, client, imported, monkeypatch):
    monkeypatch.setenv("NACHET_MODEL_READ_TIMEOUT_S", "0.3")
    settings.reset()
    imported.detector(boxes=[], hang=True)
    user = client.user_id()
    assert_error(client.post("inf", body(user, sample_url())), 504, "seed-detector-1")
    nothing_stored(app)


def test_an_endpoint_without_the_key_to_encrypt_it_is_refused_and_nothing_written(
        app, run_command, tmp_path, monkeypatch):
    monkeypatch.delenv("NACHET_BLOB_PIPELINE_DECRYPTION_KEY")
    settings.reset()
    before = app.sql("SELECT id, active, is_default FROM pipeline ORDER BY id")
    code, out, err = run_command("import-pipelines", str(write(tmp_path, definition())))
    assert code == 1 and out == ""
    assert "NACHET_BLOB_PIPELINE_DECRYPTION_KEY is not set: endpoints rest encrypted under it " \
           "(seed-detector-1, swin-1 of" in err
    assert "Fernet.generate_key()" in err and "example.org" not in err
    assert app.sql("SELECT id, active, is_default FROM pipeline ORDER BY id") == before
    assert app.sql("SELECT count(*) FROM pipeline_definition") == [(0,)]
    # Models that run in process have no endpoint: no key needed.
    raw = definition()
    raw["models"] = raw["models"][2:]
    raw["pipelines"] = [p | {"default": True} for p in raw["pipelines"][:1]]
    assert run_command("import-pipelines", str(write(tmp_path, raw)))[0] == 0


@pytest.fixture
def database_at_version_5(services, monkeypatch):
    """A database migrated up to migration 5, before endpoints were encrypted."""
    name = f"v5_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(services.admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name} TEMPLATE template0")
    url = services.db_url(name)
    files = migrations.migration_files()
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "migration_files", lambda: files[:5])
        assert migrations.migrate(url, "nachet") == [1, 2, 3, 4, 5]
    yield url
    with psycopg.connect(services.admin_url, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _clear_models(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("""INSERT INTO nachet.model
                            (name, type, task, endpoint, api_key_setting, version, active)
                        VALUES ('det', 'azureml-seed-detector', 'object-detection',
                                'https://det.example.org/score', 'NACHET_KEY_DET', '1', true),
                               ('old-det', 'azureml-seed-detector', 'object-detection',
                                'https://old.example.org/score', 'NACHET_KEY_DET', '1', false)""")


def test_migration_6_encrypts_the_endpoints_stored_in_clear(app, database_at_version_5):
    _clear_models(database_at_version_5)
    applied = migrations.migrate(database_at_version_5, "nachet")
    assert applied == list(range(6, len(migrations.migration_files()) + 1))
    with psycopg.connect(database_at_version_5) as conn:
        rows = dict(conn.execute("SELECT name, endpoint_encrypted FROM nachet.model"
                                 " WHERE endpoint_encrypted IS NOT NULL").fetchall())
        whole = conn.execute("SELECT string_agg(m::text, ' ') FROM nachet.model m").fetchone()[0]
    assert {name: decrypted(token) for name, token in rows.items()} == {
        "det": "https://det.example.org/score", "old-det": "https://old.example.org/score"}
    assert "example.org" not in whole


def test_migration_6_without_the_key_is_refused_naming_it_and_applies_nothing(
        app, database_at_version_5, monkeypatch):
    _clear_models(database_at_version_5)
    monkeypatch.delenv("NACHET_BLOB_PIPELINE_DECRYPTION_KEY")
    settings.reset()
    with pytest.raises(ConfigurationError, match=r"NACHET_BLOB_PIPELINE_DECRYPTION_KEY is not set: "
                                                 r"migration 0006 encrypts the model endpoints stored "
                                                 r"in clear \(det, old-det\)"):
        migrations.migrate(database_at_version_5, "nachet")
    with psycopg.connect(database_at_version_5) as conn:
        assert conn.execute("SELECT max(version) FROM nachet.schema_version").fetchone() == (5,)
        assert conn.execute("SELECT count(*) FROM nachet.model WHERE endpoint LIKE 'https://%'"
                            ).fetchone() == (2,)
