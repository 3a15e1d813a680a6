"""Dataset export: the analysts' verified data as one ZIP, for training in Azure ML or any
COCO tool (`manage.py export` and POST /api/export-dataset).

The archive holds every validated picture that the filters pick, its file under
`images/<picture id>.<ext>`, with its verified valid boxes (manual ones included, boxes
marked not a seed left out, moved ones where they were moved to), or for a batch import
its species as a picture-level label; the dataset files of the format (shared.datasets);
`split.csv` (picture_id, file_name, split, stratum); and `manifest.json` (what was asked,
what was written).

No connection is held while pictures are read, re-encoded and written: the picked rows
(one query, one snapshot: each with its boxes and split) and then the catalogue are read
in one transaction that does nothing but read them, into a temporary file; the rest of the
export goes through that file. It streams: the rows are spooled as they come, the
pictures go into the archive one at a time (read, written, forgotten; the next
READ_AHEAD are read meanwhile, so that storage round trips overlap), the dataset files are
spooled to temporary files until the pictures are written, and the archive goes out as it
is made (to a file, or to a blob block by block): memory stays flat whatever the count. A
picture whose blob is gone (its folder deleted meanwhile) is skipped and counted; one
moved to the archive meanwhile is read where it went.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from shared import images, storage
from shared.datasets.azureml_jsonl import AzureMLDataset
from shared.datasets.coco import CocoDataset
from shared.datasets.spool import RowSpool, Spool
from shared.db import connection
from shared.db.pool import Connection
from shared.db.queries import datasets
from shared.db.queries.datasets import UNNAMED_SEED, DatasetFilter, DatasetPicture
from shared.errors import BadRequest, Conflict, NotFound, PayloadTooLarge, UnsupportedMediaType
from shared.parallel import ahead
from shared.services.days import Days
from shared.settings import get_settings
from shared.zip_writer import Output, ZipWriter

log = logging.getLogger(__name__)

FORMATS = ("coco", "azureml")
URL_VALID_S = 24 * 3600  # how long the answer's URL reads the archive
READ_AHEAD = 8  # pictures being read while the ones before them are written


@dataclass(frozen=True)
class ExportSpec:
    """What to export, and how (shared.http.export checks what a caller sends)."""

    format: str  # of FORMATS
    uploaded: Days = field(default_factory=Days)  # pictures uploaded on these days
    species: tuple[str, ...] = ()  # pictures labelled with at least one of these; () all
    pipeline: str | None = None  # pictures verified from an inference of this pipeline
    validation_fraction: float = 0.2  # in [0, 1)
    split_seed: str = "nachet"
    image_url_prefix: str | None = None  # azureml: where the pictures will be; None: a default


@dataclass(frozen=True)
class BlobExport:
    """POST /api/export-dataset: an export into the exports container."""

    spec: ExportSpec
    name: str | None  # the archive's name without .zip (a path segment); None: from format and time


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote."""

    name: str
    format: str
    pictures: int  # written, with boxes or labelled as a whole
    boxes: int
    image_labels: int  # pictures labelled as a whole (batch imports)
    train: int
    validation: int
    skipped: int  # picked, but their file was gone or unreadable


class _Dataset(Protocol):
    def add(self, picture: DatasetPicture, file_name: str, file_format: str, split: str) -> None: ...
    def files(self) -> Iterator[tuple[str, Iterator[bytes]]]: ...
    def close(self) -> None: ...


def export_name(spec: ExportSpec, now: datetime) -> str:
    """The default name of an archive (without .zip)."""
    return f"nachet-{spec.format}-{now:%Y%m%dT%H%M%SZ}"


def default_image_url_prefix(name: str) -> str:
    """Where Azure ML finds the pictures when the unzipped archive is uploaded to the
    workspace's default datastore under `name`/."""
    return f"azureml://datastores/workspaceblobstore/paths/{name}/"


def write_export(
    spec: ExportSpec, out: Output, *, name: str,
    progress: Callable[[int, int], None] | None = None,
) -> ExportSummary:
    """Write the archive of `spec` to `out` (only written to); call `progress(done, total)`
    after each picture. Raises BadRequest (an unknown species), NotFound (an unknown
    pipeline), DependencyUnavailable; `out`'s own errors propagate.
    """
    now = datetime.now(UTC)
    archive = ZipWriter(out, modified=now)
    picked: RowSpool[DatasetPicture] = RowSpool()
    split_rows = Spool()
    dataset: _Dataset | None = None
    counts = dict.fromkeys(("pictures", "boxes", "image_labels", "train", "validation", "skipped"), 0)
    try:
        categories = _pick(spec, picked)
        dataset = _dataset(spec, categories, name, now)
        reads = ahead(_fetch, picked.rows(), window=READ_AHEAD, name="export-read")
        for done, (picture, fetched) in enumerate(reads, start=1):
            file = _file(picture, fetched)
            if file is None:
                counts["skipped"] += 1
            else:
                file_name = f"images/{picture.id}.{file.extension}"
                archive.write(file_name, file.data, compress=False)
                file_format = file.extension
                split = "validation" if picture.validation else "train"
                dataset.add(picture, file_name, file_format, split)
                split_rows.add(f"{picture.id},{file_name},{split},{categories[picture.stratum]}\n".encode())
                counts["pictures"] += 1
                counts[split] += 1
                counts["boxes"] += len(picture.boxes or [])
                counts["image_labels"] += picture.image_category is not None
            if progress is not None:
                progress(done, picked.count)
        for entry, chunks in dataset.files():
            archive.write(entry, chunks, compress=True)
        archive.write("split.csv", _with_header(b"picture_id,file_name,split,stratum\n", split_rows.chunks()),
                      compress=True)
        summary = ExportSummary(name=name, format=spec.format, **counts)
        archive.write("manifest.json", _manifest(spec, summary, name, now, len(categories)), compress=True)
        archive.close()
    except BaseException:
        archive.discard()
        raise
    finally:
        picked.close()
        split_rows.close()
        if dataset is not None:
            dataset.close()
    return summary


def export_to_blob(req: BlobExport, *, progress: Callable[[int, int], None] | None = None) -> dict:
    """Write the archive into the exports container as `<name>.zip` (committed only when
    whole; `progress` as for write_export); answer where it is, a URL that reads it for 24
    hours (None when the storage connection cannot sign one), and what it holds.

    Raises Conflict (an archive of that name exists, or was written meanwhile by
    another export of that name), BadRequest, NotFound,
    DependencyUnavailable.
    """
    settings = get_settings()
    now = datetime.now(UTC)
    name = req.name or export_name(req.spec, now)
    blob = f"{name}.zip"
    exists = Conflict(f"an export named {blob} exists already")
    try:
        storage.last_modified(settings.exports_container, blob)
    except NotFound:
        pass
    else:
        raise exists
    try:
        with storage.block_upload(settings.exports_container, blob, content_type="application/zip") as writer:
            summary = write_export(req.spec, writer, name=name, progress=progress)
    except Conflict:
        # Another export of that name committed first: its archive stays, whole.
        raise exists from None
    expires = now + timedelta(seconds=URL_VALID_S)
    return {
        "container": settings.exports_container,
        "blob": blob,
        "size_bytes": writer.size,
        "url": storage.read_url(settings.exports_container, blob, expiry=expires),
        "url_expires": expires.isoformat(),
        **asdict(summary),
    }


def _pick(spec: ExportSpec, picked: RowSpool[DatasetPicture]) -> dict[int, str]:
    """Spool the pictures that `spec` picks into `picked` and answer the categories by
    number, in one short transaction. The catalogue is read after the pictures, so that
    it names every seed they hold (see datasets.list_categories). Raises BadRequest,
    NotFound (see _filter), DependencyUnavailable."""
    with connection() as conn:
        where = _filter(conn, spec)
        for picture in datasets.stream_pictures(conn, where, validation_fraction=spec.validation_fraction,
                                                split_seed=spec.split_seed):
            picked.add(picture)
        return {c.id: c.name for c in datasets.list_categories(conn)} | {UNNAMED_SEED: "seed"}


def _filter(conn: Connection, spec: ExportSpec) -> DatasetFilter:
    """The query's filter. Raises BadRequest (unknown species), NotFound (unknown pipeline)."""
    seed_ids = None
    if spec.species:
        found = datasets.find_seed_ids(conn, list(spec.species))
        unknown = [name for name in spec.species if name not in found]
        if unknown:
            raise BadRequest(f"no seed named {', '.join(map(repr, unknown))} in the catalogue")
        seed_ids = list(found.values())
    if spec.pipeline is not None and not datasets.pipeline_exists(conn, spec.pipeline):
        raise NotFound(f"no pipeline named {spec.pipeline!r}")
    return DatasetFilter(
        uploaded_from=spec.uploaded.start,
        uploaded_before=spec.uploaded.end,
        species=seed_ids,
        pipeline=spec.pipeline,
    )


def _dataset(spec: ExportSpec, categories: dict[int, str], name: str, now: datetime) -> _Dataset:
    if spec.format == "coco":
        return CocoDataset(categories, description=f"Nachet verified seeds, export {name}", created=now)
    prefix = spec.image_url_prefix or default_image_url_prefix(name)
    return AzureMLDataset(categories, image_url_prefix=prefix)


@dataclass(frozen=True)
class _File:
    """A picture's file as the archive holds it (images.training_file)."""

    data: bytes
    extension: str


def _fetch(picture: DatasetPicture, blob_name: str | None = None) -> _File | None:
    """The picture's file (from `blob_name` when given), or None when it cannot be read
    as a picture. Raises NotFound (no blob of that name), DependencyUnavailable."""
    settings = get_settings()
    data = storage.download(settings.pictures_container, blob_name or picture.blob_name)
    try:
        return _File(*images.training_file(data, max_pixels=settings.max_image_pixels))
    except (UnsupportedMediaType, PayloadTooLarge) as exc:
        log.warning("export skipped picture %s: %s", picture.id, exc.message)
        return None


def _file(picture: DatasetPicture, fetched: Future[_File | None]) -> _File | None:
    """The file that was read for the picture; read where the picture is now if it moved
    since the query (its folder was archived), or None when it is gone."""
    try:
        return fetched.result()
    except NotFound:
        tried = picture.blob_name
    while (moved := _blob_name_now(picture)) not in (None, tried):
        try:
            return _fetch(picture, moved)
        except NotFound:
            tried = moved
    log.warning("export skipped picture %s: its blob is gone", picture.id)
    return None


def _blob_name_now(picture: DatasetPicture) -> str | None:
    with connection() as conn:
        return datasets.current_blob_name(conn, picture.id)


def _with_header(header: bytes, chunks: Iterator[bytes]) -> Iterator[bytes]:
    yield header
    yield from chunks


def _manifest(spec: ExportSpec, summary: ExportSummary, name: str, now: datetime, categories: int) -> bytes:
    manifest = {
        "name": name,
        "format": spec.format,
        "created_at": now.isoformat(),
        "filters": {**spec.uploaded.as_json(), "species": list(spec.species), "pipeline": spec.pipeline},
        "split": {"validation_fraction": spec.validation_fraction, "seed": spec.split_seed,
                  "stratified_by": "species"},
        "image_url_prefix": (spec.image_url_prefix or default_image_url_prefix(name)
                             if spec.format == "azureml" else None),
        "categories": categories,
        "counts": {k: v for k, v in asdict(summary).items() if k not in ("name", "format")},
    }
    return json.dumps(manifest, indent=2).encode()

