"""POST /api/get-picture with "annotated": true: the picture with its latest inference's
boxes drawn in their colours, each with its label and score on a tag of its colour;
verified boxes solid with a check mark, the others dashed."""

from __future__ import annotations

import base64
import io
from pathlib import Path

from PIL import Image, ImageOps

from tests.conftest import assert_error
from tests.support.feedback import WIDTH, ok
from tests.support.folders import User, image_bytes
from tests.support.images import data_url, exif_rotated_jpeg
from tests.support.inference import body
from tests.support.synthetic_seeds import SAMPLE_PATH

ARTIFACTS = Path(__file__).resolve().parent.parent / ".test-artifacts" / "annotated"


def annotated(analyst, picture_id: str) -> dict:
    return ok(analyst.client.post("get-picture", {"container_name": analyst.id, "picture_id": picture_id,
                                                  "annotated": True}))


def image_of(answer: dict) -> tuple[str, bytes]:
    header, _, payload = answer["image"].partition(",")
    return header, base64.b64decode(payload)


def keep(img: Image.Image, name: str) -> None:
    """Save a drawn picture in .test-artifacts/annotated/, for a person to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    img.save(ARTIFACTS / name)


def near(pixel: tuple[int, ...], color: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], color, strict=True))


def changed(img: Image.Image, before: Image.Image, xy: tuple[int, int]) -> int:
    """How far a pixel moved from what it was, in the channel that moved most."""
    return max(abs(a - b) for a, b in zip(img.getpixel(xy), before.getpixel(xy), strict=True))


def edge_share(img: Image.Image, x: int, top: int, bottom: int, color: tuple[int, int, int]) -> float:
    """The share of the column x, from top to bottom, drawn in `color`."""
    return sum(near(img.getpixel((x, y)), color) for y in range(top, bottom)) / (bottom - top)


def test_boxes_are_drawn_verified_solid_and_the_others_dashed(analyst):
    inference = analyst.infer()
    first, second, third = inference["boxes"]
    ok(analyst.positive(inference, [first["box_id"]]))
    plain = analyst.picture(inference["picture_id"])
    answer = annotated(analyst, inference["picture_id"])
    assert answer["inference"] == plain["inference"] and answer["thumbnail"] == plain["thumbnail"]
    header, data = image_of(answer)
    assert header == "data:image/png;base64"
    img = Image.open(io.BytesIO(data)).convert("RGB")
    keep(img, "verified-and-not.png")
    original = Image.open(io.BytesIO(image_of(plain)[1])).convert("RGB")
    assert img.size == original.size == (WIDTH, 559)
    red = (0xED, 0x1C, 0x24)  # the colour of their one label, Ambrosia trifida
    for shown in (first, second, third):
        assert shown["color"] == "#ED1C24"
    verified = answer["inference"]["boxes"][0]
    assert verified["is_verified"] and not answer["inference"]["boxes"][1]["is_verified"]
    for box, solid in ((verified["box"], True), (second["box"], False), (third["box"], False)):
        share = edge_share(img, box["topX"], box["topY"] + 40, box["bottomY"] - 5, red)
        assert (share > 0.95) if solid else (0.35 < share < 0.8), (box, share)
        # The tag above the box, in the box's colour, with writing on it.
        tag = [img.getpixel((x, box["topY"] - 8)) for x in range(box["topX"] + 2, box["topX"] + 60)]
        assert sum(near(p, red) for p in tag) > 20 and any(not near(p, red, 80) for p in tag)
    # Nothing but the boxes changed: far from them, the picture is as it was.
    assert img.getpixel((630, 550)) == original.getpixel((630, 550))


def test_an_exif_turned_jpeg_is_drawn_upright_as_a_jpeg(analyst):
    turned = exif_rotated_jpeg(320, 200)
    r = analyst.client.post("inf", body(analyst.id, data_url(turned, claimed="image/jpeg")))
    assert r.status_code == 200, r.text
    inference = r.json()
    answer = annotated(analyst, inference["picture_id"])
    header, data = image_of(answer)
    img = Image.open(io.BytesIO(data))
    assert header == "data:image/jpeg;base64" and img.format == "JPEG" and img.size == (200, 320)
    img = img.convert("RGB")
    keep(img, "exif-turned.png")
    # Its boxes are in the upright picture's pixels: that is where they are drawn (dashed).
    upright = ImageOps.exif_transpose(Image.open(io.BytesIO(turned))).convert("RGB")
    box = inference["boxes"][0]["box"]
    column = range(box["topY"] + 30, box["bottomY"] - 5)
    drawn = [changed(img, upright, (box["topX"], y)) > 60 for y in column]
    assert 0.3 < sum(drawn) / len(drawn) < 0.85
    assert changed(img, upright, (150, 300)) < 30  # far from the boxes: as it was


def test_a_picture_without_inference_or_not_annotated_is_the_stored_file(app, analyst):
    inference = analyst.infer()
    for flag in (False, None):
        request = {"container_name": analyst.id, "picture_id": inference["picture_id"]}
        if flag is not None:
            request["annotated"] = flag
        _, data = image_of(ok(analyst.client.post("get-picture", request)))
        assert data == SAMPLE_PATH.read_bytes()
    user = User(analyst.client)
    user.upload(user.new_batch(1), image_bytes(7))
    [(picture_id,)] = app.sql("SELECT id::text FROM picture WHERE upload_session_id IS NOT NULL")
    answer = annotated(analyst, picture_id)
    assert answer["inference"] is None and image_of(answer) == ("data:image/png;base64", image_bytes(7))


def test_bad_flag_and_another_users_picture(analyst, make_client):
    inference = analyst.infer()
    request = {"container_name": analyst.id, "picture_id": inference["picture_id"]}
    assert_error(analyst.client.post("get-picture", {**request, "annotated": "yes"}), 400, "annotated")
    assert_error(analyst.client.post("get-picture", {**request, "annotated": 1}), 400, "annotated")
    other = make_client()
    r = other.post("get-picture", {"container_name": other.user_id(), "picture_id": inference["picture_id"],
                                   "annotated": True})
    assert_error(r, 403, "not yours")
