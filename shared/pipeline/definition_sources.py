"""Where a pipeline definition is read from, a local file or the blob kept in Blob Storage,
and which format's reader it goes to: MODELS.md's (shared.pipeline.definitions) or the
current backend's (shared.pipeline.blob_definitions)."""

from __future__ import annotations

from pathlib import Path

from shared.errors import ConfigurationError, NotFound
from shared.pipeline.blob_definitions import blob_name, is_blob_format, parse_blob_definition
from shared.pipeline.definitions import Definition, DefinitionError, load_text, parse_definition


def read_definition_file(path: str | Path) -> Definition:
    """The definition in the JSON (`.json`) or YAML (any other name) file at `path`, in
    the format of MODELS.md or in the format kept in Blob Storage (its models have no
    `type`, but a `deployment_platform`, `endpoint_name` or `api_key`).

    Raises DefinitionError naming the file, and for each problem the entry and the field;
    ConfigurationError when a file in the blob format needs a setting that is not set.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DefinitionError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionError(f"{path}: cannot read the file: {exc}") from None
    raw = load_text(text, source=str(path), is_json=path.suffix.lower() == ".json")
    if is_blob_format(raw):
        return parse_blob_definition(raw, source=str(path))
    return parse_definition(raw, source=str(path))


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
