"""POST /api/feedback-positive: boxes verified with their top guess, the inference verified
and its picture validated once every box is, ownership, bad input and concurrency."""

from __future__ import annotations

import threading
import uuid

import pytest
from PIL import Image

from tests.conftest import Client, assert_error
from tests.support.feedback import Analyst, box_ids, ok, seed_id, stored
from tests.support.images import data_url


def test_confirmed_boxes_show_verified_with_score_one(app, analyst):
    inference = analyst.infer()
    first, second, third = box_ids(inference)
    answer = ok(analyst.positive(inference, [first, second]))

    assert [(b["box_id"], b["label"], b["score"], b["is_verified"]) for b in answer["boxes"]] == [
        (first, "Ambrosia trifida", 1.0, True), (second, "Ambrosia trifida", 1.0, True),
        (third, "Ambrosia trifida", 0.85, False)]
    # Guesses, box and colours are kept as they were.
    for before, after in zip(inference["boxes"], answer["boxes"], strict=True):
        assert {k: v for k, v in after.items() if k not in ("score", "is_verified")} == \
            {k: v for k, v in before.items() if k not in ("score", "is_verified")}
    assert analyst.picture(inference["picture_id"])["inference"] == answer
    assert app.sql("SELECT count(*) FROM object WHERE verified_id = top_id") == [(2,)]
    # Not every box is verified yet: the picture is not validated.
    assert app.sql("SELECT verified, feedback_user_id::text FROM inference") == [(False, analyst.id)]
    assert app.sql("SELECT count(*) FROM picture_seed") == [(0,)]
    assert analyst.validated(inference["picture_id"]) is False


def test_the_last_box_verifies_the_inference_and_validates_the_picture(app, analyst):
    inference = analyst.infer()
    first, second, third = box_ids(inference)
    ok(analyst.positive(inference, [first]))
    answer = ok(analyst.positive(inference, [second, third]))

    assert all(b["is_verified"] and b["score"] == 1 for b in answer["boxes"])
    assert app.sql("SELECT verified FROM inference") == [(True,)]
    # One picture_seed row per distinct seed.
    assert app.sql("SELECT picture_id::text, seed_id::text FROM picture_seed") == [
        (inference["picture_id"], seed_id(app, "Ambrosia trifida"))]
    assert analyst.validated(inference["picture_id"]) is True
    assert analyst.picture(inference["picture_id"])["inference"] == answer

    before = stored(app)
    assert_error(analyst.positive(inference, [first]), 409, "already verified")
    assert stored(app) == before


def test_a_box_corrected_before_stays_as_corrected(app, analyst):
    inference = analyst.infer()
    first, second, third = box_ids(inference)
    ok(analyst.negative(inference, [{"boxId": first, "classId": seed_id(app, "Bromus secalinus")}]))
    answer = ok(analyst.positive(inference, [first, second, third]))
    assert [b["label"] for b in answer["boxes"]] == ["Bromus secalinus"] + ["Ambrosia trifida"] * 2
    assert answer["labelOccurrence"] == {"Bromus secalinus": 1, "Ambrosia trifida": 2}
    labels = app.sql("SELECT s.name FROM picture_seed ps JOIN seed s ON s.id = ps.seed_id ORDER BY 1")
    assert labels == [("Ambrosia trifida",), ("Bromus secalinus",)]


def test_a_detector_guess_is_confirmed_as_a_seed_of_no_species(app, client):
    user = Analyst(client)
    inference = user.infer(model_name="seed-detector-builtin")
    [only] = box_ids(inference)
    assert inference["boxes"][0]["label"] == "seed"
    answer = ok(user.positive(inference, [only]))
    [shown] = answer["boxes"]
    assert (shown["box_id"], shown["label"], shown["score"], shown["is_verified"]) == \
        (only, "seed", 1.0, True)
    assert app.sql("SELECT count(*) FROM object WHERE verified_id = top_id") == [(1,)]
    assert app.sql("SELECT verified FROM inference") == [(True,)]
    # A guess with no seed_id is no seed: the picture gets no picture_seed row for it.
    assert app.sql("SELECT count(*) FROM picture_seed") == [(0,)]
    assert user.validated(inference["picture_id"]) is False
    assert user.picture(inference["picture_id"])["inference"] == answer


def test_a_species_box_and_a_seed_box_label_the_picture_with_the_species(app, client):
    user = Analyst(client)
    inference = user.infer(model_name="seed-detector-builtin")
    [detected] = box_ids(inference)
    added = ok(user.negative(inference, [{"label": "Ambrosia trifida", "box": {
        "topX": 1, "topY": 1, "bottomX": 40, "bottomY": 40}}]))
    assert app.sql("SELECT verified FROM inference") == [(False,)]
    answer = ok(user.positive(inference, [detected]))
    assert [(b["label"], b["is_verified"]) for b in answer["boxes"]] == \
        [("seed", True), ("Ambrosia trifida", True)]
    assert [b["box_id"] for b in answer["boxes"]] == box_ids(added)
    assert app.sql("SELECT verified FROM inference") == [(True,)]
    assert app.sql("SELECT picture_id::text, seed_id::text FROM picture_seed") == [
        (inference["picture_id"], seed_id(app, "Ambrosia trifida"))]
    assert user.validated(inference["picture_id"]) is True


def test_a_box_marked_not_a_seed_cannot_be_confirmed(app, analyst):
    inference = analyst.infer()
    first, second, _ = box_ids(inference)
    ok(analyst.negative(inference, [{"boxId": first}]))
    before = stored(app)
    assert_error(analyst.positive(inference, [second, first]), 409, "boxes[1]", first, "not a seed")
    assert stored(app) == before


@pytest.fixture
def other(make_client, analyst) -> tuple[Analyst, dict]:
    """Another user with an inference of their own (same pipeline)."""
    user = Analyst(make_client())
    return user, user.infer()


def then(entry):
    """Body changes naming the good box, then `entry` (given the ids)."""
    return lambda ids: {"boxes": [{"boxId": ids["good"]}, entry(ids)]}


# Each case: (status, words of the message, body changes given the ids). The good box comes
# first in every list of boxes, to show that nothing is applied when a later one is bad.
BAD_REQUESTS = {
    "no userId": (400, ["userId", "missing"], lambda ids: {"userId": None}),
    "another user's userId": (403, ["yourself"], lambda ids: {"userId": ids["other_user"]}),
    "no inferenceId": (400, ["inferenceId", "missing"], lambda ids: {"inferenceId": None}),
    "inferenceId not an id": (400, ["inferenceId", "valid id"], lambda ids: {"inferenceId": "42"}),
    "unknown inference": (404, ["no such inference"], lambda ids: {"inferenceId": str(uuid.uuid4())}),
    "another user's inference": (403, ["inference", "not yours"],
                                 lambda ids: {"inferenceId": ids["other_inference"]}),
    "no boxes": (400, ["boxes", "missing"], lambda ids: {"boxes": None}),
    "boxes not a list": (400, ["boxes", "list"], lambda ids: {"boxes": {"boxId": ids["good"]}}),
    "entry not an object": (400, ["boxes[1]", "object"], then(lambda ids: "x")),
    "entry without boxId": (400, ["boxes[1]", "boxId", "missing"], then(lambda ids: {"label": "x"})),
    "boxId not an id": (400, ["boxes[1]", "boxId", "valid id"], then(lambda ids: {"boxId": ""})),
    "same box twice": (400, ["twice"], then(lambda ids: {"boxId": ids["good"]})),
    "box of another inference": (400, ["boxes[1]", "another inference"],
                                 then(lambda ids: {"boxId": ids["mine_elsewhere"]})),
    "box of another user": (403, ["boxes[1]", "not yours"], then(lambda ids: {"boxId": ids["others_box"]})),
    "unknown box": (404, ["boxes[1]", "no box"], then(lambda ids: {"boxId": str(uuid.uuid4())})),
}


def test_bad_input_changes_nothing(app, analyst, other):
    inference = analyst.infer()
    elsewhere = analyst.infer()
    other_user, other_inference = other
    ids = {"good": box_ids(inference)[0], "mine_elsewhere": box_ids(elsewhere)[0],
           "others_box": box_ids(other_inference)[0], "other_user": other_user.id,
           "other_inference": other_inference["inference_id"]}
    before = stored(app)
    for case, (status, words, change) in BAD_REQUESTS.items():
        body = {"userId": analyst.id, "inferenceId": inference["inference_id"],
                "boxes": [{"boxId": ids["good"]}], **change(ids)}
        r = analyst.client.post("feedback-positive", body)
        assert r.status_code == status, (case, r.text)
        assert_error(r, status, *words)
        assert stored(app) == before, case


def test_two_requests_at_once_verify_the_inference_once(app, analyst):
    inference = analyst.infer()
    everything = box_ids(inference)
    clients = [Client(app.base_url, analyst.client.email) for _ in range(2)]
    start = threading.Barrier(len(clients))
    statuses: list[int] = []

    def confirm(client: Client) -> None:
        start.wait()
        statuses.append(client.post("feedback-positive", {
            "userId": analyst.id, "inferenceId": inference["inference_id"],
            "boxes": [{"boxId": box_id} for box_id in everything]}).status_code)

    threads = [threading.Thread(target=confirm, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 409]
    assert app.sql("SELECT count(*) FROM picture_seed") == [(1,)]


def test_an_inference_without_boxes_is_verified_by_an_empty_confirmation(app, client):
    user = Analyst(client)
    r = client.post("inf", {"image": data_url(Image.new("RGB", (64, 48), "white")), "imageDims": [64, 48],
                            "container_name": user.id, "user_id": user.id,
                            "model_name": "seed-detector-builtin"})
    inference = ok(r)
    assert inference["boxes"] == []
    assert ok(user.positive(inference, [])) == inference
    # Verified, but with no seed to label its picture with: not validated.
    assert app.sql("SELECT verified FROM inference") == [(True,)]
    assert user.validated(inference["picture_id"]) is False
