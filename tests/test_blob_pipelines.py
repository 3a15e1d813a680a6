"""Pipeline definitions kept in Blob Storage by the current backend: blobs in Azurite, with
endpoints and keys encrypted under a test key (built here, and the ones that the current
backend's own publishing script wrote, tests/data/current_backend), imported by `manage.py
import-pipelines --blob` (or from a local file in the same format), run through POST /api/inf
against local model endpoints with the current backend's behaviour; no key and no endpoint
rests in clear; every refusal names the blob, entry and field."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path

import pytest
import yaml
from azure.storage.blob import BlobServiceClient
from cryptography.fernet import Fernet
from PIL import Image

from shared import settings
from shared.errors import ConfigurationError
from shared.pipeline.blob_definitions import parse_blob_definition
from shared.pipeline.definition_sources import read_definition_file
from shared.pipeline.definitions import DefinitionError
from tests.conftest import assert_error
from tests.support.inference import body, nothing_stored, sample_url
from tests.support.model_server import box
from tests.support.synthetic_seeds import SAMPLE_PATH

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
    """Write `raw` (JSON text as it is, or data dumped as the publishing script does) as the
    blob pipelines/<version>.json; return the name that messages use."""
    client = BlobServiceClient.from_connection_string(app.storage).get_container_client(container)
    if not client.exists():
        client.create_container()
    name = f"pipelines/{version}.json"
    client.upload_blob(name, raw if isinstance(raw, str) else json.dumps(raw, indent=4), overwrite=True)
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
    [(token, data)] = app.sql("SELECT endpoint_encrypted, data FROM model WHERE active"
                              " AND name = 'seed-detector-1'")
    assert Fernet(KEY).decrypt(token.encode()).decode() == f"{imported.base_url}/detector/score"
    assert data == {"description": "Seed detector", "created_by": "CFIA", "creation_date": "2024-03-26",
                    "endpoint_name": "seed-detector-endpoint", "job_name": "job-1",
                    "dataset_description": "15 species", "accuracy": 0.9}
    assert app.sql("SELECT data->>'deployment_header' FROM model WHERE active ORDER BY name") == [
        ("x-deployment-name",), (None,), (None,), (None,)]
    listed = client.get("model-endpoints-metadata").json()
    assert [(p["pipeline_name"], p["default"], p["models"]) for p in listed] == [
        ("Swin transformer", True, ["seed-detector-1", SWIN]), ("Six seeds", False, [SIX_SEEDS]),
        ("Wiring check", False, ["test"])]
    assert app.sql("SELECT data->>'accuracy' FROM pipeline WHERE active AND name = 'Six seeds'") == [
        ("0.7989",)]


def assert_nowhere_in_the_database(app, secrets: list[str]) -> None:
    """No column of any row of any table holds one of `secrets`, as text."""
    tables = [row[0] for row in app.sql(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        " AND table_type = 'BASE TABLE'")]
    assert {"model", "pipeline", "pipeline_definition", "inference", "schema_version"} <= set(tables)
    for table in tables:
        # A row cast to text holds every column of every type, text and JSON included.
        found = app.sql(f"SELECT r::text FROM {table} AS r WHERE r::text LIKE ANY(%s)",
                        [[f"%{secret}%" for secret in secrets]])
        assert found == [], (table, found)


def test_no_key_and_no_endpoint_rests_in_clear_in_the_database(app, client, imported):
    r = client.post("inf", body(client.user_id(), sample_url()))
    assert r.status_code == 200, r.text
    assert_nowhere_in_the_database(app, [*KEYS, imported.base_url, "127.0.0.1"])
    # The keys and endpoints rest as their tokens, decrypted only to call the models.
    tokens = app.sql("SELECT name, api_key_encrypted, endpoint_encrypted FROM model"
                     " WHERE active AND type <> 'test'")
    fernet = Fernet(KEY)
    assert {name: (fernet.decrypt(key.encode()).decode(), fernet.decrypt(endpoint.encode()).decode())
            for name, key, endpoint in tokens} == {
        "seed-detector-1": (DETECTOR_KEY, f"{imported.base_url}/detector/score"),
        SWIN: (SWIN_KEY, f"{imported.base_url}/swin/score"),
        SIX_SEEDS: (SIX_SEEDS_KEY, f"{imported.base_url}/six-seeds/score")}


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
      "comes from the model's name (test: test; seed-detector*, *seed-detector-rcnn*: "
      "azureml-seed-detector;",
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
    (SIX_SEEDS, "azureml-six-seeds"), ("test", "test"), ("Swin-15E-SPP", "azureml-classifier-filter"),
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


@pytest.mark.parametrize(("name", "kind"), [
    ("local-swin-15-spp", "azureml-classifier"), ("local-swin-22-spp", "azureml-classifier"),
    ("local-swin-27-spp", "azureml-classifier"), ("swin-27-spp", "azureml-classifier"),
    ("local-swin-15e-spp", "azureml-classifier-filter"), ("swin-15e-spp", "azureml-classifier-filter"),
])
def test_the_current_backends_swin_names_run_as_its_request_functions(name, kind):
    model = parse_blob_definition(encrypted(_renamed(SWIN, name)), source="blob", key=KEY).models[1]
    assert (model.name, model.type, model.deployment) == (name, kind, name)
    # Its filter re-classifies the species of its SPECIES_LIST (model/torch_ensemble.py).
    assert model.data.get("labels") == (
        ["012 Ambrosia artemisiifolia", "013 Ambrosia trifida", "014 Ambrosia psilostachya"]
        if kind == "azureml-classifier-filter" else None)


def _renamed(old: str, new: str) -> dict:
    raw = clear_definition()
    for model in raw["models"]:
        if model["model_name"] == old:
            model["model_name"] = new
    raw["pipelines"] = [p | {"models": [new if m == old else m for m in p["models"]]}
                        for p in raw["pipelines"]]
    return raw


def test_a_filter_takes_the_labels_that_its_entry_gives():
    raw = _renamed(SWIN, "swin-15e-spp")
    raw["models"][1]["labels"] = ["Brassica napus", "Sinapis arvensis"]
    model = parse_blob_definition(encrypted(raw), source="blob", key=KEY).models[1]
    assert model.data["labels"] == ["Brassica napus", "Sinapis arvensis"]
    raw["models"][1]["labels"] = ["Brassica napus", "012 brassica NAPUS"]
    assert "blob: model #2 'swin-15e-spp': labels: a label is listed twice" in parse(raw)
    raw["models"][1]["labels"] = "Brassica napus"
    assert "blob: model #2 'swin-15e-spp': labels: must be a non-empty list" in parse(raw)


# The blobs that the current backend's own publishing script wrote, and the YAML it wrote them
# from (tests/data/current_backend/README.md says how).
PUBLISHED = Path(__file__).parent / "data" / "current_backend"
PUBLISHED_KEY = (PUBLISHED / "fernet.key").read_text().strip()
# model/__init__.py of ai-cfia/nachet-backend names every model it runs; by its request
# function, the adapter that behaves the same here.
CURRENT_BACKEND_MODELS = {
    "seed-detector-1": "azureml-seed-detector",  # request_inference_from_seed_detector
    "seed-detector-rcnn-1": "azureml-seed-detector",
    "local-seed-detector-rcnn": "azureml-seed-detector",
    "swinv1-base-dataaugv2-1": "azureml-classifier",  # request_inference_from_swin
    "swinv1-base-dataaugv2-2": "azureml-classifier",
    "swin-22-spp": "azureml-classifier",
    "local-swin-15-spp": "azureml-classifier",
    "local-swin-22-spp": "azureml-classifier",
    "swin-27-spp": "azureml-classifier",  # request_inference_ensemble_a: every crop
    "local-swin-27-spp": "azureml-classifier",
    "swin-15e-spp": "azureml-classifier-filter",  # request_inference_ensemble_b: its SPECIES_LIST
    "local-swin-15e-spp": "azureml-classifier-filter",
    "m-14of15seeds-6seedsmag": "azureml-six-seeds",  # request_inference_from_nachet_6seeds
    "test": "test",  # request_inference_from_test
}
SPECIES_LIST = ["012 Ambrosia artemisiifolia", "013 Ambrosia trifida", "014 Ambrosia psilostachya"]
DOCUMENTED_TASKS = {"Object Detection", "object-detection", "Classification", "classification"}


def published(version: str) -> tuple[str, dict]:
    """The blob of `version` as the script wrote it, and the YAML it came from (in clear)."""
    return ((PUBLISHED / f"pipelines-{version}.json").read_text(encoding="utf-8"),
            yaml.safe_load((PUBLISHED / f"pipelines-{version}.yaml").read_text(encoding="utf-8")))


def relocated(blob: str, base_url: str) -> str:
    """`blob` with each model's endpoint token replaced by a token (same key) of the model
    server's URL for that model; every other byte as the script wrote it."""
    fernet = Fernet(PUBLISHED_KEY)
    for model in json.loads(blob)["models"]:
        token = model["endpoint"]
        assert blob.count(token) == 1
        url = f"{base_url}/{model['model_name']}/score"
        blob = blob.replace(token, fernet.encrypt(url.encode()).decode())
    return blob


@pytest.fixture
def published_settings(app, monkeypatch):
    """The current backend's settings for the published blobs; returns the container."""
    container = f"nachet-pipelines-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("NACHET_BLOB_PIPELINE_NAME", container)
    monkeypatch.setenv("NACHET_BLOB_PIPELINE_VERSION", "0.2.0")
    monkeypatch.setenv("NACHET_BLOB_PIPELINE_DECRYPTION_KEY", PUBLISHED_KEY)
    settings.reset()
    return container


def test_the_published_blob_imports_as_it_is(app, client, published_settings, run_command):
    blob, source = published("0.2.0")
    # The data covers the current backend's whole name table and its documented task spellings.
    assert {m["model_name"] for m in source["models"]} == set(CURRENT_BACKEND_MODELS)
    assert {m["task"] for m in source["models"]} == DOCUMENTED_TASKS
    upload(app, published_settings, blob, "0.2.0")

    code, out, err = run_command("import-pipelines", "--blob")

    assert code == 0, err
    assert "9 pipeline(s), default 'Swin transformer'; 14 model(s)" in out
    written = {m["model_name"]: m for m in json.loads(blob)["models"]}
    given = {m["model_name"]: m for m in source["models"]}
    rows = app.sql("SELECT name, type, task, deployment, content_type, endpoint_encrypted,"
                   " api_key_encrypted, data FROM model WHERE active")
    assert len(rows) == 14
    for name, kind, task, deployment, content_type, endpoint, key, data in rows:
        assert kind == CURRENT_BACKEND_MODELS[name], name
        assert task == given[name]["task"].lower().replace(" ", "-"), name
        if kind == "test":
            assert (deployment, content_type, endpoint, key) == (None, None, None, None)
        else:  # the script's own tokens, kept as they are; the model's name in the header
            assert (deployment, content_type, endpoint, key) == (
                name, given[name]["content_type"], written[name]["endpoint"], written[name]["api_key"])
        assert data.get("labels") == (SPECIES_LIST if kind == "azureml-classifier-filter" else None)
        assert (data["accuracy"], data["job_name"], data.get("description")) == (
            given[name]["accuracy"], given[name]["job_name"], given[name]["description"])
    assert app.sql("SELECT data->>'deployment_header' FROM model WHERE active AND"
                   " data ? 'deployment_header'") == []

    r = client.get("model-endpoints-metadata")
    assert r.status_code == 200, r.text
    by_name = {p["pipeline_name"]: p for p in source["pipelines"]}
    listed = r.json()
    assert [p["pipeline_name"] for p in listed] == [
        "Swin transformer", *sorted(set(by_name) - {"Swin transformer"})]
    for p in listed:
        expected = by_name[p["pipeline_name"]]
        assert (p["models"], p["default"], p["version"], p["creation_date"]) == (
            expected["models"], expected["default"], str(expected["version"]),
            expected["creation_date"].isoformat())
        # What the current backend's model-endpoints-metadata showed too.
        assert (p["job_name"], p["dataset_description"], p["accuracy"]) == (
            expected["job_name"], expected["dataset_description"], expected["accuracy"])
    assert not any(m[field] in r.text for m in written.values() for field in ("endpoint", "api_key"))
    assert not any(m[field] in r.text for m in given.values() for field in ("endpoint", "api_key"))


# Three seeds of three sizes: the classifiers answer by the size of the crop they get.
SEEDS = [box(0.05, 0.05, 0.15, 0.15, score=0.9), box(0.3, 0.3, 0.5, 0.5, score=0.8),
         box(0.6, 0.6, 0.9, 0.9, score=0.7)]
# What each classifier says of each seed (by size), and what the ensemble's filter says.
SPECIES = ["012 Ambrosia artemisiifolia", "020 Brassica napus", "014 Ambrosia psilostachya"]
FILTERED = "013 Ambrosia trifida"
CLASSIFIED = ["Ambrosia artemisiifolia", "Brassica napus", "Ambrosia psilostachya"]


def _seed_of(call) -> int:
    """Which of SEEDS a classifier's crop is: their widths are 10, 20 and 30% of the picture."""
    share = call.image().width / Image.open(SAMPLE_PATH).width
    return 0 if share < 0.15 else 1 if share < 0.25 else 2


@pytest.fixture
def published_models(app, published_settings, model_server, run_command):
    """The published blob imported as it is, then again with its endpoints on the local
    model server, each model answering as its kind did for the current backend."""
    blob, source = published("0.2.0")
    upload(app, published_settings, blob, "0.2.0")
    assert run_command("import-pipelines", "--blob")[0] == 0
    for model in source["models"]:
        name, kind = model["model_name"], CURRENT_BACKEND_MODELS[model["model_name"]]
        if kind == "azureml-seed-detector":
            model_server.detector(name, boxes=SEEDS)
        elif kind == "azureml-six-seeds":
            model_server.detector(name, boxes=[box(0.2, 0.2, 0.4, 0.4, label="Brassica napus", score=0.6)],
                                  wrap=True)
        elif kind == "azureml-classifier":
            model_server.classifier(name, answer=lambda call: [
                {"label": SPECIES[_seed_of(call)], "score": 0.8},
                {"label": "021 Sinapis arvensis", "score": 0.1}])
        elif kind == "azureml-classifier-filter":
            model_server.classifier(name, answer=lambda call: [{"label": FILTERED, "score": 0.95}])
    upload(app, published_settings, relocated(blob, model_server.base_url), "0.2.0")
    code, out, err = run_command("import-pipelines", "--blob")
    assert code == 0 and "9 pipeline(s) made inactive" in out, err
    return source


@pytest.mark.parametrize(("pipeline", "labels", "calls"), [
    ("Swin transformer", CLASSIFIED, {"seed-detector-1": 1, "swinv1-base-dataaugv2-1": 3}),
    ("Swin transformer v2", CLASSIFIED, {"seed-detector-1": 1, "swinv1-base-dataaugv2-2": 3}),
    ("RCNN detector + Swin 22 species", CLASSIFIED, {"seed-detector-rcnn-1": 1, "swin-22-spp": 3}),
    ("Local Swin 15 species", CLASSIFIED, {"local-seed-detector-rcnn": 1, "local-swin-15-spp": 3}),
    ("Local Swin 22 species", CLASSIFIED, {"local-seed-detector-rcnn": 1, "local-swin-22-spp": 3}),
    # The ensemble's filter re-classifies only the seeds whose label is in its species list.
    ("Ensemble 27 + 15e species", ["Ambrosia trifida", "Brassica napus", "Ambrosia trifida"],
     {"seed-detector-rcnn-1": 1, "swin-27-spp": 3, "swin-15e-spp": 2}),
    ("Local ensemble 27 + 15e species", ["Ambrosia trifida", "Brassica napus", "Ambrosia trifida"],
     {"local-seed-detector-rcnn": 1, "local-swin-27-spp": 3, "local-swin-15e-spp": 2}),
    ("Nachet 6 seeds", ["Brassica napus"], {"m-14of15seeds-6seedsmag": 1}),
    ("Test pipeline", ["Ambrosia artemisiifolia"], {}),
])
def test_each_published_pipeline_runs_as_the_current_backend_ran_it(app, client, published_models,
                                                                     model_server, pipeline, labels, calls):
    r = client.post("inf", body(client.user_id(), sample_url(), model_name=pipeline))

    assert r.status_code == 200, r.text
    inference = r.json()
    assert [b["label"] for b in inference["boxes"]] == labels
    given = {m["model_name"]: m for m in published_models["models"]}
    stages = next(p["models"] for p in published_models["pipelines"] if p["pipeline_name"] == pipeline)
    assert inference["models"] == [{"name": name, "version": str(given[name]["version"])} for name in stages]
    for name in CURRENT_BACKEND_MODELS:
        if CURRENT_BACKEND_MODELS[name] == "test":
            continue
        made = model_server.calls(name)
        assert len(made) == calls.get(name, 0), name
        for call in made:  # each model with its own key, content type and deployment
            assert (call.headers["authorization"], call.headers["content-type"],
                    call.headers["azureml-model-deployment"]) == (
                f"Bearer {given[name]['api_key']}", given[name]["content_type"], name)
        if made and CURRENT_BACKEND_MODELS[name] == "azureml-classifier-filter":
            assert sorted(_seed_of(call) for call in made) == [0, 2]


def test_nothing_sensitive_rests_in_clear_after_the_published_pipelines_ran(app, client, published_models,
                                                                             model_server):
    user = client.user_id()
    for pipeline in published_models["pipelines"]:
        r = client.post("inf", body(user, sample_url(), model_name=pipeline["pipeline_name"]))
        assert r.status_code == 200, r.text
    secrets = [m[field] for m in published_models["models"] for field in ("endpoint", "api_key")]
    assert_nowhere_in_the_database(app, [*secrets, model_server.base_url, "127.0.0.1", "localhost",
                                         ".inference.ml.azure.com"])


def test_a_published_blob_with_segmentation_models_is_refused_naming_them(app, published_settings,
                                                                           run_command, monkeypatch):
    blob, _ = published("0.2.1")
    source = upload(app, published_settings, blob, "0.2.1")
    monkeypatch.setenv("NACHET_BLOB_PIPELINE_VERSION", "0.2.1")
    settings.reset()

    code, out, err = run_command("import-pipelines", "--blob")

    assert code == 1 and out == ""
    for number, name, task in ((1, "seed-detector-1", "Segmentation"),
                               (2, "swinv1-base-dataaugv2-1", "segmentation")):
        assert (f"{source}: model #{number} '{name}': task: '{task}' is not one of object-detection, "
                "classification (case, spaces and hyphens aside): this app cannot run such a model") in err
    assert app.sql("SELECT count(*) FROM pipeline_definition") == [(0,)]

