"""Blob Storage: one service client per process, containers created on first use,
and the edge where azure-storage-blob errors become the app's errors."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import quote

from azure.core.exceptions import (
    AzureError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from shared.errors import DependencyUnavailable, NotFound
from shared.settings import get_settings, on_reset

if TYPE_CHECKING:
    from azure.storage.blob import BlobServiceClient, ContainerClient

log = logging.getLogger(__name__)

_lock = threading.Lock()
_client: BlobServiceClient | None = None
_ready_containers: set[str] = set()


def _service() -> BlobServiceClient:
    # The SDK (with cryptography and requests) loads on first use, not at cold start.
    from azure.storage.blob import BlobServiceClient, LinearRetry

    global _client
    with _lock:
        if _client is None:
            # Its HTTP logging policy would log every blob request: one line per request is ours.
            logging.getLogger("azure").setLevel(logging.WARNING)
            _client = BlobServiceClient.from_connection_string(
                get_settings().storage_connection_string,
                connection_timeout=5,
                read_timeout=60,
                # The storage default waits 15 s and more between tries: a request
                # would hang for a minute instead of answering 503.
                # The SDK annotates backoff and jitter as int, but takes seconds as floats.
                retry_policy=LinearRetry(
                    backoff=0.5, random_jitter_range=0.2, retry_total=2,  # type: ignore[arg-type]
                ),
            )
        return _client


@on_reset
def close_client() -> None:
    """Drop the client; the next call makes a new one from the settings."""
    global _client
    with _lock:
        client, _client = _client, None
        _ready_containers.clear()
    if client is not None:
        client.close()


@contextmanager
def _translated(what: str) -> Iterator[None]:
    try:
        yield
    except ResourceNotFoundError as exc:
        raise NotFound(f"{what} was not found") from exc
    except (ServiceRequestError, ServiceResponseError) as exc:
        log.warning("storage unavailable during %s: %s", what, type(exc).__name__)
        raise DependencyUnavailable("the storage is unavailable") from exc
    except AzureError as exc:
        log.warning("storage error during %s: %s", what, type(exc).__name__)
        raise DependencyUnavailable("the storage is unavailable") from exc


def container(name: str) -> ContainerClient:
    """The container `name`, created if this process has not seen it yet (for writes)."""
    client = _service().get_container_client(name)
    if name not in _ready_containers:
        with _translated(f"container {name}"), suppress(ResourceExistsError):
            client.create_container()
        _ready_containers.add(name)
    return client


def _existing(name: str) -> ContainerClient:
    """The container `name` for reading: never created, so a misnamed container is a
    NotFound rather than a new empty container."""
    return _service().get_container_client(name)


def upload(container_name: str, blob_name: str, data: bytes, *, content_type: str) -> None:
    """Write the blob, replacing any blob of that name. Raises DependencyUnavailable."""
    from azure.storage.blob import ContentSettings

    content = ContentSettings(content_type=content_type)

    def put() -> None:
        container(container_name).upload_blob(blob_name, data, overwrite=True, content_settings=content)

    with _translated(f"blob {blob_name}"):
        try:
            put()
        except ResourceNotFoundError:
            # The container is gone since this process made it (deleted by an operator, lost
            # by the storage): made again, or every upload would fail until a restart.
            _ready_containers.discard(container_name)
            put()


def download(container_name: str, blob_name: str) -> bytes:
    """The blob's bytes. Raises NotFound and DependencyUnavailable."""
    with _translated(f"blob {blob_name}"):
        return _existing(container_name).download_blob(blob_name).readall()


def delete(container_name: str, blob_name: str) -> None:
    """Delete the blob if it exists. Raises DependencyUnavailable."""
    with _translated(f"blob {blob_name}"), suppress(ResourceNotFoundError):
        _existing(container_name).delete_blob(blob_name)


def last_modified(container_name: str, blob_name: str) -> datetime:
    """When the blob was last written (UTC). Raises NotFound and DependencyUnavailable."""
    with _translated(f"blob {blob_name}"):
        return _existing(container_name).get_blob_client(blob_name).get_blob_properties().last_modified


def copy(container_name: str, source: str, destination: str, *, timeout_s: float = 60.0) -> None:
    """Copy a blob within the container, server side, and wait until the copy is done.
    Raises NotFound (no source) and DependencyUnavailable (failed or timed out)."""
    with _translated(f"blob {source}"):
        client = _existing(container_name)
        target = client.get_blob_client(destination)
        # The SDK types the reply's values as str | datetime; copy_status is a str.
        reply = target.start_copy_from_url(client.get_blob_client(source).url)
        status: str | None = str(reply["copy_status"])
        # A copy within one account is usually done at once; a pending one is polled.
        deadline = time.monotonic() + timeout_s
        while status == "pending" and time.monotonic() < deadline:
            time.sleep(0.2)
            status = target.get_blob_properties().copy.status
    if status != "success":
        log.warning("copy of blob %s ended %s", source, status)
        raise DependencyUnavailable("the storage could not copy a picture")


def list_modified(container_name: str, *, prefix: str | None = None) -> dict[str, datetime]:
    """Every blob in the container (under `prefix` when given) with when it was last written."""
    with _translated(f"container {container_name}"), suppress(ResourceNotFoundError):
        blobs = _existing(container_name).list_blobs(name_starts_with=prefix)
        return {b.name: b.last_modified for b in blobs}
    return {}  # no container yet: no blobs


def read_url(container_name: str, blob_name: str, *, expiry: datetime) -> str | None:
    """A URL that reads this one blob until `expiry` (a read-only SAS signed here, no request
    made), or None when the connection string has no account key to sign with."""
    from azure.storage.blob import BlobSasPermissions, generate_blob_sas

    service = _service()
    key = getattr(service.credential, "account_key", None)
    account = service.account_name
    if not key or not account:
        return None
    sas = generate_blob_sas(
        account, container_name, blob_name, account_key=key,
        permission=BlobSasPermissions(read=True), expiry=expiry,
    )
    return f"{service.url.rstrip('/')}/{container_name}/{quote(blob_name)}?{sas}"


def ping() -> None:
    """Make one real request to the storage account. Raises DependencyUnavailable."""
    with _translated("storage account"):
        _service().get_account_information()
