"""POST /api/feedback-negative: boxes marked not a seed, relabelled by classId or label (new
labels join the catalogue), moved, added by hand; the inference verified and its picture
validated, also through a folder delete into the archive; bad input changes nothing."""

from __future__ import annotations

import uuid

from tests.conftest import assert_error
from tests.support.feedback import HEIGHT, WIDTH, Analyst, box_ids, ok, seed_id, stored

ARCHIVE = "archive@nachet.local"


def seed_names(app) -> list[str]:
    return [r[0] for r in app.sql("SELECT name FROM seed ORDER BY lower(name)")]


def test_a_box_that_was_no_seed_is_marked_invalid_and_left_out(app, analyst):
    inference = analyst.infer()
    first, second, third = box_ids(inference)
    answer = ok(analyst.negative(inference, [{"boxId": second, "comment": "No Seed"}]))
    assert box_ids(answer) == [first, third]
    assert (answer["totalBoxes"], answer["labelOccurrence"]) == (2, {"Ambrosia trifida": 2})
    assert app.sql("SELECT valid, verified_id, comment FROM object WHERE id = %s", [second]) == \
        [(False, None, "No Seed")]
    assert app.sql("SELECT result->'totalBoxes' FROM inference") == [(2,)]
    assert app.sql("SELECT verified FROM inference") == [(False,)]


def test_a_relabel_by_class_id_verifies_the_box_and_keeps_its_guesses(app, analyst):
    inference = analyst.infer()
    first, _, _ = box_ids(inference)
    bromus = seed_id(app, "Bromus secalinus")
    # classId wins over a label that disagrees; that label joins nothing.
    answer = ok(analyst.negative(inference, [{"boxId": first, "classId": bromus, "label": "Other name",
                                              "comment": "Wrong Seed"}]))
    box = answer["boxes"][0]
    assert (box["label"], box["score"], box["is_verified"]) == ("Bromus secalinus", 1.0, True)
    assert box["topN"] == inference["boxes"][0]["topN"] and box["box"] == inference["boxes"][0]["box"]
    assert answer["labelOccurrence"] == {"Bromus secalinus": 1, "Ambrosia trifida": 2}
    # The correction is a seed_obj row of rank 0 and score 0, which the box is verified with.
    assert app.sql("SELECT so.seed_id::text, so.label, so.score, so.rank, o.comment FROM object o"
                   " JOIN seed_obj so ON so.id = o.verified_id WHERE o.id = %s", [first]) == \
        [(bromus, "Bromus secalinus", 0.0, 0, "Wrong Seed")]
    assert "Other name" not in seed_names(app)
    assert analyst.picture(inference["picture_id"])["inference"] == answer


def test_a_relabel_by_label_matches_the_catalogue_or_joins_it(app, analyst):
    inference = analyst.infer()
    first, second, third = box_ids(inference)
    before = seed_names(app)
    answer = ok(analyst.negative(inference, [
        {"boxId": first, "label": '"Wild oat"'},  # free text, wrapped in quotes by the web client
        {"boxId": second, "label": " wild OAT "},
        {"boxId": third, "label": "bromus SECALINUS"},
    ]))
    assert [b["label"] for b in answer["boxes"]] == ["Wild oat", "Wild oat", "Bromus secalinus"]
    assert all(b["is_verified"] and b["score"] == 1 for b in answer["boxes"])
    assert sorted(set(seed_names(app)) - set(before)) == ["Wild oat"]
    seeds = analyst.client.get("seeds").json()["seeds"]
    assert [s["seed_name"] for s in seeds].count("Wild oat") == 1
    # Every box is verified: one picture_seed row per distinct seed.
    labels = app.sql("SELECT s.name FROM picture_seed p JOIN seed s ON s.id = p.seed_id ORDER BY 1")
    assert labels == [("Bromus secalinus",), ("Wild oat",)]


def test_a_moved_box_keeps_its_new_coordinates_and_its_guesses(app, analyst):
    inference = analyst.infer()
    first, second, _ = box_ids(inference)
    target = inference["boxes"][1]["box"]
    # Moved onto the second box (halves round up): they overlap now.
    moved = {"topX": target["topX"] - 0.5, "topY": target["topY"], "bottomX": target["bottomX"],
             "bottomY": target["bottomY"] + 0.4}
    answer = ok(analyst.negative(inference, [{"boxId": first, "label": "Ambrosia trifida", "box": moved}]))
    box = answer["boxes"][0]
    assert box["box"] == target and box["topN"] == inference["boxes"][0]["topN"]
    assert (box["label"], box["is_verified"]) == ("Ambrosia trifida", True)
    assert [(b["overlappingIndices"], b["overlapping"]) for b in answer["boxes"]] == [
        ([2], False), ([1], True), ([], False)]  # the unverified one scores lower
    assert answer["labelOccurrence"] == {"Ambrosia trifida": 2}
    assert app.sql("SELECT box, overlapping_indices FROM object WHERE id = %s", [second]) == [(target, [1])]
    assert analyst.picture(inference["picture_id"])["inference"] == answer


def test_a_box_a_little_past_the_edges_is_clamped_into_the_picture(app, analyst):
    inference = analyst.infer()
    first = box_ids(inference)[0]
    # A client scaling with floats overshoots the picture by a fraction of a pixel.
    past = {"topX": 600.2, "topY": 500, "bottomX": WIDTH + 0.4, "bottomY": HEIGHT + 0.4}
    tall = {"topX": 0, "topY": 0, "bottomX": 30, "bottomY": HEIGHT + 25}
    answer = ok(analyst.negative(inference, [{"boxId": first, "label": "Ambrosia trifida", "box": past},
                                             {"boxId": "", "label": "Bromus secalinus", "box": tall}]))
    clamped = {"topX": 600, "topY": 500, "bottomX": WIDTH, "bottomY": HEIGHT}
    assert answer["boxes"][0]["box"] == clamped
    assert answer["boxes"][3]["box"] == {"topX": 0, "topY": 0, "bottomX": 30, "bottomY": HEIGHT}
    assert app.sql("SELECT box FROM object WHERE id = %s", [first]) == [(clamped,)]
    assert analyst.picture(inference["picture_id"])["inference"] == answer


def test_a_box_the_model_missed_is_added_as_a_manual_detection(app, analyst):
    inference = analyst.infer()
    where = {"topX": 500, "topY": 400, "bottomX": 600.2, "bottomY": HEIGHT}
    answer = ok(analyst.negative(inference, [{"boxId": "", "label": "Bromus secalinus", "box": where,
                                              "comment": "Seed not Detected"}]))
    assert box_ids(answer)[:3] == box_ids(inference)
    new = answer["boxes"][3]
    assert (new["label"], new["score"], new["is_verified"]) == ("Bromus secalinus", 1.0, True)
    assert new["topN"] == []  # no model guess
    assert new["box"] == {"topX": 500, "topY": 400, "bottomX": 600, "bottomY": HEIGHT}
    assert new["color"] == "#22B14C" and new["overlappingIndices"] == []
    assert answer["totalBoxes"] == 4
    assert answer["labelOccurrence"] == {"Ambrosia trifida": 3, "Bromus secalinus": 1}
    assert app.sql("SELECT position, manual_detection, comment, top_id = verified_id FROM object"
                   " WHERE id = %s", [new["box_id"]]) == [(3, True, "Seed not Detected", True)]
    # It can be corrected again like any box, by its id.
    solanum = seed_id(app, "Solanum nigrum")
    again = ok(analyst.negative(inference, [{"boxId": new["box_id"], "classId": solanum}]))
    assert again["boxes"][3]["label"] == "Solanum nigrum"


def test_every_kind_of_correction_at_once_verifies_the_picture(app, analyst):
    inference = analyst.infer()
    first, second, third = box_ids(inference)
    answer = ok(analyst.negative(inference, [
        {"boxId": first, "comment": "No Seed"},
        {"boxId": second, "classId": seed_id(app, "Bromus secalinus"), "comment": "Wrong Seed"},
        {"boxId": third, "label": '"Avena fatua"', "box": box_at(topX=1, topY=2)},
        {"boxId": "", "label": "bromus secalinus", "comment": "Seed not Detected",
         "box": box_at(topX=300, topY=300, bottomX=350,
                                                                   bottomY=330)},
    ]))
    assert [b["label"] for b in answer["boxes"]] == ["Bromus secalinus", "Avena fatua", "Bromus secalinus"]
    assert all(b["is_verified"] for b in answer["boxes"])
    assert app.sql("SELECT verified, feedback_user_id::text FROM inference") == [(True, analyst.id)]
    labels = app.sql("SELECT s.name FROM picture_seed p JOIN seed s ON s.id = p.seed_id ORDER BY 1")
    assert labels == [("Avena fatua",), ("Bromus secalinus",)]
    assert analyst.validated(inference["picture_id"]) is True
    assert analyst.picture(inference["picture_id"])["inference"] == answer
    assert_error(analyst.negative(inference, [{"boxId": second, "label": "Solanum nigrum"}]), 409, "verified")


def test_when_every_box_is_no_seed_the_picture_is_not_validated(app, analyst):
    inference = analyst.infer()
    answer = ok(analyst.negative(inference, [{"boxId": box_id} for box_id in box_ids(inference)]))
    assert (answer["boxes"], answer["totalBoxes"], answer["labelOccurrence"]) == ([], 0, {})
    assert app.sql("SELECT verified FROM inference") == [(True,)]
    assert app.sql("SELECT count(*) FROM picture_seed") == [(0,)]
    assert analyst.validated(inference["picture_id"]) is False


def test_a_verified_picture_survives_the_deletion_of_its_folder_in_the_archive(app, analyst):
    [folder] = ok(analyst.client.post("create-dir", {"container_name": analyst.id, "folder_name": "Trial 7"}))
    inference = analyst.infer(folder_name=folder)
    picture = inference["picture_id"]
    first, second, third = box_ids(inference)
    ok(analyst.negative(inference, [{"boxId": first, "classId": seed_id(app, "Bromus secalinus")}]))
    verified = ok(analyst.positive(inference, [second, third]))
    [old_blob] = app.blobs()
    assert old_blob == f"{analyst.id}/{folder}/{picture}.png"
    labels = app.sql("SELECT picture_id, seed_id FROM picture_seed ORDER BY 2")
    boxes = app.sql("SELECT id, verified_id, valid FROM object ORDER BY position")
    assert len(labels) == 2

    assert ok(analyst.client.post("del", {"container_name": analyst.id, "folder_name": folder})) == [True]

    [(archive_user, archive_folder)] = app.sql(
        "SELECT u.id::text, ps.id::text FROM picture_set ps JOIN users u ON u.id = ps.owner_id"
        " WHERE u.email = %s AND ps.name = %s", [ARCHIVE, f"{analyst.id}/Trial 7"])
    assert app.sql("SELECT picture_set_id::text, blob_name FROM picture WHERE id = %s", [picture]) == \
        [(archive_folder, f"{archive_user}/{archive_folder}/{picture}.png")]
    assert app.sql("SELECT id::text, picture_id::text, verified FROM inference") == \
        [(inference["inference_id"], picture, True)]
    assert app.sql("SELECT id, verified_id, valid FROM object ORDER BY position") == boxes
    assert app.sql("SELECT picture_id, seed_id FROM picture_seed ORDER BY 2") == labels
    assert app.blobs() == [f"{archive_user}/{archive_folder}/{picture}.png"]
    # The folder is gone for its owner; the inference is no longer theirs to give feedback on.
    assert picture not in {p["picture_id"] for f in analyst.client.post(
        "get-directories", {"container_name": analyst.id}).json()["folders"] for p in f["pictures"]}
    assert_error(analyst.positive(verified, [first]), 403, "not yours")


def box_at(**edges: object) -> dict:
    return {"topX": 10, "topY": 10, "bottomX": 50, "bottomY": 50, **edges}


def second(**entry: object):
    """The second box, relabelled with `entry`'s changes."""
    return lambda ids: {"boxId": ids["second"], "label": "x", **entry}


# Each case: (status, words of the message, the second entry given the ids). The first entry
# always corrects a good box, to show that nothing is applied when a later one is bad.
BAD_ENTRIES = {
    "coordinate not a number": (400, ["boxes[1]", "box.topX", "number"], second(box=box_at(topX="10"))),
    "coordinate missing": (400, ["boxes[1]", "box.bottomY", "missing"],
                           second(box={"topX": 1, "topY": 1, "bottomX": 5})),
    "box not an object": (400, ["boxes[1]", "box must be an object"], second(box=[1, 2, 3, 4])),
    "negative coordinate": (400, ["boxes[1]", "box.topY", "negative"], second(box=box_at(topY=-1))),
    "wholly outside the picture": (400, ["boxes[1]", "outside the picture", f"{WIDTH} x {HEIGHT}"],
                                   second(box=box_at(topX=WIDTH + 1, bottomX=WIDTH + 40))),
    "below the picture": (400, ["boxes[1]", "outside the picture", f"{WIDTH} x {HEIGHT}"],
                          second(box=box_at(topY=HEIGHT - 0.4, bottomY=HEIGHT + 9))),
    "negative and outside": (400, ["boxes[1]", "box.topX", "negative"],
                             second(box=box_at(topX=-0.4, bottomX=WIDTH + 0.4))),
    "no area": (400, ["boxes[1]", "topX < bottomX"], second(box=box_at(bottomX=10))),
    "unknown classId, empty label": (404, ["boxes[1]", "no seed", "classId"],
                                     second(label="", classId=str(uuid.uuid4()))),
    "classId not an id": (400, ["boxes[1]", "classId", "valid id"], second(classId="7")),
    "label not a string": (400, ["boxes[1]", "label", "string"], second(label=7)),
    "new box without coordinates": (400, ["boxes[1]", "new box", "coordinates"],
                                    lambda ids: {"boxId": "", "label": "Wild oat"}),
    "new box without label": (400, ["boxes[1]", "new box", "label or a classId"],
                              lambda ids: {"boxId": "", "box": box_at()}),
    "entry without boxId": (400, ["boxes[1]", "boxId", "missing"], second(boxId=None)),
    "same box twice": (400, ["twice", "box"], lambda ids: {"boxId": ids["first"], "label": "x"}),
    "box of another inference": (400, ["boxes[1]", "another inference"],
                                 lambda ids: {"boxId": ids["mine_elsewhere"], "label": "x"}),
    "box of another user": (403, ["boxes[1]", "not yours"], lambda ids: {"boxId": ids["others_box"]}),
    "unknown box": (404, ["boxes[1]", "no box"], lambda ids: {"boxId": str(uuid.uuid4())}),
}


def test_bad_input_changes_nothing(app, analyst, make_client):
    inference = analyst.infer()
    elsewhere = analyst.infer()
    others = Analyst(make_client()).infer()
    first, second, _ = box_ids(inference)
    ids = {"first": first, "second": second, "mine_elsewhere": box_ids(elsewhere)[0],
           "others_box": box_ids(others)[0]}
    good = {"boxId": first, "label": "A brand new seed", "box": box_at(), "comment": "Wrong Seed"}
    before = stored(app)
    for case, (status, words, entry) in BAD_ENTRIES.items():
        r = analyst.negative(inference, [good, entry(ids)])
        assert r.status_code == status, (case, r.text)
        assert_error(r, status, *words)
        assert stored(app) == before, case
    assert "A brand new seed" not in seed_names(app)
    # The request-level rules are those of feedback-positive (tested there); two of them here.
    assert_error(analyst.negative(inference, [good], boxes=None), 400, "boxes", "missing")
    assert_error(analyst.negative(inference, [good], inferenceId=others["inference_id"]), 403, "not yours")
    assert stored(app) == before


def test_manual_boxes_are_stored_with_their_label_colour_after_the_models_labels(app, analyst):
    # The view recomputes colours, so only the stored rows show a wrong one.
    inference = analyst.infer()
    answer = ok(analyst.negative(inference, [
        {"boxId": "", "label": "Ambrosia trifida", "box": box_at(topX=10, topY=10, bottomX=60, bottomY=60)},
        {"boxId": "", "label": "Bromus secalinus", "box": box_at(topX=300, topY=300, bottomX=350,
                                                                   bottomY=330)},
    ]))
    stored_colors = dict(app.sql("SELECT position, color FROM object"))
    model_color = stored_colors[0]
    assert stored_colors[1] == stored_colors[2] == model_color  # the model's one label
    assert stored_colors[3] == model_color  # a manual box of that label takes its colour
    assert stored_colors[4] == "#22B14C" != model_color  # a new label: the next colour
    assert [b["color"] for b in answer["boxes"]][3:] == [stored_colors[3], stored_colors[4]]


def test_boxes_are_capped_per_request_and_per_inference(app, analyst):
    # Overlap is computed again over every box under the inference's lock, pair by pair.
    from shared.services.feedback import MAX_BOXES

    inference = analyst.infer()
    before = stored(app)
    too_many = [{"boxId": "", "label": "Wild oat", "box": box_at()}] * (MAX_BOXES + 1)
    assert_error(analyst.negative(inference, too_many), 400, f"at most {MAX_BOXES} boxes")
    assert_error(analyst.positive(inference, box_ids(inference) * 400), 400, f"at most {MAX_BOXES} boxes")
    assert stored(app) == before
    # New boxes up to the cap, in all, are taken; one more is refused and changes nothing.
    fill = [{"boxId": "", "label": "Wild oat", "box": box_at(topX=n % 600, bottomX=n % 600 + 30)}
            for n in range(MAX_BOXES - len(box_ids(inference)))]
    assert ok(analyst.negative(inference, fill))["totalBoxes"] == MAX_BOXES
    full = stored(app)
    one_more = analyst.negative(inference, [{"boxId": "", "label": "Wild oat", "box": box_at()}])
    assert_error(one_more, 400, f"at most {MAX_BOXES} boxes", f"has {MAX_BOXES}")
    assert stored(app) == full
