"""Tracing (shared.telemetry, README Observability): with APPLICATIONINSIGHTS_CONNECTION_STRING
set, real requests through the local host leave a request span per invocation, parented by
the host's span for it (the traceparent the host hands main as `context`), with database,
storage and model endpoint spans under it; the blob trigger gets its own span. The spans
go to an in-memory exporter: the process's tracer provider is set up here before the app's
first traced invocation, so the app uses it instead of the Azure Monitor distro's.
Unset, importing the functions and serving requests loads nothing of OpenTelemetry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import requests
from psycopg.conninfo import conninfo_to_dict

from devhost.blob_triggers import BlobTriggerRunner
from shared import settings
from tests.conftest import ROOT, App, Client, assert_error, principal_header
from tests.support import images as samples
from tests.support.feedback import box_ids, ok
from tests.support.identity_storage import IDENTITY_HEADER
from tests.support.inference import body, sample_url
from tests.support.model_server import box
from tests.support.triggers import default_folder, put_picture

CONNECTION_STRING = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/"
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


@pytest.fixture(scope="module")
def exporter() -> Any:
    """The process's tracer provider, exporting to memory."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider), "a provider is set already"
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    trace.set_tracer_provider(provider)
    return memory


@pytest.fixture
def spans(app: App, exporter: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Tracing on for this test (the app fixture's reset turns it off after)."""
    monkeypatch.setenv("APPLICATIONINSIGHTS_CONNECTION_STRING", CONNECTION_STRING)
    settings.reset()
    exporter.clear()
    yield exporter
    exporter.clear()


def traceparent() -> dict[str, str]:
    """A caller's trace context, as a browser or a front door would send it."""
    return {"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01"}


def finished(exporter: Any) -> list[Any]:
    return list(exporter.get_finished_spans())


def request_span(exporter: Any, route: str, *, status: int) -> Any:
    """The one request span of `route` in the caller's trace, answered `status`."""
    found = [s for s in finished(exporter)
             if s.attributes.get("http.route") == route and f"{s.context.trace_id:032x}" == TRACE_ID]
    assert len(found) == 1, [s.name for s in finished(exporter)]
    span = found[0]
    from opentelemetry.trace import SpanKind

    assert span.kind is SpanKind.SERVER
    assert span.attributes["http.response.status_code"] == status
    # The parent is the host's span for the invocation, in the caller's trace: not the caller's.
    assert span.parent is not None and span.parent.is_remote
    assert f"{span.parent.trace_id:032x}" == TRACE_ID and f"{span.parent.span_id:016x}" != CALLER_SPAN
    assert span.attributes["faas.trigger"] == "http" and span.attributes["faas.invocation_id"]
    return span


def under(exporter: Any, root: Any) -> list[Any]:
    """Every span below `root` (children, their children...)."""
    by_parent: dict[int, list[Any]] = {}
    for s in finished(exporter):
        if s.parent is not None and s.context.trace_id == root.context.trace_id:
            by_parent.setdefault(s.parent.span_id, []).append(s)
    out, todo = [], [root.context.span_id]
    while todo:
        for child in by_parent.get(todo.pop(), []):
            out.append(child)
            todo.append(child.context.span_id)
    return out


def children(exporter: Any, parent: Any) -> list[Any]:
    return [s for s in finished(exporter)
            if s.parent is not None and s.parent.span_id == parent.context.span_id]


def database_spans(spans: list[Any]) -> list[Any]:
    return [s for s in spans if s.attributes.get("db.system") == "postgresql"]


def storage_spans(spans: list[Any], method: str) -> list[Any]:
    """The Blob Storage requests (azure-core's HTTP spans) of `method`."""
    return [s for s in spans if s.attributes.get("user_agent.original", "").startswith(
        "azsdk-python-storage-blob") and s.attributes["http.request.method"] == method]


def statements(spans: list[Any]) -> list[str]:
    return [" ".join(s.attributes["db.statement"].split()) for s in database_spans(spans)]


def model_spans(spans: list[Any], model: str) -> list[Any]:
    return [s for s in spans if s.attributes.get("nachet.model.name") == model]


def blob_path(span: Any) -> str:
    """The path of a storage request's URL: [account/]container/blob."""
    return unquote(urlsplit(span.attributes["url.full"]).path)


def assert_no_secret(exporter: Any, *secrets: str) -> None:
    """None of `secrets` in any span's name, attributes, events or status."""
    for span in finished(exporter):
        texts = [span.name, span.status.description or "", *map(str, span.attributes.values())]
        for event in span.events:
            texts += [event.name, *map(str, (event.attributes or {}).values())]
        for secret in secrets:
            assert all(secret not in text for text in texts), (secret, span.name, dict(span.attributes))


def test_get_user_id_and_get_directories_are_traced_with_their_queries(spans, app, client):
    r = client.post("get-user-id", {"email": ""}, headers=traceparent())
    assert r.status_code == 200, r.text
    user_id = r.json()["user_id"]
    span = request_span(spans, "/api/get-user-id", status=200)
    assert span.name == "POST /api/get-user-id"
    assert span.attributes["enduser.id"] == user_id
    assert span.attributes["http.request.method"] == "POST"
    assert span.attributes["url.full"].endswith("/api/get-user-id")
    queries = statements(children(spans, span))
    # Registration: the user and its folder General, the statements with their placeholders.
    assert "SELECT id FROM users WHERE lower(email) = lower(%s)" in queries
    assert any(q.startswith("INSERT INTO users ") for q in queries)
    assert all(q.attributes["db.name"] == conninfo_to_dict(app.db_url)["dbname"]
               for q in database_spans(children(spans, span)))

    spans.clear()
    r = client.post("get-directories", {"container_name": user_id}, headers=traceparent())
    assert r.status_code == 200, r.text
    directories = request_span(spans, "/api/get-directories", status=200)
    assert directories.attributes["enduser.id"] == user_id
    assert database_spans(children(spans, directories))
    assert_no_secret(spans, client.email, principal_header(client.email))


def test_a_gzipped_listing_with_storage_through_the_identity(spans, client, listing, identity_storage):
    """The web client's listing: gzipped, its thumbnail URLs signed with a user delegation key
    that the request asks the storage account for."""
    r = client.post("get-directories", listing, headers={"Accept-Encoding": "gzip", **traceparent()})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Encoding"] == "gzip" and r.json()["folders"][0]["nb_pictures"] == 40
    span = request_span(spans, "/api/get-directories", status=200)
    assert span.attributes["enduser.id"] == listing["container_name"]
    below = under(spans, span)
    assert database_spans(below)
    # The SDK's span of the operation, and under it the request to the storage account.
    [operation] = [s for s in below if s.name == "BlobServiceClient.get_user_delegation_key"]
    [request] = [s for s in children(spans, operation) if s.attributes.get("http.request.method") == "POST"]
    assert request.attributes["http.response.status_code"] == 200
    assert urlsplit(request.attributes["url.full"]).path == "/nachetabc/"
    assert len(identity_storage.key_requests) == 1
    assert_no_secret(spans, IDENTITY_HEADER, "Bearer", *(k.token for k in identity_storage.key_requests))


def test_inference_through_remote_models_has_model_storage_and_database_spans(spans, client, remote):
    remote.detector(boxes=[box(0.1, 0.1, 0.3, 0.3), box(0.5, 0.5, 0.9, 0.8)])
    # The second classifier call is answered 503 twice before it succeeds.
    remote.classifier(fail_if=lambda call: call.number in (2, 3), fail_status=503)
    user_id = client.user_id()
    image = sample_url()
    r = client.post("inf", body(user_id, image), headers=traceparent())
    assert r.status_code == 200, r.text
    span = request_span(spans, "/api/inf", status=200)
    assert span.attributes["enduser.id"] == user_id
    below = under(spans, span)

    [detector] = model_spans(below, "detector")
    classifier = model_spans(below, "classifier")
    from opentelemetry.trace import SpanKind, StatusCode

    # Each model call is a child of the request, also those made on the crop threads.
    for call in [detector, *classifier]:
        assert call.parent.span_id == span.context.span_id
        assert call.kind is SpanKind.CLIENT and call.status.status_code is StatusCode.UNSET
        assert call.attributes["nachet.model.status"] == 200
        assert call.attributes["peer.service"] == call.attributes["nachet.model.name"]
    assert detector.name == "model detector" and detector.attributes["nachet.model.retries"] == 0
    assert sorted(c.attributes["nachet.model.retries"] for c in classifier) == [0, 2]
    assert len(remote.calls("classifier")) == 4

    # The picture's upload (on the upload thread) and the inference's rows.
    [upload] = [s for s in storage_spans(below, "PUT") if blob_path(s).endswith(".png")]
    assert upload.attributes["http.response.status_code"] == 201
    # Under the SDK's span of the operation, under the request.
    [operation] = [s for s in below if s.context.span_id == upload.parent.span_id]
    assert operation.name == "ContainerClient.upload_blob"
    # The thumbnail, written beside the models on another thread.
    assert [s for s in storage_spans(below, "PUT") if blob_path(s).endswith(".webp")]
    assert any("INSERT INTO inference " in q for q in statements(below))
    assert_no_secret(spans, client.email, "key-for-tests", "Bearer", remote.base_url,
                     os.environ["NACHET_BLOB_PIPELINE_DECRYPTION_KEY"], image.split(",", 1)[1][:64])


def test_a_failing_model_marks_its_span_and_the_request_failed(spans, client, remote):
    remote.detector(boxes=[], fail_first=3, fail_status=503)
    user_id = client.user_id()
    assert_error(client.post("inf", body(user_id, sample_url()), headers=traceparent()), 502, "detector")
    from opentelemetry.trace import StatusCode

    span = request_span(spans, "/api/inf", status=502)
    assert span.status.status_code is StatusCode.ERROR
    [detector] = model_spans(under(spans, span), "detector")
    assert detector.status.status_code is StatusCode.ERROR
    assert detector.status.description == "model detector answered HTTP 503"
    assert detector.attributes["error.type"] == "ModelEndpointFailed"
    assert detector.attributes["nachet.model.status"] == 503
    assert detector.attributes["nachet.model.retries"] == 2


def test_a_model_that_does_not_answer_in_time(spans, client, remote, monkeypatch):
    monkeypatch.setenv("NACHET_MODEL_READ_TIMEOUT_S", "0.3")
    settings.reset()
    remote.detector(boxes=[], hang=True)
    user_id = client.user_id()
    assert_error(client.post("inf", body(user_id, sample_url()), headers=traceparent()), 504, "detector")
    from opentelemetry.trace import StatusCode

    [detector] = model_spans(under(spans, request_span(spans, "/api/inf", status=504)), "detector")
    assert detector.status.status_code is StatusCode.ERROR
    assert detector.attributes["error.type"] == "ModelEndpointTimeout"
    assert "nachet.model.status" not in detector.attributes  # no answer
    assert detector.attributes["nachet.model.retries"] == 0  # a read timeout is not retried


def test_builtin_inference_is_traced_without_model_spans(spans, client):
    user_id = client.user_id()
    r = client.post("inf", body(user_id, sample_url()), headers=traceparent())
    assert r.status_code == 200, r.text
    span = request_span(spans, "/api/inf", status=200)
    below = under(spans, span)
    assert not [s for s in below if "nachet.model.name" in s.attributes]
    [upload] = [s for s in storage_spans(below, "PUT") if blob_path(s).endswith(".png")]
    assert f"/{user_id}/" in blob_path(upload)
    assert any("INSERT INTO inference " in q for q in statements(below))


def test_the_export_reads_its_pictures_under_its_request(spans, app, analyst, monkeypatch):
    monkeypatch.setenv("NACHET_LOCAL_FUNCTION_KEY", "operator-key")
    inference = analyst.infer()
    ok(analyst.positive(inference, box_ids(inference)))
    [(blob,)] = app.sql("SELECT blob_name FROM picture")
    spans.clear()
    r = requests.post(f"{app.base_url}/export-dataset", json={"format": "coco", "name": "traced"}, timeout=60,
                      headers={"x-functions-key": "operator-key", **traceparent()})
    assert r.status_code == 200, r.text
    span = request_span(spans, "/api/export-dataset", status=200)
    below = under(spans, span)
    # The picture, read on the export's reading threads (shared.parallel), and the archive.
    assert [s for s in storage_spans(below, "GET") if blob_path(s).endswith(blob)]
    assert [s for s in storage_spans(below, "PUT") if "traced.zip" in blob_path(s)]
    assert_no_secret(spans, "operator-key")


def test_a_client_error_is_no_failure_and_the_query_string_is_not_recorded(spans, client):
    from opentelemetry.trace import StatusCode

    r = client.get(f"seed-data/{uuid.uuid4().hex}?code=function-key-in-the-query", headers=traceparent())
    assert r.status_code == 404, r.text
    span = request_span(spans, "/api/seed-data/{seed_name}", status=404)
    assert span.name == "GET /api/seed-data/{seed_name}"
    assert span.status.status_code is StatusCode.UNSET  # the client's mistake, not the app's
    # Nobody signed in: no user id.
    anonymous = Client(client.base_url, None)
    assert_error(anonymous.post("get-user-id", {"email": ""}, headers=traceparent()), 401)
    refused = request_span(spans, "/api/get-user-id", status=401)
    assert "enduser.id" not in refused.attributes
    assert_no_secret(spans, "function-key-in-the-query")


def test_a_host_header_naming_no_host_is_traced_as_well(spans, client):
    r = client.get("health", headers={"Host": "["})
    assert r.status_code == 200, r.text
    [span] = [s for s in finished(spans) if s.attributes.get("faas.trigger") == "http"]
    assert (span.name, span.attributes["http.response.status_code"]) == ("GET -", 200)


def test_the_blob_trigger_has_a_span_with_its_work_under_it(spans, app, client):
    owner = default_folder(app, client)
    spans.clear()
    runner = BlobTriggerRunner(ROOT, poll_interval_s=0.2)
    try:
        blob = put_picture(app, owner, samples.picture(400, 300))
        assert [i.outcome for i in runner.run_once()] == ["done"]
    finally:
        runner.stop()
    from opentelemetry.trace import SpanKind

    [span] = [s for s in finished(spans) if s.name == "process_picture"]
    assert span.kind is SpanKind.CONSUMER and span.parent.is_remote
    assert span.attributes["faas.document.collection"] == app.pictures_container
    assert span.attributes["faas.document.name"] == blob
    below = under(spans, span)
    assert any(q.startswith("UPDATE picture ") for q in statements(below))
    [thumbnail] = [s for s in storage_spans(below, "PUT") if blob_path(s).endswith(".webp")]
    assert blob_path(thumbnail).endswith(f"{app.thumbnails_container}/{blob.rsplit('.', 1)[0]}.webp")


COLD_START = """
import importlib, json, sys
import azure.functions as func
from devhost.functions import discover
from devhost.invocation import Context, host_span
from pathlib import Path

root = Path(sys.argv[1])
modules = {spec.name: importlib.import_module(spec.name) for spec in discover(root)}
loaded = sorted({m.split(".")[0] for m in sys.modules if m.startswith(("opentelemetry", "azure.monitor"))})
answers = []
for route, payload in (("get-user-id", {"email": ""}), ("get-directories", None)):
    name = route.replace("-", "_")
    if payload is None:
        payload = {"container_name": json.loads(answers[0][1])["user_id"]}
    request = func.HttpRequest("POST", f"http://localhost/api/{route}", body=json.dumps(payload).encode(),
                               headers={"X-MS-CLIENT-PRINCIPAL": sys.argv[2]})
    answer = modules[name].main(request, Context(name, str(root / name), host_span()))
    answers.append((answer.status_code, answer.get_body().decode()))
print(json.dumps({"answers": answers, "loaded_at_import": loaded, "loaded": sorted(
    m for m in sys.modules if m.startswith(("opentelemetry", "azure.monitor")))}))
"""


def run_cold_start(app: App, env: dict[str, str]) -> dict[str, Any]:
    """Import every function in a fresh process and serve two requests; what it loaded."""
    out = subprocess.run(
        [sys.executable, "-c", COLD_START, str(ROOT), principal_header("cold@example.org")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(out.stdout.splitlines()[-1])
    assert [status for status, _ in result["answers"]] == [200, 200], result["answers"]
    return result


def test_unset_nothing_of_opentelemetry_is_imported(app):
    env = {k: v for k, v in os.environ.items() if k != "APPLICATIONINSIGHTS_CONNECTION_STRING"}
    result = run_cold_start(app, env)
    assert result["loaded"] == []


def test_set_the_same_process_loads_it_on_first_use_only(app):
    # The check above can fail: with the setting, the first request loads OpenTelemetry.
    # (A tracer provider set up first keeps the distro from exporting anywhere.)
    env = {**os.environ, "APPLICATIONINSIGHTS_CONNECTION_STRING": CONNECTION_STRING,
           "OTEL_PYTHON_TRACER_PROVIDER": "sdk_tracer_provider"}
    result = run_cold_start(app, env)
    assert result["loaded_at_import"] == []
    assert "opentelemetry.trace" in result["loaded"]
    assert not [m for m in result["loaded"] if m.startswith("azure.monitor")]



EXPORTED = """
import gzip, json, os, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

received = []


class Ingestion(BaseHTTPRequestHandler):
    def do_POST(self):
        data = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            data = gzip.decompress(data)
        items = json.loads(data)
        received.extend(items)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"itemsReceived": len(items), "itemsAccepted": len(items),
                                     "errors": []}).encode())

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Ingestion)
threading.Thread(target=server.serve_forever, daemon=True).start()
os.environ["APPLICATIONINSIGHTS_CONNECTION_STRING"] = (
    "InstrumentationKey=00000000-0000-0000-0000-000000000001;"
    f"IngestionEndpoint=http://127.0.0.1:{server.server_address[1]}/")

import azure.functions as func
import get_user_id
from devhost.invocation import Context, TraceContext
from opentelemetry import trace

request = func.HttpRequest("POST", "https://nachet.example.org/api/get-user-id?code=secret-code",
                           body=b"{}", headers={"X-MS-CLIENT-PRINCIPAL": sys.argv[1]})
host = TraceContext(sys.argv[2])
answer = get_user_id.main(request, Context("get_user_id", "get_user_id", host))
assert trace.get_tracer_provider().force_flush()
print(json.dumps({"status": answer.status_code, "body": json.loads(answer.get_body()),
                  "received": received}))
"""


def test_the_distro_exports_requests_and_dependencies_as_application_insights_takes_them(app, tmp_path):
    """The production set-up (configure_azure_monitor) in a process of its own, in a network
    namespace with nothing but loopback, exporting to a local ingestion endpoint."""
    email = "exported@example.org"
    host_span = f"00-{TRACE_ID}-{CALLER_SPAN}-01"
    env = {**os.environ,
           "NACHET_DB_URL": app.direct_url,  # its socket: no other network (PgBouncer's) is there
           "TMPDIR": str(tmp_path),  # where the exporter keeps what it could not send yet
           "WEBSITE_SITE_NAME": "nachet-test",  # the role name, from the App Service resource detector
           "OTEL_EXPERIMENTAL_RESOURCE_DETECTORS": "azure_app_service",  # no Azure VM metadata probe
           "OTEL_TRACES_SAMPLER": "always_on",  # the default samples a fresh process's first spans away
           # The distro's own reports to Microsoft, off: nothing but the test's endpoint is called.
           "APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL": "true",
           "APPLICATIONINSIGHTS_SDKSTATS_DISABLED": "true",
           "APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED": "true"}
    command = [sys.executable, "-c", EXPORTED, principal_header(email), host_span]
    # Root (as CI) makes the namespace itself: in a user namespace it could not reach the
    # embedded PostgreSQL's socket, which belongs to another user then.
    unshare = ["unshare", "--net"] if os.geteuid() == 0 else ["unshare", "--map-root-user", "--net"]
    out = subprocess.run([*unshare, "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *command],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.splitlines()[-1])
    assert result["status"] == 200
    user_id = result["body"]["user_id"]
    items = {kind: [i for i in result["received"] if i["data"]["baseType"] == kind]
             for kind in ("RequestData", "RemoteDependencyData")}
    [request] = items["RequestData"]
    data = request["data"]["baseData"]
    assert (data["name"], data["responseCode"], data["success"]) == ("POST /api/get-user-id", "200", True)
    assert data["url"] == "https://nachet.example.org/api/get-user-id"
    tags = request["tags"]
    assert tags["ai.user.authUserId"] == user_id and tags["ai.cloud.role"] == "nachet-test"
    # One operation with the host's request telemetry: its trace, under its span.
    assert tags["ai.operation.id"] == TRACE_ID and tags["ai.operation.parentId"] == CALLER_SPAN
    queries = [i for i in items["RemoteDependencyData"] if i["data"]["baseData"]["type"] == "postgresql"]
    assert any(q["data"]["baseData"]["data"] == "SELECT id FROM users WHERE lower(email) = lower(%s)"
               for q in queries)
    assert all(q["tags"]["ai.operation.parentId"] == data["id"] for q in queries)
    text = json.dumps(result["received"])
    assert email not in text and "secret-code" not in text and principal_header(email) not in text


def test_a_malformed_connection_string_stops_the_app_without_being_quoted():
    from shared.errors import ConfigurationError
    from shared.settings import load_settings

    env = {"NACHET_DB_URL": "postgresql://db/nachet",
           "NACHET_AZURE_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"}
    assert load_settings(env).appinsights_connection_string is None
    valid = load_settings({**env, "APPLICATIONINSIGHTS_CONNECTION_STRING": CONNECTION_STRING})
    assert valid.appinsights_connection_string == CONNECTION_STRING
    with pytest.raises(ConfigurationError) as raised:
        load_settings({**env, "APPLICATIONINSIGHTS_CONNECTION_STRING": "IngestionEndpoint=https://x/;secret-part"})
    assert "APPLICATIONINSIGHTS_CONNECTION_STRING" in str(raised.value)
    assert "secret-part" not in str(raised.value)
