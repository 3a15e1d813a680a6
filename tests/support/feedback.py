"""Helpers for the feedback tests: an analyst whose inferences are made through /api/inf on
the local model server (three boxes, each guessed Ambrosia trifida then Carex nova), and
the rows that feedback may change. The `analyst` fixture of tests/conftest.py gives such a
user."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import requests

from tests.support.inference import body, sample_url
from tests.support.model_server import box

if TYPE_CHECKING:  # tests/conftest.py imports this module for its `analyst` fixture
    from tests.conftest import App, Client

# Three boxes apart from each other in the 638 x 559 sample picture, best first.
DETECTIONS = [box(0.05, 0.05, 0.25, 0.25, score=0.9), box(0.5, 0.1, 0.7, 0.3, score=0.8),
              box(0.3, 0.6, 0.5, 0.9, score=0.7)]
GUESSES = [{"label": "014 trifida", "score": 0.85}, {"label": "Carex nova", "score": 0.1}]
WIDTH, HEIGHT = 638, 559


class Analyst:
    """A signed-in user who runs inferences and gives feedback on them."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.id = client.user_id()

    def infer(self, **extra: Any) -> dict:
        """An inference of the sample picture (by the default pipeline unless `model_name`)."""
        r = self.client.post("inf", body(self.id, sample_url(), **extra))
        assert r.status_code == 200, r.text
        return r.json()

    def positive(self, inference: dict | str, box_ids: list[str], **extra: Any) -> requests.Response:
        return self.client.post("feedback-positive", {
            "userId": self.id, "inferenceId": _id(inference),
            "boxes": [{"boxId": box_id} for box_id in box_ids], **extra})

    def negative(self, inference: dict | str, entries: list[dict], **extra: Any) -> requests.Response:
        """feedback-negative; each entry is completed as the web client sends it."""
        full = [{"boxId": "", "label": "", "classId": "", "comment": "", **entry} for entry in entries]
        return self.client.post("feedback-negative", {
            "userId": self.id, "inferenceId": _id(inference), "boxes": full, **extra})

    def picture(self, picture_id: str) -> dict:
        r = self.client.post("get-picture", {"container_name": self.id, "picture_id": picture_id})
        assert r.status_code == 200, r.text
        return r.json()

    def validated(self, picture_id: str) -> bool:
        """Whether get-directories shows the picture as validated."""
        r = self.client.post("get-directories", {"container_name": self.id})
        assert r.status_code == 200, r.text
        [picture] = [p for f in r.json()["folders"] for p in f["pictures"] if p["picture_id"] == picture_id]
        return picture["is_validated"]


def _id(inference: dict | str) -> str:
    return inference["inference_id"] if isinstance(inference, dict) else inference


def ok(response: requests.Response) -> dict:
    assert response.status_code == 200, (response.status_code, response.text)
    return response.json()


def box_ids(inference: dict) -> list[str]:
    return [b["box_id"] for b in inference["boxes"]]


def seed_id(app: App, name: str) -> str:
    return app.sql("SELECT id::text FROM seed WHERE lower(name) = lower(%s)", [name])[0][0]


def stored(app: App) -> dict[str, list[tuple]]:
    """Every row that feedback may change, to show that a request changed nothing."""
    return {
        "inference": app.sql("SELECT id, verified, feedback_user_id, updated_at, result FROM inference"
                             " ORDER BY id"),
        "object": app.sql("SELECT id, position, box, verified_id, valid, manual_detection, comment,"
                          " overlapping_indices, updated_at FROM object ORDER BY id"),
        "seed_obj": app.sql("SELECT id, object_id, seed_id, label, score, rank FROM seed_obj ORDER BY id"),
        "picture_seed": app.sql("SELECT picture_id, seed_id FROM picture_seed ORDER BY 1, 2"),
        "seed": app.sql("SELECT id, name FROM seed ORDER BY id"),
    }
