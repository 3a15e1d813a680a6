"""A scripted history of analysts' work, made through the HTTP API, for the export and
accuracy tests: inferences, confirmations, every kind of correction, boxes marked not a
seed, manual boxes, moved boxes, batch imports, and a deleted folder whose validated
picture went to the archive. `make_history` plays it and returns what it made.

The remote pipeline (`remote`, version 4: detector then classifier, conftest's `remote`
fixture) finds the four BOXES in the sample picture; the classifier answers each crop by
its width with the GUESSES of that box, so every box has known guesses. The built-in
pipeline (`seed-detector-builtin`) finds the sample's one seed, labelled `seed`.

Analyst A (the `analyst`), in General unless said:
- I1: all four boxes confirmed (feedback-positive);
- I2: B1 corrected to Ambrosia artemisiifolia by classId, B2 marked not a seed, B3
  corrected to a label new to the catalogue (Sinapis arvensis), a missed seed added by hand
  (Ambrosia trifida), B4 confirmed;
- I3: B1 moved with its own label, B2 "Multi Seed" with its own label, B3 and B4 confirmed;
- I4: only B1 confirmed: not verified (neither exported nor measured);
- I5 (folder Old): all four confirmed; I6 (folder Old): no feedback. Old is then deleted
  with /del: I5's picture is archived (still exported and measured), I6's is gone;
- P1 (built-in): its seed corrected to Lolium temulentum;
- P2 (built-in): its seed confirmed as `seed` (no species) and a missed Solanum nigrum
  added by hand.
Analyst B batch-imports three pictures: a PNG and a GIF of Bromus secalinus (by seed_name),
and an EXIF-turned JPEG of Solanum nigrum (by seed_id).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.support.feedback import Analyst, ok, seed_id
from tests.support.folders import User, image_bytes
from tests.support.images import exif_rotated_jpeg
from tests.support.model_server import Call, box

if TYPE_CHECKING:
    from tests.conftest import App, Client
    from tests.support.model_server import ModelServer

REMOTE = "remote"
BUILTIN = "seed-detector-builtin"
# The detector's boxes in the 638 x 559 sample, of distinct widths (128, 160, 191, 223 px).
BOXES = [box(0.02, 0.02, 0.22, 0.22, score=0.9), box(0.30, 0.02, 0.55, 0.22, score=0.8),
         box(0.60, 0.02, 0.90, 0.22, score=0.7), box(0.05, 0.50, 0.40, 0.90, score=0.6)]
GUESSES = [
    [{"label": "014 Ambrosia trifida", "score": 0.85}, {"label": "Ambrosia artemisiifolia", "score": 0.10},
     {"label": "Brassica napus", "score": 0.05}],
    [{"label": "Ambrosia artemisiifolia", "score": 0.70}, {"label": "Ambrosia trifida", "score": 0.20},
     {"label": "Brassica napus", "score": 0.10}],
    [{"label": "Brassica napus", "score": 0.60}, {"label": "Brassica juncea", "score": 0.30},
     {"label": "Cirsium arvense", "score": 0.10}],
    [{"label": "Cirsium arvense", "score": 0.50}, {"label": "Cirsium vulgare", "score": 0.40},
     {"label": "Carduus nutans", "score": 0.10}],
]
MISSED = {"topX": 300, "topY": 300, "bottomX": 360, "bottomY": 380}  # I2's seed added by hand
MOVED = {"topX": 10, "topY": 12, "bottomX": 150, "bottomY": 120}  # where I3's B1 was moved to
SOLANUM = {"topX": 20, "topY": 480, "bottomX": 90, "bottomY": 550}  # P2's seed added by hand


def _guesses_by_width(call: Call) -> list[dict[str, Any]]:
    width = call.image().size[0]
    return GUESSES[sum(width > limit for limit in (144, 176, 208))]


@dataclass(frozen=True)
class ExpectedBox:
    """A verified valid box as an export must hold it."""

    species: str  # `seed` for a seed of no species
    edges: tuple[int, int, int, int]  # topX, topY, bottomX, bottomY in pixels
    manual: bool = False


@dataclass
class History:
    """What the history made: the pictures an export must hold, by picture id."""

    boxes: dict[str, list[ExpectedBox]] = field(default_factory=dict)  # pictures with boxes
    labels: dict[str, str] = field(default_factory=dict)  # pictures labelled as a whole
    pipelines: dict[str, str] = field(default_factory=dict)  # picture id -> pipeline name
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)  # upright width, height
    left_out: list[str] = field(default_factory=list)  # pictures stored but not validated
    archived: str = ""  # I5's picture


def _edges(shown: dict[str, Any]) -> tuple[int, int, int, int]:
    b = shown["box"]
    return b["topX"], b["topY"], b["bottomX"], b["bottomY"]


def make_history(app: App, remote: ModelServer, analyst_client: Client, other_client: Client) -> History:
    """Play the history (see the module docstring) through the HTTP API."""
    remote.detector(boxes=BOXES)
    remote.classifier(answer=_guesses_by_width)
    a = Analyst(analyst_client)
    history = History()

    def infer(**extra: Any) -> dict:
        inference = a.infer(**extra)
        history.sizes[inference["picture_id"]] = (638, 559)
        return inference

    def expect(inference: dict, boxes: list[ExpectedBox], pipeline: str = REMOTE) -> None:
        history.boxes[inference["picture_id"]] = boxes
        history.pipelines[inference["picture_id"]] = pipeline

    def ids(inference: dict) -> list[str]:
        return [b["box_id"] for b in inference["boxes"]]

    top = ["Ambrosia trifida", "Ambrosia artemisiifolia", "Brassica napus", "Cirsium arvense"]

    i1 = infer()
    ok(a.positive(i1, ids(i1)))
    expect(i1, [ExpectedBox(s, _edges(b)) for s, b in zip(top, i1["boxes"], strict=True)])

    i2 = infer()
    b1, b2, b3, b4 = ids(i2)
    ok(a.negative(i2, [
        {"boxId": b1, "classId": seed_id(app, "Ambrosia artemisiifolia"), "comment": "Wrong Seed"},
        {"boxId": b2, "comment": "No Seed"},
        {"boxId": b3, "label": "Sinapis arvensis", "comment": "Wrong Seed"},
        {"boxId": "", "label": "Ambrosia trifida", "box": MISSED, "comment": "Seed not Detected"},
    ]))
    ok(a.positive(i2, [b4]))
    shown = i2["boxes"]
    expect(i2, [ExpectedBox("Ambrosia artemisiifolia", _edges(shown[0])),
                ExpectedBox("Sinapis arvensis", _edges(shown[2])),
                ExpectedBox("Cirsium arvense", _edges(shown[3])),
                ExpectedBox("Ambrosia trifida", tuple(MISSED.values()), manual=True)])  # type: ignore[arg-type]

    i3 = infer()
    b1, b2, b3, b4 = ids(i3)
    ok(a.negative(i3, [{"boxId": b1, "label": "Ambrosia trifida", "box": MOVED, "comment": "Wrong Seed"},
                       {"boxId": b2, "label": "Ambrosia artemisiifolia", "comment": "Multi Seed"}]))
    ok(a.positive(i3, [b3, b4]))
    expect(i3, [ExpectedBox("Ambrosia trifida", tuple(MOVED.values()))]  # type: ignore[arg-type]
           + [ExpectedBox(s, _edges(b)) for s, b in zip(top[1:], i3["boxes"][1:], strict=True)])

    i4 = infer()
    ok(a.positive(i4, ids(i4)[:1]))
    history.left_out.append(i4["picture_id"])

    old = User(analyst_client).create_dir("Old")
    i5 = infer(folder_name=old)
    ok(a.positive(i5, ids(i5)))
    expect(i5, [ExpectedBox(s, _edges(b)) for s, b in zip(top, i5["boxes"], strict=True)])
    history.archived = i5["picture_id"]
    infer(folder_name=old)  # I6: no feedback
    assert ok(a.client.post("del", {"container_name": a.id, "folder_name": old})) == [True]

    p1 = infer(model_name=BUILTIN)
    [seed_box] = p1["boxes"]
    ok(a.negative(p1, [{"boxId": seed_box["box_id"], "classId": seed_id(app, "Lolium temulentum")}]))
    expect(p1, [ExpectedBox("Lolium temulentum", _edges(seed_box))], BUILTIN)

    p2 = infer(model_name=BUILTIN)
    [seed_box] = p2["boxes"]
    ok(a.negative(p2, [{"boxId": "", "label": "Solanum nigrum", "box": SOLANUM}]))
    ok(a.positive(p2, [seed_box["box_id"]]))
    expect(p2, [ExpectedBox("seed", _edges(seed_box)),
                ExpectedBox("Solanum nigrum", tuple(SOLANUM.values()), manual=True)], BUILTIN)  # type: ignore[arg-type]

    b = User(other_client)
    bromus = b.new_batch(2, "Bromus")
    b.upload(bromus, image_bytes(1, size=(40, 30)), seed_name="bromus SECALINUS")
    b.upload(bromus, image_bytes(2, fmt="GIF", size=(30, 20)), seed_name="Bromus secalinus")
    solanum = b.new_batch(1, "")
    b.upload(solanum, exif_rotated_jpeg(48, 32), seed_name=None, seed_id=seed_id(app, "Solanum nigrum"))
    for picture_id, folder, width, height in app.sql(
            "SELECT id::text, picture_set_id::text, width, height FROM picture"
            " WHERE picture_set_id IN (%s, %s)", [bromus, solanum]):
        history.labels[picture_id] = "Bromus secalinus" if folder == bromus else "Solanum nigrum"
        history.sizes[picture_id] = (width, height)
    assert len(history.labels) == 3
    return history
