"""Model adapters by type: each module is imported only when a model of its type runs."""

from __future__ import annotations

import importlib

from shared.pipeline.types import Adapter

# type -> "module:function" under shared.pipeline.adapters
_ADAPTERS = {
    "builtin-seed-detector": "builtin:detect",
    "test": "builtin:fixed_box",
}


def adapter_types() -> frozenset[str]:
    """The model types the app can run."""
    return frozenset(_ADAPTERS)


def get_adapter(model_type: str) -> Adapter:
    """The adapter for `model_type`. Raises KeyError for an unknown type (the import
    command refuses such models, so this is a bug or a stale row)."""
    module, function = _ADAPTERS[model_type].split(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), function)
