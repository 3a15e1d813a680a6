"""Benchmark: a dataset export of 1,000 and then of 5,000 pictures, each in a fresh
process, side by side: the peak memory of each (Python's allocations, tracemalloc, and the
process's RSS high-water mark) and the rate. The export streams, so the second peak must be
within 10% of the first.

    .venv/bin/python -m bench.bench_export [--format coco|azureml] [--pictures 1000 5000]

The app's services run on their own embedded PostgreSQL and Azurite (bench.app_host). The
pictures are written as the app would hold them after the analysts' work: a 64 x 48 PNG
blob each (distinct bytes), its row, a verified inference of the built-in pipeline with
three verified boxes, and its picture_seed rows; the first 1,000 on one day, the rest on
the next, so that the smaller export is the larger one's first day. Each export goes to a
blob of the exports container (the route's path: a block upload), run by
`python -m bench.bench_export --child` in a process of its own. It also prints how many
transactions the export ran and how long the longest held its connection (the export reads
its rows in one, then holds none while it reads and writes blobs), and that reading
transaction timed again without tracemalloc, which slows it.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date
from typing import Any

import psycopg
import requests

FIRST_DAY, SECOND_DAY = date(2024, 5, 1), date(2024, 5, 2)


def _png(n: int) -> bytes:
    from PIL import Image

    rng = random.Random(n)
    img = Image.frombytes("RGB", (64, 48), bytes(rng.randrange(256) for _ in range(64 * 48 * 3)))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def _fill(base_url: str, db_url: str, storage: str, container: str, count: int, first_day: int) -> None:
    """Store `count` verified pictures (see the module docstring)."""
    from azure.storage.blob import BlobServiceClient, ContentSettings

    r = requests.post(f"{base_url}/get-user-id", json={"email": "bench@example.org"}, timeout=30)
    r.raise_for_status()
    user_id = r.json()["user_id"]
    blobs = BlobServiceClient.from_connection_string(storage).get_container_client(container)
    if not blobs.exists():
        blobs.create_container()
    names = [f"{user_id}/bench/{n}.png" for n in range(count)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda n: blobs.upload_blob(names[n], _png(n), overwrite=True,
                                                  content_settings=ContentSettings(content_type="image/png")),
                      range(count)))
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SET search_path TO nachet")
        folder = conn.execute("SELECT default_set_id FROM users WHERE id = %s", [user_id]).fetchone()[0]
        pipeline = conn.execute("SELECT id FROM pipeline WHERE name = 'seed-detector-builtin'").fetchone()[0]
        seeds = [row[0] for row in conn.execute("SELECT id FROM seed ORDER BY number")]
        rng = random.Random(0)
        pictures, inferences, objects, guesses, labels = [], [], [], [], []
        for n, name in enumerate(names):
            picture, inference = uuid.uuid4(), uuid.uuid4()
            day = FIRST_DAY if n < first_day else SECOND_DAY
            pictures.append((picture, folder, name, day, f"{n:064x}"))
            inferences.append((inference, picture, user_id, pipeline))
            chosen = {rng.choice(seeds) for _ in range(3)}
            for position, seed in enumerate(sorted(chosen)):
                box, guess = uuid.uuid4(), uuid.uuid4()
                edges = {"topX": 2 + position * 20, "topY": 4, "bottomX": 18 + position * 20, "bottomY": 40}
                objects.append((box, inference, position, json.dumps(edges), guess, guess))
                guesses.append((guess, box, seed))
                labels.append((picture, seed))
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany("INSERT INTO picture (id, picture_set_id, blob_name, content_type, width, height,"
                            " sha256, uploaded_at) VALUES (%s, %s, %s, 'image/png', 64, 48, %s, %s)",
                            [(p, f, b, s, d) for p, f, b, d, s in pictures])
            cur.executemany("INSERT INTO inference (id, picture_id, user_id, pipeline_id, verified)"
                            " VALUES (%s, %s, %s, %s, true)", inferences)
            cur.executemany("INSERT INTO object (id, inference_id, position, box, color, top_id, verified_id)"
                            " VALUES (%s, %s, %s, %s, '#ED1C24', %s, %s)", objects)
            cur.executemany("INSERT INTO seed_obj (id, object_id, seed_id, label, score, rank)"
                            " VALUES (%s, %s, %s, 'x', 0.9, 1)", guesses)
            cur.executemany("INSERT INTO picture_seed VALUES (%s, %s) ON CONFLICT DO NOTHING", labels)


def _child(fmt: str, until: str | None) -> None:
    """Export (in this fresh process) and print what it measured, as JSON."""
    import tracemalloc

    from shared.datasets.spool import RowSpool
    from shared.db.queries.datasets import DatasetPicture
    from shared.services import export
    from shared.services.days import Days

    spec = export.ExportSpec(format=fmt, uploaded=Days(None, date.fromisoformat(until) if until else None))
    held: list[float] = []  # how long each of the export's transactions held its connection
    opened = export.connection

    @contextmanager
    def timed() -> Iterator[Any]:
        start = time.perf_counter()
        with opened() as conn:
            yield conn
        held.append(time.perf_counter() - start)

    export.connection = timed  # type: ignore[assignment]
    tracemalloc.start()
    started = time.perf_counter()
    answer = export.export_to_blob(export.BlobExport(spec, name=f"bench-{uuid.uuid4().hex[:8]}"))
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    rss_peak = _high_water_bytes()
    # tracemalloc slows Python (each row built and pickled): the export's reading
    # transaction once more, after the measures above, without it.
    tracemalloc.stop()
    picked: RowSpool[DatasetPicture] = RowSpool()
    exported = held[:]
    export._pick(spec, picked)
    picked.close()
    print(json.dumps({"pictures": answer["pictures"], "boxes": answer["boxes"], "bytes": answer["size_bytes"],
                      "seconds": elapsed, "python_peak": peak, "rss_peak": rss_peak,
                      "transactions": len(exported), "longest_transaction": max(exported, default=0.0),
                      "untraced_transaction": held[-1]}))


def _high_water_bytes() -> int:
    """This process's RSS high-water mark (VmHWM: of its own memory since its exec; the
    ru_maxrss of getrusage also counts what the parent held when it forked)."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def _measure(fmt: str, until: str | None) -> dict:
    result = subprocess.run([sys.executable, "-m", "bench.bench_export", "--child", "--format", fmt,
                             *(["--until", until] if until else [])],
                            capture_output=True, text=True, check=True, env=dict(os.environ))
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--format", default="coco", choices=("coco", "azureml"))
    parser.add_argument("--pictures", type=int, nargs=2, default=(1000, 5000), metavar=("SMALL", "LARGE"))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--until", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.format, args.until)
        return 0

    from bench.app_host import running_app
    from shared.settings import get_settings

    small, large = args.pictures
    with running_app() as base_url:
        settings = get_settings()
        assert settings.storage_connection_string is not None
        print(f"storing {large} verified pictures ...", flush=True)
        _fill(base_url, settings.db_url, settings.storage_connection_string, settings.pictures_container,
              large, small)
        runs = {small: _measure(args.format, FIRST_DAY.isoformat()), large: _measure(args.format, None)}
    print(f"\n{args.format} export, each in a fresh process:")
    print(f"{'pictures':>9} {'boxes':>7} {'archive':>9} {'seconds':>8} {'pictures/s':>11} "
          f"{'python peak':>12} {'RSS peak':>10} {'transactions':>13} {'longest':>9} {'untraced':>9}")
    for count, run in runs.items():
        assert run["pictures"] == count, run
        print(f"{run['pictures']:>9} {run['boxes']:>7} {run['bytes'] / 2**20:>7.1f}MB {run['seconds']:>8.1f} "
              f"{run['pictures'] / run['seconds']:>11.0f} {run['python_peak'] / 2**20:>10.2f}MB "
              f"{run['rss_peak'] / 2**20:>8.1f}MB {run['transactions']:>13} "
              f"{run['longest_transaction'] * 1000:>7.0f}ms {run['untraced_transaction'] * 1000:>7.0f}ms")
    python_ratio = runs[large]["python_peak"] / runs[small]["python_peak"]
    rss_ratio = runs[large]["rss_peak"] / runs[small]["rss_peak"]
    print(f"\npeak memory, {large} pictures against {small}: Python allocations x{python_ratio:.3f}, "
          f"RSS x{rss_ratio:.3f} (the target: within 10%, x1.10)")
    return 0 if python_ratio <= 1.10 and rss_ratio <= 1.10 else 1


if __name__ == "__main__":
    sys.exit(main())
