"""Benchmark: POST /api/get-user-id with 16 clients at once, in local mode (email in the
body) and in production mode (App Service principal header): throughput, latency and SQL
statements per request.

    .venv/bin/python -m bench.bench_get_user_id [--clients 16] [--seconds 15]

The app runs in process on its own embedded PostgreSQL and Azurite (bench.app_host), with
the deployed defaults (a pool of 4 connections). The clients run in another process (so
that they do not share the app's interpreter lock), each one a user of its own on one
kept-alive connection, sending its next request as soon as the last is answered; each
user is registered before the clock starts. Statements are counted as
bench_get_directories counts them, by wrapping psycopg's Cursor.execute. The target is 5x
the current Nachet backend's 72 requests/s measured on this machine (issue 13): 360.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit

from bench.load import mix

CURRENT_BACKEND_RPS = 72.0  # the current Nachet backend, 16 clients, this machine (issue 13)
TARGET_RATIO = 5.0


def _client(base_url: str, email: str, principal: bool, go: threading.Barrier,
            stop: threading.Event, latencies: list[float], errors: list[int]) -> None:
    """One user on one kept-alive connection: get-user-id in a loop until `stop`."""
    url = urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=60)
    path = f"{url.path}/get-user-id"
    headers, body = mix.headers(email, principal=principal), mix.body(email, {}, principal=principal)

    def call() -> int:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status

    call()  # registers the user: the clock measures lookups, as almost every call is
    go.wait()
    while not stop.is_set():
        started = time.perf_counter()
        status = call()
        latencies.append(time.perf_counter() - started)
        if status != 200:
            errors.append(status)


def drive(base_url: str, clients: int, seconds: float, principal: bool) -> dict:
    """Run the clients in this process for `seconds`; return the throughput and latencies."""
    latencies: list[float] = []
    errors: list[int] = []
    go, stop = threading.Barrier(clients + 1), threading.Event()
    threads = [threading.Thread(target=_client, args=(
        base_url, f"user-{i}@bench.example.org", principal, go, stop, latencies, errors))
        for i in range(clients)]
    for thread in threads:
        thread.start()
    go.wait()
    started = time.monotonic()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "errors": len(errors),
        "p50_ms": 1000 * statistics.median(latencies),
        "p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))],
    }


def _statements_per_request(base_url: str, principal: bool, counter: list[int]) -> int:
    """The statements of one lookup of a registered user."""
    import requests

    email = "counted@bench.example.org"

    def call() -> None:
        requests.post(f"{base_url}/get-user-id", data=mix.body(email, {}, principal=principal),
                      headers=mix.headers(email, principal=principal), timeout=60).raise_for_status()

    call()  # registers
    counter[0] = 0
    call()
    return counter[0]


def _count_statements(counter: list[int]) -> None:
    import psycopg

    real_execute = psycopg.Cursor.execute

    def counting(self, query, *args, **kwargs):
        counter[0] += 1
        return real_execute(self, query, *args, **kwargs)

    psycopg.Cursor.execute = counting  # Connection.execute goes through here too


def measure(mode: str, clients: int, seconds: float, counter: list[int]) -> dict:
    from bench.app_host import running_app

    app_env, principal = mix.MODES[mode]
    with running_app(app_env) as base_url:
        statements = _statements_per_request(base_url, principal, counter)
        # The clients in a process of their own: in this one they would share the app's
        # interpreter lock and measure each other.
        out = subprocess.run(
            [sys.executable, "-m", "bench.bench_get_user_id", "--drive", base_url,
             "--clients", str(clients), "--seconds", str(seconds)] + (["--principal"] if principal else []),
            check=True, capture_output=True, text=True,
        ).stdout
    return {**json.loads(out), "statements": statements}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--drive", metavar="BASE_URL", help=argparse.SUPPRESS)  # the clients' process
    parser.add_argument("--principal", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.drive:
        print(json.dumps(drive(args.drive, args.clients, args.seconds, args.principal)))
        return

    counter = [0]
    _count_statements(counter)
    results = {mode: measure(mode, args.clients, args.seconds, counter) for mode in mix.MODES}
    print(f"\nPOST /api/get-user-id, {args.clients} clients for {args.seconds:g} s each, in-process host")
    print(f"{'mode':12}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'errors':>8}{'SQL/req':>9}"
          f"{'vs current':>12}")
    for mode, r in results.items():
        print(f"{mode:12}{r['rps']:>9.0f}{r['p50_ms']:>9.1f}{r['p95_ms']:>9.1f}{r['errors']:>8}"
              f"{r['statements']:>9}{r['rps'] / CURRENT_BACKEND_RPS:>11.1f}x")
    print(f"target: {TARGET_RATIO:g}x the current backend's {CURRENT_BACKEND_RPS:g} req/s"
          f" = {TARGET_RATIO * CURRENT_BACKEND_RPS:g} req/s")


if __name__ == "__main__":
    main()
