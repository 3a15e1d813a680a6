"""`manage.py repair`: blobs left without rows by a crash are found and deleted after the grace
period; rows without blobs are reported, never deleted; a dry run changes nothing."""

from __future__ import annotations

import manage
from admin.repair import repair
from shared import storage
from shared.picture_blobs import thumbnail_blob_name
from tests.support.folders import User, add_plain_picture, image_bytes


def orphan(app, name: str) -> None:
    """A blob without a row, as a crash between a blob write and its commit leaves one."""
    storage.upload(app.pictures_container, name, image_bytes(1), content_type="image/png")


def test_finds_and_fixes_leftovers(app, client, monkeypatch, capsys):
    user = User(client)
    session = user.new_batch()
    user.upload(session, image_bytes(1))
    kept = app.blobs()
    orphan(app, f"{user.id}/{session}/crashed-upload.png")
    orphan(app, f"{user.id}/gone-folder/deleted-picture.png")
    thumbnails = app.thumbnails_container
    for name in (thumbnail_blob_name(kept[0]), f"{user.id}/gone-folder/deleted-picture.webp"):
        storage.upload(thumbnails, name, b"webp", content_type="image/webp")
    missing = add_plain_picture(app, user.id, session, image_bytes(2))
    missing_blob = app.sql("SELECT blob_name FROM picture WHERE id = %s", [missing])[0][0]
    storage.delete(app.pictures_container, missing_blob)
    monkeypatch.setattr(manage, "load_local_settings", lambda root: None)  # the test's settings stay

    # A dry run reports and changes nothing.
    assert manage.main(["repair", "--dry-run", "--grace-minutes", "0"]) == 1
    out = capsys.readouterr().out
    assert "would delete blob without a row" in out and f"row without a blob: picture {missing}" in out
    assert len(app.blobs()) == 3 and len(app.blobs(thumbnails)) == 2

    # Within the grace period a blob without a row may be an upload in flight: it is kept.
    assert manage.main(["repair"]) == 1
    assert "3 recent blob(s) kept" in capsys.readouterr().out
    assert len(app.blobs()) == 3 and len(app.blobs(thumbnails)) == 2

    assert manage.main(["repair", "--grace-minutes", "0"]) == 1
    assert "deleted 3 blob(s)" in capsys.readouterr().out
    assert app.blobs() == kept
    assert app.blobs(thumbnails) == [thumbnail_blob_name(kept[0])]
    # The row without a blob is reported, not deleted: that is for an operator to look at.
    assert app.sql("SELECT count(*) FROM picture WHERE id = %s", [missing]) == [(1,)]


def test_a_consistent_store_needs_nothing(app, client):
    user = User(client)
    user.upload(user.new_batch(), image_bytes(1))
    report = repair(grace_minutes=0)
    assert (report.deleted_blobs, report.recent_blobs, report.missing_blobs) == ([], [], [])
    assert len(app.blobs()) == 1
