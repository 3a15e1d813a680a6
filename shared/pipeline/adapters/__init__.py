"""Model adapters by type, each registered once here: where its code is (imported only when
a model of its type runs), how its models are called, and which model names of the current
backend's blob format it runs (MODELS.md)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from fnmatch import fnmatchcase

from shared.pipeline.types import Adapter


@dataclass(frozen=True)
class AdapterType:
    """One model type the app can run."""

    name: str
    function: str  # "module:function" under shared.pipeline.adapters
    remote: bool  # called over HTTP: its models need an endpoint, a key and a deployment
    takes_labels: bool = False  # its models list the labels that it reclassifies
    # It cuts crops of the picture and calls its model once per crop, and says when they
    # are all sent (waiting.models_waiting).
    sends_crops: bool = False
    # model_name patterns (fnmatch, lower case) that mean this type in the blob format,
    # where a model names no type; a name given whole wins over a pattern.
    blob_names: tuple[str, ...] = ()


_TYPES = (
    AdapterType("builtin-seed-detector", "builtin:detect", remote=False),
    AdapterType("test", "builtin:fixed_box", remote=False, blob_names=("test",)),
    AdapterType("azureml-seed-detector", "azureml:detect", remote=True,
                blob_names=("seed-detector*", "*seed-detector-rcnn*")),
    # The same request as the detector; its boxes come labelled.
    AdapterType("azureml-six-seeds", "azureml:detect", remote=True,
                blob_names=("m-14of15seeds-6seedsmag",)),
    # The current backend's swin-27-spp (the ensemble's first model) classifies every crop
    # like the others; its swin-15e-spp re-classifies only its species (the filter).
    AdapterType("azureml-classifier", "azureml:classify", remote=True, sends_crops=True,
                blob_names=("swin*", "local-swin-15-spp", "local-swin-22-spp", "local-swin-27-spp")),
    AdapterType("azureml-classifier-filter", "azureml:classify_listed", remote=True, takes_labels=True,
                sends_crops=True,
                blob_names=("swin-15e-spp", "local-swin-15e-spp")),
)
ADAPTER_TYPES = {t.name: t for t in _TYPES}


def adapter_type_for_blob_name(model_name: str) -> AdapterType | None:
    """The type that `model_name` means in the blob format (any case), or None."""
    name = model_name.strip().lower()
    whole = next((t for t in _TYPES if name in t.blob_names), None)
    return whole or next((t for t in _TYPES if any(fnmatchcase(name, p) for p in t.blob_names)), None)


def blob_name_rule() -> str:
    """The blob format's names of each type, for messages."""
    return "; ".join(f"{', '.join(t.blob_names)}: {t.name}" for t in _TYPES if t.blob_names)


def get_adapter(model_type: str) -> Adapter:
    """The adapter for `model_type`. Raises KeyError for an unknown type (the import
    command refuses such models, so this is a bug or a stale row)."""
    module, function = ADAPTER_TYPES[model_type].function.split(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), function)
