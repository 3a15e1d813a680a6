"""How a pipeline run tells its caller that it only waits on remote models from now on.

A crop classifier calls models_waiting() once it has sent (or queued) every crop: the
caller's work that runs beside the models (run_pipeline's `beside`: storing the picture,
making its thumbnail) starts then, in the classifier's waits, rather than competing with
the pipeline's own work on the way to the first calls (decoding the picture, cutting and
encoding crops) for the CPU and the GIL."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_listener: ContextVar[Callable[[], None] | None] = ContextVar("models_waiting", default=None)


@contextmanager
def on_models_waiting(callback: Callable[[], None]) -> Iterator[None]:
    """In the block, models_waiting() calls `callback`, in the caller's thread."""
    token = _listener.set(callback)
    try:
        yield
    finally:
        _listener.reset(token)


def models_waiting() -> None:
    """Everything the calling adapter sends is sent or queued: its run only waits for answers now."""
    callback = _listener.get()
    if callback is not None:
        callback()
