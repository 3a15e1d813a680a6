"""Tracing of every invocation through OpenTelemetry to Application Insights, on only when
APPLICATIONINSIGHTS_CONNECTION_STRING is set (README, Observability). Unset, nothing of
OpenTelemetry is imported, and each hook costs a look at the settings.

On first use in a process, tracing starts: the Azure Monitor distro's exporter (unless the
process has a tracer provider already: the worker's own, with PYTHON_ENABLE_OPENTELEMETRY,
or a test's), then the dependency spans, which follow the settings:
- PostgreSQL: a span per statement (opentelemetry-instrumentation-psycopg): its SQL with
  the placeholders, never the values;
- Blob Storage: azure-core's own spans, per SDK call and per HTTP request;
and the spans made here: one per invocation (`request_span` at the HTTP edge, `blob_span`
for the blob trigger), a child of the Functions host's span for it, which the worker
hands to main as `context`, and one per call to another service (`dependency_span`: the
model endpoints). Threads that work for a request (shared.picture_blobs, the classifier
calls) run in a copy of its context, so their spans are the request's.

No span holds an email, a body, a header (the principal), a query string (it may carry a
function key), a model endpoint or key, or an image.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit, urlunsplit

from shared.errors import AppError, ConfigurationError
from shared.settings import get_settings, on_reset

if TYPE_CHECKING:
    from contextvars import Token

    import azure.functions as func
    from opentelemetry.context import Context as TraceContext
    from opentelemetry.trace import Span, Tracer

Value = str | int | float | bool

# The distro's automatic instrumentations, all off: what is traced is chosen here (its
# requests and urllib3 spans would record the model endpoints' URLs, which rest encrypted).
_DISTRO_INSTRUMENTATIONS = ("azure_sdk", "django", "fastapi", "flask", "httpx", "httpx2", "psycopg2",
                            "requests", "urllib", "urllib3")

_lock = threading.Lock()
_provider_ready = False  # the process's tracer provider: set up once
_tracer: Tracer | None = None  # while tracing is on: from first use until the settings are reset


def _active() -> Tracer | None:
    """The app's tracer when APPLICATIONINSIGHTS_CONNECTION_STRING is set (tracing starts on
    first use), else None."""
    tracer = _tracer
    if tracer is not None:
        return tracer
    try:
        connection_string = get_settings().appinsights_connection_string
    except ConfigurationError:
        return None  # not traced: handle() answers that the app is misconfigured
    if connection_string is None:
        return None
    with _lock:
        if _tracer is None:
            _start(connection_string)
        return _tracer


def _start(connection_string: str) -> None:
    global _provider_ready, _tracer
    from azure.core.settings import settings as azure_core
    from opentelemetry import trace
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

    if not _provider_ready:
        if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
            _export_to_azure_monitor(connection_string)
        _provider_ready = True
    PsycopgInstrumentor().instrument(skip_dep_check=True)
    azure_core.tracing_enabled.set_value(True)  # azure-core's native OpenTelemetry spans
    _tracer = trace.get_tracer(__name__)


def _export_to_azure_monitor(connection_string: str) -> None:
    """The process's tracer provider, exporting to Application Insights. The exporter signs
    in with the managed identity that APPLICATIONINSIGHTS_AUTHENTICATION_STRING names (the
    resource takes no key); it reads that setting itself."""
    from azure.monitor.opentelemetry import configure_azure_monitor

    configure_azure_monitor(
        connection_string=connection_string,
        # Spans only: the Functions host already sends the logs, and metrics, live metrics
        # and performance counters would be billed besides.
        disable_logging=True,
        disable_metrics=True,
        enable_live_metrics=False,
        enable_performance_counters=False,
        instrumentation_options={name: {"enabled": False} for name in _DISTRO_INSTRUMENTATIONS},
    )


@on_reset
def stop() -> None:
    """Turn the dependency spans off; the next invocation decides again from the settings
    (the tracer provider stays: a process has one)."""
    global _tracer
    with _lock:
        if _tracer is None:
            return
        _tracer = None
        from azure.core.settings import settings as azure_core
        from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

        PsycopgInstrumentor().uninstrument()
        azure_core.tracing_enabled.unset_value()


class Traced:
    """A hook's hold on its span: `set` records what the work learns (nothing when tracing
    is off)."""

    def __init__(self, span: Span | None = None) -> None:
        self._span = span

    def set(self, key: str, value: Value | None) -> None:
        if self._span is not None and value is not None:
            self._span.set_attribute(key, value)


class RequestSpan(Traced):
    """An HTTP invocation's span, current from `request_span` until `end` (handle()
    answers every exception itself, so it needs no `with`)."""

    def __init__(self, span: Span | None = None, token: Token[TraceContext] | None = None) -> None:
        super().__init__(span)
        self._token = token

    def end(self, status: int, user_id: object | None) -> None:
        """End with the answer's status and the caller's user id (None when unknown)."""
        if self._span is None or self._token is None:
            return
        from opentelemetry import context
        from opentelemetry.trace import StatusCode

        self.set("http.response.status_code", status)
        self.set("enduser.id", None if user_id is None else str(user_id))
        if status >= 500:  # a 4xx is the client's, not a failure of the app
            self._span.set_status(StatusCode.ERROR, f"HTTP {status}")
        self._span.end()
        context.detach(self._token)


def request_span(req: func.HttpRequest, context: func.Context | None) -> RequestSpan:
    """Start the span of an HTTP invocation, current until its `end`: the method and the
    route, the path without the query string."""
    tracer = _active()
    if tracer is None:
        return RequestSpan()
    from opentelemetry import context as otel_context
    from opentelemetry import trace

    try:
        url = urlsplit(req.url)
    except ValueError:  # a Host header that names no host
        url = urlsplit("-")
    route = _route_template(url.path, req.route_params)
    span = tracer.start_span(
        f"{req.method} {route}", context=_host_span(context), kind=trace.SpanKind.SERVER,
        attributes={
            "http.request.method": req.method, "http.route": route,
            "url.full": urlunsplit((url.scheme, url.netloc, url.path, "", "")),
            **_invocation(context, "http"),
        },
    )
    return RequestSpan(span, otel_context.attach(trace.set_span_in_context(span)))


def _route_template(path: str, route_params: Mapping[str, str]) -> str:
    """The path with each route parameter (a whole segment, the last ones) named as in
    function.json: `/api/seed-data/{seed_name}`, one operation per route."""
    segments = path.split("/")
    for name, value in route_params.items():
        for i in reversed(range(len(segments))):
            if unquote(segments[i]) == value:
                segments[i] = f"{{{name}}}"
                break
    return "/".join(segments)


@contextmanager
def blob_span(function: str, blob_path: str, context: func.Context | None) -> Iterator[Traced]:
    """The span of a blob-triggered invocation on `blob_path` (`<container>/<name>`); an
    exception raised in the block marks it failed."""
    container, _, name = blob_path.partition("/")
    attributes: dict[str, Value] = {
        "faas.document.collection": container, "faas.document.name": name,
        **_invocation(context, "datasource"),
    }
    with _span(function, "CONSUMER", attributes, parent=_host_span(context)) as span:
        yield span


@contextmanager
def dependency_span(name: str, attributes: Mapping[str, Value]) -> Iterator[Traced]:
    """A client span around a call to another service, current inside the block; an
    exception raised in it marks it failed, with the error's type."""
    with _span(name, "CLIENT", attributes) as span:
        yield span


@contextmanager
def _span(name: str, kind: str, attributes: Mapping[str, Value],
          parent: TraceContext | None = None) -> Iterator[Traced]:
    tracer = _active()
    if tracer is None:
        yield Traced()
        return
    from opentelemetry.trace import SpanKind, StatusCode

    span_kind = SpanKind[kind]
    # Exceptions are not recorded as they are: a driver's message may quote the data.
    with tracer.start_as_current_span(name, context=parent, kind=span_kind, attributes=attributes,
                                      record_exception=False, set_status_on_exception=False) as span:
        try:
            yield Traced(span)
        except Exception as exc:
            span.set_attribute("error.type", type(exc).__qualname__)
            span.set_status(StatusCode.ERROR, exc.message if isinstance(exc, AppError) else None)
            raise


def _host_span(context: func.Context | None) -> TraceContext | None:
    """The Functions host's span for this invocation, as the worker hands it to main
    (`context.trace_context`, W3C): the app's spans join the host's telemetry of it."""
    if context is None:
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    carrier = {"traceparent": context.trace_context.trace_parent,
               "tracestate": context.trace_context.trace_state}
    return TraceContextTextMapPropagator().extract(carrier)


def _invocation(context: func.Context | None, trigger: str) -> dict[str, Value]:
    attributes: dict[str, Value] = {"faas.trigger": trigger}
    if context is not None:
        attributes["faas.invocation_id"] = context.invocation_id
    return attributes
