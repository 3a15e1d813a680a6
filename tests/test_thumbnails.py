"""Thumbnails in get-directories and get-picture: null until the trigger wrote one, then a
read-only URL of the WebP in Blob Storage; the picture is usable before."""

from __future__ import annotations

import requests

from devhost.blob_triggers import BlobTriggerRunner
from tests.conftest import ROOT
from tests.support import images as samples


def upload(client, user: str, data: bytes, mime: str) -> str:
    session = client.post("new-batch-import", {"container_name": user, "user_id": user,
                                               "nb_pictures": 1, "folder_name": ""}).json()["session_id"]
    r = client.post("upload-picture", {
        "container_name": user, "user_id": user, "session_id": session,
        "seed_name": "Ambrosia trifida", "image": samples.data_url(data, mime)})
    assert r.status_code == 200, r.text
    return session


def listed(client, user: str, session: str) -> dict:
    r = client.post("get-directories", {"container_name": user})
    assert r.status_code == 200, r.text
    [picture] = next(f for f in r.json()["folders"] if f["picture_set_id"] == session)["pictures"]
    return picture


def test_thumbnail_is_null_then_a_read_only_url(app, client):
    user = client.user_id()
    session = upload(client, user, samples.exif_rotated_jpeg(600, 300), "image/jpeg")
    picture = listed(client, user, session)
    assert picture["thumbnail"] is None
    # Usable before the trigger ran: the route did not wait for it.
    r = client.post("get-picture", {"container_name": user, "picture_id": picture["picture_id"]})
    assert r.status_code == 200 and r.json()["thumbnail"] is None
    assert r.json()["image"].startswith("data:image/jpeg;base64,")

    runner = BlobTriggerRunner(ROOT)
    try:
        assert [i.outcome for i in runner.run_once()] == ["done"]
    finally:
        runner.stop()
    url = listed(client, user, session)["thumbnail"]
    got = requests.get(url, timeout=10)
    assert got.status_code == 200
    thumb = samples.decode(got.content)
    assert thumb.format == "WEBP" and thumb.size == (128, 256)  # upright
    r = client.post("get-picture", {"container_name": user, "picture_id": picture["picture_id"]})
    assert requests.get(r.json()["thumbnail"], timeout=10).content == got.content
    # The URL reads that one blob and nothing else.
    write = requests.put(url, data=b"x", headers={"x-ms-blob-type": "BlockBlob"}, timeout=10)
    assert write.status_code == 403
    other = url.replace(picture["picture_id"], session)
    assert requests.get(other, timeout=10).status_code == 403
