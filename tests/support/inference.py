"""Helpers for the /api/inf tests: the sample picture as a data URL, the request body, a
check that nothing was stored, and a pipeline registered straight into the database."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.support.images import data_url
from tests.support.synthetic_seeds import SAMPLE_PATH

if TYPE_CHECKING:
    from tests.conftest import App


def sample_url() -> str:
    return data_url(SAMPLE_PATH.read_bytes(), claimed="image/png")


def body(user_id: str, image: str, **extra: object) -> dict:
    return {"image": image, "imageDims": [1920, 1080], "folder_name": "General",
            "container_name": user_id, "user_id": user_id, **extra}


def nothing_stored(app: App) -> None:
    assert app.sql("SELECT (SELECT count(*) FROM picture), (SELECT count(*) FROM inference),"
                   " (SELECT count(*) FROM object), (SELECT count(*) FROM seed_obj)") == [(0, 0, 0, 0)]
    assert app.blobs() == []
    assert app.blobs(app.thumbnails_container) == []


def add_pipeline(app: App, name: str, models: list[tuple[str, str, str]], *, default: bool = False) -> None:
    """Register a pipeline of (model name, type, task) in call order."""
    if default:
        app.sql("UPDATE pipeline SET is_default = false")
    pipeline = app.sql("INSERT INTO pipeline (name, version, is_default) VALUES (%s, '1', %s)"
                       " RETURNING id", [name, default])[0][0]
    for position, (model, kind, task) in enumerate(models):
        model_id = app.sql("INSERT INTO model (name, type, task, version) VALUES (%s, %s, %s, '2')"
                           " RETURNING id", [model, kind, task])[0][0]
        app.sql("INSERT INTO pipeline_model VALUES (%s, %s, %s)", [pipeline, model_id, position])
