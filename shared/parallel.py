"""Work done a few items ahead, in threads, and handed back in order: reads and model calls
overlap, and no more than a window of results is ever held."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import copy_context
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def ahead(
    work: Callable[[T], R], items: Iterable[T], *, window: int, name: str,
) -> Iterator[tuple[T, Future[R]]]:
    """Each item in order with the future of `work(item)`, started up to `window` items
    early in `window` threads (named `name`). A failure is the future's to raise; work not
    started when the caller stops is cancelled, work started is waited for."""
    pending: deque[tuple[T, Future[R]]] = deque()
    with ThreadPoolExecutor(window, thread_name_prefix=name) as pool:
        try:
            for item in items:
                # In a copy of the caller's context: the work's spans are its request's (shared.telemetry).
                pending.append((item, pool.submit(copy_context().run, work, item)))
                if len(pending) >= window:
                    yield pending.popleft()
            while pending:
                yield pending.popleft()
        finally:
            for _, future in pending:
                future.cancel()
