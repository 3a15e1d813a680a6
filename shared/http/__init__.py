"""The HTTP edge. A function's main is `handle(req, parse, action)`: `parse` (a module of
this package per area) turns the request into the typed input of `action`, a service
function that knows nothing of HTTP; handle renders its result, or the AppError raised,
as the response of the API contract."""

from __future__ import annotations

import gzip
import json
import logging
import time
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import quote, urlsplit

import azure.functions as func

from shared.db import request_scope
from shared.errors import AppError, ConfigurationError, PayloadTooLarge, megabytes
from shared.http.request import Request
from shared.settings import get_settings
from shared.telemetry import request_span

log = logging.getLogger("nachet.request")

# Every setting is read and validated when a function loads, so that a bad deployment
# fails at start-up naming each bad setting, not in the middle of a request.
get_settings()

Input = TypeVar("Input")


# Bodies from this size on are sent gzipped to a client that accepts it (neither the
# Functions host nor the platform compresses for the app). A listing of 4,000 pictures
# is about 1.5 MB raw and 0.3 MB gzipped; below a kilobyte the gain is a few hundred bytes.
GZIP_MIN_BYTES = 1024
_GZIP_LEVEL = 5  # on that listing: 1% larger than the default level 6, in a third of the time


def json_response(
    value: object, *, status: int = 200, accept_encoding: str | None = None,
) -> func.HttpResponse:
    """`value` as a JSON response, gzipped when large enough and `accept_encoding` (the
    request's Accept-Encoding) takes gzip; NaN and infinities are refused, not sent."""
    body = json.dumps(value, allow_nan=False, separators=(",", ":")).encode()
    # The answer depends on Accept-Encoding, for caches between the client and the app.
    headers = {"Vary": "Accept-Encoding"}
    if len(body) >= GZIP_MIN_BYTES and accepts_gzip(accept_encoding):
        body = gzip.compress(body, compresslevel=_GZIP_LEVEL, mtime=0)
        headers["Content-Encoding"] = "gzip"
    return func.HttpResponse(body, status_code=status, headers=headers, mimetype="application/json",
                             charset="utf-8")


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an Accept-Encoding header takes gzip (RFC 9110 12.5.3): named, or covered by
    `*`, with a weight above zero."""
    weights: dict[str, float] = {}
    for item in (accept_encoding or "").split(","):
        name, _, params = item.partition(";")
        weight = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        weights[name.strip().lower()] = weight
    return weights.get("gzip", weights.get("x-gzip", weights.get("*", 0.0))) > 0


def error_response(status: int, message: str) -> func.HttpResponse:
    """The contract's error: a non-200 status and a JSON array holding one string."""
    return json_response([message], status=status)


_LOGGED_PATH_MAX = 200


def _route(req: func.HttpRequest) -> str:
    """The request's path for the log, which names its function: no query string (it may
    carry user text), cut to _LOGGED_PATH_MAX characters and percent-encoded beyond printable
    ASCII, so that a client's path can neither flood nor forge log lines."""
    try:
        path = urlsplit(req.url).path
    except ValueError:  # a Host header that names no host
        path = "-"
    cut = path[:_LOGGED_PATH_MAX] + ("..." if len(path) > _LOGGED_PATH_MAX else "")
    return quote(cut, safe="/%:@!$&'()*+,;=-._~", errors="backslashreplace")


def handle(
    req: func.HttpRequest, parse: Callable[[Request], Input], action: Callable[[Input], object], *,
    identify: bool = True, keep_connection: bool = False, context: func.Context | None = None,
) -> func.HttpResponse:
    """Run `action` on what `parse` makes of `req`, and render its result as a 200 JSON
    response.

    With `identify`, the caller must be known before anything else is looked at
    (outside local mode, where identity comes from the platform). The only
    catch-all of the app: an AppError is answered with its status and message,
    anything else is logged and answered 500 without details. `context` is the one the
    worker passes to main: the request's span (shared.telemetry) joins the host's trace.

    `keep_connection` lets the caller lookup's database connection serve the route's
    first block too (db.request_scope): only for routes whose work opens a block at once.
    A route that first reads a picture or calls a model must not hold a connection of
    the small pool meanwhile.
    """
    started = time.perf_counter()
    request = Request(req)
    span = request_span(req, context)
    with request_scope(keep_connection=keep_connection):
        try:
            limit = get_settings().max_content_bytes
            # Every route, whether or not it reads the body: nothing oversized gets further.
            if len(req.get_body() or b"") > limit:
                raise PayloadTooLarge(f"the request body is larger than {megabytes(limit)} MB")
            if identify and not get_settings().local_mode:
                request.caller  # noqa: B018 - resolves the caller, or raises 401
            response = json_response(action(parse(request)),
                                     accept_encoding=req.headers.get("Accept-Encoding"))
        except AppError as exc:
            response = error_response(exc.status, exc.message)
        except ConfigurationError as exc:
            log.error("%s", exc)
            response = error_response(500, "the app is misconfigured; see its log")
        except Exception:
            log.exception("unhandled error in %s %s", req.method, _route(req))
            response = error_response(500, "internal error")
    span.end(response.status_code, request.known_user_id)
    log.info(
        "%s %s %d %.0fms user=%s",
        req.method, _route(req), response.status_code,
        (time.perf_counter() - started) * 1000, request.known_user_id or "-",
    )
    return response
