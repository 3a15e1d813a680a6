"""A concurrent HTTP server that calls the app's HTTP functions as the Functions host
does: route and method matching, azure.functions request and response objects, and
CORS answered from local.settings.json's Host section. It keeps no thread waiting on a
slow client: a request's head and body each have a time budget (see ClientTimeouts)."""

from __future__ import annotations

import io
import json
import logging
import re
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func

from devhost.function_keys import key_refused
from devhost.functions import ROUTE_PREFIX, HttpRoute, discover, http_routes
from devhost.invocation import Context, host_span, invoke
from devhost.settings_file import HostSettings

log = logging.getLogger("devhost")

# The Functions host refuses bodies over 100 MB before the app sees them.
MAX_BODY_BYTES = 100 * 1024 * 1024
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")


@dataclass(frozen=True)
class ClientTimeouts:
    """How long a client may take to send a request, as Apache's mod_reqtimeout bounds it:
    the request line and headers within `head_s` (also the keep-alive idle time), the body
    within `body_s` plus one second per `min_rate` bytes received, and each write of the
    answer within `write_s`. A client past its budget is cut off, so a slowloris client
    (a half-sent head or body, or bytes dripped one at a time) holds no thread for long."""

    head_s: float = 20.0
    body_s: float = 20.0
    min_rate: float = 500.0  # bytes per second that extend the body's budget
    write_s: float = 60.0


class Dispatcher:
    """Finds the function for a request and calls it."""

    def __init__(self, root: Path) -> None:
        self.routes = http_routes(discover(root))
        self._entries: dict[str, Any] = {}

    def entry(self, route: HttpRoute) -> Any:
        name = route.function.name
        if name not in self._entries:
            self._entries[name] = route.function.load()
        return self._entries[name]

    def load_all(self) -> None:
        """Import every function now, as the worker does at start-up."""
        for route in self.routes:
            self.entry(route)

    def find(self, method: str, path: str) -> tuple[HttpRoute, dict[str, str]] | int:
        """The route and its parameters, or 404 (no route) or 405 (route, not method)."""
        prefix = f"/{ROUTE_PREFIX}/"
        if not path.startswith(prefix):
            return 404
        rest = path[len(prefix):]
        allowed = False
        for route in self.routes:
            params = route.match(rest)
            if params is None:
                continue
            if method in route.methods:
                return route, params
            allowed = True
        return 405 if allowed else 404


def _error(status: int, message: str) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps([message]).encode()


class _Refused(Exception):
    """A request whose body cannot be read: answered with `status` and the connection closed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _DeadlineReader(io.RawIOBase):
    """The connection's reads, each one allowed only the time left in the current budget."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._deadline = 0.0
        self._rate = 0.0

    def start(self, budget_s: float, min_rate: float = 0.0) -> None:
        """A new budget from now; with `min_rate`, each byte received adds 1/min_rate s."""
        self._deadline = time.monotonic() + budget_s
        self._rate = min_rate

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the client sent too slowly")
        self._sock.settimeout(left)
        n = self._sock.recv_into(buffer)
        if self._rate:
            self._deadline += n / self._rate
        return n


def _merged(app: dict[str, str], cors: dict[str, str]) -> dict[str, str]:
    """The app's headers with the CORS ones; a Vary of both lists both (the app's answers
    vary with Accept-Encoding, CORS answers with Origin)."""
    merged = {**app, **cors}
    app_vary = next((v for k, v in app.items() if k.lower() == "vary"), None)
    if app_vary and "Vary" in cors:
        merged = {k: v for k, v in merged.items() if k.lower() != "vary"}
        merged["Vary"] = f"{app_vary}, {cors['Vary']}"
    return merged


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle on, a kept-alive connection
    # waits for the client's delayed ACK (about 40 ms) before the body.
    disable_nagle_algorithm = True
    server: HostServer

    def setup(self) -> None:
        super().setup()
        self._reader = _DeadlineReader(self.connection)
        self.rfile = io.BufferedReader(self._reader)

    def handle_one_request(self) -> None:
        # The budget starts while waiting for the request line: it is the keep-alive
        # idle time too. The base class closes the connection on TimeoutError.
        self._reader.start(self.server.timeouts.head_s)
        super().handle_one_request()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        # The request line holds the client's path: cut, as the app's own request line is,
        # and control characters escaped, as the base class does.
        message = format % tuple(f"{a:.200}" if isinstance(a, str) else a for a in args)
        log.debug("%s", message.translate(self._control_char_table))

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        # The standard library answers a malformed request line or header in HTML; the
        # contract's errors are a JSON array holding one string.
        self.close_connection = True
        status, headers, body = _error(code, message or self.responses.get(code, ("error",))[0])
        self._send(status, headers, body)

    def _cors_headers(self, *, preflight: bool) -> dict[str, str]:
        origin = self.headers.get("Origin")
        cors = self.server.host_settings
        if not origin or not ("*" in cors.cors_origins or origin.rstrip("/") in cors.cors_origins):
            return {}
        # The origin is echoed, never "*", so that credentialed requests work.
        headers = {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}
        if cors.cors_credentials:
            headers["Access-Control-Allow-Credentials"] = "true"
        if preflight:
            headers["Access-Control-Allow-Methods"] = (
                self.headers.get("Access-Control-Request-Method") or "GET, POST, OPTIONS"
            )
            requested = self.headers.get("Access-Control-Request-Headers")
            if requested:
                headers["Access-Control-Allow-Headers"] = requested
            headers["Access-Control-Max-Age"] = "600"
        return headers

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        # Reads left the socket's timeout at whatever their budget had left.
        self.connection.settimeout(self.server.timeouts.write_s)
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_OPTIONS(self) -> None:
        if self.headers.get("Origin") and self.headers.get("Access-Control-Request-Method"):
            self._send(204, self._cors_headers(preflight=True), b"")
        else:
            self._dispatch()

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    do_PUT = do_DELETE = do_PATCH = do_HEAD = do_POST

    def _read_body(self) -> bytes:
        """The request body, by Content-Length or chunked. Raises _Refused."""
        limits = self.server.timeouts
        self._reader.start(limits.body_s, limits.min_rate)
        try:
            return self._body()
        except TimeoutError:
            raise _Refused(408, "the request body was not received in time") from None

    def _body(self) -> bytes:
        encodings = [e.strip().lower() for e in ",".join(self.headers.get_all("Transfer-Encoding") or [])
                     .split(",") if e.strip()]
        lengths = self.headers.get_all("Content-Length") or []
        if encodings:
            # Both framings at once is how requests are smuggled past a proxy (RFC 9112 6.1).
            if lengths:
                raise _Refused(400, "a request cannot have both Content-Length and Transfer-Encoding")
            if encodings[-1] != "chunked":
                raise _Refused(400, "Transfer-Encoding must end with chunked")
            if encodings != ["chunked"]:
                raise _Refused(501, f"Transfer-Encoding {', '.join(encodings[:-1])} is not supported")
            return self._read_chunked()
        if not lengths:
            return b""
        # ASCII digits only: "²" is a digit to isdigit() but not to int().
        if len(set(lengths)) > 1 or not (lengths[0].strip().isascii() and lengths[0].strip().isdigit()):
            raise _Refused(400, "Content-Length is not a number of bytes")
        length = int(lengths[0])
        if length > self.server.max_body_bytes:
            raise _Refused(413, "the request body is too large")
        body = self.rfile.read(length)
        if len(body) < length:
            raise _Refused(400, "the request body ended before Content-Length bytes")
        return body

    def _read_chunked(self) -> bytes:
        body = bytearray()
        while True:
            line = self.rfile.readline(1024)
            size_text = line.split(b";", 1)[0].strip()
            if not line.endswith(b"\n") or not _CHUNK_SIZE.fullmatch(size_text):
                raise _Refused(400, "the chunked request body is malformed")
            size = int(size_text, 16)
            if size == 0:
                break
            if len(body) + size > self.server.max_body_bytes:
                raise _Refused(413, "the request body is too large")
            chunk = self.rfile.read(size)
            if len(chunk) < size or self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise _Refused(400, "the chunked request body is malformed")
            body += chunk
        for _ in range(100):  # trailer fields, ignored, up to the blank line
            line = self.rfile.readline(65537)
            if line in (b"\r\n", b"\n"):
                return bytes(body)
            if not line.endswith(b"\n"):
                break
        raise _Refused(400, "the chunked request body is malformed")

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        try:
            body = self._read_body()
        except _Refused as refused:
            # What is left of the body cannot be told from the next request.
            self.close_connection = True
            status, headers, payload = _error(refused.status, refused.message)
        else:
            status, headers, payload = self._call(url.path, url.query, body)
        self._send(status, _merged(headers, self._cors_headers(preflight=False)), payload)
        if self.server.on_request is not None:
            self.server.on_request()

    def _call(self, path: str, query: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        found = self.server.dispatcher.find(self.command, path)
        if found == 404:
            return _error(404, f"no route {path}")
        if isinstance(found, int):
            return _error(405, f"{self.command} is not allowed on {path}")
        route, params = found
        if key_refused(route.auth_level, dict(self.headers.items()), dict(parse_qsl(query))):
            return _error(401, "this route needs a function key (x-functions-key header or ?code=)")
        request = func.HttpRequest(
            method=self.command,
            url=f"http://{self.headers.get('Host', 'localhost')}{self.path}",
            headers=dict(self.headers.items()),
            params=dict(parse_qsl(query)),
            route_params=params,
            body=body,
        )
        function = route.function
        context = Context(function.name, str(function.folder), host_span(self.headers.get("traceparent")))
        try:
            entry = self.server.dispatcher.entry(route)
            response = invoke(entry, {function.trigger()["name"]: request}, context)
        except Exception:
            # The worker answers 500 when a function fails to load or raises.
            log.exception("function %s raised", route.function.name)
            return _error(500, "internal error")
        headers = dict(response.headers.items())
        if not any(k.lower() == "content-type" for k in headers):
            mimetype = response.mimetype or "text/plain"
            headers["Content-Type"] = f"{mimetype}; charset={response.charset or 'utf-8'}"
        return response.status_code, headers, response.get_body() or b""


class HostServer(ThreadingHTTPServer):
    """The HTTP server; one thread per connection, as the worker runs invocations side by side.
    `on_request` is called after each answer (the blob trigger polls sooner after activity)."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(
        self, address: tuple[str, int], dispatcher: Dispatcher, host_settings: HostSettings, *,
        timeouts: ClientTimeouts = ClientTimeouts(), max_body_bytes: int = MAX_BODY_BYTES,
        on_request: Callable[[], None] | None = None,
    ) -> None:
        self.dispatcher = dispatcher
        self.host_settings = host_settings
        self.timeouts = timeouts
        self.max_body_bytes = max_body_bytes
        self.on_request = on_request
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away (reset, broken pipe, a write past its timeout) is no error
        # of the host's; anything else is logged with its traceback.
        if isinstance(sys.exc_info()[1], OSError):
            log.debug("connection from %s ended", client_address, exc_info=True)
        else:
            log.exception("error serving %s", client_address)
