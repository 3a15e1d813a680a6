"""Feedback on an inference (POST /api/feedback-positive and /api/feedback-negative).

A request is one transaction, applied whole or not at all: the inference's folder and
then the inference row are locked (in the order a folder delete takes them, so neither
waits for the other while holding what it needs), everything the request names is
checked, then the rows change and the inference object is re-read.
- Positive: each box is verified with its top guess (verified_id = top_id), also when
  that guess names no species (a detector's `seed`: the box is confirmed as a seed of no
  known species). A box verified already keeps its verification (it is confirmed as
  shown); a box marked not a seed cannot be confirmed.
- Negative: `label` and `classId` both empty marks the box invalid (not a seed). Else the
  box is verified with a correction, a seed_obj row of rank 0 and score 0 for the seed
  that `classId` names (it wins over `label`) or that `label` names (matched to the
  catalogue as a classifier's label is, and added to it when new); `box` moves it
  (clamped inside the picture as /inf clamps a model's boxes; refused when nothing of it
  is left inside); an empty `boxId` adds a manual detection, verified with its correction.
- Moved and added boxes change which boxes overlap: that is computed again over every
  box, as /inf does. The stored `color` and `overlapping` of a box keep what the model
  run gave (the view derives the ones shown); a manual box takes the colour of its label
  after the model's labels, and is not marked overlapping.
- The inference is verified when every box is verified or invalid; its picture then gets
  one picture_seed row per distinct seed of its valid verified boxes (a box verified with
  a guess that names no species adds none). When there is none (every box invalid, or
  verified as a seed of no known species), the picture does not count as validated.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID

from shared.db import connection
from shared.db.pool import Connection
from shared.db.queries import feedback, inferences, seeds
from shared.db.queries.feedback import BoxState, LockedInference
from shared.db.queries.inferences import BoxRow, GuessRow
from shared.errors import BadRequest, Conflict, Forbidden, NotFound
from shared.pipeline.postprocess import (
    DEFAULT_AREA_RATIO,
    PixelBox,
    clamp_pixels,
    label_colors,
    overlap_indices,
)
from shared.services.catalogue import Seed, resolve_labels
from shared.services.inference_view import load_inference

# Overlap is computed again over every box of the inference, pair by pair, while it is
# locked: 1,000 boxes that all overlap take about a second, 2,000 nine.
MAX_BOXES = 1000  # named by one request, and held by one inference after feedback adds boxes


@dataclass(frozen=True)
class Coordinates:
    """A box's edges as the client sends them, in pixels; not yet checked against the picture."""

    top_x: float
    top_y: float
    bottom_x: float
    bottom_y: float


@dataclass(frozen=True)
class Correction:
    """One entry of feedback-negative."""

    box_id: UUID | None  # None: a box the model missed
    class_id: UUID | None
    label: str  # "" when none
    coordinates: Coordinates | None
    comment: str | None

    @property
    def not_a_seed(self) -> bool:
        return self.class_id is None and not self.label


@dataclass(frozen=True)
class Confirmation:
    """feedback-positive: the boxes of an inference to verify as they are."""

    user_id: UUID
    inference_id: UUID
    box_ids: tuple[UUID, ...]


@dataclass(frozen=True)
class Corrections:
    """feedback-negative: corrections of an inference's boxes."""

    user_id: UUID
    inference_id: UUID
    corrections: tuple[Correction, ...]


def confirm_boxes(req: Confirmation) -> dict:
    """Verify each named box of the caller's inference with its top guess; return the
    inference object as now stored.

    Raises NotFound (inference or box), Forbidden (another user's), Conflict (the
    inference is verified, or a box is marked not a seed), BadRequest (a box of another
    inference, or without any guess), DependencyUnavailable.
    """
    with connection() as conn:
        inference = _lock(conn, req.user_id, req.inference_id)
        rows = []
        for index, box_id in enumerate(req.box_ids):
            box = inference.box(conn, index, box_id)
            if not box.valid:
                raise Conflict(f"boxes[{index}]: box {box_id} is marked as not a seed; "
                               "correct it with feedback-negative")
            if box.verified_id is not None:
                continue  # verified by earlier feedback: confirmed as shown
            if box.top_id not in inference.guesses:
                raise BadRequest(f"boxes[{index}]: box {box_id} has no guess to confirm; "
                                 "correct it with feedback-negative")
            # A top guess that names no species (a detector's `seed`) is confirmed too;
            # label_picture gives the picture no row for it.
            rows.append(_state(box, verified_id=box.top_id))
        feedback.update_boxes(conn, rows)
        return _finish(conn, inference, req.user_id)


def correct_boxes(req: Corrections) -> dict:
    """Apply each correction to the caller's inference (see the module docstring); return
    the inference object as now stored.

    Raises NotFound (inference, box or classId), Forbidden (another user's), Conflict (the
    inference is verified), BadRequest (a box of another inference, a box wholly outside
    the picture or without area, more than MAX_BOXES boxes in all), DependencyUnavailable.
    """
    with connection() as conn:
        inference = _lock(conn, req.user_id, req.inference_id)
        new_boxes = sum(c.box_id is None for c in req.corrections)
        if new_boxes and len(inference.boxes) + new_boxes > MAX_BOXES:
            raise BadRequest(f"an inference holds at most {MAX_BOXES} boxes: this one has "
                             f"{len(inference.boxes)}, and {new_boxes} more would pass that")
        # Everything the request names is checked before anything changes.
        boxes = [None if c.box_id is None else inference.box(conn, i, c.box_id)
                 for i, c in enumerate(req.corrections)]
        pixels = [None if c.coordinates is None else _pixels(i, c.coordinates, inference)
                  for i, c in enumerate(req.corrections)]
        chosen = _seeds(conn, req.corrections)

        rows: list[BoxState] = []
        guesses: list[GuessRow] = []
        added: list[_NewBox] = []
        geometry = {box_id: _pixel_box(b.box) for box_id, b in inference.boxes.items()}
        for correction, box, pixel_box, seed in zip(req.corrections, boxes, pixels, chosen, strict=True):
            if seed is None:
                assert box is not None  # parse_negative requires a label or classId for a new box
                rows.append(_state(box, verified_id=None, valid=False, comment=correction.comment))
                continue
            guess_id = uuid.uuid4()
            if box is None:
                assert pixel_box is not None  # parse_negative requires coordinates for a new box
                new = _NewBox(uuid.uuid4(), guess_id, pixel_box, seed.name)
                added.append(new)
                rows.append(BoxState(new.id, pixel_box.as_json(), verified_id=guess_id, valid=True,
                                     manual_detection=True, comment=correction.comment))
            else:
                rows.append(_state(box, box=pixel_box.as_json() if pixel_box else box.box,
                                   verified_id=guess_id, valid=True, comment=correction.comment))
            object_id = rows[-1].id
            if pixel_box is not None:
                geometry[object_id] = pixel_box
            guesses.append(GuessRow(guess_id, object_id, seed.id, seed.name, score=0.0, rank=0))

        positions = _positions(inference, added)
        indices = _overlaps(inference, geometry, positions)
        inferences.insert_objects(conn, _new_objects(inference, added, positions, indices))
        inferences.insert_guesses(conn, guesses)
        feedback.update_boxes(conn, rows)
        feedback.set_overlapping_indices(conn, {
            box_id: value for box_id, value in indices.items()
            if box_id in inference.boxes and value != inference.boxes[box_id].overlapping_indices
        })
        return _finish(conn, inference, req.user_id)


@dataclass(frozen=True)
class _Inference:
    """The locked inference with its boxes and their guesses, as stored before the request."""

    row: LockedInference
    boxes: dict[UUID, BoxRow]  # by id, in position order
    guesses: dict[UUID, GuessRow]  # by id

    @property
    def id(self) -> UUID:
        return self.row.id

    def box(self, conn: Connection, index: int, box_id: UUID) -> BoxRow:
        """The box named by boxes[index]. Raises NotFound, Forbidden (another user's box),
        BadRequest (a box of another inference of the caller)."""
        if box_id in self.boxes:
            return self.boxes[box_id]
        owner_id = feedback.find_box_owner(conn, box_id)
        if owner_id is None:
            raise NotFound(f"boxes[{index}]: there is no box {box_id}")
        if owner_id != self.row.owner_id:
            raise Forbidden(f"boxes[{index}]: box {box_id} is not yours")
        raise BadRequest(f"boxes[{index}]: box {box_id} belongs to another inference")


@dataclass(frozen=True)
class _NewBox:
    """A box the model missed, as a correction adds it."""

    id: UUID
    guess_id: UUID  # its correction: top and verified guess
    pixels: PixelBox
    label: str


def _lock(conn: Connection, user_id: UUID, inference_id: UUID) -> _Inference:
    """The caller's inference, locked, if it is not verified yet. Raises NotFound,
    Forbidden, Conflict."""
    # The folder first: a folder delete locks it before the pictures and inferences in it.
    if feedback.lock_folder_of(conn, inference_id) is None:
        raise NotFound("there is no such inference")
    row = feedback.lock_inference(conn, inference_id)
    if row is None:
        raise NotFound("there is no such inference")
    if row.owner_id != user_id:
        raise Forbidden("this inference is not yours")
    if row.verified:
        raise Conflict("this inference is already verified")
    return _Inference(
        row,
        {box.id: box for box in inferences.list_objects(conn, inference_id)},
        {guess.id: guess for guess in inferences.list_guesses(conn, inference_id)},
    )


def _pixels(index: int, coordinates: Coordinates, inference: _Inference) -> PixelBox:
    """`coordinates` in whole pixels (halves round up), clamped inside the picture as /inf
    clamps a model's boxes, if something of the box is left. Raises BadRequest naming
    boxes[index]."""
    width, height = inference.row.width, inference.row.height
    c = coordinates
    box = clamp_pixels(c.top_x, c.top_y, c.bottom_x, c.bottom_y, width, height)
    if box.left >= width or box.top >= height:  # coordinates are never negative
        raise BadRequest(f"boxes[{index}]: box is outside the picture ({width} x {height} pixels)")
    if box.left >= box.right or box.top >= box.bottom:
        raise BadRequest(f"boxes[{index}]: box must have topX < bottomX and topY < bottomY")
    return box


def _pixel_box(stored: dict[str, int]) -> PixelBox:
    return PixelBox(stored["topX"], stored["topY"], stored["bottomX"], stored["bottomY"])


def _seeds(conn: Connection, corrections: Sequence[Correction]) -> list[Seed | None]:
    """The seed each correction names (None: not a seed). A label new to the catalogue
    is added to it. Raises NotFound for an unknown classId."""
    by_id: dict[UUID, Seed] = {}
    if any(c.class_id for c in corrections):
        by_id = {seed.id: seed for seed in seeds.list_all(conn)}
    for index, c in enumerate(corrections):
        if c.class_id is not None and c.class_id not in by_id:
            raise NotFound(f"boxes[{index}]: there is no seed with classId {c.class_id}")
    # One spelling per name, the first in the request: it is the one a new seed is named by.
    spellings: dict[str, str] = {}
    for c in corrections:
        if c.class_id is None and c.label:
            spellings.setdefault(c.label.lower(), c.label)
    by_label = resolve_labels(conn, [(label, True) for label in spellings.values()])
    return [
        by_id[c.class_id] if c.class_id is not None
        else by_label[spellings[c.label.lower()], True] if c.label else None
        for c in corrections
    ]


def _positions(inference: _Inference, added: Sequence[_NewBox]) -> dict[UUID, int]:
    """The position of every box: the stored ones', then the new ones after them."""
    positions = {box_id: b.position for box_id, b in inference.boxes.items()}
    after = max(positions.values(), default=-1) + 1
    positions.update((new.id, after + n) for n, new in enumerate(added))
    return positions


def _overlaps(
    inference: _Inference, geometry: dict[UUID, PixelBox], positions: dict[UUID, int]
) -> dict[UUID, list[int]]:
    """Which boxes each box overlaps, as 1-based positions (as /inf stores them)."""
    area_ratio = inference.row.result.get("area_ratio", DEFAULT_AREA_RATIO)
    ids = sorted(geometry, key=positions.__getitem__)
    found = overlap_indices([geometry[box_id] for box_id in ids], area_ratio)
    return {box_id: sorted(positions[ids[j - 1]] + 1 for j in others)
            for box_id, others in zip(ids, found, strict=True)}


def _new_objects(
    inference: _Inference, added: Sequence[_NewBox], positions: dict[UUID, int],
    indices: dict[UUID, list[int]],
) -> list[BoxRow]:
    """Rows for inferences.insert_objects of the manual boxes; each takes the colour of its
    label after the model's top labels, as /inf colours boxes."""
    model_labels = [
        inference.guesses[b.top_id].label if b.top_id in inference.guesses else ""
        for b in inference.boxes.values()
    ]
    colors = label_colors(model_labels + [new.label for new in added], "hex")[len(model_labels):]
    return [
        BoxRow(new.id, inference.id, positions[new.id], new.pixels.as_json(), str(color),
               overlapping=False, overlapping_indices=indices[new.id], top_id=new.guess_id)
        for new, color in zip(added, colors, strict=True)
    ]


def _state(stored: BoxRow, **changes: Any) -> BoxState:
    """A box's state for feedback.update_boxes: as stored, with `changes`."""
    s = stored
    return replace(BoxState(s.id, s.box, s.verified_id, s.valid, s.manual_detection, comment=None), **changes)


def _finish(conn: Connection, inference: _Inference, user_id: UUID) -> dict:
    """Record the feedback, verify the inference when every box is, and return the
    inference object as now stored."""
    shown = load_inference(conn, inference.id)
    counts = {"labelOccurrence": shown["labelOccurrence"], "totalBoxes": shown["totalBoxes"]}
    if feedback.record_feedback(conn, inference.id, user_id, counts):
        feedback.label_picture(conn, inference.id)
    return shown
