"""Pictures classified without being stored (`manage.py classify`): the same steps as
/api/inf (decode, run the pipeline, post-process, render the inference object) with
nothing written: no blob, no row, and a classifier's label new to the catalogue stays the
model's label instead of being added."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from shared.db import connection
from shared.pipeline.postprocess import DEFAULT_AREA_RATIO, postprocess
from shared.pipeline.runner import run_pipeline
from shared.pipeline.types import PipelineSpec
from shared.services.annotation import annotate
from shared.services.catalogue import resolve_labels
from shared.services.inference import decode_picture, find_pipeline, render_run, run_labels


@dataclass(frozen=True)
class Classified:
    """A picture's inference object, as /api/inf would answer it (its ids are stored
    nowhere), and the picture with its boxes drawn."""

    inference: dict[str, Any]
    annotated: bytes
    annotated_type: str  # image/png, or image/jpeg for a JPEG


def load_pipeline(name: str | None) -> PipelineSpec:
    """The active pipeline of that name, or the default one. Raises NotFound,
    DependencyUnavailable."""
    with connection() as conn:
        return find_pipeline(conn, name)


def classify(pipeline: PipelineSpec, data: bytes, *, name: str) -> Classified:
    """Run `pipeline` on the picture file `data` (called `name` in the answer's filename).

    Raises UnsupportedMediaType, PayloadTooLarge, ModelEndpointFailed,
    ModelEndpointTimeout, DependencyUnavailable.
    """
    picture = decode_picture(data)
    run = run_pipeline(pipeline, picture)
    boxes = postprocess(run.detections, width=picture.width, height=picture.height,
                        area_ratio=DEFAULT_AREA_RATIO)
    with connection() as conn:
        seeds = resolve_labels(conn, run_labels(run, boxes), add=False)
    shown = render_run(run, boxes, seeds, pipeline_id=pipeline.id, picture_id=uuid.uuid4(), blob_name=name,
                       area_ratio=DEFAULT_AREA_RATIO, color_format="hex").shown
    drawn, content_type = annotate(picture, shown)
    return Classified(shown, drawn, content_type)
