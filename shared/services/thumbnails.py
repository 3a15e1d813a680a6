"""Thumbnails as get-directories and get-picture show them: a read-only URL of the WebP
that the blob trigger wrote, or None while there is none."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from shared import storage
from shared.settings import get_settings

# URLs stay valid for 60 to 90 minutes and are the same within each half hour, so that a
# browser caches a thumbnail across listings instead of loading it again.
_WINDOW_S = 30 * 60
_VALID_S = 60 * 60


def thumbnail_url(blob_name: str | None) -> str | None:
    """A URL reading the thumbnail `blob_name` (from the picture row's metadata: WebP, at
    most 256 px on its longest side, upright) straight from Blob Storage, or None: the
    trigger has not written it yet, the picture does not decode, or the storage connection
    has no account key to sign with. Costs no request."""
    if not blob_name:
        return None
    expiry = datetime.fromtimestamp(time.time() // _WINDOW_S * _WINDOW_S + _WINDOW_S + _VALID_S, UTC)
    return storage.read_url(get_settings().thumbnails_container, blob_name, expiry=expiry)
