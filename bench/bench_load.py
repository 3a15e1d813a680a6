"""Benchmark: locust's realistic mix (bench/load/locustfile.py) against the app in local
mode and in production mode in one run: throughput, p50/p95/p99 per route, errors.

    .venv/bin/python -m bench.bench_load [--users 32] [--seconds 60] [--rounds 4]

Each mode is served by its own process (bench/load/serve.py: the app in process on its own
embedded PostgreSQL and Azurite, with the deployed defaults, a pool of 4 connections).
locust runs headless in a process of its own (gevent must not patch the app's) and stops
by itself: `--users` virtual analysts against one mode, then the other, for
`--seconds`/`--rounds` seconds at a time, `--rounds` times, so that both modes meet the
same machine (it is shared, and its load drifts). Production mode is NACHET_ENV=production
with WEBSITE_AUTH_ENABLED=true, each virtual user sending its own X-MS-CLIENT-PRINCIPAL.
Printed: production's throughput as a ratio of local's (target: at least 0.8), and in each
mode the slowest light route's p50 (get-user-id, get-directories, create-dir) as a ratio
of the fastest one's (target: at most 1.5).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench.app_host import ROOT
from bench.load import mix

LIGHT_ROUTES = ("get-user-id", "get-directories", "create-dir")
ROUTES = (*LIGHT_ROUTES, "inf", "feedback-positive")
THROUGHPUT_TARGET = 0.8
LIGHT_P50_TARGET = 1.5


@dataclass
class Route:
    """One route's answers over every slice of a mode: locust's histogram of response
    times (ms, rounded as locust rounds them) and the failures."""

    times: Counter[int] = field(default_factory=Counter)
    failures: int = 0

    @property
    def requests(self) -> int:
        return sum(self.times.values())

    def percentile(self, fraction: float) -> int:
        """The response time under which `fraction` of the requests answered, as locust computes it."""
        wanted, seen = fraction * self.requests, 0
        for ms in sorted(self.times):
            seen += self.times[ms]
            if seen >= wanted:
                return ms
        return 0


@dataclass
class Mode:
    name: str
    seconds: float = 0.0
    routes: dict[str, Route] = field(default_factory=lambda: {r: Route() for r in ROUTES})
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def throughput(self) -> float:
        return sum(r.requests for r in self.routes.values()) / self.seconds

    @property
    def failures(self) -> int:
        return sum(r.failures for r in self.routes.values())

    def light_p50_ratio(self) -> float:
        p50s = [self.routes[r].percentile(0.5) for r in LIGHT_ROUTES]
        return max(p50s) / max(1, min(p50s))


@contextmanager
def serving(mode: str) -> Iterator[str]:
    """The app in `mode` in a process of its own; yields its base URL."""
    proc = subprocess.Popen([sys.executable, "-m", "bench.load.serve", mode], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    base_url = proc.stdout.readline().strip()
    try:
        if not base_url:
            raise SystemExit(f"the app in {mode} mode did not start")
        yield base_url
    finally:
        proc.stdin.close()  # the server stops and takes its services down
        proc.wait(timeout=120)


def run_slice(mode: Mode, base_url: str, users: int, seconds: int, prefix: Path) -> None:
    """`users` analysts against `base_url` for `seconds`; adds what they saw to `mode`."""
    principal = mix.MODES[mode.name][1]
    subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "load" / "locustfile.py"),
         "--headless", "--users", str(users), "--spawn-rate", str(users), "--run-time", f"{seconds}s",
         "--host", base_url.removesuffix("/api"), "--json-file", str(prefix), "--csv", str(prefix),
         "--only-summary", "--loglevel", "WARNING", "--stop-timeout", "30"],
        cwd=ROOT, env={**os.environ, "NACHET_BENCH_PRINCIPAL": "1" if principal else "0"},
        check=False, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,  # its own summary: the files are read instead
    )
    mode.seconds += seconds
    for entry in json.loads(Path(f"{prefix}.json").read_text()):
        route = mode.routes.setdefault(entry["name"], Route())
        route.times.update({int(ms): n for ms, n in entry["response_times"].items()})
        route.failures += entry["num_failures"]
    with open(f"{prefix}_failures.csv", newline="") as f:
        for row in csv.DictReader(f):
            mode.errors[f"{row['Name']}: {row['Error']}"] += int(row["Occurrences"])


def report(local: Mode, production: Mode) -> None:
    for mode in (local, production):
        print(f"\n{mode.name} mode: {mode.throughput:.1f} requests/s, {mode.failures} errors")
        print(f"  {'route':20}{'requests':>10}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}")
        for name in ROUTES:
            r = mode.routes[name]
            print(f"  {name:20}{r.requests:>10}{r.failures:>8}{r.percentile(0.5):>9}"
                  f"{r.percentile(0.95):>9}{r.percentile(0.99):>9}")
        for error, count in mode.errors.most_common(10):
            print(f"  error x{count}: {error}")
    print(f"\nproduction / local throughput: {production.throughput / local.throughput:.2f}"
          f" (target: at least {THROUGHPUT_TARGET})")
    for mode in (local, production):
        p50s = ", ".join(f"{r} {mode.routes[r].percentile(0.5)} ms" for r in LIGHT_ROUTES)
        print(f"{mode.name}: slowest / fastest light-route p50: {mode.light_p50_ratio():.2f}"
              f" (target: at most {LIGHT_P50_TARGET}; {p50s})")
    print(f"errors: {local.failures + production.failures} (target: 0)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=60, help="per mode, over all rounds")
    parser.add_argument("--rounds", type=int, default=4, help="turns each mode takes")
    args = parser.parse_args()
    modes = [Mode(name) for name in mix.MODES]
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        urls = [stack.enter_context(serving(mode.name)) for mode in modes]
        print(f"{args.users} users, {args.seconds} s per mode in {args.rounds} turns: "
              + ", ".join(f"{m.name} {url}" for m, url in zip(modes, urls, strict=True)), flush=True)
        for turn in range(args.rounds):
            for mode, url in zip(modes, urls, strict=True):
                run_slice(mode, url, args.users, args.seconds // args.rounds,
                          Path(tmp) / f"{mode.name}-{turn}")
    report(*modes)


if __name__ == "__main__":
    main()
