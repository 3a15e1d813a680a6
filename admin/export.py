"""`python manage.py export --format coco|azureml [--out DIR | --blob] [filters]`: the
verified data as one ZIP (shared/services/export.py; README, Datasets)."""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

from admin.progress import progress_bar
from shared.http.export import read_export
from shared.http.request import Body
from shared.services.export import (
    FORMATS,
    ExportSpec,
    default_image_url_prefix,
    export_name,
    export_to_blob,
    write_export,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the export command."""
    parser = subparsers.add_parser(
        "export", help="write the validated pictures and their verified boxes as one ZIP "
                       "(COCO detection or Azure ML JSON Lines), to a folder or the exports container")
    parser.add_argument("--format", choices=FORMATS, required=True,
                        help="coco: COCO detection JSON; azureml: Azure ML AutoML JSON Lines")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--out", type=Path, default=Path("."),
                       help="folder to write <name>.zip into (default .)")
    where.add_argument("--blob", action="store_true", help="write into NACHET_EXPORTS_CONTAINER instead")
    parser.add_argument("--name", help="the archive's name, without .zip (default nachet-<format>-<time>)")
    parser.add_argument("--since", help="pictures uploaded on or after this day (UTC), YYYY-MM-DD")
    parser.add_argument("--until", help="pictures uploaded on or before this day (UTC), YYYY-MM-DD")
    parser.add_argument("--species", action="append", metavar="NAME",
                        help="pictures holding this species (repeat for several)")
    parser.add_argument("--pipeline", help="pictures verified from an inference of this pipeline")
    parser.add_argument("--validation-fraction", type=float,
                        help="share of each species' pictures in the validation split "
                             f"(default {ExportSpec.validation_fraction})")
    parser.add_argument("--split-seed", help=f"seed of the split (default {ExportSpec.split_seed})")
    parser.add_argument("--image-url-prefix",
                        help="azureml: the datastore folder the unzipped archive will be in "
                             f"(default {default_image_url_prefix('<name>')})")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Write the archive; print where it is and what it holds. Raises AppError."""
    # The options are checked as the route checks its body, by the same code.
    req = read_export(Body({key: getattr(args, key) for key in (
        "format", "since", "until", "species", "pipeline", "validation_fraction", "split_seed",
        "image_url_prefix", "name")}))
    name = req.name or export_name(req.spec, datetime.now(UTC))
    if args.blob:
        with progress_bar("pictures") as progress:
            counts = export_to_blob(req, progress=progress)
        where = f"{counts['container']}/{counts['blob']}"
    else:
        path = args.out / f"{name}.zip"
        if path.exists():
            print(f"error: {path} exists", file=sys.stderr)
            return 1
        # A part file of this run's own, linked to the name only if none took it meanwhile
        # (another export of that name): neither writes into the other's file.
        partial = path.with_name(f"{path.name}.{uuid.uuid4().hex[:8]}.part")
        try:
            with partial.open("xb") as out, progress_bar("pictures") as progress:
                summary = write_export(req.spec, out, name=name, progress=progress)
            os.link(partial, path)
        except FileExistsError:
            print(f"error: {path} exists (written meanwhile)", file=sys.stderr)
            return 1
        finally:
            partial.unlink(missing_ok=True)
        where = str(path)
        counts = asdict(summary)
    print(f"wrote {where}: {counts['pictures']} picture(s) ({counts['train']} train, "
          f"{counts['validation']} validation), {counts['boxes']} box(es), "
          f"{counts['image_labels']} labelled as a whole, {counts['skipped']} skipped")
    return 0
