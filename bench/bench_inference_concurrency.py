"""Benchmark: POST /api/inf against its model-bound limit, with 20 seeds classified by a
remote classifier taking 100 ms a call, the calls side by side (NACHET_MODEL_MAX_IN_FLIGHT
=8, as built) and one at a time (=1).

    .venv/bin/python -m bench.bench_inference_concurrency [--runs 7] [--delay-ms 100]

The app runs in a process of its own (bench.app_host.app_process), as in Azure; the
client and the model server (a detector answering the 20 boxes of a 1920x1080 synthetic
PNG, then the classifier) run in this one. In the same run, alternating with the route's
requests, the bench calls both models directly with what the app sends them: the
model-bound limit is the detector's latency plus the classifier's times the rounds that
the in-flight limit allows (20 crops, 8 at a time: 3 rounds). Also the classifier adapter
alone, in this process. Prints medians, speed-ups and /api/inf over its limit (target at
most 1.3), the app process's CPU time per /api/inf (its blob trigger's work on the
picture included; less sensitive than wall times to what else the machine runs) and the
load average before and after.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import math
import os
import statistics
import time
from collections.abc import Callable

import requests

KEY_SETTING = "NACHET_BENCH_MODEL_KEY"
N_SEEDS = 20
TARGET = 1.3  # /api/inf over its model-bound limit


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


def alternating_medians(actions: dict[str, Callable[[], object]], runs: int) -> dict[str, float]:
    """The median wall time of each action over `runs` rounds in which each runs once, in
    turn (so that all see the same machine), after one warm-up round."""
    times: dict[str, list[float]] = {name: [] for name in actions}
    for round_number in range(runs + 1):
        for name, action in actions.items():
            started = time.perf_counter()
            action()
            if round_number:
                times[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--delay-ms", type=int, default=100)
    args = parser.parse_args()

    from cryptography.fernet import Fernet

    from bench.app_host import app_process, cpu_s, median_s
    from shared.db import connection
    from shared.db.queries.pipelines import load
    from shared.images import crop, decode, encode
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
    detector_url = models.detector(boxes=[box(f.top_x, f.top_y, f.bottom_x, f.bottom_y) for f in fractions])
    classifier_url = models.classifier(delay_s=args.delay_ms / 1000)
    # What the app sends each model: the file in a JSON body, and a crop as base64 text.
    detector_body = ('{"input_data": {"columns": ["image"], "index": [0], "data": ["'
                     + base64.b64encode(data).decode() + '"]}}').encode()
    picture = decode(data, max_pixels=40_000_000)
    crop_body = base64.b64encode(encode(crop(picture.image, truth[0]), "PNG"))
    env = {KEY_SETTING: "bench-key",
           # The endpoints rest encrypted under this key.
           "NACHET_BLOB_PIPELINE_DECRYPTION_KEY": Fernet.generate_key().decode()}
    direct = requests.Session()

    def call(url: str, body: bytes, content_type: str) -> Callable[[], None]:
        def post() -> None:
            r = direct.post(url, data=body, headers={"Content-Type": content_type,
                                                     "Authorization": "Bearer bench-key"}, timeout=60)
            r.raise_for_status()
        return post

    load_before = os.getloadavg()[0]
    route: dict[int, float] = {}
    route_cpu: dict[int, float] = {}
    adapter: dict[int, float] = {}
    limit_parts: dict[int, tuple[float, float]] = {}
    try:
        for in_flight in (8, 1):
            with app_process({**env, "NACHET_MODEL_MAX_IN_FLIGHT": str(in_flight)}) as app:
                import_definition(parse_definition(_definition(models.base_url), source="bench"))
                session = requests.Session()
                user = session.post(f"{app.base_url}/get-user-id",
                                    json={"email": "bench@example.org"}).json()["user_id"]
                # Encoded once, as the models' bodies are: the client's JSON encoding of 4 MB
                # (7 ms here) is not the app's work.
                picture_url = "data:image/png;base64," + base64.b64encode(data).decode()
                body = json.dumps({"container_name": user, "user_id": user, "imageDims": [1920, 1080],
                                   "image": picture_url}).encode()

                def infer() -> None:
                    r = session.post(f"{app.base_url}/inf", data=body, timeout=120,  # noqa: B023
                                     headers={"Content-Type": "application/json"})
                    assert r.status_code == 200, r.text
                    assert r.json()["totalBoxes"] == N_SEEDS, r.json()["totalBoxes"]

                cpu_before = cpu_s(app.pid)
                times = alternating_medians({
                    "route": infer,
                    "detector": call(detector_url, detector_body, "application/json"),
                    "classifier": call(classifier_url, crop_body, "application/octet-stream"),
                }, args.runs)
                route[in_flight] = times["route"]
                # The rounds' route calls, warm-up included; the trigger's work on each picture
                # runs within the rounds too (its scan follows each answer within 2 s).
                route_cpu[in_flight] = (cpu_s(app.pid) - cpu_before) / (args.runs + 1)
                limit_parts[in_flight] = (times["detector"], times["classifier"])
                detections = [Detection(f, (Guess("seed", 0.9),)) for f in fractions]
                with connection() as conn:
                    classifier = load(conn, "remote").models[1]  # type: ignore[union-attr]
                classify = get_adapter(classifier.type)
                adapter[in_flight] = median_s(lambda: classify(classifier, picture, detections),  # noqa: B023
                                              args.runs)
    finally:
        models.stop()

    print(f"\n{N_SEEDS} seeds, classifier {args.delay_ms} ms a call, median of {args.runs} runs;"
          " the app in a process of its own")
    print(f"load average {load_before:.2f} before, {os.getloadavg()[0]:.2f} after")
    print(f"{'':34}{'side by side (8)':>18}{'one at a time (1)':>19}{'speed-up':>10}")
    for name, times_ in (("POST /api/inf end to end", route), ("classifier adapter alone", adapter)):
        print(f"{name:34}{times_[8] * 1000:15.0f} ms{times_[1] * 1000:16.0f} ms{times_[1] / times_[8]:9.1f}x")
    print(f"{'app process CPU per /api/inf':34}{route_cpu[8] * 1000:15.0f} ms{route_cpu[1] * 1000:16.0f} ms")
    limits = {}
    for in_flight, (detector_s, classifier_s) in limit_parts.items():
        rounds = math.ceil(N_SEEDS / in_flight)
        limits[in_flight] = detector_s + rounds * classifier_s
        print(f"model-bound limit ({in_flight} in flight): detector {detector_s * 1000:.0f} ms + {rounds}"
              f" rounds x classifier {classifier_s * 1000:.0f} ms = {limits[in_flight] * 1000:.0f} ms")
    for in_flight, limit_s in limits.items():
        ratio = route[in_flight] / limit_s
        verdict = "met" if ratio <= TARGET else "NOT met"
        print(f"/api/inf over its limit ({in_flight} in flight): {ratio:.2f}"
              f" (target at most {TARGET}: {verdict})")


if __name__ == "__main__":
    main()
