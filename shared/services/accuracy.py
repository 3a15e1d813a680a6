"""How good each model is, from the analysts' own corrections (`manage.py accuracy` and
POST /api/model-accuracy): per pipeline, over all its versions and per version (a version
is one set of model versions), over its verified inferences.

Of the boxes the model found, each is one of:
- confirmed: verified with the model's top label (as it was, or corrected to that same
  label, moved or not);
- relabelled: verified as another label;
- not a seed: marked invalid (a false seed).
A box an analyst added by hand is a seed the model missed. Then, over the boxes found:
- detector precision = (confirmed + relabelled) / (confirmed + relabelled + not a seed):
  the share of the model's boxes that were seeds;
- detector recall = (confirmed + relabelled) / (confirmed + relabelled + missed): the
  share of the seeds (as far as the analysts marked them) that the model found;
- top-1 and top-N accuracy per species: of the boxes found that the analyst named as that
  species, the share whose top guess, or one of the N best guesses, is that species.
  A box named as no species (a detector's `seed` confirmed as it was) counts in the
  detector's numbers, not in these.
The confusion matrix counts each box by what the model said (a row; `(missed)` for boxes
added by hand) against what the analyst chose (a column; `(not a seed)`). A ratio with no
box to count is null. The boxes are streamed: memory stays flat whatever their number.
"""

from __future__ import annotations

import base64
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from shared import images
from shared.db import connection
from shared.db.queries import accuracy, datasets
from shared.db.queries.accuracy import JudgedBox, Window
from shared.errors import NotFound
from shared.services.days import Days

MISSED = "(missed)"
NOT_A_SEED = "(not a seed)"
# The most rows (columns) a confusion PNG draws, and characters of its title (half that
# of a label): the image stays a few megapixels whatever the catalogue.
PNG_MAX_LABELS = 40
PNG_MAX_CHARS = 120


@dataclass(frozen=True)
class AccuracyRequest:
    """Which verified inferences to measure, and how (shared.http.accuracy checks what a
    caller sends)."""

    pipeline: str | None = None  # by name; None: every pipeline
    run: Days = field(default_factory=Days)  # inferences run on these days
    top_n: int = 5  # at least 1
    png: bool = False  # add each confusion matrix as a PNG data URL


@dataclass
class _Tally:
    """The counts of one pipeline version, or of all versions of a pipeline."""

    inferences: int = 0
    confirmed: int = 0
    relabelled: int = 0
    not_a_seed: int = 0
    missed: int = 0
    matrix: Counter[tuple[str, str]] = field(default_factory=Counter)
    species: dict[str, list[int]] = field(default_factory=dict)  # name -> [boxes, top-1, top-N]

    def add(self, box: JudgedBox, top_n: int) -> None:
        said = MISSED if box.manual else box.model_label or ""
        chose = (box.analyst_label or "") if box.valid else NOT_A_SEED
        self.matrix[said, chose] += 1
        if box.manual:
            self.missed += 1
            return
        if not box.valid:
            self.not_a_seed += 1
            return
        if chose == said:
            self.confirmed += 1
        else:
            self.relabelled += 1
        if box.analyst_seed_id is not None:
            hits = self.species.setdefault(chose, [0, 0, 0])
            hits[0] += 1
            hits[1] += box.guesses[:1] == [box.analyst_seed_id]
            hits[2] += box.analyst_seed_id in box.guesses[:top_n]

    def report(self, top_n: int) -> dict[str, Any]:
        found = self.confirmed + self.relabelled
        rows = sorted({said for said, _ in self.matrix} - {MISSED}, key=str.casefold) + (
            [MISSED] if self.missed else [])
        columns = sorted({chose for _, chose in self.matrix} - {NOT_A_SEED}, key=str.casefold) + (
            [NOT_A_SEED] if self.not_a_seed else [])
        named = [sum(hits[i] for hits in self.species.values()) for i in range(3)]
        return {
            "inferences": self.inferences,
            "boxes": {"found": found + self.not_a_seed, "confirmed": self.confirmed,
                      "relabelled": self.relabelled, "not_a_seed": self.not_a_seed, "missed": self.missed},
            "detector": {"precision": _ratio(found, found + self.not_a_seed),
                         "recall": _ratio(found, found + self.missed)},
            "classifier": {
                "top_n": top_n, "boxes": named[0], "top1": named[1], "top_n_hits": named[2],
                "top1_accuracy": _ratio(named[1], named[0]), "top_n_accuracy": _ratio(named[2], named[0]),
                "species": [{"species": name, "boxes": n, "top1": top1, "top_n_hits": top,
                             "top1_accuracy": _ratio(top1, n), "top_n_accuracy": _ratio(top, n)}
                            for name, (n, top1, top) in sorted(self.species.items(),
                                                               key=lambda item: item[0].casefold())],
            },
            "confusion": {"model": rows, "analyst": columns,
                          "counts": [[self.matrix[r, c] for c in columns] for r in rows]},
        }


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def model_accuracy(req: AccuracyRequest) -> dict[str, Any]:
    """The report of every pipeline with verified inferences in the request's window (see
    the module docstring). Raises NotFound (no pipeline of that name), DependencyUnavailable.
    """
    window = Window(req.pipeline, req.run.start, req.run.end)
    # The tallies come from the boxes alone, one query and so one snapshot; the versions
    # they name are read after them (see accuracy.pipeline_versions). An inference
    # verified meanwhile is in the next report, not half in this one.
    tallies: defaultdict[UUID, _Tally] = defaultdict(_Tally)
    totals: defaultdict[str, _Tally] = defaultdict(_Tally)
    with connection() as conn:
        if req.pipeline is not None and not datasets.pipeline_exists(conn, req.pipeline):
            raise NotFound(f"no pipeline named {req.pipeline!r}")
        last: UUID | None = None
        for box in accuracy.stream_boxes(conn, window):
            for tally in (tallies[box.pipeline_id], totals[box.pipeline_name]):
                tally.inferences += box.inference_id != last
                tally.add(box, req.top_n)
            last = box.inference_id
        versions = accuracy.pipeline_versions(conn, list(tallies))
    report: dict[str, Any] = {
        "top_n": req.top_n,
        "filters": {"pipeline": req.pipeline, **req.run.as_json()},
        "pipelines": [
            {"pipeline": name,
             "all_versions": totals[name].report(req.top_n),
             "versions": [{"pipeline_id": str(v.id), "version": v.version, "models": v.models,
                           **tallies[v.id].report(req.top_n)} for v in versions if v.name == name]}
            for name in dict.fromkeys(v.name for v in versions)
        ],
    }
    if req.png:
        for entry in report["pipelines"]:
            for part, title in _titled(entry):
                png = confusion_png(part, title)
                part["confusion_png"] = f"data:image/png;base64,{base64.b64encode(png).decode()}"
    return report


def _titled(entry: dict[str, Any]) -> Iterable[tuple[dict[str, Any], str]]:
    """Each report of a pipeline entry with the title of its matrix."""
    yield entry["all_versions"], f"{entry['pipeline']}, all versions"
    for version in entry["versions"]:
        models = ", ".join(f"{m['name']} {m['version']}" for m in version["models"])
        yield version, f"{entry['pipeline']} {version['version']} ({models})"


def confusion_pngs(report: dict[str, Any]) -> Iterable[tuple[str, bytes]]:
    """(a file name, the PNG) of every confusion matrix of a report."""
    for entry in report["pipelines"]:
        for part, title in _titled(entry):
            version = part.get("version", "all")
            name = re.sub(r"[^A-Za-z0-9._-]+", "_", f"{entry['pipeline']}-{version}")
            yield f"{name}.png", confusion_png(part, title)


def confusion_png(part: dict[str, Any], title: str) -> bytes:
    """The confusion matrix of one report as a PNG: rows what the model said, columns
    what the analysts chose, agreement in green, the rest in red. Its size is bounded
    whatever the catalogue (every label a classifier or an analyst used joins the
    matrix): past PNG_MAX_LABELS rows or columns, the PNG_MAX_LABELS - 1 labels with the
    most boxes are drawn, each on both axes, and the rest summed into one row and one
    column (their shared cell grey: agreement and errors both); the title is cut at
    PNG_MAX_CHARS characters, labels at half."""
    matrix = part["confusion"]
    said, chose, counts = matrix["model"], matrix["analyst"], matrix["counts"]
    boxes: Counter[str] = Counter()
    for i, label in enumerate(said):
        boxes[label] += sum(counts[i])
    for j, label in enumerate(chose):
        boxes[label] += sum(row[j] for row in counts)
    drawn = (set(boxes) if max(len(said), len(chose)) <= PNG_MAX_LABELS
             else {label for label, _ in boxes.most_common(PNG_MAX_LABELS - 1)})
    rows, columns = _lines(said, drawn), _lines(chose, drawn)
    agreement = {(row.label, column.label): None if row.others and column.others else
                 not row.others and not column.others and said[row.indexes[0]] == chose[column.indexes[0]]
                 for row in rows for column in columns}
    return images.draw_count_table(
        _cut(f"{title}: {part['inferences']} verified inference(s)"),
        [row.label for row in rows], [column.label for column in columns],
        [[sum(counts[i][j] for i in row.indexes for j in column.indexes) for column in columns]
         for row in rows],
        row_axis="the model said", column_axis="the analyst chose",
        agree=lambda row, column: agreement[row, column],
    )


@dataclass(frozen=True)
class _Line:
    """A row or column of a confusion PNG: its label and the matrix's lines summed in it."""

    label: str
    indexes: list[int]
    others: bool = False  # the lines not drawn on their own


def _lines(labels: list[str], drawn: set[str]) -> list[_Line]:
    """The lines of `labels` that are `drawn`, in their order, then the others in one."""
    lines = [_Line(_cut(label, PNG_MAX_CHARS // 2), [i]) for i, label in enumerate(labels) if label in drawn]
    rest = [i for i, label in enumerate(labels) if label not in drawn]
    return [*lines, _Line(f"({len(rest)} others)", rest, others=True)] if rest else lines


def _cut(text: str, limit: int = PNG_MAX_CHARS) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"

