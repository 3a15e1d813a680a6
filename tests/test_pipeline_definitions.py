"""Pipeline definition files: reading JSON and YAML, and every problem named by file, entry and field."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import pytest
import yaml

from shared.pipeline.definition_sources import read_definition_file
from shared.pipeline.definitions import DefinitionError, is_loopback, parse_definition

EXAMPLE_YAML = """\
version: "0.1.4"
date: 2024-08-01
models:
  - model_name: seed-detector-1
    type: azureml-seed-detector
    task: object-detection
    endpoint: https://nachet-detector.canadacentral.inference.ml.azure.com/score
    api_key_setting: NACHET_KEY_SEED_DETECTOR
    deployment: seed-detector-1
    content_type: application/json
    version: "1"
    description: Seed detector
    created_by: CFIA
    creation_date: 2024-02-22
  - model_name: swinv1-base-dataaugv2-1
    type: azureml-classifier
    task: classification
    endpoint: https://nachet-swin.canadacentral.inference.ml.azure.com/score
    api_key_setting: NACHET_KEY_SWIN
    deployment: swinv1-base-dataaugv2-1
    content_type: application/octet-stream
    version: 1
  - model_name: brassica-filter
    type: azureml-classifier-filter
    task: classification
    endpoint: http://127.0.0.1:9999/score
    api_key_setting: NACHET_KEY_BRASSICA
    deployment: brassica-1
    content_type: application/octet-stream
    version: "2"
    labels: [Brassica napus, Brassica juncea]
  - model_name: builtin
    type: builtin-seed-detector
    task: object-detection
    version: "1"
pipelines:
  - pipeline_name: seed-detector-swin
    models: [seed-detector-1, swinv1-base-dataaugv2-1, brassica-filter]
    default: true
    version: "1"
    description: Detector, then Swin
    created_by: CFIA
    creation_date: 2024-08-01
  - pipeline_name: builtin-only
    models: [builtin]
    version: "1"
"""


SWIN = "model #2 'swinv1-base-dataaugv2-1'"
BUILTIN_ONLY = "pipeline #2 'builtin-only'"
ONE_DEFAULT = "top level: pipelines: exactly one pipeline must be the default"


def example() -> dict:
    return yaml.safe_load(EXAMPLE_YAML)


def write(tmp_path: Path, raw: object, name: str = "pipelines.yaml") -> Path:
    path = tmp_path / name
    if name.endswith(".json"):
        path.write_text(json.dumps(raw, default=str))
    else:
        path.write_text(raw if isinstance(raw, str) else yaml.safe_dump(raw, sort_keys=False))
    return path


def problems(tmp_path: Path, raw: object, name: str = "pipelines.yaml") -> str:
    path = write(tmp_path, raw, name)
    with pytest.raises(DefinitionError) as caught:
        read_definition_file(path)
    assert caught.value.status == 400
    message = caught.value.message
    assert str(path) in message.splitlines()[0]
    return message


def test_example_reads_into_typed_definitions(tmp_path):
    d = read_definition_file(write(tmp_path, EXAMPLE_YAML))
    assert (d.version, d.date) == ("0.1.4", "2024-08-01")
    detector, swin, brassica, builtin = d.models
    assert detector.name == "seed-detector-1" and detector.type == "azureml-seed-detector"
    assert detector.endpoint.startswith("https://") and detector.api_key_setting == "NACHET_KEY_SEED_DETECTOR"
    assert detector.data == {"description": "Seed detector", "created_by": "CFIA",
                             "creation_date": "2024-02-22"}
    assert swin.version == "1"  # YAML read it as a number
    assert brassica.data == {"labels": ["Brassica napus", "Brassica juncea"]}
    assert (builtin.endpoint, builtin.api_key_setting, builtin.deployment) == (None, None, None)
    default, other = d.pipelines
    assert default.models == ("seed-detector-1", "swinv1-base-dataaugv2-1", "brassica-filter")
    assert (default.default, other.default) == (True, False)
    assert d.default_pipeline is default
    assert default.data == {"description": "Detector, then Swin", "created_by": "CFIA",
                            "creation_date": "2024-08-01"}


def test_json_and_yaml_of_the_same_content_hash_the_same(tmp_path):
    from_yaml = read_definition_file(write(tmp_path, EXAMPLE_YAML))
    from_json = read_definition_file(write(tmp_path, example(), "pipelines.json"))
    assert from_yaml.source != from_json.source
    assert from_yaml.sha256 == from_json.sha256
    changed = example()
    changed["pipelines"][0]["version"] = "2"
    assert parse_definition(changed, source="x").sha256 != from_yaml.sha256


def test_every_problem_is_named_at_once(tmp_path):
    raw = example()
    raw["models"][0]["endpoint"] = "ftp://example.org/score"
    raw["models"][1]["type"] = "azureml-unknown"
    raw["pipelines"][1]["models"] = ["builtin", "nowhere"]
    message = problems(tmp_path, raw)
    assert "(3 problems)" in message
    lines = message.splitlines()[1:]
    assert all(line.strip().startswith(str(tmp_path / "pipelines.yaml")) for line in lines)
    assert "model #1 'seed-detector-1': endpoint: 'ftp://example.org/score' is not an http(s) URL" in message
    assert f"{SWIN}: type: 'azureml-unknown' is not a known adapter" in message
    assert "pipeline #2 'builtin-only': models: 'nowhere' is not a model of this definition" in message


@pytest.mark.parametrize("change, expected", [
    (lambda r: r["models"][1].pop("endpoint"), f"{SWIN}: endpoint: is missing"),
    (lambda r: r["models"][1].pop("task"), f"{SWIN}: task: is missing"),
    (lambda r: r["models"][1].update(task="segmentation"), "task: 'segmentation' is not one of"),
    (lambda r: r["models"][1].pop("version"), f"{SWIN}: version: is missing"),
    (lambda r: r["models"][1].update(version=1.10), 'version: must be a string: quote it ("1.1")'),
    (lambda r: r["models"][1].pop("deployment"), f"{SWIN}: deployment: is missing"),
    (lambda r: r["models"][1].update(deployment="two words"), "deployment: 'two words' is not"),
    (lambda r: r["models"][1].update(content_type="json"), "content_type: 'json' is not a media type"),
    (lambda r: r["models"][1].update(endpont="https://x"), f"{SWIN}: endpont: unknown field"),
    (lambda r: r["models"][1].update(endpoint="http://swin.example.org/score"),
     "endpoint: 'http://swin.example.org/score' must use https"),
    (lambda r: r["models"][1].update(endpoint="https://user:secret@swin.example.org/score"),
     "endpoint: must not hold credentials"),
    (lambda r: r["models"][1].pop("api_key_setting"), "api_key_setting: give exactly one of"),
    (lambda r: r["models"][1].update(api_key_encrypted="gAAAAABk"), "api_key_setting: give exactly one of"),
    (lambda r: r["models"][1].update(api_key_setting="NACHET KEY"), "api_key_setting: the value is not"),
    (lambda r: r["models"][1].update(api_key_setting="9fQx2LkVb7TgHw3s"), "api_key_setting: the value is"),
    (lambda r: r["models"][3].update(endpoint="https://x.example.org"),
     "model #4 'builtin': endpoint: not used by type builtin-seed-detector"),
    (lambda r: r["models"][2].pop("labels"), "model #3 'brassica-filter': labels: must be a non-empty list"),
    (lambda r: r["models"][2].update(labels=["A", "a"]), "labels: a label is listed twice"),
    (lambda r: r["models"][1].update(labels=["A"]), "labels: only azureml-classifier-filter models"),
    (lambda r: r["models"][1].update(model_name="seed-detector-1"),
     "model #2 'seed-detector-1': model_name: another model has this name"),
    (lambda r: r["models"][1].update(model_name="x" * 101), "model_name: is longer than 100 characters"),
    (lambda r: r["models"][1].update(creation_date="yesterday"), "creation_date: 'yesterday' is not a date"),
    (lambda r: r["models"][1].update(description=["a"]), "description: must be a string, not list"),
    (lambda r: r["pipelines"][1].update(pipeline_name="seed-detector-swin"),
     "pipeline #2 'seed-detector-swin': pipeline_name: another pipeline has this name"),
    (lambda r: r["pipelines"][1].update(models=[]), f"{BUILTIN_ONLY}: models: must be a non-empty list"),
    (lambda r: r["pipelines"][1].update(models="builtin"), "models: must be a non-empty list"),
    (lambda r: r["pipelines"][1].update(models=["swinv1-base-dataaugv2-1"]),
     "models: the first model, 'swinv1-base-dataaugv2-1', must be an object-detection model"),
    (lambda r: r["pipelines"][1].update(default="yes please"), "default: must be true or false"),
    (lambda r: r["pipelines"][1].update(default=True),
     f"{ONE_DEFAULT}; 2 are: seed-detector-swin, builtin-only"),
    (lambda r: r["pipelines"][0].update(default=False),
     f"{ONE_DEFAULT}; none is"),
    (lambda r: r.pop("version"), "top level: version: is missing"),
    (lambda r: r.update(pipelines=[]), "top level: pipelines: must be a non-empty list of pipelines"),
    (lambda r: r.update(extra=1), "top level: extra: unknown field"),
    (lambda r: r["models"].append("just a name"), "model #5: must be a mapping of fields"),
])
def test_problem_names_entry_and_field(tmp_path, change, expected):
    raw = example()
    change(raw)
    assert expected in problems(tmp_path, raw)


@pytest.mark.parametrize("endpoint", ["https://swin.example.org/score", "http://127.0.0.1:5000/score",
                                      "http://localhost:5000/score", "http://[::1]:5000/score"])
def test_a_key_in_clear_is_refused_even_on_loopback(tmp_path, endpoint):
    raw = example()
    raw["models"][1].update(endpoint=endpoint, api_key="s3cret-value")
    message = problems(tmp_path, raw)
    assert f"{SWIN}: api_key: a key in clear is refused" in message
    assert "s3cret-value" not in message


def test_loopback():
    assert is_loopback("http://127.0.0.1:80/x") and is_loopback("http://127.8.9.10/x")
    assert is_loopback("http://LOCALHOST:1/x") and is_loopback("http://[::1]/x")
    assert not is_loopback("http://localhost.example.org/x") and not is_loopback("http://10.0.0.1/x")


def test_a_model_with_problems_is_not_also_reported_undefined(tmp_path):
    raw = example()
    raw["models"][1]["endpoint"] = "not a url"
    message = problems(tmp_path, raw)
    assert "(1 problem)" in message and "is not a model of this definition" not in message


def test_unused_model_is_allowed(tmp_path):
    raw = example()
    raw["pipelines"][1]["models"] = ["seed-detector-1"]
    assert len(read_definition_file(write(tmp_path, raw)).models) == 4


@pytest.mark.parametrize("text, name, expected", [
    ("version: 1\nversion: 2\n", "p.yaml", "the key 'version' appears twice"),
    ('{"version": "1", "version": "2"}', "p.json", "the key 'version' appears twice"),
    ("models: [\n", "p.yaml", "not valid YAML"),
    ("{version: 1}", "p.json", "not valid JSON"),
    ("- just\n- a list\n", "p.yaml", "top level: must be a mapping"),
    ("", "p.yaml", "top level: must be a mapping"),
])
def test_unreadable_files_are_named(tmp_path, text, name, expected):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(DefinitionError) as caught:
        read_definition_file(path)
    assert str(path) in caught.value.message and expected in caught.value.message


def test_without_pyyaml_a_yaml_file_is_refused_naming_it_and_json_still_reads(tmp_path, monkeypatch):
    # The deployed app does not ship PyYAML: only the operator's import-pipelines reads YAML.
    monkeypatch.setitem(sys.modules, "yaml", None)  # `import yaml` raises ImportError
    path = tmp_path / "p.yaml"
    path.write_text("version: 1\n")
    with pytest.raises(DefinitionError) as caught:
        read_definition_file(path)
    assert str(path) in caught.value.message and "PyYAML" in caught.value.message
    as_json = tmp_path / "p.json"
    as_json.write_text(json.dumps(example(), default=str))
    assert read_definition_file(as_json).version == example()["version"]


def test_missing_file_is_named(tmp_path):
    with pytest.raises(DefinitionError, match=r"nowhere\.yaml: no such file"):
        read_definition_file(tmp_path / "nowhere.yaml")


def test_parse_accepts_an_encrypted_key_from_another_format():
    raw = copy.deepcopy(example())
    swin = raw["models"][1]
    del swin["api_key_setting"]
    swin["api_key_encrypted"] = "gAAAAABlZ2VhcnR0b2tlbi1leGFtcGxl"
    d = parse_definition(raw, source="blob pipelines/0.1.4.json")
    assert d.models[1].api_key_encrypted == "gAAAAABlZ2VhcnR0b2tlbi1leGFtcGxl"
    assert d.models[1].api_key_setting is None
