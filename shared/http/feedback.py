"""The bodies of feedback-positive and feedback-negative, as services.feedback takes them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from uuid import UUID

from shared.errors import BadRequest
from shared.http.request import Body, Request, parse_uuid
from shared.services.catalogue import clean_label
from shared.services.feedback import MAX_BOXES, Confirmation, Coordinates, Correction, Corrections

MAX_LABEL_LENGTH = 200
MAX_COMMENT_LENGTH = 1000
_EDGES = ("topX", "topY", "bottomX", "bottomY")

T = TypeVar("T")


def parse_positive(request: Request) -> Confirmation:
    """The checked body of feedback-positive, for the caller it names. Raises BadRequest,
    Unauthorized, Forbidden, NotFound (an unknown user in local mode)."""
    user_id, inference_id, entries = _parse_common(request)
    box_ids = tuple(_parse_entry(i, entry, lambda body: body.id("boxId")) for i, entry in enumerate(entries))
    _check_named_once(box_ids)
    return Confirmation(user_id, inference_id, box_ids)


def parse_negative(request: Request) -> Corrections:
    """The checked body of feedback-negative, for the caller it names. Raises BadRequest,
    Unauthorized, Forbidden, NotFound (an unknown user in local mode)."""
    user_id, inference_id, entries = _parse_common(request)
    corrections = tuple(_parse_entry(i, entry, _correction) for i, entry in enumerate(entries))
    _check_named_once([c.box_id for c in corrections if c.box_id is not None])
    return Corrections(user_id, inference_id, corrections)


def _parse_common(request: Request) -> tuple[UUID, UUID, list[Any]]:
    user_id = request.user_id("userId")
    body = request.body
    entries = body.items("boxes")
    if len(entries) > MAX_BOXES:
        raise BadRequest(f"boxes: at most {MAX_BOXES} boxes in one request, not {len(entries)}")
    return user_id, body.id("inferenceId"), entries


def _parse_entry(index: int, entry: Any, parse: Callable[[Body], T]) -> T:
    """`parse` of the entry boxes[index]; a BadRequest names the entry."""
    if not isinstance(entry, dict):
        raise BadRequest(f"boxes[{index}] must be an object")
    try:
        return parse(Body(entry))
    except BadRequest as exc:
        raise BadRequest(f"boxes[{index}]: {exc.message}") from None


def _check_named_once(box_ids: Sequence[UUID]) -> None:
    seen: set[UUID] = set()
    for box_id in box_ids:
        if box_id in seen:
            raise BadRequest(f"box {box_id} is named twice")
        seen.add(box_id)


def _correction(body: Body) -> Correction:
    box_ref = body.text("boxId", max_length=100)
    class_ref = body.text("classId", required=False, max_length=100)
    correction = Correction(
        box_id=parse_uuid(box_ref, "boxId") if box_ref else None,
        class_id=parse_uuid(class_ref, "classId") if class_ref else None,
        label=clean_label(body.text("label", required=False, max_length=MAX_LABEL_LENGTH) or ""),
        coordinates=_coordinates(body.raw("box", required=False)),
        comment=body.text("comment", required=False, max_length=MAX_COMMENT_LENGTH) or None,
    )
    if correction.box_id is None and correction.not_a_seed:
        raise BadRequest("a new box (empty boxId) needs a label or a classId")
    if correction.box_id is None and correction.coordinates is None:
        raise BadRequest("a new box (empty boxId) needs its box coordinates")
    return correction


def _coordinates(value: Any) -> Coordinates | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BadRequest("box must be an object {topX, topY, bottomX, bottomY}")
    body = Body(value)
    edges = []
    for key in _EDGES:
        try:
            edge = body.number(key)
        except BadRequest as exc:
            raise BadRequest(f"box.{exc.message}") from None  # Body's messages start with the key
        if edge < 0:
            raise BadRequest(f"box.{key} is negative")
        edges.append(edge)
    return Coordinates(*edges)
