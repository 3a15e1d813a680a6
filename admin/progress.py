"""A progress bar on stderr for operator commands: the count, the total once known, and the rate."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol


class Progress(Protocol):
    def __call__(self, done: int, total: int | None = None) -> None: ...


@contextmanager
def progress_bar(unit: str) -> Iterator[Progress]:
    """A callable `progress(done, total)` drawing the bar, closed when the block ends."""
    from tqdm import tqdm

    bar = tqdm(unit=f" {unit}", dynamic_ncols=True, mininterval=0.5)

    def update(done: int, total: int | None = None) -> None:
        if total is not None and bar.total != total:
            bar.total = total
            bar.refresh()
        bar.update(done - bar.n)

    try:
        yield update
    finally:
        bar.close()
