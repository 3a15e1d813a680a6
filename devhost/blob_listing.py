"""Lists a container's blobs cheaply, for the blob trigger's scans.

The storage SDK turns each listed blob into a model of some thirty properties: listing
10,000 blobs costs about 2.2 s of CPU that way, against 0.25 s for the same List Blobs
call parsed here for the three facts a scan needs. The call is signed with a container
SAS made from the connection string's account key (no request is made to sign it)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import unquote

import requests
from azure.core.exceptions import HttpResponseError, ServiceRequestError
from azure.storage.blob import BlobServiceClient, ContainerSasPermissions, generate_container_sas

PAGE_SIZE = 5000  # the most one List Blobs call returns


@dataclass(frozen=True)
class ListedBlob:
    """One blob as a listing shows it."""

    name: str
    etag: str  # without quotes
    last_modified: datetime  # UTC, to the second
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Page:
    """One List Blobs answer: its blobs, and the storage's own clock when it answered."""

    blobs: list[ListedBlob]
    date: datetime


class BlobLister:
    """Lists the blobs of the containers of one storage account."""

    def __init__(self, connection_string: str, *, timeout_s: float = 30.0) -> None:
        service = BlobServiceClient.from_connection_string(connection_string)
        key = getattr(service.credential, "account_key", None)
        if not key or not service.account_name:
            raise ValueError("the local host lists blobs with an account key: the connection string has none")
        self._service = service
        self._key: str = key
        self._session = requests.Session()
        self._timeout_s = timeout_s

    def pages(self, container: str, *, prefix: str | None = None, metadata: bool = False) -> Iterator[Page]:
        """The container's blobs (under `prefix`), a page at a time, in name order; nothing
        when the container does not exist. Raises AzureError."""
        url = self._service.get_container_client(container).url
        sas = generate_container_sas(
            self._service.account_name, container, account_key=self._key,  # type: ignore[arg-type]
            permission=ContainerSasPermissions(list=True), expiry=datetime.now(UTC) + timedelta(hours=1),
        )
        params = {"restype": "container", "comp": "list", "maxresults": str(PAGE_SIZE)}
        if prefix:
            params["prefix"] = prefix
        if metadata:
            params["include"] = "metadata"
        marker = ""
        while True:
            try:
                reply = self._session.get(f"{url}?{sas}", params={**params, "marker": marker},
                                          timeout=self._timeout_s)
            except requests.RequestException as exc:
                raise ServiceRequestError(f"listing {container} failed: {type(exc).__name__}") from exc
            if reply.status_code == 404:
                return
            if reply.status_code != 200:
                raise HttpResponseError(f"listing {container} answered {reply.status_code}")
            root = ET.fromstring(reply.content)
            yield Page([_blob(b, metadata) for b in root.iter("Blob")],
                       parsedate_to_datetime(reply.headers["Date"]))
            marker = root.findtext("NextMarker") or ""
            if not marker:
                return

    def close(self) -> None:
        self._session.close()


def _blob(element: ET.Element, with_metadata: bool) -> ListedBlob:
    name_element = element.find("Name")
    assert name_element is not None and name_element.text is not None
    # Names with characters XML cannot hold come URL-encoded.
    name = unquote(name_element.text) if name_element.get("Encoded") == "true" else name_element.text
    props = element.find("Properties")
    assert props is not None
    found = element.find("Metadata") if with_metadata else None
    metadata = {m.tag: m.text or "" for m in found} if found is not None else {}
    return ListedBlob(
        name=name,
        etag=(props.findtext("Etag") or "").strip('"'),
        last_modified=parsedate_to_datetime(props.findtext("Last-Modified") or ""),
        metadata=metadata,
    )
