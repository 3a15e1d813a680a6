"""POST /api/export-dataset: an operator route (authLevel function: a function key, no
user) that writes the export into the exports container and answers where it is."""

from __future__ import annotations

import json
import threading

import pytest
import requests

from tests.conftest import assert_error
from tests.support.exports import check_azureml, read_zip
from tests.support.folders import User, image_bytes
from tests.support.history import make_history

KEY = "operator-key-for-tests"


@pytest.fixture
def keyed(app, monkeypatch):
    """The local host checks function keys against KEY (devhost/function_keys.py)."""
    monkeypatch.setenv("NACHET_LOCAL_FUNCTION_KEY", KEY)
    return app


def exports(app) -> list[str]:
    return app.blobs(app.pictures_container.replace("pictures-", "exports-"))


def post(path: str, body: dict, *, headers: dict | None = None, url: str) -> requests.Response:
    """A call with no identity at all: operators' tools send a key, not a user."""
    return requests.post(f"{url}/{path}", data=json.dumps(body), timeout=60,
                         headers={"Content-Type": "application/json", **(headers or {})})


def test_the_route_refuses_callers_without_the_function_key(keyed, client):
    url = keyed.base_url
    for headers, query in [({}, ""), ({"x-functions-key": "wrong"}, ""), ({}, "?code=wrong"),
                           ({"x-functions-key": KEY.upper()}, "")]:
        assert_error(post(f"export-dataset{query}", {"format": "coco"}, headers=headers, url=url), 401,
                     "function key")
    # A signed-in analyst is no operator either.
    assert_error(client.post("export-dataset", {"format": "coco"}), 401, "function key")
    assert exports(keyed) == []
    # Web client routes stay anonymous.
    assert client.post("get-user-id", {"email": ""}).status_code == 200
    by_header = post("export-dataset", {"format": "coco", "name": "a"},
                     headers={"x-functions-key": KEY}, url=url)
    by_query = post(f"export-dataset?code={KEY}", {"format": "coco", "name": "b"}, url=url)
    assert by_header.status_code == by_query.status_code == 200, (by_header.text, by_query.text)
    assert exports(keyed) == ["a.zip", "b.zip"]
    empty = read_zip(requests.get(by_header.json()["url"], timeout=30).content)
    coco = json.loads(empty.read("annotations/train.json"))
    assert coco["images"] == coco["annotations"] == [] and len(coco["categories"]) == 16


def test_the_azureml_export_lands_in_the_exports_container(keyed, remote, client, make_client):
    history = make_history(keyed, remote, client, make_client())
    prefix = "azureml://datastores/seeds/paths/nachet/june/"
    r = post("export-dataset", {"format": "azureml", "image_url_prefix": prefix, "validation_fraction": 0.5,
                                "split_seed": "june"}, headers={"x-functions-key": KEY}, url=keyed.base_url)
    assert r.status_code == 200, r.text
    answer = r.json()
    name = answer["name"]
    assert name.startswith("nachet-azureml-") and answer["blob"] == f"{name}.zip"
    assert exports(keyed) == [answer["blob"]]
    assert answer["container"] == keyed.pictures_container.replace("pictures-", "exports-")
    assert {k: answer[k] for k in ("pictures", "boxes", "image_labels", "skipped", "format")} == \
        {"pictures": 9, "boxes": 19, "image_labels": 3, "skipped": 0, "format": "azureml"}
    assert answer["train"] + answer["validation"] == 9 and answer["validation"] == 5
    data = requests.get(answer["url"], timeout=30).content
    assert len(data) == answer["size_bytes"]
    check_azureml(read_zip(data), history, set(history.boxes) | set(history.labels), prefix)


def test_bad_requests_are_answered_and_write_nothing(keyed, client):
    User(client).new_batch(1, "One")
    url = keyed.base_url
    key = {"x-functions-key": KEY}
    for body, status, words in [
        ({}, 400, ["format", "missing"]),
        ({"format": "yolo"}, 400, ["format must be coco or azureml"]),
        ({"format": "coco", "since": "2024-13-01"}, 400, ["since", "day"]),
        ({"format": "coco", "since": "yesterday"}, 400, ["since", "day"]),
        ({"format": "coco", "since": "2024-02-01", "until": "2024-01-31"}, 400, ["since", "until"]),
        ({"format": "coco", "species": "Ambrosia trifida"}, 400, ["species", "list"]),
        ({"format": "coco", "species": ["Ambrosia trifida", 3]}, 400, ["species"]),
        ({"format": "coco", "species": ["Not a plant"]}, 400, ["no seed named", "Not a plant"]),
        ({"format": "coco", "species": ["Ambrosia\u0000trifida"]}, 400, ["species", "not allowed"]),
        ({"format": "coco", "species": ["Ambrosia \ud800"]}, 400, ["species", "not allowed"]),
        ({"format": "coco", "species": ["A" * 201]}, 400, ["species", "longer than 200"]),
        ({"format": "coco", "pipeline": "nope"}, 404, ["no pipeline named"]),
        ({"format": "coco", "validation_fraction": -0.1}, 400, ["validation_fraction"]),
        ({"format": "coco", "validation_fraction": "0.2"}, 400, ["validation_fraction", "number"]),
        ({"format": "coco", "image_url_prefix": "azureml://d/"}, 400, ["azureml format only"]),
        ({"format": "azureml", "image_url_prefix": "https://x/"}, 400, ["azureml://"]),
        ({"format": "coco", "name": "../up"}, 400, ["name"]),
        ({"format": "coco", "name": "a" * 101}, 400, ["name"]),
    ]:
        assert_error(post("export-dataset", body, headers=key, url=url), status, *words)
    assert exports(keyed) == []
    assert post("export-dataset", {"format": "coco", "name": "june"}, headers=key, url=url).status_code == 200
    assert_error(post("export-dataset", {"format": "azureml", "name": "june"}, headers=key, url=url),
                 409, "june.zip", "exists")
    assert exports(keyed) == ["june.zip"]


@pytest.mark.parametrize("refusal", [409, 412])
def test_two_exports_of_one_name_end_with_one_whole_archive_and_a_409(keyed, client, monkeypatch, refusal):
    """The second export of a name starts and ends while the first is writing blocks (as
    when a client retries after losing an answer): the one that commits first keeps the
    name, whole; the other is refused, and mixes nothing into it. The storage refuses the
    late commit with a 409 (Azurite) or a 412, a condition not met (Azure)."""
    from azure.core.exceptions import ResourceExistsError, ResourceModifiedError
    from azure.storage.blob import BlobClient

    from shared import storage

    if refusal == 412:
        commit = BlobClient.commit_block_list

        def as_azure_answers(self, *args, **kwargs):
            try:
                return commit(self, *args, **kwargs)
            except ResourceExistsError as exc:
                raise ResourceModifiedError("ConditionNotMet", response=exc.response) from None

        monkeypatch.setattr(BlobClient, "commit_block_list", as_azure_answers)
    user = User(client)
    folder = user.new_batch(6)
    for n in range(6):
        user.upload(folder, image_bytes(n, size=(40, 30)))
    key = {"x-functions-key": KEY}
    upload, write = storage.block_upload, storage.BlockWriter.write
    second: list[requests.Response] = []
    started = threading.Event()

    def small_blocks(*args, **kwargs):  # blocks of 256 bytes: several staged before the pause
        return upload(*args, **{**kwargs, "block_bytes": 256})

    def writing(writer: storage.BlockWriter, data: bytes) -> int:
        written = write(writer, data)
        if writer.size > 2048 and not started.is_set():
            started.set()  # the second export's own writes go straight through
            second.append(post("export-dataset", {"format": "azureml", "name": "same"}, headers=key,
                               url=keyed.base_url))
        return written

    monkeypatch.setattr(storage, "block_upload", small_blocks)
    monkeypatch.setattr(storage.BlockWriter, "write", writing)
    first = post("export-dataset", {"format": "coco", "name": "same"}, headers=key, url=keyed.base_url)
    [committed] = second
    assert committed.status_code == 200, committed.text
    assert_error(first, 409, "same.zip", "exists")
    assert exports(keyed) == ["same.zip"]
    archive = read_zip(requests.get(committed.json()["url"], timeout=30).content)
    names = archive.namelist()
    assert "train_annotations.jsonl" in names and "annotations/train.json" not in names  # the second's
    assert len([n for n in names if n.startswith("images/")]) == 6


def test_the_export_reads_every_users_pictures(keyed, make_client):
    users = [User(make_client()) for _ in range(2)]
    for n, user in enumerate(users):
        user.upload(user.new_batch(1), image_bytes(n), seed_name="Cirsium vulgare")
    r = post("export-dataset", {"format": "coco", "validation_fraction": 0}, headers={"x-functions-key": KEY},
             url=keyed.base_url)
    assert r.status_code == 200, r.text
    archive = read_zip(requests.get(r.json()["url"], timeout=30).content)
    coco = json.loads(archive.read("annotations/train.json"))
    assert len(coco["images"]) == 2 and {image["category_id"] for image in coco["images"]} == {
        number for (number,) in keyed.sql("SELECT number FROM seed WHERE name = 'Cirsium vulgare'")}
