"""The blob trigger's records in the host's storage, shared by every host instance that
watches the same account, as the Functions host keeps them in azure-webjobs-hosts:

- a receipt per blob version, `blobreceipts/<function>/<container>/<blob>/<etag>`, whose
  metadata says where that version stands: `state` (pending, failed, done or poison),
  `attempts` started so far and, after a failure, `next_try`. An attempt is claimed
  atomically across hosts: the receipt is created if none exists (If-None-Match: *) and
  leased for the attempt (renewed while it runs), and the attempt is counted just before
  the function runs, so an attempt whose host died counts too, as a queue's dequeue count does;
- a poison record per given-up version, `webjobs-blobtrigger-poison/...` (the real host
  queues this message; here it is a blob of the same name);
- the scan's high-water mark per watched container, `blobscaninfo/<account>/<container>`.
"""

from __future__ import annotations

import json
import logging
import threading
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobLeaseClient, ContainerClient

from devhost.blob_listing import BlobLister

HOSTS_CONTAINER = "azure-webjobs-hosts"
RECEIPTS = "blobreceipts"
POISON = "webjobs-blobtrigger-poison"
SCAN_INFO = "blobscaninfo"
LEASE_S = 60  # the longest fixed lease; renewed every third of it while an attempt runs

log = logging.getLogger("devhost.blob")


@dataclass(frozen=True)
class BlobVersion:
    """One version of one blob, as one function sees it."""

    function: str
    container: str
    name: str
    etag: str

    @property
    def path(self) -> str:
        return f"{self.container}/{self.name}"

    @property
    def receipt(self) -> str:
        return f"{RECEIPTS}/{self.function}/{self.container}/{self.name}/{self.etag}"


@dataclass
class Claim:
    """The right to run one attempt on a version: the receipt's lease, kept until finish()."""

    version: BlobVersion
    attempt: int  # the number of this attempt, counted by Receipts.start()
    lease: BlobLeaseClient
    _stop: threading.Event
    _renewer: threading.Thread

    def stop_renewing(self) -> None:
        self._stop.set()
        self._renewer.join()


@dataclass(frozen=True)
class Unsettled:
    """A version that has a receipt but is neither done nor poison (found at start-up)."""

    version: BlobVersion
    next_try: datetime | None


class Receipts:
    """The receipts, poison records and scan marks in the host's storage container."""

    def __init__(self, hosts: ContainerClient, lister: BlobLister) -> None:
        self._hosts = hosts
        self._lister = lister

    def load(self, function: str, container: str) -> tuple[set[BlobVersion], list[Unsettled]]:
        """The versions of `container` that `function` is done with (done or poison), and the
        others that have a receipt, in one listing."""
        with suppress(ResourceExistsError):
            self._hosts.create_container()
        prefix = f"{RECEIPTS}/{function}/{container}/"
        settled: set[BlobVersion] = set()
        unsettled: list[Unsettled] = []
        for page in self._lister.pages(HOSTS_CONTAINER, prefix=prefix, metadata=True):
            for blob in page.blobs:
                name, _, etag = blob.name[len(prefix):].rpartition("/")
                version = BlobVersion(function, container, name, etag)
                if blob.metadata.get("state") in ("done", "poison"):
                    settled.add(version)
                else:
                    unsettled.append(Unsettled(version, _next_try(blob.metadata)))
        return settled, unsettled

    def claim(self, version: BlobVersion, now: datetime) -> Claim | datetime | None:
        """Claim the next attempt on `version`: a Claim to run it now, the time before which
        it must not be tried (after a failure, or while another host holds it), or None
        when it is settled (done or poison). Raises AzureError."""
        client = self._hosts.get_blob_client(version.receipt)
        with suppress(ResourceExistsError):
            client.upload_blob(b"", overwrite=False, metadata={"state": "pending", "attempts": "0"})
        lease = BlobLeaseClient(client)
        try:
            lease.acquire(lease_duration=LEASE_S)
        except HttpResponseError as exc:
            if exc.status_code != 409:  # 409: another host holds the lease
                raise
            return now + timedelta(seconds=LEASE_S)
        try:
            metadata = client.get_blob_properties(lease=lease).metadata or {}
            if metadata.get("state") in ("done", "poison"):
                lease.release()
                return None
            next_try = _next_try(metadata)
            if next_try is not None and next_try > now:
                lease.release()
                return next_try
        except BaseException:
            with suppress(AzureError):
                lease.release()
            raise
        stop = threading.Event()
        renewer = threading.Thread(target=_renew, args=(lease, stop), daemon=True,
                                   name=f"lease-{version.etag}")
        renewer.start()
        return Claim(version, int(metadata.get("attempts", "0")) + 1, lease, stop, renewer)

    def start(self, claim: Claim) -> None:
        """Count the claimed attempt, just before the function runs: an attempt whose host
        dies counts too. Raises AzureError."""
        self._hosts.get_blob_client(claim.version.receipt).set_blob_metadata(
            {"state": "pending", "attempts": str(claim.attempt)}, lease=claim.lease)

    def finish(self, claim: Claim, state: str, next_try: datetime | None = None) -> None:
        """Record how the claimed attempt ended and release the receipt. Raises AzureError."""
        claim.stop_renewing()
        metadata = {"state": state, "attempts": str(claim.attempt)}
        if next_try is not None:
            metadata["next_try"] = next_try.isoformat()
        client = self._hosts.get_blob_client(claim.version.receipt)
        try:
            client.set_blob_metadata(metadata, lease=claim.lease)
        finally:
            with suppress(AzureError):
                claim.lease.release()

    def abandon(self, claim: Claim) -> None:
        """Release a claim without recording how it ended (the host's storage failed): the
        attempt, if started, stays counted and the version is tried again."""
        claim.stop_renewing()
        with suppress(AzureError):
            claim.lease.release()

    def write_poison(self, claim: Claim, error: str) -> None:
        """The message the real host queues in webjobs-blobtrigger-poison, plus the last error."""
        v = claim.version
        message = {
            "Type": "BlobTrigger", "FunctionId": v.function, "BlobType": "BlockBlob",
            "ContainerName": v.container, "BlobName": v.name, "ETag": v.etag,
            "Attempts": claim.attempt, "Error": error,
        }
        name = f"{POISON}/{v.function}/{v.path}/{v.etag}"
        self._hosts.upload_blob(name, json.dumps(message), overwrite=True)

    def poisoned(self, function: str, container: str) -> list[dict[str, Any]]:
        """The poison records of `function` on `container`, oldest first."""
        blobs = sorted(self._hosts.list_blobs(name_starts_with=f"{POISON}/{function}/{container}/"),
                       key=lambda b: b.last_modified)
        return [json.loads(self._hosts.download_blob(b.name).readall()) for b in blobs]

    def scan_mark(self, account: str, container: str) -> datetime | None:
        """The stored high-water mark of the scans of `container`, if any."""
        try:
            data = self._hosts.download_blob(f"{SCAN_INFO}/{account}/{container}").readall()
        except ResourceNotFoundError:
            return None
        return datetime.fromisoformat(json.loads(data)["LatestScan"])

    def save_scan_mark(self, account: str, container: str, mark: datetime) -> None:
        self._hosts.upload_blob(f"{SCAN_INFO}/{account}/{container}",
                                json.dumps({"LatestScan": mark.isoformat()}), overwrite=True)


def _next_try(metadata: dict[str, str]) -> datetime | None:
    value = metadata.get("next_try")
    return datetime.fromisoformat(value) if value else None


def _renew(lease: BlobLeaseClient, stop: threading.Event) -> None:
    while not stop.wait(LEASE_S / 3):
        try:
            lease.renew()
        except AzureError as exc:
            # The attempt goes on; if the lease is lost, another host may start one too.
            log.warning("could not renew the lease of a blob receipt: %s", type(exc).__name__)
