"""Azure ML AutoML JSON Lines, as "Data schemas to train computer vision models with
automated machine learning" defines them
(learn.microsoft.com/azure/machine-learning/reference-automl-images-schema), one file per
split and task:

- `<split>_annotations.jsonl`, object detection: a line per picture, its boxes as fractions
  of the picture's width and height (`topX`, `topY`, `bottomX`, `bottomY`, `isCrowd` 0);
- `<split>_image_labels.jsonl`, multi-class image classification: a line per picture
  labelled as a whole (batch imports), `label` its species.

`image_url` is where the picture will be in an Azure ML datastore: the export's prefix
(an `azureml://` URL) then its path in the archive. `image_details` gives the file's
format (one the schema lists) and the picture's size in pixels."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from shared.datasets.spool import Spool
from shared.db.queries.datasets import DatasetPicture

SPLITS = ("train", "validation")


class AzureMLDataset:
    """Collects the lines per split and task; `files()` gives the four files."""

    def __init__(self, categories: dict[int, str], *, image_url_prefix: str) -> None:
        self._names = categories
        self._prefix = image_url_prefix
        self._spools = {(split, task): Spool()
                        for split in SPLITS for task in ("annotations", "image_labels")}

    def add(self, picture: DatasetPicture, file_name: str, file_format: str, split: str) -> None:
        """The picture (its file in the archive at `file_name`, of `file_format`) in `split`."""
        line: dict[str, Any] = {
            "image_url": self._prefix + file_name,
            "image_details": {"format": file_format, "width": picture.width, "height": picture.height},
        }
        if picture.image_category is not None:
            line["label"] = self._names[picture.image_category]
            task = "image_labels"
        else:
            line["label"] = [self._box(box, picture.width, picture.height) for box in picture.boxes or []]
            task = "annotations"
        text = json.dumps(line, separators=(",", ":"), allow_nan=False)
        self._spools[split, task].add(text.encode() + b"\n")

    def _box(self, box: dict[str, Any], width: int, height: int) -> dict[str, Any]:
        edges = box["box"]
        return {"label": self._names[box["category"]],
                "topX": round(edges["topX"] / width, 6), "topY": round(edges["topY"] / height, 6),
                "bottomX": round(edges["bottomX"] / width, 6), "bottomY": round(edges["bottomY"] / height, 6),
                "isCrowd": 0}

    def files(self) -> Iterator[tuple[str, Iterator[bytes]]]:
        """(name in the archive, its bytes in chunks) of each file."""
        for (split, task), spool in self._spools.items():
            yield f"{split}_{task}.jsonl", spool.chunks()

    def close(self) -> None:
        for spool in self._spools.values():
            spool.close()
