"""Model adapters by type: each module is imported only when a model of its type runs."""

from __future__ import annotations

import importlib

from shared.pipeline.types import Adapter

# type -> "module:function" under shared.pipeline.adapters
_ADAPTERS = {
    "builtin-seed-detector": "builtin:detect",
    "test": "builtin:fixed_box",
    "azureml-seed-detector": "azureml:detect",
    "azureml-six-seeds": "azureml:detect",  # the same request; its boxes come labelled
    "azureml-classifier": "azureml:classify",
    "azureml-classifier-filter": "azureml:classify_listed",
}
# The types called over HTTP: their models need an endpoint, a key and a deployment.
REMOTE_TYPES = frozenset(
    {"azureml-seed-detector", "azureml-six-seeds", "azureml-classifier", "azureml-classifier-filter"}
)


def adapter_types() -> frozenset[str]:
    """The model types the app can run."""
    return frozenset(_ADAPTERS)


def get_adapter(model_type: str) -> Adapter:
    """The adapter for `model_type`. Raises KeyError for an unknown type (the import
    command refuses such models, so this is a bug or a stale row)."""
    module, function = _ADAPTERS[model_type].split(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), function)
