"""shared/zip_writer.py: the streamed archive that exports write, read back by Python's
zipfile (every entry's CRC checked), past the classic format's 65,535 entries."""

from __future__ import annotations

import io
import os
import zipfile
from datetime import datetime

from shared.zip_writer import ZipWriter


class AppendOnly:
    """An output that can only be written to, as a blob upload or a pipe."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, chunk: bytes) -> int:
        self.data += chunk
        return len(chunk)


def test_entries_stored_and_deflated_read_back_whole():
    out = AppendOnly()
    writer = ZipWriter(out, modified=datetime(2024, 6, 30, 14, 5, 7))
    noise = os.urandom(300_000)
    writer.write("images/é.png", noise, compress=False)
    writer.write("annotations/train.json", (b'{"a":%d}' % n for n in range(20_000)), compress=True)
    writer.write("split.csv", iter([b"picture_id\n" * 5_000] * 2), compress=True)
    writer.write("empty.jsonl", b"", compress=True)
    writer.close()
    archive = zipfile.ZipFile(io.BytesIO(bytes(out.data)))
    assert archive.testzip() is None
    infos = {info.filename: info for info in archive.infolist()}
    assert list(infos) == ["images/é.png", "annotations/train.json", "split.csv", "empty.jsonl"]
    assert archive.read("images/é.png") == noise and infos["images/é.png"].compress_type == zipfile.ZIP_STORED
    assert archive.read("annotations/train.json") == b"".join(b'{"a":%d}' % n for n in range(20_000))
    assert infos["split.csv"].compress_size < infos["split.csv"].file_size == 110_000
    assert archive.read("empty.jsonl") == b""
    assert infos["split.csv"].date_time == (2024, 6, 30, 14, 5, 6)  # DOS time: two-second steps


def test_more_entries_than_the_classic_format_holds():
    out = AppendOnly()
    writer = ZipWriter(out, modified=datetime(2024, 1, 1))
    for n in range(70_000):
        writer.write(f"images/{n}.png", b"%d" % n, compress=False)
    writer.close()
    archive = zipfile.ZipFile(io.BytesIO(bytes(out.data)))
    names = archive.namelist()
    assert len(names) == 70_000 and names[-1] == "images/69999.png"
    assert archive.read("images/69999.png") == b"69999"
