"""The body of POST /api/model-accuracy, as services.accuracy takes it."""

from __future__ import annotations

from shared.http.request import Request
from shared.services.accuracy import DEFAULT_TOP_N, AccuracyRequest
from shared.services.days import Days


def accuracy_request(request: Request) -> AccuracyRequest:
    """{"pipeline", "since", "until", "top_n", "png"}, all optional. Raises BadRequest."""
    body = request.body
    top_n = body.integer("top_n", required=False)
    return AccuracyRequest(
        pipeline=body.text("pipeline", required=False, max_length=200) or None,
        run=Days(body.day("since"), body.day("until")),
        top_n=DEFAULT_TOP_N if top_n is None else top_n,
        png=body.flag("png"),
    )
