"""The inference object of API.md, rendered from the stored rows in three queries.

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
from uuid import UUID

from shared.db.pool import Connection
from shared.db.queries import inferences
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
    return _render(conn, header)


def load_latest_for_picture(conn: Connection, picture_id: UUID) -> dict | None:
    """The inference object of the picture's most recent inference, or None."""
    header = inferences.find_latest_for_picture(conn, picture_id)
    return None if header is None else _render(conn, header)


def _render(conn: Connection, header: dict) -> dict:
    objects = [o for o in inferences.list_objects(conn, header["id"]) if o["valid"]]
    rows_by_object: dict[UUID, list[dict]] = defaultdict(list)
    for row in inferences.list_guesses(conn, header["id"]):
        rows_by_object[row["object_id"]].append(row)

    # Stored indices are 1-based positions among all stored boxes; renumber to those shown.
    shown = {o["position"] + 1: n for n, o in enumerate(objects, start=1)}
    boxes = []
    for obj in objects:
        rows = rows_by_object[obj["id"]]
        by_id = {row["id"]: row for row in rows}
        top_n = [
            {"label": strip_catalogue_number(r["label"]), "score": r["score"], "object_id": str(r["id"])}
            for r in rows if r["rank"] >= 1
        ]
        if obj["verified_id"] in by_id:
            label, score = strip_catalogue_number(by_id[obj["verified_id"]]["label"]), 1.0
        elif obj["top_id"] in by_id:
            top = by_id[obj["top_id"]]
            label, score = strip_catalogue_number(top["label"]), top["score"]
        elif top_n:
            label, score = top_n[0]["label"], top_n[0]["score"]
        else:
            label, score = "", 0.0
        boxes.append({
            "box": obj["box"],
            "label": label,
            "score": score,
            "topN": top_n,
            "box_id": str(obj["id"]),
            "top_id": str(obj["top_id"]) if obj["top_id"] else None,
            "object_type_id": obj["type_id"],
            "color": None,
            "overlapping": False,
            "overlappingIndices": sorted(shown[i] for i in obj["overlapping_indices"] if i in shown),
            "is_verified": obj["verified_id"] is not None,
        })

    labels = [b["label"] for b in boxes]
    flags = overlapping_flags([b["overlappingIndices"] for b in boxes], [b["score"] for b in boxes])
    colors = label_colors(labels, header["result"].get("color_format", "hex"))
    for box, flag, color in zip(boxes, flags, colors, strict=True):
        box["overlapping"], box["color"] = flag, color
    return {
        "inference_id": str(header["id"]),
        "pipeline_id": str(header["pipeline_id"]),
        "picture_id": str(header["picture_id"]),
        "filename": header["blob_name"].rsplit("/", 1)[-1],
        "models": header["result"].get("models", []),
        "totalBoxes": len(boxes),
        "labelOccurrence": label_occurrence(labels, flags),
        "boxes": boxes,
    }
