"""The HTTP edge: text, numbers and bodies that JSON allows but the app cannot take are
400s, never 500s, and change nothing."""

from __future__ import annotations

import json
import logging

import pytest

from tests.conftest import assert_error


@pytest.mark.parametrize("name", ["a\u0000b", "\ud800", "ok\udfff"])
def test_text_that_cannot_be_stored_is_400(app, client, name):
    user = client.user_id()
    r = client.post("create-dir", {"container_name": user, "folder_name": name})
    assert_error(r, 400, "folder_name", "not allowed")
    assert app.sql("SELECT count(*) FROM picture_set") == [(1,)]


def test_route_parameter_with_nul_is_400(client):
    assert_error(client.get("seed-data/ab%00c"), 400, "seed_name")


def test_number_too_large_for_a_float_is_400(client):
    user = client.user_id()
    body = json.dumps({"container_name": user, "user_id": user, "imageDims": [10, 10],
                       "image": "data:image/png;base64,AA==", "area_ratio": 1})
    body = body.replace('"area_ratio": 1', '"area_ratio": 1' + "0" * 400)  # 1e400, as an integer
    assert_error(client.post("inf", data=body), 400, "area_ratio", "finite")


def test_deeply_nested_body_is_400(client):
    assert_error(client.post("get-directories", data="[" * 100_000 + "]" * 100_000), 400, "JSON")


def test_fractional_size_limit_is_named_in_the_message(app, client, monkeypatch):
    from shared import settings

    monkeypatch.setenv("NACHET_MAX_CONTENT_LENGTH", "0.5")
    settings.reset()
    body = json.dumps({"pad": "x" * (600 * 1024)})
    assert_error(client.post("get-user-id", data=body), 413, "0.5 MB")


def test_a_caller_lookup_that_waits_holds_up_no_other_request(app, monkeypatch):
    # One request stuck resolving its caller (as behind a stalled database) must not make
    # another request wait: no lock shared between requests may be held across that I/O.
    import threading

    from shared import identity as users
    from tests.conftest import Client

    register = users.get_or_register
    entered, release = threading.Event(), threading.Event()

    def slow_for_one(email: str):
        if email == "slow@example.org":
            entered.set()
            release.wait(30)
        return register(email)

    monkeypatch.setattr(users, "get_or_register", slow_for_one)
    slow = threading.Thread(target=Client(app.base_url, "slow@example.org").post, args=("get-user-id",))
    slow.start()
    try:
        assert entered.wait(10)
        r = Client(app.base_url, "quick@example.org").post("get-user-id", timeout=10)
        assert r.status_code == 200, r.text
        assert not release.is_set()  # answered while the other lookup was still waiting
    finally:
        release.set()
        slow.join(30)


def test_a_request_logs_one_line(app, client, caplog):
    # The pool's own INFO lines (a checkout, a return) would be three more per request.
    client.post("get-user-id")  # the first request of a database migrates and registers
    caplog.set_level(logging.INFO)
    caplog.clear()
    assert client.post("get-user-id").status_code == 200
    assert [(r.name, r.levelname) for r in caplog.records] == [("nachet.request", "INFO")]
