"""The local host: routing, CORS from local.settings.json, settings loading, concurrent
invocations, cheap imports of the function folders, and how it treats clients: where it
listens, chunked and malformed bodies, and clients that stop sending."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from devhost.server import ClientTimeouts, Dispatcher, HostServer
from devhost.settings_file import HostSettings, allowing, load_local_settings
from shared.settings import load_settings
from tests.conftest import ROOT, WEB_ORIGIN, Client, assert_error, principal_header
from tests.support.host_process import HostProcess


def test_unknown_route_is_404(app):
    assert_error(Client(app.base_url, None).get("no-such-route"), 404, "no route")


def test_wrong_method_is_405(app):
    assert_error(Client(app.base_url, None).get("get-user-id"), 405, "GET")
    assert_error(Client(app.base_url, None).post("seeds"), 405, "POST")


def test_preflight_echoes_allowed_origin_with_credentials(app):
    r = requests.options(f"{app.base_url}/get-user-id", headers={
        "Origin": WEB_ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,access-control-allow-origin",
    })
    assert r.status_code == 204
    assert r.headers["Access-Control-Allow-Origin"] == WEB_ORIGIN
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    assert "POST" in r.headers["Access-Control-Allow-Methods"]
    assert "access-control-allow-origin" in r.headers["Access-Control-Allow-Headers"]


def test_response_carries_cors_headers_even_on_errors(app):
    r = requests.post(f"{app.base_url}/get-user-id", data="{}", headers={"Origin": WEB_ORIGIN})
    assert r.status_code == 401
    assert r.headers["Access-Control-Allow-Origin"] == WEB_ORIGIN
    assert r.headers["Access-Control-Allow-Credentials"] == "true"


def test_other_origin_gets_no_cors_headers(app):
    r = requests.options(f"{app.base_url}/get-user-id", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in r.headers


def test_local_settings_values_go_to_the_environment(tmp_path, monkeypatch):
    name = f"NACHET_TEST_{uuid.uuid4().hex[:6].upper()}"
    (tmp_path / "local.settings.json").write_text(json.dumps({
        "Values": {name: "from-file", "NACHET_FRONTEND_PUBLIC_URL": "https://web.example"},
        "Host": {"LocalHttpPort": 7099, "CORS": "http://a.example, http://b.example/",
                 "CORSCredentials": True},
    }))
    monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("NACHET_FRONTEND_PUBLIC_URL", raising=False)
    host = load_local_settings(tmp_path)
    assert os.environ[name] == "from-file"
    assert host == HostSettings(7099, ("http://a.example", "http://b.example"), True)
    # The web client's origins are allowed too, once the app settings have validated them.
    web = load_settings({"NACHET_DB_URL": "postgresql://localhost/x",
                         "NACHET_AZURE_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true",
                         "NACHET_FRONTEND_PUBLIC_URL": os.environ["NACHET_FRONTEND_PUBLIC_URL"]})
    assert allowing(host, web.frontend_origins) == HostSettings(
        7099, ("http://a.example", "http://b.example", "https://web.example"), True)
    monkeypatch.setenv(name, "from-shell")
    load_local_settings(tmp_path)
    assert os.environ[name] == "from-shell"  # the environment wins, as CI overrides it


# A function app of two functions, to show that a slow invocation holds up no other.
_SLOW = '''
import azure.functions as func
import threading
started = threading.Event()
release = threading.Event()

def main(req: func.HttpRequest) -> func.HttpResponse:
    started.set()
    release.wait(30)
    return func.HttpResponse("slow done")
'''
_FAST = '''
import azure.functions as func

def main(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("fast " + req.route_params["name"])
'''


def _function(root: Path, name: str, route: str, code: str) -> None:
    (root / name).mkdir()
    (root / name / "__init__.py").write_text(code)
    (root / name / "function.json").write_text(json.dumps({"bindings": [
        {"type": "httpTrigger", "direction": "in", "name": "req", "methods": ["get"], "route": route,
         "authLevel": "anonymous"},
        {"type": "http", "direction": "out", "name": "$return"}]}))


def test_slow_invocation_does_not_hold_up_others(scratch):
    suffix = uuid.uuid4().hex[:6]
    tmp_path = scratch / f"app-{suffix}"
    tmp_path.mkdir()
    _function(tmp_path, f"slow_{suffix}", "slow", _SLOW)
    _function(tmp_path, f"fast_{suffix}", "items/{name}", _FAST)
    server = HostServer(("127.0.0.1", 0), Dispatcher(tmp_path), HostSettings(0, (), False))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}/api"
    try:
        results: list[str] = []
        slow = threading.Thread(target=lambda: results.append(requests.get(f"{base}/slow").text))
        slow.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            # The module may be half-imported still: its event exists once its import is done.
            slow_module = sys.modules.get(f"slow_{suffix}")
            started = getattr(slow_module, "started", None)
            if started is not None and started.wait(0.1):
                break
            time.sleep(0.05)
        assert slow_module is not None and slow_module.started.is_set()
        # While the slow function is blocked, another request is answered.
        fast = requests.get(f"{base}/items/a%20b", timeout=10)
        assert fast.text == "fast a b"
        assert results == []
        slow_module.release.set()
        slow.join(10)
        assert results == ["slow done"]
    finally:
        server.shutdown()
        server.server_close()


def test_function_modules_import_without_image_numeric_or_storage_libraries():
    folders = sorted(p.parent.name for p in ROOT.glob("*/function.json"))
    code = (
        "import sys, importlib\n"
        f"for name in {folders!r}:\n"
        "    importlib.import_module(name)\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'PIL', 'numpy', 'scipy', 'yaml', 'jwt', 'cryptography', 'requests', 'urllib3'} | "
        # The storage SDK's exceptions alone would pull azure.core's whole pipeline.
        "{m for m in ('azure.core', 'azure.storage', 'azure.identity') if m in sys.modules})\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"loaded at import: {out.stdout.strip()}"
    assert len(folders) >= 5


def test_host_refuses_to_start_naming_every_bad_setting():
    env = {
        **os.environ,
        "NACHET_DB_URL": "mysql://nope",
        "NACHET_AZURE_STORAGE_CONNECTION_STRING": "not a connection string",
        "NACHET_MAX_CONTENT_LENGTH": "lots",
        "NACHET_VALID_DIMENSION": "1920x1080",
    }
    out = subprocess.run([sys.executable, "-m", "devhost", "--port", "0"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    for name in ("NACHET_DB_URL", "NACHET_AZURE_STORAGE_CONNECTION_STRING", "NACHET_MAX_CONTENT_LENGTH",
                 "NACHET_VALID_DIMENSION"):
        assert name in out.stderr


def test_function_answers_500_naming_no_detail_when_misconfigured(app, monkeypatch):
    from shared import settings

    monkeypatch.setenv("NACHET_VALID_EXTENSION", "png")
    settings.reset()
    r = Client(app.base_url, "a@example.org").post("get-user-id")
    assert_error(r, 500, "misconfigured")


# Each bound a setting enforces (whole numbers: minimum 1), with a value just past it.
_WHOLE_NUMBERS = ("NACHET_MAX_IMAGE_PIXELS", "NACHET_DB_POOL_MAX_SIZE", "NACHET_MODEL_MAX_IN_FLIGHT")
_NUMBERS_BELOW_MINIMUM = {
    "NACHET_MAX_CONTENT_LENGTH": "0.0009",
    "NACHET_DB_TIMEOUT_S": "0.09",
    "NACHET_MODEL_CONNECT_TIMEOUT_S": "0.009",
    "NACHET_MODEL_READ_TIMEOUT_S": "0.009",
}


@pytest.mark.parametrize(("name", "value"), [
    *((name, "0") for name in _WHOLE_NUMBERS),
    *_NUMBERS_BELOW_MINIMUM.items(),
    *((name, value) for name in _NUMBERS_BELOW_MINIMUM for value in ("inf", "nan", "-inf", "Infinity")),
    # The trigger would write thumbnails into the container it watches.
    ("NACHET_THUMBNAILS_CONTAINER", "nachet-pictures"),
    ("NACHET_VALID_DIMENSION", '{"width": 0, "height": 1080}'),
    ("NACHET_SCHEMA", "Robert'); DROP TABLE users;--"),
    ("NACHET_PICTURES_CONTAINER", "Bad_Container"),
    ("NACHET_ENV", "moon"),
    ("NACHET_ENV", "development"),  # not silently production: a value that means nothing is refused
    ("WEBSITE_AUTH_ENABLED", "maybe"),
    ("NACHET_MODEL_READ_TIMEOUT_S", "-1"),
    ("NACHET_FRONTEND_PUBLIC_URL", "localhost:5173"),
])
def test_each_malformed_setting_is_named(name, value):
    from shared.errors import ConfigurationError
    from shared.settings import load_settings

    env = {"NACHET_DB_URL": "postgresql://localhost/x",
           "NACHET_AZURE_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true", name: value}
    with pytest.raises(ConfigurationError, match=name):
        load_settings(env)


# The local host as a good citizen: where it listens, how it reads bodies, and how long it
# waits for a client; over real sockets.

@pytest.mark.parametrize(("args", "reachable_elsewhere"), [((), False), (("--host", "0.0.0.0"), True)])
def test_host_listens_on_loopback_unless_told(app, args, reachable_elsewhere):
    host = HostProcess(*args)
    try:
        assert host.address[0] == ("0.0.0.0" if args else "127.0.0.1")
        with socket.create_connection(("127.0.0.1", host.address[1]), timeout=10):
            pass
        # 127.0.0.2 is this machine too, but not the address a loopback-only host bound.
        probe = socket.socket()
        probe.settimeout(10)
        try:
            assert (probe.connect_ex(("127.0.0.2", host.address[1])) == 0) is reachable_elsewhere
        finally:
            probe.close()
    finally:
        host.stop()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    closed: bool  # the host said Connection: close, and closed it

    def error(self) -> str:
        """The contract's error body: a JSON array holding one string."""
        body = json.loads(self.body)
        assert isinstance(body, list) and len(body) == 1 and isinstance(body[0], str), body
        return body[0]


def _answer(conn: socket.socket) -> Answer | None:
    """Read one response from `conn`; None if the host closed the connection without one."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            assert data == b"", data
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    while len(body) < int(headers.get("content-length", "0")):
        body += conn.recv(65536)
    closed = headers.get("connection") == "close"
    if closed:
        assert conn.recv(1) == b""
    return Answer(int(status_line.split()[1]), headers, body, closed)


def _exchange(address: tuple[str, int], *parts: bytes, shut: bool = False) -> Answer | None:
    """Send `parts` on a new connection (and end the sending side with `shut`), read the answer."""
    with socket.create_connection(address, timeout=30) as conn:
        for part in parts:
            conn.sendall(part)
        if shut:
            conn.shutdown(socket.SHUT_WR)
        return _answer(conn)


@pytest.fixture
def strict_host(app) -> Iterator[tuple[str, int]]:
    """The app on a host of its own with half-second client budgets and a 1 MB body limit."""
    server = HostServer(("127.0.0.1", 0), Dispatcher(ROOT), HostSettings(0, (), False),
                        timeouts=ClientTimeouts(head_s=0.5, body_s=0.5, min_rate=1000, write_s=5),
                        max_body_bytes=1024 * 1024)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[:2]
    server.shutdown()
    server.server_close()


def _head(email: str, *lines: str) -> bytes:
    return "\r\n".join([
        "POST /api/get-user-id HTTP/1.1", "Host: localhost", "Content-Type: application/json",
        f"X-MS-CLIENT-PRINCIPAL: {principal_header(email)}", *lines, "", "",
    ]).encode()


def test_chunked_body_is_read(app, strict_host):
    email = f"chunked-{uuid.uuid4().hex[:6]}@example.org"
    body = json.dumps({"email": email}).encode()
    chunks = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(part), part) for part in (body[:5], body[5:9], body[9:]))
    with socket.create_connection(strict_host, timeout=30) as conn:
        conn.sendall(_head(email, "Transfer-Encoding: chunked") + chunks + b"0\r\nX-Trailer: ignored\r\n\r\n")
        answer = _answer(conn)
        assert answer is not None and answer.status == 200 and not answer.closed
        assert json.loads(answer.body) == {"user_id": Client(app.base_url, email).user_id()}
        # The whole body was read: the next request on the connection is understood.
        conn.sendall(_head(email, f"Content-Length: {len(body)}") + body)
        again = _answer(conn)
        assert again is not None and again.status == 200 and again.body == answer.body


@pytest.mark.parametrize(("lines", "payload", "status", "words"), [
    (["Transfer-Encoding: chunked"], b"zz\r\n{}\r\n0\r\n\r\n", 400, "malformed"),
    (["Transfer-Encoding: chunked"], b"-2\r\n{}\r\n0\r\n\r\n", 400, "malformed"),
    (["Transfer-Encoding: chunked"], b"2\r\n{}XX0\r\n\r\n", 400, "malformed"),
    (["Transfer-Encoding: chunked"], b"200000\r\n", 413, "too large"),
    (["Transfer-Encoding: gzip, chunked"], b"0\r\n\r\n", 501, "gzip"),
    (["Transfer-Encoding: chunked, gzip"], b"0\r\n\r\n", 400, "chunked"),
    (["Transfer-Encoding: chunked", "Content-Length: 5"], b"0\r\n\r\n", 400, "both"),
    (["Content-Length: 5x"], b"{}", 400, "Content-Length"),
    (["Content-Length: 2", "Content-Length: 3"], b"{}", 400, "Content-Length"),
    (["Content-Length: 2000000"], b"{}", 413, "too large"),
])
def test_body_that_cannot_be_read_is_refused_and_the_connection_closed(app, strict_host, lines, payload,
                                                                       status, words):
    email = f"refused-{uuid.uuid4().hex[:6]}@example.org"
    answer = _exchange(strict_host, _head(email, *lines), payload)
    assert answer is not None and answer.status == status and answer.closed
    assert words.lower() in answer.error().lower()
    assert app.sql("SELECT count(*) FROM users WHERE email = %s", [email]) == [(0,)]


def test_body_shorter_than_its_length_is_refused(app, strict_host):
    answer = _exchange(strict_host, _head("short@example.org", "Content-Length: 50"), b'{"email":', shut=True)
    assert answer is not None and answer.status == 400 and answer.closed
    assert "ended" in answer.error()


def test_malformed_head_is_answered_in_the_contract_s_shape(app, strict_host):
    answer = _exchange(strict_host, b"GET /api/seeds HTTP/1.1\r\nX-Long: " + b"a" * 70000 + b"\r\n\r\n")
    assert answer is not None and answer.status == 431 and answer.closed
    assert answer.error()


def test_client_that_stops_sending_its_head_is_cut_off(app, strict_host):
    # The host closes the connection without an answer once its head budget is spent.
    assert _exchange(strict_host, b"POST /api/get-user-id HTTP/1.1\r\nHost: loc") is None


def test_client_that_stops_sending_its_body_is_answered_408(app, strict_host):
    email = f"stalled-{uuid.uuid4().hex[:6]}@example.org"
    answer = _exchange(strict_host, _head(email, "Content-Length: 40"), b'{"email": "')
    assert answer is not None and answer.status == 408 and answer.closed
    assert "in time" in answer.error()
    assert app.sql("SELECT count(*) FROM users WHERE email = %s", [email]) == [(0,)]


def test_client_dripping_its_head_is_cut_off_although_each_byte_is_prompt(app, strict_host):
    # One byte every 50 ms: each read waits far less than the budget, the head as a whole
    # takes longer, and the host ends the connection before the head is complete.
    head = b"GET /api/seeds HTTP/1.1\r\nHost: localhost\r\nX-Padding: " + b"a" * 600 + b"\r\n\r\n"
    with socket.create_connection(strict_host, timeout=30) as conn:
        sent = 0
        try:
            for byte in head:
                conn.sendall(bytes([byte]))
                sent += 1
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert sent < len(head)
