"""A real local model server speaking the Azure ML scoring protocol of MODELS.md, for tests.

One server (ThreadingHTTPServer on 127.0.0.1, a free port, in a thread) serves any number of
named endpoints at `http://127.0.0.1:<port>/<name>/score`; each one is scripted by the test
and records every request. The `model_server` fixture of tests/conftest.py gives a started
server per test and stops it after.

    url = model_server.detector("detector", boxes=[box(0.1, 0.1, 0.3, 0.4)])
    url = model_server.classifier("swin", answer=lambda call: [{"label": "Ambrosia", "score": 0.9}])
    url = model_server.endpoint("other", answer=lambda call: Reply(200, b"{}"))

`detector(name, boxes=[...], wrap=False)` answers `{"boxes": boxes}` (`wrap`: inside a
one-element list, as the six-seeds model and some detectors do). `classifier(name,
answer=...)` answers what `answer(call)` returns (default: one guess,
`Ambrosia artemisiifolia` at 0.9). `endpoint(name, answer)` is the general form. `answer`
returns a JSON-able value (sent with status 200) or a `Reply(status, body, headers)`.

Scripting, keyword options of all three (defaults: answer at once):
    delay_s=0.1              every call waits this long before answering
    fail_first=2             the first 2 calls answer `fail_status` (default 503) ...
    retry_after="1"          ... with this Retry-After header
    fail_if=lambda call: …   the calls it picks answer `fail_status` (one crop out of twenty)
    garbage=b"not json"      every call answers these bytes with status 200
    hang=True                calls never answer (until the server stops): past any read timeout

What a test reads back:
    model_server.calls(name)          the calls, in order of arrival: Call objects
    model_server.max_in_flight(name)  most calls ever being handled at once by that endpoint
A Call has `number` (1-based, in order of arrival), `headers` (names in lower case), `body`
(bytes), `received_at` (time.monotonic()), `json()`, and `image()`: the picture it carries
(a detector's `input_data.data[0]`, or a classifier's base64 body) as a PIL image.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DEFAULT_GUESSES = [{"label": "Ambrosia artemisiifolia", "score": 0.9}]


def box(top_x: float, top_y: float, bottom_x: float, bottom_y: float, *,
        label: str = "seed", score: float = 0.9) -> dict[str, Any]:
    """A detector's box as the wire carries it: corners as fractions of the image."""
    return {"box": {"topX": top_x, "topY": top_y, "bottomX": bottom_x, "bottomY": bottom_y},
            "label": label, "score": score}


@dataclass(frozen=True)
class Reply:
    """An answer with full control: status, body and headers."""

    status: int
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Call:
    """One request as the endpoint received it."""

    number: int
    headers: dict[str, str]
    body: bytes
    received_at: float

    def json(self) -> Any:
        return json.loads(self.body)

    def image(self) -> Any:
        """The picture the request carries, as a PIL image."""
        from PIL import Image

        if self.headers.get("content-type", "").startswith("application/json"):
            encoded = self.json()["input_data"]["data"][0]
        else:
            encoded = self.body
        return Image.open(io.BytesIO(base64.b64decode(encoded, validate=True)))


Answer = Callable[[Call], Any]


@dataclass
class _Endpoint:
    answer: Answer
    delay_s: float = 0.0
    fail_first: int = 0
    fail_status: int = 503
    retry_after: str | None = None
    fail_if: Callable[[Call], bool] | None = None
    garbage: bytes | None = None
    hang: bool = False
    calls: list[Call] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0


class ModelServer:
    """Scripted Azure ML endpoints on one local HTTP server (see the module docstring)."""

    def __init__(self) -> None:
        self._endpoints: dict[str, _Endpoint] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._http.daemon_threads = True
        self._http.model_server = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    def start(self) -> ModelServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; calls left hanging are let go."""
        self._stopping.set()
        self._http.shutdown()
        self._http.server_close()

    def endpoint(self, name: str, answer: Answer, **script: Any) -> str:
        """Serve `name` with `answer` and the script's options; return its scoring URL."""
        with self._lock:
            self._endpoints[name] = _Endpoint(answer, **script)
        return f"{self.base_url}/{name}/score"

    def detector(self, name: str = "detector", *, boxes: list[dict[str, Any]],
                 wrap: bool = False, **script: Any) -> str:
        """A detector answering `boxes` (see `box`) to every call; return its URL."""
        answer = [{"boxes": boxes}] if wrap else {"boxes": boxes}
        return self.endpoint(name, lambda call: answer, **script)

    def classifier(self, name: str = "classifier", *, answer: Answer = lambda call: DEFAULT_GUESSES,
                   **script: Any) -> str:
        """A classifier answering `answer(call)`, a list of {"label", "score"}; return its URL."""
        return self.endpoint(name, answer, **script)

    def calls(self, name: str) -> list[Call]:
        with self._lock:
            return list(self._endpoints[name].calls)

    def max_in_flight(self, name: str) -> int:
        with self._lock:
            return self._endpoints[name].max_in_flight

    def _reply(self, name: str, headers: dict[str, str], body: bytes) -> Reply | None:
        """The reply to one call, or None to hang up without one."""
        with self._lock:
            endpoint = self._endpoints.get(name)
            if endpoint is None:
                return Reply(404, b'{"error": "no such endpoint"}')
            call = Call(len(endpoint.calls) + 1, headers, body, time.monotonic())
            endpoint.calls.append(call)
            endpoint.in_flight += 1
            endpoint.max_in_flight = max(endpoint.max_in_flight, endpoint.in_flight)
        try:
            if endpoint.hang:
                self._stopping.wait()
                return None
            if endpoint.delay_s:
                self._stopping.wait(endpoint.delay_s)
            if call.number <= endpoint.fail_first or (endpoint.fail_if and endpoint.fail_if(call)):
                extra = {"Retry-After": endpoint.retry_after} if endpoint.retry_after else {}
                return Reply(endpoint.fail_status, b'{"error": "scripted failure"}', extra)
            if endpoint.garbage is not None:
                return Reply(200, endpoint.garbage)
            answer = endpoint.answer(call)
            return answer if isinstance(answer, Reply) else Reply(200, json.dumps(answer).encode())
        finally:
            # Counted out before the reply is written: the server never sees a call in
            # flight that the client already counts as done.
            with self._lock:
                endpoint.in_flight -= 1


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the app's session expects
    # Headers and body go out in two writes: without this, Nagle's algorithm holds the
    # body until the client's delayed ACK, 40 ms a call.
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        parts = self.path.strip("/").split("/")
        name = parts[0] if len(parts) == 2 and parts[1] == "score" else ""
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = self.server.model_server._reply(name, headers, body)  # type: ignore[attr-defined]
        if reply is None:
            self.close_connection = True
            return
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply.body)))
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(reply.body)
        except OSError:
            self.close_connection = True  # the client gave up (its read timeout)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        pass
