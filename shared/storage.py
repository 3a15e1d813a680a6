"""Blob Storage: one service client per process, containers created on first use,
and the edge where azure-storage-blob errors become the app's errors.

The client connects with the connection string, or else with an identity-based connection
(shared.settings.StorageIdentity): a managed identity in Azure, the developer's sign-in
elsewhere. Read URLs are then signed with a user delegation key instead of the account key."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from shared.errors import AppError, Conflict, DependencyUnavailable, NotFound
from shared.settings import StorageIdentity, get_settings, on_reset

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.storage.blob import BlobServiceClient, ContainerClient, UserDelegationKey

log = logging.getLogger(__name__)

_lock = threading.Lock()
_client: BlobServiceClient | None = None
_credential: TokenCredential | None = None
_ready_containers: set[str] = set()
# Identity-based connections sign read URLs with a user delegation key, fetched once for
# hours and renewed when a URL would outlive it (a key is valid for at most 7 days).
_DELEGATION_LIFETIME = timedelta(hours=6)
_CLOCK_SKEW = timedelta(minutes=5)
_delegation_lock = threading.Lock()
_delegation_key: UserDelegationKey | None = None
# One fetch at a time: a request that finds another's fetch under way waits for it at most
# _KEY_WAIT_S, then does without (a thumbnail shows as null). After a failed fetch there is
# none for _KEY_RETRY_S: with the storage down, a listing of many pictures must not try (and
# wait for) a fetch per picture.
_KEY_WAIT_S = 5.0
_KEY_RETRY_S = 30.0


@dataclass
class _KeyFetch:
    """A fetch of a delegation key under way through `service`."""

    service: BlobServiceClient
    done: threading.Event = field(default_factory=threading.Event)


_key_fetch: _KeyFetch | None = None
_key_failed_at: float | None = None  # time.monotonic() of the last failed fetch


def _service() -> BlobServiceClient:
    # The SDK (with cryptography, requests and azure.core's pipeline) loads on
    # first use, not at cold start: so do azure.core's exceptions, in each function below.
    from azure.storage.blob import BlobServiceClient, LinearRetry

    global _client, _credential
    with _lock:
        if _client is None:
            # Its HTTP logging policy would log every blob request: one line per request is ours.
            logging.getLogger("azure").setLevel(logging.WARNING)
            settings = get_settings()
            options: dict[str, Any] = {
                "connection_timeout": 5,
                "read_timeout": 60,
                # The storage default waits 15 s and more between tries: a request
                # would hang for a minute instead of answering 503.
                # The SDK annotates backoff and jitter as int, but takes seconds as floats.
                "retry_policy": LinearRetry(
                    backoff=0.5, random_jitter_range=0.2, retry_total=2,  # type: ignore[arg-type]
                ),
            }
            if settings.storage_identity is None:
                assert settings.storage_connection_string is not None
                _client = BlobServiceClient.from_connection_string(
                    settings.storage_connection_string, **options)
            else:
                _credential = _identity_credential(settings.storage_identity)
                _client = BlobServiceClient(
                    settings.storage_identity.blob_service_uri, credential=_credential, **options)
        return _client


def _identity_credential(identity: StorageIdentity) -> TokenCredential:
    """The token source of an identity-based connection, as the Functions host reads one."""
    # azure-identity (with msal) loads only for an identity-based connection.
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    if identity.managed_identity:
        return ManagedIdentityCredential(client_id=identity.client_id)
    return DefaultAzureCredential(managed_identity_client_id=identity.client_id)


@on_reset
def close_client() -> None:
    """Drop the client; the next call makes a new one from the settings."""
    global _client, _credential, _delegation_key, _key_failed_at
    with _lock:
        client, _client = _client, None
        credential, _credential = _credential, None
        _ready_containers.clear()
    with _delegation_lock:
        _delegation_key, _key_failed_at = None, None
    if client is not None:
        client.close()
    if credential is not None and hasattr(credential, "close"):
        credential.close()


@contextmanager
def _translated(what: str) -> Iterator[None]:
    from azure.core.exceptions import (
        AzureError,
        ResourceNotFoundError,
        ServiceRequestError,
        ServiceResponseError,
    )

    try:
        yield
    except ResourceNotFoundError as exc:
        # The message may reach a client: it names no container or blob (the log does).
        log.info("storage has no %s", what)
        raise NotFound("not found in storage") from exc
    except (ServiceRequestError, ServiceResponseError) as exc:
        log.warning("storage unavailable during %s: %s", what, type(exc).__name__)
        raise DependencyUnavailable("the storage is unavailable") from exc
    except AzureError as exc:
        log.warning("storage error during %s: %s", what, type(exc).__name__)
        raise DependencyUnavailable("the storage is unavailable") from exc


def container(name: str) -> ContainerClient:
    """The container `name`, created if this process has not seen it yet (for writes)."""
    from azure.core.exceptions import ResourceExistsError

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
    from azure.core.exceptions import ResourceNotFoundError
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


class BlockWriter:
    """A new block blob written as a stream (see `block_upload`): the bytes are staged in
    blocks of `block_bytes` as they come, so that at most one block is held in memory.

    Two writers of one blob name stay apart until one commits: each names its blocks
    with an id of its own (the service keeps the uncommitted blocks of a name together,
    whoever staged them, and a block staged under an id replaces the one staged before
    under it), and the commit makes the blob only if none of that name exists, so the
    other's commit is refused rather than mixing blocks or replacing a whole archive."""

    def __init__(self, container_name: str, blob_name: str, *, block_bytes: int) -> None:
        self._blob = container(container_name).get_blob_client(blob_name)
        self._block_bytes = block_bytes
        self._buffer = bytearray()
        self._blocks: list[str] = []
        self._writer_id = uuid.uuid4().hex
        self.size = 0

    def write(self, data: bytes) -> int:
        """Take `data`; a full block is staged at once. Raises DependencyUnavailable."""
        self._buffer += data
        self.size += len(data)
        while len(self._buffer) >= self._block_bytes:
            with memoryview(self._buffer) as view:  # one copy of the block, not two
                block = bytes(view[:self._block_bytes])
            self._stage(block)
            del self._buffer[:self._block_bytes]
        return len(data)

    def _stage(self, block: bytes) -> None:
        # Ids must be of one length within a blob (also across writers); the SDK
        # base64-encodes them.
        block_id = f"{self._writer_id}{len(self._blocks):08d}"
        with _translated(f"blob {self._blob.blob_name}"):
            self._blob.stage_block(block_id, block, length=len(block))
        self._blocks.append(block_id)

    def commit(self, content_type: str) -> None:
        """Stage what is left and make the blob of every block staged. Raises Conflict (a
        blob of that name exists: written meanwhile by another writer), DependencyUnavailable."""
        from azure.core.exceptions import ResourceExistsError, ResourceModifiedError
        from azure.storage.blob import BlobBlock, ContentSettings

        if self._buffer or not self._blocks:
            self._stage(bytes(self._buffer))
            self._buffer.clear()
        with _translated(f"blob {self._blob.blob_name}"):
            try:
                self._blob.commit_block_list([BlobBlock(block_id) for block_id in self._blocks],
                                             content_settings=ContentSettings(content_type=content_type),
                                             if_none_match="*")
            # Azure answers a condition not met, 412 (the SDK's own upload_blob(overwrite=False)
            # turns it into "already exists" likewise); Azurite answers 409.
            except (ResourceModifiedError, ResourceExistsError):
                raise Conflict("a blob of that name exists") from None


@contextmanager
def block_upload(
    container_name: str, blob_name: str, *, content_type: str, block_bytes: int = 4 * 1024 * 1024,
) -> Iterator[BlockWriter]:
    """A writer of a new blob, committed when the block ends without an error. Until then
    no blob of that name appears: blocks left staged are dropped by the storage service
    within a week. Raises Conflict (at the commit: a blob of that name exists),
    DependencyUnavailable."""
    writer = BlockWriter(container_name, blob_name, block_bytes=block_bytes)
    yield writer
    writer.commit(content_type)


def download(container_name: str, blob_name: str) -> bytes:
    """The blob's bytes. Raises NotFound and DependencyUnavailable."""
    with _translated(f"blob {blob_name}"):
        return _existing(container_name).download_blob(blob_name).readall()


def delete(container_name: str, blob_name: str) -> None:
    """Delete the blob if it exists. Raises DependencyUnavailable."""
    from azure.core.exceptions import ResourceNotFoundError

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


def list_modified(container_name: str) -> dict[str, datetime]:
    """Every blob in the container with when it was last written."""
    from azure.core.exceptions import ResourceNotFoundError

    with _translated(f"container {container_name}"), suppress(ResourceNotFoundError):
        blobs = _existing(container_name).list_blobs()
        return {b.name: b.last_modified for b in blobs}
    return {}  # no container yet: no blobs


def read_url(container_name: str, blob_name: str, *, expiry: datetime) -> str | None:
    """A URL that reads this one blob until `expiry`: a read-only SAS signed here with the
    account key, or with a user delegation key for an identity-based connection (one request
    every few hours). None when a connection string has no account key to sign with.
    Raises DependencyUnavailable when a delegation key cannot be had."""
    from azure.storage.blob import BlobSasPermissions, generate_blob_sas

    service = _service()
    account = service.account_name
    key = getattr(service.credential, "account_key", None)
    if not account:
        return None
    if key:
        sas = generate_blob_sas(account, container_name, blob_name, account_key=key,
                                permission=BlobSasPermissions(read=True), expiry=expiry)
    elif get_settings().storage_identity is not None:
        sas = generate_blob_sas(account, container_name, blob_name,
                                user_delegation_key=_delegation_key_until(service, expiry),
                                permission=BlobSasPermissions(read=True), expiry=expiry)
    else:
        return None
    return f"{service.url.rstrip('/')}/{container_name}/{quote(blob_name)}?{sas}"


def _delegation_key_until(service: BlobServiceClient, expiry: datetime) -> UserDelegationKey:
    """A user delegation key still valid at `expiry`: the cached one, or a new one valid
    `_DELEGATION_LIFETIME` past it, fetched by one request while the others wait for it
    (see _KEY_WAIT_S). Raises DependencyUnavailable: the fetch failed (or one did less than
    _KEY_RETRY_S ago), or another request's fetch did not end in time."""
    global _delegation_key, _key_fetch, _key_failed_at
    with _delegation_lock:
        if (key := _valid_at(_delegation_key, expiry)) is not None:
            return key
        failed_lately = _key_failed_at is not None and time.monotonic() - _key_failed_at < _KEY_RETRY_S
        if failed_lately and service is _client:
            raise DependencyUnavailable("the storage gave no user delegation key")
        fetch = _key_fetch
        # A fetch through a client that close_client() has dropped is no one's to wait for.
        leading = fetch is None or fetch.service is not service
        if leading:
            fetch = _key_fetch = _KeyFetch(service)
    assert fetch is not None
    if not leading:
        # No lock is held while waiting: a stalled fetch holds up only the requests that
        # need a key, and each for at most _KEY_WAIT_S.
        fetch.done.wait(_KEY_WAIT_S)
        with _delegation_lock:
            key = _valid_at(_delegation_key, expiry)
        if key is None:
            raise DependencyUnavailable("the storage has given no user delegation key yet")
        return key
    try:
        start = datetime.now(UTC) - _CLOCK_SKEW
        with _translated("user delegation key"):
            key = service.get_user_delegation_key(start, expiry + _DELEGATION_LIFETIME)
    except AppError:
        with _delegation_lock:
            if service is _client:
                _key_failed_at = time.monotonic()
        raise
    else:
        with _delegation_lock:
            if service is _client:  # not a client that close_client() has dropped meanwhile
                _delegation_key, _key_failed_at = key, None
        return key
    finally:  # after the key is kept: the requests waiting for it find it
        with _delegation_lock:
            if _key_fetch is fetch:
                _key_fetch = None
        fetch.done.set()


def _valid_at(key: UserDelegationKey | None, expiry: datetime) -> UserDelegationKey | None:
    """`key` if it is still valid at `expiry`."""
    return key if key is not None and datetime.fromisoformat(str(key.signed_expiry)) >= expiry else None


def ping() -> None:
    """Make one real request to the storage account. Raises DependencyUnavailable."""
    with _translated("storage account"):
        service = _service()
        if get_settings().storage_identity is None:
            service.get_account_information()
        else:
            # The identity's Blob Data role surely grants user delegation keys, which thumbnail
            # URLs need anyway; Get Account Information takes a permission of its own.
            now = datetime.now(UTC)
            service.get_user_delegation_key(now - _CLOCK_SKEW, now + timedelta(minutes=5))
