"""A concurrent HTTP server that calls the app's HTTP functions as the Functions host
does: route and method matching, azure.functions request and response objects, and
CORS answered from local.settings.json's Host section."""

from __future__ import annotations

import json
import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func

from devhost.function_keys import key_refused
from devhost.functions import ROUTE_PREFIX, HttpRoute, discover, http_routes
from devhost.settings_file import HostSettings

log = logging.getLogger("devhost")

# The Functions host refuses bodies over 100 MB before the app sees them.
MAX_BODY_BYTES = 100 * 1024 * 1024


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


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle on, a kept-alive connection
    # waits for the client's delayed ACK (about 40 ms) before the body.
    disable_nagle_algorithm = True
    server: HostServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        log.debug(format, *args)

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
        self.send_response(status)
        for key, value in headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
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

    def _read_body(self) -> bytes | None:
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        if not length.isdigit() or int(length) > MAX_BODY_BYTES:
            return None
        return self.rfile.read(int(length))

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        body = self._read_body()
        if body is None:
            status, headers, payload = _error(413, "the request body is too large")
            self.close_connection = True
        else:
            status, headers, payload = self._call(url.path, url.query, body)
        self._send(status, {**headers, **self._cors_headers(preflight=False)}, payload)

    def _call(self, path: str, query: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        found = self.server.dispatcher.find(self.command, path)
        if found == 404:
            return _error(404, f"no route {path}")
        if found == 405:
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
        try:
            response = self.server.dispatcher.entry(route)(request)
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
    """The HTTP server; one thread per connection, as the worker runs invocations side by side."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], dispatcher: Dispatcher, host_settings: HostSettings):
        self.dispatcher = dispatcher
        self.host_settings = host_settings
        super().__init__(address, _Handler)
