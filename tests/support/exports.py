"""Reading dataset exports back, for the export tests: the archive, its COCO files through
pycocotools' own COCO API, its JSON Lines against Azure ML's documented schema, and the
comparison of both with a scripted history (tests/support/history.py)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator
from PIL import Image
from pycocotools.coco import COCO

from tests.support.history import ExpectedBox, History

if TYPE_CHECKING:
    from tests.conftest import App

# Azure ML AutoML for Images, "Data schemas to train computer vision models with automated
# machine learning" (learn.microsoft.com/azure/machine-learning/reference-automl-images-schema,
# section "Data schema for training"), written down as JSON Schema: image_url (Required,
# String: an azureml:// datastore URL), image_details (Optional: format from the listed
# extensions, width and height a String or a Positive Integer), label (Required).
_IMAGE_DETAILS = {
    "type": "object",
    "properties": {
        "format": {"enum": ["jpg", "jpeg", "png", "jpe", "jfif", "bmp", "tif", "tiff"]},
        "width": {"oneOf": [{"type": "string"}, {"type": "integer", "minimum": 1}]},
        "height": {"oneOf": [{"type": "string"}, {"type": "integer", "minimum": 1}]},
    },
    "additionalProperties": False,
}
_FRACTION = {"type": "number", "minimum": 0, "maximum": 1}  # "Required, Float in the range [0,1]"
# "Object detection": label is a list of boxes, each label, topX, topY, bottomX, bottomY
# (required) and isCrowd ("Optional, Bool", 0 in the page's examples).
DETECTION_LINE = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["image_url", "label"],
    "properties": {
        "image_url": {"type": "string", "pattern": "^azureml://"},
        "image_details": _IMAGE_DETAILS,
        "label": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["label", "topX", "topY", "bottomX", "bottomY"],
                "properties": {"label": {"type": "string", "minLength": 1}, "topX": _FRACTION,
                               "topY": _FRACTION, "bottomX": _FRACTION, "bottomY": _FRACTION,
                               "isCrowd": {"enum": [0, 1, True, False]}},
                "additionalProperties": False,
            },
        },
    },
    "additionalProperties": False,
}
# "Image classification (binary/multi-class)": label is the class, a String.
CLASSIFICATION_LINE = {
    **DETECTION_LINE,
    "properties": {**DETECTION_LINE["properties"], "label": {"type": "string", "minLength": 1}},  # type: ignore[dict-item]
}


def read_zip(data: bytes | Path) -> zipfile.ZipFile:
    """The archive, its every entry's CRC checked."""
    archive = zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes) else data)
    assert archive.testzip() is None
    return archive


def catalogue(app: App) -> dict[int, str]:
    """The categories an export must list: the catalogue by number, and 0 `seed`."""
    return {number: name for number, name in app.sql("SELECT number, name FROM seed")} | {0: "seed"}


def picture_size(archive: zipfile.ZipFile, name: str) -> tuple[int, int]:
    return Image.open(io.BytesIO(archive.read(name))).size


def coco_files(archive: zipfile.ZipFile, folder: Path) -> dict[str, COCO]:
    """Each split's COCO file, loaded by pycocotools from disk as a user would."""
    loaded = {}
    for split in ("train", "validation"):
        path = folder / f"{split}.json"
        path.write_bytes(archive.read(f"annotations/{split}.json"))
        loaded[split] = COCO(str(path))
    return loaded


def split_rows(archive: zipfile.ZipFile) -> dict[str, tuple[str, str, str]]:
    """split.csv: picture id -> (file name, split, stratum)."""
    lines = archive.read("split.csv").decode().splitlines()
    assert lines[0] == "picture_id,file_name,split,stratum"
    return {row[0]: (row[1], row[2], row[3]) for row in (line.split(",") for line in lines[1:])}


def check_coco(app: App, archive: zipfile.ZipFile, folder: Path, history: History, picked: set[str]) -> None:
    """The archive's COCO files hold exactly the pictures `picked` of `history`, with their
    boxes and labels, their files in the archive, and ids and categories as documented."""
    names = catalogue(app)
    files = coco_files(archive, folder)
    splits = split_rows(archive)
    image_ids: set[int] = set()
    annotation_ids: set[int] = set()
    seen: set[str] = set()
    for split, coco in files.items():
        assert {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())} == names
        for image in coco.loadImgs(coco.getImgIds()):
            picture_id = image["picture_id"]
            seen.add(picture_id)
            assert image["id"] not in image_ids
            image_ids.add(image["id"])
            assert splits[picture_id][:2] == (image["file_name"], split)
            size = picture_size(archive, image["file_name"])
            assert size == (image["width"], image["height"]) == history.sizes[picture_id]
            annotations = coco.loadAnns(coco.getAnnIds(imgIds=[image["id"]]))
            annotation_ids.update(a["id"] for a in annotations)
            if picture_id in history.labels:
                assert names[image["category_id"]] == history.labels[picture_id]
                assert annotations == [] and image["pipeline"] is None
                continue
            assert "category_id" not in image
            assert image["pipeline"]["name"] == history.pipelines[picture_id]
            got = sorted((names[a["category_id"]], tuple(a["bbox"]), a["area"], a["manual"], a["iscrowd"])
                         for a in annotations)
            assert got == sorted(_coco_box(b) for b in history.boxes[picture_id]), picture_id
    assert seen == picked
    assert len(annotation_ids) == sum(len(history.boxes[p]) for p in picked if p in history.boxes)


def _coco_box(box: ExpectedBox) -> tuple[str, tuple[int, ...], int, bool, int]:
    x0, y0, x1, y1 = box.edges
    return box.species, (x0, y0, x1 - x0, y1 - y0), (x1 - x0) * (y1 - y0), box.manual, 0


def jsonl(archive: zipfile.ZipFile, name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in archive.read(name).decode().splitlines()]


def check_azureml(archive: zipfile.ZipFile, history: History, picked: set[str], prefix: str) -> None:
    """The archive's JSON Lines follow Azure ML's schema and hold exactly the pictures
    `picked` of `history`, boxes as fractions of the picture."""
    detection = Draft202012Validator(DETECTION_LINE)
    classification = Draft202012Validator(CLASSIFICATION_LINE)
    splits = split_rows(archive)
    seen = set()
    for split in ("train", "validation"):
        for task, validator in (("annotations", detection), ("image_labels", classification)):
            for line in jsonl(archive, f"{split}_{task}.jsonl"):
                validator.validate(line)
                assert line["image_url"].startswith(prefix)
                file_name = line["image_url"].removeprefix(prefix)
                picture_id = file_name.removeprefix("images/").rsplit(".", 1)[0]
                seen.add(picture_id)
                assert splits[picture_id][:2] == (file_name, split)
                width, height = history.sizes[picture_id]
                details = line["image_details"]
                size = picture_size(archive, file_name)
                assert size == (details["width"], details["height"]) == (width, height)
                assert details["format"] == file_name.rsplit(".", 1)[1]
                if task == "image_labels":
                    assert line["label"] == history.labels[picture_id]
                    continue
                got = sorted((b["label"], round(b["topX"] * width), round(b["topY"] * height),
                              round(b["bottomX"] * width), round(b["bottomY"] * height))
                             for b in line["label"])
                assert got == sorted((b.species, *b.edges) for b in history.boxes[picture_id]), picture_id
                assert all(b["isCrowd"] == 0 for b in line["label"])
    assert seen == picked
