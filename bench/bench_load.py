"""Benchmark: locust's realistic mix (bench/locustfile.py) against the app in local mode and
in production mode, one after the other in one run: throughput, p50/p95/p99 per route, errors.

    .venv/bin/python -m bench.bench_load [--users 32] [--seconds 60]

Each mode gets the app in process on its own embedded PostgreSQL and Azurite
(bench.app_host), with the deployed defaults (a pool of 4 connections); locust runs in its
own process (gevent must not patch the app's), headless, and stops by itself. Production
mode is NACHET_ENV=production with WEBSITE_AUTH_ENABLED=true, each virtual user sending its
own X-MS-CLIENT-PRINCIPAL. Printed: production's throughput as a ratio of local's (target:
at least 0.8), and in each mode the slowest light route's p50 (get-user-id,
get-directories, create-dir) as a ratio of the fastest one's (target: at most 1.5).
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import requests

from bench.app_host import ROOT
from bench.load import mix

LIGHT_ROUTES = ("get-user-id", "get-directories", "create-dir")
ROUTES = (*LIGHT_ROUTES, "inf", "feedback-positive")
THROUGHPUT_TARGET = 0.8
LIGHT_P50_TARGET = 1.5


@dataclass(frozen=True)
class RouteStats:
    requests: int
    failures: int
    p50_ms: float
    p95_ms: float
    p99_ms: float


@dataclass(frozen=True)
class Run:
    mode: str
    throughput: float  # requests answered per second, over the whole run
    routes: dict[str, RouteStats]
    errors: list[str]  # locust's failure lines: route, count, message

    @property
    def failures(self) -> int:
        return sum(r.failures for r in self.routes.values())

    def light_p50_ratio(self) -> float:
        p50s = [self.routes[r].p50_ms for r in LIGHT_ROUTES]
        return max(p50s) / min(p50s)


def _warm_up(base_url: str, *, principal: bool) -> None:
    """One inference before the clock starts: the detector's imports (numpy, scipy) and the
    first migration are not what the mix measures."""
    email = "warm-up@bench.example.org"

    def post(route: str, fields: dict) -> dict:
        r = requests.post(f"{base_url}/{route}", data=mix.body(email, fields, principal=principal),
                          headers=mix.headers(email, principal=principal), timeout=120)
        r.raise_for_status()
        return r.json()

    user_id = post("get-user-id", {})["user_id"]
    post("inf", mix.inference(user_id, mix.pictures()[0]))


def _locust(host: str, env: dict[str, str], users: int, seconds: int, prefix: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "load" / "locustfile.py"), "--headless",
         "--users", str(users), "--spawn-rate", str(users), "--run-time", f"{seconds}s",
         "--host", host, "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING",
         "--stop-timeout", "30"],
        cwd=ROOT, env={**os.environ, **env}, check=False, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,  # its own summary; the CSV files are read instead
    )


def _read(mode: str, prefix: Path) -> Run:
    routes = {}
    throughput = 0.0
    with open(f"{prefix}_stats.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row["Name"] == "Aggregated":
                throughput = float(row["Requests/s"])
            else:
                routes[row["Name"]] = RouteStats(
                    int(row["Request Count"]), int(row["Failure Count"]),
                    float(row["50%"]), float(row["95%"]), float(row["99%"]))
    with open(f"{prefix}_failures.csv", newline="") as f:
        errors = [f"{row['Name']} x{row['Occurrences']}: {row['Error']}" for row in csv.DictReader(f)]
    missing = [r for r in ROUTES if r not in routes]
    if missing:
        raise SystemExit(f"{mode}: no request was made to {missing}; errors: {errors}")
    return Run(mode, throughput, routes, errors)


def run_mode(mode: str, users: int, seconds: int, folder: Path) -> Run:
    from bench.app_host import running_app

    app_env, principal = mix.MODES[mode]
    with running_app(app_env) as base_url:
        _warm_up(base_url, principal=principal)
        host = base_url.removesuffix("/api")
        print(f"{mode}: {users} users for {seconds} s against {host} ...", flush=True)
        _locust(host, {"NACHET_BENCH_PRINCIPAL": "1" if principal else "0"}, users, seconds,
                folder / mode)
    return _read(mode, folder / mode)


def report(runs: list[Run]) -> None:
    for run in runs:
        print(f"\n{run.mode} mode: {run.throughput:.1f} requests/s, {run.failures} errors")
        print(f"  {'route':20}{'requests':>10}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
        for name in ROUTES:
            r = run.routes[name]
            print(f"  {name:20}{r.requests:>10}{r.failures:>8}{r.p50_ms:>9.0f}{r.p95_ms:>9.0f}"
                  f"{r.p99_ms:>9.0f}")
        for line in run.errors[:10]:
            print(f"  error: {line}")
    local, production = runs
    print(f"\nproduction / local throughput: {production.throughput / local.throughput:.2f}"
          f" (target: at least {THROUGHPUT_TARGET})")
    for run in runs:
        p50s = ", ".join(f"{r} {run.routes[r].p50_ms:.0f} ms" for r in LIGHT_ROUTES)
        print(f"{run.mode}: slowest / fastest light-route p50: {run.light_p50_ratio():.2f}"
              f" (target: at most {LIGHT_P50_TARGET}; {p50s})")
    print(f"errors: {sum(r.failures for r in runs)} (target: 0)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = [run_mode(mode, args.users, args.seconds, Path(tmp)) for mode in mix.MODES]
    report(runs)


if __name__ == "__main__":
    main()
