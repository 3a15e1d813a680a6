"""The local host's CPU while idle with 10,000 pictures stored, side by side in one run:
the previous blob-trigger scan (every blob listed with its metadata every 2 s, reproduced
below as the baseline) against `python -m devhost` as it is (the incremental scan), each in
a process of its own on the same data, measured over the same window after it settled.

    .venv/bin/python -m bench.bench_idle_host [--pictures 10000] [--settle 75] [--window 120]

The pictures are written straight to Azurite with their rows and with the receipts the
trigger leaves once it has handled them, as on a host that has been running for a while.
Prints each process's CPU as a share of one core (the host's and Azurite's, and Azurite's
with no host at all), the ratio, and the target: under 2% of a core for the idle host.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.app_host import cpu_s

ROOT = Path(__file__).resolve().parent.parent
PICTURES = "nachet-pictures"
TARGET = 0.02  # of one core


def _store(env: dict[str, str], count: int) -> None:
    """`count` small pictures of one analyst: blobs, rows and done receipts."""
    import psycopg
    from azure.storage.blob import BlobServiceClient, ContentSettings
    from PIL import Image

    from devhost.blob_receipts import HOSTS_CONTAINER, BlobVersion
    from shared.identity import get_or_register
    from shared.settings import get_settings

    user_id = get_or_register("idle@example.org")
    settings = get_settings()
    with psycopg.connect(settings.db_url) as conn:
        [(folder_id,)] = conn.execute(
            f"SELECT default_set_id FROM {settings.schema}.users WHERE id = %s", [user_id]).fetchall()
    png = io.BytesIO()
    Image.new("RGB", (8, 6), (40, 160, 60)).save(png, "PNG")
    service = BlobServiceClient.from_connection_string(env["NACHET_AZURE_STORAGE_CONNECTION_STRING"])
    pictures, hosts = service.get_container_client(PICTURES), service.get_container_client(HOSTS_CONTAINER)
    pictures.create_container()
    hosts.create_container()
    names = [f"{user_id}/{folder_id}/{uuid.uuid4()}.png" for _ in range(count)]

    def put(name: str) -> None:
        reply = pictures.get_blob_client(name).upload_blob(
            png.getvalue(), content_settings=ContentSettings(content_type="image/png"))
        receipt = BlobVersion("process_picture", PICTURES, name, reply["etag"].strip('"')).receipt
        hosts.upload_blob(receipt, b"", metadata={"state": "done", "attempts": "1"})

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, names))
    with psycopg.connect(settings.db_url) as conn, conn.cursor().copy(
        f"COPY {settings.schema}.picture (id, picture_set_id, blob_name, content_type, width, height, sha256)"
        " FROM STDIN"
    ) as copy:
        for name in names:
            copy.write_row((name.rsplit("/", 1)[1][:-4], folder_id, name, "image/png", 8, 6, ""))


def _measure(command: list[str], env: dict[str, str], azurite_pid: int, settle_s: float,
             window_s: float) -> tuple[float, float]:
    """Start `command`, let it settle, and return its CPU and Azurite's over the window, each
    as a share of one core."""
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stderr is not None
        for line in proc.stderr:  # started: serving, or scanning
            if re.search(r"serving \d+ HTTP functions|previous scan started", line):
                break
        else:
            raise RuntimeError(f"{command} did not start")
        # The log goes on being read, so that a full pipe never blocks the process.
        drain = ThreadPoolExecutor(1)
        drain.submit(lambda: sum(1 for _ in proc.stderr))  # type: ignore[union-attr]
        time.sleep(settle_s)
        host0, azurite0, started = cpu_s(proc.pid), cpu_s(azurite_pid), time.monotonic()
        time.sleep(window_s)
        host1, azurite1, elapsed = cpu_s(proc.pid), cpu_s(azurite_pid), time.monotonic() - started
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    drain.shutdown()
    return (host1 - host0) / elapsed, (azurite1 - azurite0) / elapsed


def previous_scan() -> None:
    """The blob trigger's scan before it was incremental: the receipts read once, then every
    2 s the whole container listed with metadata and each blob version looked up."""
    import logging

    from azure.storage.blob import BlobServiceClient

    from devhost.blob_receipts import HOSTS_CONTAINER, RECEIPTS
    from devhost.blob_triggers import BlobTrigger
    from devhost.functions import discover

    logging.basicConfig(level=logging.INFO, format="%(message)s")
    [trigger] = [BlobTrigger.from_spec(s) for s in discover(ROOT) if s.trigger()["type"] == "blobTrigger"]
    service = BlobServiceClient.from_connection_string(trigger.connection)
    prefix = f"{RECEIPTS}/{trigger.function.name}/{trigger.container}/"
    receipts = {}
    for blob in service.get_container_client(HOSTS_CONTAINER).list_blobs(name_starts_with=prefix,
                                                                         include=["metadata"]):
        path, _, etag = blob.name[len(prefix):].rpartition("/")
        receipts[path, etag] = blob.metadata.get("state")
    logging.info("previous scan started")
    watched = service.get_container_client(trigger.container)
    while True:
        time.sleep(2.0)
        for blob in watched.list_blobs(include=["metadata"]):
            handled = receipts.get((blob.name, blob.etag.strip('"'))) == "done"
            if trigger.path.fullmatch(blob.name) and not handled:
                raise RuntimeError(f"{blob.name} has no receipt: the data is not as stored")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pictures", type=int, default=10_000)
    parser.add_argument("--settle", type=float, default=75.0, help="seconds before the window")
    parser.add_argument("--window", type=float, default=120.0, help="seconds measured")
    parser.add_argument("--previous-scan", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.previous_scan:
        previous_scan()
        return

    from devhost.services import azurite_connection_string, free_port, start_azurite, start_postgres, stop
    from shared.db.migrate import migrate

    with tempfile.TemporaryDirectory() as tmp:
        postgres = start_postgres(Path(tmp) / "postgres")
        port = free_port()
        azurite = start_azurite(ROOT, Path(tmp) / "azurite", port)
        storage = azurite_connection_string(port)
        env = {
            **os.environ, "NACHET_DB_URL": postgres.get_uri(), "NACHET_ENV": "local",
            "NACHET_AZURE_STORAGE_CONNECTION_STRING": storage, "AzureWebJobsStorage": storage,
            "NACHET_PICTURES_CONTAINER": PICTURES, "NACHET_THUMBNAILS_CONTAINER": "nachet-thumbnails",
        }
        os.environ.update(env)
        try:
            migrate(env["NACHET_DB_URL"], "nachet")
            started = time.perf_counter()
            _store(env, args.pictures)
            print(f"stored {args.pictures} pictures in {time.perf_counter() - started:.0f} s; "
                  f"each process settles {args.settle:.0f} s, then {args.window:.0f} s are measured")
            previous = _measure([sys.executable, "-m", "bench.bench_idle_host", "--previous-scan"], env,
                                azurite.pid, args.settle, args.window)
            current = _measure([sys.executable, "-m", "devhost", "--port", "0"], env,
                               azurite.pid, args.settle, args.window)
            alone = cpu_s(azurite.pid)
            time.sleep(args.window)
            alone = (cpu_s(azurite.pid) - alone) / args.window
        finally:
            stop(azurite)
            postgres.cleanup()
    print(f"idle host, {args.pictures} pictures: CPU as a share of one core")
    print(f"  previous scan (all blobs with metadata every 2 s): host {previous[0]:7.2%}  "
          f"azurite {previous[1]:7.2%}")
    print(f"  incremental scan (python -m devhost):              host {current[0]:7.2%}  "
          f"azurite {current[1]:7.2%}")
    print(f"  no host at all:                                                   azurite {alone:7.2%}")
    print(f"  ratio previous / incremental: host {previous[0] / max(current[0], 1e-6):.0f}x, "
          f"azurite {previous[1] / max(current[1], 1e-6):.0f}x")
    verdict = "met" if current[0] < TARGET else "NOT met"
    print(f"  target: idle host under {TARGET:.0%} of a core: {verdict}")


if __name__ == "__main__":
    main()
