"""Benchmark: what tracing (shared.telemetry) costs, side by side in one run.

    .venv/bin/python -m bench.bench_telemetry [--requests 400] [--starts 5]

1. Once per process: a fresh interpreter imports every function module, then starts
   tracing as the first traced invocation does (`configure_azure_monitor`, the psycopg and
   azure-core spans), exporting to a local endpoint that accepts everything, in a network
   namespace with nothing but loopback (as tests/test_telemetry.py runs the distro); the
   import with the setting unset is the same import, and then nothing more is loaded.
2. Per request: get-user-id's median latency, one client on one kept-alive connection,
   with tracing off and on in turns (the same app in this process; on: the SDK's tracer
   provider with a batch processor whose exporter drops the spans, so that the app's own
   cost is measured, not the upload, which runs on the exporter's thread).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from urllib.parse import urlsplit

from bench.app_host import ROOT, running_app

CONNECTION_STRING = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:{port}/"

START = """
import json, os, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Accept(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'{"itemsReceived": 0, "itemsAccepted": 0, "errors": []}')

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Accept)
threading.Thread(target=server.serve_forever, daemon=True).start()
os.environ["APPLICATIONINSIGHTS_CONNECTION_STRING"] = sys.argv[1].format(port=server.server_address[1])
started = time.perf_counter()
import importlib
from devhost.functions import discover
for spec in discover(__import__("pathlib").Path(".")):
    importlib.import_module(spec.name)
imported = time.perf_counter()
loaded = any(m.startswith("opentelemetry") for m in sys.modules)
from shared import telemetry
telemetry._active()
print(json.dumps({"import_s": imported - started, "start_s": time.perf_counter() - imported,
                  "loaded_at_import": loaded}))
"""


def _one_start(scratch: str) -> dict:
    env = {**os.environ, "NACHET_DB_URL": "postgresql://unused/nachet",
           "TMPDIR": scratch,  # where the exporter keeps what it could not send yet
           "NACHET_AZURE_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true",
           "OTEL_EXPERIMENTAL_RESOURCE_DETECTORS": "azure_app_service",
           "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
           "APPLICATIONINSIGHTS_SDKSTATS_DISABLED": "true",
           "APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED": "true"}
    unshare = ["unshare", "--net"] if os.geteuid() == 0 else ["unshare", "--map-root-user", "--net"]
    out = subprocess.run([*unshare, "sh", "-c", 'ip link set lo up && exec "$@"', "sh",
                          sys.executable, "-c", START, CONNECTION_STRING],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout.splitlines()[-1])


def _latencies(base_url: str, requests: int) -> list[float]:
    url = urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=60)
    body = json.dumps({"email": "bench@example.org"})
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        conn.request("POST", f"{url.path}/get-user-id", body=body,
                     headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        assert response.status == 200, response.status
        times.append(time.perf_counter() - started)
    conn.close()
    return times


def _per_request(requests: int, turns: int = 4) -> dict[str, float]:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    from shared import settings

    class Drop(SpanExporter):
        def export(self, spans: Sequence[object]) -> SpanExportResult:  # type: ignore[override]
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Drop()))
    trace.set_tracer_provider(provider)
    times: dict[str, list[float]] = {"off": [], "on": []}
    with running_app() as base_url:
        _latencies(base_url, 20)  # registers the user, warms the pool
        for turn in range(2 * turns):
            mode = "on" if turn % 2 else "off"
            if mode == "on":
                os.environ["APPLICATIONINSIGHTS_CONNECTION_STRING"] = CONNECTION_STRING.format(port=9)
            else:
                os.environ.pop("APPLICATIONINSIGHTS_CONNECTION_STRING", None)
            settings.reset()
            _latencies(base_url, 5)  # the new pool's first connections
            times[mode] += _latencies(base_url, requests // turns)
    return {mode: statistics.median(values) for mode, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=400, help="get-user-id calls per mode")
    parser.add_argument("--starts", type=int, default=5, help="fresh processes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        starts = [_one_start(scratch) for _ in range(args.starts)]
    assert not any(s["loaded_at_import"] for s in starts), "OpenTelemetry was imported with the functions"
    imported = statistics.median(s["import_s"] for s in starts)
    started = statistics.median(s["start_s"] for s in starts)
    print(f"once per process: importing every function {imported * 1000:.0f} ms (setting set or not);"
          f" starting tracing on the first invocation {started * 1000:.0f} ms more"
          f" ({started / imported:.2f}x the import); unset: nothing more")
    latency = _per_request(args.requests)
    print(f"get-user-id median latency: tracing off {latency['off'] * 1000:.2f} ms,"
          f" on {latency['on'] * 1000:.2f} ms: on / off {latency['on'] / latency['off']:.2f}")


if __name__ == "__main__":
    main()
