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
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def _median_s(action: Callable[[], object], runs: int) -> float:
    action()  # warm-up: imports, pool, containers
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()

    from devhost.server import Dispatcher, HostServer
    from devhost.services import azurite_connection_string, free_port, start_azurite, start_postgres, stop
    from devhost.settings_file import HostSettings
    from shared.images import decode
    from shared.pipeline.builtin_detector import detect_seeds
    from tests.synthetic_seeds import make_seed_picture

    with tempfile.TemporaryDirectory() as tmp:
        postgres = start_postgres(Path(tmp) / "postgres")
        azurite_port = free_port()
        azurite = start_azurite(ROOT, Path(tmp) / "azurite", azurite_port)
        os.environ.update({
            "NACHET_DB_URL": postgres.get_uri(),
            "NACHET_AZURE_STORAGE_CONNECTION_STRING": azurite_connection_string(azurite_port),
            "NACHET_ENV": "local",
        })
        server = HostServer(("127.0.0.1", 0), Dispatcher(ROOT), HostSettings(0, (), False))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            base = f"http://127.0.0.1:{server.server_address[1]}/api"
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
            detector_s = _median_s(lambda: detect_seeds(picture.image), args.runs)
            decode_detect_s = _median_s(
                lambda: detect_seeds(decode(data, max_pixels=40_000_000).image), args.runs)
            route_s = _median_s(infer, args.runs)
        finally:
            server.shutdown()
            server.server_close()
            stop(azurite)
            postgres.cleanup()

    print(f"1920x1080 PNG, {len(truth)} seeds, {len(data) / 1e6:.1f} MB, median of {args.runs} runs")
    print(f"detector alone             {detector_s * 1000:7.0f} ms")
    print(f"decode + detector          {decode_detect_s * 1000:7.0f} ms")
    print(f"POST /api/inf end to end   {route_s * 1000:7.0f} ms")
    print(f"route / detector           {route_s / detector_s:7.2f}x")
    print(f"route / (decode + detector){route_s / decode_detect_s:7.2f}x")


if __name__ == "__main__":
    main()
