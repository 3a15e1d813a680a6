"""shared.services.inference_view: the inference object re-read from the rows, as /inf
answered it, and after feedback changed the rows (verified and invalid boxes)."""

from __future__ import annotations

import uuid

import pytest

from shared.db import connection
from shared.errors import NotFound
from shared.pipeline import runner
from shared.pipeline.types import Detection, FractionBox, Guess
from shared.services.inference_view import load_inference, load_latest_for_picture
from tests.support.inference import add_pipeline, body, sample_url

# Boxes 1 and 2 overlap (box 2 scores lower); box 3 stands apart.
DETECTIONS = [
    Detection(FractionBox(0.1, 0.1, 0.4, 0.4),
              (Guess("Ambrosia trifida", 0.9), Guess("Solanum nigrum", 0.1))),
    Detection(FractionBox(0.1, 0.1, 0.4, 0.42), (Guess("Solanum nigrum", 0.5),)),
    Detection(FractionBox(0.6, 0.6, 0.9, 0.9), (Guess("Ambrosia trifida", 0.7),)),
]


@pytest.fixture
def answer(app, client, monkeypatch):
    add_pipeline(app, "three", [("three-boxes", "three-boxes", "classification")])
    monkeypatch.setattr(runner, "get_adapter", lambda kind: lambda spec, picture, detections: DETECTIONS)
    user = client.user_id()
    r = client.post("inf", body(user, sample_url(), model_name="three", color_format="rgb"))
    assert r.status_code == 200, r.text
    return r.json()


def render(inference_id: str) -> dict:
    with connection() as conn:
        return load_inference(conn, uuid.UUID(inference_id))


def test_rereading_gives_what_inf_answered(app, answer):
    assert render(answer["inference_id"]) == answer
    with connection() as conn:
        assert load_latest_for_picture(conn, uuid.UUID(answer["picture_id"])) == answer
        assert load_latest_for_picture(conn, uuid.uuid4()) is None
        with pytest.raises(NotFound):
            load_inference(conn, uuid.uuid4())
    assert [b["overlapping"] for b in answer["boxes"]] == [False, True, False]
    assert [b["overlappingIndices"] for b in answer["boxes"]] == [[2], [1], []]
    assert answer["labelOccurrence"] == {"Ambrosia trifida": 2}
    assert [b["color"] for b in answer["boxes"]] == [[237, 28, 36], [34, 177, 76], [237, 28, 36]]


def test_a_verified_box_shows_its_verified_label_with_score_one(app, answer):
    second = answer["boxes"][1]
    [(seed_id,)] = app.sql("SELECT id FROM seed WHERE name = 'Bromus secalinus'")
    [(correction,)] = app.sql(
        "INSERT INTO seed_obj (object_id, seed_id, label, score, rank) VALUES (%s, %s, 'x', 0, 0)"
        " RETURNING id", [second["box_id"], seed_id])
    app.sql("UPDATE object SET verified_id = %s WHERE id = %s", [correction, second["box_id"]])

    again = render(answer["inference_id"])
    box = again["boxes"][1]
    assert (box["label"], box["score"], box["is_verified"]) == ("Bromus secalinus", 1.0, True)
    assert box["topN"] == second["topN"]  # the model's guesses; the correction is no guess
    # Sure now, it outranks the box it overlaps.
    assert [b["overlapping"] for b in again["boxes"]] == [True, False, False]
    assert again["labelOccurrence"] == {"Bromus secalinus": 1, "Ambrosia trifida": 1}
    assert [b["color"] for b in again["boxes"]] == [[237, 28, 36], [34, 177, 76], [237, 28, 36]]


def test_an_invalid_box_is_left_out_and_indices_follow(app, answer):
    first = answer["boxes"][0]
    app.sql("UPDATE object SET valid = false WHERE id = %s", [first["box_id"]])
    again = render(answer["inference_id"])
    assert [b["box_id"] for b in again["boxes"]] == [b["box_id"] for b in answer["boxes"][1:]]
    assert [b["overlapping"] for b in again["boxes"]] == [False, False]
    assert [b["overlappingIndices"] for b in again["boxes"]] == [[], []]
    assert again["totalBoxes"] == 2
    assert again["labelOccurrence"] == {"Solanum nigrum": 1, "Ambrosia trifida": 1}
    assert [b["color"] for b in again["boxes"]] == [[237, 28, 36], [34, 177, 76]]
