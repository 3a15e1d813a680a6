"""POST /api/inf with remote models on the local Azure ML model server: a detector and a
classifier end to end, and models that fail or hang leaving nothing behind."""

from __future__ import annotations

from shared import settings
from tests.conftest import assert_error
from tests.support.inference import body, nothing_stored, sample_url
from tests.support.model_server import Reply, box


def test_detector_then_classifier(app, client, remote):
    remote.detector(boxes=[box(0.1, 0.1, 0.3, 0.3, score=0.8), box(0.5, 0.5, 0.9, 0.8, score=0.7)])
    remote.classifier(answer=lambda call: [{"label": "014 trifida", "score": 0.85},
                                           {"label": "Carex nova", "score": 0.1}])
    user = client.user_id()
    r = client.post("inf", body(user, sample_url()))
    assert r.status_code == 200, r.text
    inf = r.json()
    assert inf["models"] == [{"name": "detector", "version": "4"}, {"name": "classifier", "version": "4"}]
    assert [b["label"] for b in inf["boxes"]] == ["Ambrosia trifida", "Ambrosia trifida"]
    assert [[g["label"] for g in b["topN"]] for b in inf["boxes"]] == [["Ambrosia trifida", "Carex nova"]] * 2
    assert inf["labelOccurrence"] == {"Ambrosia trifida": 2}
    assert len(remote.calls("detector")) == 1 and len(remote.calls("classifier")) == 2
    # A new species from a classifier joins the catalogue, once.
    assert app.sql("SELECT count(*) FROM seed WHERE name = 'Carex nova'") == [(1,)]
    assert app.sql("SELECT count(*) FROM seed_obj WHERE seed_id IS NULL") == [(0,)]


def test_a_failing_classifier_call_leaves_nothing(app, client, remote):
    remote.detector(boxes=[box(0.1, 0.1, 0.3, 0.3), box(0.5, 0.5, 0.9, 0.8)])
    remote.classifier(fail_if=lambda call: call.number == 2, fail_status=500)
    user = client.user_id()
    assert_error(client.post("inf", body(user, sample_url())), 502, "classifier")
    nothing_stored(app)


def test_a_detector_answering_garbage_leaves_nothing(app, client, remote):
    remote.endpoint("detector", lambda call: Reply(200, b"<html>oops</html>"))
    user = client.user_id()
    assert_error(client.post("inf", body(user, sample_url())), 502, "detector")
    nothing_stored(app)


def test_a_hanging_detector_is_504_and_leaves_nothing(app, client, remote, monkeypatch):
    monkeypatch.setenv("NACHET_MODEL_READ_TIMEOUT_S", "0.3")
    settings.reset()
    remote.detector(boxes=[], hang=True)
    user = client.user_id()
    assert_error(client.post("inf", body(user, sample_url())), 504, "detector")
    nothing_stored(app)


def test_with_a_classifier_the_picture_is_stored_once_the_crops_are_sent(app, client, remote):
    # The picture's blob and thumbnail are written in the classifier's waits, not beside
    # the detector (whose call comes before any crop is cut): nothing is stored yet when
    # the detector answers, half a second after its call, and both are there with the answer.
    stored_while_detecting = []

    def detect(call):
        stored_while_detecting.append(app.blobs() + app.blobs(app.thumbnails_container))
        return {"boxes": [box(0.1, 0.1, 0.3, 0.3), box(0.5, 0.5, 0.9, 0.8)]}

    remote.endpoint("detector", detect, delay_s=0.5)
    remote.classifier()
    user = client.user_id()
    r = client.post("inf", body(user, sample_url()))
    assert r.status_code == 200, r.text
    assert stored_while_detecting == [[]]
    [(blob_name, metadata)] = app.sql("SELECT blob_name, metadata FROM picture")
    assert app.blobs() == [blob_name]
    assert app.blobs(app.thumbnails_container) == [metadata["thumbnail"]]


def test_a_detector_finding_nothing_still_stores_the_picture_and_its_thumbnail(app, client, remote):
    # No crop to send: the picture is stored once the pipeline has run.
    remote.detector(boxes=[])
    remote.classifier()
    user = client.user_id()
    r = client.post("inf", body(user, sample_url()))
    assert r.status_code == 200, r.text
    assert r.json()["totalBoxes"] == 0 and remote.calls("classifier") == []
    [(blob_name, metadata)] = app.sql("SELECT blob_name, metadata FROM picture")
    assert app.blobs() == [blob_name]
    assert app.blobs(app.thumbnails_container) == [metadata["thumbnail"]]
