"""The input of an accuracy report, as services.accuracy takes it: the body of POST
/api/model-accuracy, and the options of `manage.py accuracy` read as that body (one rule
for both)."""

from __future__ import annotations

from shared.errors import BadRequest
from shared.http.days import days
from shared.http.request import Body, Request
from shared.services.accuracy import AccuracyRequest

MAX_TOP_N = 100


def accuracy_request(request: Request) -> AccuracyRequest:
    """The route's body (see `read_accuracy`). Raises BadRequest."""
    return read_accuracy(request.body)


def read_accuracy(body: Body) -> AccuracyRequest:
    """{"pipeline", "since", "until", "top_n", "png"}, all optional, AccuracyRequest's
    defaults for those absent. Raises BadRequest."""
    top_n = body.integer("top_n", required=False)
    if top_n is not None and not 1 <= top_n <= MAX_TOP_N:
        raise BadRequest(f"top_n must be from 1 to {MAX_TOP_N}")
    pipeline = body.text("pipeline", required=False, max_length=200) or None
    run = days(body)
    return AccuracyRequest(pipeline, run, png=body.flag("png"),
                           **({} if top_n is None else {"top_n": top_n}))
