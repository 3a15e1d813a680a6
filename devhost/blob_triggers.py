"""Runs the app's blob-triggered functions as the Functions host does: polls each watched
container, invokes the function once per blob version (blob name and ETag), keeps receipts
in the host's storage so that a restart does not handle a blob again, retries a failing
blob up to 5 times in all and then records it as poison."""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError

# The concrete stream the Python worker builds; azure.functions.InputStream is its abstract type.
from azure.functions.blob import InputStream
from azure.storage.blob import BlobProperties, BlobServiceClient, ContainerClient

from devhost.functions import FunctionSpec, discover

log = logging.getLogger("devhost.blob")

HOSTS_CONTAINER = "azure-webjobs-hosts"
RECEIPTS = "blobreceipts"
# The real host queues poison messages in this queue; here they are blobs of the same name.
POISON = "webjobs-blobtrigger-poison"
MAX_ATTEMPTS = 5
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
    outcome: str  # "done", "failed" (retried on a later pass) or "poison" (given up)
    error: str | None = None


class BlobTriggerRunner:
    """Polls the containers that the app's blob triggers watch and invokes them."""

    def __init__(
        self, root: Path, *, poll_interval_s: float = 2.0, max_workers: int = 4,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.triggers = [
            BlobTrigger.from_spec(spec) for spec in discover(root)
            if spec.trigger().get("type") == "blobTrigger"
        ]
        self.poll_interval_s = poll_interval_s
        self.max_attempts = max_attempts
        self._hosts = BlobServiceClient.from_connection_string(
            _connection_string("AzureWebJobsStorage")
        ).get_container_client(HOSTS_CONTAINER)
        self._clients: dict[str, BlobServiceClient] = {}
        self._entries: dict[str, Callable[..., Any]] = {}
        # (function, container/blob, etag) -> attempts so far, or None once done or poisoned.
        self._receipts: dict[tuple[str, str, str], int | None] | None = None
        self._in_flight: set[tuple[str, str, str]] = set()
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers, thread_name_prefix="blob-trigger")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _watched(self, trigger: BlobTrigger) -> ContainerClient:
        if trigger.connection not in self._clients:
            self._clients[trigger.connection] = BlobServiceClient.from_connection_string(
                trigger.connection
            )
        return self._clients[trigger.connection].get_container_client(trigger.container)

    def _load_receipts(self) -> dict[tuple[str, str, str], int | None]:
        # Receipt names: blobreceipts/<function>/<container>/<blob>/<etag>, as the real host.
        receipts: dict[tuple[str, str, str], int | None] = {}
        with suppress(ResourceExistsError):
            self._hosts.create_container()
        for trigger in self.triggers:
            prefix = f"{RECEIPTS}/{trigger.function.name}/{trigger.container}/"
            for blob in self._hosts.list_blobs(name_starts_with=prefix, include=["metadata"]):
                _, function, rest = blob.name.split("/", 2)
                path, _, etag = rest.rpartition("/")
                metadata = blob.metadata or {}
                done = metadata.get("state") in ("done", "poison")
                receipts[function, path, etag] = None if done else int(metadata.get("attempts", "0"))
        return receipts

    def _write_receipt(self, key: tuple[str, str, str], state: str, attempts: int) -> None:
        function, path, etag = key
        self._hosts.upload_blob(
            f"{RECEIPTS}/{function}/{path}/{etag}", b"", overwrite=True,
            metadata={"state": state, "attempts": str(attempts)},
        )

    def _write_poison(self, key: tuple[str, str, str], attempts: int, error: str) -> None:
        function, path, etag = key
        container, _, blob_name = path.partition("/")
        # The message the real host queues in webjobs-blobtrigger-poison, plus the last error.
        message = {
            "Type": "BlobTrigger", "FunctionId": function, "BlobType": "BlockBlob",
            "ContainerName": container, "BlobName": blob_name, "ETag": etag,
            "Attempts": attempts, "Error": error,
        }
        self._hosts.upload_blob(f"{POISON}/{function}/{path}/{etag}", json.dumps(message), overwrite=True)

    def poisoned(self) -> list[dict[str, Any]]:
        """The poison records of the watched containers, oldest first."""
        blobs = sorted(
            (b for t in self.triggers
             for b in self._hosts.list_blobs(name_starts_with=f"{POISON}/{t.function.name}/{t.container}/")),
            key=lambda b: b.last_modified,
        )
        return [json.loads(self._hosts.download_blob(b.name).readall()) for b in blobs]

    def _entry(self, trigger: BlobTrigger) -> Callable[..., Any]:
        name = trigger.function.name
        if name not in self._entries:
            self._entries[name] = trigger.function.load()
        return self._entries[name]

    def _invoke(self, trigger: BlobTrigger, blob: BlobProperties, attempts: int) -> Invocation | None:
        key = (trigger.function.name, f"{trigger.container}/{blob.name}", blob.etag.strip('"'))
        attempt = attempts + 1
        try:
            client = self._watched(trigger).get_blob_client(blob.name)
            data = client.download_blob().readall()
        except ResourceNotFoundError:
            return None  # deleted since the listing: nothing to handle
        stream = InputStream(
            data=data, name=key[1], uri=client.url, length=len(data),
            blob_properties={
                "ContentType": blob.content_settings.content_type, "ETag": blob.etag,
                "LastModified": blob.last_modified.isoformat(), "Length": blob.size,
            },
            metadata=dict(blob.metadata or {}),
        )
        try:
            self._entry(trigger)(**{trigger.parameter: stream})
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            if attempt < self.max_attempts:
                log.warning("%s failed on %s (attempt %d of %d): %s",
                            key[0], key[1], attempt, self.max_attempts, error)
                self._write_receipt(key, "failed", attempt)
                self._receipts_set(key, attempt)
                return Invocation(*key, attempt, "failed", error)
            log.error("%s gave up on %s after %d attempts, now poison: %s", key[0], key[1], attempt, error)
            self._write_poison(key, attempt, error)
            self._write_receipt(key, "poison", attempt)
            self._receipts_set(key, None)
            return Invocation(*key, attempt, "poison", error)
        self._write_receipt(key, "done", attempt)
        self._receipts_set(key, None)
        return Invocation(*key, attempt, "done")

    def _receipts_set(self, key: tuple[str, str, str], attempts: int | None) -> None:
        with self._lock:
            assert self._receipts is not None
            self._receipts[key] = attempts

    def _run(self, trigger: BlobTrigger, blob: BlobProperties, attempts: int,
             key: tuple[str, str, str]) -> Invocation | None:
        try:
            return self._invoke(trigger, blob, attempts)
        except AzureError as exc:
            # The host's own storage calls failed, not the function: no attempt is counted.
            log.warning("blob trigger storage error on %s, tried on the next poll: %s",
                        key[1], type(exc).__name__)
            return None
        finally:
            with self._lock:
                self._in_flight.discard(key)

    def _submit_pass(self) -> list[Future[Invocation | None]]:
        with self._lock:
            if self._receipts is None:
                self._receipts = self._load_receipts()
        futures = []
        for trigger in self.triggers:
            try:
                blobs = list(self._watched(trigger).list_blobs(include=["metadata"]))
            except ResourceNotFoundError:
                continue  # the container does not exist yet
            for blob in blobs:
                if not trigger.path.fullmatch(blob.name):
                    continue
                key = (trigger.function.name, f"{trigger.container}/{blob.name}", blob.etag.strip('"'))
                with self._lock:
                    attempts = self._receipts.get(key, 0)
                    if attempts is None or key in self._in_flight:
                        continue
                    self._in_flight.add(key)
                futures.append(self._pool.submit(self._run, trigger, blob, attempts, key))
        return futures

    def run_once(self) -> list[Invocation]:
        """One poll: invoke every blob version not yet handled (a failed one once more),
        wait for them, and return what happened to each."""
        futures = self._submit_pass()
        wait(futures)
        return [i for f in futures if (i := f.result()) is not None]

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_interval_s):
            try:
                self._submit_pass()
            except AzureError as exc:
                log.warning("blob trigger poll failed: %s", type(exc).__name__)

    def start(self) -> None:
        """Poll every `poll_interval_s` in a background thread until stop()."""
        self._thread = threading.Thread(target=self._loop, name="blob-trigger-poll", daemon=True)
        self._thread.start()
        log.info("watching %s every %g s",
                 ", ".join(f"{t.container} ({t.function.name})" for t in self.triggers),
                 self.poll_interval_s)

    def stop(self) -> None:
        """Stop polling and wait for the invocations under way."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._pool.shutdown(wait=True)
