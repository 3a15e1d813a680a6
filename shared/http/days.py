"""A range of days in a body ("since", "until"), as exports and accuracy reports take it."""

from __future__ import annotations

from shared.errors import BadRequest
from shared.http.request import Body
from shared.services.days import Days


def days(body: Body) -> Days:
    """"since" and "until", days `YYYY-MM-DD`, each optional. Raises BadRequest."""
    since, until = body.day("since"), body.day("until")
    if since and until and since > until:
        raise BadRequest("since must not be after until")
    return Days(since, until)
