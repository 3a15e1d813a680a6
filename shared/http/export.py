"""The input of an export, as services.export takes it: the body of POST
/api/export-dataset, and the options of `manage.py export` read as that body (one rule
for both)."""

from __future__ import annotations

import re
from typing import Any

from shared.errors import BadRequest
from shared.http.days import days
from shared.http.request import Body, Request
from shared.services.export import FORMATS, BlobExport, ExportSpec

# An archive's name goes into a blob name and a file name: one path segment.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def blob_export(request: Request) -> BlobExport:
    """The route's body (see `read_export`). Raises BadRequest."""
    return read_export(request.body)


def read_export(body: Body) -> BlobExport:
    """{"format", "since", "until", "species", "pipeline", "validation_fraction",
    "split_seed", "image_url_prefix", "name"}: all but format optional, ExportSpec's
    defaults for those absent. Raises BadRequest."""
    fmt = body.text("format", max_length=20)
    if fmt not in FORMATS:
        raise BadRequest(f"format must be {' or '.join(FORMATS)}, not {fmt!r}")
    fraction = body.number("validation_fraction", required=False)
    if fraction is not None and not 0 <= fraction < 1:
        raise BadRequest("validation_fraction must be at least 0 and less than 1")
    prefix = body.text("image_url_prefix", required=False, max_length=1000) or None
    if prefix is not None:
        if fmt != "azureml":
            raise BadRequest("image_url_prefix is for the azureml format only")
        if not re.fullmatch(r"azureml://\S+/", prefix):
            raise BadRequest("image_url_prefix must be an azureml:// URL of a datastore folder, "
                             "ending with /")
    name = body.text("name", required=False, max_length=200) or None
    if name is not None and not NAME.fullmatch(name):
        raise BadRequest("name must be letters, digits, '.', '_' or '-' (at most 100), "
                         "starting with a letter or digit")
    given: dict[str, Any] = {
        "pipeline": body.text("pipeline", required=False, max_length=200) or None,
        "validation_fraction": fraction,
        "split_seed": body.text("split_seed", required=False, max_length=100) or None,
        "image_url_prefix": prefix,
    }
    spec = ExportSpec(format=fmt, uploaded=days(body), species=tuple(body.texts("species", max_length=200)),
                      **{key: value for key, value in given.items() if value is not None})
    return BlobExport(spec, name)
