"""JSON answers are gzipped for clients that take it, from GZIP_MIN_BYTES on, through the
local host as through the Functions host; Vary names Accept-Encoding (and Origin with CORS)."""

from __future__ import annotations

import gzip
import json

import pytest
import requests

from shared.http import GZIP_MIN_BYTES, accepts_gzip
from tests.conftest import WEB_ORIGIN, Client


def raw_post(client: Client, path: str, body: dict, **headers: str) -> tuple[requests.Response, bytes]:
    """The answer and its body as it came over the wire (not decompressed)."""
    r = client.session.post(f"{client.base_url}/{path}", data=json.dumps(body),
                            headers=client._headers(headers), stream=True, timeout=60)
    assert r.status_code == 200, r.text
    return r, r.raw.read(decode_content=False)


def test_a_large_answer_is_gzipped_for_a_client_that_takes_it(client, listing):
    plain, plain_body = raw_post(client, "get-directories", listing, **{"Accept-Encoding": "identity"})
    zipped, zipped_body = raw_post(client, "get-directories", listing, **{"Accept-Encoding": "gzip, deflate"})
    assert len(plain_body) > GZIP_MIN_BYTES
    assert "Content-Encoding" not in plain.headers
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert len(zipped_body) < len(plain_body) / 3
    assert json.loads(gzip.decompress(zipped_body)) == json.loads(plain_body)
    assert zipped.headers["Content-Type"].startswith("application/json")
    for r in (plain, zipped):
        assert "Accept-Encoding" in r.headers["Vary"]


def test_gzip_refused_with_a_zero_weight_is_not_sent(client, listing):
    r, body = raw_post(client, "get-directories", listing, **{"Accept-Encoding": "gzip;q=0, br"})
    assert "Content-Encoding" not in r.headers
    assert json.loads(body)["folders"][0]["nb_pictures"] == 40


def test_a_small_answer_goes_as_it_is(client):
    r, body = raw_post(client, "get-user-id", {}, **{"Accept-Encoding": "gzip"})
    assert len(body) < GZIP_MIN_BYTES
    assert "Content-Encoding" not in r.headers
    assert "user_id" in json.loads(body)


def test_through_cors_vary_names_both(client, listing):
    r, body = raw_post(client, "get-directories", listing,
                       **{"Accept-Encoding": "gzip", "Origin": WEB_ORIGIN})
    assert r.headers["Access-Control-Allow-Origin"] == WEB_ORIGIN
    assert {v.strip() for v in r.headers["Vary"].split(",")} == {"Accept-Encoding", "Origin"}
    assert r.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(body))["folders"][0]["nb_pictures"] == 40


@pytest.mark.parametrize(("header", "takes"), [
    ("gzip", True), ("GZIP", True), ("deflate, gzip;q=0.5", True), ("x-gzip", True), ("*", True),
    ("br, *;q=0.1", True), (None, False), ("", False), ("identity", False), ("br, deflate", False),
    ("gzip;q=0", False), ("gzip; q=0.0, *", False), ("*;q=0", False), ("gzip;q=zero", False),
])
def test_accept_encoding(header, takes):
    assert accepts_gzip(header) is takes
