"""The local host's blob-trigger runner: bindings, receipts across restarts, retries with
their delays, poison, new blob versions, the incremental scan, claims between runners
and the scanning thread."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import timedelta

import pytest

import process_picture
from devhost.blob_triggers import RETRY_DELAYS_S, BlobTriggerRunner, next_scan_interval
from devhost.services import free_port
from shared import settings
from tests.conftest import ROOT
from tests.support import images as samples
from tests.support.triggers import Clock, container, default_folder, put_picture, row, thumbnail

LONGEST_DELAY = max(RETRY_DELAYS_S)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def make_runner(app, clock):
    runners: list[BlobTriggerRunner] = []

    def make() -> BlobTriggerRunner:
        runners.append(BlobTriggerRunner(ROOT, poll_interval_s=0.2, clock=clock))
        return runners[-1]

    yield make
    for runner in runners:
        runner.stop()


@pytest.fixture
def owner(app, client):
    return default_folder(app, client)


@pytest.fixture
def failing(monkeypatch, clock):
    """Make the trigger's work raise its first `n` calls: failing(n); returns the calls'
    times on the test's clock."""
    calls: list = []

    def fail(times: int):
        real = process_picture.process_picture

        def flaky(path: str, data: bytes) -> bool:
            calls.append(clock())
            if len(calls) <= times:
                raise RuntimeError(f"boom {len(calls)}")
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


def test_failing_blob_is_retried_after_growing_delays_then_poison(app, make_runner, owner, failing,
                                                                   clock, caplog):
    calls = failing(100)
    blob = put_picture(app, owner, samples.picture())
    runner = make_runner()
    seen = []
    for _ in range(5):
        seen.append(outcomes(runner))
        assert outcomes(runner) == []  # not before its delay
        clock.advance(LONGEST_DELAY)
    assert seen == [[("failed", 1)], [("failed", 2)], [("failed", 3)], [("failed", 4)], [("poison", 5)]]
    assert outcomes(runner) == [] and len(calls) == 5
    [record] = runner.poisoned()
    assert record["BlobName"] == blob and record["ContainerName"] == app.pictures_container
    assert record["FunctionId"] == "process_picture" and record["Attempts"] == 5
    assert "boom 5" in record["Error"]
    assert any("poison" in r.getMessage() and r.levelname == "ERROR" for r in caplog.records)
    assert "checks" not in row(app, blob).metadata
    assert outcomes(make_runner()) == []  # a restart does not bring it back


def test_tries_wait_at_least_the_schedule_between_them(app, make_runner, owner, failing, clock):
    calls = failing(4)
    put_picture(app, owner, samples.picture())
    runner = make_runner()
    done = []
    for _ in range(1000):  # a scan every 2 s of the test's clock
        done += [i for i in runner.run_once() if i.outcome == "done"]
        if done:
            break
        clock.advance(2)
    assert [i.attempt for i in done] == [5]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(calls)]
    assert all(gap >= delay for gap, delay in zip(gaps, RETRY_DELAYS_S, strict=True)), gaps


def test_a_database_outage_of_a_minute_does_not_use_up_the_tries(app, make_runner, owner, clock,
                                                                  monkeypatch):
    blob = put_picture(app, owner, samples.picture())
    # Nothing listens on this port: the trigger's database calls fail as in an outage.
    real_url = app.db_url
    monkeypatch.setenv("NACHET_DB_URL", f"postgresql://127.0.0.1:{free_port()}/nachet")
    settings.reset()
    outage_ends = clock() + timedelta(seconds=60)
    runner = make_runner()
    seen = []
    while clock() < outage_ends + timedelta(seconds=LONGEST_DELAY):
        if clock() >= outage_ends and settings.get_settings().db_url != real_url:
            monkeypatch.setenv("NACHET_DB_URL", real_url)
            settings.reset()
        seen += [(i.outcome, i.attempt) for i in runner.run_once()]
        clock.advance(2)
    assert seen[-1][0] == "done" and len(seen) < 5, seen
    assert all(outcome == "failed" for outcome, _ in seen[:-1])
    assert runner.poisoned() == []
    assert row(app, blob).metadata["checks"]["status"] == "ok"


def test_blob_that_fails_twice_then_succeeds(app, make_runner, owner, failing, clock):
    failing(2)
    blob = put_picture(app, owner, samples.picture())
    runner = make_runner()
    seen = []
    for _ in range(4):
        seen.append(outcomes(runner))
        clock.advance(LONGEST_DELAY)
    assert seen == [[("failed", 1)], [("failed", 2)], [("done", 3)], []]
    assert row(app, blob).metadata["checks"]["status"] == "ok"
    assert runner.poisoned() == []


def test_receipts_and_attempts_survive_a_restart(app, make_runner, owner, failing, clock):
    put_picture(app, owner, samples.picture())
    assert outcomes(make_runner()) == [("done", 1)]
    failing(2)
    put_picture(app, owner, samples.picture(30, 20))
    # Each runner is a restart of the host: only the new blob runs, its count goes on,
    # and its next try waits for its delay whichever host runs it.
    assert outcomes(make_runner()) == [("failed", 1)]
    assert outcomes(make_runner()) == []
    clock.advance(RETRY_DELAYS_S[0])
    assert outcomes(make_runner()) == [("failed", 2)]
    clock.advance(RETRY_DELAYS_S[1])
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


def test_a_restart_looks_only_at_blobs_from_the_stored_scan_mark_on(app, make_runner, owner):
    hosts = container(app, "azure-webjobs-hosts")
    old = put_picture(app, owner, samples.picture())
    time.sleep(1.1)  # last-modified times are whole seconds: the next blob is a second newer
    new = put_picture(app, owner, samples.picture(30, 20))
    assert sorted(i.blob for i in make_runner().run_once()) == sorted(
        f"{app.pictures_container}/{b}" for b in (old, new))
    assert any(b.endswith(f"/{app.pictures_container}") for b in app.blobs("azure-webjobs-hosts")
               if b.startswith("blobscaninfo/"))
    # Without their receipts, only the blob at the mark is looked at again: the scan
    # skips what the previous scans saw before it.
    for name in app.blobs("azure-webjobs-hosts"):
        if name.startswith(f"blobreceipts/process_picture/{app.pictures_container}/"):
            hosts.delete_blob(name)
    assert [i.blob for i in make_runner().run_once()] == [f"{app.pictures_container}/{new}"]


def test_a_version_claimed_by_another_host_is_left_to_it(app, make_runner, owner, monkeypatch, clock):
    started, release = threading.Event(), threading.Event()
    calls = []

    def slow(path: str, data: bytes) -> bool:
        calls.append(path)
        started.set()
        release.wait(30)
        return True

    monkeypatch.setattr(process_picture, "process_picture", slow)
    put_picture(app, owner, samples.picture())
    first, second = make_runner(), make_runner()
    results: list = []
    worker = threading.Thread(target=lambda: results.append(outcomes(first)))
    worker.start()
    assert started.wait(30)
    assert outcomes(second) == []  # its receipt is leased by the first runner
    release.set()
    worker.join(30)
    assert results == [[("done", 1)]]
    clock.advance(LONGEST_DELAY)
    assert outcomes(second) == [] and len(calls) == 1


def test_scan_interval_backs_off_while_idle_and_quickens_on_work():
    def after(interval: float, found: bool = False, soonest_due_s: float | None = None,
              scan_cpu_s: float = 0.0) -> float:
        return next_scan_interval(interval, found=found, soonest_due_s=soonest_due_s,
                                  scan_cpu_s=scan_cpu_s, shortest=2.0, longest=60.0)

    assert [after(i) for i in (2.0, 4.0, 32.0, 60.0)] == [4.0, 8.0, 60.0, 60.0]
    assert after(60.0, found=True) == 2.0
    assert after(60.0, soonest_due_s=15.0) == 15.0  # a retry due sooner than the next scan
    assert after(60.0, soonest_due_s=-3.0) == 2.0
    assert after(2.0, found=True, scan_cpu_s=0.5) == 10.0  # at most 5% of a core on scanning


def test_polling_thread_processes_new_pictures(app, make_runner, owner):
    runner = make_runner()
    runner.start()
    blob = put_picture(app, owner, samples.picture())
    runner.nudge()
    deadline = time.monotonic() + 30
    while "checks" not in row(app, blob).metadata and time.monotonic() < deadline:
        time.sleep(0.1)
    assert row(app, blob).metadata["checks"]["status"] == "ok"
    assert thumbnail(app, blob)
