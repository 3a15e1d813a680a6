"""Faults during a stream of requests over a realistic mix of routes: the database stopped
and started, the storage stopped and started, a model endpoint that hangs, the host killed
during an inference and started again.

In each, every request answers within a generous bound with 200 or the status that names
the fault (503 dependency down, 504 model timed out) in the contract's error shape, never
a 500; the app recovers without a restart (except the killed host); and then
`manage.py repair` finds nothing to repair, or repairs what a crash left, with no verified
inference or picture_seed row lost and every picture row matching its blob."""

from __future__ import annotations

import dataclasses
import os
import threading
import time
import uuid
from collections.abc import Callable

import pytest
import requests

from shared import settings
from tests.conftest import App, Client, assert_error
from tests.support.faults import (
    HostProcess,
    OwnAzurite,
    RequestStream,
    Verified,
    assert_clear,
    every_route_answered,
    own_postgres,
    since,
    stop_postgres,
    verified_ids,
)
from tests.support.feedback import DETECTIONS
from tests.support.folders import assert_consistent
from tests.support.images import data_url
from tests.support.lost_commit import LostCommit
from tests.support.synthetic_seeds import make_seed_picture

ROUTES = RequestStream.ROUTES
# Routes that reach the database before anything else (inf too: it checks who is asking).
DATABASE_ROUTES = ("get-user-id", "get-directories", "create-dir", "inf")
LIGHT_ROUTES = ("get-user-id", "get-directories", "create-dir")


@pytest.fixture(scope="module")
def seed_picture() -> str:
    """A small synthetic seed picture that the built-in detector finds seeds in."""
    image, _ = make_seed_picture(width=640, height=480, n_seeds=4, seed=11)
    return data_url(image)


def users(app: App, count: int) -> list[Client]:
    return [Client(app.base_url, f"stream-{uuid.uuid4().hex[:8]}@example.org") for _ in range(count)]


def repaired(app: App, run_command) -> str:
    """Run `manage.py repair` (no grace period: nothing is in flight now); it must end with
    nothing left to report. Returns what it printed."""
    code, out, err = run_command("repair", "--grace-minutes", "0")
    assert code == 0, (out, err)
    assert_consistent(app)
    return out


def assert_nothing_lost(app: App, before: Verified, stream: RequestStream) -> None:
    """Verified rows from before the fault are all there, unchanged, and so is every
    inference whose confirmation answered 200 during it."""
    assert before.inferences, "no verified inference before the fault: the check would be empty"
    assert before.kept_in(Verified.read(app))
    assert set(stream.confirmed) <= verified_ids(app)


def ride_out(app: App, run_command, picture: str, *, stop: Callable[[], object],
             start: Callable[[], object], while_down: list[tuple[int, tuple[str, ...], str]]) -> None:
    """A stream of requests through an outage: a full round of 200s, then `stop` a dependency
    and wait for each (status, routes, what) answer while it is down, `start` it again and
    wait for every route answering 200; then every answer was clear, nothing verified is
    lost and `manage.py repair` finds nothing left."""
    with RequestStream(users(app, 3), picture) as stream:
        stream.wait_for(lambda o: every_route_answered(o, 200, ROUTES), "a full round of 200s")
        before = Verified.read(app)
        stop()
        down = time.monotonic()
        for status, routes, what in while_down:
            stream.wait_for(lambda o, s=status, r=routes: every_route_answered(since(o, down), s, r), what)
        start()
        up = time.monotonic()
        stream.wait_for(lambda o: every_route_answered(since(o, up), 200, ROUTES),
                        "every route answering 200 again")
    assert_clear(stream.outcomes, {200, 503})
    repaired(app, run_command)
    assert_nothing_lost(app, before, stream)


def test_database_stopped_and_started_during_a_stream(app, scratch, monkeypatch, run_command,
                                                      seed_picture):
    with own_postgres(scratch / f"pg-{uuid.uuid4().hex[:8]}") as server:
        monkeypatch.setenv("NACHET_DB_URL", server.get_uri())
        settings.reset()
        own = dataclasses.replace(app, db_url=server.get_uri(), direct_url=server.get_uri())
        ride_out(own, run_command, seed_picture, stop=lambda: stop_postgres(server),
                 start=server.ensure_postgres_running,
                 while_down=[(503, DATABASE_ROUTES, "a 503 from each route while the database is down")])
        settings.reset()  # the pool lets go of this server before it is removed


def test_storage_stopped_and_started_during_a_stream(app, scratch, monkeypatch, run_command,
                                                     seed_picture):
    azurite = OwnAzurite(scratch / f"azurite-{uuid.uuid4().hex[:8]}")
    try:
        for name in ("NACHET_AZURE_STORAGE_CONNECTION_STRING", "AzureWebJobsStorage"):
            monkeypatch.setenv(name, azurite.connection_string)
        settings.reset()
        own = dataclasses.replace(app, storage=azurite.connection_string)
        ride_out(own, run_command, seed_picture, stop=azurite.stop, start=azurite.start, while_down=[
            (503, ("inf",), "a 503 from inf while the storage is down"),
            # What needs no storage goes on answering meanwhile.
            (200, LIGHT_ROUTES, "the light routes answering 200 while the storage is down"),
        ])
    finally:
        settings.reset()
        azurite.close()


def test_a_hanging_model_endpoint_is_a_504_and_nothing_waits_on_it(app, remote, run_command,
                                                                    seed_picture):
    remote.detector(boxes=DETECTIONS)
    remote.classifier()
    with RequestStream(users(app, 3), seed_picture) as stream:
        stream.wait_for(lambda o: every_route_answered(o, 200, ROUTES), "a full round of 200s")
        before = Verified.read(app)
        remote.detector(boxes=DETECTIONS, hang=True)
        hung = time.monotonic()
        stream.wait_for(lambda o: every_route_answered(since(o, hung), 504, ("inf",)),
                        "a 504 from inf while the detector hangs")
        stream.wait_for(lambda o: every_route_answered(since(o, hung), 200, LIGHT_ROUTES),
                        "the light routes answering 200 while the detector hangs")
        remote.detector(boxes=DETECTIONS)
        back = time.monotonic()
        stream.wait_for(lambda o: every_route_answered(since(o, back), 200, ROUTES),
                        "every route answering 200 again")
    assert_clear(stream.outcomes, {200, 504})
    timed_out = [o for o in stream.outcomes if o.status == 504]
    assert all("detector" in o.body[0] for o in timed_out), timed_out[:3]
    assert "deleted 0 blob(s)" in repaired(app, run_command)
    assert_nothing_lost(app, before, stream)


def test_host_killed_during_an_inference_and_started_again(app, remote, scratch, run_command,
                                                           seed_picture):

    remote.detector(boxes=DETECTIONS)
    remote.classifier()
    host = HostProcess(dict(os.environ), scratch / f"host-{uuid.uuid4().hex[:8]}.log")
    host.start()
    try:
        served = dataclasses.replace(app, base_url=host.base_url)
        with RequestStream(users(served, 2), seed_picture) as stream:
            stream.wait_for(lambda o: every_route_answered(o, 200, ROUTES), "a full round of 200s")
        assert_clear(stream.outcomes, {200})
        before = Verified.read(app)
        blobs_before = set(app.blobs())

        # An inference whose picture is uploaded while the classifier holds its crops (it is
        # stored once they are sent): the host dies after the blob is written and before its
        # rows are.
        remote.classifier(hang=True)
        analyst = users(served, 1)[0]
        analyst_id = analyst.user_id()
        failures: list[Exception] = []

        def infer() -> None:
            try:
                analyst.post("inf", {"image": seed_picture, "imageDims": [640, 480],
                                     "container_name": analyst_id, "user_id": analyst_id}, timeout=60)
            except requests.RequestException as exc:
                failures.append(exc)

        in_flight = threading.Thread(target=infer)
        in_flight.start()
        deadline = time.monotonic() + 60
        while not (remote.calls("classifier") and set(app.blobs()) - blobs_before):
            assert time.monotonic() < deadline, "the inference never reached the classifier with its blob"
            time.sleep(0.05)
        host.kill()
        in_flight.join(timeout=30)
        assert len(failures) == 1 and isinstance(failures[0], requests.ConnectionError), failures
        [orphan] = set(app.blobs()) - blobs_before
        assert not app.sql("SELECT 1 FROM picture WHERE blob_name = %s", [orphan])

        remote.classifier()
        host.start()
        with RequestStream(users(served, 2), seed_picture) as after:
            after.wait_for(lambda o: every_route_answered(o, 200, ROUTES), "a full round of 200s")
        assert_clear(after.outcomes, {200})
    finally:
        host.close()
    out = repaired(app, run_command)
    assert f"deleted blob without a row: {app.pictures_container}/{orphan}" in out, out
    assert orphan not in app.blobs()
    assert_nothing_lost(app, before, stream)


def test_a_container_gone_under_the_app_is_made_again(app, client, seed_picture):
    """Storage that loses the pictures container (deleted by an operator; an emulator killed
    before it saved) must not turn every later upload into a 404 until a restart."""
    from azure.storage.blob import BlobServiceClient

    user_id = client.user_id()
    body = {"image": seed_picture, "imageDims": [640, 480], "container_name": user_id,
            "user_id": user_id}
    assert client.post("inf", body).status_code == 200
    BlobServiceClient.from_connection_string(app.storage).delete_container(app.pictures_container)
    r = client.post("inf", body)
    assert r.status_code == 200, r.text
    [(blob,)] = app.sql("SELECT p.blob_name FROM picture p JOIN inference i ON i.picture_id = p.id"
                        " WHERE i.id = %s", [r.json()["inference_id"]])
    assert app.blobs() == [blob]


def test_a_commit_whose_answer_is_lost_keeps_its_picture_blob(app, client, monkeypatch, run_command,
                                                              seed_picture):
    """The database commits an inference's rows and the connection drops before the app
    hears it: the app answers 503, and must not delete the blob that the committed row names
    (a row without its blob is what repair cannot mend)."""
    user_id = client.user_id()
    with LostCommit(app.direct_url) as proxy:
        monkeypatch.setenv("NACHET_DB_URL", proxy.url)
        settings.reset()
        proxy.arm()
        r = client.post("inf", {"image": seed_picture, "imageDims": [640, 480],
                                "container_name": user_id, "user_id": user_id})
        assert proxy.cut.is_set()
        assert_error(r, 503, "database")
        monkeypatch.setenv("NACHET_DB_URL", app.db_url)
        settings.reset()
    assert app.sql("SELECT count(*) FROM picture") == [(1,)]  # the commit was done
    assert_consistent(app)
    repaired(app, run_command)


def test_no_connection_for_the_rows_deletes_the_picture_blob(app, client, remote, monkeypatch,
                                                              seed_picture):
    """The inference's rows cannot be written because no connection is free (a pool of one,
    held elsewhere, here by this process): no transaction began, so nothing names the
    picture's blob, and the app deletes it while answering 503, rather than keeping it as a
    blob that only repair would remove."""
    from shared.db import connection

    monkeypatch.setenv("NACHET_DB_POOL_MAX_SIZE", "1")
    monkeypatch.setenv("NACHET_DB_TIMEOUT_S", "1")
    settings.reset()
    detecting, go_on = threading.Event(), threading.Event()

    def detect(call):
        detecting.set()
        assert go_on.wait(30)
        return {"boxes": DETECTIONS}

    remote.endpoint("detector", detect)
    remote.classifier()
    user_id = client.user_id()
    body = {"image": seed_picture, "imageDims": [640, 480], "container_name": user_id, "user_id": user_id}
    answer: list[requests.Response] = []
    inference = threading.Thread(target=lambda: answer.append(client.post("inf", body, timeout=60)))
    inference.start()
    try:
        assert detecting.wait(30)
        with connection():  # the app's one connection, until the inference has answered
            go_on.set()
            inference.join(timeout=60)
    finally:
        go_on.set()
        inference.join(timeout=60)
    assert_error(answer[0], 503, "database", "busy")
    assert app.blobs() == []
    assert app.sql("SELECT count(*) FROM picture") == [(0,)]


def test_database_lost_before_the_rows_deletes_the_picture_blob(app, client, scratch, monkeypatch,
                                                                seed_picture):
    """The database stops while the models run, after the blob is written and before any
    transaction for the rows began: nothing can name the blob, so the app deletes it while
    answering 503, rather than keeping it for repair as if a commit's answer had been lost."""
    from shared.services import inference

    with own_postgres(scratch / f"pg-{uuid.uuid4().hex[:8]}") as server:
        monkeypatch.setenv("NACHET_DB_URL", server.get_uri())
        settings.reset()
        running, go_on = threading.Event(), threading.Event()
        real_run = inference.run_pipeline

        def paused_run(*args, **kwargs):
            running.set()
            assert go_on.wait(60)
            return real_run(*args, **kwargs)

        monkeypatch.setattr(inference, "run_pipeline", paused_run)
        user_id = client.user_id()
        body = {"image": seed_picture, "imageDims": [640, 480], "container_name": user_id,
                "user_id": user_id}
        answer: list[requests.Response] = []
        in_flight = threading.Thread(target=lambda: answer.append(client.post("inf", body, timeout=60)))
        in_flight.start()
        try:
            assert running.wait(60)
            stop_postgres(server)
        finally:
            go_on.set()
            in_flight.join(timeout=60)
        assert_error(answer[0], 503, "database")
        assert app.blobs() == []
        settings.reset()  # the pool lets go of this server before it is removed
