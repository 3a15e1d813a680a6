"""Pipeline definitions kept in Blob Storage by the current backend: a blob built in Azurite
with endpoints and keys encrypted under a test key, imported by `manage.py import-pipelines
--blob` (or from a local file in the same format), run through POST /api/inf against local
model endpoints; keys never rest in clear; every refusal names the blob, entry and field."""

from __future__ import annotations

import copy
import json
import uuid

import pytest
import yaml
from azure.storage.blob import BlobServiceClient
from cryptography.fernet import Fernet

from shared import settings
from shared.errors import ConfigurationError
from shared.pipeline.blob_definitions import parse_blob_definition
from shared.pipeline.definitions import DefinitionError, read_definition_file
from tests.conftest import assert_error
from tests.support.inference import body, nothing_stored, sample_url
from tests.support.model_server import box

KEY = Fernet.generate_key().decode()
VERSION = "0.1.3"
DETECTOR_KEY = f"detector-{uuid.uuid4().hex}"
SWIN_KEY = f"swin-{uuid.uuid4().hex}"
SIX_SEEDS_KEY = f"six-seeds-{uuid.uuid4().hex}"
KEYS = (DETECTOR_KEY, SWIN_KEY, SIX_SEEDS_KEY)
SWIN = "swinv1-base-dataaugv2-1"
SIX_SEEDS = "m-14of15seeds-6seedsmag"


def clear_definition(base_url: str = "https://models.example.org") -> dict:
    """A definition as its operator writes it, before the endpoints and keys are encrypted."""
    about = {"created_by": "CFIA", "creation_date": "2024-03-26", "version": 1,
             "job_name": "job-1", "dataset_description": "15 species"}
    return {
        "version": VERSION,
        "date": "2024-03-26",
        "pipelines": [
            {"models": ["seed-detector-1", SWIN], "pipeline_name": "Swin transformer",
             "description": "Detector, then Swin", "accuracy": 0.8302, "default": True, **about},
            {"models": [SIX_SEEDS], "pipeline_name": "Six seeds", "description": "One model",
             "accuracy": "0.7989", "default": False, **about},
            {"models": ["test"], "pipeline_name": "Wiring check", "default": False, **about},
        ],
        "models": [
            {"task": "object-detection", "endpoint": f"{base_url}/detector/score", "api_key": DETECTOR_KEY,
             "content_type": "application/json", "deployment_platform": "azure",
             "endpoint_name": "seed-detector-endpoint", "model_name": "seed-detector-1",
             "description": "Seed detector", "accuracy": 0.9, **about},
            # A field of an older layout, which the current backend's writer let through.
            {"task": "classification", "endpoint": f"{base_url}/swin/score", "api_key": SWIN_KEY,
             "content_type": "application/octet-stream", "deployment_platform": "azureml-model-deployment",
             "endpoint_name": "swin-endpoint", "model_name": SWIN, "api_call_function": "swin", **about},
            {"task": "object-detection", "endpoint": f"{base_url}/six-seeds/score", "api_key": SIX_SEEDS_KEY,
             "content_type": "application/json", "deployment_platform": "x-deployment-name",
             "endpoint_name": "six-seeds-endpoint", "model_name": SIX_SEEDS, **about},
            {"task": "object-detection", "endpoint": "", "api_key": "", "content_type": "",
             "deployment_platform": "azure", "endpoint_name": "", "model_name": "test", **about},
        ],
    }


def encrypted(raw: dict, key: str = KEY) -> dict:
    """`raw` with each model's endpoint and api_key encrypted, as the current backend's
    pipelines_version_insertion.py writes it."""
    out = copy.deepcopy(raw)
    fernet = Fernet(key)
    for model in out["models"]:
        for field in ("endpoint", "api_key"):
            if model[field]:
                model[field] = fernet.encrypt(model[field].encode()).decode()
    return out


@pytest.fixture
def blob_settings(app, monkeypatch):
    """The blob settings of the current backend; returns the container's name."""
    container = f"pipelines-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("NACHET_BLOB_PIPELINE_NAME", container)
    monkeypatch.setenv("NACHET_BLOB_PIPELINE_VERSION", VERSION)
    monkeypatch.setenv("NACHET_BLOB_PIPELINE_DECRYPTION_KEY", KEY)
    settings.reset()
    return container


def upload(app, container: str, raw: object, version: str = VERSION) -> str:
    """Write `raw` as the blob pipelines/<version>.json; return the name that messages use."""
    client = BlobServiceClient.from_connection_string(app.storage).get_container_client(container)
    if not client.exists():
        client.create_container()
    name = f"pipelines/{version}.json"
    client.upload_blob(name, json.dumps(raw, indent=4), overwrite=True)
    return f"blob {name} of container {container}"


@pytest.fixture
def imported(app, blob_settings, model_server, run_command):
    """The blob imported, its models on the local model server."""
    model_server.detector("detector", boxes=[box(0.1, 0.1, 0.3, 0.3), box(0.5, 0.5, 0.9, 0.8)])
    model_server.classifier("swin", answer=lambda call: [{"label": "014 Ambrosia trifida", "score": 0.85}])
    model_server.detector("six-seeds", boxes=[box(0.2, 0.2, 0.4, 0.4, label="Brassica napus")], wrap=True)
    upload(app, blob_settings, encrypted(clear_definition(model_server.base_url)))
    code, out, err = run_command("import-pipelines", "--blob")
    assert code == 0, err
    assert f"imported blob pipelines/{VERSION}.json of container {blob_settings}" in out
    assert "3 pipeline(s), default 'Swin transformer'; 4 model(s)" in out
    return model_server


def test_inference_runs_through_the_blob_pipelines(app, client, imported, caplog):
    user = client.user_id()
    r = client.post("inf", body(user, sample_url()))
    assert r.status_code == 200, r.text
    assert r.json()["models"] == [{"name": "seed-detector-1", "version": "1"}, {"name": SWIN, "version": "1"}]
    assert [b["label"] for b in r.json()["boxes"]] == ["Ambrosia trifida"] * 2
    detector = imported.calls("detector")[0].headers
    assert detector["authorization"] == f"Bearer {DETECTOR_KEY}"
    # deployment_platform "azure" names a platform: the header is azureml-model-deployment.
    assert detector["azureml-model-deployment"] == "seed-detector-1"
    swin = imported.calls("swin")
    assert len(swin) == 2
    assert {(c.headers["authorization"], c.headers["azureml-model-deployment"]) for c in swin} == {
        (f"Bearer {SWIN_KEY}", SWIN)}

    r = client.post("inf", body(user, sample_url(), model_name="Six seeds"))
    assert r.status_code == 200, r.text
    assert [b["label"] for b in r.json()["boxes"]] == ["Brassica napus"]
    six_seeds = imported.calls("six-seeds")[0].headers
    assert six_seeds["authorization"] == f"Bearer {SIX_SEEDS_KEY}"
    # deployment_platform names a header: the model's name goes in that header.
    assert six_seeds["x-deployment-name"] == SIX_SEEDS and "azureml-model-deployment" not in six_seeds

    r = client.post("inf", body(user, sample_url(), model_name="Wiring check"))
    assert r.status_code == 200 and r.json()["models"] == [{"name": "test", "version": "1"}]
    assert not any(key in caplog.text for key in KEYS)


def test_rows_keep_the_blob_metadata_and_the_inferred_adapters(app, client, imported):
    assert app.sql("SELECT name, type, task, deployment, content_type, api_key_setting FROM model"
                   " WHERE active ORDER BY name") == [
        (SIX_SEEDS, "azureml-six-seeds", "object-detection", SIX_SEEDS, "application/json", None),
        ("seed-detector-1", "azureml-seed-detector", "object-detection", "seed-detector-1",
         "application/json", None),
        (SWIN, "azureml-classifier", "classification", SWIN, "application/octet-stream", None),
        ("test", "test", "object-detection", None, None, None)]
    assert app.sql("SELECT endpoint, data FROM model WHERE active AND name = 'seed-detector-1'") == [
        (f"{imported.base_url}/detector/score",
         {"description": "Seed detector", "created_by": "CFIA", "creation_date": "2024-03-26",
          "endpoint_name": "seed-detector-endpoint", "job_name": "job-1",
          "dataset_description": "15 species", "accuracy": 0.9})]
    assert app.sql("SELECT data->>'deployment_header' FROM model WHERE active ORDER BY name") == [
        ("x-deployment-name",), (None,), (None,), (None,)]
    listed = client.get("model-endpoints-metadata").json()
    assert [(p["pipeline_name"], p["default"], p["models"]) for p in listed] == [
        ("Swin transformer", True, ["seed-detector-1", SWIN]), ("Six seeds", False, [SIX_SEEDS]),
        ("Wiring check", False, ["test"])]
    assert app.sql("SELECT data->>'accuracy' FROM pipeline WHERE active AND name = 'Six seeds'") == [
        ("0.7989",)]


def test_no_key_rests_in_clear_in_the_database(app, client, imported):
    r = client.post("inf", body(client.user_id(), sample_url()))
    assert r.status_code == 200, r.text
    tables = [row[0] for row in app.sql(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        " AND table_type = 'BASE TABLE'")]
    assert {"model", "pipeline", "pipeline_definition", "inference"} <= set(tables)
    for table in tables:
        # A row cast to text holds every column of every type, text and JSON included.
        for key in KEYS:
            found = app.sql(f"SELECT count(*) FROM {table} AS r WHERE strpos(r::text, %s) > 0", [key])
            assert found == [(0,)], (table, key)
    # The keys rest as their tokens, decrypted only to call the models.
    tokens = dict(app.sql("SELECT name, api_key_encrypted FROM model WHERE active AND type <> 'test'"))
    fernet = Fernet(KEY)
    assert {name: fernet.decrypt(token.encode()).decode() for name, token in tokens.items()} == {
        "seed-detector-1": DETECTOR_KEY, SWIN: SWIN_KEY, SIX_SEEDS: SIX_SEEDS_KEY}


def test_a_local_file_in_the_blob_format_is_the_same_definition(app, imported, run_command, tmp_path):
    blob_content = encrypted(clear_definition(imported.base_url))
    # The fixture's blob was encrypted separately: tokens differ, so upload this one first.
    upload(app, settings.get_settings().blob_pipeline_container, blob_content)
    assert run_command("import-pipelines", "--blob")[0] == 0
    for path, text in ((tmp_path / "pipelines.yaml", yaml.safe_dump(blob_content)),
                       (tmp_path / "pipelines.json", json.dumps(blob_content))):
        path.write_text(text)
        code, out, _ = run_command("import-pipelines", str(path))
        assert code == 0 and "nothing changed" in out
    assert app.sql("SELECT count(*) FROM pipeline_definition") == [(2,)]


def test_an_encrypted_key_that_no_longer_decrypts_is_502_naming_the_model(app, client, imported,
                                                                         monkeypatch):
    monkeypatch.setenv("NACHET_BLOB_PIPELINE_DECRYPTION_KEY", Fernet.generate_key().decode())
    settings.reset()
    r = client.post("inf", body(client.user_id(), sample_url()))
    assert_error(r, 502, "seed-detector-1", "does not decrypt")
    assert KEY not in r.text and DETECTOR_KEY not in r.text
    assert imported.calls("detector") == []
    nothing_stored(app)


def _not_fernet(raw: dict) -> dict:
    out = encrypted(raw)
    out["models"][1]["api_key"] = SWIN_KEY  # the key itself, never encrypted
    return out


def _pipelines(change):
    def apply(raw: dict) -> dict:
        change(raw)
        return encrypted(raw)
    return apply


@pytest.mark.parametrize(("make", "expected"), [
    (lambda raw: encrypted(raw, Fernet.generate_key().decode()),
     ["model #1 'seed-detector-1': endpoint: does not decrypt with NACHET_BLOB_PIPELINE_DECRYPTION_KEY",
      "model #1 'seed-detector-1': api_key: does not decrypt with NACHET_BLOB_PIPELINE_DECRYPTION_KEY",
      f"model #2 '{SWIN}': api_key: does not decrypt"]),
    (_not_fernet, [f"model #2 '{SWIN}': api_key: is not a Fernet token"]),
    (_pipelines(lambda raw: raw["pipelines"][0].update(default=False)),
     ["top level: pipelines: exactly one pipeline must be the default; none is"]),
    (_pipelines(lambda raw: raw["pipelines"][1].update(default=True)),
     ["top level: pipelines: exactly one pipeline must be the default; 2 are: Swin transformer, Six seeds"]),
    (_pipelines(lambda raw: raw["pipelines"][0].update(models=["seed-detector-1", "swinv2-large"])),
     ["pipeline #1 'Swin transformer': models: 'swinv2-large' is not a model of this definition"]),
    (_pipelines(lambda raw: raw["models"][1].update(model_name="resnet-50")),
     ["model #2 'resnet-50': model_name: 'resnet-50' is not a known model: in this format the adapter "
      "comes from the model's name (seed-detector*: azureml-seed-detector;",
      "pipeline #1 'Swin transformer': models: 'swinv1-base-dataaugv2-1' is not a model"]),
], ids=["wrong-key", "not-fernet", "no-default", "two-defaults", "undefined-model", "unknown-model-name"])
def test_refusals_name_the_blob_entry_and_field_and_write_nothing(app, blob_settings, run_command,
                                                                   make, expected):
    before = app.sql("SELECT id, active, is_default FROM pipeline ORDER BY id")
    source = upload(app, blob_settings, make(clear_definition()))
    code, out, err = run_command("import-pipelines", "--blob")
    assert code == 1 and out == ""
    assert f"error: {source} is not a valid pipeline definition" in err
    for problem in expected:
        assert f"{source}: {problem}" in err
    assert not any(key in err for key in (*KEYS, KEY, "models.example.org"))
    assert app.sql("SELECT id, active, is_default FROM pipeline ORDER BY id") == before
    assert app.sql("SELECT count(*) FROM pipeline_definition") == [(0,)]


def test_a_version_without_its_blob_is_named(app, blob_settings, run_command, monkeypatch):
    upload(app, blob_settings, encrypted(clear_definition()))
    monkeypatch.setenv("NACHET_BLOB_PIPELINE_VERSION", "0.1.4")
    settings.reset()
    code, _, err = run_command("import-pipelines", "--blob")
    assert code == 1
    assert (f"blob pipelines/0.1.4.json of container {blob_settings}: no such blob "
            "(NACHET_BLOB_PIPELINE_VERSION is '0.1.4'") in err
    assert app.sql("SELECT count(*) FROM pipeline_definition") == [(0,)]


def test_the_blob_settings_it_needs_are_named(app, run_command, monkeypatch, tmp_path):
    for name in ("NACHET_BLOB_PIPELINE_NAME", "NACHET_BLOB_PIPELINE_VERSION",
                 "NACHET_BLOB_PIPELINE_DECRYPTION_KEY"):
        monkeypatch.delenv(name, raising=False)
    settings.reset()
    code, _, err = run_command("import-pipelines", "--blob")
    assert code == 1
    assert ("NACHET_BLOB_PIPELINE_NAME, NACHET_BLOB_PIPELINE_VERSION, NACHET_BLOB_PIPELINE_DECRYPTION_KEY"
            " are not set") in err
    path = tmp_path / "pipelines.json"
    path.write_text(json.dumps(encrypted(clear_definition())))
    with pytest.raises(ConfigurationError, match="NACHET_BLOB_PIPELINE_DECRYPTION_KEY is not set"):
        read_definition_file(path)


def parse(raw: dict) -> str:
    """The message of the DefinitionError that `raw`, encrypted under KEY, raises."""
    with pytest.raises(DefinitionError) as caught:
        parse_blob_definition(encrypted(raw), source="blob", key=KEY)
    return caught.value.message


@pytest.mark.parametrize(("name", "kind"), [
    ("seed-detector-1", "azureml-seed-detector"), ("Seed-Detector-2", "azureml-seed-detector"),
    ("nachet-seed-detector-rcnn-v2", "azureml-seed-detector"), ("swinv2-large", "azureml-classifier"),
    (SIX_SEEDS, "azureml-six-seeds"), ("test", "test"),
])
def test_the_adapter_comes_from_the_model_name(name, kind):
    raw = clear_definition()
    raw["models"] = [{**raw["models"][0], "model_name": name}]
    raw["pipelines"] = [{**raw["pipelines"][0], "models": [name]}]
    model = parse_blob_definition(encrypted(raw), source="blob", key=KEY).models[0]
    assert (model.name, model.type) == (name, kind)


@pytest.mark.parametrize(("platform", "header"), [
    ("azure", None), ("aws", None), (None, None), ("AzureML-Model-Deployment", None),
    ("x-deployment-name", "x-deployment-name"),
])
def test_deployment_platform_names_the_header_unless_a_plain_word(platform, header):
    raw = clear_definition()
    raw["models"][1]["deployment_platform"] = platform
    model = parse_blob_definition(encrypted(raw), source="blob", key=KEY).models[1]
    assert model.deployment == SWIN and model.data.get("deployment_header") == header


@pytest.mark.parametrize(("change", "expected"), [
    (lambda m: m.update(deployment_platform="content-type"),
     "deployment_platform: 'content-type' is a header that the app sets itself"),
    (lambda m: m.update(deployment_platform="azure ml"), "deployment_platform: 'azure ml' is neither"),
    (lambda m: m.update(endpoint="http://models.example.org/swin/score"),
     "endpoint: the value must use https (plain http only on loopback)"),
    (lambda m: m.update(endpoint="models.example.org"), "endpoint: the value is not an http(s) URL"),
    (lambda m: m.update(api_key=None), "api_key: is missing"),
    (lambda m: m.update(api_key="two words"), "api_key: the decrypted key is empty or not visible ASCII"),
    (lambda m: m.update(accuracy="high"), "accuracy: must be a number like 0.92, not 'high'"),
    (lambda m: m.update(task="segmentation"), "task: 'segmentation' is not one of"),
    (lambda m: m.update(content_type=None), "content_type: is missing"),
])
def test_model_problems_name_the_field_never_a_secret(change, expected):
    raw = clear_definition()
    change(raw["models"][1])
    message = parse(raw)
    assert f"blob: model #2 '{SWIN}': {expected}" in message
    assert "models.example.org" not in message and "two words" not in message


@pytest.mark.parametrize(("written", "task"), [
    ("Object Detection", "object-detection"), ("object_detection", "object-detection"),
    ("Classification", "classification"), (" CLASSIFICATION ", "classification"),
])
def test_task_reads_as_the_current_publishing_script_writes_it(written, task):
    raw = clear_definition()
    raw["models"][1]["task"] = written
    assert parse_blob_definition(encrypted(raw), source="blob", key=KEY).models[1].task == task


def test_a_task_the_app_cannot_run_is_refused_naming_the_model():
    raw = clear_definition()
    raw["models"][1]["task"] = "Segmentation"
    assert f"blob: model #2 '{SWIN}': task: 'Segmentation' is not one of object-detection, " \
           "classification" in parse(raw)


@pytest.mark.parametrize("name", ["local-swin-15-spp", "local-swin-22-spp"])
def test_the_current_backends_local_swin_names_are_plain_classifiers(name):
    raw = clear_definition()
    raw["models"][1]["model_name"] = name
    raw["pipelines"] = [p | {"models": [name if m == SWIN else m for m in p["models"]]}
                        for p in raw["pipelines"]]
    model = parse_blob_definition(encrypted(raw), source="blob", key=KEY).models[1]
    assert (model.name, model.type, model.deployment) == (name, "azureml-classifier", name)
