"""Thumbnails as get-directories and get-picture show them: a read-only URL of the WebP
that the blob trigger wrote, or None while there is none."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import lru_cache

from shared import storage
from shared.errors import DependencyUnavailable
from shared.settings import get_settings, on_reset

# URLs stay valid for 60 to 90 minutes and are the same within each half hour, so that a
# browser caches a thumbnail across listings instead of loading it again.
_WINDOW_S = 30 * 60
_VALID_S = 60 * 60


def thumbnail_url(blob_name: str | None) -> str | None:
    """A URL reading the thumbnail `blob_name` (from the picture row's metadata: WebP, at
    most 256 px on its longest side, upright) straight from Blob Storage, or None: the
    trigger has not written it yet, the picture does not decode, the storage connection has
    no account key to sign with, or no user delegation key can be had now. Costs no request
    (but the fetch of a delegation key every few hours)."""
    if not blob_name:
        return None
    expiry_s = time.time() // _WINDOW_S * _WINDOW_S + _WINDOW_S + _VALID_S
    try:
        return _signed_url(get_settings().thumbnails_container, blob_name, expiry_s)
    except DependencyUnavailable:
        # No user delegation key to sign with for now (the storage logged why, once per
        # failed fetch): the picture shows without its thumbnail rather than no listing.
        return None


# Signing costs ~80 µs in the storage SDK: 0.8 s for a listing of 10,000 pictures. The
# client lists its folders after every action, so URLs are kept for their half hour (the
# expiry is in the key; about 8 MB at most).
@lru_cache(maxsize=20_000)
def _signed_url(container: str, blob_name: str, expiry_s: float) -> str | None:
    return storage.read_url(container, blob_name, expiry=datetime.fromtimestamp(expiry_s, UTC))


on_reset(_signed_url.cache_clear)
