"""Benchmark: 20 seeds classified by a remote classifier taking 100 ms a call, with the calls
side by side (NACHET_MODEL_MAX_IN_FLIGHT=8, as built) against one at a time (=1).

    .venv/bin/python -m bench.bench_inference_concurrency [--runs 5] [--delay-ms 100]

Measured through POST /api/inf over HTTP (a 1920x1080 synthetic picture of 20 seeds, a
detector on the local model server answering their 20 boxes, then the classifier), and
for the classifier adapter alone; prints medians and speed-ups measured in this one run.
"""

from __future__ import annotations

import argparse
import base64
import io
import os

import requests

KEY_SETTING = "NACHET_BENCH_MODEL_KEY"
N_SEEDS = 20


def _definition(base_url: str) -> dict:
    common = {"api_key_setting": KEY_SETTING, "version": "1"}
    return {
        "version": "bench",
        "models": [
            {"model_name": "detector", "type": "azureml-seed-detector", "task": "object-detection",
             "endpoint": f"{base_url}/detector/score", "deployment": "detector",
             "content_type": "application/json", **common},
            {"model_name": "classifier", "type": "azureml-classifier", "task": "classification",
             "endpoint": f"{base_url}/classifier/score", "deployment": "classifier",
             "content_type": "application/octet-stream", **common},
        ],
        "pipelines": [{"pipeline_name": "remote", "models": ["detector", "classifier"],
                       "default": True, "version": "1"}],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--delay-ms", type=int, default=100)
    args = parser.parse_args()

    from cryptography.fernet import Fernet

    from bench.app_host import median_s, running_app
    from shared import settings
    from shared.db import connection
    from shared.db.queries.pipelines import load
    from shared.images import decode
    from shared.pipeline.adapters import get_adapter
    from shared.pipeline.definitions import parse_definition
    from shared.pipeline.types import Detection, FractionBox, Guess
    from shared.services.pipelines import import_definition
    from tests.support.model_server import ModelServer, box
    from tests.support.synthetic_seeds import make_seed_picture

    image, truth = make_seed_picture(width=1920, height=1080, n_seeds=N_SEEDS, seed=7)
    out = io.BytesIO()
    image.save(out, format="PNG")
    data = out.getvalue()
    fractions = [FractionBox(left / 1920, top / 1080, right / 1920, bottom / 1080)
                 for left, top, right, bottom in truth]
    models = ModelServer().start()
    models.detector(boxes=[box(f.top_x, f.top_y, f.bottom_x, f.bottom_y) for f in fractions])
    models.classifier(delay_s=args.delay_ms / 1000)
    os.environ[KEY_SETTING] = "bench-key"
    # The endpoints rest encrypted under this key.
    os.environ["NACHET_BLOB_PIPELINE_DECRYPTION_KEY"] = Fernet.generate_key().decode()

    def with_in_flight(limit: int) -> None:
        os.environ["NACHET_MODEL_MAX_IN_FLIGHT"] = str(limit)
        settings.reset()

    route: dict[int, float] = {}
    adapter: dict[int, float] = {}
    try:
        with running_app() as base:
            import_definition(parse_definition(_definition(models.base_url), source="bench"))
            session = requests.Session()
            user = session.post(f"{base}/get-user-id", json={"email": "bench@example.org"}).json()["user_id"]
            body = {"container_name": user, "user_id": user, "imageDims": [1920, 1080],
                    "image": "data:image/png;base64," + base64.b64encode(data).decode()}

            def infer() -> None:
                r = session.post(f"{base}/inf", json=body, timeout=120)
                assert r.status_code == 200, r.text
                assert r.json()["totalBoxes"] == N_SEEDS, r.json()["totalBoxes"]

            picture = decode(data, max_pixels=40_000_000)
            detections = [Detection(f, (Guess("seed", 0.9),)) for f in fractions]
            with connection() as conn:
                classifier = load(conn, "remote").models[1]
            classify = get_adapter(classifier.type)
            for limit in (8, 1):
                with_in_flight(limit)
                route[limit] = median_s(infer, args.runs)
                adapter[limit] = median_s(lambda: classify(classifier, picture, detections), args.runs)
    finally:
        models.stop()

    print(f"{N_SEEDS} seeds, classifier {args.delay_ms} ms a call, median of {args.runs} runs")
    print(f"{'':34}{'side by side (8)':>18}{'one at a time (1)':>19}{'speed-up':>10}")
    for name, times in (("POST /api/inf end to end", route), ("classifier adapter alone", adapter)):
        print(f"{name:34}{times[8] * 1000:15.0f} ms{times[1] * 1000:16.0f} ms{times[1] / times[8]:9.1f}x")


if __name__ == "__main__":
    main()
