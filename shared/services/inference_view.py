"""The inference object of API.md, rendered from an inference's rows: read back in three
queries, or as /inf has just written them.

/inf, get-picture and both feedback routes answer with this rendering, so they agree.
Stored facts are used as they are: boxes, guesses, verification, which boxes overlap
(`overlapping_indices`). What follows from them is derived here each time, with the
rules of shared.pipeline.postprocess, so that feedback never leaves it stale:
- a verified box shows its verified label with score 1 (`is_verified: true`);
- a box marked invalid (not a seed) is left out, and the 1-based overlap indices of
  the others are renumbered to the boxes shown;
- `overlapping`, colours (in the `color_format` of the request, kept in the result),
  `labelOccurrence` and `totalBoxes` are computed from the boxes shown.
A box's guesses (`topN`) are its seed_obj rows of rank 1 and up, best first; a
correction that is no model guess has rank 0 and shows only as the verified label.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from uuid import UUID

from shared.db.pool import Connection
from shared.db.queries import inferences
from shared.db.queries.inferences import BoxRow, GuessRow, InferenceRow
from shared.errors import NotFound
from shared.pipeline.postprocess import (
    label_colors,
    label_occurrence,
    overlapping_flags,
    strip_catalogue_number,
)


def load_inference(conn: Connection, inference_id: UUID) -> dict:
    """The inference object of `inference_id`. Raises NotFound. Ownership is the caller's
    to check."""
    header = inferences.find(conn, inference_id)
    if header is None:
        raise NotFound("no such inference")
    return _load(conn, header)


def load_latest_for_picture(conn: Connection, picture_id: UUID) -> dict | None:
    """The inference object of the picture's most recent inference, or None."""
    header = inferences.find_latest_for_picture(conn, picture_id)
    return None if header is None else _load(conn, header)


def _load(conn: Connection, header: InferenceRow) -> dict:
    return render(header, inferences.list_objects(conn, header.id), inferences.list_guesses(conn, header.id))


def render(header: InferenceRow, objects: Sequence[BoxRow], guesses: Sequence[GuessRow]) -> dict:
    """The inference object of `header`, its boxes in position order and their guesses
    by box and rank (as inferences.list_objects and list_guesses give them)."""
    shown_boxes = [o for o in objects if o.valid]
    guesses_by_box: dict[UUID, list[GuessRow]] = defaultdict(list)
    for guess in guesses:
        guesses_by_box[guess.object_id].append(guess)
    # Stored indices are 1-based positions among all stored boxes; renumber to those shown.
    shown = {o.position + 1: n for n, o in enumerate(shown_boxes, start=1)}
    indices = [sorted(shown[i] for i in o.overlapping_indices if i in shown) for o in shown_boxes]
    tops = [_shown_guess(o, guesses_by_box[o.id]) for o in shown_boxes]
    labels = [label for label, _ in tops]
    flags = overlapping_flags(indices, [score for _, score in tops])
    colors = label_colors(labels, header.result.get("color_format", "hex"))
    boxes = [
        {
            "box": obj.box,
            "label": label,
            "score": score,
            "topN": [{"label": strip_catalogue_number(g.label), "score": g.score, "object_id": str(g.id)}
                     for g in guesses_by_box[obj.id] if g.rank >= 1],
            "box_id": str(obj.id),
            "top_id": str(obj.top_id) if obj.top_id else None,
            "object_type_id": obj.type_id,
            "color": color,
            "overlapping": flag,
            "overlappingIndices": overlapping,
            "is_verified": obj.verified_id is not None,
        }
        for obj, (label, score), overlapping, flag, color
        in zip(shown_boxes, tops, indices, flags, colors, strict=True)
    ]
    return {
        "inference_id": str(header.id),
        "pipeline_id": str(header.pipeline_id),
        "picture_id": str(header.picture_id),
        "filename": header.blob_name.rsplit("/", 1)[-1],
        "models": header.result.get("models", []),
        "totalBoxes": len(boxes),
        "labelOccurrence": label_occurrence(labels, flags),
        "boxes": boxes,
    }


def _shown_guess(box: BoxRow, guesses: Sequence[GuessRow]) -> tuple[str, float]:
    """The label and score a box shows: its verified guess with score 1, else its top
    guess, else its best model guess, else none."""
    by_id = {g.id: g for g in guesses}
    if box.verified_id in by_id:
        return strip_catalogue_number(by_id[box.verified_id].label), 1.0
    ranked = [by_id[box.top_id]] if box.top_id in by_id else [g for g in guesses if g.rank >= 1]
    if ranked:
        return strip_catalogue_number(ranked[0].label), ranked[0].score
    return "", 0.0
