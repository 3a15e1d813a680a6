"""Runs a pipeline on a picture: each model's adapter in call order, detections flowing on."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.errors import ModelEndpointFailed
from shared.pipeline.adapters import ADAPTER_TYPES, get_adapter
from shared.pipeline.types import Detection, Guess, ModelSpec, PipelineSpec
from shared.pipeline.waiting import on_models_waiting

if TYPE_CHECKING:
    from shared.images import DecodedImage

log = logging.getLogger(__name__)

CLASSIFICATION = "classification"


@dataclass(frozen=True)
class PipelineRun:
    """What a pipeline found, and which models found it."""

    detections: tuple[Detection, ...]
    # Per detection: whether its guesses come from a classification model (species
    # names) rather than from a detector (its own label, such as `seed`).
    classified: tuple[bool, ...]
    models: tuple[dict[str, str], ...]  # {"name", "version"} in call order


def run_pipeline(pipeline: PipelineSpec, picture: DecodedImage,
                 beside: Callable[[], None] = lambda: None) -> PipelineRun:
    """Run every model of `pipeline` on `picture`, each on the detections of the one before.

    `beside` starts the caller's work that runs beside the models, once, in this thread:
    as soon as a crop classifier of the pipeline has sent its crops (the pipeline only
    waits from then on), or at once when the pipeline has none; when the run ends at the
    latest, but not when it fails before.

    Raises ModelEndpointFailed (502) or ModelEndpointTimeout (504) naming the model.
    """
    start = _once(beside)
    if not any(_sends_crops(model) for model in pipeline.models):
        start()
    with on_models_waiting(start):
        run = _run(pipeline, picture)
    start()
    return run


def _run(pipeline: PipelineSpec, picture: DecodedImage) -> PipelineRun:
    detections: list[Detection] = []
    classified: dict[tuple[Guess, ...], bool] = {}
    for model in pipeline.models:
        started = time.perf_counter()
        try:
            adapter = get_adapter(model.type)
        except KeyError:
            raise ModelEndpointFailed(f"model {model.name} has an unknown type {model.type!r}") from None
        detections = list(adapter(model, picture, detections))
        if any(not d.guesses for d in detections):
            raise ModelEndpointFailed(f"model {model.name} gave a box without a label")
        # Guesses passed through unchanged keep their origin (a filtering classifier
        # leaves some boxes alone); new ones come from this model.
        classified = {
            d.guesses: classified.get(d.guesses, model.task == CLASSIFICATION) for d in detections
        }
        log.debug("model %s: %d boxes in %.0fms", model.name, len(detections),
                 (time.perf_counter() - started) * 1000)
    return PipelineRun(
        detections=tuple(detections),
        classified=tuple(classified[d.guesses] for d in detections),
        models=tuple({"name": m.name, "version": m.version} for m in pipeline.models),
    )


def _sends_crops(model: ModelSpec) -> bool:
    kind = ADAPTER_TYPES.get(model.type)
    return kind is not None and kind.sends_crops


def _once(action: Callable[[], None]) -> Callable[[], None]:
    done = False

    def run() -> None:
        nonlocal done
        if not done:
            done = True
            action()
    return run
