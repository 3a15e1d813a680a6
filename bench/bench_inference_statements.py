"""Benchmark: the SQL statements of one POST /api/inf, for pictures of 1, 20 and 200 boxes.

    .venv/bin/python -m bench.bench_inference_statements [--boxes 1 20 200] [--runs 3] [--detail]

The app runs in process on its own embedded PostgreSQL and Azurite (bench.app_host), in
local mode, and reaches the database through bench.statement_counter, a proxy that counts
what goes over the wire: every statement the server runs (BEGIN, COMMIT and the pool's
connection checks included, each counted apart too), and the round trips. The pipeline is
a detector on the local model server answering N boxes, then a classifier answering five
catalogue species for each box (as bench_inference_concurrency sets them up). Each count
is taken after a warm-up request of the same size (pool open, new labels in the
catalogue), `--runs` times: the counts must not vary. `--detail` lists the statements.
"""

from __future__ import annotations

import argparse
import base64
import io
import os

import requests

KEY_SETTING = "NACHET_BENCH_MODEL_KEY"
TARGET = 15  # statements per /api/inf


def grid_boxes(n: int) -> list[tuple[float, float, float, float]]:
    """`n` boxes that do not overlap, as fractions of the picture, row by row."""
    columns = min(n, 20)
    rows = -(-n // columns)
    width, height = 1 / columns, 1 / rows
    return [((i % columns + 0.1) * width, (i // columns + 0.1) * height,
             (i % columns + 0.9) * width, (i // columns + 0.9) * height) for i in range(n)]


def _definition(base_url: str, sizes: list[int]) -> dict:
    common = {"api_key_setting": KEY_SETTING, "version": "1"}
    detectors = [
        {"model_name": f"detector-{n}", "type": "azureml-seed-detector", "task": "object-detection",
         "endpoint": f"{base_url}/detector-{n}/score", "deployment": "detector",
         "content_type": "application/json", **common}
        for n in sizes
    ]
    classifier = {"model_name": "classifier", "type": "azureml-classifier", "task": "classification",
                  "endpoint": f"{base_url}/classifier/score", "deployment": "classifier",
                  "content_type": "application/octet-stream", **common}
    return {
        "version": "bench-statements",
        "models": [*detectors, classifier],
        "pipelines": [{"pipeline_name": f"boxes-{n}", "models": [f"detector-{n}", "classifier"],
                       "default": n == sizes[0], "version": "1"} for n in sizes],
    }


def _picture() -> bytes:
    from PIL import Image

    image = Image.linear_gradient("L").resize((1280, 960)).convert("RGB")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boxes", type=int, nargs="+", default=[1, 20, 200])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--detail", action="store_true", help="list the statements of each size")
    args = parser.parse_args()

    from cryptography.fernet import Fernet

    from bench.app_host import running_app
    from bench.statement_counter import Counts, StatementCounter
    from shared import settings
    from shared.pipeline.definitions import parse_definition
    from shared.services.pipelines import import_definition
    from tests.support.model_server import ModelServer, box

    models = ModelServer().start()
    for n in args.boxes:
        models.detector(f"detector-{n}", boxes=[box(*b) for b in grid_boxes(n)])
    os.environ[KEY_SETTING] = "bench-key"
    # The endpoints rest encrypted under this key.
    os.environ["NACHET_BLOB_PIPELINE_DECRYPTION_KEY"] = Fernet.generate_key().decode()
    image = "data:image/png;base64," + base64.b64encode(_picture()).decode()
    counts: dict[int, list[Counts]] = {}
    try:
        with running_app() as base, StatementCounter(os.environ["NACHET_DB_URL"]) as counter:
            os.environ["NACHET_DB_URL"] = counter.url
            settings.reset()  # the app's pool now connects through the counter
            import_definition(parse_definition(_definition(models.base_url, args.boxes), source="bench"))
            session = requests.Session()
            species = [s["seed_name"] for s in session.get(f"{base}/seeds").json()["seeds"][:5]]
            guesses = [{"label": name, "score": round(0.9 - 0.2 * i, 2)} for i, name in enumerate(species)]
            models.classifier("classifier", answer=lambda call: guesses)
            user = session.post(f"{base}/get-user-id", json={"email": "bench@example.org"}).json()["user_id"]

            def infer(n: int) -> None:
                r = session.post(f"{base}/inf", timeout=300, json={
                    "container_name": user, "user_id": user, "imageDims": [1280, 960],
                    "image": image, "model_name": f"boxes-{n}"})
                assert r.status_code == 200, r.text
                assert r.json()["totalBoxes"] == n, r.json()["totalBoxes"]

            for n in args.boxes:
                infer(n)  # warm-up
                counts[n] = []
                for _ in range(args.runs):
                    counter.reset()
                    infer(n)
                    counts[n].append(counter.snapshot())
    finally:
        models.stop()

    print(f"\nPOST /api/inf, SQL statements sent (local mode; {args.runs} runs each after a warm-up)")
    print(f"{'boxes':>6}{'statements':>12}{'queries':>9}{'BEGIN/COMMIT':>14}{'checks':>8}"
          f"{'transactions':>14}{'round trips':>13}")
    for n, runs in counts.items():
        c = runs[-1]
        varied = "" if all(r == c for r in runs) else "  (varied: " + ", ".join(
            str(r.statements) for r in runs) + ")"
        print(f"{n:>6}{c.statements:>12}{c.queries:>9}{c.transaction_control:>14}{c.checks:>8}"
              f"{c.transactions:>14}{c.round_trips:>13}{varied}")
    totals = {runs[-1].statements for runs in counts.values()}
    verdict = "met" if max(totals) <= TARGET and len(totals) == 1 else "NOT met"
    print(f"target: at most {TARGET} statements, the same whatever the number of boxes: {verdict}")
    if args.detail:
        for n, runs in counts.items():
            print(f"\n{n} boxes:")
            for text, number in sorted(runs[-1].by_text.items(), key=lambda item: -item[1]):
                print(f"{number:>6}  {text or '(empty: connection check)'}")


if __name__ == "__main__":
    main()
