"""`python manage.py classify PATH… [--pipeline NAME] [--out DIR]`: run a pipeline on local
pictures, through the same code as /api/inf, storing nothing (shared/services/classify.py;
README, Classifying pictures in bulk)."""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from admin.progress import progress_bar
from shared import images
from shared.errors import AppError
from shared.parallel import ahead
from shared.services.classify import Classified, classify, load_pipeline
from shared.settings import get_settings

CSV_COLUMNS = ("picture", "box", "label", "score", "top_x", "top_y", "bottom_x", "bottom_y",
               "overlapping", "guesses")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the classify command."""
    parser = subparsers.add_parser(
        "classify", help="run a pipeline on local pictures (files, or every picture in a folder) as "
                         "/api/inf does, storing nothing: a table of species per picture, a CSV of "
                         "every box, and each picture with its boxes drawn")
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                        help="a picture, or a folder (its pictures, in its sub-folders too)")
    parser.add_argument("--pipeline", help="the pipeline to run (default: the default pipeline)")
    parser.add_argument("--out", type=Path, default=Path("classified"),
                        help="folder for boxes.csv and the annotated pictures (default ./classified)")
    parser.set_defaults(run=run)


@dataclass
class _Tally:
    """What the run found, picture by picture."""

    rows: list[tuple[str, str, Counter[str], int]] = field(default_factory=list)  # name, error, counts, boxes
    total: Counter[str] = field(default_factory=Counter)
    boxes: int = 0
    failed: int = 0


def run(args: argparse.Namespace) -> int:
    """Classify every picture named; print the table; 1 if any picture failed. Raises
    AppError (no such pipeline, the database unavailable)."""
    files = _pictures(args.paths)
    if isinstance(files, str):
        print(f"error: {files}", file=sys.stderr)
        return 1
    pipeline = load_pipeline(args.pipeline)
    args.out.mkdir(parents=True, exist_ok=True)
    names = _annotated_names(files)
    tally = _Tally()

    def work(path: Path) -> Classified:
        return classify(pipeline, path.read_bytes(), name=path.name)

    # Pictures run side by side, as many as one model may have calls in flight; each
    # model's calls are bounded process-wide by NACHET_MODEL_MAX_IN_FLIGHT all the same.
    window = get_settings().model_max_in_flight
    with (args.out / "boxes.csv").open("w", newline="") as table, progress_bar("pictures") as progress:
        writer = csv.writer(table)
        writer.writerow(CSV_COLUMNS)
        for done, (path, result) in enumerate(ahead(work, files, window=window, name="classify"), start=1):
            try:
                classified = result.result()
            except (AppError, OSError) as exc:
                tally.rows.append((str(path), getattr(exc, "message", None) or str(exc), Counter(), 0))
                tally.failed += 1
            else:
                _record(writer, tally, path, classified)
                extension = "jpg" if classified.annotated_type == "image/jpeg" else "png"
                (args.out / f"{names[path]}.annotated.{extension}").write_bytes(classified.annotated)
            progress(done, len(files))
    _print_table(tally, pipeline.name, len(files))
    print(f"wrote {args.out / 'boxes.csv'} and {len(files) - tally.failed} annotated picture(s) "
          f"in {args.out}")
    return 1 if tally.failed else 0


def _pictures(paths: list[Path]) -> list[Path] | str:
    """The pictures named: files as given, and a folder's files of an accepted format
    (NACHET_VALID_EXTENSION), sorted; or what is wrong."""
    extensions = get_settings().valid_extensions
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*")
                            if p.is_file() and images.accepted_suffix(p.suffix, extensions))
        elif path.is_file():
            found.append(path)
        else:
            return f"no such file or folder: {path}"
    if not found:
        return "no picture found in " + ", ".join(map(str, paths))
    return list(dict.fromkeys(found))


def _annotated_names(files: list[Path]) -> dict[Path, str]:
    """A name in the output folder for each picture: its own, numbered when two are alike."""
    names: dict[Path, str] = {}
    taken: set[str] = set()
    for path in files:
        name, n = path.stem, 1
        while name in taken:
            n += 1
            name = f"{path.stem}-{n}"
        taken.add(name)
        names[path] = name
    return names


def _record(writer: Any, tally: _Tally, path: Path, classified: Classified) -> None:
    inference = classified.inference
    for number, box in enumerate(inference["boxes"], start=1):
        edges = box["box"]
        writer.writerow([str(path), number, box["label"], f"{box['score']:.4f}", edges["topX"],
                         edges["topY"], edges["bottomX"], edges["bottomY"], box["overlapping"],
                         "; ".join(f"{g['label']} {g['score']:.4f}" for g in box["topN"])])
    counts = Counter(inference["labelOccurrence"])
    tally.rows.append((str(path), "", counts, inference["totalBoxes"]))
    tally.total.update(counts)
    tally.boxes += inference["totalBoxes"]


def _print_table(tally: _Tally, pipeline: str, pictures: int) -> None:
    """Species and counts (boxes not marked overlapping, as labelOccurrence) per picture,
    then in total."""
    total = f"total: {pictures - tally.failed} picture(s)"
    if tally.failed:
        total += f", {tally.failed} failed"
    width = max([len("picture"), len(total), *(len(name) for name, *_ in tally.rows)])
    print(f"pipeline {pipeline}")
    print(f"{'picture':<{width}}  {'boxes':>5}  {'species':<30} {'count':>5}")
    for name, error, counts, boxes in [*tally.rows, (total, "", tally.total, tally.boxes)]:
        if error:
            print(f"{name:<{width}}  {'':>5}  error: {error}")
            continue
        lines = sorted(counts.items(), key=lambda item: item[0].casefold()) or [("(no seed)", 0)]
        for n, (species, count) in enumerate(lines):
            first = n == 0
            print(f"{name if first else '':<{width}}  {boxes if first else '':>5}  {species:<30} {count:>5}")
