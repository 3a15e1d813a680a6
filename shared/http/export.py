"""The body of POST /api/export-dataset, as services.export takes it."""

from __future__ import annotations

from shared.http.request import Request
from shared.services.days import Days
from shared.services.export import BlobExport, ExportSpec


def blob_export(request: Request) -> BlobExport:
    """{"format", "since", "until", "species", "pipeline", "validation_fraction",
    "split_seed", "image_url_prefix", "name"}: all but format optional. Raises BadRequest."""
    body = request.body
    fraction = body.number("validation_fraction", required=False)
    return BlobExport(
        spec=ExportSpec(
            format=body.text("format", max_length=20),
            uploaded=Days(body.day("since"), body.day("until")),
            species=tuple(body.texts("species", max_length=200)),
            pipeline=body.text("pipeline", required=False, max_length=200) or None,
            validation_fraction=0.2 if fraction is None else fraction,
            split_seed=body.text("split_seed", required=False, max_length=100) or "nachet",
            image_url_prefix=body.text("image_url_prefix", required=False, max_length=1000) or None,
        ),
        name=body.text("name", required=False, max_length=200) or None,
    )
