"""A storage whose uploads hang until the test lets them go, for the tests of the app's
bounded waits on uploads (shared.picture_blobs.UPLOAD_WAIT_S, cut to half a second)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest


@dataclass
class HungUploads:
    released: threading.Event = field(default_factory=threading.Event)
    written: list[str] = field(default_factory=list)  # the container of each upload that ended


@contextmanager
def hung_uploads(monkeypatch: pytest.MonkeyPatch, *, only: str | None = None) -> Iterator[HungUploads]:
    """Every upload (`only` into that container) waits until the block ends, then writes its blob."""
    from shared import picture_blobs, storage

    hung = HungUploads()
    real_upload = storage.upload

    def upload(container: str, name: str, *args: object, **kwargs: object) -> None:
        if only in (None, container):
            hung.released.wait(60)
        real_upload(container, name, *args, **kwargs)  # type: ignore[arg-type]
        hung.written.append(container)

    monkeypatch.setattr(storage, "upload", upload)
    monkeypatch.setattr(picture_blobs, "UPLOAD_WAIT_S", 0.5)  # instead of a minute
    try:
        yield hung
    finally:
        hung.released.set()


def eventually(condition: Callable[[], bool]) -> None:
    """Wait until `condition` holds: a deadlock detector, not a timing (30 s at most)."""
    deadline = time.monotonic() + 30
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
