"""The published contract: the OpenAPI 3.1 document of every route (openapi.json, beside
this module), which GET /api/openapi.json serves as it is kept in the repo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DOCUMENT_PATH = Path(__file__).with_name("openapi.json")

# Read once, when the function loads: no file read (and no lock) on a request's path.
_TEXT = DOCUMENT_PATH.read_text(encoding="utf-8")
json.loads(_TEXT)  # a document that is not JSON stops the function from loading


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document, a copy of its own for each caller. It names routes, keys and
    statuses only: no setting, no secret."""
    return json.loads(_TEXT)
