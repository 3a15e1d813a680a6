"""Temporary files that keep an export's memory flat: the parts of a file written after
the pictures (a ZIP takes one entry at a time), and the picked rows, read in one short
transaction and gone through afterwards, while no connection is held."""

from __future__ import annotations

import pickle
import tempfile
from collections.abc import Iterator
from typing import Generic, TypeVar

_CHUNK = 1 << 16
T = TypeVar("T")


class Spool:
    """Items appended to a temporary file, with `separator` between two of them."""

    def __init__(self, separator: bytes = b"") -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        self._separator = separator
        self.count = 0

    def add(self, item: bytes) -> None:
        if self.count and self._separator:
            self._file.write(self._separator)
        self._file.write(item)
        self.count += 1

    def chunks(self) -> Iterator[bytes]:
        """What was added, from the start, a chunk at a time."""
        self._file.seek(0)
        yield from iter(lambda: self._file.read(_CHUNK), b"")

    def close(self) -> None:
        self._file.close()


class RowSpool(Generic[T]):
    """Rows appended to a temporary file and read back in order, one at a time. Pickled:
    the file is this process's own, written and read by it alone."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        self.count = 0

    def add(self, row: T) -> None:
        pickle.dump(row, self._file, protocol=pickle.HIGHEST_PROTOCOL)
        self.count += 1

    def rows(self) -> Iterator[T]:
        """The rows added, from the first."""
        self._file.seek(0)
        for _ in range(self.count):
            yield pickle.load(self._file)

    def close(self) -> None:
        self._file.close()
