"""The local host's blob-trigger runner: bindings, receipts across restarts, retries, poison,
new blob versions and the polling thread."""

from __future__ import annotations

import time

import pytest

import process_picture
from devhost.blob_triggers import BlobTriggerRunner
from tests.conftest import ROOT
from tests.support import images as samples
from tests.support.triggers import container, default_folder, put_picture, row, thumbnail


@pytest.fixture
def make_runner(app):
    runners: list[BlobTriggerRunner] = []

    def make() -> BlobTriggerRunner:
        runners.append(BlobTriggerRunner(ROOT, poll_interval_s=0.2))
        return runners[-1]

    yield make
    for runner in runners:
        runner.stop()


@pytest.fixture
def owner(app, client):
    return default_folder(app, client)


@pytest.fixture
def failing(monkeypatch):
    """Make the trigger's work raise its first `n` calls: failing(n); returns the call count."""
    calls = {"n": 0}

    def fail(times: int):
        real = process_picture.process_picture

        def flaky(path: str, data: bytes) -> bool:
            calls["n"] += 1
            if calls["n"] <= times:
                raise RuntimeError(f"boom {calls['n']}")
            return real(path, data)

        monkeypatch.setattr(process_picture, "process_picture", flaky)
        return calls

    return fail


def outcomes(runner: BlobTriggerRunner) -> list[tuple[str, int]]:
    return [(i.outcome, i.attempt) for i in runner.run_once()]


def test_binding_gives_the_host_s_stream(app, make_runner, owner, monkeypatch):
    seen = []
    monkeypatch.setattr(process_picture, "process_picture", lambda path, data: seen.append((path, data)))
    data = samples.picture()
    blob = put_picture(app, owner, data)
    container(app, app.pictures_container).upload_blob("at-the-root.png", data)  # not in the path
    assert outcomes(make_runner()) == [("done", 1)]
    assert seen == [(f"{app.pictures_container}/{blob}", data)]


def test_missing_setting_in_the_path_is_named(app, monkeypatch):
    monkeypatch.delenv("NACHET_PICTURES_CONTAINER")
    with pytest.raises(ValueError, match="NACHET_PICTURES_CONTAINER"):
        BlobTriggerRunner(ROOT)


def test_failing_blob_is_retried_five_times_then_poison(app, make_runner, owner, failing, caplog):
    calls = failing(100)
    blob = put_picture(app, owner, samples.picture())
    runner = make_runner()
    assert [outcomes(runner) for _ in range(5)] == [
        [("failed", 1)], [("failed", 2)], [("failed", 3)], [("failed", 4)], [("poison", 5)]]
    assert outcomes(runner) == [] and calls["n"] == 5
    [record] = runner.poisoned()
    assert record["BlobName"] == blob and record["ContainerName"] == app.pictures_container
    assert record["FunctionId"] == "process_picture" and record["Attempts"] == 5
    assert "boom 5" in record["Error"]
    assert any("poison" in r.getMessage() and r.levelname == "ERROR" for r in caplog.records)
    assert "checks" not in row(app, blob).metadata
    assert outcomes(make_runner()) == []  # a restart does not bring it back


def test_blob_that_fails_twice_then_succeeds(app, make_runner, owner, failing):
    failing(2)
    blob = put_picture(app, owner, samples.picture())
    runner = make_runner()
    assert [outcomes(runner) for _ in range(4)] == [[("failed", 1)], [("failed", 2)], [("done", 3)], []]
    assert row(app, blob).metadata["checks"]["status"] == "ok"
    assert runner.poisoned() == []


def test_receipts_and_attempts_survive_a_restart(app, make_runner, owner, failing):
    put_picture(app, owner, samples.picture())
    assert outcomes(make_runner()) == [("done", 1)]
    failing(2)
    put_picture(app, owner, samples.picture(30, 20))
    # Each runner is a restart of the host: only the new blob runs, and its count goes on.
    assert outcomes(make_runner()) == [("failed", 1)]
    assert outcomes(make_runner()) == [("failed", 2)]
    assert outcomes(make_runner()) == [("done", 3)]
    assert outcomes(make_runner()) == []


def test_new_version_of_a_blob_is_processed_again(app, make_runner, owner):
    blob = put_picture(app, owner, samples.picture(300, 100))
    runner = make_runner()
    assert outcomes(runner) == [("done", 1)]
    assert samples.decode(thumbnail(app, blob)).size == (256, 85)
    container(app, app.pictures_container).upload_blob(blob, samples.picture(100, 300), overwrite=True)
    assert outcomes(runner) == [("done", 1)]  # a new ETag is a new blob version
    assert samples.decode(thumbnail(app, blob)).size == (85, 256)
    assert (row(app, blob).width, row(app, blob).height) == (100, 300)
    # A version that no longer decodes takes its stale thumbnail with it.
    container(app, app.pictures_container).upload_blob(blob, b"\x89PNG garbage", overwrite=True)
    assert outcomes(runner) == [("done", 1)]
    assert row(app, blob).metadata["thumbnail"] is None
    assert app.blobs(app.thumbnails_container) == []


def test_polling_thread_processes_new_pictures(app, make_runner, owner):
    runner = make_runner()
    runner.start()
    blob = put_picture(app, owner, samples.picture())
    deadline = time.monotonic() + 30
    while "checks" not in row(app, blob).metadata and time.monotonic() < deadline:
        time.sleep(0.1)
    assert row(app, blob).metadata["checks"]["status"] == "ok"
    assert thumbnail(app, blob)
