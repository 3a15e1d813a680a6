"""Parts of a file that is written after the pictures of an export (a ZIP takes one entry
at a time): kept in a temporary file, not in memory, and read back once in chunks."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

_CHUNK = 1 << 16


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
