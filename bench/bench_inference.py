"""Benchmark: POST /api/inf end to end with the built-in pipeline on a 1920x1080 synthetic
picture, against the built-in detector alone; the ratio is what the route adds.

    .venv/bin/python -m bench.bench_inference [--runs 10]

Starts its own embedded PostgreSQL and Azurite in a temporary folder and serves the app
in process, as the tests do; prints medians measured in this one run.
"""

from __future__ import annotations

import argparse
import base64
import io

import requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()

    from bench.app_host import median_s, running_app
    from shared.images import decode
    from shared.pipeline.builtin_detector import detect_seeds
    from tests.support.synthetic_seeds import make_seed_picture

    with running_app() as base:
        session = requests.Session()
        user = session.post(f"{base}/get-user-id", json={"email": "bench@example.org"}).json()["user_id"]

        image, truth = make_seed_picture(width=1920, height=1080, n_seeds=12, seed=1)
        out = io.BytesIO()
        image.save(out, format="PNG")
        data = out.getvalue()
        body = {"email": "bench@example.org", "container_name": user, "user_id": user,
                "imageDims": [1920, 1080],
                "image": "data:image/png;base64," + base64.b64encode(data).decode()}

        def infer() -> None:
            r = session.post(f"{base}/inf", json=body, timeout=60)
            assert r.status_code == 200, r.text
            assert r.json()["totalBoxes"] == len(truth), r.json()["totalBoxes"]

        picture = decode(data, max_pixels=40_000_000)
        detector_s = median_s(lambda: detect_seeds(picture.image), args.runs)
        decode_detect_s = median_s(
            lambda: detect_seeds(decode(data, max_pixels=40_000_000).image), args.runs)
        route_s = median_s(infer, args.runs)

    print(f"1920x1080 PNG, {len(truth)} seeds, {len(data) / 1e6:.1f} MB, median of {args.runs} runs")
    print(f"detector alone             {detector_s * 1000:7.0f} ms")
    print(f"decode + detector          {decode_detect_s * 1000:7.0f} ms")
    print(f"POST /api/inf end to end   {route_s * 1000:7.0f} ms")
    print(f"route / detector           {route_s / detector_s:7.2f}x")
    print(f"route / (decode + detector){route_s / decode_detect_s:7.2f}x")


if __name__ == "__main__":
    main()
