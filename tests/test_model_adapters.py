"""The Azure ML adapters and their HTTP client, called directly against the local model server:
what is sent, how answers are read, bounded concurrency, retries, timeouts and failures."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import io
import logging
import threading
import time
import uuid

import pytest
from cryptography.fernet import Fernet
from PIL import Image

from shared import settings
from shared.errors import ModelEndpointFailed, ModelEndpointTimeout
from shared.images import DecodedImage, decode
from shared.pipeline.adapters import get_adapter
from shared.pipeline.encryption import encrypt
from shared.pipeline.types import Detection, FractionBox, Guess, ModelSpec
from tests.support.model_server import Reply, box

KEY = "test-key-0f3e9a"
# The key that the endpoints rest encrypted under (NACHET_BLOB_PIPELINE_DECRYPTION_KEY).
ENDPOINT_KEY = Fernet.generate_key().decode()
# 20 squares on a grey background, each its own colour: a crop tells which box it is.
COLOURS = [(20 + 11 * i, 240 - 9 * i, (60 * i) % 256) for i in range(20)]
CELL, SIDE = 40, 24  # each square sits in a CELL x CELL cell, SIDE pixels wide


@pytest.fixture(autouse=True)
def env(monkeypatch):
    """Settings for calling models; no database or storage is touched here."""
    for key, value in {
        "NACHET_DB_URL": "postgresql://unused.invalid/nachet",
        "NACHET_AZURE_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true",
        "NACHET_MODEL_CONNECT_TIMEOUT_S": "2",
        "NACHET_MODEL_READ_TIMEOUT_S": "5",
        "NACHET_MODEL_MAX_IN_FLIGHT": "4",
        "NACHET_TEST_MODEL_KEY": KEY,
        "NACHET_BLOB_PIPELINE_DECRYPTION_KEY": ENDPOINT_KEY,
    }.items():
        monkeypatch.setenv(key, value)
    settings.reset()
    yield
    settings.reset()


def use(monkeypatch, **values: str) -> None:
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    settings.reset()


def model(url: str, kind: str = "azureml-classifier", **extra) -> ModelSpec:
    remote_detector = kind in ("azureml-seed-detector", "azureml-six-seeds")
    return ModelSpec(
        id=uuid.uuid4(), name=extra.pop("name", f"{kind}-model"), type=kind,
        task="object-detection" if remote_detector else "classification", version="3",
        endpoint_encrypted=encrypt(url, ENDPOINT_KEY), deployment=extra.pop("deployment", "deploy-7"),
        content_type="application/json" if remote_detector else "application/octet-stream",
        api_key_setting=extra.pop("api_key_setting", "NACHET_TEST_MODEL_KEY"), **extra,
    )


def squares_picture(fmt: str = "PNG") -> DecodedImage:
    img = Image.new("RGB", (CELL * 5, CELL * 4), (128, 128, 128))
    for i, colour in enumerate(COLOURS):
        x, y = CELL * (i % 5) + 8, CELL * (i // 5) + 8
        img.paste(colour, (x, y, x + SIDE, y + SIDE))
    out = io.BytesIO()
    img.save(out, format=fmt)
    return decode(out.getvalue(), max_pixels=10_000_000)


def square_detections(picture: DecodedImage, label: str = "seed") -> list[Detection]:
    out = []
    for i in range(len(COLOURS)):
        x, y = CELL * (i % 5) + 8, CELL * (i // 5) + 8
        fraction = FractionBox(x / picture.width, y / picture.height,
                               (x + SIDE) / picture.width, (y + SIDE) / picture.height)
        out.append(Detection(fraction, (Guess(label, 0.8),)))
    return out


def colour_guess(call) -> list[dict]:
    """A classifier that names the colour of the crop's centre."""
    crop = call.image().convert("RGB")
    colour = crop.getpixel((crop.width // 2, crop.height // 2))
    return [{"label": f"{COLOURS.index(colour):03d} Colour {COLOURS.index(colour)}", "score": 0.75},
            {"label": "Other", "score": 0.25}]


def test_detector_sends_the_protocol_and_reads_boxes(model_server):
    url = model_server.detector(boxes=[box(0.1, 0.2, 0.3, 0.4, score=0.93),
                                       box(0.5, 0.5, 1.0, 1.0, label="other", score=1)])
    picture = squares_picture()
    found = get_adapter("azureml-seed-detector")(model(url, "azureml-seed-detector"), picture, [])

    assert found == [Detection(FractionBox(0.1, 0.2, 0.3, 0.4), (Guess("seed", 0.93),)),
                     Detection(FractionBox(0.5, 0.5, 1.0, 1.0), (Guess("other", 1.0),))]
    [call] = model_server.calls("detector")
    assert call.headers["authorization"] == f"Bearer {KEY}"
    assert call.headers["azureml-model-deployment"] == "deploy-7"
    assert call.headers["content-type"] == "application/json"
    body = call.json()
    assert body["input_data"]["columns"] == ["image"] and body["input_data"]["index"] == [0]
    assert len(body["input_data"]["data"]) == 1
    # An upright file goes as it came, not re-encoded.
    assert base64.b64decode(body["input_data"]["data"][0]) == picture.upright_file


def test_six_seeds_reads_labelled_boxes_from_a_list(model_server):
    url = model_server.detector("six", boxes=[box(0.0, 0.0, 0.5, 0.5, label="Ambrosia trifida", score=0.6)],
                                wrap=True)
    found = get_adapter("azureml-six-seeds")(model(url, "azureml-six-seeds"), squares_picture(), [])
    assert found == [Detection(FractionBox(0.0, 0.0, 0.5, 0.5), (Guess("Ambrosia trifida", 0.6),))]


def test_detector_gets_the_upright_picture_of_a_rotated_jpeg(model_server):
    img = Image.new("RGB", (300, 100), (200, 10, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to show
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif)
    picture = decode(out.getvalue(), max_pixels=10_000_000)
    url = model_server.detector(boxes=[])

    get_adapter("azureml-seed-detector")(model(url, "azureml-seed-detector"), picture, [])
    sent = model_server.calls("detector")[0].image()
    assert (sent.format, sent.size) == ("JPEG", (100, 300))


@pytest.mark.parametrize("answer, words", [
    ({"boxes": "none"}, ["boxes"]),
    ([], ["boxes"]),
    ({"boxes": [{"label": "seed", "score": 0.5}]}, ["corners"]),
    ({"boxes": [box(12, 40, 200, 300)]}, ["fractions"]),  # pixels, not fractions
    ({"boxes": [box(0.5, 0.1, 0.2, 0.3)]}, ["bottom corner"]),
    ({"boxes": [box(0.1, 0.1, 0.2, 0.2, score=1.5)]}, ["score"]),
    ({"boxes": [box(0.1, 0.1, 0.2, 0.2, label="")]}, ["label"]),
    ({"boxes": [{**box(0.1, 0.1, 0.2, 0.2), "box": {"topX": 0.1}}]}, ["fractions"]),
])
def test_detector_answer_that_is_not_boxes_is_502(model_server, answer, words):
    url = model_server.endpoint("detector", lambda call: answer)
    detector = model(url, "azureml-seed-detector", name="seed-detector-9")
    with pytest.raises(ModelEndpointFailed) as caught:
        get_adapter("azureml-seed-detector")(detector, squares_picture(), [])
    assert caught.value.status == 502
    for word in ["seed-detector-9", *words]:
        assert word in caught.value.message


def test_garbage_that_is_not_json_is_502(model_server):
    url = model_server.detector(boxes=[], garbage=b"<html>oops</html>")
    with pytest.raises(ModelEndpointFailed, match="seed-detector-9 answered something that is not JSON"):
        get_adapter("azureml-seed-detector")(
            model(url, "azureml-seed-detector", name="seed-detector-9"), squares_picture(), [])


def test_classifier_labels_each_crop_in_its_own_format(model_server):
    url = model_server.classifier(answer=colour_guess)
    picture = squares_picture()
    detections = square_detections(picture)

    found = get_adapter("azureml-classifier")(model(url), picture, detections)

    assert [d.box for d in found] == [d.box for d in detections]
    assert [d.guesses for d in found] == [
        (Guess(f"{i:03d} Colour {i}", 0.75), Guess("Other", 0.25)) for i in range(20)]
    calls = model_server.calls("classifier")
    assert len(calls) == 20
    for call in calls:
        assert call.headers["authorization"] == f"Bearer {KEY}"
        assert call.headers["azureml-model-deployment"] == "deploy-7"
        assert call.headers["content-type"] == "application/octet-stream"
        crop = Image.open(io.BytesIO(base64.b64decode(call.body, validate=True)))  # base64 text
        assert (crop.format, crop.size) == ("PNG", (SIDE, SIDE))


def test_classifier_crops_a_jpeg_as_jpeg(model_server):
    url = model_server.classifier()
    picture = squares_picture("JPEG")
    get_adapter("azureml-classifier")(model(url), picture, square_detections(picture)[:2])
    assert {call.image().format for call in model_server.calls("classifier")} == {"JPEG"}


def test_classifier_calls_run_side_by_side_within_the_limit(model_server):
    url = model_server.classifier(delay_s=0.1)
    picture = squares_picture()
    get_adapter("azureml-classifier")(model(url), picture, square_detections(picture))
    assert len(model_server.calls("classifier")) == 20
    assert 1 < model_server.max_in_flight("classifier") <= 4


def test_a_limit_of_one_sends_one_call_at_a_time(model_server, monkeypatch):
    use(monkeypatch, NACHET_MODEL_MAX_IN_FLIGHT="1")
    url = model_server.classifier(delay_s=0.02)
    picture = squares_picture()
    get_adapter("azureml-classifier")(model(url), picture, square_detections(picture)[:6])
    assert model_server.max_in_flight("classifier") == 1


def test_filter_classifies_only_the_listed_labels(model_server):
    url = model_server.classifier(answer=colour_guess)
    picture = squares_picture()
    detections = [Detection(d.box, (Guess("Brassica" if i % 3 == 0 else "Ambrosia", 0.8),))
                  for i, d in enumerate(square_detections(picture))]
    spec = model(url, "azureml-classifier-filter", labels=("brassica", "Sinapis"))

    found = get_adapter("azureml-classifier-filter")(spec, picture, detections)

    for i, (before, after) in enumerate(zip(detections, found, strict=True)):
        assert after.box == before.box
        if i % 3 == 0:
            assert after.guesses[0] == Guess(f"{i:03d} Colour {i}", 0.75)
        else:
            assert after.guesses == before.guesses
    assert len(model_server.calls("classifier")) == 7


def test_filter_matches_labels_by_species_whatever_their_catalogue_number(model_server):
    url = model_server.classifier(answer=lambda call: [{"label": "013 Ambrosia trifida", "score": 0.7}])
    picture = squares_picture()
    labels = ["012 Ambrosia artemisiifolia", "Ambrosia psilostachya", "020 Brassica napus", "seed"]
    detections = [Detection(d.box, (Guess(label, 0.8),))
                  for d, label in zip(square_detections(picture), labels, strict=False)]
    # The current backend's filter lists labels as its ensemble's first model answers them.
    spec = model(url, "azureml-classifier-filter",
                 labels=("012 Ambrosia artemisiifolia", "014 ambrosia PSILOSTACHYA"))

    found = get_adapter("azureml-classifier-filter")(spec, picture, detections)

    assert [d.guesses[0].label for d in found] == [
        "013 Ambrosia trifida", "013 Ambrosia trifida", "020 Brassica napus", "seed"]
    assert len(model_server.calls("classifier")) == 2


def test_no_detection_means_no_call(model_server):
    url = model_server.classifier()
    assert get_adapter("azureml-classifier")(model(url), squares_picture(), []) == []
    assert model_server.calls("classifier") == []


@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_retried_on_busy_statuses_then_success(model_server, status):
    url = model_server.classifier(fail_first=2, fail_status=status)
    picture = squares_picture()
    found = get_adapter("azureml-classifier")(model(url), picture, square_detections(picture)[:1])
    assert found[0].guesses == (Guess("Ambrosia artemisiifolia", 0.9),)
    assert len(model_server.calls("classifier")) == 3


def test_three_attempts_at_most_then_502(model_server):
    url = model_server.classifier(fail_first=5, fail_status=503, name="swin")
    picture = squares_picture()
    with pytest.raises(ModelEndpointFailed, match="model swin answered HTTP 503"):
        get_adapter("azureml-classifier")(model(url, name="swin"), picture, square_detections(picture)[:1])
    assert len(model_server.calls("swin")) == 3


def test_other_error_statuses_are_not_retried(model_server):
    url = model_server.classifier(fail_first=1, fail_status=500)
    picture = squares_picture()
    with pytest.raises(ModelEndpointFailed, match="HTTP 500"):
        get_adapter("azureml-classifier")(model(url), picture, square_detections(picture)[:1])
    assert len(model_server.calls("classifier")) == 1


def test_retry_after_is_honoured(model_server):
    url = model_server.classifier(fail_first=1, fail_status=429, retry_after="1")
    picture = squares_picture()
    get_adapter("azureml-classifier")(model(url), picture, square_detections(picture)[:1])
    first, second = model_server.calls("classifier")
    # The first retry would otherwise go at once (urllib3's backoff starts at zero).
    assert second.received_at - first.received_at >= 0.95


def test_hanging_endpoint_is_504_and_not_retried(model_server, monkeypatch):
    use(monkeypatch, NACHET_MODEL_READ_TIMEOUT_S="0.3")
    url = model_server.classifier(hang=True, name="swin-slow")
    picture = squares_picture()
    with pytest.raises(ModelEndpointTimeout) as caught:
        get_adapter("azureml-classifier")(model(url, name="swin-slow"), picture,
                                          square_detections(picture)[:1])
    assert caught.value.status == 504 and "swin-slow" in caught.value.message
    assert len(model_server.calls("swin-slow")) == 1


def test_a_call_waits_for_a_free_slot_a_bounded_time(model_server, monkeypatch):
    # A hung endpoint holds its slots until the read timeout: the calls queued behind them
    # answer 504 rather than wait for every call ahead of them in turn.
    from shared.pipeline import endpoint_client

    use(monkeypatch, NACHET_MODEL_MAX_IN_FLIGHT="1")
    url = model_server.classifier(hang=True, name="swin-hung")
    spec, picture = model(url, name="swin-hung"), squares_picture()
    classify = get_adapter("azureml-classifier")
    ahead = threading.Thread(target=lambda: suppress_timeout(classify, spec, picture))
    ahead.start()
    try:
        deadline = time.monotonic() + 30  # a deadlock detector, not a timing
        while not model_server.calls("swin-hung") and time.monotonic() < deadline:
            time.sleep(0.01)
        monkeypatch.setattr(endpoint_client, "_slot_wait_s", lambda: 0.2)  # instead of the read timeout
        with pytest.raises(ModelEndpointTimeout) as caught:
            classify(spec, picture, square_detections(picture)[:1])
        assert caught.value.status == 504 and "swin-hung is busy" in caught.value.message
        assert len(model_server.calls("swin-hung")) == 1  # it never reached the endpoint
    finally:
        ahead.join(30)


def suppress_timeout(classify, spec: ModelSpec, picture: DecodedImage) -> None:
    with contextlib.suppress(ModelEndpointTimeout):
        classify(spec, picture, square_detections(picture)[:1])


def test_one_crop_failing_fails_the_call(model_server):
    url = model_server.classifier(fail_if=lambda call: call.number == 7, fail_status=500, name="swin")
    picture = squares_picture()
    with pytest.raises(ModelEndpointFailed) as caught:
        get_adapter("azureml-classifier")(model(url, name="swin"), picture, square_detections(picture))
    assert caught.value.status == 502 and "model swin" in caught.value.message


def test_unreachable_endpoint_is_502(model_server):
    url = model_server.classifier()
    model_server.stop()  # nothing listens on that port any more
    picture = squares_picture()
    with pytest.raises(ModelEndpointFailed, match="could not be reached"):
        get_adapter("azureml-classifier")(model(url), picture, square_detections(picture)[:1])


@pytest.mark.parametrize("answer", [[], {"label": "x", "score": 0.5}, [{"label": "x"}],
                                    [{"label": "x", "score": "high"}], [{"score": 0.5}]])
def test_classifier_answer_that_is_not_guesses_is_502(model_server, answer):
    url = model_server.classifier(answer=lambda call: answer)
    picture = squares_picture()
    with pytest.raises(ModelEndpointFailed, match="model swin answered"):
        get_adapter("azureml-classifier")(model(url, name="swin"), picture, square_detections(picture)[:3])


def test_missing_key_setting_is_502_naming_it(model_server, monkeypatch):
    monkeypatch.delenv("NACHET_TEST_MODEL_KEY")
    url = model_server.classifier()
    picture = squares_picture()
    with pytest.raises(ModelEndpointFailed, match="NACHET_TEST_MODEL_KEY"):
        get_adapter("azureml-classifier")(model(url), picture, square_detections(picture)[:1])
    assert model_server.calls("classifier") == []


def test_keys_endpoints_and_image_bytes_stay_out_of_the_log(model_server, caplog):
    url = model_server.classifier(answer=lambda call: Reply(401, b'{"error": "bad key"}'))
    picture = squares_picture()
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ModelEndpointFailed, match="HTTP 401") as caught:
        get_adapter("azureml-classifier")(model(url), picture, square_detections(picture)[:1])
    sent = model_server.calls("classifier")[0].body.decode()
    assert caplog.records, "the failure is logged"
    assert KEY not in caplog.text and sent[:40] not in caplog.text
    assert model_server.base_url not in caplog.text and model_server.base_url not in caught.value.message


@pytest.mark.parametrize("what", ["endpoint", "key"])
def test_an_endpoint_or_key_that_does_not_decrypt_is_502_naming_the_model_and_calls_nothing(
        model_server, monkeypatch, what):
    url = model_server.classifier()
    spec = model(url, name="swin", api_key_setting=None, api_key_encrypted=encrypt(KEY, ENDPOINT_KEY))
    use(monkeypatch, NACHET_BLOB_PIPELINE_DECRYPTION_KEY=Fernet.generate_key().decode())
    if what == "key":  # the endpoint under the new key, the key still under the old one
        spec = dataclasses.replace(spec, endpoint_encrypted=encrypt(
            url, settings.get_settings().blob_pipeline_decryption_key))
    picture = squares_picture()
    with pytest.raises(ModelEndpointFailed, match=f"model swin: its encrypted {what} does not decrypt"):
        get_adapter("azureml-classifier")(spec, picture, square_detections(picture)[:1])
    assert model_server.calls("classifier") == []


def test_encrypted_endpoint_and_key_are_decrypted_for_the_call(model_server):
    url = model_server.classifier()
    spec = model(url, name="swin", api_key_setting=None, api_key_encrypted=encrypt(KEY, ENDPOINT_KEY))
    assert url not in repr(spec)
    picture = squares_picture()
    get_adapter("azureml-classifier")(spec, picture, square_detections(picture)[:1])
    assert model_server.calls("classifier")[0].headers["authorization"] == f"Bearer {KEY}"
