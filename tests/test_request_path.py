"""The kinds of the two defects of issue 11, looked for everywhere: no lock shared by every
request is held across I/O on a request's path (one request waiting on a slow or stalled
dependency would hold up every other), and nothing a client sends raises outside the error
handling (a 500, or no answer at all)."""

from __future__ import annotations

import logging
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from urllib.parse import urlsplit

from shared import storage
from shared.pipeline import endpoint_client
from shared.pipeline.types import ModelSpec

STALLED_S = 30  # how long a stalled dependency holds the first caller here; never reached


def blocked_while(first: threading.Event, second: Callable[[], object]) -> bool:
    """Run `second()` in a thread while `first` is held unset; whether it was still blocked
    after the first caller had stalled for a while (a deadlock detector, not a timing)."""
    done = threading.Event()
    thread = threading.Thread(target=lambda: (second(), done.set()), daemon=True)
    thread.start()
    finished = done.wait(10)
    first.set()
    thread.join(STALLED_S)
    return not finished


def test_a_delegation_key_fetch_holds_up_no_other_request(monkeypatch):
    # With storage stalled, every thumbnail URL queued behind one fetch of the delegation key,
    # and each then fetched in turn under the lock.
    expiry = datetime.now(UTC) + timedelta(hours=1)
    stalled, entered = threading.Event(), threading.Event()

    def key(valid_for: timedelta) -> SimpleNamespace:
        return SimpleNamespace(signed_expiry=(datetime.now(UTC) + valid_for).isoformat())

    def slow(start: datetime, until: datetime) -> SimpleNamespace:
        entered.set()
        stalled.wait(STALLED_S)
        return key(timedelta(hours=7))

    slow_service = SimpleNamespace(get_user_delegation_key=slow)
    quick_service = SimpleNamespace(get_user_delegation_key=lambda start, until: key(timedelta(hours=7)))
    monkeypatch.setattr(storage, "_delegation_key", None)
    monkeypatch.setattr(storage, "_client", quick_service)
    first = threading.Thread(target=storage._delegation_key_until, args=(slow_service, expiry), daemon=True)
    first.start()
    assert entered.wait(10)
    assert not blocked_while(stalled, lambda: storage._delegation_key_until(quick_service, expiry))
    first.join(STALLED_S)
    # The key of the client in use is kept: the stalled fetch was made through another one.
    assert storage._delegation_key_until(quick_service, expiry) is storage._delegation_key
    assert storage._delegation_key is not None


def test_building_the_model_session_holds_up_no_model_call(monkeypatch):
    stalled, entered = threading.Event(), threading.Event()
    real = endpoint_client._new_session

    def slow_session():
        entered.set()
        stalled.wait(STALLED_S)
        return real()

    monkeypatch.setattr(endpoint_client, "_new_session", slow_session)
    monkeypatch.setattr(endpoint_client, "_session", None)
    first = threading.Thread(target=endpoint_client._get_session, daemon=True)
    first.start()
    assert entered.wait(10)
    model = ModelSpec(id=uuid.uuid4(), name="m", type="azureml-classifier", task="classification",
                      version="1")
    assert not blocked_while(stalled, lambda: endpoint_client._gate(model))
    first.join(STALLED_S)
    endpoint_client.close_session()


def raw(app, head: bytes) -> bytes:
    """The whole answer to `head`, sent as it is (the request asks the host to close)."""
    address, port = urlsplit(app.base_url).netloc.split(":")
    with socket.create_connection((address, int(port)), timeout=30) as s:
        s.sendall(head)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
        return answer


def test_a_content_length_of_unicode_digits_is_answered(app):
    # "²" is a digit to str.isdigit but not to int(): the local host dropped the connection.
    head = "POST /api/get-user-id HTTP/1.1\r\nHost: x\r\nContent-Length: ²\r\nConnection: close\r\n\r\n"
    answer = raw(app, head.encode("latin-1"))
    status, _, body = answer.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 4"), answer
    assert body.startswith(b'["') and body.endswith(b'"]')


def test_a_host_header_naming_no_host_is_answered_and_logged(app, caplog):
    # Was a 500: the request's URL did not parse when its log line was written.
    caplog.set_level(logging.INFO, logger="nachet")
    answer = raw(app, b"GET /api/health HTTP/1.1\r\nHost: [\r\nConnection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 200 "), answer
    messages = [r.getMessage() for r in caplog.records]
    assert any("GET - 200" in m for m in messages), messages
