"""The body of POST /api/inf, as services.inference takes it."""

from __future__ import annotations

from shared.errors import BadRequest
from shared.folder_names import DEFAULT_FOLDER
from shared.http.request import Body, Request, decode_data_url
from shared.pipeline.postprocess import COLOR_FORMATS, DEFAULT_AREA_RATIO
from shared.services.inference import InferenceRequest


def parse_request(request: Request) -> InferenceRequest:
    """The checked body of an inference request, for the caller it names.

    `imageDims` must be two positive numbers, but boxes are always given in pixels of
    the picture as decoded (upright), whatever size the client believes it has.
    Raises BadRequest, PayloadTooLarge, Unauthorized, Forbidden, NotFound.
    """
    user_id = request.user_id("container_name", "user_id")
    body = request.body
    _check_dims(body)
    area_ratio = body.number("area_ratio", required=False)
    if area_ratio is None:
        area_ratio = DEFAULT_AREA_RATIO
    elif not 0 < area_ratio <= 1:
        raise BadRequest("area_ratio must be more than 0 and at most 1")
    return InferenceRequest(
        user_id=user_id,
        pipeline_name=body.text("model_name", required=False, max_length=200) or None,
        image=decode_data_url(body.raw("image")).data,
        folder_ref=body.text("folder_name", required=False, max_length=200) or DEFAULT_FOLDER,
        area_ratio=area_ratio,
        color_format=_color_format(body),
    )


def _color_format(body: Body) -> str:
    value = body.text("color_format", required=False, max_length=20)
    if value is None:
        return "hex"
    if value not in COLOR_FORMATS:
        raise BadRequest(f"color_format must be {' or '.join(COLOR_FORMATS)}, not {value!r}")
    return value


def _check_dims(body: Body) -> None:
    dims = body.items("imageDims")
    if len(dims) != 2 or not all(
        isinstance(d, int | float) and not isinstance(d, bool) and 0 < d < float("inf") for d in dims
    ):
        raise BadRequest("imageDims must be two positive numbers: [width, height]")
