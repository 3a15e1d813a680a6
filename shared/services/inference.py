"""Inference (POST /api/inf): run a pipeline on a picture, then store the picture, the
inference and its boxes together, and answer with the inference object."""

from __future__ import annotations

import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from uuid import UUID

from shared import images
from shared.db import connection
from shared.db.pool import Connection
from shared.db.queries import inferences, pictures, pipelines
from shared.db.queries.inferences import BoxRow, GuessRow, InferenceRow
from shared.errors import NotFound
from shared.memory import large_arrays_reused
from shared.picture_blobs import NewPicture, stored_picture
from shared.pipeline.postprocess import Box, label_colors, postprocess
from shared.pipeline.runner import PipelineRun, run_pipeline
from shared.pipeline.types import PipelineSpec
from shared.services.catalogue import Seed, resolve_labels
from shared.services.folders import resolve_folder
from shared.services.inference_view import render
from shared.services.picture_processing import processed_by_request
from shared.settings import get_settings


@dataclass(frozen=True)
class InferenceRequest:
    """POST /api/inf: the picture to run through a pipeline, and where to store it."""

    user_id: UUID
    pipeline_name: str | None  # None: the default pipeline
    image: bytes
    folder_ref: str  # a folder id or the name of one of the user's folders
    area_ratio: float  # in (0, 1]
    color_format: str  # of postprocess.COLOR_FORMATS


@large_arrays_reused()  # a picture's buffers, decoded pixels and crops come and go
def run_inference(req: InferenceRequest) -> dict:
    """Run the pipeline on the picture and store the picture (blob and row), the inference
    and its boxes in the user's folder, all or nothing; return the inference object.

    Raises NotFound (pipeline or folder), Forbidden (folder), UnsupportedMediaType,
    PayloadTooLarge, ModelEndpointFailed, ModelEndpointTimeout, DependencyUnavailable.
    """
    # The pixels decode in the background from here on, while the folder and pipeline are
    # read and the first model runs (a remote detector is sent the file as it is).
    picture = decode_picture(req.image, in_background=True)
    with connection() as conn:
        folder_id = resolve_folder(conn, req.user_id, req.folder_ref).id
        pipeline = find_pipeline(conn, req.pipeline_name)
    with ExitStack() as storing:
        stored: list[NewPicture] = []

        def store() -> None:
            # The blob uploads while the models run (with no database connection held); a
            # model failure deletes it again, and rows are written only once both are done.
            # The blob trigger's thumbnail and checks are made from these pixels beside the
            # models, not by decoding the file again. Both start once the pipeline only waits
            # on its models (run_pipeline's `beside`): in the classifier's waits, not
            # competing with decoding and crops for the CPU on the way to its first calls.
            stored.append(storing.enter_context(stored_picture(
                req.user_id, folder_id, req.image, extension=picture.extension,
                content_type=picture.content_type, in_background=True,
                processing=lambda blob_name: processed_by_request(picture, blob_name))))

        try:
            run = run_pipeline(pipeline, picture, beside=store)
        finally:
            # A file that does not decode is refused as such, whatever a model made of it.
            picture.wait_decoded()
        [new] = stored
        boxes = postprocess(run.detections, width=picture.width, height=picture.height,
                            area_ratio=req.area_ratio)
        new.uploaded()
        metadata = new.processed()
        with connection() as conn:
            # The picture's row holds off a delete of the folder until this commits.
            if not pictures.insert(conn, picture_id=new.id, folder_id=folder_id, blob_name=new.blob_name,
                                   content_type=picture.content_type, width=picture.width,
                                   height=picture.height, sha256=picture.sha256, metadata=metadata):
                raise NotFound("the folder was deleted meanwhile")
            return _insert_inference(conn, req, pipeline.id, new, run, boxes)


def find_pipeline(conn: Connection, name: str | None) -> PipelineSpec:
    """The active pipeline of that name, or the default one. Raises NotFound."""
    pipeline = pipelines.load(conn, name)
    if pipeline is None:
        if name is None:
            raise NotFound("no default pipeline is registered: import one, or name a model_name")
        raise NotFound(f"no pipeline named {name!r}")
    return pipeline


def decode_picture(data: bytes, *, in_background: bool = False) -> images.DecodedImage:
    """The picture decoded for a pipeline, if its format is accepted (NACHET_VALID_EXTENSION);
    with `in_background`, its pixels still decoding (images.decode).
    Raises UnsupportedMediaType, PayloadTooLarge."""
    settings = get_settings()
    picture = images.decode(data, max_pixels=settings.max_image_pixels, in_background=in_background)
    images.check_accepted(picture.format, settings.valid_extensions)
    return picture


def _insert_inference(
    conn: Connection, req: InferenceRequest, pipeline_id: UUID, picture: NewPicture,
    run: PipelineRun, boxes: list[Box],
) -> dict:
    """Insert the inference, its boxes and their guesses; return the inference object,
    rendered from these rows as get-picture and feedback render them read back."""
    rows = render_run(run, boxes, resolve_labels(conn, run_labels(run, boxes)), pipeline_id=pipeline_id,
                      picture_id=picture.id, blob_name=picture.blob_name, area_ratio=req.area_ratio,
                      color_format=req.color_format)
    inferences.insert(conn, inference_id=rows.header.id, picture_id=picture.id, user_id=req.user_id,
                      pipeline_id=pipeline_id, result=rows.header.result, objects=rows.objects,
                      guesses=rows.guesses)
    return rows.shown


@dataclass(frozen=True)
class RenderedRun:
    """A pipeline run as an inference's rows, and the inference object rendered from them."""

    header: InferenceRow
    objects: list[BoxRow]
    guesses: list[GuessRow]
    shown: dict


def run_labels(run: PipelineRun, boxes: list[Box]) -> set[tuple[str, bool]]:
    """Every (label, from a classifier) of the run's guesses, for catalogue.resolve_labels."""
    return {(guess.label, classified)
            for box, classified in zip(boxes, run.classified, strict=True) for guess in box.guesses}


def render_run(
    run: PipelineRun, boxes: list[Box], seeds: dict[tuple[str, bool], Seed | None], *,
    pipeline_id: UUID, picture_id: UUID, blob_name: str, area_ratio: float, color_format: str,
) -> RenderedRun:
    """The rows of a new inference of the run's post-processed `boxes` (each guess's seed
    from `seeds`, keyed as run_labels gives them) and the inference object rendered from
    them, as /inf stores and answers it."""
    inference_id = uuid.uuid4()
    tops: list[GuessRow] = []
    guesses: list[GuessRow] = []
    for box, classified in zip(boxes, run.classified, strict=True):
        object_id = uuid.uuid4()
        for rank, guess in enumerate(box.guesses, start=1):
            seed = seeds[guess.label, classified]
            guesses.append(GuessRow(uuid.uuid4(), object_id, seed.id if seed else None,
                                    seed.name if seed else guess.label, float(guess.score), rank))
        tops.append(guesses[-len(box.guesses)])
    # Kept as #RRGGBB; the view renders colours in the asked format.
    colors = label_colors([top.label for top in tops], "hex")
    objects = [
        BoxRow(top.object_id, inference_id, position, box.pixels.as_json(), str(color),
               box.overlapping, list(box.overlapping_indices), top_id=top.id)
        for position, (box, top, color) in enumerate(zip(boxes, tops, colors, strict=True))
    ]
    result = {
        "filename": blob_name.rsplit("/", 1)[-1],
        "models": list(run.models),
        # How the request asked for overlap and colours, for re-rendering.
        "area_ratio": area_ratio,
        "color_format": color_format,
    }
    header = InferenceRow(inference_id, pipeline_id, picture_id, result, verified=False, blob_name=blob_name)
    shown = render(header, objects, guesses)
    # The counts as shown, as feedback records them when it changes the boxes.
    result |= {"labelOccurrence": shown["labelOccurrence"], "totalBoxes": shown["totalBoxes"]}
    return RenderedRun(header, objects, guesses, shown)
