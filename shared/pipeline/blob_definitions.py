"""Pipeline definitions in the format kept in Blob Storage (MODELS.md), read into the same Definition.

The current Nachet backend (ai-cfia/nachet-backend) keeps `pipelines/<version>.json`, written
by its publishing script pipelines/pipelines_version_insertion.py: the top level and the
pipelines as in MODELS.md's format (pipelines add job_name, dataset_description and
accuracy), and models that name no adapter `type` but carry `endpoint_name`,
`deployment_platform`, `job_name`, `dataset_description` and `accuracy`, with `endpoint` and
`api_key` Fernet tokens under NACHET_BLOB_PIPELINE_DECRYPTION_KEY. Each entry is read into
the same validated objects as MODELS.md's format, through the same checks:

- the adapter is inferred from `model_name`, as that backend's name table
  (model/__init__.py) chose its request function (shared.pipeline.adapters); any other
  name is refused;
- a filtering classifier (its ensemble's swin-15e-spp) reclassifies the species of that
  backend's SPECIES_LIST unless the entry gives its own `labels` (the script passes
  fields it does not know through);
- `endpoint` and `api_key` must decrypt (the endpoint is checked like any, never quoted),
  but are kept as their tokens: decrypted again only to call the model, so neither rests in
  clear in the database;
- the deployment header carries the model's name, as the current backend sends it; its
  name is `deployment_platform` when that is a header name (`azureml-model-deployment`),
  and azureml-model-deployment when it names a platform in a plain word (`azure`);
- other fields of an entry are ignored: the current backend's writer ignored them too, so
  its blobs hold fields of older layouts (`api_call_function`, `metrics`…).
"""

from __future__ import annotations

import math
import re
from functools import partial
from typing import Any

from shared.errors import ConfigurationError
from shared.pipeline.adapters import AdapterType, adapter_type_for_blob_name, blob_name_rule
from shared.pipeline.definitions import (
    HEADER_VALUE,
    Definition,
    Entry,
    ModelDefinition,
    PipelineDefinition,
    build_model,
    build_pipeline,
    check_endpoint,
    parse_definition,
    read_labels,
)
from shared.pipeline.encryption import TokenError, decrypt
from shared.pipeline.types import DEPLOYMENT_HEADER

# SPECIES_LIST of model/torch_ensemble.py in ai-cfia/nachet-backend: the labels (as its
# swin-27-spp answers them) that its filter, swin-15e-spp, reclassifies.
CURRENT_BACKEND_FILTER_LABELS = (
    "012 Ambrosia artemisiifolia",
    "013 Ambrosia trifida",
    "014 Ambrosia psilostachya",
)
_LEGACY_FIELDS = frozenset({"deployment_platform", "endpoint_name", "api_key"})
_PLAIN_WORD = re.compile(r"^[A-Za-z0-9]+$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}$")
# Headers that the endpoint client sets itself, or that HTTP reserves.
_RESERVED_HEADERS = frozenset({
    "authorization", "content-type", "content-length", "accept", "host", "connection",
    "transfer-encoding",
})
_KEY_TEXT = re.compile(r"^[!-~]{1,10000}$")  # a Bearer token: visible ASCII without spaces


def blob_name(version: str) -> str:
    """The name of the definition blob of `version` in NACHET_BLOB_PIPELINE_NAME."""
    return f"pipelines/{version}.json"


def is_blob_format(raw: object) -> bool:
    """Whether `raw` is a definition in the blob format: none of its models names a
    `type`, and some carry a field of that format (deployment_platform, endpoint_name,
    api_key)."""
    models = raw.get("models") if isinstance(raw, dict) else None
    if not isinstance(models, list):
        return False
    entries = [m for m in models if isinstance(m, dict)]
    return (all("type" not in m for m in entries)
            and any(_LEGACY_FIELDS & m.keys() for m in entries))


def parse_blob_definition(raw: object, *, source: str, key: str | None = None) -> Definition:
    """`raw`, a definition in the blob format, validated into a Definition; its tokens
    are decrypted with `key` (by default NACHET_BLOB_PIPELINE_DECRYPTION_KEY).

    Raises DefinitionError listing every problem, each naming `source`, the entry and the
    field; ConfigurationError when no key is given and the setting is not set.
    """
    if key is None:
        from shared.settings import get_settings

        key = get_settings().blob_pipeline_decryption_key
        if key is None:
            raise ConfigurationError(
                f"NACHET_BLOB_PIPELINE_DECRYPTION_KEY is not set: {source} holds endpoints and "
                "keys encrypted under it")
    return parse_definition(raw, source=source, read_model=partial(_model, key),
                            read_pipeline=_pipeline)


def _model(key: str, e: Entry) -> ModelDefinition | None:
    adapter = _adapter(e)
    data = _metadata(e, "endpoint_name", "job_name", "dataset_description")
    endpoint = endpoint_token = key_token = deployment = None
    if adapter is not None and adapter.remote:
        endpoint_token, clear = _decrypted(e, "endpoint", key)
        endpoint = check_endpoint(e, clear, secret=True)
        key_token, api_key = _decrypted(e, "api_key", key)
        if api_key is not None and not _KEY_TEXT.match(api_key):
            e.problem("api_key", "the decrypted key is empty or not visible ASCII without spaces, "
                                 "as a Bearer token must be")
            key_token = None
        header = _deployment_header(e)
        if header != DEPLOYMENT_HEADER:
            data["deployment_header"] = header
        deployment = _deployment(e, header)
    if adapter is not None and adapter.takes_labels:
        labels = read_labels(e) if e.has("labels") else CURRENT_BACKEND_FILTER_LABELS
        data["labels"] = list(labels or ())
    return build_model(e, adapter.name if adapter else None, endpoint=endpoint,
                       endpoint_encrypted=endpoint_token, deployment=deployment,
                       api_key_encrypted=key_token, data=data)


def _pipeline(e: Entry) -> PipelineDefinition | None:
    return build_pipeline(e, data=_metadata(e, "job_name", "dataset_description"))


def _adapter(e: Entry) -> AdapterType | None:
    name = e.raw.get("model_name")
    if not isinstance(name, str) or not name.strip():
        return None  # build_model names the problem
    adapter = adapter_type_for_blob_name(name)
    if adapter is None:
        e.problem("model_name", f"{name!r} is not a known model: in this format the adapter comes "
                                f"from the model's name ({blob_name_rule()})")
    return adapter


def _decrypted(e: Entry, name: str, key: str) -> tuple[str | None, str | None]:
    """The field's token and the text it decrypts to; both None (the problem recorded on
    `e`) when the field is missing or does not decrypt."""
    token = e.text(name, required=True, max_length=10_000, secret=True)
    if token is None:
        return None, None
    try:
        return token, decrypt(token, key).strip()
    except TokenError as exc:
        e.problem(name, str(exc))
        return None, None


def _deployment_header(e: Entry) -> str:
    platform = e.text("deployment_platform", max_length=200)
    if platform is None or _PLAIN_WORD.match(platform):
        return DEPLOYMENT_HEADER
    if not _HEADER_NAME.match(platform):
        e.problem("deployment_platform", f"{platform!r} is neither a platform in a plain word "
                                         "(azure) nor the name of a header (azureml-model-deployment)")
    elif platform.lower() in _RESERVED_HEADERS:
        e.problem("deployment_platform", f"{platform!r} is a header that the app sets itself")
    return platform.lower()


def _deployment(e: Entry, header: str) -> str | None:
    name = e.text("model_name")
    if name is not None and not HEADER_VALUE.match(name):
        e.problem("model_name", f"{name!r} cannot be sent in the {header} header: it must be "
                                "visible ASCII without spaces")
        return None
    return name


def _metadata(e: Entry, *texts: str) -> dict[str, Any]:
    data: dict[str, Any] = {name: value for name in texts if (value := e.text(name)) is not None}
    accuracy = e.raw.get("accuracy")
    if accuracy is None or accuracy == "":
        return data
    try:
        number = float(accuracy) if not isinstance(accuracy, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        e.problem("accuracy", f"must be a number like 0.92, not {accuracy!r}")
    else:
        data["accuracy"] = number
    return data
