"""The process_picture blob trigger, run by the local host's runner over Azurite: thumbnails,
the row's facts and checks, idempotence, bad pictures and rows that are not there (yet)."""

from __future__ import annotations

import hashlib
import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest
from azure.functions.blob import InputStream
from PIL import ImageStat

from devhost.blob_triggers import BlobTriggerRunner
from devhost.invocation import Context, host_span
from tests.conftest import ROOT
from tests.support import images as samples
from tests.support.triggers import container, default_folder, insert_row, put_picture, row, thumbnail


@pytest.fixture
def runner(app):
    r = BlobTriggerRunner(ROOT, poll_interval_s=0.2)
    yield r
    r.stop()


@pytest.fixture
def owner(app, client):
    return default_folder(app, client)


def process(runner: BlobTriggerRunner, blob_name: str) -> None:
    """One poll pass, which must handle `blob_name` successfully."""
    done = [(i.blob.split("/", 1)[1], i.outcome) for i in runner.run_once()]
    assert (blob_name, "done") in done, done


def delivery(app, blob_name: str) -> InputStream:
    """The blob as the Functions host hands it to the function."""
    data = container(app, app.pictures_container).download_blob(blob_name).readall()
    return InputStream(data=data, name=f"{app.pictures_container}/{blob_name}", length=len(data))


def mean_rgb(img) -> list[float]:
    return ImageStat.Stat(img.convert("RGB")).mean


def test_new_picture_gets_thumbnail_facts_and_checks(app, runner, owner):
    data = samples.picture(800, 600)
    blob = put_picture(app, owner, data)
    process(runner, blob)

    thumb = samples.decode(thumbnail(app, blob))
    assert thumb.format == "WEBP" and thumb.size == (256, 192)
    stored = row(app, blob)
    assert (stored.content_type, stored.width, stored.height) == ("image/png", 800, 600)
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert stored.metadata["thumbnail"] == blob.rsplit(".", 1)[0] + ".webp"
    assert stored.metadata["checks"] == {"status": "ok", "reason": None, "format": "png"}
    # The trigger never writes into the container it watches.
    assert app.blobs() == [blob]
    assert app.blobs(app.thumbnails_container) == [stored.metadata["thumbnail"]]


def test_other_metadata_keys_are_kept(app, runner, owner):
    blob = put_picture(app, owner, samples.picture())
    app.sql("""UPDATE picture SET metadata = '{"zoom_level": 2, "nb_seeds": 5}' WHERE blob_name = %s""",
            [blob])
    process(runner, blob)
    metadata = row(app, blob).metadata
    assert metadata["zoom_level"] == 2 and metadata["nb_seeds"] == 5 and metadata["thumbnail"]


def test_processing_again_gives_the_same_row_and_one_thumbnail(app, runner, owner):
    import process_picture

    blob = put_picture(app, owner, samples.picture(300, 200, fmt="JPEG"), ext="jpg",
                       content_type="image/jpeg")
    process(runner, blob)
    first, first_thumb = row(app, blob), thumbnail(app, blob)
    assert runner.run_once() == []  # the receipt says it is done

    # The same blob delivered once more (the Functions host may, after a crash).
    stream = delivery(app, blob)
    process_picture.main(stream, Context("process_picture", str(ROOT / "process_picture"), host_span()))
    assert row(app, blob) == first
    assert thumbnail(app, blob) == first_thumb
    assert len(app.blobs(app.thumbnails_container)) == 1


def test_exif_orientation_is_applied(app, runner, owner):
    # Stored 600x300 with red top rows, EXIF turning it a quarter clockwise.
    blob = put_picture(app, owner, samples.exif_rotated_jpeg(600, 300), ext="jpg", content_type="image/jpeg")
    process(runner, blob)
    stored = row(app, blob)
    assert (stored.width, stored.height) == (300, 600)
    thumb = samples.decode(thumbnail(app, blob))
    assert thumb.size == (128, 256)
    right, left = thumb.crop((118, 0, 128, 256)), thumb.crop((0, 0, 40, 256))
    assert mean_rgb(right)[0] > 150 > mean_rgb(right)[1]  # the red rows are now on the right
    assert mean_rgb(left)[1] > 150 > mean_rgb(left)[0]


@pytest.mark.parametrize(("make", "ext", "mime", "colour"), [
    (samples.cmyk_jpeg, "jpg", "image/jpeg", (255, 0, 0)),
    (samples.tiff16_rgb, "tiff", "image/tiff", (218, 31, 31)),
    (samples.tiff16_grey, "tiff", "image/tiff", (156, 156, 156)),
    (samples.animated_gif, "gif", "image/gif", samples.RED),  # the first frame
])
def test_unusual_pictures_get_true_colour_thumbnails(app, runner, owner, make, ext, mime, colour):
    blob = put_picture(app, owner, make(), ext=ext, content_type=mime)
    process(runner, blob)
    assert row(app, blob).metadata["checks"]["status"] == "ok"
    got = mean_rgb(samples.decode(thumbnail(app, blob)))
    assert all(abs(g - c) < 20 for g, c in zip(got, colour, strict=True)), (got, colour)


def test_one_pixel_picture(app, runner, owner):
    blob = put_picture(app, owner, samples.picture(1, 1))
    process(runner, blob)
    assert samples.decode(thumbnail(app, blob)).size == (1, 1)
    assert row(app, blob).metadata["checks"]["status"] == "ok"


@pytest.mark.parametrize(("data", "reason"), [
    (samples.truncated(samples.picture(300, 200)), "truncated"),
    (b"", "empty"),
    (samples.HTML, "HTML or SVG"),
    (samples.bomb_png(), "pixels"),
])
def test_bad_picture_is_marked_failed_without_thumbnail(app, runner, owner, data, reason):
    blob = put_picture(app, owner, data)
    process(runner, blob)
    stored = row(app, blob)
    checks = stored.metadata["checks"]
    assert checks["status"] == "failed" and reason.lower() in checks["reason"].lower(), checks
    assert stored.metadata["thumbnail"] is None
    assert (stored.width, stored.height) == (1, 1)  # unknown: left as they were
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    assert app.blobs(app.thumbnails_container) == []


def test_picture_breaking_a_rule_that_decodes_still_gets_its_thumbnail(app, runner, owner):
    blob = put_picture(app, owner, samples.picture(2000, 500))
    process(runner, blob)
    stored = row(app, blob)
    assert stored.metadata["checks"]["status"] == "failed"
    assert "NACHET_VALID_DIMENSION" in stored.metadata["checks"]["reason"]
    assert (stored.width, stored.height) == (2000, 500)
    assert samples.decode(thumbnail(app, blob)).size == (256, 64)


def test_wrong_content_type_is_corrected_and_reported(app, runner, owner):
    blob = put_picture(app, owner, samples.picture(), ext="jpg", content_type="image/jpeg")
    process(runner, blob)
    stored = row(app, blob)
    assert stored.content_type == "image/png"
    assert stored.metadata["checks"]["format"] == "png"
    assert "header mismatch" in stored.metadata["checks"]["reason"]


def written_ago(monkeypatch, seconds: float) -> None:
    """Make every blob's last-modified time `seconds` ago, as the trigger reads it."""
    from shared import storage

    monkeypatch.setattr(storage, "last_modified", lambda *_: datetime.now(UTC) - timedelta(seconds=seconds))


def test_blob_without_row_is_ignored_after_the_grace_period(app, runner, owner, monkeypatch, caplog):
    from shared.services.picture_processing import ROW_GRACE_S

    blob = put_picture(app, owner, samples.picture(), row=False)
    written_ago(monkeypatch, ROW_GRACE_S + 1)
    with caplog.at_level(logging.WARNING, logger="shared.services.picture_processing"):
        process(runner, blob)
    assert any("no picture row" in r.getMessage() and blob in r.getMessage() for r in caplog.records)
    assert app.blobs(app.thumbnails_container) == []
    assert runner.run_once() == []  # handled once: the repair command removes the orphan


def test_row_committed_during_the_grace_period_is_waited_for(app, runner, owner, monkeypatch):
    from shared import storage

    # The routes upload the blob first and commit the row after: the trigger may come between.
    blob = put_picture(app, owner, samples.picture(), row=False)
    row_missed = threading.Event()
    last_modified = storage.last_modified

    def noting_the_miss(*args):
        row_missed.set()  # the trigger found no row and looks at the blob's age
        return last_modified(*args)

    monkeypatch.setattr(storage, "last_modified", noting_the_miss)
    passes: list = []
    thread = threading.Thread(target=lambda: passes.append(runner.run_once()))
    thread.start()
    assert row_missed.wait(timeout=30)
    insert_row(app, owner[1], blob)
    thread.join(timeout=30)
    assert [(i.outcome, i.attempt) for i in passes[0]] == [("done", 1)]
    assert row(app, blob).metadata["checks"]["status"] == "ok"
    assert thumbnail(app, blob)


def test_the_grace_period_outlasts_the_requests_that_upload_pictures():
    # /api/inf uploads the blob, then runs its models until its row commits: as long as
    # host.json's functionTimeout lets it (5 minutes; the grace was 3).
    import json

    from shared.services.picture_processing import ROW_GRACE_S

    hours, minutes, seconds = json.loads((ROOT / "host.json").read_text())["functionTimeout"].split(":")
    assert int(hours) * 3600 + int(minutes) * 60 + int(seconds) < ROW_GRACE_S


def test_a_row_later_than_one_invocation_waits_is_waited_for_by_the_next_try(app, owner, monkeypatch):
    from shared.services import picture_processing

    monkeypatch.setattr(picture_processing, "_ROW_WAIT_S", 0.5)  # instead of 90 s
    blob = put_picture(app, owner, samples.picture(), row=False)
    written_ago(monkeypatch, 200)  # past the grace of old, within /api/inf's time to commit
    now = [datetime.now(UTC)]
    runner = BlobTriggerRunner(ROOT, clock=lambda: now[0])
    try:
        [first] = runner.run_once()
        assert (first.outcome, first.attempt) == ("failed", 1) and "no picture row yet" in first.error
        insert_row(app, owner[1], blob)
        now[0] += timedelta(seconds=16)  # the local host's first retry delay
        [second] = runner.run_once()
        assert (second.outcome, second.attempt) == ("done", 2)
    finally:
        runner.stop()
    assert row(app, blob).metadata["checks"]["status"] == "ok"
    assert thumbnail(app, blob)


def test_blob_deleted_before_its_row_committed_is_ignored(app, owner):
    from shared.services.picture_processing import process_picture

    blob = put_picture(app, owner, samples.picture(), row=False)
    data = delivery(app, blob).read()
    container(app, app.pictures_container).delete_blob(blob)
    assert process_picture(f"{app.pictures_container}/{blob}", data) is False


def test_blob_that_is_no_picture_name_is_ignored(app, runner, caplog):
    container(app, app.pictures_container).upload_blob("someone/else/readme.txt", b"hello")
    with caplog.at_level(logging.WARNING, logger="shared.services.picture_processing"):
        [invocation] = runner.run_once()
    assert invocation.outcome == "done"
    assert any("ignored" in r.getMessage() for r in caplog.records)


def test_picture_deleted_while_processed_leaves_no_thumbnail(app, runner, owner, monkeypatch):
    from shared.services import image_checks, picture_processing

    blob = put_picture(app, owner, samples.picture())

    def inspect_then_delete(data, **kwargs):
        app.sql("DELETE FROM picture WHERE blob_name = %s", [blob])
        return image_checks.inspect_image(data, **kwargs)

    monkeypatch.setattr(picture_processing, "inspect_image", inspect_then_delete)
    process(runner, blob)
    assert app.blobs(app.thumbnails_container) == []


def test_picture_from_inference_route_gets_thumbnail_and_checks_from_the_route(app, client, runner, owner,
                                                                             monkeypatch):
    """/inf makes the thumbnail and the checks from the pixels it decoded, the same as the
    trigger makes them from the blob; the trigger then leaves that blob as it is, without
    decoding it again."""
    from shared.services import picture_processing

    user = client.user_id()
    data = samples.picture(640, 480)
    r = client.post("inf", {"image": samples.data_url(data), "imageDims": [640, 480],
                            "folder_name": "General", "container_name": user, "user_id": user})
    assert r.status_code == 200, r.text
    [(blob,)] = app.sql("SELECT blob_name FROM picture WHERE id = %s", [r.json()["picture_id"]])
    stored = row(app, blob)
    assert stored.metadata["checks"] == {"status": "ok", "reason": None, "format": "png"}
    assert stored.metadata["thumbnail"] == blob.rsplit(".", 1)[0] + ".webp"
    assert samples.decode(thumbnail(app, blob)).size == (256, 192)

    inspected: list[bytes] = []
    real_inspect = picture_processing.inspect_image

    def counted(data: bytes, **kwargs):
        inspected.append(data)
        return real_inspect(data, **kwargs)

    monkeypatch.setattr(picture_processing, "inspect_image", counted)
    same = put_picture(app, owner, data)  # the same bytes, left to the trigger
    done = {(i.blob.split("/", 1)[1], i.outcome) for i in runner.run_once()}
    assert done == {(blob, "done"), (same, "done")}
    assert inspected == [data]  # the trigger's one decode is of the other blob
    assert row(app, blob) == stored
    assert thumbnail(app, same) == thumbnail(app, blob)
    assert row(app, same).metadata["checks"] == stored.metadata["checks"]


def test_picture_from_batch_upload_gets_thumbnail_and_metadata(app, client, runner):
    user = client.user_id()
    r = client.post("new-batch-import", {"container_name": user, "user_id": user, "nb_pictures": 1,
                                         "folder_name": ""})
    assert r.status_code == 200, r.text
    jpeg = samples.exif_rotated_jpeg(400, 200)
    r = client.post("upload-picture", {
        "container_name": user, "user_id": user, "session_id": r.json()["session_id"],
        "seed_name": "Ambrosia trifida", "image": samples.data_url(jpeg, "image/jpeg"),
        "zoom_level": 1.5, "nb_seeds": 3})
    assert r.status_code == 200, r.text
    [(blob,)] = app.sql("SELECT blob_name FROM picture")
    process(runner, blob)
    stored = row(app, blob)
    assert stored.metadata["checks"]["status"] == "ok"
    assert (stored.metadata["zoom_level"], stored.metadata["nb_seeds"]) == (1.5, 3)
    assert (stored.width, stored.height) == (200, 400)
    assert samples.decode(thumbnail(app, blob)).size == (128, 256)
