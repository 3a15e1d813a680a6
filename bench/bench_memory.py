"""Benchmark: the resident memory of the serving process over 200 inferences.

    .venv/bin/python -m bench.bench_memory [--inferences 200] [--clients 2]

The app runs in `python -m devhost`, a process of its own (bench.app_host.app_process),
which serves each connection on a thread of its own, as the Python worker runs each
invocation on a thread of its pool. `--clients` clients send POST /api/inf side by side,
each on a new connection every time, alternating two pipelines on 1920x1080 PNGs of 20
seeds: the built-in detector, and a remote one (a detector on the local model server
answering the 20 boxes, then a classifier, 20 crops). The blob trigger runs in the same
process (thumbnails). Prints the process's resident memory (VmRSS) after start, after the
first 20 inferences and after all of them, each at rest, and its peak; the target: after
all within 10% of after 20, and under 150 MiB.

At rest means no request in flight and the blob trigger done with the new pictures: it
downloads each one (about 12 MiB resident while it does), and on a loaded machine it may
still be at it seconds after the last answer. A fixed pause then measured a picture in
flight (+12 MiB, a flaky verdict): the bench waits for the process to be idle instead.
"""

from __future__ import annotations

import argparse
import base64
import io
import itertools
import threading
import time
from pathlib import Path

import requests

from bench.app_host import cpu_s

N_SEEDS = 20
WARM = 20  # the first measure, after this many inferences
SETTLE_S = 5  # after a batch, at least: the blob trigger polls every 2 s
IDLE_WINDOW_S = 2.0  # at rest: the process used under IDLE_SHARE of a core over this long
IDLE_SHARE = 0.05
REST_TIMEOUT_S = 120.0
TARGET_GROWTH = 0.10
TARGET_MIB = 150


def rss_mib(pid: int, field: str = "VmRSS") -> float:
    """The process's resident memory (VmRSS), or its peak (VmHWM), from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def wait_at_rest(pid: int) -> float:
    """Wait SETTLE_S, then until the process has been idle for IDLE_WINDOW_S (its blob
    trigger done); the seconds waited. Raises RuntimeError after REST_TIMEOUT_S."""
    started = time.monotonic()
    time.sleep(SETTLE_S)
    while time.monotonic() - started < REST_TIMEOUT_S:
        before = cpu_s(pid)
        time.sleep(IDLE_WINDOW_S)
        if cpu_s(pid) - before < IDLE_SHARE * IDLE_WINDOW_S:
            return time.monotonic() - started
    raise RuntimeError(f"the serving process was still busy {REST_TIMEOUT_S:g} s after the last answer")


def _definition(base_url: str) -> dict:
    """bench_inference_concurrency's remote pipeline, and the built-in detector beside it."""
    from bench.bench_inference_concurrency import _definition as remote

    definition = remote(base_url)
    definition["models"].append({"model_name": "builtin", "type": "builtin-seed-detector",
                                 "task": "object-detection", "version": "1"})
    definition["pipelines"].append({"pipeline_name": "builtin", "models": ["builtin"], "version": "1"})
    return definition


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inferences", type=int, default=200)
    parser.add_argument("--clients", type=int, default=2)
    args = parser.parse_args()

    from cryptography.fernet import Fernet

    from bench.app_host import app_process
    from bench.bench_inference_concurrency import KEY_SETTING
    from shared.pipeline.definitions import parse_definition
    from shared.services.pipelines import import_definition
    from tests.support.model_server import ModelServer, box
    from tests.support.synthetic_seeds import make_seed_picture

    pictures = []
    for seed in range(4):  # a few different pictures, of different sizes once encoded
        image, truth = make_seed_picture(width=1920, height=1080, n_seeds=N_SEEDS, seed=seed)
        out = io.BytesIO()
        image.save(out, format="PNG")
        pictures.append("data:image/png;base64," + base64.b64encode(out.getvalue()).decode())
    models = ModelServer().start()
    models.detector(boxes=[box(left / 1920, top / 1080, right / 1920, bottom / 1080)
                           for left, top, right, bottom in truth])
    models.classifier()
    env = {KEY_SETTING: "bench-key", "NACHET_BLOB_PIPELINE_DECRYPTION_KEY": Fernet.generate_key().decode()}
    measures: dict[str, float] = {}
    waits: dict[str, float] = {}  # seconds from the batch's last answer to rest
    try:
        with app_process(env) as app:
            import_definition(parse_definition(_definition(models.base_url), source="bench"))
            measures["after start"] = rss_mib(app.pid)
            user = requests.post(f"{app.base_url}/get-user-id", json={"email": "bench@example.org"},
                                 timeout=60).json()["user_id"]
            jobs = itertools.cycle(itertools.product(["remote", "builtin"], pictures))
            lock = threading.Lock()

            def client(count: int) -> None:
                for _ in range(count):
                    with lock:
                        pipeline, image = next(jobs)
                    # A new connection each time: the host serves it on a new thread.
                    r = requests.post(f"{app.base_url}/inf", timeout=300, json={
                        "container_name": user, "user_id": user, "imageDims": [1920, 1080],
                        "image": image, "model_name": pipeline})
                    assert r.status_code == 200, r.text

            for count in (WARM, args.inferences - WARM):
                shares = [count // args.clients + (i < count % args.clients) for i in range(args.clients)]
                threads = [threading.Thread(target=client, args=(n,)) for n in shares]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                label = f"after {WARM if count == WARM else args.inferences} inferences"
                waits[label] = wait_at_rest(app.pid)
                measures[label] = rss_mib(app.pid)
            peak = rss_mib(app.pid, "VmHWM")
    finally:
        models.stop()

    print(f"\nresident memory of the serving process (python -m devhost), {args.clients} clients,"
          f" POST /api/inf on 1920x1080 PNGs of {N_SEEDS} seeds, built-in and remote pipelines in turn")
    for label, mib in measures.items():
        rest = f"   (at rest {waits[label]:.0f} s after the last answer)" if label in waits else ""
        print(f"{label:28}{mib:8.1f} MiB{rest}")
    print(f"{'peak (VmHWM)':28}{peak:8.1f} MiB")
    warm, end = measures[f"after {WARM} inferences"], measures[f"after {args.inferences} inferences"]
    growth = end / warm - 1
    verdict = "met" if growth <= TARGET_GROWTH and end < TARGET_MIB else "NOT met"
    print(f"growth from {WARM} to {args.inferences} inferences: {growth:+.1%}"
          f" (target: at most {TARGET_GROWTH:.0%}, and under {TARGET_MIB} MiB: {verdict})")


if __name__ == "__main__":
    main()
