"""COCO detection files (cocodataset.org/#format-data), one per split.

Categories are the seed catalogue by number (stable across exports), plus 0, `seed`: a
seed the analyst confirmed without naming its species. An annotation's `bbox` is
[x, y, width, height] in pixels of the upright picture. Pictures labelled as a whole (batch
imports: a species, no boxes) are images with no annotation and a picture-level
`category_id`: a detector must not learn from them that they hold no seed. Images also
carry `picture_id` (Nachet's id) and `pipeline` ({"name", "version"} of the verified
inference, or null); annotations `manual` (a box an analyst added)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from shared.datasets.spool import Spool
from shared.db.queries.datasets import DatasetPicture

SPLITS = ("train", "validation")


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()


class CocoDataset:
    """Collects images and annotations per split; `files()` gives annotations/<split>.json.
    Image and annotation ids are unique across both files, in the order added."""

    def __init__(self, categories: dict[int, str], *, description: str, created: datetime) -> None:
        self._categories = [{"id": number, "name": name, "supercategory": "seed"}
                            for number, name in sorted(categories.items())]
        self._description = description
        self._created = created
        self._images = {split: Spool(b",") for split in SPLITS}
        self._annotations = {split: Spool(b",") for split in SPLITS}
        self._image_id = 0
        self._annotation_id = 0

    def add(self, picture: DatasetPicture, file_name: str, file_format: str, split: str) -> None:
        """The picture (its file in the archive at `file_name`) and its boxes, in `split`."""
        self._image_id += 1
        image: dict[str, Any] = {
            "id": self._image_id, "file_name": file_name, "width": picture.width,
            "height": picture.height, "date_captured": picture.uploaded_at.isoformat(),
            "picture_id": str(picture.id),
            "pipeline": ({"name": picture.pipeline, "version": picture.pipeline_version}
                         if picture.pipeline is not None else None),
        }
        if picture.image_category is not None:
            image["category_id"] = picture.image_category
        self._images[split].add(_json(image))
        for box in picture.boxes or []:
            self._annotation_id += 1
            edges = box["box"]
            width, height = edges["bottomX"] - edges["topX"], edges["bottomY"] - edges["topY"]
            self._annotations[split].add(_json({
                "id": self._annotation_id, "image_id": self._image_id, "category_id": box["category"],
                "bbox": [edges["topX"], edges["topY"], width, height], "area": width * height,
                "iscrowd": 0, "manual": box["manual"],
            }))

    def files(self) -> Iterator[tuple[str, Iterator[bytes]]]:
        """(name in the archive, its bytes in chunks) of each split's file."""
        for split in SPLITS:
            yield f"annotations/{split}.json", self._file(split)

    def _file(self, split: str) -> Iterator[bytes]:
        info = {"description": f"{self._description} ({split})", "date_created": self._created.isoformat()}
        yield b'{"info":' + _json(info) + b',"licenses":[],"categories":' + _json(self._categories)
        yield b',"images":['
        yield from self._images[split].chunks()
        yield b'],"annotations":['
        yield from self._annotations[split].chunks()
        yield b"]}"

    def close(self) -> None:
        for spool in (*self._images.values(), *self._annotations.values()):
            spool.close()
