"""Benchmark: POST /api/get-directories for a user with 10 pictures and for one with 200
folders of 50 pictures (10 000), side by side: SQL statements per request and latency; and
the body of a listing of 200 folders of 20 pictures (4,000) over the wire, raw and gzipped.

    .venv/bin/python -m bench.bench_get_directories [--runs 30]

The app runs in process on its own embedded PostgreSQL and Azurite (bench.app_host); the
pictures are inserted with SQL (listing reads no blob), each with a thumbnail recorded as
the blob trigger records one (so each listed picture carries a signed URL), half of them
validated and a third with an inference. Every statement the app sends is counted by wrapping psycopg's
Cursor.execute: the listing itself, the pool's connection checks, search_path and the
named user's check.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from dataclasses import dataclass

import psycopg
import requests

BIG_FOLDERS = 200
PICTURES_PER_FOLDER = 50
# The body is measured on a listing of 4,000 pictures, as the performance issue did.
BODY_FOLDERS = 200
BODY_PICTURES_PER_FOLDER = 20


@dataclass(frozen=True)
class Measure:
    """What one user's listing cost."""

    folders: int
    pictures: int
    statements: int
    median_ms: float
    p90_ms: float
    body_kb: float


def _register(base_url: str, email: str) -> str:
    r = requests.post(f"{base_url}/get-user-id", json={"email": email}, timeout=30)
    r.raise_for_status()
    return r.json()["user_id"]


def _fill(db_url: str, user_id: str, *, folders: int, per_folder: int) -> None:
    """Give the user `folders` new folders of `per_folder` pictures each, or, with
    folders=0, `per_folder` pictures in General."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("SET search_path TO nachet")
        if folders:
            conn.execute(
                "INSERT INTO picture_set (owner_id, name, created_at)"
                " SELECT %s::uuid, 'Folder ' || n, now() + n * interval '1 ms' FROM generate_series(1, %s) n",
                [user_id, folders],
            )
        conn.execute(
            """
            INSERT INTO picture (picture_set_id, blob_name, content_type, width, height, sha256, metadata)
            SELECT ps.id, %(user)s::uuid || '/' || ps.id || '/' || n || '.png', 'image/png', 1920, 1080,
                   md5(ps.id::text || n),
                   jsonb_build_object('thumbnail', %(user)s::uuid || '/' || ps.id || '/' || n || '.webp')
            FROM picture_set ps, generate_series(1, %(per)s) n
            WHERE ps.owner_id = %(user)s::uuid AND (%(folders)s > 0) = (ps.name <> 'General')
            """,
            {"user": user_id, "per": per_folder, "folders": folders},
        )
        conn.execute(
            """
            INSERT INTO picture_seed (picture_id, seed_id)
            SELECT p.id, (SELECT id FROM seed ORDER BY name LIMIT 1)
            FROM picture p JOIN picture_set ps ON ps.id = p.picture_set_id
            WHERE ps.owner_id = %s::uuid AND get_byte(decode(p.sha256, 'hex'), 0) %% 2 = 0
            """,
            [user_id],
        )
        conn.execute(
            """
            INSERT INTO inference (picture_id, user_id, pipeline_id)
            SELECT p.id, %(user)s::uuid, (SELECT id FROM pipeline ORDER BY is_default DESC LIMIT 1)
            FROM picture p JOIN picture_set ps ON ps.id = p.picture_set_id
            WHERE ps.owner_id = %(user)s::uuid AND get_byte(decode(p.sha256, 'hex'), 1) %% 3 = 0
            """,
            {"user": user_id},
        )
        conn.execute("ANALYZE")


def _measure(base_url: str, user_id: str, runs: int, counter: list[int]) -> Measure:
    def call() -> requests.Response:
        # A new connection each time: on a kept-alive one the local host's separate writes of
        # headers and body meet the client's delayed ACK and add ~40 ms that Azure would not.
        r = requests.post(f"{base_url}/get-directories", json={"container_name": user_id}, timeout=60)
        r.raise_for_status()
        return r

    warm_up = call()  # imports, pool, caches
    folders = warm_up.json()["folders"]
    counter[0] = 0
    call()
    statements = counter[0]
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return Measure(
        folders=len(folders),
        pictures=sum(f["nb_pictures"] for f in folders),
        statements=statements,
        median_ms=statistics.median(times),
        p90_ms=times[int(0.9 * (len(times) - 1))],
        body_kb=len(warm_up.content) / 1024,
    )


@dataclass(frozen=True)
class Body:
    """A listing's body in bytes, as it goes over the wire."""

    raw: int  # to a client that takes no gzip; to every client before compression
    gzipped: int
    urls_raw: int  # of which the thumbnail URLs, raw
    gzipped_without_urls: int  # the same listing with no thumbnail, gzipped as the app does


def _body(base_url: str, user_id: str) -> Body:
    from shared.http import json_response

    def wire(accept_encoding: str) -> bytes:
        r = requests.post(f"{base_url}/get-directories", json={"container_name": user_id},
                          headers={"Accept-Encoding": accept_encoding}, stream=True, timeout=60)
        r.raise_for_status()
        return r.raw.read(decode_content=False)

    raw = wire("identity")
    listing = json.loads(raw)
    pictures = [p for folder in listing["folders"] for p in folder["pictures"]]
    urls = sum(len(json.dumps(p["thumbnail"])) - len("null") for p in pictures)
    for p in pictures:
        p["thumbnail"] = None
    without = json_response(listing, accept_encoding="gzip").get_body()
    return Body(raw=len(raw), gzipped=len(wire("gzip")), urls_raw=urls, gzipped_without_urls=len(without))


def _count_statements(counter: list[int]) -> None:
    real_execute = psycopg.Cursor.execute

    def counting(self, query, *args, **kwargs):
        counter[0] += 1
        return real_execute(self, query, *args, **kwargs)

    psycopg.Cursor.execute = counting  # executemany and Connection.execute go through here too


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    from bench.app_host import running_app

    counter = [0]
    with running_app() as base_url:
        small_user = _register(base_url, "small@bench.example.org")
        big_user = _register(base_url, "big@bench.example.org")
        db_url = os.environ["NACHET_DB_URL"]
        _fill(db_url, small_user, folders=0, per_folder=10)
        _fill(db_url, big_user, folders=BIG_FOLDERS, per_folder=PICTURES_PER_FOLDER)
        _count_statements(counter)
        small = _measure(base_url, small_user, args.runs, counter)
        big = _measure(base_url, big_user, args.runs, counter)
        body_user = _register(base_url, "body@bench.example.org")
        _fill(db_url, body_user, folders=BODY_FOLDERS, per_folder=BODY_PICTURES_PER_FOLDER)
        body = _body(base_url, body_user)

    rows = [
        ("folders", f"{small.folders}", f"{big.folders}", ""),
        ("pictures", f"{small.pictures}", f"{big.pictures}", ""),
        ("SQL statements per request", f"{small.statements}", f"{big.statements}",
         f"{big.statements / small.statements:.2f}x"),
        ("median latency (ms)", f"{small.median_ms:.1f}", f"{big.median_ms:.1f}",
         f"{big.median_ms / small.median_ms:.1f}x"),
        ("p90 latency (ms)", f"{small.p90_ms:.1f}", f"{big.p90_ms:.1f}", f"{big.p90_ms / small.p90_ms:.1f}x"),
        ("response body, JSON (KiB)", f"{small.body_kb:.1f}", f"{big.body_kb:.1f}",
         f"{big.body_kb / small.body_kb:.0f}x"),
    ]
    print(f"\nPOST /api/get-directories, {args.runs} runs each, local mode, in-process host")
    print(f"{'':30}{'10 pictures':>14}{'200 x 50':>14}{'ratio':>10}")
    for label, a, b, ratio in rows:
        print(f"{label:30}{a:>14}{b:>14}{ratio:>10}")
    count = BODY_FOLDERS * BODY_PICTURES_PER_FOLDER
    print(f"\nthe body over the wire, {BODY_FOLDERS} folders x {BODY_PICTURES_PER_FOLDER} pictures"
          f" ({count:,})")
    print(f"{'raw (before; now to a client that takes no gzip)':58}{body.raw:>12,} bytes")
    print(f"{'gzipped (Accept-Encoding: gzip, as browsers send)':58}{body.gzipped:>12,} bytes"
          f"  {body.raw / body.gzipped:.1f}x smaller")
    print(f"{'  of the raw body, the thumbnail URLs':58}{body.urls_raw:>12,} bytes"
          f"  {body.urls_raw / body.raw:.0%}")
    print(f"{'  gzipped, the same listing without thumbnail URLs':58}{body.gzipped_without_urls:>12,} bytes"
          f"  (URLs: {1 - body.gzipped_without_urls / body.gzipped:.0%} of the gzipped body)")


if __name__ == "__main__":
    main()
