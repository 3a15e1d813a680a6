"""Pipeline definitions in the format kept in Blob Storage (MODELS.md), read into the same Definition.

The current Nachet backend keeps `pipelines/<NACHET_BLOB_PIPELINE_VERSION>.json` in the
container NACHET_BLOB_PIPELINE_NAME: the top level and the pipelines as in MODELS.md's
format (pipelines add job_name, dataset_description and accuracy), and models that name no
adapter `type` but carry `endpoint_name`, `deployment_platform`, `job_name`,
`dataset_description` and `accuracy`, with `endpoint` and `api_key` Fernet tokens under
NACHET_BLOB_PIPELINE_DECRYPTION_KEY. Each entry is read into the same validated objects
as MODELS.md's format, through the same checks:

- the adapter is inferred from `model_name` (`_ADAPTERS_BY_NAME`); any other name is refused;
- `endpoint` is decrypted at import and checked like any endpoint (never quoted);
- `api_key` must decrypt to a key, but is kept as its token (`api_key_encrypted`): it is
  decrypted again only to call the model, so no key rests in clear in the database;
- the deployment header carries the model's name, as the current backend sends it; its
  name is `deployment_platform` when that is a header name (`azureml-model-deployment`),
  and azureml-model-deployment when it names a platform in a plain word (`azure`);
- other fields of an entry are ignored: the current backend's writer ignored them too, so
  its blobs hold fields of older layouts (`api_call_function`, `metrics`…).
"""

from __future__ import annotations

import math
import re
from fnmatch import fnmatchcase
from functools import partial
from typing import Any

from shared.errors import ConfigurationError, NotFound
from shared.pipeline.adapters import REMOTE_TYPES
from shared.pipeline.definitions import (
    HEADER_VALUE,
    Definition,
    DefinitionError,
    Entry,
    ModelDefinition,
    PipelineDefinition,
    build_model,
    build_pipeline,
    check_endpoint,
    load_text,
    parse_definition,
)
from shared.pipeline.encryption import TokenError, decrypt
from shared.pipeline.types import DEPLOYMENT_HEADER

# model_name pattern (case-insensitive) -> adapter, as MODELS.md lists them
_ADAPTERS_BY_NAME = (
    ("seed-detector*", "azureml-seed-detector"),
    ("*seed-detector-rcnn*", "azureml-seed-detector"),
    ("swin*", "azureml-classifier"),
    ("local-swin-15-spp", "azureml-classifier"),  # plain swin classifiers in the current backend
    ("local-swin-22-spp", "azureml-classifier"),
    ("m-14of15seeds-6seedsmag", "azureml-six-seeds"),
    ("test", "test"),
)
_NAME_RULE = "; ".join(f"{pattern}: {kind}" for pattern, kind in _ADAPTERS_BY_NAME)
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


def read_definition_blob() -> Definition:
    """The definition in the blob pipelines/<NACHET_BLOB_PIPELINE_VERSION>.json of the
    container NACHET_BLOB_PIPELINE_NAME.

    Raises ConfigurationError naming each of these settings that is not set,
    DefinitionError naming the blob (no such blob, not JSON, or every problem of its
    entries), DependencyUnavailable when the storage cannot be reached.
    """
    from shared import storage
    from shared.settings import get_settings

    settings = get_settings()
    needed = {
        "NACHET_BLOB_PIPELINE_NAME": settings.blob_pipeline_container,
        "NACHET_BLOB_PIPELINE_VERSION": settings.blob_pipeline_version,
        "NACHET_BLOB_PIPELINE_DECRYPTION_KEY": settings.blob_pipeline_decryption_key,
    }
    missing = [name for name, value in needed.items() if not value]
    if missing:
        raise ConfigurationError(
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set: reading the "
            "pipeline definition from Blob Storage needs them")
    container, version = settings.blob_pipeline_container, settings.blob_pipeline_version
    assert container and version  # a missing one raised ConfigurationError above
    name = blob_name(version)
    source = f"blob {name} of container {container}"
    try:
        data = storage.download(container, name)
    except NotFound:
        raise DefinitionError(
            f"{source}: no such blob (NACHET_BLOB_PIPELINE_VERSION is "
            f"{settings.blob_pipeline_version!r}, NACHET_BLOB_PIPELINE_NAME is {container!r})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise DefinitionError(f"{source}: not UTF-8 text") from None
    raw = load_text(text, source=source, is_json=True)
    return parse_blob_definition(raw, source=source, key=settings.blob_pipeline_decryption_key)


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
    kind = _adapter(e)
    data = _metadata(e, "endpoint_name", "job_name", "dataset_description")
    endpoint = token = deployment = None
    if kind in REMOTE_TYPES:
        endpoint = check_endpoint(e, _decrypted(e, "endpoint", key)[1], secret=True)
        token, api_key = _decrypted(e, "api_key", key)
        if api_key is not None and not _KEY_TEXT.match(api_key):
            e.problem("api_key", "the decrypted key is empty or not visible ASCII without spaces, "
                                 "as a Bearer token must be")
            token = None
        header = _deployment_header(e)
        if header != DEPLOYMENT_HEADER:
            data["deployment_header"] = header
        deployment = _deployment(e, header)
    return build_model(e, kind, endpoint=endpoint, deployment=deployment, api_key_encrypted=token,
                       data=data)


def _pipeline(e: Entry) -> PipelineDefinition | None:
    return build_pipeline(e, data=_metadata(e, "job_name", "dataset_description"))


def _adapter(e: Entry) -> str | None:
    name = e.raw.get("model_name")
    if not isinstance(name, str) or not name.strip():
        return None  # build_model names the problem
    for pattern, kind in _ADAPTERS_BY_NAME:
        if fnmatchcase(name.strip().lower(), pattern):
            return kind
    e.problem("model_name", f"{name!r} is not a known model: in this format the adapter comes from "
                            f"the model's name ({_NAME_RULE})")
    return None


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
