"""`manage.py export`: the verified data of a scripted history (tests/support/history.py)
as one ZIP in a local folder, in both formats, with its filters and its split; pictures
gone or moved during an export; a failure half-way leaves nothing."""

from __future__ import annotations

import io
import json
import math
import zipfile
from collections import Counter

import pytest
from PIL import Image

from shared.errors import DependencyUnavailable
from tests.conftest import assert_error
from tests.support.exports import check_azureml, check_coco, read_zip, split_rows
from tests.support.folders import User, image_bytes
from tests.support.history import BUILTIN, make_history
from tests.support.meanwhile import after_each


@pytest.fixture
def history(app, remote, client, make_client):
    return make_history(app, remote, client, make_client())


def export(run_command, folder, *args: str) -> zipfile.ZipFile:
    """Run the command into `folder` (archive `x.zip`, replaced) and read its archive."""
    (folder / "x.zip").unlink(missing_ok=True)
    code, out, err = run_command("export", "--out", str(folder), "--name", "x", *args)
    assert code == 0, (out, err)
    assert "wrote" in out and str(folder / "x.zip") in out
    return read_zip(folder / "x.zip")


def test_coco_export_holds_exactly_the_verified_data(app, history, run_command, tmp_path):
    archive = export(run_command, tmp_path, "--format", "coco")
    everything = set(history.boxes) | set(history.labels)
    assert history.archived in everything and not set(history.left_out) & everything
    check_coco(app, archive, tmp_path, history, everything)
    assert sorted(archive.namelist()) == sorted(
        [f"images/{p}.png" for p in everything]
        + ["annotations/train.json", "annotations/validation.json", "split.csv", "manifest.json"])
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["counts"] == {"pictures": 9, "boxes": 19, "image_labels": 3, "skipped": 0,
                                  "train": manifest["counts"]["train"],
                                  "validation": 9 - manifest["counts"]["train"]}
    # The GIF and the EXIF-turned JPEG are PNGs of their upright pixels: the turned one's
    # red top rows are now its right-hand columns.
    [turned] = [p for p, label in history.labels.items() if label == "Solanum nigrum"]
    upright = Image.open(io.BytesIO(archive.read(f"images/{turned}.png"))).convert("RGB")
    assert upright.size == (32, 48)
    red, green = upright.getpixel((31, 24)), upright.getpixel((2, 24))
    assert red[0] > 150 > red[1] and green[1] > 150 > green[0]


def test_azureml_export_lines_follow_the_documented_schema(history, run_command, tmp_path):
    archive = export(run_command, tmp_path, "--format", "azureml")
    prefix = "azureml://datastores/workspaceblobstore/paths/x/"
    check_azureml(archive, history, set(history.boxes) | set(history.labels), prefix)
    assert json.loads(archive.read("manifest.json"))["image_url_prefix"] == prefix
    mine = "azureml://subscriptions/s/resourcegroups/g/workspaces/w/datastores/seeds/paths/2024/"
    archive = export(run_command, tmp_path, "--format", "azureml", "--image-url-prefix", mine,
                     "--pipeline", BUILTIN)
    check_azureml(archive, history, {p for p, name in history.pipelines.items() if name == BUILTIN}, mine)


def test_filters_pick_pictures_and_the_split_is_seeded_and_stratified(app, history, run_command, tmp_path):
    def picked(*args: str) -> set[str]:
        return set(split_rows(export(run_command, tmp_path, "--format", "coco", *args)))

    builtin = {p for p, name in history.pipelines.items() if name == BUILTIN}
    assert picked("--pipeline", BUILTIN) == builtin
    solanum = {p for p, boxes in history.boxes.items() if any(b.species == "Solanum nigrum" for b in boxes)}
    solanum |= {p for p, label in history.labels.items() if label == "Solanum nigrum"}
    assert len(solanum) == 2 and picked("--species", "solanum nigrum") == solanum
    assert picked("--species", "Solanum nigrum", "--species", "Lolium temulentum") == builtin | solanum
    # Dates are of the upload, in UTC, both ends included.
    aged = next(iter(history.labels))
    app.sql("UPDATE picture SET uploaded_at = '2024-01-15 23:59:59+00' WHERE id = %s", [aged])
    assert picked("--since", "2024-01-15", "--until", "2024-01-15") == {aged}
    assert picked("--until", "2024-01-14") == set()
    assert picked("--since", "2024-01-16") == set(history.boxes) | set(history.labels) - {aged}

    # The split: per stratum (a picture's most frequent species, ties to the lowest number;
    # a batch import's species), round-half-up(n * fraction) pictures go to validation.
    first = export(run_command, tmp_path, "--format", "coco", "--validation-fraction", "0.5",
                   "--split-seed", "a").read("split.csv")
    assert export(run_command, tmp_path, "--format", "azureml", "--validation-fraction", "0.5",
                  "--split-seed", "a").read("split.csv") == first
    rows = split_rows(read_zip(tmp_path / "x.zip"))
    strata = Counter(stratum for _, _, stratum in rows.values())
    assert strata == {"Ambrosia artemisiifolia": 4, "Lolium temulentum": 1, "Bromus secalinus": 2,
                      "Solanum nigrum": 2}
    validation = Counter(stratum for _, split, stratum in rows.values() if split == "validation")
    assert validation == {s: math.floor(n * 0.5 + 0.5) for s, n in strata.items()}
    splits = {export(run_command, tmp_path, "--format", "coco", "--validation-fraction", "0.5",
                     "--split-seed", seed).read("split.csv") for seed in "bcdefgh"}
    assert len(splits) > 1  # the seed draws the pictures


def test_bad_arguments_write_nothing(app, run_command, tmp_path):
    for args, words in [
        (["--since", "2024-02-01", "--until", "2024-01-01"], ["since", "until"]),
        (["--species", "Unknown plant"], ["no seed named", "Unknown plant"]),
        (["--pipeline", "nope"], ["no pipeline named"]),
        (["--validation-fraction", "1"], ["validation_fraction"]),
        (["--image-url-prefix", "azureml://x/"], ["azureml format only"]),
        (["--name", "../outside"], ["name must be"]),
        # As the route checks its body, by the same code: a day is YYYY-MM-DD, a text one
        # that PostgreSQL can store (argv decodes bytes that are not UTF-8 to lone surrogates).
        (["--since", "20240601"], ["since must be a day like 2024-06-30"]),
        (["--species", "Ambrosia \udcff"], ["species contains characters that are not allowed"]),
        (["--species", " "], ["species must be a list of non-empty strings"]),
        (["--split-seed", "seed \udcff"], ["split_seed contains characters that are not allowed"]),
        (["--pipeline", "p" * 201], ["pipeline is longer than 200 characters"]),
        (["--validation-fraction", "nan"], ["validation_fraction must be a number"]),
    ]:
        code, _, err = run_command("export", "--format", "coco", "--out", str(tmp_path), *args)
        assert code == 1 and all(w in err for w in words), err
    assert list(tmp_path.iterdir()) == []


def batch_of(app, client, count: int) -> list[str]:
    """`count` pictures batch-imported by the client; their ids, oldest first."""
    user = User(client)
    folder = user.new_batch(count, "Batch")
    for n in range(count):
        user.upload(folder, image_bytes(n))
    return [row[0] for row in app.sql(
        "SELECT id::text FROM picture WHERE picture_set_id = %s ORDER BY uploaded_at, id", [folder])]


def test_a_picture_gone_or_moved_during_the_export(app, client, run_command, tmp_path, monkeypatch):
    from azure.storage.blob import BlobServiceClient

    from shared.db.queries import datasets
    from shared.services import export as service

    first, moved, gone = batch_of(app, client, 3)
    blobs = BlobServiceClient.from_connection_string(app.storage)
    container = blobs.get_container_client(app.pictures_container)
    streamed = datasets.stream_pictures

    def stream(*args, **kwargs):
        # Once the query has run, as a folder delete would: one picture moves (its blob
        # copied, its row repointed, the old blob deleted), another goes.
        for n, picture in enumerate(streamed(*args, **kwargs)):
            if n == 0:
                [(old,)] = app.sql("SELECT blob_name FROM picture WHERE id = %s", [moved])
                container.upload_blob(f"archive/{moved}.png", container.download_blob(old).readall())
                app.sql("UPDATE picture SET blob_name = %s WHERE id = %s", [f"archive/{moved}.png", moved])
                container.delete_blob(old)
                [(name,)] = app.sql("DELETE FROM picture WHERE id = %s RETURNING blob_name", [gone])
                container.delete_blob(name)
            yield picture

    monkeypatch.setattr(service.datasets, "stream_pictures", stream)
    archive = export(run_command, tmp_path, "--format", "coco")
    assert set(split_rows(archive)) == {first, moved}
    assert json.loads(archive.read("manifest.json"))["counts"]["skipped"] == 1
    assert archive.read(f"images/{moved}.png") == image_bytes(1)


def test_a_failure_half_way_leaves_no_archive(app, client, run_command, tmp_path, monkeypatch):
    from shared import storage

    batch_of(app, client, 3)
    download = storage.download
    calls = []

    def failing(container: str, name: str) -> bytes:
        calls.append(name)
        if len(calls) == 2:
            raise DependencyUnavailable("the storage is unavailable")
        return download(container, name)

    monkeypatch.setattr(storage, "download", failing)
    code, _, err = run_command("export", "--format", "coco", "--out", str(tmp_path), "--name", "x")
    assert code == 1 and "storage is unavailable" in err
    assert list(tmp_path.iterdir()) == []
    # The route: 503, and no blob in the exports container (its blocks never committed).
    calls.clear()
    r = client.post("export-dataset", {"format": "coco", "name": "half"})
    assert_error(r, 503, "storage")
    assert app.blobs(app.pictures_container.replace("pictures-", "exports-")) == []


def test_no_connection_is_held_while_pictures_are_read(app, client, run_command, tmp_path, monkeypatch):
    """With a pool of one connection, other work still gets it while the export reads its
    pictures: the export's transaction ends before the storage I/O starts."""
    from shared import settings, storage
    from shared.db import connection

    batch_of(app, client, 3)
    monkeypatch.setenv("NACHET_DB_POOL_MAX_SIZE", "1")
    settings.reset()
    download = storage.download
    waited: list[str] = []

    def reading(container: str, name: str) -> bytes:
        try:
            with connection() as conn:  # a request served meanwhile
                conn.execute("SELECT 1")
        except DependencyUnavailable as exc:
            waited.append(exc.message)
        return download(container, name)

    monkeypatch.setattr(storage, "download", reading)
    archive = export(run_command, tmp_path, "--format", "coco")
    assert waited == [] and len(split_rows(archive)) == 3


def test_a_seed_named_during_the_export_leaves_it_whole(app, client, run_command, tmp_path, monkeypatch):
    """Feedback can add a seed and label a picture with it at any time: between the
    export's reads of the pictures and of the catalogue, it changes neither."""
    from shared.db.queries import datasets

    relabelled, kept = batch_of(app, client, 2)
    new_names: list[str] = []

    def relabel_once() -> None:
        if len(new_names) == 1:
            [(seed,)] = app.sql("INSERT INTO seed (name) VALUES (%s) RETURNING id", new_names)
            app.sql("UPDATE picture_seed SET seed_id = %s WHERE picture_id = %s", [seed, relabelled])
            new_names.append("done")

    after_each(monkeypatch, datasets, ["stream_pictures", "list_categories"], relabel_once)
    before = "Ambrosia trifida"
    for fmt in ("coco", "azureml"):
        new_names[:] = [f"Named during the {fmt} export"]
        archive = export(run_command, tmp_path, "--format", fmt)
        # The pictures as they were when the export read them; the next export sees the change.
        strata = {p: stratum for p, (_, _, stratum) in split_rows(archive).items()}
        assert strata == {relabelled: before, kept: "Ambrosia trifida"}
        before = new_names[0]


def test_an_archive_written_meanwhile_under_the_name_is_kept(app, client, run_command, tmp_path, monkeypatch):
    """Two commands exporting to one file name at once: each writes a part file of its
    own, and the one that finishes second leaves the first one's archive as it is."""
    from shared.db.queries import datasets

    batch_of(app, client, 2)
    target = tmp_path / "x.zip"
    after_each(monkeypatch, datasets, ["list_categories"], lambda: target.write_bytes(b"the other export"))
    code, _, err = run_command("export", "--format", "coco", "--out", str(tmp_path), "--name", "x")
    assert code == 1 and f"{target} exists" in err, err
    assert [p.name for p in tmp_path.iterdir()] == ["x.zip"] and target.read_bytes() == b"the other export"
