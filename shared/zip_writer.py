"""A ZIP archive written as a stream, with memory that stays flat however many entries it
holds.

Python's zipfile keeps a ZipInfo object for every entry until it writes the central
directory at the end (several hundred bytes each), and streaming libraries such as
stream-zip keep that directory's bytes in memory for the same reason: the directory comes
after the data. Here each entry's directory record goes to a temporary file as soon as
the entry is written, and is copied out at the end. The output is only ever appended to
(a blob's block upload, a pipe): sizes and CRCs follow each entry's data in a data
descriptor, and every entry is ZIP64, so no size or offset limit applies. Layout as
PKWARE's APPNOTE 6.3 (4.3.7 local header, 4.3.9 data descriptor, 4.3.12 central
directory, 4.3.14-16 ZIP64 end records, 4.5.3 the ZIP64 extra field).
"""

from __future__ import annotations

import struct
import tempfile
import zlib
from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

_VERSION = 45  # ZIP64
_MADE_BY = (3 << 8) | _VERSION  # Unix, so that the file mode below counts
_FLAGS = 0x0008 | 0x0800  # sizes in a data descriptor; UTF-8 names
_STORED, _DEFLATED = 0, 8
_FILE_MODE = 0o100644 << 16
_FULL32, _FULL16 = 0xFFFFFFFF, 0xFFFF
_CHUNK = 1 << 16


class Output(Protocol):
    """Where an archive goes: written to, never sought or told."""

    def write(self, data: bytes, /) -> int: ...


class ZipWriter:
    """Writes entries one after another to `out`, which is only written to (never sought
    or told); `close()` writes the central directory. Entry names are the caller's: no
    two may be the same."""

    def __init__(self, out: Output, *, modified: datetime) -> None:
        self._out = out
        self._offset = 0
        self._count = 0
        self._directory = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        self._directory_size = 0
        self._time = ((modified.hour << 11) | (modified.minute << 5) | (modified.second // 2))
        self._date = (((max(modified.year, 1980) - 1980) << 9) | (modified.month << 5) | modified.day)

    def write(self, name: str, chunks: bytes | Iterable[bytes], *, compress: bool) -> None:
        """Add an entry holding `chunks` (or those bytes), deflated when `compress` (not
        for pictures, which are compressed already)."""
        encoded = name.encode()
        method = _DEFLATED if compress else _STORED
        header_offset = self._offset
        # Sizes unknown yet: 0xFFFFFFFF and a ZIP64 extra field of zeros (APPNOTE 4.5.3),
        # the real values following the data in an 8-byte-size data descriptor.
        self._emit(struct.pack("<IHHHHHIIIHH", 0x04034B50, _VERSION, _FLAGS, method, self._time,
                               self._date, 0, _FULL32, _FULL32, len(encoded), 20))
        self._emit(encoded + struct.pack("<HHQQ", 0x0001, 16, 0, 0))
        crc, size, written = 0, 0, 0
        deflate = zlib.compressobj(6, zlib.DEFLATED, -15) if compress else None
        for chunk in ([chunks] if isinstance(chunks, bytes) else chunks):
            crc = zlib.crc32(chunk, crc)
            size += len(chunk)
            data = deflate.compress(chunk) if deflate else chunk
            written += len(data)
            self._emit(data)
        if deflate:
            tail = deflate.flush()
            written += len(tail)
            self._emit(tail)
        self._emit(struct.pack("<IIQQ", 0x08074B50, crc, written, size))
        record = struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, _MADE_BY, _VERSION, _FLAGS, method,
                             self._time, self._date, crc, _FULL32, _FULL32, len(encoded), 28, 0, 0, 0,
                             _FILE_MODE, _FULL32)
        record += encoded + struct.pack("<HHQQQ", 0x0001, 24, size, written, header_offset)
        self._directory.write(record)
        self._directory_size += len(record)
        self._count += 1

    def close(self) -> None:
        """Write the central directory and the end records. The output is left open."""
        directory_offset = self._offset
        self._directory.seek(0)
        for chunk in iter(lambda: self._directory.read(_CHUNK), b""):
            self._emit(chunk)
        self._directory.close()
        end64_offset = self._offset
        self._emit(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, _MADE_BY, _VERSION, 0, 0, self._count,
                               self._count, self._directory_size, directory_offset))
        self._emit(struct.pack("<IIQI", 0x07064B50, 0, end64_offset, 1))
        # The classic record holds the values that fit it, as APPNOTE 4.4.1.4 asks.
        count = min(self._count, _FULL16)
        self._emit(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, count, count,
                               min(self._directory_size, _FULL32), min(directory_offset, _FULL32), 0))

    def discard(self) -> None:
        """Drop the spooled directory of an archive that will not be finished."""
        self._directory.close()

    def _emit(self, data: bytes) -> None:
        self._out.write(data)
        self._offset += len(data)
