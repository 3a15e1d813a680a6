"""`python manage.py repair [--dry-run] [--grace-minutes N]`: find and fix what a crash left
between pictures' blobs and rows.

Writes upload a blob, then commit its row; deletes commit, then delete blobs (DATA.md).
A crash in between leaves a blob without a row: such blobs, and thumbnails whose picture
has no row, last written longer ago than the grace period (so that an upload in flight is
left alone), are deleted. A row whose
blob is missing cannot come from such a crash and is never deleted here: it is reported,
and the command exits 1, for an operator to look at.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from shared import storage
from shared.db import connection
from shared.db.queries import pictures
from shared.errors import AppError, NotFound
from shared.picture_blobs import thumbnail_blob_name
from shared.settings import get_settings

DEFAULT_GRACE_MINUTES = 10.0


@dataclass(frozen=True)
class RepairReport:
    """What the repair found, and did unless it was a dry run. Blobs are named
    `<container>/<blob name>`."""

    deleted_blobs: list[str]  # pictures and thumbnails without a row, older than the grace period
    failed_blobs: list[str]  # of those, the ones whose delete failed
    recent_blobs: list[str]  # without a row but younger: probably an upload in flight
    missing_blobs: list[tuple[UUID, str]]  # (picture id, blob name) of rows without a blob


def repair(*, grace_minutes: float = DEFAULT_GRACE_MINUTES, dry_run: bool = False) -> RepairReport:
    """Compare the pictures and thumbnails containers with the picture rows; delete the
    blobs without a row older than `grace_minutes` (unless `dry_run`). Raises
    DependencyUnavailable."""
    settings = get_settings()
    # Blobs are listed before rows: a blob written after the listing is not looked at, and
    # a row committed after it was listed is seen below, so a live upload is never deleted.
    pictures_blobs = storage.list_modified(settings.pictures_container)
    thumbnails = storage.list_modified(settings.thumbnails_container)
    with connection() as conn:
        rows = dict(pictures.iter_blob_names(conn))
    cutoff = datetime.now(UTC) - timedelta(minutes=grace_minutes)
    old: list[str] = []
    recent: list[str] = []
    for container, blobs, referenced in (
        (settings.pictures_container, pictures_blobs, set(rows.values())),
        (settings.thumbnails_container, thumbnails, {thumbnail_blob_name(n) for n in rows.values()}),
    ):
        for name in sorted(blobs):
            if name not in referenced:
                (old if blobs[name] <= cutoff else recent).append(f"{container}/{name}")
    failed = []
    if not dry_run:
        for path in old:
            container, _, name = path.partition("/")
            try:
                storage.delete(container, name)
            except AppError:
                failed.append(path)
    return RepairReport(
        deleted_blobs=old,
        failed_blobs=failed,
        recent_blobs=recent,
        missing_blobs=[(i, n) for i, n in sorted(rows.items(), key=lambda r: r[1])
                       if n not in pictures_blobs and not _exists(settings.pictures_container, n)],
    )


def _exists(container: str, name: str) -> bool:
    # A row may point at a blob written after the listing (an upload, an archive copy).
    try:
        storage.last_modified(container, name)
    except NotFound:
        return False
    return True


def _run(args: argparse.Namespace) -> int:
    report = repair(grace_minutes=args.grace_minutes, dry_run=args.dry_run)
    verb = "would delete" if args.dry_run else "deleted"
    for name in report.deleted_blobs:
        print(f"{verb} blob without a row: {name}")
    for name in report.failed_blobs:
        print(f"could not delete blob: {name}")
    for name in report.recent_blobs:
        print(f"kept blob without a row, written within {args.grace_minutes:g} min: {name}")
    for picture_id, name in report.missing_blobs:
        print(f"row without a blob: picture {picture_id} ({name})")
    print(
        f"{verb} {len(report.deleted_blobs) - len(report.failed_blobs)} blob(s); "
        f"{len(report.recent_blobs)} recent blob(s) kept; "
        f"{len(report.missing_blobs)} row(s) without a blob"
    )
    return 1 if report.missing_blobs or report.failed_blobs else 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `repair` command."""
    parser = subparsers.add_parser(
        "repair", help="delete blobs left without rows by a crash; report rows without blobs"
    )
    parser.add_argument("--dry-run", action="store_true", help="report only, delete nothing")
    parser.add_argument(
        "--grace-minutes", type=float, default=DEFAULT_GRACE_MINUTES,
        help=f"leave blobs written this recently alone (default {DEFAULT_GRACE_MINUTES:g})",
    )
    parser.set_defaults(run=_run)
