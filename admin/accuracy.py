"""`python manage.py accuracy [--pipeline NAME] [--since DAY] [--until DAY] [--top-n N]
[--json FILE] [--png DIR]`: how good each model is, from the analysts' corrections
(shared/services/accuracy.py; README, Model accuracy)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from shared.http.accuracy import read_accuracy
from shared.http.request import Body
from shared.services.accuracy import AccuracyRequest, confusion_pngs, model_accuracy


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the accuracy command."""
    parser = subparsers.add_parser(
        "accuracy", help="measure each pipeline from the analysts' corrections: confirmed, "
                         "relabelled, false and missed seeds, a confusion matrix, top-1/top-N "
                         "accuracy, precision, recall")
    parser.add_argument("--pipeline", help="this pipeline only (all its versions)")
    parser.add_argument("--since", help="inferences run on or after this day (UTC), YYYY-MM-DD")
    parser.add_argument("--until", help="inferences run on or before this day (UTC), YYYY-MM-DD")
    parser.add_argument("--top-n", type=int, help=f"N of top-N accuracy (default {AccuracyRequest.top_n})")
    parser.add_argument("--json", type=Path, help="write the report here (default: standard output)")
    parser.add_argument("--png", type=Path, metavar="DIR",
                        help="write each confusion matrix into DIR as <pipeline>-<version>.png")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Measure; write the report and the pictures. Raises AppError."""
    # The options are checked as the route checks its body, by the same code.
    req = read_accuracy(Body({key: getattr(args, key) for key in ("pipeline", "since", "until", "top_n")}))
    report = model_accuracy(req)
    text = json.dumps(report, indent=2)
    if args.json:
        args.json.write_text(text + "\n")
    else:
        print(text)
    if args.png:
        args.png.mkdir(parents=True, exist_ok=True)
        for name, png in confusion_pngs(report):
            (args.png / name).write_bytes(png)
            if args.json:
                print(f"wrote {args.png / name}")
    return 0
