"""POST /api/inf: the default built-in pipeline, the inference object as stored, bad input,
and failures that must leave no picture, blob or row behind."""

from __future__ import annotations

import io
import uuid

import psycopg
import pytest
from PIL import Image

from shared.errors import DependencyUnavailable, ModelEndpointFailed
from shared.pipeline.types import Detection, Guess
from tests.conftest import assert_error
from tests.support.hung_storage import eventually, hung_uploads
from tests.support.images import data_url
from tests.support.inference import add_pipeline, body, nothing_stored, sample_url
from tests.support.synthetic_seeds import SAMPLE_PATH, make_seed_picture

BOX_KEYS = ["box", "label", "score", "topN", "box_id", "top_id", "object_type_id", "color",
            "overlapping", "overlappingIndices", "is_verified"]


@pytest.fixture
def user(client):
    return client.user_id()


def test_default_pipeline_finds_the_sample_seed_and_stores_it(app, client, user):
    r = client.post("inf", body(user, sample_url()))
    assert r.status_code == 200, r.text
    inf = r.json()
    assert list(inf) == ["inference_id", "pipeline_id", "picture_id", "filename", "models",
                         "totalBoxes", "labelOccurrence", "boxes"]
    assert inf["models"] == [{"name": "seed-detector-builtin", "version": "1"}]
    assert inf["filename"] == f"{inf['picture_id']}.png"
    assert inf["totalBoxes"] == 1 and inf["labelOccurrence"] == {"seed": 1}
    [box] = inf["boxes"]
    assert list(box) == BOX_KEYS
    assert box["label"] == "seed" and 0 < box["score"] <= 1
    assert box["topN"] == [{"label": "seed", "score": box["score"], "object_id": box["top_id"]}]
    assert box["color"] == "#ED1C24" and box["object_type_id"] == 1
    assert box["overlapping"] is False and box["overlappingIndices"] == [] and not box["is_verified"]
    # The truth box of the sample is (143, 55, 456, 466) in a 600 x 600 picture.
    b = box["box"]
    assert all(isinstance(v, int) for v in b.values())
    assert abs(b["topX"] - 143) < 25 and abs(b["topY"] - 55) < 25
    assert abs(b["bottomX"] - 456) < 25 and abs(b["bottomY"] - 466) < 25

    [(picture_id, folder, blob_name, content_type, width, height)] = app.sql(
        "SELECT p.id, s.name, p.blob_name, p.content_type, p.width, p.height"
        " FROM picture p JOIN picture_set s ON s.id = p.picture_set_id")
    assert (str(picture_id), folder, content_type) == (inf["picture_id"], "General", "image/png")
    assert (width, height) == Image.open(SAMPLE_PATH).size
    assert blob_name.startswith(f"{user}/") and blob_name.endswith(f"/{inf['filename']}")
    assert app.blobs() == [blob_name]
    [(inference_id, pipeline_id, user_id, result)] = app.sql(
        "SELECT id, pipeline_id, user_id, result FROM inference")
    assert (str(inference_id), str(pipeline_id), str(user_id)) == (
        inf["inference_id"], inf["pipeline_id"], user)
    assert app.sql("SELECT name FROM pipeline WHERE id = %s", [pipeline_id]) == [("seed-detector-builtin",)]
    assert {k: result[k] for k in ("filename", "models", "labelOccurrence", "totalBoxes")} == {
        k: inf[k] for k in ("filename", "models", "labelOccurrence", "totalBoxes")}
    [(object_id, top_id, stored_box, color, overlapping, indices)] = app.sql(
        "SELECT id, top_id, box, color, overlapping, overlapping_indices FROM object")
    assert (str(object_id), str(top_id), stored_box, color, overlapping, indices) == (
        box["box_id"], box["top_id"], box["box"], "#ED1C24", False, [])
    # The detector's own label is kept, but is no species.
    assert app.sql("SELECT id::text, seed_id, label, rank FROM seed_obj") == [
        (box["top_id"], None, "seed", 1)]
    assert app.sql("SELECT count(*) FROM seed WHERE lower(name) = 'seed'") == [(0,)]


def test_synthetic_picture_finds_each_seed(app, client, user):
    image, truth = make_seed_picture(width=1280, height=720, n_seeds=6, seed=3)
    r = client.post("inf", body(user, data_url(image), color_format="rgb"))
    assert r.status_code == 200, r.text
    inf = r.json()
    assert inf["totalBoxes"] == len(truth) == app.sql("SELECT count(*) FROM object")[0][0]
    for left, top, right, bottom in truth:
        assert any(abs(b["box"]["topX"] - left) <= 12 and abs(b["box"]["topY"] - top) <= 12
                   and abs(b["box"]["bottomX"] - right) <= 12 and abs(b["box"]["bottomY"] - bottom) <= 12
                   for b in inf["boxes"]), (left, top, right, bottom)
    assert all(b["color"] == [237, 28, 36] for b in inf["boxes"])
    # The stored colour stays #RRGGBB whatever the format asked.
    assert app.sql("SELECT DISTINCT color FROM object") == [("#ED1C24",)]
    positions = app.sql("SELECT position, id::text FROM object ORDER BY position")
    assert [p for p, _ in positions] == list(range(len(truth)))
    assert [i for _, i in positions] == [b["box_id"] for b in inf["boxes"]]


def test_exif_rotated_jpeg_gives_upright_boxes(app, client, user):
    # A picture stored sideways with orientation 6 (rotate 90° clockwise to view):
    # the seed's upright box must come back, in the upright size.
    upright, truth = make_seed_picture(width=640, height=400, n_seeds=1, seed=5, n_border_seeds=0)
    sideways = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    sideways.save(out, format="JPEG", exif=exif, quality=95)
    r = client.post("inf", body(user, data_url(out.getvalue(), claimed="image/jpeg"),
                                imageDims=[640, 400]))
    assert r.status_code == 200, r.text
    [box] = r.json()["boxes"]
    left, top, right, bottom = truth[0]
    got = box["box"]
    assert abs(got["topX"] - left) <= 12 and abs(got["topY"] - top) <= 12
    assert abs(got["bottomX"] - right) <= 12 and abs(got["bottomY"] - bottom) <= 12
    assert app.sql("SELECT width, height, content_type FROM picture") == [(640, 400, "image/jpeg")]


def test_no_seed_is_a_valid_result(app, client, user):
    r = client.post("inf", body(user, data_url(Image.new("RGB", (320, 200), (235, 236, 233)))))
    assert r.status_code == 200, r.text
    inf = r.json()
    assert (inf["boxes"], inf["totalBoxes"], inf["labelOccurrence"]) == ([], 0, {})
    assert app.sql("SELECT count(*) FROM picture") == [(1,)]
    assert app.sql("SELECT result->'totalBoxes' FROM inference") == [(0,)]


def test_lying_header_is_stored_with_the_real_type(app, client, user):
    r = client.post("inf", body(user, data_url(SAMPLE_PATH.read_bytes(), claimed="image/jpeg")))
    assert r.status_code == 200, r.text
    assert r.json()["filename"].endswith(".png")
    assert app.sql("SELECT content_type FROM picture") == [("image/png",)]
    assert app.blobs()[0].endswith(".png")


def test_folder_by_id_and_by_name(app, client, user):
    other = client.post("create-dir", {"container_name": user, "folder_name": "Batch 7"})
    folder_id = (other.json()[0] if other.status_code == 200 else
                 str(app.sql("INSERT INTO picture_set (owner_id, name) VALUES (%s, 'Batch 7')"
                             " RETURNING id", [user])[0][0]))
    for ref in (folder_id, "batch 7"):
        assert client.post("inf", body(user, sample_url(), folder_name=ref)).status_code == 200
    absent = {k: v for k, v in body(user, sample_url()).items() if k != "folder_name"}
    assert client.post("inf", absent).status_code == 200
    assert app.sql("SELECT s.name, count(*) FROM picture p JOIN picture_set s ON s.id = p.picture_set_id"
                   " GROUP BY s.name ORDER BY s.name") == [("Batch 7", 2), ("General", 1)]


def test_named_pipeline_with_a_classifier_matches_and_grows_the_catalogue(app, client, user, monkeypatch):
    from shared.pipeline import runner

    add_pipeline(app, "detect-classify", [("seed-detector-builtin-2", "builtin-seed-detector",
                                           "object-detection"),
                                          ("fake-classifier", "fake-classifier", "classification")])
    labels = [("012 trifida", 0.7), ("Ambrosia artemisiifolia", 0.2), ("Novum seedium", 0.1)]

    def classify(model, picture, detections):
        return [Detection(d.box, tuple(Guess(label, score) for label, score in reversed(labels)))
                for d in detections]

    real = runner.get_adapter
    monkeypatch.setattr(runner, "get_adapter",
                        lambda kind: classify if kind == "fake-classifier" else real(kind))
    r = client.post("inf", body(user, sample_url(), model_name="detect-classify"))
    assert r.status_code == 200, r.text
    inf = r.json()
    assert inf["models"] == [{"name": "seed-detector-builtin-2", "version": "2"},
                             {"name": "fake-classifier", "version": "2"}]
    [box] = inf["boxes"]
    assert box["label"] == "Ambrosia trifida" and box["score"] == 0.7
    assert [g["label"] for g in box["topN"]] == [
        "Ambrosia trifida", "Ambrosia artemisiifolia", "Novum seedium"]
    assert inf["labelOccurrence"] == {"Ambrosia trifida": 1}
    rows = app.sql("SELECT so.label, s.name, so.rank FROM seed_obj so LEFT JOIN seed s ON s.id = so.seed_id"
                   " ORDER BY so.rank")
    assert rows == [("Ambrosia trifida", "Ambrosia trifida", 1),
                    ("Ambrosia artemisiifolia", "Ambrosia artemisiifolia", 2),
                    ("Novum seedium", "Novum seedium", 3)]


def test_test_pipeline_labels_are_matched_to_the_catalogue(app, client, user):
    add_pipeline(app, "test", [("test", "test", "classification")])
    r = client.post("inf", body(user, sample_url(), model_name="test", area_ratio=1))
    assert r.status_code == 200, r.text
    [box] = r.json()["boxes"]
    assert box["label"] == "Ambrosia artemisiifolia" and box["score"] == 1.0
    width, height = Image.open(SAMPLE_PATH).size  # the test model's box is the middle half
    assert box["box"] == {"topX": round(width / 4 + 0.01), "topY": round(height / 4 + 0.01),
                          "bottomX": round(width * 3 / 4 + 0.01), "bottomY": round(height * 3 / 4 + 0.01)}
    assert app.sql("SELECT s.name FROM seed_obj so JOIN seed s ON s.id = so.seed_id") == [
        ("Ambrosia artemisiifolia",)]


def test_picture_of_an_unaccepted_format_is_415(app, client, user, monkeypatch):
    from shared import settings

    monkeypatch.setenv("NACHET_VALID_EXTENSION", '["jpeg"]')
    settings.reset()
    assert_error(client.post("inf", body(user, sample_url())), 415, "PNG", "NACHET_VALID_EXTENSION")
    nothing_stored(app)


@pytest.mark.parametrize(("change", "status", "words"), [
    ({"model_name": "no-such-pipeline"}, 404, ["no-such-pipeline"]),
    ({"model_name": 7}, 400, ["model_name"]),
    ({"image": None}, 400, ["image", "missing"]),
    ({"image": "data:text/plain;base64,aGVsbG8gd29ybGQ="}, 415, ["not a supported image"]),
    ({"image": "https://example.org/seed.png"}, 400, ["data URL"]),
    ({"image": "data:image/png;base64,@@@@"}, 400, ["base64"]),
    # Strict base64, as the stdlib's validate=True: no line breaks, padding only at the end.
    ({"image": "data:image/png;base64,iVBORw0K\nGgo="}, 400, ["base64"]),
    ({"image": "data:image/png;base64,iVBO=Rw0KGgo="}, 400, ["base64"]),
    ({"image": "data:image/png;base64,iVBORw0KGgo"}, 400, ["base64"]),
    ({"imageDims": None}, 400, ["imageDims", "missing"]),
    ({"imageDims": [1920]}, 400, ["imageDims"]),
    ({"imageDims": [1920, 0]}, 400, ["imageDims"]),
    ({"imageDims": [1920, -5]}, 400, ["imageDims"]),
    ({"imageDims": ["1920", "1080"]}, 400, ["imageDims"]),
    ({"imageDims": [True, 1080]}, 400, ["imageDims"]),
    ({"imageDims": "1920x1080"}, 400, ["imageDims"]),
    ({"area_ratio": 0}, 400, ["area_ratio"]),
    ({"area_ratio": 1.5}, 400, ["area_ratio"]),
    ({"area_ratio": -0.5}, 400, ["area_ratio"]),
    ({"area_ratio": "0.5"}, 400, ["area_ratio"]),
    ({"color_format": "hsl"}, 400, ["color_format", "hex", "rgb"]),
    ({"folder_name": "No such folder"}, 404, ["No such folder"]),
    ({"folder_name": str(uuid.uuid4())}, 404, ["folder"]),
])
def test_bad_input_stores_nothing(app, client, user, change, status, words):
    assert_error(client.post("inf", {**body(user, sample_url()), **change}), status, *words)
    nothing_stored(app)


def test_truncated_image_is_415(app, client, user):
    data = SAMPLE_PATH.read_bytes()
    assert_error(client.post("inf", body(user, data_url(data[: len(data) // 2], claimed="image/png"))),
                 415, "truncated")
    nothing_stored(app)


def test_decompression_bomb_is_413(app, client, user, monkeypatch):
    from shared import settings

    monkeypatch.setenv("NACHET_MAX_IMAGE_PIXELS", "1000000")
    settings.reset()
    bomb = Image.new("1", (4000, 4000))  # 16 Mpx in a few kB
    assert_error(client.post("inf", body(user, data_url(bomb))), 413, "pixels")
    nothing_stored(app)


def test_another_users_folder_is_403(app, client, user, make_client):
    intruder = make_client()
    intruder_id = intruder.user_id()
    [(folder_id,)] = app.sql("SELECT default_set_id FROM users WHERE id = %s", [user])
    r = intruder.post("inf", body(intruder_id, sample_url(), folder_name=str(folder_id)))
    assert_error(r, 403, "folder")
    nothing_stored(app)


def test_acting_as_another_user_is_403(app, client, user, make_client):
    intruder = make_client()
    intruder.user_id()
    assert_error(intruder.post("inf", body(user, sample_url())), 403)
    nothing_stored(app)


def test_failing_model_leaves_nothing(app, client, user, monkeypatch):
    from shared.pipeline.adapters import builtin

    def fail(model, picture, detections):
        raise ModelEndpointFailed(f"model {model.name} failed: HTTP 500")

    monkeypatch.setattr(builtin, "detect", fail)
    assert_error(client.post("inf", body(user, sample_url())), 502, "seed-detector-builtin")
    nothing_stored(app)


def test_storage_failing_leaves_nothing(app, client, user, monkeypatch):
    from shared import storage

    def down(*args, **kwargs):
        raise DependencyUnavailable("the storage is unavailable")

    monkeypatch.setattr(storage, "upload", down)
    assert_error(client.post("inf", body(user, sample_url())), 503, "storage")
    nothing_stored(app)


def test_storage_that_hangs_is_503_in_time_and_both_blobs_go_once_it_ends(app, client, user, monkeypatch):
    # The picture and its thumbnail are written beside the models: with a storage that
    # hangs, /inf answers after UPLOAD_WAIT_S, and what both writes store in the end is
    # deleted then.
    from shared import settings

    with hung_uploads(monkeypatch) as hung:
        assert_error(client.post("inf", body(user, sample_url())), 503, "storage", "in time")
    names = settings.get_settings()
    thumbnails = names.thumbnails_container
    eventually(lambda: len(hung.written) == 2 and not app.blobs() and not app.blobs(thumbnails))
    assert sorted(hung.written) == sorted([names.pictures_container, thumbnails])
    nothing_stored(app)
    assert app.blobs(thumbnails) == []


def test_a_thumbnail_that_is_not_written_in_time_is_left_to_the_blob_trigger(app, client, user, monkeypatch):
    from shared import settings

    thumbnails = settings.get_settings().thumbnails_container
    with hung_uploads(monkeypatch, only=thumbnails):
        r = client.post("inf", body(user, sample_url()))
        assert r.status_code == 200, r.text
        [(metadata,)] = app.sql("SELECT metadata FROM picture")
        assert "thumbnail" not in (metadata or {})  # no row names a thumbnail not written yet


@pytest.mark.parametrize("query", ["pictures.insert", "inferences.insert"])
def test_database_failing_after_the_upload_removes_the_blob(app, client, user, monkeypatch, query):
    from shared.db import queries

    def fail(*args, **kwargs):
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    module, name = query.split(".")
    monkeypatch.setattr(getattr(queries, module), name, fail)
    assert_error(client.post("inf", body(user, sample_url())), 503, "database")
    nothing_stored(app)


def test_commit_failing_removes_the_blob(app, client, user, monkeypatch):
    # A top guess that does not exist fails the deferred foreign key at commit time.
    from shared.db.queries import inferences

    real = inferences.insert

    def without_first_guess(conn, *, guesses, **row):
        real(conn, guesses=guesses[1:], **row)

    monkeypatch.setattr(inferences, "insert", without_first_guess)
    r = client.post("inf", body(user, sample_url()))
    assert r.status_code == 500, r.text
    nothing_stored(app)


def test_a_five_megapixel_uncompressed_tiff_is_classified_with_the_default_limits(app, client, user):
    # As a lab camera writes it (2592x1944, about 15 MB) and the web client sends it: the
    # file as it is, in a data URL of about 20 MB.
    image, seeds = make_seed_picture(width=2592, height=1944, n_seeds=3, seed=7)
    out = io.BytesIO()
    image.save(out, format="TIFF")  # uncompressed
    url = data_url(out.getvalue(), claimed="image/tiff")
    assert len(out.getvalue()) > 15_000_000 and len(url) > 20_000_000
    r = client.post("inf", body(user, url), timeout=120)
    assert r.status_code == 200, r.text
    assert r.json()["totalBoxes"] == len(seeds)
    assert app.sql("SELECT width, height, content_type FROM picture") == [(2592, 1944, "image/tiff")]
