"""Models served by Azure ML online endpoints: seed detectors and crop classifiers (MODELS.md)."""

from __future__ import annotations

import json
import math
import threading
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from contextvars import copy_context
from typing import TYPE_CHECKING, Any, TypeGuard

import pybase64

from shared.errors import ModelEndpointFailed
from shared.images import crop, encode
from shared.pipeline.endpoint_client import post
from shared.pipeline.postprocess import species_key, to_pixels
from shared.pipeline.types import Detection, FractionBox, Guess, ModelSpec
from shared.pipeline.waiting import models_waiting
from shared.settings import get_settings, on_reset

if TYPE_CHECKING:
    from shared.images import DecodedImage

_CORNERS = ("topX", "topY", "bottomX", "bottomY")
# A detector's request: {"input_data": {"columns": ["image"], "index": [0], "data": [<base64>]}}
_DETECTOR_BODY_START, _DETECTOR_BODY_END = (
    json.dumps({"input_data": {"columns": ["image"], "index": [0], "data": ["IMAGE"]}})
    .encode().split(b"IMAGE"))
# Detectors round: a corner a hair outside 0..1 is the image's edge, not garbage.
_SLACK = 0.01


def detect(model: ModelSpec, picture: DecodedImage, detections: list[Detection]) -> list[Detection]:
    """The boxes that the model finds in the whole picture (azureml-seed-detector, and
    azureml-six-seeds, whose boxes come already labelled with a species).

    Raises ModelEndpointFailed (also for an answer that is not boxes), ModelEndpointTimeout.
    """
    # The boxes are fractions of the picture as shown: a file that an EXIF orientation
    # turns is sent as its upright pixels, re-encoded; any other goes as it came, without
    # waiting for its pixels to decode.
    file = picture.upright_file or encode(picture.image, picture.format)
    # Base64 needs no escaping in JSON: the body is put together around it, rather than
    # json.dumps scanning a string of 4/3 the file's size.
    body = _DETECTOR_BODY_START + pybase64.b64encode(file) + _DETECTOR_BODY_END
    return _boxes(model, post(model, body))


def classify(model: ModelSpec, picture: DecodedImage, detections: list[Detection]) -> list[Detection]:
    """`detections` with the model's guesses for each crop (azureml-classifier).

    Raises ModelEndpointFailed, ModelEndpointTimeout: one failed crop fails the call.
    """
    return _classify(model, picture, detections, range(len(detections)))


def classify_listed(model: ModelSpec, picture: DecodedImage, detections: list[Detection]) -> list[Detection]:
    """`detections` where those whose top label is one of `model.labels` get the model's
    guesses, the others keep theirs (azureml-classifier-filter). Labels match by species:
    catalogue numbers and case aside (the current backend's filter lists "012 Ambrosia
    artemisiifolia", as its ensemble's first model answers).

    Raises ModelEndpointFailed, ModelEndpointTimeout.
    """
    listed = {species_key(label) for label in model.labels}
    chosen = [i for i, d in enumerate(detections) if species_key(d.guesses[0].label) in listed]
    return _classify(model, picture, detections, chosen)


def _classify(model: ModelSpec, picture: DecodedImage, detections: list[Detection],
              chosen: range | list[int]) -> list[Detection]:
    out = list(detections)
    if not chosen:
        return out
    # Crops are cut and encoded here, in order, each sent as soon as it is encoded on the
    # process's crop threads, at most model_max_in_flight calls in flight per model
    # (endpoint_client): the first calls go out before the crops that wait for a free slot
    # are encoded (encoding them all at once on the threads held the first ones back).
    futures: list[Future[tuple[Guess, ...]]] = []
    try:
        pool = _crop_calls()
        for i in chosen:
            body = pybase64.b64encode(encode(crop(picture.image, _pixel_box(detections[i].box, picture)),
                                           picture.format, fast=True))  # base64 text, as ASCII bytes
            # In a copy of the request's context: the call's span is the request's (shared.telemetry).
            futures.append(pool.submit(copy_context().run, _classify_crop, model, body))
        models_waiting()
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        for future in done:
            if future.exception() is not None:
                future.result()  # re-raises the first failure
        for i, future in zip(chosen, futures, strict=True):
            out[i] = Detection(detections[i].box, future.result())
    finally:
        # On a failure, the crops not yet sent are dropped and the caller is answered
        # at once; calls already in flight end on their own.
        for future in futures:
            future.cancel()
    return out


_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def _crop_calls() -> ThreadPoolExecutor:
    """The threads that send crops to classifiers, kept for the process's life
    (a pool per call started eight threads for each inference, and each thread that
    allocates may get a malloc arena of its own): enough for two models' calls in flight."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=2 * get_settings().model_max_in_flight,
                                       thread_name_prefix="crop-calls")
        return _pool


@on_reset
def _close_crop_calls() -> None:
    """Let the threads go; the next call starts them with the settings' in-flight limit."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=False)


def _pixel_box(box: FractionBox, picture: DecodedImage) -> tuple[int, int, int, int]:
    p = to_pixels(box, picture.width, picture.height)
    return (p.left, p.top, p.right, p.bottom)


def _classify_crop(model: ModelSpec, body: bytes) -> tuple[Guess, ...]:
    return _guesses(model, post(model, body))


def _garbage(model: ModelSpec, what: str) -> ModelEndpointFailed:
    return ModelEndpointFailed(f"model {model.name} answered {what}")


def _score(model: ModelSpec, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise _garbage(model, f"a score that is not a number in 0..1: {value!r:.40}")
    return float(value)


def _label(model: ModelSpec, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _garbage(model, "a guess without a label")
    return value.strip()


def _guesses(model: ModelSpec, answer: Any) -> tuple[Guess, ...]:
    """A classifier's answer: a non-empty list of {"label", "score"}, best first."""
    if not isinstance(answer, list) or not answer or not all(isinstance(g, dict) for g in answer):
        raise _garbage(model, 'something that is not a list of {"label", "score"}')
    return tuple(Guess(_label(model, g.get("label")), _score(model, g.get("score"))) for g in answer)


def _boxes(model: ModelSpec, answer: Any) -> list[Detection]:
    """A detector's answer: {"boxes": [...]}, or a list whose first element is that object."""
    if isinstance(answer, list) and answer:
        answer = answer[0]
    if not isinstance(answer, dict) or not isinstance(answer.get("boxes"), list):
        raise _garbage(model, 'something that is not {"boxes": [...]}')
    detections = []
    for item in answer["boxes"]:
        corners = item.get("box") if isinstance(item, dict) else None
        if not isinstance(corners, dict):
            raise _garbage(model, 'a box without its "box" corners')
        values = [corners.get(k) for k in _CORNERS]
        fractions = [v for v in values if _is_fraction(v)]
        if len(fractions) != len(values):
            raise _garbage(model, f"box corners that are not fractions 0..1: {corners!r:.120}")
        top_x, top_y, bottom_x, bottom_y = (min(1.0, max(0.0, float(v))) for v in fractions)
        if bottom_x < top_x or bottom_y < top_y:
            raise _garbage(model, f"a box whose bottom corner is above or left of its top: {corners!r:.120}")
        guess = Guess(_label(model, item.get("label")), _score(model, item.get("score")))
        detections.append(Detection(FractionBox(top_x, top_y, bottom_x, bottom_y), (guess,)))
    return detections


def _is_fraction(value: Any) -> TypeGuard[float]:
    return (not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
            and -_SLACK <= value <= 1 + _SLACK)
