"""Runs the app's blob-triggered functions as the Functions host does: scans each watched
container, invokes the function once per blob version (blob name and ETag), up to 5 tries
with a growing delay between them, then records the version as poison. Receipts in the
host's storage (devhost/blob_receipts.py) make that hold across restarts and across host
instances sharing one storage account.

The scan is incremental, as the real host's (ScanBlobScanLogHybridPollingStrategy): it
keeps a high-water mark per container, the latest last-modified time seen by the previous
complete scan (held back by nothing that is still to be handled, stored in the host's
storage for the next start), and only blobs modified at or after it are looked at further.
Listing is still a full pass over the container (Blob Storage has no listing by time), so
an idle host scans less often: every `poll_interval_s` while there is work or HTTP
activity, doubling up to `max_poll_interval_s` while there is none, and never so often
that scanning takes more than 5% of a core."""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import AzureError, ResourceModifiedError, ResourceNotFoundError

# The concrete stream the Python worker builds; azure.functions.InputStream is its abstract type.
from azure.functions.blob import InputStream
from azure.storage.blob import BlobServiceClient

from devhost.blob_listing import BlobLister
from devhost.blob_receipts import HOSTS_CONTAINER, BlobVersion, Claim, Receipts
from devhost.functions import FunctionSpec, discover
from devhost.invocation import Context, RetryContext, host_span, invoke

log = logging.getLogger("devhost.blob")

MAX_ATTEMPTS = 5
# Seconds to wait after the 1st, 2nd, 3rd and 4th failed try. The real host retries at
# once by default (its blob trigger queue's visibilityTimeout is 0), so an outage of a
# minute uses up all five tries; here the tries span about 20 minutes.
RETRY_DELAYS_S = (15.0, 60.0, 240.0, 960.0)
_MAX_SCAN_SHARE = 0.05  # of one core: the next scan waits at least 20x the last one's CPU time
_SETTING = re.compile(r"%(\w+)%")
_PARAMETER = re.compile(r"\{(\w+)\}")


def _setting(name: str) -> str:
    # App settings are case-insensitive in the Functions host.
    value = os.environ.get(name)
    if value is None:
        value = next((v for k, v in os.environ.items() if k.lower() == name.lower()), None)
    if not value:
        raise ValueError(f"app setting {name} is not set")
    return value


def _connection_string(setting: str) -> str:
    from shared.settings import DEVELOPMENT_STORAGE, is_development_storage

    value = _setting(setting)
    return DEVELOPMENT_STORAGE if is_development_storage(value) else value


def _utc_now() -> datetime:
    return datetime.now(UTC)


def next_scan_interval(
    interval: float, *, found: bool, soonest_due_s: float | None, scan_cpu_s: float,
    shortest: float, longest: float,
) -> float:
    """The wait before the next scan: `shortest` after a scan that found work, else twice the
    last wait up to `longest`; no later than the soonest retry due; and at least 20 times
    the CPU time the last scan took, so that scanning never takes over 5% of a core."""
    interval = shortest if found else min(interval * 2, longest)
    if soonest_due_s is not None:
        interval = min(interval, max(soonest_due_s, shortest))
    return max(interval, scan_cpu_s / _MAX_SCAN_SHARE)


@dataclass(frozen=True)
class BlobTrigger:
    """A blob-triggered function with its binding resolved from the app settings."""

    function: FunctionSpec
    parameter: str  # the trigger binding's name: main's argument
    container: str
    path: re.Pattern[str]  # of blob names inside the container
    connection: str  # connection string of the watched account

    @classmethod
    def from_spec(cls, spec: FunctionSpec) -> BlobTrigger:
        """The trigger of `spec`, its %SETTING% path and connection resolved from the
        environment. Raises ValueError naming a missing setting or an unsupported binding."""
        binding = spec.trigger()
        if len(spec.bindings) > 1:
            raise ValueError(f"{spec.name}: only the blobTrigger binding is supported here")
        path = _SETTING.sub(lambda m: _setting(m.group(1)), binding["path"])
        container, _, template = path.partition("/")
        pattern, pos = [], 0
        for m in _PARAMETER.finditer(template):
            pattern += [re.escape(template[pos:m.start()]), f"(?P<{m.group(1)}>.+?)"]
            pos = m.end()
        pattern.append(re.escape(template[pos:]))
        connection = _connection_string(binding.get("connection") or "AzureWebJobsStorage")
        return cls(spec, binding["name"], container, re.compile("".join(pattern)), connection)


@dataclass(frozen=True)
class Invocation:
    """What one attempt on one blob version gave."""

    function: str
    blob: str  # <container>/<blob name>
    etag: str
    attempt: int
    outcome: str  # "done", "failed" (tried again after a delay) or "poison" (given up)
    error: str | None = None


class BlobTriggerRunner:
    """Scans the containers that the app's blob triggers watch and invokes them.
    `clock` (UTC now) decides when a failed version is due again; tests pass their own."""

    def __init__(
        self, root: Path, *, poll_interval_s: float = 2.0, max_poll_interval_s: float = 60.0,
        max_workers: int = 4, max_attempts: int = MAX_ATTEMPTS,
        retry_delays_s: Sequence[float] = RETRY_DELAYS_S, clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.triggers = [
            BlobTrigger.from_spec(spec) for spec in discover(root)
            if spec.trigger().get("type") == "blobTrigger"
        ]
        self.poll_interval_s = poll_interval_s
        self.max_poll_interval_s = max(poll_interval_s, max_poll_interval_s)
        self.max_attempts = max_attempts
        self.retry_delays_s = tuple(retry_delays_s)
        self._clock = clock
        hosts = _connection_string("AzureWebJobsStorage")
        self._listers = {c: BlobLister(c) for c in {hosts, *(t.connection for t in self.triggers)}}
        self._receipts = Receipts(
            BlobServiceClient.from_connection_string(hosts).get_container_client(HOSTS_CONTAINER),
            self._listers[hosts],
        )
        self._services = {c: BlobServiceClient.from_connection_string(c) for c in self._listers}
        self._entries: dict[str, Callable[..., Any]] = {}
        self._lock = threading.Lock()
        self._loaded = False
        self._settled: set[BlobVersion] = set()  # done or poison
        self._due: dict[BlobVersion, datetime] = {}  # to try again from then on
        self._in_flight: dict[BlobVersion, datetime] = {}  # submitted: its last-modified time
        # Per function: the scan's high-water mark, and the one stored in the host's storage.
        self._marks: dict[str, datetime | None] = {}
        self._saved_marks: dict[str, datetime | None] = {}
        self._pool = ThreadPoolExecutor(max_workers, thread_name_prefix="blob-trigger")
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def _account(self, trigger: BlobTrigger) -> str:
        return self._services[trigger.connection].account_name or ""

    def _load(self) -> None:
        """Read what the host's storage knows: receipts and scan marks, once."""
        for trigger in self.triggers:
            settled, unsettled = self._receipts.load(trigger.function.name, trigger.container)
            self._settled |= settled
            for u in unsettled:
                self._due[u.version] = u.next_try or self._clock()
            mark = self._receipts.scan_mark(self._account(trigger), trigger.container)
            self._marks[trigger.function.name] = self._saved_marks[trigger.function.name] = mark
        self._loaded = True

    def poisoned(self) -> list[dict[str, Any]]:
        """The poison records of the watched containers, oldest first."""
        return [r for t in self.triggers for r in self._receipts.poisoned(t.function.name, t.container)]

    def _entry(self, trigger: BlobTrigger) -> Callable[..., Any]:
        name = trigger.function.name
        if name not in self._entries:
            self._entries[name] = trigger.function.load()
        return self._entries[name]

    def _trigger_of(self, version: BlobVersion) -> BlobTrigger:
        return next(t for t in self.triggers
                    if t.function.name == version.function and t.container == version.container)

    def _invoke(self, trigger: BlobTrigger, version: BlobVersion) -> Invocation | None:
        claim = self._receipts.claim(version, self._clock())
        if not isinstance(claim, Claim):
            with self._lock:
                if claim is None:
                    self._settled.add(version)
                else:
                    self._due[version] = claim  # failed before, or another host has it now
            return None
        try:
            client = self._services[trigger.connection].get_blob_client(trigger.container, version.name)
            # Only this version: a newer one is a version of its own, found by the scan.
            download = client.download_blob(
                etag=f'"{version.etag}"', match_condition=MatchConditions.IfNotModified)
            data = download.readall()
        except (ResourceNotFoundError, ResourceModifiedError):
            self._receipts.finish(claim, "done")  # deleted or replaced since the listing
            self._settle(version)
            return None
        except BaseException:
            self._receipts.abandon(claim)
            raise
        try:
            self._receipts.start(claim)
        except BaseException:
            self._receipts.abandon(claim)
            raise
        props = download.properties
        stream = InputStream(
            data=data, name=version.path, uri=client.url, length=len(data),
            blob_properties={
                "ContentType": props.content_settings.content_type, "ETag": props.etag,
                "LastModified": props.last_modified.isoformat(), "Length": props.size,
            },
            metadata=dict(props.metadata or {}),
        )
        log.info("%s: attempt %d on %s", version.function, claim.attempt, version.path)
        context = Context(version.function, str(trigger.function.folder), host_span(),
                          RetryContext(claim.attempt - 1, self.max_attempts - 1))
        try:
            invoke(self._entry(trigger), {trigger.parameter: stream}, context)
        except Exception as exc:
            return self._failed(claim, f"{type(exc).__name__}: {exc}")
        self._receipts.finish(claim, "done")
        self._settle(version)
        return Invocation(version.function, version.path, version.etag, claim.attempt, "done")

    def _failed(self, claim: Claim, error: str) -> Invocation:
        v, attempt = claim.version, claim.attempt
        if attempt < self.max_attempts:
            delay = self.retry_delays_s[min(attempt, len(self.retry_delays_s)) - 1]
            next_try = self._clock() + timedelta(seconds=delay)
            log.warning("%s failed on %s (attempt %d of %d), tried again in %g s: %s",
                        v.function, v.path, attempt, self.max_attempts, delay, error)
            self._receipts.finish(claim, "failed", next_try)
            with self._lock:
                self._due[v] = next_try
            return Invocation(v.function, v.path, v.etag, attempt, "failed", error)
        log.error("%s gave up on %s after %d attempts, now poison: %s", v.function, v.path, attempt, error)
        self._receipts.write_poison(claim, error)
        self._receipts.finish(claim, "poison")
        self._settle(v)
        return Invocation(v.function, v.path, v.etag, attempt, "poison", error)

    def _settle(self, version: BlobVersion) -> None:
        with self._lock:
            self._settled.add(version)

    def _run(self, trigger: BlobTrigger, version: BlobVersion) -> Invocation | None:
        try:
            return self._invoke(trigger, version)
        except AzureError as exc:
            # The storage failed, not the function: tried again on the next scan.
            log.warning("blob trigger storage error on %s, tried on the next scan: %s",
                        version.path, type(exc).__name__)
            with self._lock:
                self._due[version] = self._clock()
            return None
        finally:
            with self._lock:
                self._in_flight.pop(version, None)

    def _submit(self, trigger: BlobTrigger, version: BlobVersion, modified: datetime) -> Future | None:
        with self._lock:
            # A version waiting for its next try is submitted by _submit_pass when due.
            if version in self._settled or version in self._in_flight or version in self._due:
                return None
            self._in_flight[version] = modified
        return self._pool.submit(self._run, trigger, version)

    def _scan(self, trigger: BlobTrigger) -> list[Future[Invocation | None]]:
        """One pass over the container: submit the versions modified at or after the mark
        that are not settled, then move the mark."""
        mark = self._marks[trigger.function.name]
        futures = []
        newest: datetime | None = None
        started: datetime | None = None
        for page in self._listers[trigger.connection].pages(trigger.container):
            started = started or page.date
            for blob in page.blobs:
                newest = max(newest or blob.last_modified, blob.last_modified)
                # Last-modified times are whole seconds: a blob written in the mark's own
                # second after the scan is at the mark, so the mark itself is looked at.
                if (mark is not None and blob.last_modified < mark) or not trigger.path.fullmatch(blob.name):
                    continue
                version = BlobVersion(trigger.function.name, trigger.container, blob.name, blob.etag)
                if f := self._submit(trigger, version, blob.last_modified):
                    futures.append(f)
        if started is not None:
            # Never past the storage's clock when the scan began: a blob of an early page
            # rewritten during the scan is newer than that.
            self._marks[trigger.function.name] = min(newest or started, started)
        return futures

    def _save_marks(self) -> None:
        """Store each scan mark that moved. A stored mark stays behind the versions still in
        flight: a restart must find them again."""
        for trigger in self.triggers:
            name = trigger.function.name
            mark = self._marks.get(name)
            with self._lock:
                waiting = [m for v, m in self._in_flight.items()
                           if v.function == name and v.container == trigger.container]
            stored = min([mark, *waiting]) if mark is not None else None
            if stored is not None and stored != self._saved_marks[name]:
                self._receipts.save_scan_mark(self._account(trigger), trigger.container, stored)
                self._saved_marks[name] = stored

    def _submit_pass(self) -> list[Future[Invocation | None]]:
        with self._lock:
            if not self._loaded:
                self._load()
        futures = []
        for trigger in self.triggers:
            futures += self._scan(trigger)
        self._save_marks()
        now = self._clock()
        with self._lock:
            due = [v for v, at in self._due.items() if at <= now and v not in self._in_flight]
            for v in due:
                del self._due[v]
        for v in due:
            if f := self._submit(self._trigger_of(v), v, now):
                futures.append(f)
        return futures

    def run_once(self) -> list[Invocation]:
        """One scan: invoke every new blob version and every failed one that is due, wait
        for them, and return what happened to each attempt."""
        futures = self._submit_pass()
        wait(futures)
        self._save_marks()
        return [i for f in futures if (i := f.result()) is not None]

    def nudge(self) -> None:
        """Something may have written a blob (an HTTP request was served): scan at the
        quick rate again."""
        self._wake.set()

    def _loop(self) -> None:
        interval = self.poll_interval_s
        last = time.monotonic()
        while not self._stop.is_set():
            self._wake.wait(max(0.0, last + interval - time.monotonic()))
            if self._stop.is_set():
                return
            if self._wake.is_set():
                self._wake.clear()
                interval = min(interval, self.poll_interval_s)
            if time.monotonic() < last + interval:
                continue
            last = time.monotonic()
            cpu = time.thread_time()
            try:
                found = bool(self._submit_pass())
            except AzureError as exc:
                log.warning("blob trigger scan failed: %s", type(exc).__name__)
                found = False
            except Exception:
                # The scanning thread must outlive a bug or an odd answer: it is the only one.
                log.exception("blob trigger scan failed")
                found = False
            with self._lock:
                soonest = min(self._due.values(), default=None)
            interval = next_scan_interval(
                interval, found=found, scan_cpu_s=time.thread_time() - cpu,
                soonest_due_s=(soonest - self._clock()).total_seconds() if soonest else None,
                shortest=self.poll_interval_s, longest=self.max_poll_interval_s,
            )

    def start(self) -> None:
        """Scan in a background thread until stop()."""
        self._thread = threading.Thread(target=self._loop, name="blob-trigger-scan", daemon=True)
        self._thread.start()
        log.info("watching %s every %g to %g s",
                 ", ".join(f"{t.container} ({t.function.name})" for t in self.triggers),
                 self.poll_interval_s, self.max_poll_interval_s)

    def stop(self) -> None:
        """Stop scanning and wait for the invocations under way."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        self._pool.shutdown(wait=True)
        if self._loaded:
            with suppress(AzureError):
                self._save_marks()
        for lister in self._listers.values():
            lister.close()
